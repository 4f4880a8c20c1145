from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Mode = Literal["reflect", "mirror", "nearest", "constant", "wrap", "grid-mirror", "grid-constant", "grid-wrap"]
Output = npt.NDArray[Any] | npt.DTypeLike | None

def gaussian_filter1d(
    input: npt.ArrayLike,
    sigma: float,
    axis: int = -1,
    order: int = 0,
    output: Output = None,
    mode: Mode = "reflect",
    cval: float = 0.0,
    truncate: float = 4.0,
    *,
    radius: int | None = None,
) -> npt.NDArray[np.floating[Any]]: ...
def uniform_filter1d(
    input: npt.ArrayLike,
    size: int,
    axis: int = -1,
    output: Output = None,
    mode: Mode = "reflect",
    cval: float = 0.0,
    origin: int = 0,
) -> npt.NDArray[np.floating[Any]]: ...
def median_filter(
    input: npt.ArrayLike,
    size: int | tuple[int, ...] | None = None,
    footprint: npt.ArrayLike | None = None,
    output: Output = None,
    mode: Mode = "reflect",
    cval: float = 0.0,
    origin: int | tuple[int, ...] = 0,
    *,
    axes: int | tuple[int] | None = None,
) -> npt.NDArray[np.floating[Any]]: ...
