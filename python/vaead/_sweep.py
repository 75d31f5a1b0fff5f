"""The sweep: every latent size x beta x seed trained on a table's split, as `vaead sweep --data`
does (the same split, schedule, models and metrics)."""
from . import _core
from ._detector import _optional_int, _seed
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
    hidden = [int(h) for h in hidden]
    result = _core.sweep(
        values,
        labels,
        names or [],
        "X",
        latents=[int(latent) for latent in latents],
        betas=[float(beta) for beta in betas],
        seeds=int(seeds),
        seed=_seed(random_state),
        validation_share=float(val_share),
        test_share=float(test_share),
        epochs=_optional_int("epochs", epochs, 1),
        batch_size=_optional_int("batch_size", batch_size, 1),
        kl_warmup=_optional_int("kl_warmup", kl_warmup, 0),
        encoder_hidden=hidden,
        decoder_hidden=hidden[::-1],
        learning_rate=float(learning_rate),
        threshold=str(threshold),
        threads=_optional_int("threads", threads, 0) or 0,
        device=str(device),
    )
    cells = [_flat(cell) for cell in result["cells"]]
    return (cells, result["runs"]) if return_runs else cells
