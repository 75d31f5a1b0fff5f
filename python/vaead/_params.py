"""The parameters of VAEDetector and sweep, checked before they reach the C++ library: each that
cannot be used raises ValueError naming it and its value (never a TypeError from inside)."""
import numbers

import numpy as np

from . import _core

LIMITS = _core.limits
_INT_MAX = 2**31 - 1


def whole(name, value, minimum, maximum=_INT_MAX, optional=True):
    """An int from minimum to maximum (None where optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not minimum <= value <= maximum:
        kind = "None or an integer" if optional else "an integer"
        raise ValueError(f"{name} must be {kind} from {minimum} to {maximum}, got {value!r}")
    return int(value)


def number(name, value, minimum=None, exclusive=False):
    """A finite float (above or at least `minimum`)."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(result) or (
        minimum is not None and (result <= minimum if exclusive else result < minimum)
    ):
        bound = "" if minimum is None else f" {'above' if exclusive else 'at least'} {minimum}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return result


def sequence(name, value, convert):
    """A non-empty list, each element converted by convert(f"{name}[{i}]", element)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a sequence, got {value!r}")
    items = list(value)
    if not items:
        raise ValueError(f"{name} must not be empty")
    return [convert(f"{name}[{i}]", item) for i, item in enumerate(items)]


def widths(name, value):
    """Hidden widths: 1 to LIMITS['width'] each, at most LIMITS['hidden_layers'] of them."""
    items = sequence(name, value, lambda n, v: whole(n, v, 1, LIMITS["width"], optional=False))
    if len(items) > LIMITS["hidden_layers"]:
        raise ValueError(f"{name} has {len(items)} layers; at most {LIMITS['hidden_layers']}")
    return items


def text(name, value):
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return value


def seed(random_state):
    """vaead's seed: None is the CLI's default, 0 (results are reproducible unless asked
    otherwise); an int is itself; a NumPy RandomState or Generator draws one."""
    if random_state is None:
        return 0
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state <= 2**64 - 1:
            raise ValueError(f"random_state must be from 0 to 2**64 - 1, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    raise ValueError(f"random_state must be None, an int, a RandomState or a Generator, got {random_state!r}")
