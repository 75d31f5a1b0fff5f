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
    """Trains every configuration on the normal rows of X (y: 1 = anomaly, 0 = normal; every
    labelled anomaly is a test row) and returns one row per (latent, beta): the mean and the std
    over seeds of ROC-AUC, PR-AUC, precision, recall, F1 and the validation error, and which
    configuration the label-free rule (lowest validation error) and, with labels, the best ROC-AUC
    pick. `pandas.DataFrame(sweep(...))` is the table `vaead sweep` prints. With return_runs, also
    one row per model."""
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
