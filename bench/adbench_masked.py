#!/usr/bin/env python3
"""A prototype in PyTorch, measured before building it into vaead: a VAE trained with
random feature masks (each feature hidden with probability 0.25, the mask given to the encoder as
extra inputs), scored by reconstructing each group of features from the others (leave-features-
out: min(d, 8) groups, one pass each), against the same architecture trained without masks and
scored by its plain reconstruction error. vaead's default recipe otherwise: 128-64-8-64-128, four
members of beta 1, 0.1, 1, 0.1, 3,000 Adam steps of batch 64, KL warm-up over the first 1,000 steps,
each member's score divided by its mean on 20% of the training rows held out. The splits are
bench/adbench.py's.

  VAEAD_ADBENCH=DIR python3 bench/adbench_masked.py OUT.jsonl TABLE,TABLE SEED,SEED
"""
import json
import os
import sys
import time

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adbench  # noqa: E402

MASKED_SHARE = 0.25
BETAS = [1, 0.1, 1, 0.1]


class MaskedVae(torch.nn.Module):
    def __init__(self, features, latent=8, mask_as_input=False):
        super().__init__()
        inputs = 2 * features if mask_as_input else features
        self.encoder = torch.nn.Sequential(torch.nn.Linear(inputs, 128), torch.nn.ReLU(),
                                           torch.nn.Linear(128, 64), torch.nn.ReLU())
        self.mu = torch.nn.Linear(64, latent)
        self.logvar = torch.nn.Linear(64, latent)
        self.decoder = torch.nn.Sequential(torch.nn.Linear(latent, 64), torch.nn.ReLU(),
                                           torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                           torch.nn.Linear(128, features))
        self.mask_as_input = mask_as_input

    def forward(self, rows, keep, sample=True):
        inputs = rows * keep
        if self.mask_as_input:
            inputs = torch.cat([inputs, keep], 1)
        hidden = self.encoder(inputs)
        mu, logvar = self.mu(hidden), self.logvar(hidden).clamp(-10, 10)
        codes = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return self.decoder(codes), mu, logvar


def train(rows, beta, masked_share, seed, steps=3000, batch=64):
    torch.manual_seed(seed)
    model = MaskedVae(rows.shape[1], mask_as_input=masked_share > 0)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    data = torch.tensor(rows)
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        batch_rows = data[torch.randint(0, len(data), (min(batch, len(data)),), generator=generator)]
        keep = ((torch.rand(batch_rows.shape, generator=generator) >= masked_share).float()
                if masked_share > 0 else torch.ones_like(batch_rows))
        reconstruction, mu, logvar = model(batch_rows, keep)
        error = ((reconstruction - batch_rows) ** 2).sum(1).mean()
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
        loss = error + beta * min(1.0, step / 1000) * kl
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def scores(model, rows, groups):
    """The plain reconstruction error and, given groups, the leave-features-out error."""
    data = torch.tensor(rows)
    with torch.no_grad():
        reconstruction, _, _ = model(data, torch.ones_like(data), sample=False)
        plain = ((reconstruction - data) ** 2).mean(1).numpy()
        left_out = np.zeros(len(rows))
        for group in groups or []:
            keep = torch.ones_like(data)
            keep[:, group] = 0
            reconstruction, _, _ = model(data, keep, sample=False)
            left_out += ((reconstruction[:, group] - data[:, group]) ** 2).sum(1).numpy()
        return plain, left_out / rows.shape[1]


def evaluate(train_x, test_x, labels, seed):
    order = np.random.default_rng(seed).permutation(len(train_x))
    held_out, fitted = order[: len(train_x) // 5], order[len(train_x) // 5:]
    features = train_x.shape[1]
    group_count = min(features, 8)
    groups = [list(range(features))[i::group_count] for i in range(group_count)]
    members = {"plain": [], "masked_plain": [], "masked_lofo": []}
    for member, beta in enumerate(BETAS):
        model = train(train_x[fitted], beta, 0.0, seed + member)
        test_scores, _ = scores(model, test_x, None)
        held_scores, _ = scores(model, train_x[held_out], None)
        members["plain"].append(test_scores / held_scores.mean())
        model = train(train_x[fitted], beta, MASKED_SHARE, seed + member)
        test_plain, test_lofo = scores(model, test_x, groups)
        held_plain, held_lofo = scores(model, train_x[held_out], groups)
        members["masked_plain"].append(test_plain / held_plain.mean())
        members["masked_lofo"].append(test_lofo / held_lofo.mean())
    combined = {name: np.mean(values, 0) for name, values in members.items()}
    combined["plain+lofo"] = combined["plain"] + combined["masked_lofo"]
    return {name: (roc_auc_score(labels, s), average_precision_score(labels, s))
            for name, s in combined.items()}


def main():
    torch.set_num_threads(1)
    out, tables, seeds = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
    for table in tables:
        features, labels, _ = adbench.load_table(f"{os.environ['VAEAD_ADBENCH']}/{table}.csv")
        for seed in map(int, seeds):
            train_x, test_x, test_labels = adbench.split(features, labels, seed)
            start = time.perf_counter()
            result = evaluate(train_x, test_x, test_labels, seed)
            record = {"table": table, "seed": seed, "s": time.perf_counter() - start,
                      **{name: value[0] for name, value in result.items()},
                      **{name + "_pr": value[1] for name, value in result.items()}}
            print(json.dumps(record), flush=True)
            with open(out, "a") as f:
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
