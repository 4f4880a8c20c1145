"""Ctrl-C (KeyboardInterrupt) stops a run between tasks, keeps it resumable, and raises."""

import _thread
import signal
import threading
import time

import numpy as np
import pytest

from conftest import same_bits

import trialflow as tf


class Slow(tf.Routine):
    channel_independent = True

    def compute(self, trial):
        time.sleep(0.05)
        return trial * 3.0


def interrupt_after(tasks, seen):
    def watch():
        while not seen or seen[-1][0] < tasks:
            time.sleep(0.01)
        _thread.interrupt_main()

    threading.Thread(target=watch, daemon=True).start()


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """Ctrl-C as Python delivers it by default (KeyboardInterrupt): importing Syncopy
    (dask_jobqueue) replaces the handler with one that exits."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def long_recording(cli, tmp_path):
    path = tmp_path / "long.spy"
    cli("generate", path, "--trials", 40, "--samples", 200, "--channels", 2, "--dtype", "f64")
    return path


def test_keyboard_interrupt_leaves_a_resumable_run(long_recording, tmp_path, h5py):
    doc = {
        "input": str(long_recording),
        "output": str(tmp_path / "out.spy"),
        "execution": {"mode": "sequential"},
        "steps": [{"routine": Slow(), "name": "slow"}],
    }
    seen = []
    interrupt_after(5, seen)
    with pytest.raises(KeyboardInterrupt):
        tf.run(doc, progress=lambda done, total: seen.append((done, total)))
    assert not (tmp_path / "out.spy").exists()
    assert (tmp_path / "out.spy.partial").exists()
    assert seen[-1][0] < 40

    resumed = tf.run(doc, resume=True, progress=False)
    assert resumed.resumed_from is not None and resumed.resumed_from >= 5
    fresh = tf.run(dict(doc, output=str(tmp_path / "fresh.spy")), progress=False)
    with h5py.File(resumed.objects[0].path, "r") as a, h5py.File(fresh.objects[0].path, "r") as b:
        assert same_bits(a["data"][()], b["data"][()])


def test_keyboard_interrupt_stops_compute():
    trials = [np.ones((50, 2))] * 200
    seen = []
    interrupt_after(3, seen)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        tf.compute([Slow()], trials, samplerate=100.0, mode="sequential",
                   progress=lambda done, total: seen.append((done, total)))
    assert time.monotonic() - started < 5.0  # 200 tasks would take 10 s
