"""Loads a vaead model file into PyTorch and checks vaead's scores against PyTorch's own.

usage: pytorch_model_check.py MODEL.safetensors DATA.csv SCORES.csv [LABEL_COLUMN]

The model is rebuilt from the file's metadata as the nn.Sequential modules its tensor names say
(encoder.0, ..., mu, logvar, decoder.0, ...), the tensors go in through load_state_dict(strict),
the rows are standardized with the stored mean and scale, and score = mean over features of
(x - decoder(mu(x)))^2. An ensemble (format version 2) holds its further members under
members.K.<name>; its score is the mean over members of score / the member's score_scale. Exits 1 when any score differs from vaead's by more than 1e-5
(absolute + relative), 0 otherwise. Needs torch and safetensors (pip install torch safetensors).
"""
import csv
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file


def sequential(widths, last_relu):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths) or last_relu:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class Vae(torch.nn.Module):
    def __init__(self, arch):
        super().__init__()
        d, latent = arch["input_dim"], arch["latent_dim"]
        enc = [d] + arch["encoder_hidden"]
        self.encoder = sequential(enc, last_relu=True)
        self.mu = torch.nn.Linear(enc[-1], latent)
        self.logvar = torch.nn.Linear(enc[-1], latent)
        self.decoder = sequential([latent] + arch["decoder_hidden"] + [d], last_relu=False)

    def score(self, x):
        reconstruction = self.decoder(self.mu(self.encoder(x)))
        return ((x - reconstruction) ** 2).mean(dim=1)


def main():
    model_path, data_path, scores_path = sys.argv[1:4]
    label = sys.argv[4] if len(sys.argv) > 4 else None
    with safe_open(model_path, framework="pt") as f:
        meta = f.metadata()
    arch = json.loads(meta["architecture"])
    standardizer = json.loads(meta["standardizer"])
    features = json.loads(meta["feature_names"])
    tensors = load_file(model_path)
    ensemble = json.loads(meta["ensemble"]) if meta["format_version"] == "2" else None
    scales = ensemble["score_scales"] if ensemble else [None]
    members = []
    for k in range(len(scales)):
        prefix = f"members.{k}." if k else ""
        state = {name[len(prefix):]: value for name, value in tensors.items()
                 if name.startswith(prefix) and (k or not name.startswith("members."))}
        vae = Vae(arch)
        vae.load_state_dict(state, strict=True)
        vae.eval()
        members.append(vae)

    with open(data_path, newline="") as f:
        rows = list(csv.DictReader(f))
    x = torch.tensor([[float(r[name]) for name in features] for r in rows], dtype=torch.float64)
    mean = torch.tensor(standardizer["mean"], dtype=torch.float64)
    scale = torch.tensor(standardizer["scale"], dtype=torch.float64)
    x = ((x - mean) / scale).float()
    with torch.no_grad():
        if ensemble is None:
            theirs = members[0].score(x).double()
        else:
            theirs = sum(m.score(x).double() / scale for m, scale in zip(members, scales))
            theirs = theirs / len(members)
    with open(scores_path, newline="") as f:
        ours = torch.tensor([float(r["score"]) for r in csv.DictReader(f)], dtype=torch.float64)
    if ours.shape != theirs.shape:
        print(f"{len(ours)} vaead scores, {len(theirs)} PyTorch scores")
        return 1
    error = (ours - theirs).abs()
    tolerance = 1e-5 + 1e-5 * theirs.abs()
    worst = int(torch.argmax(error / tolerance))
    print(f"{len(ours)} rows; largest difference {float(error.max()):.3g} "
          f"(row {worst}: vaead {float(ours[worst]):.8g}, PyTorch {float(theirs[worst]):.8g})")
    return 0 if bool((error <= tolerance).all()) else 1


if __name__ == "__main__":
    sys.exit(main())
