"""The peer of bench_read: pandas.read_csv on the same file, into a float32 NumPy array (what vaead
holds), the median of several reads after one warm-up read. With --once it reads once and exits,
for /usr/bin/time -v to measure its peak memory.

    python3 bench/peers/pandas_read.py FILE [--repeats 5] [--json OUT] [--once]
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import pandas as pd


def read(path):
    return pd.read_csv(path).to_numpy(dtype=np.float32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()
    if args.once:
        rows, cols = read(args.file).shape
        print(f"pandas.read_csv: {rows} rows x {cols} columns")
        return
    megabytes = os.path.getsize(args.file) / 1e6
    seconds = []
    for i in range(args.repeats + 1):
        start = time.perf_counter()
        array = read(args.file)
        elapsed = time.perf_counter() - start
        if i > 0:  # the first read warms the page cache
            seconds.append(elapsed)
        del array
    median = statistics.median(seconds)
    print(f"pandas {pd.__version__} read_csv (C engine) + float32: {median:.3f} s "
          f"(median of {args.repeats}): {megabytes / median:.1f} MB/s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"peer": "pandas.read_csv", "pandas": pd.__version__, "seconds": median,
                       "megabytes_per_second": megabytes / median}, out, indent=2)


if __name__ == "__main__":
    main()
