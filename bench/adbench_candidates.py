#!/usr/bin/env python3
"""Scores and representations that might find what the reconstruction error misses.

Measured offline, on the splits of bench/adbench.py (same rows, same standardization), before any
of them is built into vaead: a candidate becomes a default only if it wins on the 28 tables' mean.

  run       for each table and split seed: `vaead train` and `vaead score` with every default (the
            CLI as a user runs it) on the split, optionally after a per-feature transform fitted on
            the training rows (--transform); from the model file (numpy, the PyTorch recipe of
            README) the codes mu of every member for the training and test rows, and per split an
            .npz in OUT/NAME/ with the test rows' labels and these scores:
              recon     vaead's score (mean over members of reconstruction error / member scale)
              latent    distance to the 5th nearest training row's code, per member divided by its
                        mean over the training rows (leave-one-out), mean over members
              feature   each feature's squared error divided by its mean over the training rows,
                        mean over features, per member divided by its training mean, mean over
                        members (the errors of quiet features count as much as loud ones)
              knn       distance to the 5th nearest training row in the split's standardized
                        inputs (PyOD's KNN at its defaults), divided by its training mean
  seed      the same scores on the seed data (`vaead generate --seed S`, train.csv trains, test.csv
            is scored): ROC-AUC over every test row and on each kind of anomaly against the normal
            rows (today's default: recon 0.930 overall and 0.853 on the correlation break)
  lof       per split an .npz in OUT/lof/ with PyOD's LOF at its defaults (20 neighbours, in the
            split's standardized inputs), divided by its training mean: the peer that leads on
            aloi, to see whether a sum with it closes the gaps ("recon+knn+lof@lof")
  report    the mean over tables of ROC-AUC and PR-AUC of each score and of sums of scores, also
            across runs (--runs NAME,NAME: "recon@quantile" is run quantile's recon), each with the
            paired difference to --against (default knn) and its standard error over tables.

Transforms (fitted on the training rows only, then the usual standardization):
  none      the split as bench/adbench.py gives it
  quantile  scikit-learn's QuantileTransformer to a normal (values beyond the training range are
            clipped to its ends: an anomaly far out looks like the most extreme normal row)
  uniform   the same quantile map to a uniform of unit variance instead of a normal (no inverse
            normal CDF to compute: np.interp on the knots and a scale), clipped alike
  qtail     the same map inside the training range, extended linearly beyond it with the slope of
            its outer 1% (far values stay far)

  bench/adbench_candidates.py run --data DIR --out OUT --name NAME [--transform T] [--seeds 0,1,2]
  bench/adbench_candidates.py report --out OUT --runs A,B --sums "recon+recon@B,recon+knn"
"""
import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adbench  # noqa: E402  (the splits, the CSV writer, the model file's metadata)

NEIGHBOURS = 5


def read_model(path):
    """A safetensors file as {name: float32 array} and its metadata (JSON values decoded)."""
    with open(path, "rb") as f:
        header = adbench.safetensors_header(f)
        body = f.read()
    metadata = header.pop("__metadata__")
    tensors = {name: np.frombuffer(body[t["data_offsets"][0]:t["data_offsets"][1]],
                                   np.float32).reshape(t["shape"]) for name, t in header.items()}
    decoded = {k: json.loads(v) if v[:1] in "[{" else v for k, v in metadata.items()}
    return tensors, decoded


def standardized(metadata, rows):
    standardizer = metadata["standardizer"]
    scale = np.asarray(standardizer["scale"])
    return (rows - np.asarray(standardizer["mean"])) / np.where(scale == 0, 1, scale)


def dense(tensors, name, inputs, relu):
    out = inputs @ tensors[f"{name}.weight"].T.astype(np.float64) + tensors[f"{name}.bias"]
    return np.maximum(out, 0) if relu else out


def member_prefix(member):
    return "" if member == 0 else f"members.{member}."


def encode(tensors, metadata, inputs, member):
    """mu of one member for standardized inputs (float64)."""
    prefix, hidden = member_prefix(member), inputs
    for layer in range(len(metadata["architecture"]["encoder_hidden"])):
        hidden = dense(tensors, f"{prefix}encoder.{2 * layer}", hidden, True)
    return dense(tensors, f"{prefix}mu", hidden, False)


def decode(tensors, metadata, codes, member):
    prefix, hidden = member_prefix(member), codes
    layers = len(metadata["architecture"]["decoder_hidden"])
    for layer in range(layers):
        hidden = dense(tensors, f"{prefix}decoder.{2 * layer}", hidden, True)
    return dense(tensors, f"{prefix}decoder.{2 * layers}", hidden, False)


def kth_distance(reference, queries, leave_one_out):
    from sklearn.neighbors import NearestNeighbors

    distances, _ = NearestNeighbors(n_neighbors=NEIGHBOURS + leave_one_out).fit(
        reference).kneighbors(queries)
    return distances[:, -1]


def relative_knn(reference, queries):
    """kth_distance of the queries divided by its mean over the reference rows (leave-one-out)."""
    return kth_distance(reference, queries, False) / kth_distance(reference, reference, True).mean()


def quantile_map(train_column):
    """Knots (x, z) of the training column's quantiles to a standard normal, ties merged."""
    from scipy.stats import norm

    rows = len(train_column)
    levels = np.linspace(0, 1, min(1000, rows))
    knots_x = np.quantile(train_column, levels)
    knots_z = norm.ppf(np.clip(levels, 0.5 / rows, 1 - 0.5 / rows))
    unique_x, which = np.unique(knots_x, return_inverse=True)
    unique_z = np.array([knots_z[which == i].mean() for i in range(len(unique_x))])
    return unique_x, unique_z


def qtail_column(train_column, column):
    knots_x, knots_z = quantile_map(train_column)
    if len(knots_x) == 1:
        return np.zeros_like(column)
    mapped = np.interp(column, knots_x, knots_z)
    last = len(knots_x) - 1
    # the outer 1% of the training rows on each side sets the slope beyond the range
    upper = min(max(0, int(np.searchsorted(knots_x, np.quantile(train_column, 0.99))) - 1),
                last - 1)
    lower = max(min(last, int(np.searchsorted(knots_x, np.quantile(train_column, 0.01))) + 1), 1)
    slope_up = (knots_z[last] - knots_z[upper]) / (knots_x[last] - knots_x[upper])
    slope_down = (knots_z[lower] - knots_z[0]) / (knots_x[lower] - knots_x[0])
    above, below = column > knots_x[last], column < knots_x[0]
    mapped[above] = knots_z[last] + (column[above] - knots_x[last]) * slope_up
    mapped[below] = knots_z[0] + (column[below] - knots_x[0]) * slope_down
    return mapped


def transform(kind, train_x, test_x):
    if kind == "none":
        return train_x, test_x
    if kind == "quantile":
        from sklearn.preprocessing import QuantileTransformer

        fitted = QuantileTransformer(output_distribution="normal", n_quantiles=min(1000, len(train_x)),
                                     subsample=10**9, random_state=0).fit(train_x)
        return fitted.transform(train_x), fitted.transform(test_x)
    if kind == "uniform":
        from sklearn.preprocessing import QuantileTransformer

        fitted = QuantileTransformer(output_distribution="uniform", n_quantiles=min(1000, len(train_x)),
                                     subsample=10**9, random_state=0).fit(train_x)
        unit = lambda x: (fitted.transform(x) - 0.5) * np.sqrt(12.0)
        return unit(train_x), unit(test_x)
    if kind == "qtail":
        columns = range(train_x.shape[1])
        apply = lambda x: np.stack([qtail_column(train_x[:, j].astype(np.float64),
                                                 x[:, j].astype(np.float64)) for j in columns], 1)
        return apply(train_x), apply(test_x)
    raise ValueError(kind)


def run_split(binary, train_x, test_x, test_labels, names, seed, threads, extra_args):
    with tempfile.TemporaryDirectory() as folder:
        adbench.write_csv(f"{folder}/train.csv", train_x, names)
        adbench.write_csv(f"{folder}/test.csv", test_x, names, test_labels)
        start = time.perf_counter()
        subprocess.run([binary, "train", "--data", f"{folder}/train.csv", "--out",
                        f"{folder}/model.safetensors", "--seed", str(seed), "--threads",
                        str(threads), "--device", "cpu"] + extra_args,
                       check=True, capture_output=True)
        train_s = time.perf_counter() - start
        subprocess.run([binary, "score", "--model", f"{folder}/model.safetensors", "--data",
                        f"{folder}/test.csv", "--label-column", "label", "--out",
                        f"{folder}/scores.csv", "--threads", str(threads)],
                       check=True, capture_output=True)
        recon = pd.read_csv(f"{folder}/scores.csv")["score"].to_numpy(np.float64)
        tensors, metadata = read_model(f"{folder}/model.safetensors")
    members = metadata["ensemble"]["members"] if "ensemble" in metadata else 1
    train_rows, test_rows = train_x.astype(np.float64), test_x.astype(np.float64)
    latent, feature = [], []
    for member in range(members):
        train_in, test_in = standardized(metadata, train_rows), standardized(metadata, test_rows)
        train_codes = encode(tensors, metadata, train_in, member)
        test_codes = encode(tensors, metadata, test_in, member)
        latent.append(relative_knn(train_codes, test_codes))
        train_errors = (decode(tensors, metadata, train_codes, member) - train_in) ** 2
        test_errors = (decode(tensors, metadata, test_codes, member) - test_in) ** 2
        per_feature = train_errors.mean(axis=0) + 1e-12
        feature.append((test_errors / per_feature).mean(axis=1)
                       / (train_errors / per_feature).mean())
    return {"recon": recon, "latent": np.mean(latent, axis=0), "feature": np.mean(feature, axis=0),
            "knn": relative_knn(train_rows, test_rows), "train_s": train_s}


def run(args):
    folder = f"{args.out}/{args.name}"
    os.makedirs(folder, exist_ok=True)
    tables = [t for t in args.tables.split(",") if t] or sorted(
        f[:-4] for f in os.listdir(args.data) if f.endswith(".csv"))
    for table in tables:
        features, labels, names = adbench.load_table(f"{args.data}/{table}.csv")
        for seed in [int(s) for s in args.seeds.split(",")]:
            path = f"{folder}/{table}_{seed}.npz"
            if os.path.exists(path):
                continue
            train_x, test_x, test_labels = adbench.split(features, labels, seed)
            train_x, test_x = transform(args.transform, train_x, test_x)
            scores = run_split(args.vaead, train_x, test_x, test_labels, names, seed,
                               args.threads, args.vaead_args.split())
            np.savez(path, labels=test_labels, **scores)
            print(f"{table:18s} seed {seed} {args.name} {scores['train_s']:.1f}s", flush=True)


def lof_run(args):
    from sklearn.neighbors import LocalOutlierFactor

    folder = f"{args.out}/lof"
    os.makedirs(folder, exist_ok=True)
    for table in sorted(f[:-4] for f in os.listdir(args.data) if f.endswith(".csv")):
        features, labels, _ = adbench.load_table(f"{args.data}/{table}.csv")
        for seed in [int(s) for s in args.seeds.split(",")]:
            train_x, test_x, test_labels = adbench.split(features, labels, seed)
            model = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(train_x.astype(np.float64))
            score = -model.score_samples(test_x.astype(np.float64))
            np.savez(f"{folder}/{table}_{seed}.npz", labels=test_labels,
                     lof=score / -model.negative_outlier_factor_.mean())


def report(args):
    from sklearn.metrics import average_precision_score, roc_auc_score

    runs = args.runs.split(",")
    first = runs[0]
    splits = [os.path.basename(p)[:-4] for p in sorted(glob.glob(f"{args.out}/{first}/*.npz"))]
    splits = [s for s in splits if all(os.path.exists(f"{args.out}/{r}/{s}.npz") for r in runs)]
    seeds = {int(s.rsplit("_", 1)[1]) for s in splits}
    if args.seeds:
        seeds &= {int(s) for s in args.seeds.split(",")}
        splits = [s for s in splits if int(s.rsplit("_", 1)[1]) in seeds]
    names = ["recon", "latent", "feature", "knn"]
    candidates = [n if r == first else f"{n}@{r}" for r in runs for n in names
                  if not (n == "knn" and r != first)
                  and n in np.load(f"{args.out}/{r}/{splits[0]}.npz").files]
    candidates += [s for s in args.sums.split(",") if s]
    candidates += [s for s in args.per_table.split(",") if s and s not in candidates]
    per_table = collections.defaultdict(lambda: collections.defaultdict(list))
    for split_name in splits:
        table = split_name.rsplit("_", 1)[0]
        loaded = {r: np.load(f"{args.out}/{r}/{split_name}.npz") for r in runs}
        labels = loaded[first]["labels"]

        def score(term):
            name, _, run_name = term.partition("@")
            return loaded[run_name or first][name]

        for candidate in candidates:
            values = sum(score(term) for term in candidate.split("+"))
            per_table[candidate][table].append(
                (roc_auc_score(labels, values), average_precision_score(labels, values)))
    tables = sorted(per_table[candidates[0]])
    against = np.array([np.mean(per_table[args.against][t], axis=0) for t in tables])
    print(f"{len(tables)} tables, split seeds {','.join(map(str, sorted(seeds)))}; paired "
          f"difference to {args.against} (per table the mean over seeds; ± standard error over "
          "tables):\n")
    print("| score | ROC-AUC | vs " + args.against + " | ahead | PR-AUC | vs " + args.against + " |")
    print("|---|---:|---:|---:|---:|---:|")
    for candidate in candidates:
        values = np.array([np.mean(per_table[candidate][t], axis=0) for t in tables])
        mean, error, ahead = adbench.paired(values - against)
        print(f"| {candidate} | {values[:, 0].mean():.4f} | {mean[0]:+.4f} ± {error[0]:.4f} | "
              f"{ahead[0]} | {values[:, 1].mean():.4f} | {mean[1]:+.4f} ± {error[1]:.4f} |")
    if args.per_table:
        print("\n| table | " + " | ".join(args.per_table.split(",")) + " |")
        print("|---|" + "---:|" * len(args.per_table.split(",")))
        for t in tables:
            print(f"| {t} | " + " | ".join(f"{np.mean(per_table[c][t], axis=0)[0]:.3f}"
                                          for c in args.per_table.split(",")) + " |")


def seed_study(args):
    from sklearn.metrics import roc_auc_score

    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([args.vaead, "generate", "--out", folder, "--seed", args.seeds or "0"],
                       check=True, capture_output=True)
        train = pd.read_csv(f"{folder}/train.csv").drop(columns=["label", "kind"])
        test = pd.read_csv(f"{folder}/test.csv")
        kinds, labels = test.pop("kind").to_numpy(), test.pop("label").to_numpy()
        names = list(train.columns)
        train_x, test_x = transform(args.transform, train.to_numpy(np.float32),
                                    test.to_numpy(np.float32))
    scores = run_split(args.vaead, train_x, test_x, labels, names, 0, args.threads,
                       args.vaead_args.split())
    sums = [s for s in args.sums.split(",") if s]
    print("| score | every anomaly | " + " | ".join(k for k in sorted(set(kinds)) if k != "normal")
          + " |")
    print("|---|---:|" + "---:|" * (len(set(kinds)) - 1))
    for candidate in ["recon", "latent", "feature", "knn"] + sums:
        values = sum(scores[term] for term in candidate.split("+"))
        cells = [f"{roc_auc_score(labels, values):.4f}"]
        for kind in sorted(set(kinds) - {"normal"}):
            rows = (kinds == kind) | (kinds == "normal")
            cells.append(f"{roc_auc_score(labels[rows], values[rows]):.4f}")
        print(f"| {candidate} | " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["run", "report", "seed", "lof"])
    parser.add_argument("--data", default=os.environ.get("VAEAD_ADBENCH"))
    parser.add_argument("--vaead", default="build/vaead")
    parser.add_argument("--out", default="bench/results/adbench_candidates")
    parser.add_argument("--name", default="defaults", help="run: the name of this run")
    parser.add_argument("--transform", default="none", choices=["none", "quantile", "uniform", "qtail"])
    parser.add_argument("--vaead-args", default="", help="run: extra arguments of `vaead train`")
    parser.add_argument("--seeds", default="", help="split seeds (run: default 0,1,2)")
    parser.add_argument("--tables", default="")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", default="defaults", help="report: runs, the first is the base")
    parser.add_argument("--sums", default="", help="report: sums of scores, e.g. recon+knn")
    parser.add_argument("--against", default="knn", help="report: the score differences refer to")
    parser.add_argument("--per-table", default="", help="report: scores to show per table")
    args = parser.parse_args()
    if args.action in ("run", "lof"):
        if not args.data or not os.path.isdir(args.data):
            sys.exit("adbench_candidates: pass --data DIR or set VAEAD_ADBENCH")
        args.seeds = args.seeds or "0,1,2"
        run(args) if args.action == "run" else lof_run(args)
    elif args.action == "seed":
        seed_study(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
