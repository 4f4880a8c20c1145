"""Benchmarks of the Python package against SciPy (timings printed, never asserted).

    python python/benchmarks/bench.py [--quick]

1. trialflow.signal.find_peaks over a (64 x 400 000) float64 array along axis 1, against a
   Python loop of scipy.signal.find_peaks over the rows;
2. trialflow.ndimage.gaussian_filter1d on the same array, against SciPy's;
3. trialflow.compute of gaussian then find_peaks on 200 trials x 2000 samples x 64 channels,
   against the SciPy loop (gaussian_filter1d per trial, find_peaks per channel);
4. the per-call overhead of compute on a tiny input, in microseconds.

Each timing is the best of a few repeats; every comparison also checks the numbers agree.
"""

import os
import sys
import time

import numpy as np
import scipy.ndimage
import scipy.signal

import trialflow as tf


def best(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def report(name, ours, theirs):
    print(f"{name:<44} trialflow {ours * 1e3:9.1f} ms   scipy {theirs * 1e3:9.1f} ms   ratio {theirs / ours:6.2f}x")


def main(quick):
    rng = np.random.default_rng(1)
    repeats = 1 if quick else 3
    n = 40_000 if quick else 400_000
    wide = rng.standard_normal((64, n)).cumsum(axis=1) * 0.05 + rng.standard_normal((64, n))
    print(f"cores: {os.cpu_count()}, trialflow {tf.__version__}, numpy {np.__version__}")

    params = dict(height=1.0, distance=5, prominence=0.5)
    ours_t, ours = best(lambda: tf.signal.find_peaks(wide, axis=1, **params), repeats)
    theirs_t, theirs = best(lambda: [scipy.signal.find_peaks(row, **params) for row in wide], repeats)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(ours, theirs))
    report(f"find_peaks (64 x {n}) axis 1", ours_t, theirs_t)

    ours_t, ours = best(lambda: tf.ndimage.gaussian_filter1d(wide, 4.0, axis=1), repeats)
    theirs_t, theirs = best(lambda: scipy.ndimage.gaussian_filter1d(wide, 4.0, axis=1), repeats)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
    report(f"gaussian_filter1d (64 x {n}) axis 1", ours_t, theirs_t)

    n_trials = 20 if quick else 200
    trials = [rng.standard_normal((2000, 64)) for _ in range(n_trials)]
    steps = [{"routine": "gaussian", "sigma": 4.0}, {"routine": "find_peaks", "height": 0.2, "prominence": 0.1}]

    def scipy_loop():
        found = 0
        for trial in trials:
            smooth = scipy.ndimage.gaussian_filter1d(trial, 4.0, axis=0)
            for c in range(smooth.shape[1]):
                found += len(scipy.signal.find_peaks(smooth[:, c], height=0.2, prominence=0.1)[0])
        return found

    ours_t, ours = best(lambda: tf.compute(steps, trials, samplerate=1000.0, progress=False), repeats)
    theirs_t, theirs = best(scipy_loop, repeats)
    assert len(ours[0]) == theirs
    report(f"compute gaussian+find_peaks {n_trials}x2000x64", ours_t, theirs_t)

    tiny = np.ones((16, 1))
    step = [{"routine": "zscore"}]
    for _ in range(50):
        tf.compute(step, tiny, samplerate=1.0, progress=False)
    calls = 200 if quick else 2000
    start = time.perf_counter()
    for _ in range(calls):
        tf.compute(step, tiny, samplerate=1.0, progress=False)
    per_call = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    for _ in range(calls):
        tf.ndimage.gaussian_filter1d(tiny[:, 0], 1.0)
    per_dropin = (time.perf_counter() - start) / calls
    print(f"{'per-call overhead of compute (16 x 1)':<44} {per_call * 1e6:9.0f} us")
    print(f"{'per-call overhead of a drop-in (16 samples)':<44} {per_dropin * 1e6:9.0f} us")


if __name__ == "__main__":
    main("--quick" in sys.argv)
