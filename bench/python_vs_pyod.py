"""vaead's Python package against PyOD's VAE: the same network (d -> 128 -> 64 -> L -> 64 -> 128 ->
d, ReLU, no dropout, no batch norm, no weight decay), the KL term on (beta 1, no warm-up; PyOD
clamps its KL term to [0, capacity], so capacity=0, its default, turns it off: 1e9 here), the
same epochs, batch size and Adam learning rate, the same 2 CPU threads, the same 20,000 training
rows of the seed study's data and the same test rows. Fit and score are timed separately; the
median of several runs after one warm-up run of each.

    python3 bench/python_vs_pyod.py --cli build/vaead [--threads 2] [--repeats 3] [--json OUT]

Needs `pip install .` (vaead) and `pip install pyod torch pandas` in the same Python.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True, help="the vaead command (generates the data)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--pyod-capacity", type=float, default=1e9,
                        help="PyOD's KL clamp: 1e9 = the KL term on, 0 (PyOD's default) = off")
    parser.add_argument("--json")
    args = parser.parse_args()
    # Thread counts before NumPy and torch start their pools.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    import numpy as np
    import pandas as pd
    import torch
    from pyod.models.vae import VAE

    import vaead

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([args.cli, "generate", "--out", directory, "--seed", "0"], check=True,
                       stdout=subprocess.DEVNULL)
        train = pd.read_csv(f"{directory}/train.csv")
        validation = pd.read_csv(f"{directory}/val.csv")
        test = pd.read_csv(f"{directory}/test.csv")
    features = [c for c in train.columns if c.startswith("x")]
    x_train = train[features].to_numpy(np.float32)
    # vaead holds out a share of its rows for the threshold: given train + validation with a
    # holdout of 0.2, it trains on exactly the 20,000 training rows PyOD trains on.
    x_vaead = np.concatenate([x_train, validation[features].to_numpy(np.float32)])
    x_test = test[features].to_numpy(np.float32)
    y_test = test["label"].to_numpy()

    def run_vaead():
        detector = vaead.VAEDetector(latent=args.latent, beta=1.0, members=1, epochs=args.epochs,
                                     batch_size=args.batch, kl_warmup=0, holdout=0.2,
                                     device="cpu", threads=args.threads)
        start = time.perf_counter()
        detector.fit(x_vaead)
        fit_s = time.perf_counter() - start
        assert detector.model_.training_rows == len(x_train)
        start = time.perf_counter()
        scores = detector.decision_function(x_test)
        return fit_s, time.perf_counter() - start, scores

    def run_pyod():
        detector = VAE(contamination=0.1, preprocessing=True, lr=1e-3, epoch_num=args.epochs,
                       batch_size=args.batch, optimizer_params={"weight_decay": 0.0},
                       encoder_neuron_list=[128, 64], decoder_neuron_list=[64, 128],
                       latent_dim=args.latent, hidden_activation_name="relu",
                       output_activation_name="identity", batch_norm=False, dropout_rate=0.0,
                       beta=1.0, capacity=args.pyod_capacity, device="cpu", random_state=0, verbose=0)
        start = time.perf_counter()
        detector.fit(x_train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        scores = detector.decision_function(x_test)
        return fit_s, time.perf_counter() - start, scores

    results = {}
    for name, run in (("vaead", run_vaead), ("pyod_vae", run_pyod)):
        run()  # warm-up
        fits, scores_s, aucs = [], [], []
        for _ in range(args.repeats):
            fit_s, score_s, scores = run()
            fits.append(fit_s)
            scores_s.append(score_s)
            aucs.append(vaead.metrics.roc_auc(y_test, scores))
        fit = statistics.median(fits)
        results[name] = {
            "fit_s": fit,
            "fit_s_all": fits,
            "train_samples_per_s": len(x_train) * args.epochs / fit,
            "score_s": statistics.median(scores_s),
            "score_rows_per_s": len(x_test) / statistics.median(scores_s),
            "roc_auc": aucs,
        }
    ratio = results["vaead"]["train_samples_per_s"] / results["pyod_vae"]["train_samples_per_s"]
    score_ratio = results["vaead"]["score_rows_per_s"] / results["pyod_vae"]["score_rows_per_s"]
    print(f"{'':10}{'fit s':>9}{'samples/s':>12}{'score s':>9}{'ROC-AUC (runs)':>30}")
    for name, r in results.items():
        aucs = ", ".join(f"{a:.4f}" for a in r["roc_auc"])
        print(f"{name:10}{r['fit_s']:9.2f}{r['train_samples_per_s']:12.0f}{r['score_s']:9.3f}   {aucs}")
    print(f"vaead / PyOD: training {ratio:.2f}x the samples/s, scoring {score_ratio:.2f}x the rows/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "epochs": args.epochs, "batch": args.batch,
                       "latent": args.latent, "pyod_capacity": args.pyod_capacity, "rows": len(x_train), "test_rows": len(x_test),
                       "torch": torch.__version__, "pyod": __import__("pyod").__version__,
                       "vaead": vaead.__version__, "machine": platform.processor() or platform.machine(),
                       "results": results, "training_ratio": ratio, "scoring_ratio": score_ratio},
                      f, indent=1)


if __name__ == "__main__":
    main()
