"""What every SciPy drop-in shares: one registry routine over an N-D array along ``axis``,
every other axis flattened into channels that the engine splits across its workers.

The routine is built by name through the registry and run by the in-memory engine, as a
one-step ``compute``: the drop-ins use no kernel API directly, so they follow the routines
wherever they go.
"""

import os
import warnings

import numpy as np

from ._arrays import as_float64, axis_index, real_array, to_columns
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


# Along the last axis (where C-ordered arrays keep each 1-D slice contiguous), every slice
# becomes a trial of one channel: no transposing copy, and the engine spreads the trials over
# its workers. Along the first axis, the slices are already the columns of a samples x
# channels recording. Short slices are always columns, so tiny trials do not multiply tasks.
ROWS_MIN_SAMPLES = 64


class Applied:
    """One routine's output over the 1-D slices of an array, and how to put it back."""

    def __init__(self, raw, layout, rest, n, axis, ndim, dtype):
        self.raw = raw
        self.layout = layout
        self.rest = tuple(rest)
        self.n = n
        self.axis = axis
        self.ndim = ndim
        self.dtype = dtype

    def dense(self):
        """The dense output in the input's layout (``axis`` replaced by the output's rows),
        in float64 or complex128."""
        data = self.raw["data"]
        if self.raw["complex"]:
            data = data.view(np.complex128)[..., 0]
        if self.layout == "rows":
            # Analog (slices * n_out, 1) or spectra (slices, 1, freq, 1): one slice per trial.
            per_slice = data.reshape(len(self.raw["trials"]), -1)
            shaped = per_slice.reshape(self.rest + (per_slice.shape[1],))
            return np.moveaxis(shaped, -1, self.axis)
        # Analog (n_out, slices) or spectra (1, 1, freq, slices): the slices are channels.
        columns = data.reshape(-1, data.shape[-1])
        shaped = columns.reshape((columns.shape[0],) + self.rest)
        return np.moveaxis(shaped, 0, self.axis) if self.ndim > 1 else shaped.reshape(-1)

    def events_per_slice(self):
        """Per 1-D slice (C order of the other axes): (samples, {property: values})."""
        ev = self.raw["events"]
        sample = ev["sample"]
        n_slices = int(np.prod(self.rest, dtype=np.int64)) if self.rest else 1
        if self.layout == "rows":
            which = sample // self.n
            offset = which * self.n
        else:
            which = ev["channel"]
            offset = np.zeros_like(sample)
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(n_slices + 1), side="left")
        shifted = set(ev["shifted"])
        out = []
        for c in range(n_slices):
            rows = order[bounds[c] : bounds[c + 1]]
            props = {}
            for name, values in ev["columns"].items():
                values = values[rows]
                if name in shifted:
                    values = values - offset[rows].astype(values.dtype)
                props[name] = values
            out.append(((sample[rows] - offset[rows]).astype(np.intp), props))
        return out


def apply(function, routine, params, x, axis, argname, samplerate=1.0):
    """Runs ``routine`` with ``params`` over every 1-D slice of ``x`` along ``axis``."""
    array = real_array(x, argname)
    if array.ndim == 0:
        raise ValueError(f"trialflow.{function}: {argname} must be an array, got a scalar")
    ax = axis_index(axis, array.ndim)
    n = array.shape[ax]
    if n == 0 or array.size == 0:
        raise ValueError(f"trialflow.{function}: {argname} is empty (shape {array.shape})")
    cores = _workers()
    if ax != 0 and n >= ROWS_MIN_SAMPLES:
        moved = np.moveaxis(array, ax, -1)
        rest = moved.shape[:-1]
        data = as_float64(moved.reshape(-1, n)).reshape(-1, 1)
        slices = data.shape[0] // n
        starts = np.arange(slices, dtype=np.float64) * n
        trl = np.column_stack([starts, starts + n, np.zeros(slices)])
        execution = {"mode": "parallel", "workers": min(cores, slices)}
        layout = "rows"
    else:
        data, rest = to_columns(array, ax)
        slices = data.shape[1]
        trl = np.array([[0.0, n, 0.0]])
        workers = min(cores, slices)
        execution = {"mode": "parallel", "workers": workers}
        if workers > 1:
            execution["chan_per_worker"] = -(-slices // workers)
        layout = "columns"
    step = dict(params, routine=routine)
    try:
        raws = run_steps([step], data, trl, float(samplerate), None, False, execution, progress=False)
    except UserError as e:
        raise UserError(_message(function, routine, argname, str(e))) from None
    except RunError as e:
        # A kernel refusing the values (NaN where SciPy refuses it too) is about the
        # caller's array, so it is a ValueError as in SciPy; internal errors stay RunError.
        if str(e).startswith("internal error"):
            raise
        raise UserError(_message(function, routine, argname, str(e))) from None
    # What SciPy reports with warnings.warn (a peak of zero prominence, say), the kernels
    # report too; each distinct message once.
    for message in dict.fromkeys(raws[0]["warnings"]):
        warnings.warn(f"trialflow.{function}: {message}", RuntimeWarning, stacklevel=3)
    return Applied(raws[0], layout, rest, n, ax, array.ndim, array.dtype)


def _message(function, routine, argname, message):
    own = f"steps[0] ({routine}): "
    if message.startswith(own):
        return f"trialflow.{function}: {message[len(own):]}"
    # Data errors (NaN where SciPy refuses it too) name a trial and channel of the input.
    return f"trialflow.{function}: {argname}: {message}"


def result_dtype(dtype):
    """SciPy keeps float32 as float32 and computes everything else in float64."""
    return np.float32 if dtype == np.float32 else np.float64
