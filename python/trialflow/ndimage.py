"""Drop-ins for ``scipy.ndimage``'s 1-D filters: the same signatures and values, computed by
trialflow's routines in Rust, every 1-D slice along ``axis`` in parallel.

Like SciPy, float32 input gives float32 output (computed in float64 and rounded once) and
float64 gives float64. Integer input is refused with ``NotImplementedError`` (SciPy would
round into the integer type). ``median_filter`` is 1-D: along one axis (``axes=(axis,)`` or
a ``size`` that is 1 on every other axis). Parameters that are not supported raise
``NotImplementedError`` naming them.
"""

import numpy as np

from ._arrays import axis_index, real_array
from ._dropin import apply, unsupported

__all__ = ["gaussian_filter1d", "median_filter", "uniform_filter1d"]

_MODES = {"grid-mirror": "reflect", "grid-constant": "constant", "grid-wrap": "wrap"}


def _input(function, value):
    array = real_array(value, "input")
    if array.dtype.kind != "f":
        unsupported(function, "input dtype", str(array.dtype), "float32 and float64 input")
    return array


def _output(function, output, result, dtype):
    if output is None:
        return result.astype(dtype, copy=False)
    if isinstance(output, np.ndarray):
        if output.shape != result.shape:
            raise RuntimeError("output shape not correct")
        output[...] = result
        return output
    try:
        wanted = np.dtype(output)
    except TypeError:
        unsupported(function, "output", output, "None, a float dtype or an array")
    if wanted.kind != "f":
        unsupported(function, "output", output, "float dtypes")
    return result.astype(wanted, copy=False)


def _mode(mode):
    return _MODES.get(mode, mode)


def gaussian_filter1d(input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0,
                      truncate=4.0, *, radius=None):
    """``scipy.ndimage.gaussian_filter1d``."""
    function = "ndimage.gaussian_filter1d"
    array = _input(function, input)
    params = {"sigma": float(sigma), "order": int(order), "mode": _mode(mode), "cval": float(cval),
              "truncate": float(truncate)}
    if radius is not None:
        params["radius"] = int(radius)
    result = apply(function, "gaussian", params, array, axis, "input").dense()
    return _output(function, output, result, array.dtype)


def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """``scipy.ndimage.uniform_filter1d``."""
    function = "ndimage.uniform_filter1d"
    array = _input(function, input)
    params = {"size": int(size), "mode": _mode(mode), "cval": float(cval), "origin": int(origin)}
    result = apply(function, "moving_average", params, array, axis, "input").dense()
    return _output(function, output, result, array.dtype)


def median_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0,
                  *, axes=None):
    """``scipy.ndimage.median_filter`` along one axis."""
    function = "ndimage.median_filter"
    array = _input(function, input)
    if footprint is not None:
        unsupported(function, "footprint", "<array>", "a size along one axis")
    if size is None:
        raise RuntimeError("no footprint or filter size provided")
    if not isinstance(mode, str):
        unsupported(function, "mode", mode, "one mode for every axis")
    axis, length, shift = _median_axis(function, array.ndim, size, origin, axes)
    params = {"size": length, "mode": _mode(mode), "cval": float(cval), "origin": shift}
    result = apply(function, "median_filter", params, array, axis, "input").dense()
    return _output(function, output, result, array.dtype)


def _median_axis(function, ndim, size, origin, axes):
    """The one axis the median runs along, its window and its origin."""
    if axes is not None:
        axes = [axis_index(a, ndim, "axes") for a in np.atleast_1d(axes)]
        if len(axes) != 1:
            unsupported(function, "axes", tuple(axes), "exactly one axis")
        sizes = np.atleast_1d(size)
        origins = np.atleast_1d(origin)
        if len(sizes) != 1 or len(origins) != 1:
            raise RuntimeError("sequence argument must have length equal to the number of axes")
        return axes[0], int(sizes[0]), int(origins[0])
    sizes = np.broadcast_to(np.atleast_1d(size), (ndim,)) if np.ndim(size) else np.full(ndim, size)
    origins = np.broadcast_to(np.atleast_1d(origin), (ndim,)) if np.ndim(origin) else np.full(ndim, origin)
    filtered = [i for i in range(ndim) if int(sizes[i]) != 1]
    if len(filtered) > 1:
        unsupported(function, "size", size, "a window along one axis (1 on every other axis), or axes=(axis,)")
    axis = filtered[0] if filtered else ndim - 1
    for i in range(ndim):
        if i != axis and int(origins[i]) != 0:
            unsupported(function, "origin", origin, "an origin on the filtered axis only")
    return axis, int(sizes[axis]), int(origins[axis])
