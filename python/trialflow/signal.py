"""Drop-ins for ``scipy.signal``: the same signatures and return values, computed by
trialflow's routines in Rust, every channel (every 1-D slice along ``axis``) in parallel.

``from trialflow import signal`` in an existing script gives the same numbers (to ~1e-10
for float64; float32 input is computed in float64 and rounded once). ``find_peaks`` and
``find_peaks_cwt`` are 1-D in SciPy; here they also take N-D input along ``axis`` and then
return one result per 1-D slice (a list, in C order of the other axes). Parameters that
are not supported raise ``NotImplementedError`` naming them.
"""

import warnings

import numpy as np

from ._dropin import apply, result_dtype, unsupported

__all__ = ["detrend", "find_peaks", "find_peaks_cwt", "hilbert", "savgol_filter", "welch"]


def _bound(value):
    """SciPy's ``number | (min, max) | array``: scalars and pairs of scalars are supported."""
    if value is None:
        return None
    if np.ndim(value) == 0:
        return float(value)
    if np.ndim(value) == 1 and len(value) == 2:
        return [None if v is None else _scalar(v) for v in value]
    return value  # the registry refuses it, naming the parameter


def _scalar(v):
    if np.ndim(v) != 0:
        raise NotImplementedError(
            "trialflow.signal.find_peaks: per-sample arrays as interval bounds are not supported; use SciPy for them"
        )
    return float(v)


def find_peaks(x, height=None, threshold=None, distance=None, prominence=None, width=None,
               wlen=None, rel_height=0.5, plateau_size=None, *, axis=-1):
    """``scipy.signal.find_peaks``: ``(peaks, properties)`` for 1-D ``x``; for N-D ``x``,
    a list of those per 1-D slice along ``axis``."""
    params = {"rel_height": float(rel_height)}
    for name, value in (("height", height), ("threshold", threshold), ("prominence", prominence),
                        ("width", width), ("plateau_size", plateau_size)):
        if value is not None:
            params[name] = _bound(value)
    if distance is not None:
        params["distance"] = float(distance)
    if wlen is not None:
        params["wlen"] = float(wlen)
    applied = apply("signal.find_peaks", "find_peaks", params, x, axis, "x")
    results = applied.events_per_slice()
    if applied.ndim == 1:
        return results[0]
    return results


def find_peaks_cwt(vector, widths, wavelet=None, max_distances=None, gap_thresh=None,
                   min_length=None, min_snr=1, noise_perc=10, window_size=None, *, axis=-1):
    """``scipy.signal.find_peaks_cwt`` (Ricker wavelet only): peak indices for 1-D input;
    for N-D input, a list of them per 1-D slice along ``axis``."""
    if wavelet is not None and getattr(wavelet, "__name__", wavelet) != "ricker":
        unsupported("signal.find_peaks_cwt", "wavelet", wavelet, "only the default Ricker wavelet")
    params = {"widths": np.atleast_1d(np.asarray(widths, dtype=np.float64)).tolist(),
              "min_snr": float(min_snr), "noise_perc": float(noise_perc)}
    if max_distances is not None:
        params["max_distances"] = np.atleast_1d(np.asarray(max_distances, dtype=np.float64)).tolist()
    if gap_thresh is not None:
        params["gap_thresh"] = float(gap_thresh)
    if min_length is not None:
        params["min_length"] = float(min_length)
    if window_size is not None:
        params["window_size"] = int(window_size)
    applied = apply("signal.find_peaks_cwt", "find_peaks_cwt", params, vector, axis, "vector")
    results = [peaks for peaks, _ in applied.events_per_slice()]
    if applied.ndim == 1:
        return results[0]
    return results


def savgol_filter(x, window_length, polyorder, deriv=0, delta=1.0, axis=-1, mode="interp", cval=0.0):
    """``scipy.signal.savgol_filter``."""
    params = {"window_length": int(window_length), "polyorder": int(polyorder), "deriv": int(deriv),
              "delta": float(delta), "mode": mode, "cval": float(cval)}
    applied = apply("signal.savgol_filter", "savgol", params, x, axis, "x")
    return applied.dense().astype(result_dtype(applied.dtype), copy=False)


def welch(x, fs=1.0, window="hann", nperseg=None, noverlap=None, nfft=None, detrend="constant",
          return_onesided=True, scaling="density", axis=-1, average="mean"):
    """``scipy.signal.welch``: ``(f, Pxx)``."""
    if return_onesided is not True:
        unsupported("signal.welch", "return_onesided", return_onesided, "only one-sided spectra of real input")
    if callable(detrend):
        unsupported("signal.welch", "detrend", detrend, "'constant', 'linear' or False")
    if isinstance(window, np.ndarray) or (isinstance(window, (list, tuple)) and window and not isinstance(window[0], str)):
        unsupported("signal.welch", "window", "<array>", "window names and (name, args...) tuples")
    params = {"window": list(window) if isinstance(window, tuple) else window,
              "detrend": detrend, "scaling": scaling, "average": average}
    array = np.asarray(x)
    n = array.shape[axis] if array.ndim else 0
    if nperseg is None:
        # SciPy's default, shortened to a shorter input with SciPy's warning.
        nperseg = 256
        if 0 < n < nperseg:
            warnings.warn(f"nperseg = {nperseg:d} is greater than input length  = {n:d}, using nperseg = {n:d}")
            nperseg = n
    params["nperseg"] = int(nperseg)
    if noverlap is not None:
        params["noverlap"] = int(noverlap)
    if nfft is not None:
        params["nfft"] = int(nfft)
    applied = apply("signal.welch", "welch", params, x, axis, "x", samplerate=fs)
    freqs = np.asarray(applied.raw["freq"], dtype=np.float64)
    pxx = applied.dense().astype(result_dtype(applied.dtype), copy=False)
    return freqs.astype(pxx.dtype, copy=False), pxx


def hilbert(x, N=None, axis=-1):
    """``scipy.signal.hilbert``: the analytic signal."""
    array = np.asarray(x)
    if N is not None and (array.ndim == 0 or int(N) != array.shape[axis]):
        unsupported("signal.hilbert", "N", N, "only the input's length along axis")
    applied = apply("signal.hilbert", "hilbert", {"output": "complex"}, x, axis, "x")
    out = applied.dense()
    return out.astype(np.complex64 if applied.dtype == np.float32 else np.complex128, copy=False)


_DETREND_TYPES = {"linear": "linear", "l": "linear", "constant": "constant", "c": "constant"}


def detrend(data, axis=-1, type="linear", bp=0, overwrite_data=False):
    """``scipy.signal.detrend`` (``overwrite_data`` is accepted; the input is never changed)."""
    if np.ndim(bp) != 0 or bp != 0:
        unsupported("signal.detrend", "bp", bp, "no breakpoints")
    if type not in _DETREND_TYPES:
        raise ValueError("Trend type must be 'linear' or 'constant'.")
    applied = apply("signal.detrend", "detrend", {"type": _DETREND_TYPES[type]}, data, axis, "data")
    return applied.dense().astype(result_dtype(applied.dtype), copy=False)
