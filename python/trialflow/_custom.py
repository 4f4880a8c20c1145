"""Routines written in Python, usable as steps of ``compute`` and ``run``.

Two forms: a class with ``initialize(trial_shape, samplerate) -> output shape`` (a dry run
over every trial's shape, before anything is computed) and ``compute(trial) -> array``
(subclassing :class:`Routine` is optional), or a function decorated with :func:`routine`
that declares its output shape. They run with the GIL held: they parallelise only as far as
their own code releases it (numpy does for large arrays). Results are bitwise identical in
every execution mode, because each task's output is one call's output.
"""

import contextlib
import json
import re

import numpy as np

from . import _native


class Routine:
    """Optional base class for a routine written in Python.

    Override :meth:`compute`, and :meth:`initialize` when the output's number of samples
    differs from the input's. Set ``channel_independent = True`` when each output channel
    depends only on the same input channel: then ``chan_per_worker`` may split trials into
    channel groups. ``name`` is the default step name; :meth:`params` goes into the result's
    ``cfg`` (and into the run's identity, which ``resume`` compares).
    """

    channel_independent = False
    name = None

    def initialize(self, trial_shape, samplerate):
        """The output shape ``(samples, channels)`` for a trial of ``trial_shape``; raise to
        refuse a trial. The default keeps the shape."""
        return tuple(trial_shape)

    def compute(self, trial):
        """One trial (``samples x channels`` float64 array, a fresh copy) to its output."""
        raise NotImplementedError(f"{type(self).__name__}.compute")

    def params(self):
        """Parameters recorded in the result's ``cfg``; must be JSON-serialisable."""
        return {}


class _FunctionRoutine(Routine):
    def __init__(self, function, output_shape, channel_independent, name):
        self._function = function
        self._output_shape = output_shape
        self.channel_independent = channel_independent
        self.name = name or function.__name__
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    def initialize(self, trial_shape, samplerate):
        if self._output_shape is None or self._output_shape == "same":
            return tuple(trial_shape)
        if callable(self._output_shape):
            return tuple(self._output_shape(tuple(trial_shape), samplerate))
        return tuple(self._output_shape)

    def compute(self, trial):
        return self._function(trial)

    def __call__(self, trial):
        return self._function(trial)

    def params(self):
        return {"function": f"{self._function.__module__}.{self._function.__qualname__}"}


def routine(function=None, *, output_shape="same", channel_independent=False, name=None):
    """Makes ``function(trial) -> array`` a routine.

    ``output_shape`` is ``"same"`` (the trial's shape), a tuple ``(samples, channels)``, or a
    callable ``(trial_shape, samplerate) -> shape``. Use as ``@routine`` or
    ``@routine(output_shape=...)``.
    """

    def wrap(f):
        return _FunctionRoutine(f, output_shape, channel_independent, name)

    return wrap if function is None else wrap(function)


def is_routine(value):
    return (
        not isinstance(value, (str, bytes, dict))
        and callable(getattr(value, "compute", None))
        and callable(getattr(value, "initialize", None))
    )


def _label(obj):
    name = getattr(obj, "name", None) or type(obj).__name__
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(name)) or "python"


class _Adapter:
    """What the native routine calls: checks the user's answers and names the trial."""

    def __init__(self, user):
        self.user = user
        self.channel_independent = bool(getattr(user, "channel_independent", False))

    def cfg_json(self):
        params = self.user.params() if callable(getattr(self.user, "params", None)) else {}
        kind = type(self.user)
        return json.dumps({"python": f"{kind.__module__}.{kind.__qualname__}", "params": params})

    def initialize_trial(self, shape, samplerate, trial):
        shape = tuple(shape)
        out = self.user.initialize(shape, samplerate)
        try:
            out = tuple(int(v) for v in out)
        except TypeError:
            raise TypeError(f"trial {trial}: initialize returned {out!r}; expected a shape tuple") from None
        if len(out) != 2 or out[0] < 0 or out[1] != shape[1]:
            raise ValueError(
                f"trial {trial}: initialize returned shape {out}; expected (samples, {shape[1]}): "
                "a Python routine keeps the trial's channels"
            )
        return list(out)

    def compute_trial(self, trial, index, first_channel, end_channel, expected):
        out = self.user.compute(trial)
        array = np.asarray(out)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"trial {index}: compute returned a {array.dtype} array; expected real numbers")
        array = np.ascontiguousarray(array, dtype=np.float64)
        if array.shape != tuple(expected):
            raise ValueError(
                f"trial {index}: compute returned shape {array.shape}; initialize declared {tuple(expected)}"
            )
        return array


def _step_for(obj, options=None):
    step = dict(options or {})
    step["routine"] = "python"
    step["object"] = _native.lend_routine(_Adapter(obj))
    step.setdefault("name", _label(obj))
    return step


@contextlib.contextmanager
def lent_steps(steps, where="steps"):
    """The steps as plain dicts, Python routine objects lent to the native registry for the
    duration of the block."""
    if isinstance(steps, (dict, str)) or is_routine(steps):
        steps = [steps]
    try:
        steps = list(steps)
    except TypeError:
        raise TypeError(f"{where}: expected a list of steps, got {type(steps).__name__}") from None
    lent = []
    plain = []
    try:
        for i, step in enumerate(steps):
            if is_routine(step):
                built = _step_for(step)
                lent.append(built["object"])
            elif isinstance(step, dict) and is_routine(step.get("routine")):
                options = {k: v for k, v in step.items() if k != "routine"}
                built = _step_for(step["routine"], options)
                lent.append(built["object"])
            elif isinstance(step, dict):
                built = step
            elif isinstance(step, str):
                built = {"routine": step}
            else:
                raise TypeError(
                    f"{where}[{i}]: expected a step dict or a routine object, got {type(step).__name__}"
                )
            plain.append(built)
        yield plain
    finally:
        for ident in lent:
            _native.release_routine(ident)
