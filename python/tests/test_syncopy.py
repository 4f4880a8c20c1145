"""to_syncopy() round trips, and Syncopy AnalogData as compute input."""

import numpy as np
import pytest

from conftest import same_bits

import trialflow as tf

spy = pytest.importorskip("syncopy", reason="skipped: Syncopy is not installed")


@pytest.fixture(scope="module")
def results(recording, tmp_path_factory):
    folder = tmp_path_factory.mktemp("syncopy")
    steps = [{"routine": "gaussian", "sigma": 2, "save": True}, {"routine": "find_peaks", "prominence": 0.5, "save": True}]
    tf.run({"input": str(recording), "output": str(folder / "out.spy"), "steps": steps})
    tf.run({"input": str(recording), "output": str(folder / "spec.spy"), "steps": [{"routine": "welch", "nperseg": 64}]})
    return folder


def test_analog_round_trip(results):
    ours = tf.load(results / "out.spy")["gaussian"]
    theirs = ours.to_syncopy()
    assert type(theirs).__name__ == "AnalogData"
    assert theirs.samplerate == ours.samplerate
    assert list(theirs.channel) == list(ours.channel)
    assert len(theirs.trials) == len(ours.trials)
    for a, b in zip(ours.trials, theirs.trials):
        assert same_bits(a, np.asarray(b))
    np.testing.assert_array_equal(theirs.trialdefinition, ours.trialdefinition)
    for a, b in zip(ours.time, theirs.time):
        np.testing.assert_allclose(a, b)


def test_spectral_and_spike_round_trip(results):
    spectral = tf.load(results / "spec.spy")["welch"]
    theirs = spectral.to_syncopy()
    assert type(theirs).__name__ == "SpectralData"
    np.testing.assert_array_equal(theirs.freq, spectral.freq)
    assert same_bits(np.asarray(theirs.data[()]), np.concatenate(list(spectral.trials)))
    spikes = tf.load(results / "out.spy")["find_peaks"]
    theirs = spikes.to_syncopy()
    assert type(theirs).__name__ == "SpikeData"
    assert same_bits(np.asarray(theirs.data[()]), spikes.data)


def test_compute_takes_syncopy_analog_data(recording):
    data = tf.load(recording)["raw"].to_syncopy()
    from_syncopy = tf.compute([{"routine": "zscore"}], data)
    from_arrays = tf.compute([{"routine": "zscore"}], list(tf.load(recording)["raw"].trials), samplerate=1000.0)
    assert from_syncopy.channel == list(data.channel)
    assert all(same_bits(a, b) for a, b in zip(from_syncopy, from_arrays))
