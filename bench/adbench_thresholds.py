#!/usr/bin/env python3
"""F1 of threshold rules on vaead's kept scores: how train's default rule was chosen.

usage: adbench_thresholds.py OUT NAME
OUT/scores/NAME_<table>_<seed>.npz come from `adbench.py --keep-scores --name NAME`: the test
scores, labels and the model's held-out normal scores. Each rule is set on the held-out scores
(quantiles interpolate linearly, as vaead's and numpy's do) and F1 is the mean over tables of the
mean over split seeds.
"""
import collections
import glob
import sys

import numpy as np


def f1(scores, labels, threshold):
    flagged = scores > threshold
    tp = np.sum(flagged & (labels == 1))
    fp = np.sum(flagged & (labels == 0))
    fn = np.sum(~flagged & (labels == 1))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def iqr_fence(k):
    return lambda h: np.quantile(h, 0.75) + k * (np.quantile(h, 0.75) - np.quantile(h, 0.25))


RULES = {
    "mean-std:3": lambda h: h.mean() + 3 * h.std(ddof=1),
    "mean-std:2": lambda h: h.mean() + 2 * h.std(ddof=1),
    "percentile:99": lambda h: np.quantile(h, 0.99),
    "percentile:97.5": lambda h: np.quantile(h, 0.975),
    "fpr:0.05 (percentile 95)": lambda h: np.quantile(h, 0.95),
    "fpr:0.1 (percentile 90)": lambda h: np.quantile(h, 0.90),
    "median + 3 MAD": lambda h: np.median(h) + 3 * 1.4826 * np.median(np.abs(h - np.median(h))),
    "median + 5 MAD": lambda h: np.median(h) + 5 * 1.4826 * np.median(np.abs(h - np.median(h))),
    "iqr:1.5 (Tukey's fence)": iqr_fence(1.5),
    "iqr:3": iqr_fence(3.0),
    "largest held-out score": lambda h: h.max(),
}


def main():
    out, name = sys.argv[1], sys.argv[2]
    per_table = collections.defaultdict(lambda: collections.defaultdict(list))
    for path in sorted(glob.glob(f"{out}/scores/{name}_*.npz")):
        table = path.split("/")[-1][len(name) + 1:].rsplit("_", 1)[0]
        data = np.load(path)
        for rule, fit in RULES.items():
            per_table[rule][table].append(
                f1(data["scores"], data["labels"], fit(data["holdout"])))
    print(f"| rule | mean F1 over {len(per_table['mean-std:3'])} tables |\n|---|---:|")
    for rule in RULES:
        print(f"| {rule} | {np.mean([np.mean(v) for v in per_table[rule].values()]):.3f} |")


if __name__ == "__main__":
    main()
