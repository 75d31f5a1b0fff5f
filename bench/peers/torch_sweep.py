"""PyTorch peer of bench_sweep: M models of the same recipe trained one after another in eager
PyTorch (what a user without vaead runs for a sweep): latent sizes 2, 4, 8, 16 x M / 4 seeds (8
alone for M = 1), batch 256, Adam 1e-3, KL warm-up over the first epoch, on vaead generate's
train.csv (standardized), each model then scoring 2048 rows as vaead's runs do. Wall time of all
M runs, median of several repeats after a warm-up run; prints and writes model-samples/s.

  pip install torch
  python3 bench/peers/torch_sweep.py --data DIR/train.csv [--device cpu|cuda] --threads 2 \
      --models 1,8,32,128 --epochs 2 [--json out.json]
"""
import argparse
import json
import statistics
import time

import torch

from torch_train import Vae, load


def train_one(x, latent, seed, epochs, batch):
    torch.manual_seed(seed)
    device = x.device
    model = Vae(x.shape[1], latent).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    rows = x.shape[0]
    for epoch in range(epochs):
        kl_weight = min(1.0, epoch / 1.0)
        order = torch.randperm(rows, device=device)
        for start in range(0, rows, batch):
            xb = x[order[start:start + batch]]
            eps = torch.randn(xb.shape[0], latent, device=device)
            optimizer.zero_grad(set_to_none=True)
            model(xb, eps, kl_weight).backward()
            optimizer.step()
    with torch.no_grad():  # scoring, as each vaead run scores its validation and test rows
        probe = x[:2048]
        h = model.encoder(probe)
        ((probe - model.decoder(model.mu(h))) ** 2).mean(dim=1).cpu()


def sweep_seconds(x, models, epochs):
    latents = [2, 4, 8, 16] if models % 4 == 0 else [8]
    seeds = models // 4 if models % 4 == 0 else models
    start = time.perf_counter()
    for latent in latents:
        for seed in range(seeds):
            train_one(x, latent, seed, epochs, 256)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--models", default="1,8,32,128")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    x = load(args.data).to(args.device)
    sweep_seconds(x[:1024], 1, 1)  # warm-up
    results = []
    for models in map(int, args.models.split(",")):
        seconds = statistics.median(sweep_seconds(x, models, args.epochs)
                                    for _ in range(args.repeats))
        rate = models * x.shape[0] * args.epochs / seconds
        results.append({"peer": "pytorch-eager", "device": args.device, "threads": torch.get_num_threads(),
                        "models": models, "train_rows": x.shape[0], "epochs": args.epochs,
                        "seconds": seconds, "model_samples_per_second": rate})
        print(f"pytorch eager {args.device} threads {torch.get_num_threads():2d} models {models:4d}: "
              f"{rate:12.0f} model-samples/s ({seconds:.1f} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch_version": torch.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
