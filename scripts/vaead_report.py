#!/usr/bin/env python3
"""vaead report: turns the JSON of `vaead experiment`, `vaead evaluate` or a sweep into PNG
figures and one self-contained HTML page (the figures are embedded).

usage: vaead_report.py RESULT.json --out DIR [--dpi 110]

Needs matplotlib (pip install matplotlib); vaead itself never does. Exit code 0 on success,
77 when matplotlib is missing (the message says how to install it), 1 on a bad JSON.
"""
import argparse
import base64
import html
import json
import math
import os
import statistics
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("vaead report: needs matplotlib: pip install matplotlib", file=sys.stderr)
    sys.exit(77)

KIND_LABELS = {
    "normal": "normal rows",
    "mean_shift": "mean shift",
    "correlation_break": "correlation break",
    "variance_explosion": "variance explosion",
    "anomaly": "anomalies",
}
KIND_COLORS = {
    "normal": "#4c72b0",
    "mean_shift": "#dd8452",
    "correlation_break": "#c44e52",
    "variance_explosion": "#8172b3",
    "anomaly": "#c44e52",
}
DPI = 110


def mean_std(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def save(fig, out_dir, name, figures, caption):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)  # set from --dpi in main()
    plt.close(fig)
    figures.append((name, caption))


# ---- experiment --------------------------------------------------------------------------------

def by_latent(runs):
    groups = {}
    for run in runs:
        groups.setdefault(run["latent_dim"], []).append(run)
    return dict(sorted(groups.items()))


def roc_pr_figures(groups, out_dir, figures):
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 4.6))
    colors = plt.cm.viridis([i / max(1, len(groups) - 1) * 0.9 for i in range(len(groups))])
    anomaly_share = None
    for color, (latent, runs) in zip(colors, groups.items()):
        first = runs[0]
        roc_mean, roc_sd = mean_std([r["roc_auc"] for r in runs])
        pr_mean, pr_sd = mean_std([r["pr_auc"] for r in runs])
        roc_ax.plot(first["roc_curve"]["fpr"], first["roc_curve"]["tpr"], color=color,
                    label=f"L = {latent}: AUC {first['roc_auc']:.3f} (mean {roc_mean:.3f} ± {roc_sd:.3f})")
        pr_ax.plot(first["pr_curve"]["recall"], first["pr_curve"]["precision"], color=color,
                   drawstyle="steps-post",
                   label=f"L = {latent}: AP {first['pr_auc']:.3f} (mean {pr_mean:.3f} ± {pr_sd:.3f})")
        c = first["confusion"]
        anomaly_share = (c["true_positives"] + c["false_negatives"]) / sum(c.values())
    seed = groups[next(iter(groups))][0]["seed"]
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    roc_ax.set(xlabel="false-positive rate (share of normal test rows flagged)",
               ylabel="true-positive rate (share of anomalies flagged)",
               title=f"ROC curves, seed {seed}", xlim=(0, 1), ylim=(0, 1.01))
    pr_ax.axhline(anomaly_share, color="grey", linestyle=":", label=f"chance ({anomaly_share:.2f})")
    pr_ax.set(xlabel="recall (share of anomalies flagged)",
              ylabel="precision (share of flagged rows that are anomalies)",
              title=f"Precision-recall curves, seed {seed}", xlim=(0, 1), ylim=(0, 1.01))
    for ax in (roc_ax, pr_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if ax is roc_ax else "lower left")
    save(fig, out_dir, "roc_pr_curves.png", figures,
         "ROC and precision-recall curves of the test rows per latent size (first seed); the legend "
         "gives that seed's area and the mean ± std over seeds.")


def histogram_figure(groups, out_dir, figures):
    n = len(groups)
    columns = min(n, 2)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 3.8 * rows), squeeze=False)
    for ax, (latent, runs) in zip(axes.flat, groups.items()):
        first = runs[0]
        h = first["score_histogram"]
        edges = h["edges"]
        for kind in ("normal", "mean_shift", "correlation_break", "variance_explosion", "anomaly"):
            counts = h.get(kind)
            if not counts or sum(counts) == 0:
                continue
            total = sum(counts)
            ax.stairs([c / total for c in counts], edges, color=KIND_COLORS[kind],
                      linewidth=1.6, label=f"{KIND_LABELS[kind]} ({total})")
        ax.set_xscale("log")
        ax.axvline(first["threshold"], color="black", linestyle="--", linewidth=1.2)
        ax.text(first["threshold"], ax.get_ylim()[1] * 0.97,
                f"  threshold {first['threshold']:.3g}\n  precision {first['precision']:.2f}\n"
                f"  recall {first['recall']:.2f}", va="top", fontsize=8)
        ax.set(xlabel="score: mean squared reconstruction error (log scale)",
               ylabel="share of the group's rows per bin", title=f"Test scores, L = {latent}")
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3, which="both")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    save(fig, out_dir, "score_histograms.png", figures,
         "Where the threshold cuts: test-score distributions of normal rows and of each anomaly "
         "kind (first seed), each normalized to its own size; the dashed line is the threshold.")


def training_figure(groups, out_dir, figures):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.cm.viridis([i / max(1, len(groups) - 1) * 0.9 for i in range(len(groups))])
    weight_ax = axes[1].twinx()
    for color, (latent, runs) in zip(colors, groups.items()):
        epochs = [e["epoch"] for e in runs[0]["epochs"]]
        recon = [statistics.fmean(r["epochs"][i]["reconstruction"] for r in runs)
                 for i in range(len(epochs))]
        kl = [statistics.fmean(r["epochs"][i]["kl"] for r in runs) for i in range(len(epochs))]
        axes[0].plot(epochs, recon, color=color, label=f"L = {latent}")
        axes[1].plot(epochs, kl, color=color, label=f"L = {latent}")
        weights = [e["kl_weight"] for e in runs[0]["epochs"]]
    weight_ax.plot(epochs, weights, color="grey", linestyle="--", label="KL weight")
    weight_ax.set_ylabel("KL weight beta_t (dashed)")
    axes[0].set(xlabel="epoch", ylabel="reconstruction: sum of squared errors per row",
                title="Reconstruction term (mean over seeds)", yscale="log")
    axes[1].set(xlabel="epoch", ylabel="KL divergence per row (nats)",
                title="KL term and its warm-up weight (mean over seeds)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, out_dir, "training_curves.png", figures,
         "Did training converge? Per-epoch means of the reconstruction and KL terms, and the KL "
         "weight rising over the warm-up.")


def latent_study_figure(groups, out_dir, figures):
    latents = list(groups)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label, color in (("roc_auc", "ROC-AUC", "#4c72b0"), ("pr_auc", "PR-AUC", "#55a868")):
        stats = [mean_std([r[key] for r in groups[l]]) for l in latents]
        left.errorbar(latents, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o",
                      capsize=4, color=color, label=label)
    for kind in ("mean_shift", "correlation_break", "variance_explosion"):
        stats = [mean_std([r["per_kind_roc_auc"][kind] for r in groups[l]]) for l in latents]
        right.errorbar(latents, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o",
                       capsize=4, color=KIND_COLORS[kind], label=KIND_LABELS[kind])
    seeds = len(next(iter(groups.values())))
    for ax, title in ((left, "Detection against latent size"),
                      (right, "ROC-AUC against each kind")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(latents, [str(l) for l in latents])
        ax.set(xlabel="latent size L (log scale)", ylabel="area under the curve",
               title=f"{title} (mean ± std, {seeds} seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, out_dir, "latent_study.png", figures,
         "The latent-size study: mean and spread over seeds of ROC-AUC and PR-AUC, and of the "
         "ROC-AUC against each anomaly kind.")


def heatmap_figure(grid, out_dir, figures):
    latents, betas = grid["latent_dims"], grid["betas"]
    values = grid["roc_auc_mean"]
    spread = grid.get("roc_auc_std")
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(betas), 1.2 + 0.7 * len(latents)))
    image = ax.imshow(values, cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(betas)), [str(b) for b in betas])
    ax.set_yticks(range(len(latents)), [str(l) for l in latents])
    best = max(((i, j) for i in range(len(latents)) for j in range(len(betas))),
               key=lambda ij: values[ij[0]][ij[1]])
    for i in range(len(latents)):
        for j in range(len(betas)):
            text = f"{values[i][j]:.3f}" + (f"\n± {spread[i][j]:.3f}" if spread else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="black" if values[i][j] > 0.5 * (min(map(min, values)) + max(map(max, values))) else "white",
                    fontweight="bold" if (i, j) == best else "normal")
    ax.set(xlabel="beta (KL weight)", ylabel="latent size L", title="Mean ROC-AUC over seeds")
    fig.colorbar(image, ax=ax, label="ROC-AUC")
    save(fig, out_dir, "sweep_heatmap.png", figures,
         "The sweep: mean ROC-AUC for each latent size and beta (best in bold).")


def experiment_summary(groups):
    rows = []
    for latent, runs in groups.items():
        cells = [str(latent)]
        for key in ("roc_auc", "pr_auc", "precision", "recall"):
            m, s = mean_std([r[key] for r in runs])
            cells.append(f"{m:.3f} ± {s:.3f}")
        for kind in ("mean_shift", "correlation_break", "variance_explosion"):
            m, s = mean_std([r["per_kind_roc_auc"][kind] for r in runs])
            cells.append(f"{m:.3f} ± {s:.3f}")
        rows.append(cells)
    header = ["latent", "ROC-AUC", "PR-AUC", "precision", "recall", "mean shift",
              "correlation break", "variance explosion"]
    return header, rows


# ---- evaluation --------------------------------------------------------------------------------

def evaluation_figures(result, out_dir, figures):
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(11, 4.6))
    roc_ax.plot(result["roc_curve"]["fpr"], result["roc_curve"]["tpr"],
                label=f"ROC-AUC {result['roc_auc']:.3f}")
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    roc_ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC curve")
    share = result["anomalies"] / result["rows"]
    pr_ax.plot(result["pr_curve"]["recall"], result["pr_curve"]["precision"],
               drawstyle="steps-post", label=f"average precision {result['pr_auc']:.3f}")
    pr_ax.axhline(share, color="grey", linestyle=":", label=f"chance ({share:.3f})")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve")
    for ax in (roc_ax, pr_ax):
        ax.set(xlim=(0, 1), ylim=(0, 1.01))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    save(fig, out_dir, "roc_pr_curves.png", figures, "ROC and precision-recall curves.")

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    h = result["score_histogram"]
    for kind in ("normal", "anomaly"):
        counts = h[kind]
        total = sum(counts)
        if total:
            ax.stairs([c / total for c in counts], h["edges"], color=KIND_COLORS[kind],
                      linewidth=1.6, label=f"{KIND_LABELS[kind]} ({total})")
    threshold = result["threshold"]["value"]
    ax.axvline(threshold, color="black", linestyle="--")
    ax.text(threshold, ax.get_ylim()[1] * 0.97, f"  threshold {threshold:.3g}\n"
            f"  precision {result['precision']:.2f}\n  recall {result['recall']:.2f}",
            va="top", fontsize=8)
    ax.set_xscale("log")
    ax.set(xlabel="score: mean squared reconstruction error (log scale)",
           ylabel="share of the group's rows per bin", title="Scores by label")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    save(fig, out_dir, "score_histograms.png", figures,
         "Score distributions of normal and anomalous rows; the dashed line is the threshold.")

    top = result.get("top_rows") or []
    names = result.get("feature_names") or []
    if top and names:
        shown = top[:6]
        fig, axes = plt.subplots(len(shown), 1, figsize=(8, 1.7 * len(shown)), squeeze=False)
        for ax, row in zip(axes.flat, shown):
            errors = row["feature_errors"]
            order = sorted(range(len(errors)), key=lambda j: errors[j], reverse=True)[:8]
            ax.barh([names[j] for j in reversed(order)], [errors[j] for j in reversed(order)],
                    color=KIND_COLORS["anomaly" if row["anomaly"] else "normal"])
            ax.set_title(f"row {row['row']}: score {row['score']:.3g} "
                         f"({'labelled anomaly' if row['anomaly'] else 'labelled normal'})",
                         fontsize=9)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3, axis="x")
        axes.flat[-1].set_xlabel("squared reconstruction error of the feature (standardized units)")
        save(fig, out_dir, "top_anomalies.png", figures,
             "The most anomalous rows and the features that make them so (largest errors first).")


# ---- the page ----------------------------------------------------------------------------------

def write_html(out_dir, title, subtitle, table, figures):
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:1180px;margin:2em auto;"
             "color:#222}table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 10px;"
             "border-bottom:1px solid #ddd;text-align:right}th{background:#f4f4f4}"
             "figure{margin:2em 0}img{max-width:100%}figcaption{color:#555}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>"]
    if table:
        header, rows = table
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    for name, caption in figures:
        with open(os.path.join(out_dir, name), "rb") as f:
            data = base64.b64encode(f.read()).decode()
        parts.append(f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    with open(os.path.join(out_dir, "report.html"), "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", help="JSON written by vaead experiment / evaluate / sweep")
    parser.add_argument("--out", required=True, help="directory for the PNGs and report.html")
    parser.add_argument("--dpi", type=int, default=110, help="resolution of the PNGs")
    args = parser.parse_args()
    global DPI
    DPI = args.dpi
    try:
        with open(args.result, encoding="utf-8") as f:
            result = json.load(f)
    except (OSError, ValueError) as error:
        print(f"vaead report: cannot read {args.result}: {error}", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    figures = []
    kind = result.get("kind", "experiment")
    if kind == "evaluation":
        evaluation_figures(result, args.out, figures)
        title = "vaead evaluation"
        subtitle = (f"{result['model']} on {result['data']}: {result['rows']} rows, "
                    f"{result['anomalies']} anomalies; ROC-AUC {result['roc_auc']:.3f}, "
                    f"PR-AUC {result['pr_auc']:.3f}, threshold rule {result['threshold']['rule']}")
        table = None
    else:
        runs = result["runs"]
        if "grid" in result:  # a sweep: the curves of the beta with the best mean ROC-AUC
            grid = result["grid"]
            best = max(((i, j) for i in range(len(grid["latent_dims"]))
                        for j in range(len(grid["betas"]))),
                       key=lambda ij: grid["roc_auc_mean"][ij[0]][ij[1]])
            best_beta = grid["betas"][best[1]]
            runs = [r for r in runs if r.get("beta") == best_beta]
        groups = by_latent(runs)
        roc_pr_figures(groups, args.out, figures)
        histogram_figure(groups, args.out, figures)
        training_figure(groups, args.out, figures)
        if len(groups) > 1:
            latent_study_figure(groups, args.out, figures)
        if "grid" in result:
            heatmap_figure(result["grid"], args.out, figures)
        config = result["config"]
        title = "vaead " + kind
        beta = best_beta if "grid" in result else config["training"]["beta"]
        subtitle = (f"{len(result['runs'])} runs on the {config['device']} engine; "
                    f"{config['training']['epochs']} epochs, batch {config['training']['batch_size']}, "
                    f"beta {beta}{' (the best of the sweep)' if 'grid' in result else ''}; "
                    f"threshold {config['threshold']['rule']}. Values are mean ± std over seeds.")
        table = experiment_summary(groups)
    write_html(args.out, title, subtitle, table, figures)
    for name, _ in figures:
        print(os.path.join(args.out, name))
    print(os.path.join(args.out, "report.html"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
