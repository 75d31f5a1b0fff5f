"""Runs the report tool on every committed sample result and checks that it writes every figure
and one HTML page that embeds them all. Exit 77 (skipped) without matplotlib."""
import os
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    import matplotlib  # noqa: F401
except ImportError:
    print("matplotlib is not installed: pip install matplotlib")
    sys.exit(77)

EXPECTED = {
    "sample_experiment.json": ["roc_pr_curves.png", "score_histograms.png", "training_curves.png",
                               "latent_study.png"],
    "sample_sweep.json": ["roc_pr_curves.png", "score_histograms.png", "training_curves.png",
                          "latent_study.png", "sweep_heatmap.png"],
    "sample_evaluation.json": ["roc_pr_curves.png", "score_histograms.png", "top_anomalies.png"],
}
failures = []
for sample, figures in EXPECTED.items():
    with tempfile.TemporaryDirectory() as out:
        run = subprocess.run([sys.executable, os.path.join(root, "scripts", "vaead_report.py"),
                              os.path.join(root, "tests", "data", sample), "--out", out],
                             capture_output=True, text=True)
        if run.returncode != 0:
            failures.append(f"{sample}: exit {run.returncode}: {run.stderr.strip()}")
            continue
        written = sorted(f for f in os.listdir(out) if f.endswith(".png"))
        if written != sorted(figures):
            failures.append(f"{sample}: wrote {written}, expected {sorted(figures)}")
        for name in figures:
            path = os.path.join(out, name)
            if os.path.exists(path) and os.path.getsize(path) < 10_000:
                failures.append(f"{sample}: {name} is suspiciously small")
        page = open(os.path.join(out, "report.html"), encoding="utf-8").read()
        if page.count("data:image/png;base64,") != len(figures):
            failures.append(f"{sample}: report.html does not embed every figure")
print("\n".join(failures) if failures else f"{len(EXPECTED)} reports, every figure written")
sys.exit(1 if failures else 0)
