"""scikit-learn peer of bench_auc: roc_auc_score + average_precision_score on the CPU for the same
scores (ties on a 2^-12 grid, 10% anomalies scoring 0.3 higher; the same hash as bench_auc's fill
kernel, so the ROC-AUC printed by both must agree). Median of several repeats.

  pip install scikit-learn numpy
  python3 bench/peers/sklearn_auc.py [--sizes 1000000,10000000] [--json out.json]
"""
import argparse
import json
import statistics
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def scores_and_labels(n):
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(2246822519)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(13)
    anomaly = (h % np.uint64(10)) == 0
    u = (h >> np.uint64(8)).astype(np.float32) / np.float32(16777216.0)
    scores = np.rint((u + np.where(anomaly, np.float32(0.3), np.float32(0.0))) * np.float32(4096.0))
    return (scores / np.float32(4096.0)).astype(np.float32), anomaly.astype(np.uint8)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    results = []
    for n in map(int, args.sizes.split(",")):
        scores, labels = scores_and_labels(n)
        times, auc = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            auc = roc_auc_score(labels, scores)
            ap = average_precision_score(labels, scores)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        results.append({"scores": n, "seconds": seconds, "roc_auc": auc, "average_precision": ap})
        print(f"scikit-learn {n:12d} scores: {seconds:9.3f} s  ROC-AUC {auc:.6f}  AP {ap:.6f}",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
