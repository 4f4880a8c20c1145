"""Progress display: tqdm when installed, a text line otherwise, off with progress=False."""

import builtins
import time

import numpy as np
import pytest

import trialflow as tf


class Slow(tf.Routine):
    def compute(self, trial):
        time.sleep(0.03)
        return trial


TRIALS = [np.ones((20, 2))] * 30   # about 0.9 s: past the bar's half-second delay


def test_tqdm_bar_on_stderr(capsys):
    pytest.importorskip("tqdm", reason="skipped: tqdm is not installed")
    tf.compute([Slow()], TRIALS, samplerate=10.0, mode="sequential", progress=True)
    err = capsys.readouterr().err
    assert "trialflow compute" in err and "30/30" in err


def test_text_line_without_tqdm(capsys, monkeypatch):
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    tf.compute([Slow()], TRIALS, samplerate=10.0, mode="sequential", progress=True)
    err = capsys.readouterr().err
    assert "trialflow compute: 30/30 tasks (100%)" in err


def test_progress_false_prints_nothing(capsys):
    tf.compute([Slow()], TRIALS[:5], samplerate=10.0, mode="sequential", progress=False)
    assert capsys.readouterr().err == ""
