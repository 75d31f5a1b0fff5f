"""Shared by the package's tests: the vaead command they compare with, and small tables."""
import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli():
    """The vaead command: $VAEAD_CLI, else build-test/vaead or build/vaead. Its absence fails the
    tests that compare with it (scripts/test.sh python builds it)."""
    candidates = [os.environ.get("VAEAD_CLI", ""), ROOT / "build-test" / "vaead", ROOT / "build" / "vaead"]
    for candidate in candidates:
        if candidate and pathlib.Path(candidate).is_file():
            return str(candidate)
    pytest.fail("no vaead command: set VAEAD_CLI or build build-test/ (bash scripts/test.sh ordinary)")


def run_cli(cli, *args, check=True):
    result = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"vaead {' '.join(map(str, args))} failed: {result.stderr}")
    return result


def cli_error(cli, *args):
    """The message `vaead` prints for a refused input (without 'vaead: error: ')."""
    result = run_cli(cli, *args, check=False)
    assert result.returncode == 1, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("vaead: error: "), line
    return line[len("vaead: error: "):]


def correlated(rows, features=6, seed=0, anomalies=0):
    """Rows whose features are noisy copies of two factors; the first `anomalies` rows break the
    pattern (a feature shifted by 4)."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(rows, 2))
    mixing = np.random.default_rng(99).normal(size=(2, features))
    x = factors @ mixing + 0.1 * rng.normal(size=(rows, features))
    x[:anomalies, 1] += 4.0
    return x


@pytest.fixture(scope="session")
def normal_rows():
    return correlated(1200, seed=1)


@pytest.fixture(scope="session")
def test_rows():
    x = correlated(400, seed=2, anomalies=40)
    y = np.r_[np.ones(40), np.zeros(360)].astype(np.int64)
    return x, y
