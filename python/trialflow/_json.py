"""Pipeline values as JSON text for the native module: numpy scalars and arrays become
numbers and lists, paths become strings."""

import json
import os

import numpy as np


def _default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"a value of type {type(value).__name__} cannot be part of a pipeline: {value!r}")


def dumps(value):
    # allow_nan=False: the pipeline format is YAML/JSON numbers, where NaN has no spelling.
    return json.dumps(value, default=_default, allow_nan=False)
