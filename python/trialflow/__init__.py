"""trialflow for Python: run computational routines over the trials of multichannel
recordings, with the same engine, routines and files as the ``trialflow`` command.

- :func:`run` runs a pipeline (a YAML file, YAML text or a dict) exactly as ``trialflow run``;
- :func:`load` opens a ``.spy`` container or object file without reading its data;
- :func:`compute` runs steps over data in memory;
- :func:`routines` lists the built-in routines;
- :mod:`trialflow.signal` and :mod:`trialflow.ndimage` are SciPy drop-ins;
- :class:`Routine` and :func:`routine` make Python code a step.

All work happens in Rust with the GIL released.
"""

from . import _native
from ._compute import Events, Trials, compute
from ._custom import Routine, routine
from ._errors import RunError, TrialflowError, UserError
from ._load import Container, SpikeObject, SyncopyObject, load
from ._pipeline import RunResult, SavedObject, merge, run
from ._routines import RoutineInfo, routines
from . import ndimage, signal  # noqa: E402  (they use the names above)

__version__ = _native.__version__

__all__ = [
    "Container",
    "Events",
    "Routine",
    "RoutineInfo",
    "RunError",
    "RunResult",
    "SavedObject",
    "SpikeObject",
    "SyncopyObject",
    "TrialflowError",
    "Trials",
    "UserError",
    "compute",
    "load",
    "merge",
    "ndimage",
    "routine",
    "routines",
    "run",
    "signal",
]
