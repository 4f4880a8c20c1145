#!/usr/bin/env python3
"""The SciPy side of issue 3's end-to-end comparison: for every trial and channel of an
AnalogData file, gaussian_filter1d(sigma=3) then find_peaks(height, distance, prominence),
reading with h5py and writing the peaks (and properties) back to an HDF5 file.

    python benches/scipy_gaussian_peaks.py RECORDING.analog OUT.h5

Prints one JSON line: seconds, MB/s of input, number of peaks. Run it with the interop venv
(scripts/python-env.sh); `trialflow run` of the same pipeline is the other side.
"""
import json
import sys
import time

import h5py
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks


def main(src, dst):
    t0 = time.perf_counter()
    rows, heights, proms = [], [], []
    with h5py.File(src, "r") as f:
        data = f["data"]
        trl = f["trialdefinition"][()]
        nbytes = data.size * data.dtype.itemsize
        for start, stop in trl[:, :2].astype(int):
            trial = data[start:stop, :]
            smooth = gaussian_filter1d(trial, 3.0, axis=0)
            for c in range(smooth.shape[1]):
                peaks, props = find_peaks(smooth[:, c], height=0.5, distance=5, prominence=0.2)
                rows.append(np.column_stack([peaks + start, np.full(len(peaks), c), np.zeros(len(peaks), int)]))
                heights.append(props["peak_heights"])
                proms.append(props["prominences"])
    with h5py.File(dst, "w") as g:
        g["data"] = np.concatenate(rows).astype(np.int64)
        g["peak_heights"] = np.concatenate(heights)
        g["prominences"] = np.concatenate(proms)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "mb_per_s": nbytes / 1e6 / elapsed,
                      "peaks": int(sum(len(r) for r in rows))}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
