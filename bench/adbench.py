#!/usr/bin/env python3
"""vaead against classical and deep detectors on the ADBench tables.

The semi-supervised protocol of ADBench: for each table and split seed, 60% of the normal rows
(drawn with numpy's default_rng(seed)) train, the other normal rows and every anomaly test. Every
tool sees the same rows, standardized with the training rows' mean and standard deviation. Each tool
runs with its defaults and a fixed seed; its default threshold decides F1:
  vaead     `vaead train` then `vaead score` on the split written as CSV (the CLI, as a user runs it)
  knn, lof, iforest, ecod, autoencoder, vae: PyOD (contamination 0.1, its default); its VAE with
            the KL term on (capacity 1e9: PyOD's default capacity 0 clamps KL to 0)
  deepsvdd, icl, dif: DeepOD's one-class methods (DeepSVDD, ICL, Deep Isolation Forest) at their
            defaults on the CPU (device "cpu"; DeepOD's default "cuda" is the only change); their
            threshold is DeepOD's (the training scores' 90th percentile)
A peer that runs longer than --time-limit seconds on a split is stopped and recorded as failed
("over N s"), so one slow method on the largest tables cannot hold the whole benchmark.
Metrics come from scikit-learn for every tool alike. Results are kept per (tool, table, seed) in
OUT/results.jsonl and not recomputed (delete a line, or pass --again, to redo it); a vaead variant
(--name, --vaead-args) is a tool of its own. --report prints the markdown tables.

Tables: --data DIR or $VAEAD_ADBENCH (a folder of CSV files: x0..x{d-1}, label).
Needs numpy, pandas, scikit-learn; the peers need pyod, torch and tqdm (pip install pyod torch
tqdm), DeepOD's need `pip install --no-deps deepod` (DeepOD 0.4.1 pins torch<1.13.1, from 2022;
its methods run unchanged on today's torch, and --no-deps keeps the torch the other peers use).

--report also prints, for the first tool against each other one, the paired difference of the
per-table means (mean over tables, with its standard error over tables), and for each table the
gap to the best peer on it.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

PEERS = ["knn", "lof", "iforest", "ecod", "autoencoder", "vae", "deepsvdd", "icl", "dif"]
SEEDS = "0,1,2,3,4"
TRAIN_SHARE = 0.6


def load_table(path):
    frame = pd.read_csv(path)
    labels = frame.pop("label").to_numpy().astype(np.int8)
    return frame.to_numpy(dtype=np.float64), labels, list(frame.columns)


def split(features, labels, seed):
    """Training rows (normal only) and test rows with labels, standardized on the training rows."""
    normal = np.flatnonzero(labels == 0)
    anomalous = np.flatnonzero(labels != 0)
    order = np.random.default_rng(seed).permutation(normal)
    n_train = int(TRAIN_SHARE * len(normal))
    train_rows = np.sort(order[:n_train])
    test_rows = np.sort(np.concatenate([order[n_train:], anomalous]))
    mean = features[train_rows].mean(axis=0)
    std = features[train_rows].std(axis=0)
    std[std == 0] = 1.0
    standardize = lambda x: ((x - mean) / std).astype(np.float32)
    return standardize(features[train_rows]), standardize(features[test_rows]), labels[test_rows]


def metrics(scores, flagged, labels):
    from sklearn.metrics import average_precision_score, roc_auc_score

    tp = int(np.sum(flagged & (labels == 1)))
    fp = int(np.sum(flagged & (labels == 0)))
    fn = int(np.sum(~flagged & (labels == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "pr_auc": float(average_precision_score(labels, scores)),
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "flagged": int(flagged.sum()),
    }


def write_csv(path, x, names, labels=None):
    frame = pd.DataFrame(x, columns=names)
    if labels is not None:
        frame["label"] = labels
    frame.to_csv(path, index=False, float_format="%.9g")


def safetensors_header(f):
    """The JSON header of a safetensors file open at its start (the tensors' bytes follow)."""
    size = int.from_bytes(f.read(8), "little")
    return json.loads(f.read(size))


def model_metadata(path):
    """The __metadata__ of a safetensors file: JSON strings by name."""
    with open(path, "rb") as f:
        return safetensors_header(f).get("__metadata__", {})


def run_vaead(binary, extra_args, train_x, test_x, test_labels, names, seed, keep):
    with tempfile.TemporaryDirectory() as folder:
        train_csv, test_csv = f"{folder}/train.csv", f"{folder}/test.csv"
        model, scores_csv = f"{folder}/model.safetensors", f"{folder}/scores.csv"
        write_csv(train_csv, train_x, names)
        write_csv(test_csv, test_x, names, test_labels)
        command = [binary, "train", "--data", train_csv, "--out", model, "--seed", str(seed)]
        start = time.perf_counter()
        trained = subprocess.run(command + extra_args, capture_output=True, text=True)
        train_s = time.perf_counter() - start
        if trained.returncode != 0:
            raise RuntimeError(trained.stderr.strip().splitlines()[-1] if trained.stderr else "failed")
        start = time.perf_counter()
        scored = subprocess.run([binary, "score", "--model", model, "--data", test_csv,
                                 "--label-column", "label", "--out", scores_csv],
                                capture_output=True, text=True)
        score_s = time.perf_counter() - start
        if scored.returncode != 0:
            raise RuntimeError(scored.stderr.strip().splitlines()[-1])
        frame = pd.read_csv(scores_csv)
        out = {"train_s": train_s, "score_s": score_s,
               "train_output": trained.stdout.strip().splitlines()}
        scores = frame["score"].to_numpy(np.float64)
        flagged = frame["is_anomaly"].to_numpy() != 0
        if keep:
            meta = model_metadata(model)
            out["kept"] = {"scores": scores,
                           "holdout": json.loads(meta["threshold"])["holdout_scores"]}
        return scores, flagged, out


def make_peer(name, seed):
    if name == "knn":
        from pyod.models.knn import KNN
        return KNN()
    if name == "lof":
        from pyod.models.lof import LOF
        return LOF()
    if name == "iforest":
        from pyod.models.iforest import IForest
        return IForest(random_state=seed)
    if name == "ecod":
        from pyod.models.ecod import ECOD
        return ECOD()
    if name == "autoencoder":
        from pyod.models.auto_encoder import AutoEncoder
        return AutoEncoder(random_state=seed, verbose=0)
    if name == "vae":
        from pyod.models.vae import VAE
        return VAE(random_state=seed, verbose=0, capacity=1e9)
    deepod = {"deepsvdd": "DeepSVDD", "icl": "ICL", "dif": "DeepIsolationForest"}
    if name in deepod:
        import deepod.models.tabular as tabular
        return getattr(tabular, deepod[name])(random_state=seed, verbose=0, device="cpu")
    raise ValueError(name)


def run_peer_limited(name, train_x, test_x, seed, limit_s):
    """run_peer in a forked child, stopped after limit_s seconds (a RuntimeError then)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child():
        try:
            sender.send(("ok", run_peer(name, train_x, test_x, seed)))
        except Exception as error:  # sent back, raised in the parent
            sender.send(("error", f"{type(error).__name__}: {error}"))

    process = context.Process(target=child, daemon=True)  # ends with the benchmark
    process.start()
    sender.close()
    if not receiver.poll(limit_s):
        process.kill()
        process.join()
        raise RuntimeError(f"over {limit_s:g} s")
    try:
        status, value = receiver.recv()
    except EOFError:
        status, value = "error", "the peer's process died"
    process.join()
    if status != "ok":
        raise RuntimeError(value)
    return value


def run_peer(name, train_x, test_x, seed):
    detector = make_peer(name, seed)
    start = time.perf_counter()
    detector.fit(train_x)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = np.asarray(detector.decision_function(test_x), dtype=np.float64)
    flagged = np.asarray(detector.predict(test_x)) != 0
    return scores, flagged, {"train_s": train_s, "score_s": time.perf_counter() - start}


def load_results(path):
    results = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                results[(r["tool"], r["table"], r["seed"])] = r
    return results


def report(results, tools, tables, seeds):
    def cell(tool, table, key):
        values = [results[(tool, table, s)].get(key) for s in seeds
                  if (tool, table, s) in results]
        values = [v for v in values if v is not None]
        return (float(np.mean(values)), len(values)) if values else (None, 0)

    lines = []
    for key, title in [("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC (average precision)"),
                       ("f1", "F1 at each tool's default threshold"),
                       ("train_s", "training time, seconds")]:
        lines.append(f"\n{title}, mean over split seeds {','.join(map(str, seeds))}:\n")
        lines.append("| table | " + " | ".join(tools) + " |")
        lines.append("|---|" + "---:|" * len(tools))
        per_tool = {t: [] for t in tools}
        for table in tables:
            row = []
            for tool in tools:
                value, n = cell(tool, table, key)
                if value is None:
                    failed = [results[(tool, table, s)].get("error") for s in seeds
                              if (tool, table, s) in results]
                    row.append("failed" if any(failed) else "-")
                else:
                    per_tool[tool].append(value)
                    row.append(f"{value:.3f}" + ("" if n == len(seeds) else f" ({n})"))
            lines.append(f"| {table} | " + " | ".join(row) + " |")
        means = []
        for tool in tools:
            values = per_tool[tool]
            means.append(f"**{np.mean(values):.3f}**" + ("" if len(values) == len(tables)
                                                          else f" ({len(values)} tables)")
                         if values else "-")
        lines.append("| **mean** | " + " | ".join(means) + " |")
        if key != "train_s":
            # Spread over split seeds of the 28-table mean: a mean per seed, then their std.
            spreads = []
            for tool in tools:
                per_seed = []
                for s in seeds:
                    values = [results[(tool, t, s)].get(key) for t in tables
                              if (tool, t, s) in results]
                    if len(values) == len(tables) and None not in values:
                        per_seed.append(np.mean(values))
                spreads.append(f"± {np.std(per_seed, ddof=1):.3f}" if len(per_seed) > 1 else "-")
            lines.append("| std over seeds | " + " | ".join(spreads) + " |")
    lines.append(paired_differences(results, tools, tables, seeds))
    lines.append(gaps_to_best_peer(results, tools, tables, seeds))
    return "\n".join(lines)


def table_means(results, tool, tables, seeds, key):
    """{table: mean over the seeds} for the tables where every seed has a value."""
    means = {}
    for table in tables:
        values = [results.get((tool, table, s), {}).get(key) for s in seeds]
        if None not in values:
            means[table] = float(np.mean(values))
    return means


def paired(differences):
    """Per-table differences (along axis 0): their mean, its standard error over tables
    (std / sqrt(tables)) and the number of tables above 0."""
    error = np.std(differences, axis=0, ddof=1) / np.sqrt(len(differences))
    return differences.mean(axis=0), error, np.sum(differences > 0, axis=0)


def paired_differences(results, tools, tables, seeds):
    """The first tool minus each other one, paired by table (mean over seeds first): the mean
    difference over the tables both finished, its standard error over tables (std / sqrt(n)),
    and on how many tables the first tool is ahead."""
    first = tools[0]
    lines = [f"\nPaired difference, {first} minus each peer: per table the mean over split seeds "
             f"{','.join(map(str, seeds))}, then the mean over tables ± its standard error over "
             "tables (std / sqrt(tables)); ahead: tables where the difference is above 0.\n",
             "| peer | tables | ROC-AUC | ahead | PR-AUC | ahead | F1 | ahead |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for peer in tools[1:]:
        cells = []
        shared = None
        for key in ("roc_auc", "pr_auc", "f1"):
            mine = table_means(results, first, tables, seeds, key)
            theirs = table_means(results, peer, tables, seeds, key)
            shared = [t for t in tables if t in mine and t in theirs]
            if len(shared) < 2:
                cells += ["-", "-"]
                continue
            mean, error, ahead = paired(np.array([mine[t] - theirs[t] for t in shared]))
            cells += [f"{mean:+.3f} ± {error:.3f}", f"{ahead}"]
        lines.append(f"| {peer} | {len(shared) if shared else 0} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gaps_to_best_peer(results, tools, tables, seeds):
    """Per table, the first tool's ROC-AUC and PR-AUC minus the best peer's (means over seeds)."""
    first = tools[0]
    lines = [f"\nGap to the best peer on each table ({first} minus the best of the others, means "
             "over split seeds; a peer that failed a split is not counted on that table):\n",
             "| table | ROC-AUC | best peer | gap | PR-AUC | best peer | gap |",
             "|---|---:|---|---:|---:|---|---:|"]
    worst = {}
    for table in tables:
        row = []
        for key in ("roc_auc", "pr_auc"):
            mine = table_means(results, first, [table], seeds, key).get(table)
            peers = {p: table_means(results, p, [table], seeds, key).get(table) for p in tools[1:]}
            peers = {p: v for p, v in peers.items() if v is not None}
            if mine is None or not peers:
                row += ["-", "-", "-"]
                continue
            best = max(peers, key=peers.get)
            gap = mine - peers[best]
            worst[key] = min(worst.get(key, gap), gap)
            row += [f"{mine:.3f}", f"{best} {peers[best]:.3f}", f"{gap:+.3f}"]
        lines.append(f"| {table} | " + " | ".join(row) + " |")
    lines.append("\nLargest gap below the best peer: " + ", ".join(
        f"{key} {value:+.3f}" for key, value in worst.items()))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("VAEAD_ADBENCH"),
                        help="folder of the ADBench CSV tables (or $VAEAD_ADBENCH)")
    parser.add_argument("--vaead", default="build/vaead", help="the vaead binary")
    parser.add_argument("--out", default="bench/results/adbench5", help="results folder")
    parser.add_argument("--tools", default="vaead," + ",".join(PEERS))
    parser.add_argument("--seeds", default=SEEDS)
    parser.add_argument("--tables", default="", help="comma-separated subset (default: every CSV)")
    parser.add_argument("--name", default="vaead", help="the name of this vaead variant")
    parser.add_argument("--vaead-args", default="",
                        help="extra arguments for `vaead train` (--device cpu unless they name one)")
    parser.add_argument("--seed-offset", type=int, default=0,
                        help="vaead's --seed is the split seed plus this")
    parser.add_argument("--keep-scores", action="store_true",
                        help="keep vaead's test and held-out scores in OUT/scores/")
    parser.add_argument("--again", action="store_true", help="recompute kept results")
    parser.add_argument("--report", action="store_true", help="print the tables and stop")
    parser.add_argument("--threads", type=int, default=2, help="threads of every tool")
    parser.add_argument("--time-limit", type=float, default=1800,
                        help="seconds a peer may take on one split (0: no limit)")
    args = parser.parse_args()
    if not args.data or not os.path.isdir(args.data):
        sys.exit("adbench: pass --data DIR or set VAEAD_ADBENCH to the folder of the ADBench CSVs")
    tables = [t for t in args.tables.split(",") if t] or sorted(
        f[:-4] for f in os.listdir(args.data) if f.endswith(".csv"))
    seeds = [int(s) for s in args.seeds.split(",")]
    tools = [args.name if t == "vaead" else t for t in args.tools.split(",")]
    os.makedirs(args.out, exist_ok=True)
    results_path = f"{args.out}/results.jsonl"
    results = load_results(results_path)
    if args.report:
        print(report(results, tools, tables, seeds))
        return
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    vaead_args = shlex.split(args.vaead_args) + ["--threads", str(args.threads)]
    if "--device" not in vaead_args:
        vaead_args += ["--device", "cpu"]
    for table in tables:
        features, labels, names = load_table(f"{args.data}/{table}.csv")
        for seed in seeds:
            todo = [t for t in tools if args.again or (t, table, seed) not in results]
            if not todo:
                continue
            train_x, test_x, test_labels = split(features, labels, seed)
            for tool in todo:
                record = {"tool": tool, "table": table, "seed": seed, "train_rows": len(train_x),
                          "test_rows": len(test_x), "anomalies": int(test_labels.sum())}
                try:
                    if tool == args.name:
                        scores, flagged, extra = run_vaead(args.vaead, vaead_args, train_x, test_x,
                                                           test_labels, names,
                                                           seed + args.seed_offset,
                                                           args.keep_scores)
                        kept = extra.pop("kept", None)
                        if kept is not None:
                            os.makedirs(f"{args.out}/scores", exist_ok=True)
                            np.savez(f"{args.out}/scores/{tool}_{table}_{seed}.npz",
                                     scores=kept["scores"], holdout=np.asarray(kept["holdout"]),
                                     labels=test_labels)
                    else:
                        scores, flagged, extra = (
                            run_peer_limited(tool, train_x, test_x, seed, args.time_limit)
                            if args.time_limit > 0 else run_peer(tool, train_x, test_x, seed))
                    record.update(extra)
                    record.update(metrics(scores, flagged, test_labels))
                except Exception as error:  # a failure is a result too: recorded, shown
                    record["error"] = str(error)
                results[(tool, table, seed)] = record
                with open(results_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
                shown = (f"roc {record['roc_auc']:.3f} f1 {record['f1']:.3f} "
                         f"{record['train_s']:.1f}s" if "error" not in record
                         else "failed: " + record["error"])
                print(f"{table:18s} seed {seed} {tool:12s} {shown}", flush=True)


if __name__ == "__main__":
    main()
