from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

Bound = float | tuple[float | None, float | None] | None
Properties = dict[str, npt.NDArray[Any]]

def find_peaks(
    x: npt.ArrayLike,
    height: Bound = None,
    threshold: Bound = None,
    distance: float | None = None,
    prominence: Bound = None,
    width: Bound = None,
    wlen: float | None = None,
    rel_height: float = 0.5,
    plateau_size: Bound = None,
    *,
    axis: int = -1,
) -> tuple[npt.NDArray[np.intp], Properties] | list[tuple[npt.NDArray[np.intp], Properties]]: ...
def find_peaks_cwt(
    vector: npt.ArrayLike,
    widths: float | npt.ArrayLike,
    wavelet: Any = None,
    max_distances: float | npt.ArrayLike | None = None,
    gap_thresh: float | None = None,
    min_length: float | None = None,
    min_snr: float = 1,
    noise_perc: float = 10,
    window_size: int | None = None,
    *,
    axis: int = -1,
) -> npt.NDArray[np.intp] | list[npt.NDArray[np.intp]]: ...
def savgol_filter(
    x: npt.ArrayLike,
    window_length: int,
    polyorder: int,
    deriv: int = 0,
    delta: float = 1.0,
    axis: int = -1,
    mode: Literal["interp", "mirror", "nearest", "constant", "wrap"] = "interp",
    cval: float = 0.0,
) -> npt.NDArray[np.floating[Any]]: ...
def welch(
    x: npt.ArrayLike,
    fs: float = 1.0,
    window: str | tuple[Any, ...] = "hann",
    nperseg: int | None = None,
    noverlap: int | None = None,
    nfft: int | None = None,
    detrend: Literal["constant", "linear", False] = "constant",
    return_onesided: bool = True,
    scaling: Literal["density", "spectrum"] = "density",
    axis: int = -1,
    average: Literal["mean", "median"] = "mean",
) -> tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]: ...
def hilbert(x: npt.ArrayLike, N: int | None = None, axis: int = -1) -> npt.NDArray[np.complexfloating[Any, Any]]: ...
def detrend(
    data: npt.ArrayLike,
    axis: int = -1,
    type: Literal["linear", "l", "constant", "c"] = "linear",
    bp: int = 0,
    overwrite_data: bool = False,
) -> npt.NDArray[np.floating[Any]]: ...
