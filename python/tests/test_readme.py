"""The README's Python example runs as printed and detects its anomalies."""
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_runs(tmp_path):
    section = README.read_text().split("## Python: `pip install .`", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "VAEDetector().fit(X_train)" in example
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    roc_auc, caught = map(float, result.stdout.split())
    assert roc_auc > 0.95 and caught > 0.5, result.stdout
    assert (tmp_path / "model.safetensors").stat().st_size > 0
