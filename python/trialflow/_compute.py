"""``compute``: fused steps over data in memory, with the engine ``trialflow run`` uses."""

import numpy as np

from . import _json, _native
from ._arrays import real_array
from ._custom import lent_steps
from ._errors import UserError
from ._progress import progress_reporter


class Trials(list):
    """A dense output: one array per trial (views into one stacked array), with the
    output's metadata as attributes (``samplerate``, ``channel``, ``freq`` and ``taper`` for
    spectra, ``trialdefinition``)."""

    name = None
    cls = None

    def __repr__(self):
        shapes = ", ".join(str(t.shape) for t in self[:3]) + (", ..." if len(self) > 3 else "")
        return f"<{self.cls} '{self.name}': {len(self)} trials [{shapes}]>"


class Events(tuple):
    """An event output: ``(rows, properties)`` where ``rows`` is an int64 array of
    ``[sample, channel, unit]`` rows (samples in the recording's sample space) and
    ``properties`` a dict of row-aligned arrays named as SciPy names them."""

    name = None
    cls = None

    def __new__(cls, rows, properties):
        return super().__new__(cls, (rows, properties))

    @property
    def rows(self):
        return self[0]

    @property
    def properties(self):
        return self[1]


def _metadata(target, raw):
    target.name = raw["name"]
    target.cls = raw["class"]
    target.samplerate = raw["samplerate"]
    target.channel = list(raw["channel"])
    target.freq = None if raw["freq"] is None else np.asarray(raw["freq"])
    target.taper = raw["taper"]
    cols = raw["trialdefinition_columns"]
    target.trialdefinition = np.asarray(raw["trialdefinition"]).reshape(-1, cols)
    target.warnings = list(raw["warnings"])
    return target


def output(raw):
    """One saved object from the native call as Python values."""
    if raw["events"] is not None:
        ev = raw["events"]
        rows = np.column_stack([ev["sample"], ev["channel"], ev["unit"]]).astype(np.int64, copy=False)
        return _metadata(Events(rows.reshape(-1, 3), dict(ev["columns"])), raw)
    data = raw["data"]
    if raw["complex"]:
        data = data.view(np.complex128)[..., 0]
    return _metadata(Trials(data[a:b] for a, b in raw["trials"]), raw)


def _syncopy(data):
    kind = type(data)
    return kind.__name__ == "AnalogData" and kind.__module__.split(".")[0] == "syncopy"


def recording(data, samplerate, trialdefinition, channels):
    """(samples x channels float64, trialdefinition rows, columns, samplerate, channels,
    float32) from the forms ``compute`` accepts."""
    if _syncopy(data):
        if trialdefinition is not None:
            raise UserError("trialdefinition: a Syncopy AnalogData brings its own; leave trialdefinition out")
        trialdefinition = np.asarray(data.trialdefinition, dtype=np.float64)
        samplerate = data.samplerate if samplerate is None else samplerate
        channels = list(data.channel) if channels is None else channels
        data = np.asarray(data.data[()])
    if samplerate is None:
        raise TypeError("samplerate: required (in Hz)")
    try:
        samplerate = float(samplerate)
    except (TypeError, ValueError):
        raise TypeError(f"samplerate: expected a number, got {samplerate!r}") from None
    if not np.isfinite(samplerate) or samplerate <= 0:
        raise UserError(f"samplerate: expected a positive number, got {samplerate}")

    if isinstance(data, (list, tuple)):
        if trialdefinition is not None:
            raise UserError("trialdefinition: only for one 2-D array; a list of trials defines its own")
        if not data:
            raise UserError("data: the list of trials is empty")
        trials = []
        for i, trial in enumerate(data):
            array = real_array(trial, f"data[{i}]")
            if array.ndim != 2:
                raise UserError(f"data[{i}]: expected a 2-D array (samples x channels), got shape {array.shape}")
            if trials and array.shape[1] != trials[0].shape[1]:
                raise UserError(
                    f"data[{i}]: has {array.shape[1]} channels; data[0] has {trials[0].shape[1]}"
                )
            trials.append(array)
        float32 = all(t.dtype == np.float32 for t in trials)
        stacked = np.concatenate([np.asarray(t, dtype=np.float64) for t in trials], axis=0)
        ends = np.cumsum([t.shape[0] for t in trials])
        starts = ends - np.array([t.shape[0] for t in trials])
        trl = np.column_stack([starts, ends, np.zeros(len(trials))]).astype(np.float64)
    else:
        array = real_array(data, "data")
        if array.ndim != 2:
            raise UserError(f"data: expected a 2-D array (samples x channels) or a list of them, got shape {array.shape}")
        float32 = array.dtype == np.float32
        stacked = np.ascontiguousarray(array, dtype=np.float64)
        if trialdefinition is None:
            trl = np.array([[0.0, stacked.shape[0], 0.0]])
        else:
            trl = real_array(trialdefinition, "trialdefinition").astype(np.float64)
            if trl.ndim != 2 or trl.shape[1] < 2:
                raise UserError(
                    f"trialdefinition: expected rows [start, stop, offset, ...], got shape {trl.shape}"
                )
            if trl.shape[1] == 2:
                trl = np.column_stack([trl, np.zeros(trl.shape[0])])
    if channels is not None:
        channels = [str(c) for c in channels]
        if len(channels) != stacked.shape[1]:
            raise UserError(f"channels: {len(channels)} labels for {stacked.shape[1]} channels")
    trl = np.ascontiguousarray(trl, dtype=np.float64)
    return stacked, trl, samplerate, channels, float32


def _execution(workers, chan_per_worker, keeptrials, mode):
    execution = {"keeptrials": bool(keeptrials)}
    if mode is not None:
        execution["mode"] = mode
    if workers is not None:
        execution["workers"] = workers
    if chan_per_worker is not None:
        execution["chan_per_worker"] = chan_per_worker
    return execution


def run_steps(steps, stacked, trl, samplerate, channels, float32, execution, progress=False):
    """The native in-memory run; returns the saved objects' raw dicts."""
    with lent_steps(steps) as plain:
        if not any(isinstance(s, dict) and s.get("save") for s in plain):
            plain = list(plain)
            plain[-1] = dict(plain[-1], save=True)
        document = _json.dumps({"execution": execution, "steps": plain})
        reporter = progress_reporter(progress, "trialflow compute")
        try:
            return _native.compute(
                document,
                stacked,
                samplerate,
                trl.reshape(-1),
                trl.shape[1],
                channels=channels,
                float32=float32,
                progress=reporter,
            )
        finally:
            if reporter is not None:
                reporter.close()


def compute(
    steps,
    data,
    *,
    samplerate=None,
    trialdefinition=None,
    channels=None,
    workers=None,
    chan_per_worker=None,
    keeptrials=True,
    mode=None,
    progress=None,
):
    """Runs ``steps`` (step dicts as in a pipeline's YAML, or Python routine objects) over
    data in memory, fused: each trial passes through every step before the next.

    ``data`` is a list of 2-D arrays (samples x channels), one per trial; or one 2-D array
    with ``trialdefinition`` rows ``[start, stop, offset, ...]`` (the whole array is one
    trial without it); or a Syncopy ``AnalogData``. ``mode`` is ``"parallel"`` (default),
    ``"sequential"`` or ``"debug"``; ``workers`` and ``chan_per_worker`` as in a pipeline's
    ``execution``. The output of the saved steps (``save: true``; the last step when none
    is) is returned: dense outputs as :class:`Trials` (a list of arrays, one per trial),
    events as :class:`Events` ``(rows, properties)``. With several saved steps, a dict by
    step name. The numbers are bitwise those ``trialflow run`` stores as float64.
    """
    stacked, trl, samplerate, channels, float32 = recording(data, samplerate, trialdefinition, channels)
    execution = _execution(workers, chan_per_worker, keeptrials, mode)
    raws = run_steps(steps, stacked, trl, samplerate, channels, float32, execution, progress)
    outputs = [output(raw) for raw in raws]
    if len(outputs) == 1:
        return outputs[0]
    return {o.name: o for o in outputs}
