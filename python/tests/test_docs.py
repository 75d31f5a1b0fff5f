"""Every Python example of README.md and docs/ runs as printed.

A document's blocks run in order as one program (a later block may use what an earlier one made),
all documents in one working directory, README first (its example saves model.safetensors, which
the user guide's PyTorch example loads). A block that imports a package vaead does not need
(torch, safetensors, pyod, onnxruntime) runs where that package is installed and is reported as
skipped where it is not; CI's virtual environment has pyod and onnxruntime (the test extras), not
torch or safetensors; this project's development machine has all.
"""
import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", "docs/user-guide.md", "docs/python.md", "docs/sweeps.md",
             "docs/benchmarks.md", "docs/design.md", "docs/testing.md"]


def blocks(document):
    return re.findall(r"```python\n(.*?)```", (ROOT / document).read_text(), re.S)


# Modules whose own imports need more than their package: PyOD's deep detectors need torch.
NEEDS = {"pyod.models.vae": ["torch"], "pyod.models.auto_encoder": ["torch"]}


def missing_imports(code):
    modules = re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][\w.]*)", code, re.M)
    needed = {m.split(".")[0] for m in modules} | {n for m in modules for n in NEEDS.get(m, [])}
    return sorted({m for m in needed if importlib.util.find_spec(m) is None})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("docs")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_examples_run(document, workdir):
    program, skipped = "", []
    for code in blocks(document):
        missing = missing_imports(code)
        if missing:
            skipped.append(f"a block needing {', '.join(missing)}")
            continue
        program += code + "\n"
    if program:
        result = subprocess.run([sys.executable, "-c", program], cwd=workdir, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, result.stderr
    if document == "README.md":
        roc_auc, caught = map(float, result.stdout.split()[:2])
        assert roc_auc > 0.95 and caught > 0.5, result.stdout
        assert (workdir / "model.safetensors").stat().st_size > 0
    if skipped:
        pytest.skip(f"{document}: not run here: {'; '.join(skipped)}")


def test_the_readme_shows_the_estimator():
    # The README's first example is the estimator, so that a change to it is seen here.
    assert "VAEDetector().fit(X_train)" in blocks("README.md")[0]


def test_the_public_api_has_numpydoc_docstrings():
    # Each public callable says what it takes and gives in numpydoc's sections (docs/python.md
    # sends readers to them).
    import inspect

    import vaead
    from vaead import metrics

    public = [vaead.VAEDetector, vaead.load, vaead.sweep, metrics.roc_auc,
              metrics.average_precision, metrics.confusion, metrics.precision_recall_f1]
    public += [getattr(vaead.VAEDetector, name) for name in
               ("fit", "decision_function", "score_samples", "predict", "feature_errors", "save",
                "to_onnx")]
    from vaead.pyod import VAEAD

    public += [VAEAD] + [getattr(VAEAD, name) for name in
                         ("fit", "decision_function", "feature_errors", "save", "to_onnx")]
    for item in public:
        doc = inspect.getdoc(item) or ""
        assert "\nParameters\n----------\n" in doc or "\nReturns\n-------\n" in doc, item
