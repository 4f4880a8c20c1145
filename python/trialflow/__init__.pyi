import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from . import ndimage as ndimage
from . import signal as signal

__version__: str

class TrialflowError(Exception): ...
class UserError(TrialflowError, ValueError): ...
class RunError(TrialflowError, RuntimeError): ...

Progress = bool | None | Callable[[int, int], object]
Step = Mapping[str, Any] | Routine | str

class SavedObject:
    tag: str
    path: Path
    cls: str
    dtype: str
    shape: tuple[int, ...]

class RunResult:
    container: Path
    objects: list[SavedObject]
    tasks: int
    trials: int
    workers: int
    elapsed: float
    input_bytes: int
    warnings: list[str]
    resumed_from: int | None
    failed: list[int]
    shard: tuple[int, int] | None
    def __getitem__(self, tag: str) -> SavedObject: ...

def run(
    pipeline: str | os.PathLike[str] | Mapping[str, Any],
    *,
    overwrite: bool = False,
    resume: bool = False,
    set: str | Sequence[str] | Mapping[str, Any] | None = None,
    shard: tuple[int, int] | None = None,
    progress: Progress = None,
) -> RunResult: ...
def merge(
    pipeline: str | os.PathLike[str] | Mapping[str, Any],
    *,
    overwrite: bool = False,
    set: str | Sequence[str] | Mapping[str, Any] | None = None,
) -> RunResult: ...

class Trials(list[npt.NDArray[Any]]):
    name: str
    cls: str
    samplerate: float
    channel: list[str]
    freq: npt.NDArray[np.float64] | None
    taper: list[str] | None
    trialdefinition: npt.NDArray[np.float64]
    warnings: list[str]

class Events(tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[Any]]]):
    name: str
    cls: str
    samplerate: float
    channel: list[str]
    trialdefinition: npt.NDArray[np.float64]
    warnings: list[str]
    @property
    def rows(self) -> npt.NDArray[np.int64]: ...
    @property
    def properties(self) -> dict[str, npt.NDArray[Any]]: ...

def compute(
    steps: Step | Sequence[Step],
    data: npt.ArrayLike | Sequence[npt.ArrayLike] | Any,
    *,
    samplerate: float | None = None,
    trialdefinition: npt.ArrayLike | None = None,
    channels: Sequence[str] | None = None,
    workers: int | None = None,
    chan_per_worker: int | None = None,
    keeptrials: bool = True,
    mode: Literal["parallel", "sequential", "debug"] | None = None,
    progress: Progress = None,
) -> Trials | Events | dict[str, Trials | Events]: ...

class SyncopyObject:
    path: Path
    cls: str
    dtype: str
    shape: tuple[int, ...]
    samplerate: float | None
    channel: npt.NDArray[np.str_]
    trialdefinition: npt.NDArray[np.float64]
    freq: npt.NDArray[np.float64] | None
    taper: npt.NDArray[np.str_] | None
    unit: npt.NDArray[np.str_] | None
    trials: Sequence[npt.NDArray[Any]]
    @property
    def tag(self) -> str: ...
    @property
    def time(self) -> list[npt.NDArray[np.float64]]: ...
    def to_syncopy(self) -> Any: ...

class SpikeObject(SyncopyObject):
    @property
    def data(self) -> npt.NDArray[np.int64]: ...
    @property
    def property_names(self) -> list[str]: ...
    @property
    def properties(self) -> dict[str, npt.NDArray[Any]]: ...
    def __getattr__(self, name: str) -> npt.NDArray[Any]: ...

class Container(Mapping[str, SyncopyObject]):
    path: Path
    def __getitem__(self, tag: str) -> SyncopyObject: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...

def load(path: str | os.PathLike[str]) -> Container | SyncopyObject: ...

class Param:
    name: str
    kind: str
    default: str
    doc: str

class RoutineInfo:
    name: str
    summary: str
    matches: str
    input: str
    output: str
    example: str
    params: list[Param]
    defaults: dict[str, str]

def routines() -> list[RoutineInfo]: ...

class Routine:
    channel_independent: bool
    name: str | None
    def initialize(self, trial_shape: tuple[int, int], samplerate: float) -> tuple[int, int]: ...
    def compute(self, trial: npt.NDArray[np.float64]) -> npt.ArrayLike: ...
    def params(self) -> dict[str, Any]: ...

@overload
def routine(function: Callable[[npt.NDArray[np.float64]], npt.ArrayLike]) -> Routine: ...
@overload
def routine(
    function: None = None,
    *,
    output_shape: Literal["same"] | tuple[int, int] | Callable[[tuple[int, int], float], tuple[int, int]] = "same",
    channel_independent: bool = False,
    name: str | None = None,
) -> Callable[[Callable[[npt.NDArray[np.float64]], npt.ArrayLike]], Routine]: ...
