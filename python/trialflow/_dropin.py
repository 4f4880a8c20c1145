"""What every SciPy drop-in shares: one registry routine over an N-D array along ``axis``,
every other axis flattened into channels that the engine splits across its workers.

The routine is built by name through the registry and run by the in-memory engine, as a
one-step ``compute``: the drop-ins use no kernel API directly, so they follow the routines
wherever they go.
"""

import os

import numpy as np

from ._arrays import axis_index, real_array, to_columns
from ._compute import run_steps
from ._errors import RunError, UserError


def unsupported(function, name, value, supported):
    """The NotImplementedError for a SciPy parameter (or value) this drop-in does not
    support: never a silent fallback to SciPy."""
    raise NotImplementedError(
        f"trialflow.{function}: {name}={value!r} is not supported ({supported}); use SciPy for it"
    )


def _workers():
    return os.cpu_count() or 1


class Applied:
    """One routine's output over the columns of an array."""

    def __init__(self, raw, rest, axis, ndim, dtype):
        self.raw = raw
        self.rest = rest
        self.axis = axis
        self.ndim = ndim
        self.dtype = dtype

    def dense(self, rows_axis_data=None):
        """The dense output back in the input's layout (``axis`` replaced by the output's
        rows), cast to the dtype SciPy would return."""
        data = self.raw["data"]
        if self.raw["complex"]:
            data = data.view(np.complex128)[..., 0]
        # Spectra are (time, taper, freq, channel) with one time row and one taper here.
        columns = data.reshape(-1, data.shape[-1])
        shaped = columns.reshape((columns.shape[0],) + tuple(self.rest))
        out = np.moveaxis(shaped, 0, self.axis) if self.ndim > 1 else shaped.reshape(-1)
        return out

    def events_per_column(self):
        """Per column (C order of the other axes): (samples, {property: values})."""
        ev = self.raw["events"]
        channel = ev["channel"]
        order = np.argsort(channel, kind="stable")
        n_columns = int(np.prod(self.rest, dtype=np.int64)) if self.rest else 1
        bounds = np.searchsorted(channel[order], np.arange(n_columns + 1), side="left")
        out = []
        for c in range(n_columns):
            rows = order[bounds[c] : bounds[c + 1]]
            props = {name: values[rows] for name, values in ev["columns"].items()}
            out.append((ev["sample"][rows].astype(np.intp), props))
        return out


def apply(function, routine, params, x, axis, argname, samplerate=1.0):
    """Runs ``routine`` with ``params`` over ``x`` along ``axis``."""
    array = real_array(x, argname)
    if array.ndim == 0:
        raise ValueError(f"trialflow.{function}: {argname} must be an array, got a scalar")
    ax = axis_index(axis, array.ndim)
    if array.shape[ax] == 0:
        raise ValueError(f"trialflow.{function}: {argname} is empty along axis {ax}")
    columns, rest = to_columns(array, ax)
    n_columns = columns.shape[1]
    if n_columns == 0:
        raise ValueError(f"trialflow.{function}: {argname} has no values (shape {array.shape})")
    execution = {"mode": "parallel"}
    if n_columns > 1:
        workers = min(_workers(), n_columns)
        execution["workers"] = workers
        execution["chan_per_worker"] = -(-n_columns // workers)
    else:
        execution["workers"] = 1
    step = dict(params, routine=routine)
    trl = np.array([[0.0, columns.shape[0], 0.0]])
    try:
        raws = run_steps([step], columns, trl, float(samplerate), None, False, execution, progress=False)
    except UserError as e:
        raise UserError(_message(function, routine, argname, str(e))) from None
    except RunError as e:
        # A kernel refusing the values (NaN where SciPy refuses it too) is about the
        # caller's array, so it is a ValueError as in SciPy; internal errors stay RunError.
        if str(e).startswith("internal error"):
            raise
        raise UserError(_message(function, routine, argname, str(e))) from None
    return Applied(raws[0], rest, ax, array.ndim, array.dtype)


def _message(function, routine, argname, message):
    own = f"steps[0] ({routine}): "
    if message.startswith(own):
        return f"trialflow.{function}: {message[len(own):]}"
    # Data errors (NaN where SciPy refuses it too) name a trial and channel of the input.
    return f"trialflow.{function}: {argname}: {message}"


def result_dtype(dtype):
    """SciPy keeps float32 as float32 and computes everything else in float64."""
    return np.float32 if dtype == np.float32 else np.float64
