"""Tables from what users hold: a 2-D NumPy array (any numeric dtype, any strides: read in place
by the C++ library) or a pandas DataFrame (its column names kept). The cell checks and their
messages are the C++ library's, as for a .npy file; only what the library cannot be handed
(object and string columns) is looked at here."""
import numpy as np

from . import _core


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


class NotANumberError(ValueError, TypeError):
    """A cell of a type that is no number (None, a list, a dict): a ValueError naming its row and
    column, as every unusable input is, and the TypeError NumPy and scikit-learn raise for it."""


def _numeric_values(values, names, source):
    """An object or string array as float64; ValueError naming the first cell that is not a
    number, as the CSV reader does."""
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        pass  # a cell that is not a number (text: ValueError; None, a list: TypeError): find it
    for c in range(values.shape[1]):
        for r in range(values.shape[0]):
            try:
                float(values[r, c])
            except ValueError:  # text that is no number
                name = names[c] if names is not None else f"x{c}"
                raise ValueError(_core.not_a_number(source, r, name, str(values[r, c]))) from None
            except TypeError as error:  # a value of another type
                name = names[c] if names is not None else f"x{c}"
                message = _core.not_a_number(source, r, name, repr(values[r, c]))
                raise NotANumberError(f"{message} ({error})") from None
    raise AssertionError("unreachable: astype failed on numbers")


def table(X, source="X"):
    """(values, names): a 2-D array the library reads in place where the layout allows (no copy of
    a NumPy array of a supported dtype, in either order), and the DataFrame's column names (None
    for an array)."""
    names = None
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(f"{source}: sparse input is not supported; pass {source}.toarray()")
    if _is_dataframe(X):
        names = [str(c) for c in X.columns]
        for name, dtype in zip(names, X.dtypes):
            if getattr(dtype, "kind", "O") in "mMc":  # dates, durations, complex numbers
                raise ValueError(f"{source}: column '{name}' holds {dtype} values, not numbers")
        values = X.to_numpy()  # a view for a frame of one numeric dtype
    else:
        values = np.asarray(X)
    if values.ndim != 2:
        raise ValueError(f"{source}: needs a 2-D array (rows, features), got {values.ndim} dimension(s)")
    if values.dtype.kind in "OUS":
        values = _numeric_values(values, names, source)
    elif values.dtype.kind not in "fiub":
        raise ValueError(f"{source}: unsupported dtype {values.dtype} (float32, float64, integers and bool are read)")
    if not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    if values.dtype.kind == "f" and values.dtype.itemsize not in (4, 8):
        values = values.astype(np.float64)  # float16 and long double: no loss either way
    return values, names


def vector(y, source):
    values = np.asarray(y)
    if values.ndim != 1:
        raise ValueError(f"{source}: needs a 1-D array, got {values.ndim} dimension(s)")
    if values.dtype.kind in "OUS":
        values = _numeric_values(values.reshape(-1, 1), [source], source).ravel()
    if values.dtype.kind == "f" and values.dtype.itemsize not in (4, 8):
        values = values.astype(np.float64)
    return values
