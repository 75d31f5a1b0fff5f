"""vaead.pyod.VAEAD against PyOD's VAE as a PyOD user runs them: each at its defaults, fitted on
the same training rows (anomalies included, PyOD's unsupervised convention; --clean: the normal
ones only, vaead's setting), scored on the same test rows, on the same CPU threads. ROC-AUC on the test rows and the fit time, per table and seed.

    python3 bench/pyod_drop_in.py --data ../shared/datasets/adbench --out bench/results/pyod_drop_in.json

Tables: PyOD's own generator (pyod.utils.data.generate_data) and a few real tables; each split is
a stratified 60/40 split drawn with the seed. Needs `pip install .`, pyod and torch.
"""
import argparse
import json
import os
import platform
import statistics
import time

TABLES = ["cardio", "thyroid", "satimage-2", "pendigits", "wine", "mammography", "vowels", "annthyroid"]


def splits(name, data_dir, seed):
    import numpy as np
    from sklearn.model_selection import train_test_split

    if name == "pyod-generator":
        from pyod.utils.data import generate_data

        return generate_data(n_train=2000, n_test=1000, n_features=20, contamination=0.1, random_state=seed)
    from adbench import load_table

    features, labels, _ = load_table(os.path.join(data_dir, f"{name}.csv"))
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.4, stratify=labels, random_state=seed
    )
    return x_train.astype(np.float64), x_test.astype(np.float64), y_train, y_test


def run(make, x_train, x_test, y_test):
    from sklearn.metrics import roc_auc_score

    detector = make()
    start = time.perf_counter()
    detector.fit(x_train)
    fit_s = time.perf_counter() - start
    return {"roc_auc": float(roc_auc_score(y_test, detector.decision_function(x_test))), "fit_s": fit_s}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="the adbench tables' directory")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tables", default=",".join(["pyod-generator"] + TABLES))
    parser.add_argument("--clean", action="store_true",
                        help="fit both on the training split's normal rows only (vaead's setting)")
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    import torch
    from pyod.models.vae import VAE

    from vaead.pyod import VAEAD

    torch.set_num_threads(args.threads)
    tools = {
        "vaead (VAEAD)": lambda seed: VAEAD(random_state=seed, threads=args.threads, device="cpu"),
        "PyOD VAE": lambda seed: VAE(random_state=seed, verbose=0),
    }
    results = []
    for table in args.tables.split(","):
        for seed in map(int, args.seeds.split(",")):
            x_train, x_test, y_train, y_test = splits(table, args.data, seed)
            if args.clean:
                x_train = x_train[y_train == 0]
            for tool, make in tools.items():
                result = run(lambda: make(seed), x_train, x_test, y_test)
                results.append({"table": table, "seed": seed, "tool": tool, **result})
                print(f"{table:15s} seed {seed} {tool:14s} ROC-AUC {result['roc_auc']:.4f} "
                      f"fit {result['fit_s']:.2f} s", flush=True)
    with open(args.out, "w") as f:
        json.dump({"machine": platform.processor() or platform.machine(), "threads": args.threads,
                   "clean": args.clean, "results": results}, f, indent=1)
    print("\n| table | vaead ROC-AUC | PyOD VAE ROC-AUC | vaead fit s | PyOD VAE fit s |")
    print("|---|---|---|---|---|")
    for table in dict.fromkeys(r["table"] for r in results):
        cells = []
        for key in ("roc_auc", "fit_s"):
            for tool in tools:
                values = [r[key] for r in results if r["table"] == table and r["tool"] == tool]
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                cells.append(f"{statistics.mean(values):.3f} ± {spread:.3f}" if key == "roc_auc"
                             else f"{statistics.median(values):.2f}")
        print(f"| {table} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
