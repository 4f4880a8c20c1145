"""Argument checks shared by ``compute`` and the SciPy drop-ins: every message names the
argument, and arrays SciPy would accept (non-contiguous, integer, other byte orders) are
copied into the float64 C-contiguous layout the engine reads."""

import numpy as np


def real_array(value, name):
    """``value`` as a numpy array of real numbers, refusing complex and object data."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name}: cannot be read as an array of numbers ({e})") from None
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(f"{name}: complex values are not supported (dtype {array.dtype}); pass the real part or the magnitude")
    if kind not in "fiub":
        raise TypeError(f"{name}: expected real numbers, got an array of dtype {array.dtype}")
    return array


def as_float64(array):
    """C-contiguous float64 in native byte order (a copy only when needed)."""
    return np.ascontiguousarray(array, dtype=np.float64)


def axis_index(axis, ndim, name="axis"):
    try:
        axis = int(axis)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an integer, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def to_columns(array, axis):
    """The array with ``axis`` first and every other axis flattened into columns (one
    channel each), float64 and C-contiguous, plus how to put results back."""
    moved = np.moveaxis(array, axis, 0)
    rest = moved.shape[1:]
    columns = as_float64(moved.reshape(moved.shape[0], -1))
    return columns, rest

