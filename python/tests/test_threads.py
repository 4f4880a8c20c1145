"""Many Python threads calling trialflow at once, and a dask map over files."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from conftest import same_bits

import trialflow as tf

RNG = np.random.default_rng(11)
X = RNG.standard_normal((8, 4000))


def work(i):
    if i % 4 == 0:
        return tf.ndimage.gaussian_filter1d(X, 1.0 + i, axis=1)
    if i % 4 == 1:
        return tf.signal.find_peaks(X[i % 8], prominence=0.5)[0]
    if i % 4 == 2:
        return np.concatenate(tf.compute([{"routine": "savgol", "window_length": 9, "polyorder": 2}], X.T, samplerate=100.0))
    return tf.signal.welch(X, fs=100.0, nperseg=128)[1]


def test_concurrent_calls_give_the_serial_results():
    serial = [work(i) for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(work, range(24)))
    for a, b in zip(serial, concurrent):
        assert same_bits(a, b)


def test_concurrent_runs_and_loads(recording, tmp_path):
    def one(i):
        out = tmp_path / f"t{i}.spy"
        tf.run({"input": str(recording), "output": str(out), "steps": [{"routine": "gaussian", "sigma": 1 + i % 3}]})
        return np.concatenate(list(tf.load(out)["gaussian"].trials))

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, range(6)))
    for i in range(3):
        assert same_bits(results[i], results[i + 3])


def test_dask_map_over_files(recording, tmp_path):
    dask = pytest.importorskip("dask", reason="skipped: dask is not installed")
    import dask.bag

    files = []
    for i in range(4):
        path = tmp_path / f"rec{i}.npy"
        np.save(path, RNG.standard_normal((2000, 3)))
        files.append(path)

    def peaks_per_channel(path):
        data = np.load(path)
        rows, _ = tf.compute([{"routine": "gaussian", "sigma": 3}, {"routine": "find_peaks", "prominence": 0.2}],
                             data, samplerate=1000.0)
        return np.bincount(rows[:, 1], minlength=data.shape[1])

    counts = dask.bag.from_sequence(files, npartitions=4).map(peaks_per_channel).compute(scheduler="threads")
    assert [c.tolist() for c in counts] == [peaks_per_channel(f).tolist() for f in files]
    assert dask.__version__
