"""VAEDetector: vaead's detector in scikit-learn's conventions, over the C++ library."""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted

from . import _core
from . import _params
from ._params import LIMITS
from ._input import _is_dataframe, table


def _betas(beta):
    """The members' KL weights: None is the CLI's default ensemble (1, 0.1 in turn); a number is
    every member's (the CLI's --beta); a sequence is the members' in turn (--betas)."""
    if beta is None:
        return None  # the library's default
    if isinstance(beta, numbers.Real):
        return [_params.number("beta", beta, 0.0)]
    return _params.sequence("beta", beta, lambda name, b: _params.number(name, b, 0.0))


class VAEDetector(OutlierMixin, BaseEstimator):
    """Anomaly detector: variational autoencoders trained on normal rows.

    A row's score is how badly the models reconstruct it: the mean squared error of the
    standardized row, or for an ensemble each member's error over its typical held-out error,
    averaged. Training, scoring and the threshold are vaead's C++ library: a model fitted here is
    the file `vaead train` writes from the same rows and options, byte for byte.

    Parameters
    ----------
    latent : int, default 8
        Latent size L.
    beta : float, sequence of float or None, default None
        KL weight. None trains the CLI's ensemble with 1 and 0.1 in turn; a sequence gives the
        members' weights in turn.
    epochs, batch_size, members, kl_warmup : int or None, default None
        None lets vaead choose them from the number of rows, as `vaead train` does.
    threshold : str, default "iqr:1.5"
        A rule on the held-out rows' scores ("iqr:1.5", "mean-std:3", "percentile:99",
        "fpr:0.01"), or "contamination:0.05": the share of the rows scored that predict flags.
    device : {"auto", "cpu", "cuda"}, default "auto"
        "auto" uses CUDA when a GPU answers.
    random_state : int, numpy.random.Generator, RandomState or None, default None
        The seed (None: 0, so results are reproducible); a generator draws one.
    threads : int or None, default None
        CPU threads (None: every core). Results do not depend on it.
    holdout : float or None, default None
        The share of the rows held out for the threshold (None: 20%, at least 10 rows).
    hidden : sequence of int, default (128, 64)
        The encoder's widths; the decoder mirrors them.
    learning_rate : float, default 1e-3
        Adam's learning rate.

    Attributes
    ----------
    threshold_ : float
        Where "anomalous" begins: scores above it are flagged.
    decision_scores_ : ndarray of shape (n_holdout,)
        The held-out rows' scores, in the order of ``holdout_indices_``.
    holdout_indices_ : ndarray of int
        The rows of X held out for the threshold.
    epochs_, batch_size_, members_ : int
        The schedule vaead chose.
    fit_seconds_, samples_per_second_ : float
        How long training took.
    device_ : str
        The engine that trained ("cpu" or "cuda").
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X was a DataFrame.

    Examples
    --------
    >>> detector = VAEDetector().fit(X_normal)          # doctest: +SKIP
    >>> scores = detector.decision_function(X_new)      # doctest: +SKIP
    """

    def __init__(
        self,
        latent=8,
        beta=None,
        epochs=None,
        batch_size=None,
        threshold="iqr:1.5",
        device="auto",
        random_state=None,
        threads=None,
        members=None,
        holdout=None,
        kl_warmup=None,
        hidden=(128, 64),
        learning_rate=1e-3,
    ):
        self.latent = latent
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.threshold = threshold
        self.device = device
        self.random_state = random_state
        self.threads = threads
        self.members = members
        self.holdout = holdout
        self.kl_warmup = kl_warmup
        self.hidden = hidden
        self.learning_rate = learning_rate

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Trains on every row of X (train on normal rows).

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)
            Numeric rows; a DataFrame's column names are kept and matched by name when scoring.
        y : ignored
            Present for scikit-learn's conventions.

        Returns
        -------
        self : VAEDetector
        """
        values, names = table(X)
        hidden = _params.widths("hidden", self.hidden)
        result = _core.train(
            values,
            names or [],
            "X",
            latent=_params.whole("latent", self.latent, 1, LIMITS["width"], optional=False),
            encoder_hidden=hidden,
            decoder_hidden=hidden[::-1],
            betas=_betas(self.beta),
            members=_params.whole("members", self.members, 1, LIMITS["members"]),
            epochs=_params.whole("epochs", self.epochs, 1, LIMITS["epochs"]),
            batch_size=_params.whole("batch_size", self.batch_size, 1, LIMITS["batch_size"]),
            kl_warmup=_params.whole("kl_warmup", self.kl_warmup, 0, LIMITS["epochs"]),
            holdout=None if self.holdout is None else _params.number("holdout", self.holdout),
            learning_rate=_params.number("learning_rate", self.learning_rate, 0.0, exclusive=True),
            threshold=_params.text("threshold", self.threshold),
            seed=_params.seed(self.random_state),
            threads=self._threads(),
            device=_params.text("device", self.device),
        )
        for note in result.notes:
            warnings.warn(note, UserWarning, stacklevel=2)
        self._set_model(result.model, names)
        self.holdout_indices_ = np.asarray(result.holdout_rows, dtype=np.intp)
        self.decision_scores_ = result.holdout_scores  # scored once, by training
        self.epochs_ = result.epochs
        self.batch_size_ = result.batch_size
        self.members_ = result.members
        self.fit_seconds_ = result.seconds
        self.samples_per_second_ = result.samples_per_second
        self.device_ = result.device
        return self

    def _threads(self):
        return _params.whole("threads", self.threads, 0, LIMITS["threads"]) or 0

    def _set_model(self, model, names):
        self.model_ = model
        self._names = list(model.feature_names)
        self.n_features_in_ = len(self._names)
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.threshold_ = model.threshold

    # ---- scoring -------------------------------------------------------------------------------
    def _names_for(self, X, values):
        """The columns of X, matched to the model's by name for a DataFrame, by position for an
        array (scikit-learn's message when the count differs)."""
        if _is_dataframe(X):
            return [str(c) for c in X.columns]
        if values.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {values.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return self._names

    def _score(self, values, names, per_feature, threshold=None):
        return _core.score(
            self.model_,
            values,
            names,
            "X",
            per_feature=per_feature,
            device=_params.text("device", self.device),
            threads=self._threads(),
            threshold=threshold,
        )

    def _scored(self, X, per_feature=False):
        check_is_fitted(self, "model_")
        values, _ = table(X)
        return self._score(values, self._names_for(X, values), per_feature)

    def decision_function(self, X):
        """Anomaly scores, higher = more anomalous.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of float32, shape (n_samples,)
            The values `vaead score` writes.
        """
        return self._scored(X)["scores"]

    def score_samples(self, X):
        """The negated anomaly score: scikit-learn's convention (lower = more abnormal).

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of float32, shape (n_samples,)
        """
        return -self.decision_function(X)

    def predict(self, X):
        """Flags the rows above the threshold.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        flags : ndarray of int64, shape (n_samples,)
            1 for an anomaly, 0 for a normal row (PyOD's convention).
        """
        return self._scored(X)["flagged"].astype(np.int64)

    def feature_errors(self, X):
        """Each feature's squared reconstruction error, in standardized units.

        Parameters
        ----------
        X : array-like or pandas.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        errors : ndarray of shape (n_samples, n_features) or pandas.DataFrame
            A DataFrame (same index, the model's columns) when X is one.
        """
        errors = self._scored(X, per_feature=True)["per_feature"]
        if _is_dataframe(X):
            import pandas as pd

            return pd.DataFrame(errors, index=X.index, columns=self._names)
        return errors

    # ---- files and pickling ----------------------------------------------------------------------
    def save(self, path):
        """Writes the model file `vaead train` writes (safetensors); `vaead score` reads it.

        Parameters
        ----------
        path : str or os.PathLike
            Written atomically: a failure leaves no half-written file.
        """
        check_is_fitted(self, "model_")
        self.model_.save(str(path))

    def to_onnx(self, path=None):
        """The scoring graph as an ONNX model, for ONNX Runtime or any runtime that reads ONNX.

        The graph holds the standardizer and every member: input ``X`` (float32, the raw
        features in the order of ``feature_names`` in its metadata), outputs ``score`` (as
        `decision_function`) and ``feature_errors`` (as `feature_errors`). Operator set 17. It is
        what ``vaead export --onnx`` writes from the model file, byte for byte.

        Parameters
        ----------
        path : str, os.PathLike or None, default None
            Where to write it (atomically); None writes nothing.

        Returns
        -------
        model : bytes
            The serialized ONNX model (``onnxruntime.InferenceSession`` takes it as it is).
        """
        check_is_fitted(self, "model_")
        return self.model_.to_onnx(None if path is None else str(path))

    def __getstate__(self):
        state = self.__dict__.copy()
        if "model_" in state:
            state["model_"] = state["model_"].to_bytes()
        return state

    def __setstate__(self, state):
        if "model_" in state:
            state["model_"] = _core.Model.from_bytes(state["model_"], "pickled VAEDetector")
        self.__dict__.update(state)


def load(path, device="auto", threads=None):
    """A fitted VAEDetector from a model file.

    Parameters
    ----------
    path : str or os.PathLike
        A model file written by `vaead train` or `VAEDetector.save`.
    device : {"auto", "cpu", "cuda"}, default "auto"
    threads : int or None, default None

    Returns
    -------
    detector : VAEDetector
        Fitted: it scores as the file's model does.
    """
    model = _core.Model.load(str(path))
    betas = list(model.betas)  # each member's: the shortest cycle that repeats is the parameter
    period = next(p for p in range(1, len(betas) + 1) if all(b == betas[i % p] for i, b in enumerate(betas)))
    detector = VAEDetector(
        latent=model.latent,
        beta=betas[0] if period == 1 else tuple(betas[:period]),
        members=model.members,
        hidden=tuple(model.encoder_hidden),
        threshold=model.threshold_rule,
        device=device,
        threads=threads,
    )
    names = list(model.feature_names)
    positional = names == [f"x{i}" for i in range(len(names))]
    detector._set_model(model, None if positional else names)
    return detector
