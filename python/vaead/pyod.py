"""VAEAD: vaead's detector in PyOD's conventions, for PyOD's tools (its combination functions,
`evaluate_print`, LSCP, benchmark scripts that take any detector).

    from vaead.pyod import VAEAD
    detector = VAEAD(contamination=0.05).fit(X_train)
    detector.labels_                      # 0/1 for the training rows, as PyOD's detectors
    scores = detector.decision_function(X_test)
    detector.predict(X_test), detector.predict_proba(X_test), detector.predict_confidence(X_test)

Where PyOD is installed, VAEAD is a subclass of ``pyod.models.base.BaseDetector`` and its
``predict``, ``predict_proba`` and ``predict_confidence`` are PyOD's own. PyOD is no dependency of
vaead: without it VAEAD derives from ``PyODConventions`` here, which computes the same (tested
against PyOD's where both are installed).
"""
import numpy as np
from scipy.special import erf
from scipy.stats import binom
from sklearn.base import BaseEstimator
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.validation import check_is_fitted

from ._detector import VAEDetector


def _flags(scores, threshold):
    return (scores > threshold).astype(int).ravel()


class PyODConventions(BaseEstimator):
    """PyOD's detector conventions (its ``BaseDetector``), for when PyOD is not installed.

    ``contamination`` is the share of the training rows taken as outliers: ``threshold_`` is the
    ``100 * (1 - contamination)`` percentile of ``decision_scores_`` (the training rows' scores) and
    ``labels_`` flags the training rows above it.
    """

    def __init__(self, contamination=0.1):
        if not isinstance(contamination, (float, int)) or not 0.0 < contamination <= 0.5:
            raise ValueError(f"contamination must be in (0, 0.5], got: {contamination!r}")
        self.contamination = contamination

    def _set_n_classes(self, y):
        self._classes = 2 if y is None else len(np.unique(y))
        return self

    def _process_decision_scores(self):
        scores = self.decision_scores_
        self.threshold_ = np.percentile(scores, 100 * (1 - self.contamination))
        self.labels_ = _flags(scores, self.threshold_)
        self._mu = np.mean(scores)
        self._sigma = np.std(scores)
        return self

    def predict(self, X, return_confidence=False):
        """1 for a row scored above ``threshold_`` (an outlier), 0 otherwise (and the confidence)."""
        check_is_fitted(self, ["decision_scores_", "threshold_", "labels_"])
        flags = _flags(self.decision_function(X), self.threshold_)
        return (flags, self.predict_confidence(X)) if return_confidence else flags

    def predict_proba(self, X, method="linear", return_confidence=False):
        """[P(inlier), P(outlier)] per row: "linear" scales the scores by the training rows' minimum
        and maximum (clipped to [0, 1]); "unify" is erf((score - mean) / (std * sqrt(2))) over the
        training rows' scores, clipped."""
        check_is_fitted(self, ["decision_scores_", "threshold_", "labels_"])
        scores = self.decision_function(X)
        probabilities = np.zeros([len(scores), int(self._classes)])
        if method == "linear":
            scaler = MinMaxScaler().fit(self.decision_scores_.reshape(-1, 1))
            outlier = scaler.transform(scores.reshape(-1, 1)).ravel()
        elif method == "unify":
            outlier = erf((scores - self._mu) / (self._sigma * np.sqrt(2)))
        else:
            raise ValueError(method, "is not a valid probability conversion method")
        probabilities[:, 1] = outlier.clip(0, 1).ravel()
        probabilities[:, 0] = 1 - probabilities[:, 1]
        return (probabilities, self.predict_confidence(X)) if return_confidence else probabilities

    def predict_confidence(self, X):
        """How surely each row's flag would stay the same were the training rows drawn again: the
        posterior share of training scores at or below the row's, pushed through the binomial
        law of the flagged count (Perini et al., 2020), in [0, 1]."""
        check_is_fitted(self, ["decision_scores_", "threshold_", "labels_"])
        n = len(self.decision_scores_)
        scores = self.decision_function(X)
        below = np.searchsorted(np.sort(self.decision_scores_), scores, side="right")
        posterior = (1 + below) / (2 + n)
        confidence = 1 - binom.cdf(n - int(n * self.contamination), n, posterior)
        inliers = _flags(scores, self.threshold_) == 0
        confidence[inliers] = 1 - confidence[inliers]
        return confidence


try:
    from pyod.models.base import BaseDetector as _Base

    HAS_PYOD = True
except ImportError:  # PyOD is optional
    _Base = PyODConventions
    HAS_PYOD = False


class VAEAD(_Base):
    """Variational-autoencoder anomaly detector in PyOD's conventions.

    ``fit`` trains vaead's detector (`vaead.VAEDetector`: the same training, bit for bit) on X,
    then scores every row of X: ``decision_scores_`` are the training rows' scores, ``threshold_``
    is their ``100 * (1 - contamination)`` percentile and ``labels_`` their flags, as PyOD defines
    them. vaead trains on normal rows: the cleaner X, the better its scores.

    Parameters
    ----------
    contamination : float in (0, 0.5], default 0.1
        The share of outliers expected in X (PyOD's meaning): it sets ``threshold_``.
    latent : int, default 8
        Latent size L.
    beta : float, sequence of float or None, default None
        KL weight (None: vaead's ensemble with 1 and 0.1 in turn).
    epochs, batch_size, members, kl_warmup : int or None, default None
        None lets vaead choose them from the number of rows.
    hidden : sequence of int, default (128, 64)
        The encoder's widths; the decoder mirrors them.
    learning_rate : float, default 1e-3
    holdout : float or None, default None
        The share of X vaead holds out to scale an ensemble's members (None: 20%).
    device : {"auto", "cpu", "cuda"}, default "auto"
    random_state : int, numpy.random.Generator, RandomState or None, default None
        None is seed 0: results are reproducible.
    threads : int or None, default None
        CPU threads (None: every core). Results do not depend on it.

    Attributes
    ----------
    decision_scores_ : ndarray of float64, shape (n_samples,)
        The training rows' scores (higher = more anomalous).
    threshold_ : float
    labels_ : ndarray of int, shape (n_samples,)
        1 for the training rows above ``threshold_``.
    detector_ : vaead.VAEDetector
        The fitted vaead detector (its own held-out threshold is ``detector_.threshold_``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X was a DataFrame.
    """

    def __init__(
        self,
        contamination=0.1,
        latent=8,
        beta=None,
        epochs=None,
        batch_size=None,
        members=None,
        kl_warmup=None,
        hidden=(128, 64),
        learning_rate=1e-3,
        holdout=None,
        device="auto",
        random_state=None,
        threads=None,
    ):
        super().__init__(contamination=contamination)
        self.latent = latent
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.members = members
        self.kl_warmup = kl_warmup
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.holdout = holdout
        self.device = device
        self.random_state = random_state
        self.threads = threads

    def fit(self, X, y=None):
        """Trains on X and scores its rows.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
        y : ignored
            PyOD's detectors are unsupervised; as theirs, a y given is warned about.

        Returns
        -------
        self : VAEAD
        """
        self._set_n_classes(y)
        parameters = self.get_params()
        del parameters["contamination"]
        self.detector_ = VAEDetector(**parameters).fit(X)
        self.n_features_in_ = self.detector_.n_features_in_
        if hasattr(self.detector_, "feature_names_in_"):
            self.feature_names_in_ = self.detector_.feature_names_in_
        self.decision_scores_ = self.decision_function(X)
        self._process_decision_scores()
        return self

    def decision_function(self, X):
        """Anomaly scores (higher = more anomalous): vaead's, as float64.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of float64, shape (n_samples,)
        """
        check_is_fitted(self, "detector_")
        return self.detector_.decision_function(X).astype(np.float64)

    def feature_errors(self, X):
        """Each feature's squared reconstruction error: see `vaead.VAEDetector.feature_errors`.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        errors : ndarray of shape (n_samples, n_features) or pandas.DataFrame
        """
        check_is_fitted(self, "detector_")
        return self.detector_.feature_errors(X)

    def save(self, path):
        """Writes vaead's model file (see `vaead.VAEDetector.save`); `vaead score` reads it.

        Parameters
        ----------
        path : str or os.PathLike
        """
        check_is_fitted(self, "detector_")
        self.detector_.save(path)

    def to_onnx(self, path=None):
        """The scoring graph as ONNX: see `vaead.VAEDetector.to_onnx`.

        Parameters
        ----------
        path : str, os.PathLike or None, default None

        Returns
        -------
        model : bytes
        """
        check_is_fitted(self, "detector_")
        return self.detector_.to_onnx(path)


__all__ = ["VAEAD", "PyODConventions", "HAS_PYOD"]
