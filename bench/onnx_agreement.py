"""How close ONNX Runtime's scores of an exported model are to vaead's, and to what vaead's own
rounding allows: for each table, `vaead train` (defaults), `vaead export --onnx`, `vaead score`;
then the largest relative difference of ONNX Runtime's scores from vaead's, of the same network
evaluated in double (numpy) from vaead's, and, with --emulated, of vaead's GPU engine (a build
with the CUDA emulator, `--device cuda`) from its CPU engine.

    python3 bench/onnx_agreement.py --cli build-test/vaead [--emulated build-emulated-release/vaead] \
        --tables ../shared/datasets/adbench/thyroid.csv,... [--generate]

Needs numpy and onnxruntime. --generate adds `vaead generate`'s data (2,000 training rows; the 1,000 test rows scored). A real
table is trained on (its normal rows) and scored whole.
"""
import argparse
import csv
import json
import os
import subprocess
import tempfile

import numpy as np


def read_model(path):
    """(metadata, tensors) of a safetensors file, with numpy only."""
    data = open(path, "rb").read()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    meta = header.pop("__metadata__")
    body = data[8 + size :]
    tensors = {name: np.frombuffer(body[i["data_offsets"][0] : i["data_offsets"][1]], np.float32)
               .reshape(i["shape"]) for name, i in header.items()}
    return meta, tensors


def double_scores(model_path, X):
    """The model's scores with every operation in double: vaead's network, no float32 rounding."""
    meta, tensors = read_model(model_path)
    arch = json.loads(meta["architecture"])
    standardizer = json.loads(meta["standardizer"])
    x = (X.astype(np.float64) - standardizer["mean"]) / standardizer["scale"]
    x = x.astype(np.float32).astype(np.float64)  # vaead's standardized rows are float32
    ensemble = json.loads(meta["ensemble"]) if "ensemble" in meta else None
    scales = ensemble["score_scales"] if ensemble else [1.0]
    layers = [(f"encoder.{2 * i}", True) for i in range(len(arch["encoder_hidden"]))] + [("mu", False)]
    decoder = len(arch["decoder_hidden"]) + 1
    layers += [(f"decoder.{2 * i}", i + 1 < decoder) for i in range(decoder)]
    total = 0.0
    for k, scale in enumerate(scales):
        prefix = f"members.{k}." if k else ""
        h = x
        for name, relu in layers:
            h = h @ tensors[prefix + name + ".weight"].T.astype(np.float64) + tensors[prefix + name + ".bias"]
            h = np.maximum(h, 0) if relu else h
        total = total + ((x - h) ** 2).mean(axis=1) / (scale if ensemble else 1.0)
    return total / len(scales)


def scores_csv(path):
    with open(path, newline="") as f:
        return np.array([float(r["score"]) for r in csv.DictReader(f)])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--emulated")
    parser.add_argument("--tables", default="")
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as work:
        tables = [(t, t) for t in args.tables.split(",") if t]  # (trained on, scored)
        if args.generate:
            subprocess.run([args.cli, "generate", "--out", work, "--train-rows", "2000", "--val-rows", "500",
                            "--test-rows", "1000"], check=True, capture_output=True)
            tables.insert(0, (os.path.join(work, "train.csv"), os.path.join(work, "test.csv")))
        print("| table | rows | ONNX Runtime vs vaead | double vs vaead | vaead GPU (emulated) vs CPU |")
        print("|---|---:|---:|---:|---:|")
        for trained_on, table in tables:
            name = os.path.basename(table)[:-4]
            model, onnx_path, scores = (os.path.join(work, f"{name}.{e}") for e in ("safetensors", "onnx", "scores"))
            common = ["--data", table, "--label-column", "label"]
            run = lambda *a: subprocess.run([*a], check=True, capture_output=True)
            run(args.cli, "train", "--data", trained_on, "--label-column", "label", "--out", model,
                "--threads", args.threads)
            run(args.cli, "export", "--model", model, "--onnx", onnx_path)
            run(args.cli, "score", "--model", model, *common, "--out", scores, "--threads", args.threads)
            ours = scores_csv(scores)
            meta, _ = read_model(model)
            names = json.loads(meta["feature_names"])
            with open(table, newline="") as f:
                X = np.array([[float(r[n]) for n in names] for r in csv.DictReader(f)], dtype=np.float32)
            theirs = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(["score"], {"X": X})[0]
            relative = lambda other: f"{(np.abs(other - ours) / np.abs(ours)).max():.2e}"
            gpu = "-"
            if args.emulated:
                run(args.emulated, "score", "--model", model, *common, "--out", scores + ".gpu", "--device", "cuda")
                gpu = relative(scores_csv(scores + ".gpu"))
            label = "vaead generate" if name == "test" else name
            print(f"| {label} | {len(ours)} | {relative(theirs)} | {relative(double_scores(model, X))} | {gpu} |",
                  flush=True)


if __name__ == "__main__":
    main()
