"""PyTorch peer of vaead's training step: the same VAE (30 -> 128 -> 64 -> (mu, logvar) L ->
64 -> 128 -> 30, ReLU), loss (mean over rows of sum of squared errors + beta * KL, logvar
clamped to [-10, 10]), Adam (1e-3, 0.9, 0.999, 1e-8) and data (vaead generate's train.csv,
standardized). Measures training samples/s (forward + backward + Adam) in steady state: warm-up
steps first, then the median of several timed repeats.

  pip install torch        (CPU or CUDA build)
  python3 bench/peers/torch_train.py --data DIR/train.csv --device cpu --threads 2 \
      --batches 256,4096 --latents 8,16 [--mode eager|compile|graph] [--json out.json]
"""
import argparse
import csv
import json
import statistics
import time

import torch


class Vae(torch.nn.Module):
    def __init__(self, d, latent):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(d, 128), torch.nn.ReLU(),
                                           torch.nn.Linear(128, 64), torch.nn.ReLU())
        self.mu = torch.nn.Linear(64, latent)
        self.logvar = torch.nn.Linear(64, latent)
        self.decoder = torch.nn.Sequential(torch.nn.Linear(latent, 64), torch.nn.ReLU(),
                                           torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                           torch.nn.Linear(128, d))

    def forward(self, x, eps, kl_weight=1.0):
        h = self.encoder(x)
        mu, logvar = self.mu(h), torch.clamp(self.logvar(h), -10.0, 10.0)
        z = mu + torch.exp(0.5 * logvar) * eps
        x_hat = self.decoder(z)
        reconstruction = ((x - x_hat) ** 2).sum(dim=1).mean()
        kl = (-0.5 * (1 + logvar - mu * mu - torch.exp(logvar)).sum(dim=1)).mean()
        return reconstruction + kl_weight * kl


def load(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        names = [n for n in reader.fieldnames if n.startswith("x")]
        rows = [[float(r[n]) for n in names] for r in reader]
    x = torch.tensor(rows, dtype=torch.float32)
    return (x - x.mean(0)) / x.std(0, unbiased=False)


def measure(x, batch, latent, device, mode, steps, repeats, warmup):
    torch.manual_seed(0)
    model = Vae(x.shape[1], latent).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    rows = x.shape[0]
    if batch > rows:  # large batches: tile the data
        x = x.repeat((batch + rows - 1) // rows + 1, 1)
        rows = x.shape[0]
    x = x.to(device)

    def step(xb, eps):
        optimizer.zero_grad(set_to_none=True)
        loss = model(xb, eps)
        loss.backward()
        optimizer.step()
        return loss

    run = step
    if mode == "compile":
        run = torch.compile(step)
    generator = torch.Generator(device=device).manual_seed(1)
    batches = [torch.randint(0, rows - batch + 1, (1,), generator=generator, device=device).item()
               for _ in range(steps)]
    eps = torch.randn(batch, latent, device=device)
    graph = None
    if mode == "graph":  # a CUDA-graph-captured step, static input buffers
        static_x = x[:batch].clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                step(static_x, eps)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            loss = model(static_x, eps)
            loss.backward()
            optimizer.step()

    def one_repeat():
        for start in batches:
            if graph is not None:
                static_x.copy_(x[start:start + batch])
                graph.replay()
            else:
                run(x[start:start + batch], eps)
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        one_repeat()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        one_repeat()
        times.append(time.perf_counter() - start)
    return steps * batch / statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--batches", default="256,4096")
    parser.add_argument("--latents", default="8,16")
    parser.add_argument("--mode", default="eager", choices=["eager", "compile", "graph"])
    parser.add_argument("--samples", type=int, default=200_000, help="samples per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    x = load(args.data)
    results = []
    for latent in map(int, args.latents.split(",")):
        for batch in map(int, args.batches.split(",")):
            steps = max(10, args.samples // batch)
            rate = measure(x, batch, latent, args.device, args.mode, steps, args.repeats, warmup=1)
            results.append({"peer": f"pytorch-{args.mode}", "device": args.device,
                            "threads": torch.get_num_threads(), "batch_size": batch,
                            "latent_dim": latent, "samples_per_second": rate})
            print(f"pytorch {args.mode:8s} {args.device:4s} threads {torch.get_num_threads():2d} "
                  f"batch {batch:6d} latent {latent:3d}: {rate:12.0f} samples/s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch_version": torch.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
