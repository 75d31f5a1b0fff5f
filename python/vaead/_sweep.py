"""The sweep: every latent size x beta x seed trained on a table's split, as `vaead sweep --data`
does (the same split, schedule, models and metrics)."""
from . import _core
from . import _params
from ._params import LIMITS
from ._input import table, vector


def _flat(cell):
    row = {}
    for key, value in cell.items():
        if isinstance(value, dict):
            row[key] = value["mean"]
            row[key + "_std"] = value["std"]
        else:
            row[key] = value
    return row


def sweep(
    X,
    y=None,
    latents=(2, 4, 8, 16),
    betas=(1.0, 0.1, 0.01),
    seeds=3,
    random_state=None,
    val_share=0.2,
    test_share=0.2,
    epochs=None,
    batch_size=None,
    kl_warmup=None,
    hidden=(128, 64),
    learning_rate=1e-3,
    threshold="mean-std:3",
    device="auto",
    threads=None,
    return_runs=False,
):
    """Trains every latent size x beta x seed on a split of X's normal rows, as `vaead sweep --data`.

    Parameters
    ----------
    X : array-like or pandas.DataFrame of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or None, default None
        1 = anomaly, 0 = normal; every labelled anomaly is a test row. None: every row is normal
        (no AUCs, the label-free choice only).
    latents : sequence of int, default (2, 4, 8, 16)
    betas : sequence of float, default (1.0, 0.1, 0.01)
    seeds : int, default 3
        Seeds random_state .. random_state + seeds - 1 for each configuration.
    random_state : int or None, default None
        The first seed and the split's seed (None: 0).
    val_share, test_share : float, default 0.2
        The shares of the normal rows for validation (the threshold, the label-free choice) and
        the test.
    epochs, batch_size, kl_warmup : int or None, default None
        None chooses them from the training rows, as `vaead train` does.
    hidden : sequence of int, default (128, 64)
    learning_rate : float, default 1e-3
    threshold : str, default "mean-std:3"
    device : {"auto", "cpu", "cuda"}, default "auto"
    threads : int or None, default None
    return_runs : bool, default False
        Also return one row per model.

    Returns
    -------
    list of dict, or (list of dict, list of dict) with return_runs
        One row per (latent, beta): the mean and std over seeds of ROC-AUC, PR-AUC, precision,
        recall, F1 and the validation error, and which configuration the label-free rule (lowest
        validation error) and, with labels, the best ROC-AUC pick. ``pandas.DataFrame(rows)`` is
        the table `vaead sweep` prints.
    """
    values, names = table(X)
    labels = None if y is None else vector(y, "y")
    hidden = _params.widths("hidden", hidden)
    result = _core.sweep(
        values,
        labels,
        names or [],
        "X",
        latents=_params.sequence("latents", latents, lambda n, v: _params.whole(n, v, 1, LIMITS["width"], optional=False)),
        betas=_params.sequence("betas", betas, lambda n, v: _params.number(n, v, 0.0)),
        seeds=_params.whole("seeds", seeds, 1, LIMITS["seeds"], optional=False),
        seed=_params.seed(random_state),
        validation_share=_params.number("val_share", val_share),
        test_share=_params.number("test_share", test_share),
        epochs=_params.whole("epochs", epochs, 1, LIMITS["epochs"]),
        batch_size=_params.whole("batch_size", batch_size, 1, LIMITS["batch_size"]),
        kl_warmup=_params.whole("kl_warmup", kl_warmup, 0, LIMITS["epochs"]),
        encoder_hidden=hidden,
        decoder_hidden=hidden[::-1],
        learning_rate=_params.number("learning_rate", learning_rate, 0.0, exclusive=True),
        threshold=_params.text("threshold", threshold),
        threads=_params.whole("threads", threads, 0, LIMITS["threads"]) or 0,
        device=_params.text("device", device),
    )
    cells = [_flat(cell) for cell in result["cells"]]
    return (cells, result["runs"]) if return_runs else cells
