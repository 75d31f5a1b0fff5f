"""vaead.pyod.VAEAD through PyOD's own tools: its data generator, evaluation helpers, score
combination, LSCP and the conventions of its BaseDetector."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

import vaead
from vaead.pyod import VAEAD, PyODConventions

pyod = pytest.importorskip("pyod")
from pyod.models.base import BaseDetector  # noqa: E402
from pyod.models.knn import KNN  # noqa: E402
from pyod.utils.data import evaluate_print, generate_data  # noqa: E402
from pyod.utils.utility import precision_n_scores, standardizer  # noqa: E402


@pytest.fixture(scope="module")
def data():
    # PyOD's generator: 10% outliers in training and test rows alike, as PyOD's examples.
    return generate_data(n_train=600, n_test=400, n_features=8, contamination=0.1, random_state=7)


@pytest.fixture(scope="module")
def detector(data):
    X_train, _, _, _ = data
    return VAEAD(contamination=0.1, epochs=30, random_state=1).fit(X_train)


def test_it_is_a_pyod_detector_with_pyods_attributes(detector, data):
    X_train, X_test, y_train, y_test = data
    assert isinstance(detector, BaseDetector)
    # decision_scores_ are the training rows' scores; threshold_ and labels_ follow contamination.
    assert np.array_equal(detector.decision_scores_, detector.decision_function(X_train))
    assert detector.decision_scores_.dtype == np.float64
    assert detector.threshold_ == np.percentile(detector.decision_scores_, 90)
    assert np.array_equal(detector.labels_, (detector.decision_scores_ > detector.threshold_).astype(int))
    assert detector.labels_.sum() == 60
    assert np.array_equal(detector.predict(X_train), detector.labels_)
    # The same training as VAEDetector's: the same scores.
    same = vaead.VAEDetector(epochs=30, random_state=1).fit(X_train)
    assert np.array_equal(detector.decision_function(X_test), same.decision_function(X_test))
    assert roc_auc_score(y_test, detector.decision_function(X_test)) > 0.95


def test_pyods_evaluation_helpers_take_its_scores(detector, data, capsys):
    _, X_test, _, y_test = data
    scores = detector.decision_function(X_test)
    evaluate_print("VAEAD", y_test, scores)
    assert capsys.readouterr().out.startswith("VAEAD ROC:")
    assert precision_n_scores(y_test, scores) > 0.6


def test_predict_proba_and_confidence_are_pyods(detector, data):
    _, X_test, _, _ = data
    flags, confidence = detector.predict(X_test, return_confidence=True)
    assert set(np.unique(flags)) <= {0, 1} and ((0 <= confidence) & (confidence <= 1)).all()
    for method in ("linear", "unify"):
        probabilities = detector.predict_proba(X_test, method=method)
        assert probabilities.shape == (len(X_test), 2)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    # Without PyOD, VAEAD derives from PyODConventions: the same numbers as PyOD's methods.
    assert np.array_equal(PyODConventions.predict(detector, X_test), detector.predict(X_test))
    for method in ("linear", "unify"):
        assert np.array_equal(
            PyODConventions.predict_proba(detector, X_test, method=method),
            detector.predict_proba(X_test, method=method),
        )
    assert np.array_equal(PyODConventions.predict_confidence(detector, X_test), detector.predict_confidence(X_test))


def test_pyods_combination_functions_and_lscp_take_it_beside_knn(detector, data):
    from pyod.models.combination import average, maximization
    from pyod.models.lscp import LSCP

    X_train, X_test, _, y_test = data
    knn = KNN().fit(X_train)
    train, test = standardizer(
        np.column_stack([detector.decision_scores_, knn.decision_scores_]),
        np.column_stack([detector.decision_function(X_test), knn.decision_function(X_test)]),
    )
    assert test.shape == (len(X_test), 2)
    for combine in (average, maximization):
        assert roc_auc_score(y_test, combine(test)) > 0.9
    lscp = LSCP([VAEAD(epochs=10), KNN(), KNN(n_neighbors=15)], random_state=0).fit(X_train)
    assert roc_auc_score(y_test, lscp.decision_function(X_test)) > 0.9


def test_clone_pickle_and_vaeads_own_methods(detector, data, tmp_path):
    X_train, X_test, _, _ = data
    copy = clone(detector)
    assert copy.get_params() == detector.get_params() and not hasattr(copy, "labels_")
    restored = pickle.loads(pickle.dumps(detector))
    assert np.array_equal(restored.decision_function(X_test), detector.decision_function(X_test))
    assert detector.feature_errors(X_test).shape == X_test.shape
    detector.save(tmp_path / "model.safetensors")
    loaded = vaead.load(tmp_path / "model.safetensors")
    assert np.array_equal(loaded.decision_function(X_test), detector.decision_function(X_test))
    assert detector.to_onnx() == loaded.to_onnx()


def test_contamination_is_checked_as_pyod_does():
    for bad in (0.0, 0.6, -1):
        with pytest.raises(ValueError, match="contamination"):
            VAEAD(contamination=bad)


def test_without_pyod_the_conventions_are_vaeads_own(detector, data, tmp_path):
    # A fresh interpreter where `import pyod` fails: VAEAD still fits, with the same numbers.
    X_train, X_test, _, _ = data
    code = (
        "import sys, numpy as np; sys.modules['pyod'] = None\n"
        "from vaead.pyod import VAEAD, HAS_PYOD, PyODConventions\n"
        "assert not HAS_PYOD and VAEAD.__mro__[1] is PyODConventions\n"
        "X_train, X_test = np.load(sys.argv[1]), np.load(sys.argv[2])\n"
        "d = VAEAD(contamination=0.1, epochs=30, random_state=1).fit(X_train)\n"
        "np.save(sys.argv[3], np.column_stack([d.predict(X_test), d.predict_proba(X_test)[:, 1],"
        " d.predict_confidence(X_test), d.decision_function(X_test)]))\n"
    )
    np.save(tmp_path / "train.npy", X_train)
    np.save(tmp_path / "test.npy", X_test)
    files = [tmp_path / name for name in ("train.npy", "test.npy", "out.npy")]
    subprocess.run([sys.executable, "-c", code, *files], check=True)
    theirs = np.load(tmp_path / "out.npy")
    ours = np.column_stack(
        [
            detector.predict(X_test),
            detector.predict_proba(X_test)[:, 1],
            detector.predict_confidence(X_test),
            detector.decision_function(X_test),
        ]
    )
    assert np.array_equal(theirs, ours)
