"""Detection metrics from vaead's C++ library, in scikit-learn's argument order (labels first).
Labels: 1 = anomaly, 0 = normal; scores: higher = more anomalous (read as float32, as the library
keeps scores)."""
from . import _core
from ._input import vector


def roc_auc(y_true, scores):
    """ROC-AUC: the probability that an anomaly scores above a normal row, ties counting half."""
    return _core.roc_auc(vector(y_true, "y_true"), vector(scores, "scores"))


def average_precision(y_true, scores):
    """PR-AUC as scikit-learn's average_precision_score computes it."""
    return _core.average_precision(vector(y_true, "y_true"), vector(scores, "scores"))


pr_auc = average_precision


def confusion(y_true, scores, threshold):
    """Counts, precision, recall and F1 when a row is called anomalous iff score > threshold."""
    return _core.confusion(vector(y_true, "y_true"), vector(scores, "scores"), float(threshold))


def precision_recall_f1(y_true, scores, threshold):
    c = confusion(y_true, scores, threshold)
    return c["precision"], c["recall"], c["f1"]
