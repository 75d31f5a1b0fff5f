"""VAEDetector as scikit-learn sees it: the estimator checks, clone, Pipeline, GridSearchCV,
pandas input, pickling, and the fitted attributes."""
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import vaead

FAST = dict(epochs=4, members=1, device="cpu", threads=2)

# The checks that do not apply, and why.
NOT_APPLICABLE = {
    "check_outliers_fit_predict": "predict gives 1 for an anomaly and 0 for a normal row (PyOD's "
    "convention), not scikit-learn's -1 / 1",
    "check_outliers_train": "the same: 0 / 1 labels, not -1 / 1",
    "check_fit2d_1sample": "the message is the library's ('X: 1 normal row; training needs 3 "
    "...'), the one the CLI prints, not scikit-learn's wording",
    "check_fit2d_predict1d": "the message is the .npy reader's ('needs a 2-D array (rows, "
    "features), got 1 dimension(s)'), not 'Reshape your data'",
    "check_estimators_empty_data_messages": "the message is the .npy reader's ('the array is "
    "empty (shape (12, 0))')",
    "check_complex_data": "complex arrays are refused with the library's 'unsupported dtype' "
    "message, not scikit-learn's wording",
}


@parametrize_with_checks(
    [vaead.VAEDetector(epochs=2, members=1, device="cpu")],
    expected_failed_checks=lambda estimator: NOT_APPLICABLE,
)
def test_scikit_learn_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def test_defaults_are_the_clis_and_fitted_attributes_are_set(normal_rows, test_rows):
    detector = vaead.VAEDetector(epochs=4, device="cpu", threads=2).fit(normal_rows)
    assert detector.get_params()["threshold"] == "iqr:1.5"
    assert detector.members_ == 4  # the CLI's ensemble for a small table
    assert detector.n_features_in_ == normal_rows.shape[1]
    assert not hasattr(detector, "feature_names_in_")  # an array has no names
    # decision_scores_ are the held-out rows' scores, in row order; sorted, the model's own.
    assert len(detector.decision_scores_) == len(detector.holdout_indices_) == 240
    assert np.array_equal(np.sort(detector.decision_scores_), detector.model_.holdout_scores)
    assert np.array_equal(
        detector.decision_scores_, detector.decision_function(normal_rows[detector.holdout_indices_])
    )
    x, y = test_rows
    scores = detector.decision_function(x)
    assert scores.dtype == np.float32 and scores.shape == (400,)
    assert np.array_equal(detector.score_samples(x), -scores)
    assert np.array_equal(detector.predict(x), (scores > detector.threshold_).astype(int))
    assert vaead.metrics.roc_auc(y, scores) > 0.9
    errors = detector.feature_errors(x)
    assert errors.shape == (400, normal_rows.shape[1])
    # A row's score is the mean of its feature errors (an ensemble's, each over its scale).
    assert np.allclose(errors.mean(axis=1), scores, rtol=1e-5)


def test_clone_pipeline_and_grid_search(normal_rows, test_rows):
    detector = vaead.VAEDetector(latent=4, **FAST)
    copy = clone(detector)
    assert copy.get_params() == detector.get_params() and not hasattr(copy, "model_")
    x, y = test_rows
    pipeline = make_pipeline(StandardScaler(), vaead.VAEDetector(**FAST)).fit(normal_rows)
    assert pipeline.predict(x).shape == (400,)
    assert vaead.metrics.roc_auc(y, pipeline.decision_function(x)) > 0.8

    def roc_auc_on_test(estimator, X, _y=None):
        return vaead.metrics.roc_auc(y, estimator.decision_function(x))

    search = GridSearchCV(
        vaead.VAEDetector(**FAST), {"latent": [2, 4], "beta": [1.0, 0.1]}, scoring=roc_auc_on_test, cv=2
    ).fit(normal_rows)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["latent"] in (2, 4)
    # set_params changes what fit does
    detector.set_params(latent=2).fit(normal_rows)
    assert detector.model_.latent == 2


def test_a_dataframe_keeps_its_column_names_and_columns_match_by_name(normal_rows, test_rows):
    columns = [f"sensor_{i}" for i in range(normal_rows.shape[1])]
    frame = pd.DataFrame(normal_rows, columns=columns)
    detector = vaead.VAEDetector(**FAST).fit(frame)
    assert list(detector.feature_names_in_) == columns
    assert detector.model_.feature_names == columns
    x, _ = test_rows
    test_frame = pd.DataFrame(x, columns=columns, index=np.arange(1000, 1400))
    scores = detector.decision_function(test_frame)
    # the same columns in another order score the same; an array is taken by position
    assert np.array_equal(detector.decision_function(test_frame[columns[::-1]]), scores)
    assert np.array_equal(detector.decision_function(x), scores)
    errors = detector.feature_errors(test_frame)
    assert list(errors.columns) == columns and errors.index[0] == 1000
    # float32, integer and strided (a column slice, Fortran order) arrays are read in place alike
    assert np.array_equal(detector.decision_function(np.asfortranarray(x)), scores)
    wide = np.concatenate([x, x], axis=1)
    assert np.array_equal(detector.decision_function(wide[:, : x.shape[1]]), scores)
    x32 = x.astype(np.float32)
    assert np.array_equal(detector.decision_function(x32), detector.decision_function(x32.astype(np.float64)))


def test_pickling_keeps_the_model_bit_for_bit(normal_rows, test_rows):
    detector = vaead.VAEDetector(**FAST).fit(normal_rows)
    copy = pickle.loads(pickle.dumps(detector))
    x, _ = test_rows
    assert np.array_equal(copy.decision_function(x), detector.decision_function(x))
    assert copy.model_.to_bytes() == detector.model_.to_bytes()


def test_the_same_seed_gives_the_same_model_and_another_seed_another(normal_rows):
    a = vaead.VAEDetector(random_state=3, **FAST).fit(normal_rows).model_.to_bytes()
    b = vaead.VAEDetector(random_state=3, **FAST).fit(normal_rows).model_.to_bytes()
    c = vaead.VAEDetector(random_state=4, **FAST).fit(normal_rows).model_.to_bytes()
    assert a == b and a != c


def test_bad_parameters_are_refused_at_fit(normal_rows):
    for params, text in [
        (dict(threshold="median"), "median"),
        (dict(device="tpu"), "tpu"),
        (dict(epochs=0), "epochs"),
        (dict(latent=-1), "latent"),
        (dict(random_state=-5), "random_state"),
        # Every parameter that cannot be used is a ValueError naming it, never a TypeError from
        # inside or an abort: counts have the CLI's ceilings.
        (dict(threads=10**9), r"threads must be None or an integer from 0 to 1024, got 1000000000"),
        (dict(threads=10**30), r"threads must be None or an integer from 0 to 1024"),
        (dict(random_state=2**64), r"random_state must be from 0 to 2\*\*64 - 1"),
        (dict(hidden=5), r"hidden must be a sequence, got 5"),
        (dict(hidden=(64, None)), r"hidden\[1\] must be an integer from 1 to 16384, got None"),
        (dict(hidden=(10**6,)), r"hidden\[0\] must be an integer from 1 to 16384"),
        (dict(hidden=(8,) * 40), r"hidden has 40 layers; at most 32"),
        (dict(beta=[1.0, None]), r"beta\[1\] must be a number, got None"),
        (dict(beta="x"), r"beta must be a sequence, got 'x'"),
        (dict(beta=float("nan")), r"beta must be a finite number at least 0.0, got nan"),
        (dict(learning_rate=None), r"learning_rate must be a number, got None"),
        (dict(learning_rate=0), r"learning_rate must be a finite number above 0.0"),
        (dict(holdout=[0.2]), r"holdout must be a number, got \[0.2\]"),
        (dict(threshold=None), r"threshold must be a string, got None"),
        (dict(device=0), r"device must be a string, got 0"),
        (dict(epochs=10**7), r"epochs must be None or an integer from 1 to 1000000"),
        (dict(batch_size=2.5), r"batch_size must be None or an integer"),
        (dict(members=100), r"members must be None or an integer from 1 to 64"),
    ]:
        with pytest.raises(ValueError, match=text):
            vaead.VAEDetector(**{**FAST, **params}).fit(normal_rows)


def test_cells_that_are_not_numbers_are_value_errors_naming_row_and_column(normal_rows):
    import pandas as pd

    frame = pd.DataFrame(normal_rows[:50], columns=[f"f{i}" for i in range(normal_rows.shape[1])])
    holes = frame.astype(object)
    holes.at[7, "f2"] = None  # NumPy reads None as NaN, which the library refuses
    listed = frame.astype(object)
    listed.at[3, "f1"] = [1, 2]  # a list, a dict: TypeError inside NumPy before
    mapped = frame.astype(object)
    mapped.at[5, "f0"] = {"a": 1}
    dated = frame.copy()
    dated["when"] = pd.Timestamp("2026-01-01")
    for X, text in [
        (holes, r"row 7 \(from 0\), column 'f2': the value is not finite \(NaN\)"),
        (listed, r"row 3 .*column 'f1': '\[1, 2\]' is not a number \(float\(\) argument must be"),
        (mapped, r"row 5 .*column 'f0'"),
        (dated, r"column 'when' holds datetime64\[\w+\] values, not numbers"),
        (np.array([[1.0, {}], [2.0, 3.0]], dtype=object), r"row 0 .*column 'x1'"),
    ]:
        with pytest.raises(ValueError, match=text):
            vaead.VAEDetector(**FAST).fit(X)
    # A cell of another type is also the TypeError scikit-learn's checks expect.
    with pytest.raises(TypeError, match=r"row 5 .*column 'f0'"):
        vaead.VAEDetector(**FAST).fit(mapped)
