"""Detection metrics from vaead's C++ library, in scikit-learn's argument order (labels first).
Labels: 1 = anomaly, 0 = normal; scores: higher = more anomalous (read as float32, as the library
keeps scores)."""
from . import _core
from ._input import vector


def roc_auc(y_true, scores):
    """ROC-AUC: the probability that an anomaly scores above a normal row, ties counting half.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 = anomaly, 0 = normal.
    scores : array-like of shape (n_samples,)
        Higher = more anomalous.

    Returns
    -------
    float
    """
    return _core.roc_auc(vector(y_true, "y_true"), vector(scores, "scores"))


def average_precision(y_true, scores):
    """PR-AUC as scikit-learn's average_precision_score computes it.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 = anomaly, 0 = normal.
    scores : array-like of shape (n_samples,)
        Higher = more anomalous.

    Returns
    -------
    float
    """
    return _core.average_precision(vector(y_true, "y_true"), vector(scores, "scores"))


pr_auc = average_precision


def confusion(y_true, scores, threshold):
    """Counts, precision, recall and F1 when a row is called anomalous iff score > threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 = anomaly, 0 = normal.
    scores : array-like of shape (n_samples,)
    threshold : float

    Returns
    -------
    dict
        true_positives, false_positives, true_negatives, false_negatives, precision, recall, f1.
    """
    return _core.confusion(vector(y_true, "y_true"), vector(scores, "scores"), float(threshold))


def precision_recall_f1(y_true, scores, threshold):
    """Precision, recall and F1 of `confusion` (same parameters).

    Returns
    -------
    tuple of float
        (precision, recall, f1).
    """
    c = confusion(y_true, scores, threshold)
    return c["precision"], c["recall"], c["f1"]
