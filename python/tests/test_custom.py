"""Routines written in Python, next to built-in steps, in every in-process mode."""

import numpy as np
import pytest

from conftest import same_bits

import trialflow as tf

RNG = np.random.default_rng(5)
TRIALS = [RNG.standard_normal((n, 6)) for n in (300, 280, 320, 310, 290)]
MODES = [
    {"mode": "sequential"},
    {"mode": "debug"},
    {"mode": "parallel", "workers": 1},
    {"mode": "parallel", "workers": 3},
]


class Envelope(tf.Routine):
    channel_independent = True

    def compute(self, trial):
        return np.abs(trial) * 2.0


class Halve(tf.Routine):
    """Keeps every second sample: a different output length."""

    def initialize(self, trial_shape, samplerate):
        return ((trial_shape[0] + 1) // 2, trial_shape[1])

    def compute(self, trial):
        return trial[::2]


@tf.routine(output_shape=lambda shape, fs: (shape[0] - 1, shape[1]))
def difference(trial):
    return np.diff(trial, axis=0)


@pytest.mark.parametrize("execution", MODES, ids=lambda e: "-".join(map(str, e.values())))
def test_python_routines_between_builtin_steps(execution):
    steps = [{"routine": "gaussian", "sigma": 2.0}, Envelope(), Halve(), difference]
    out = tf.compute(steps, TRIALS, samplerate=500.0, **execution)
    from scipy.ndimage import gaussian_filter1d

    for trial, got in zip(TRIALS, out):
        smooth = tf.compute([{"routine": "gaussian", "sigma": 2.0}], [trial], samplerate=500.0)[0]
        want = np.diff((np.abs(smooth) * 2.0)[::2], axis=0)
        assert same_bits(got, want)
        np.testing.assert_allclose(smooth, gaussian_filter1d(trial, 2.0, axis=0), rtol=1e-12, atol=1e-12)
    reference = tf.compute(steps, TRIALS, samplerate=500.0, mode="sequential")
    assert all(same_bits(a, b) for a, b in zip(out, reference))


def test_channel_groups_for_channel_independent_routines():
    whole = tf.compute([Envelope(), {"routine": "zscore"}], TRIALS, samplerate=500.0, mode="sequential")
    grouped = tf.compute([Envelope(), {"routine": "zscore"}], TRIALS, samplerate=500.0, workers=2, chan_per_worker=4)
    assert all(same_bits(a, b) for a, b in zip(whole, grouped))
    with pytest.raises(tf.UserError, match="chan_per_worker|channel"):
        tf.compute([Halve()], TRIALS, samplerate=500.0, chan_per_worker=2)


def test_step_options_and_events_after_a_python_step():
    steps = [{"routine": Envelope(), "name": "env", "save": True}, {"routine": "find_peaks", "height": 3.0}]
    out = tf.compute(steps, TRIALS, samplerate=500.0)
    assert sorted(out) == ["env", "find_peaks"]
    rows, props = out["find_peaks"]
    assert rows.shape[1] == 3 and len(props["peak_heights"]) == len(rows)
    assert np.all(props["peak_heights"] >= 3.0)


def test_python_routine_in_a_run(recording, tmp_path, h5py):
    doc = {
        "input": str(recording),
        "output": str(tmp_path / "custom.spy"),
        "execution": {"workers": 2},
        "steps": [{"routine": "detrend"}, {"routine": Envelope(), "name": "envelope", "save": True}, Halve()],
    }
    result = tf.run(doc)
    assert [o.tag for o in result.objects] == ["envelope", "Halve"]
    raw = list(tf.load(recording)["raw"].trials)
    expected = tf.compute([{"routine": "detrend"}, Envelope(), Halve()], raw, samplerate=1000.0, mode="sequential")
    loaded = tf.load(result["Halve"].path)
    assert all(same_bits(a, b) for a, b in zip(loaded.trials, expected))


def test_wrong_output_shape_names_the_trial():
    class Bad(tf.Routine):
        def compute(self, trial):
            return trial[:-1] if trial.shape[0] == 320 else trial

    with pytest.raises(tf.TrialflowError, match="trial 2") as caught:
        tf.compute([Bad()], TRIALS, samplerate=500.0)
    assert "shape" in str(caught.value)

    class BadInit(tf.Routine):
        def initialize(self, shape, fs):
            return (shape[0], shape[1] + 1)

    with pytest.raises(tf.UserError, match="trial 0"):
        tf.compute([BadInit()], TRIALS, samplerate=500.0)


def test_exceptions_in_python_code_become_run_errors_naming_the_trial():
    class Fails(tf.Routine):
        def compute(self, trial):
            if trial.shape[0] == 310:
                raise ZeroDivisionError("boom")
            return trial

    with pytest.raises(tf.RunError, match="trial 3.*ZeroDivisionError: boom"):
        tf.compute([Fails()], TRIALS, samplerate=500.0, mode="sequential")


def test_any_object_with_initialize_and_compute_is_a_routine():
    class Plain:  # no base class: duck typing, as the "a class with ..." says
        def initialize(self, trial_shape, samplerate):
            return trial_shape

        def compute(self, trial):
            return trial - trial.mean(axis=0)

    out = tf.compute([Plain()], TRIALS, samplerate=500.0, workers=2)
    assert all(same_bits(o, t - t.mean(axis=0)) for o, t in zip(out, TRIALS))
