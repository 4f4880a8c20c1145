#!/usr/bin/env python3
"""The SciPy side of `cargo bench --bench routines`: the same routines, parameters and data
(20 trials x 2000 samples x 64 channels, float64 and float32, in memory), one trial at a time,
each result written into a preallocated output array as trialflow's MemorySink does.

    python benches/scipy_routines.py [ROUTINE ...] [--repeat 3] [--json]

Prints, per routine and dtype, the best of `--repeat` timings (default 3) as decimal MB/s of
input (8 bytes per value for float64, 4 for float32), plus the output size (values, or the
number of peaks) to check that both sides find the same peaks. `--json` prints one JSON line
per measurement instead of the table.

Calls (per trial `x`, samples x channels):
    gaussian        scipy.ndimage.gaussian_filter1d(x, 3.0, axis=0)
    savgol          scipy.signal.savgol_filter(x, 11, 3, axis=0)
    moving_average  scipy.ndimage.uniform_filter1d(x, 9, axis=0)
    median          scipy.ndimage.median_filter(x, size=(9, 1))
    find_peaks      scipy.signal.find_peaks(x[:, c], height=0.5, distance=5, prominence=0.2),
                    per channel in a Python loop
    find_peaks_cwt  scipy.signal.find_peaks_cwt(x[:, c], [2, 4, 8]), per channel, on 5 trials
    detrend         scipy.signal.detrend(x, axis=0)
    zscore          (x - x.mean(0)) / x.std(0)
    rectify         numpy.abs(x)
Input dtype is kept (SciPy computes float32 input in float32 or double, per function).

The signal matches `benches/routines.rs` (to numpy's `sin` rounding): per channel c, with
t = row / 1000, sin(2 pi (5 + c/2) t + c/10) + 0.4 sin(2 pi (40 + c) t) + 0.5 (u - 0.5), u the
splitmix64 hash of the flat index row * 64 + c.
"""
import argparse
import json
import platform
import time

import numpy as np
import scipy
from scipy.ndimage import gaussian_filter1d, median_filter, uniform_filter1d
from scipy.signal import detrend, find_peaks, find_peaks_cwt, savgol_filter

TRIALS, SAMPLES, CHANNELS = 20, 2000, 64
CWT_TRIALS = 5


def uniform(index):
    """splitmix64's finaliser of index + 1, as a uniform in [0, 1) (53 bits)."""
    u64 = np.uint64
    z = (index + u64(1)) * u64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
    z ^= z >> u64(31)
    return (z >> u64(11)).astype(np.float64) / float(2**53)


def signal():
    r = np.arange(TRIALS * SAMPLES, dtype=np.uint64)[:, None]
    c = np.arange(CHANNELS, dtype=np.uint64)[None, :]
    t = r.astype(np.float64) / 1000.0
    cf = c.astype(np.float64)
    two_pi = 2.0 * np.pi
    noise = uniform(r * np.uint64(CHANNELS) + c)
    return (np.sin(two_pi * (5.0 + cf / 2.0) * t + cf / 10.0)
            + 0.4 * np.sin(two_pi * (40.0 + cf) * t)
            + 0.5 * (noise - 0.5))


def dense(fn):
    def run(data, trials):
        out = np.empty_like(data[:trials * SAMPLES])
        for k in range(trials):
            rows = slice(k * SAMPLES, (k + 1) * SAMPLES)
            out[rows] = fn(data[rows])
        return out.size
    return run


def peaks(fn):
    def run(data, trials):
        found = []
        for k in range(trials):
            x = data[k * SAMPLES:(k + 1) * SAMPLES]
            for c in range(x.shape[1]):
                idx = fn(x[:, c])
                found.append(np.column_stack(
                    [idx + k * SAMPLES, np.full(len(idx), c), np.zeros(len(idx), np.int64)]))
        return int(sum(len(f) for f in found))
    return run


def _find_peaks(col):
    idx, props = find_peaks(col, height=0.5, distance=5, prominence=0.2)
    return idx


def _zscore(x):
    return (x - x.mean(axis=0)) / x.std(axis=0)


ROUTINES = {
    "gaussian": (dense(lambda x: gaussian_filter1d(x, 3.0, axis=0)), TRIALS),
    "savgol": (dense(lambda x: savgol_filter(x, 11, 3, axis=0)), TRIALS),
    "moving_average": (dense(lambda x: uniform_filter1d(x, 9, axis=0)), TRIALS),
    "median_filter": (dense(lambda x: median_filter(x, size=(9, 1))), TRIALS),
    "find_peaks": (peaks(_find_peaks), TRIALS),
    "find_peaks_cwt": (peaks(lambda col: np.asarray(find_peaks_cwt(col, [2, 4, 8]))), CWT_TRIALS),
    "detrend": (dense(lambda x: detrend(x, axis=0)), TRIALS),
    "zscore": (dense(_zscore), TRIALS),
    "rectify": (dense(np.abs), TRIALS),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("routines", nargs="*", default=list(ROUTINES))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    f64 = signal()
    inputs = {"float64": f64, "float32": f64.astype(np.float32)}
    if not args.json:
        print(f"# SciPy {scipy.__version__}, NumPy {np.__version__}, Python "
              f"{platform.python_version()}; best of {args.repeat}")
        print(f"{'routine':<16} {'dtype':<8} {'trials':>6} {'best s':>9} {'MB/s':>9} {'output':>10}")
    for name in args.routines:
        run, trials = ROUTINES[name]
        for dtype, data in inputs.items():
            best, size = float("inf"), None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                size = run(data, trials)
                best = min(best, time.perf_counter() - t0)
            nbytes = trials * SAMPLES * CHANNELS * data.dtype.itemsize
            mbs = nbytes / 1e6 / best
            if args.json:
                print(json.dumps({"routine": name, "dtype": dtype, "trials": trials,
                                  "seconds": best, "mb_per_s": mbs, "output": size,
                                  "scipy": scipy.__version__, "numpy": np.__version__}),
                      flush=True)
            else:
                print(f"{name:<16} {dtype:<8} {trials:>6} {best:>9.4f} {mbs:>9.1f} {size:>10}",
                      flush=True)


if __name__ == "__main__":
    main()
