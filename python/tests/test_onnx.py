"""The ONNX export: the graph ONNX's checker accepts, scored by ONNX Runtime as vaead scores."""
import json

import numpy as np
import pytest

import vaead
from conftest import correlated, run_cli

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def session(model_bytes):
    onnx.checker.check_model(onnx.load_from_string(model_bytes), full_check=True)
    return ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])


def onnx_scores(detector, X):
    score, feature_errors = session(detector.to_onnx()).run(None, {"X": np.asarray(X, np.float32)})
    return score, feature_errors


@pytest.fixture(scope="module", params=[1, 3], ids=["one model", "ensemble of 3"])
def fitted(request):
    return vaead.VAEDetector(members=request.param, epochs=20, random_state=5).fit(correlated(1200, seed=1))


def test_onnx_runtime_scores_as_vaead(fitted):
    # Each matrix product sums in ONNX Runtime's order, not vaead's: within 1e-5 relative (the
    # largest measured here is 5.5e-6, on the rows reconstructed best, where float32's rounding of
    # the reconstruction weighs most; vaead's own score differs from the same network evaluated
    # in double by as much, and its GPU engine from its CPU engine too: docs/python.md, ONNX).
    X = correlated(2000, seed=2, anomalies=100)
    score, feature_errors = onnx_scores(fitted, X)
    assert score.dtype == np.float32 and score.shape == (len(X),)
    np.testing.assert_allclose(score, fitted.decision_function(X), rtol=1e-5, atol=0)
    # A feature's error is a difference squared: absolute in the score's units, for small ones.
    np.testing.assert_allclose(feature_errors, fitted.feature_errors(X), rtol=1e-5, atol=1e-5)


def safetensors_with(data, tensor, metadata):
    """The model file `data` with every tensor replaced by tensor(name, array) (same shape) and
    its metadata strings by metadata(key, value)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    body = bytearray(data[8 + size :])
    meta = header.pop("__metadata__")
    for name, info in header.items():
        start, end = info["data_offsets"]
        array = np.frombuffer(body[start:end], np.float32).reshape(info["shape"])
        body[start:end] = np.ascontiguousarray(tensor(name, array), np.float32).tobytes()
    header["__metadata__"] = {key: metadata(key, value) for key, value in meta.items()}
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + bytes(body)


def exact_model(fitted, tmp_path):
    """`fitted`'s model with weights that make every sum exact in float32 (each unit reads at
    most two inputs, times +-1/2 or +-1; biases on a 1/16 grid) and an identity standardizer: any
    summation order gives the same bits, so vaead and ONNX Runtime must agree exactly."""
    rng = np.random.default_rng(11)

    def tensor(name, array):
        if name.endswith(".bias"):
            return rng.integers(-8, 8, array.shape) / 16
        out, inputs = array.shape
        weight = np.zeros(array.shape)
        for o in range(out):
            weight[o, [o % inputs, (7 * o + 3) % inputs]] = rng.choice([-1, -0.5, 0.5, 1], 2)
        return weight

    def metadata(key, value):
        if key != "standardizer":
            return value
        d = len(json.loads(value)["mean"])
        return json.dumps({"constant_columns": [], "mean": [0.0] * d, "scale": [1.0] * d})

    path = tmp_path / "exact.safetensors"
    path.write_bytes(safetensors_with(fitted.model_.to_bytes(), tensor, metadata))
    return vaead.load(path)


def test_where_the_arithmetic_is_exact_onnx_runtime_gives_vaeads_bits(fitted, tmp_path):
    # The standardizer, the error sums and the ensemble's mean are the same operations in the
    # same precision as vaead's; with exact products, the scores are the same bits.
    detector = exact_model(fitted, tmp_path)
    X = np.random.default_rng(3).integers(-32, 32, (500, fitted.n_features_in_)) / 16
    score, feature_errors = onnx_scores(detector, X)
    assert np.array_equal(score, detector.decision_function(X))
    assert np.array_equal(feature_errors, detector.feature_errors(X))


def test_the_graph_says_what_it_reads_and_the_cli_writes_the_same_bytes(cli, tmp_path, fitted):
    fitted.save(tmp_path / "model.safetensors")
    run_cli(cli, "export", "--model", tmp_path / "model.safetensors", "--onnx", tmp_path / "cli.onnx")
    written = fitted.to_onnx(tmp_path / "python.onnx")
    assert (tmp_path / "cli.onnx").read_bytes() == written == (tmp_path / "python.onnx").read_bytes()
    model = onnx.load_from_string(written)
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["feature_names"]) == [f"x{i}" for i in range(fitted.n_features_in_)]
    assert float(meta["threshold"]) == fitted.threshold_
    assert meta["threshold_rule"] == "iqr:1.5" and meta["vaead_version"] == vaead.__version__
    assert [o.version for o in model.opset_import] == [17]
    assert [i.name for i in model.graph.input] == ["X"]
    assert [o.name for o in model.graph.output] == ["score", "feature_errors"]


def test_a_dataframes_columns_are_the_graphs_feature_order(tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(correlated(600, seed=4), columns=list("fedcba"))
    detector = vaead.VAEDetector(epochs=5, members=1).fit(X)
    meta = {p.key: p.value for p in onnx.load_from_string(detector.to_onnx()).metadata_props}
    assert json.loads(meta["feature_names"]) == list("fedcba")
    shuffled = X[list("abcdef")]  # vaead matches a frame's columns by name; ONNX reads positions
    score, _ = onnx_scores(detector, shuffled[json.loads(meta["feature_names"])])
    np.testing.assert_allclose(score, detector.decision_function(shuffled), rtol=1e-6, atol=1e-6)


def test_a_failed_write_names_the_path_and_leaves_no_file(fitted, tmp_path):
    target = tmp_path / "missing" / "model.onnx"
    with pytest.raises(ValueError, match="missing"):
        fitted.to_onnx(target)
    assert not target.parent.exists()


def test_an_unfitted_detector_has_no_graph():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        vaead.VAEDetector().to_onnx()
