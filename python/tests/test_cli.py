"""The package and the vaead command are one program: the same model file from the same rows and
options, the same scores from either side's model, the same messages for the same bad input."""
import csv
import json

import numpy as np
import pandas as pd
import pytest

import vaead
from conftest import cli_error, run_cli


def read_scores(path):
    """`vaead score --out` as float32 arrays (the CLI writes each float's shortest form)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    table = {name: [row[i] for row in body] for i, name in enumerate(header)}
    scores = np.array(table["score"], dtype=np.float32)
    flagged = np.array(table["is_anomaly"], dtype=np.int64)
    errors = np.array([table[n] for n in header if n.startswith("error_")], dtype=np.float32).T
    return scores, flagged, errors


@pytest.fixture(scope="module")
def files(tmp_path_factory, normal_rows, test_rows):
    directory = tmp_path_factory.mktemp("cli")
    train = directory / "train.npy"
    test = directory / "test.npy"
    np.save(train, normal_rows)
    np.save(test, test_rows[0])
    return directory, train, test


def test_python_and_cli_train_the_same_model_file_byte_for_byte(cli, files, normal_rows):
    directory, train, _ = files
    options = dict(epochs=5, members=2, latent=4, random_state=7, threshold="mean-std:3")
    vaead.VAEDetector(device="cpu", threads=1, **options).fit(normal_rows).save(directory / "py.safetensors")
    run_cli(cli, "train", "--data", train, "--out", directory / "cli.safetensors", "--epochs", 5,
            "--members", 2, "--latent", 4, "--seed", 7, "--threshold", "mean-std:3",
            "--device", "cpu", "--threads", 2)
    assert (directory / "py.safetensors").read_bytes() == (directory / "cli.safetensors").read_bytes()


def test_a_python_model_scores_the_same_with_the_cli_and_back(cli, files, normal_rows, test_rows):
    directory, train, test = files
    x, _ = test_rows
    # Python -> CLI
    detector = vaead.VAEDetector(epochs=5, members=3, device="cpu").fit(normal_rows)
    detector.save(directory / "from_python.safetensors")
    run_cli(cli, "score", "--model", directory / "from_python.safetensors", "--data", test,
            "--out", directory / "scores.csv", "--per-feature", "--device", "cpu")
    scores, flagged, errors = read_scores(directory / "scores.csv")
    assert np.array_equal(scores, detector.decision_function(x))
    assert np.array_equal(flagged, detector.predict(x))
    assert np.array_equal(errors, detector.feature_errors(x))
    # CLI -> Python
    run_cli(cli, "train", "--data", train, "--out", directory / "from_cli.safetensors",
            "--epochs", 5, "--device", "cpu")
    run_cli(cli, "score", "--model", directory / "from_cli.safetensors", "--data", test,
            "--out", directory / "cli_scores.csv", "--device", "cpu")
    loaded = vaead.load(directory / "from_cli.safetensors", device="cpu")
    scores, flagged, _ = read_scores(directory / "cli_scores.csv")
    assert np.array_equal(scores, loaded.decision_function(x))
    assert np.array_equal(flagged, loaded.predict(x))
    assert loaded.threshold_ == vaead.load(directory / "from_cli.safetensors").model_.threshold
    assert loaded.get_params()["members"] == 4 and loaded.get_params()["beta"] == (1.0, 0.1)
    # a loaded model saves the file it was read from
    loaded.save(directory / "again.safetensors")
    assert (directory / "again.safetensors").read_bytes() == (directory / "from_cli.safetensors").read_bytes()


def after_source(message):
    """A message without the name of its source (the CLI names the file, Python 'X')."""
    return message.split(": ", 1)[1]


def test_bad_input_gives_the_clis_message(cli, tmp_path, normal_rows):
    bad = normal_rows[:100].copy()
    bad[4, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    expected = cli_error(cli, "train", "--data", tmp_path / "nan.npy", "--out", tmp_path / "m.safetensors")
    with pytest.raises(ValueError) as error:
        vaead.VAEDetector().fit(bad)
    assert str(error.value) == "X: " + after_source(expected)
    assert "row 4 (from 0), column 'x2': the value is not finite (NaN)" in expected

    np.save(tmp_path / "flat.npy", normal_rows[:, 0])
    expected = cli_error(cli, "train", "--data", tmp_path / "flat.npy", "--out", tmp_path / "m.safetensors")
    with pytest.raises(ValueError) as error:
        vaead.VAEDetector().fit(normal_rows[:, 0])
    assert after_source(str(error.value)) == after_source(expected)

    # a feature the model does not know: a DataFrame's columns are matched by name, as a CSV's
    names = [f"f{i}" for i in range(normal_rows.shape[1])]
    detector = vaead.VAEDetector(epochs=2, members=1).fit(pd.DataFrame(normal_rows, columns=names))
    detector.save(tmp_path / "named.safetensors")
    renamed = pd.DataFrame(normal_rows[:50], columns=names[:-1] + ["other"])
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    expected = cli_error(cli, "score", "--model", tmp_path / "named.safetensors", "--data", tmp_path / "renamed.csv")
    with pytest.raises(ValueError) as error:
        detector.decision_function(renamed)
    assert after_source(str(error.value)) == after_source(expected)

    # a column that is not numeric: the cell named as the CSV reader names it
    frame = pd.DataFrame(normal_rows[:50], columns=names)
    frame["f1"] = frame["f1"].astype(object)
    frame.loc[3, "f1"] = "broken"
    frame.to_csv(tmp_path / "text.csv", index=False)
    expected = cli_error(cli, "train", "--data", tmp_path / "text.csv", "--out", tmp_path / "m.safetensors")
    with pytest.raises(ValueError) as error:
        vaead.VAEDetector().fit(frame)
    assert str(error.value) == "X: row 3 (from 0), column 'f1': 'broken' is not a number"
    assert expected.endswith("column 'f1': 'broken' is not a number")


def test_the_sweep_function_gives_the_clis_sweep(cli, tmp_path, test_rows, normal_rows):
    x = np.concatenate([test_rows[0][:40], normal_rows]).astype(np.float32)
    y = np.r_[np.ones(40), np.zeros(len(normal_rows))].astype(np.int64)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    frame["label"] = y
    frame.to_csv(tmp_path / "table.csv", index=False)  # float32's shortest forms: the same floats
    run_cli(cli, "sweep", "--data", tmp_path / "table.csv", "--label-column", "label", "--latents", "2,4",
            "--betas", "1,0.1", "--seeds", 2, "--epochs", 3, "--device", "cpu", "--json", tmp_path / "sweep.json")
    cells, runs = vaead.sweep(x, y, latents=(2, 4), betas=(1, 0.1), seeds=2, epochs=3, device="cpu",
                              return_runs=True)
    expected = json.loads((tmp_path / "sweep.json").read_text())
    assert len(runs) == len(expected["runs"]) == 8
    for run, want in zip(runs, expected["runs"]):
        assert (run["latent"], run["beta"], run["seed"]) == (want["latent_dim"], want["beta"], want["seed"])
        for metric in ("roc_auc", "pr_auc", "validation_error", "threshold"):
            assert run[metric] == want[metric], metric
    assert len(cells) == len(expected["cells"]) == 4
    for cell, want in zip(cells, expected["cells"]):
        assert (cell["latent"], cell["beta"]) == (want["latent_dim"], want["beta"])
        assert cell["roc_auc"] == want["roc_auc"]["mean"]
    assert sum(cell["label_free_choice"] for cell in cells) == 1
    assert sum(cell["best_roc_auc"] for cell in cells) == 1


def test_metrics_are_scikit_learns(test_rows):
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(5)
    y = test_rows[1]
    scores = rng.normal(size=len(y)).astype(np.float32) + y
    scores[::7] = scores[0]  # ties
    assert vaead.metrics.roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert vaead.metrics.pr_auc(y, scores) == pytest.approx(average_precision_score(y, scores), abs=1e-12)
    counts = vaead.metrics.confusion(y, scores, 0.5)
    assert counts["true_positives"] == int(((scores > 0.5) & (y == 1)).sum())
    assert counts["false_positives"] == int(((scores > 0.5) & (y == 0)).sum())
    with pytest.raises(ValueError, match="not a label"):
        vaead.metrics.roc_auc(np.full(len(y), 2), scores)
