#!/usr/bin/env python3
"""Loads a trialflow `mtmconvol` result with Syncopy and compares it with Syncopy's own.

    python mtmconvol_parity.py INPUT.analog RESULT.spy KWARGS_JSON

KWARGS_JSON holds the spy.freqanalysis(method='mtmconvol') keyword arguments the trialflow
step used. The script runs Syncopy on the input, opens the result with spy.load (checksums
verified) and checks: SpectralData with Syncopy's dimord; the same trial definition,
samplerate, time axis of every trial, freq and taper labels (exactly); the same values to
1e-5 relative, or 4e-6 of the largest magnitude of the same time, taper and channel for
tiny values (tests/timefreq_mtmconvol.rs's rule). Prints one JSON object:
{"ok": true, "shape": [...], "worst": w} or {"error": "..."}.
"""
import json

from _parity import one, report, run  # before syncopy: it sets Syncopy's folders

import numpy as np
import syncopy as spy


def main(input_path, result_path, kwargs_json):
    kwargs = json.loads(kwargs_json)
    want = spy.freqanalysis(spy.load(input_path), method="mtmconvol", **kwargs)
    got = one(spy.load(result_path, checksum=True))
    problems = []
    if type(got).__name__ != "SpectralData" or list(got.dimord) != list(want.dimord):
        problems.append(f"{type(got).__name__} {got.dimord}, Syncopy has SpectralData {want.dimord}")
    if not np.array_equal(np.asarray(got.trialdefinition), np.asarray(want.trialdefinition)):
        problems.append(f"trialdefinition {np.asarray(got.trialdefinition).tolist()}, Syncopy has {np.asarray(want.trialdefinition).tolist()}")
    if got.samplerate != want.samplerate:
        problems.append(f"samplerate {got.samplerate}, Syncopy has {want.samplerate}")
    for i in range(min(len(got.trials), len(want.trials))):
        if not np.array_equal(got.time[i], want.time[i]):
            problems.append(f"trial {i}: time {got.time[i][:3]}..., Syncopy has {want.time[i][:3]}...")
    if not np.array_equal(got.freq, want.freq):
        problems.append(f"freq {got.freq}, Syncopy has {want.freq}")
    if list(got.taper) != list(want.taper):
        problems.append(f"taper {list(got.taper)}, Syncopy has {list(want.taper)}")
    a, b = np.asarray(got.data[()]), np.asarray(want.data[()])
    worst = None
    if a.shape != b.shape or a.dtype != b.dtype:
        problems.append(f"data {a.dtype}{list(a.shape)}, Syncopy has {b.dtype}{list(b.shape)}")
    else:
        a, b = a.astype(np.complex128), b.astype(np.complex128)
        peak = np.abs(b).max(axis=2, keepdims=True)
        tol = np.maximum(1e-5 * np.abs(b), 4e-6 * peak)
        ratio = np.abs(a - b) / np.where(tol > 0, tol, 1.0)
        worst = float(ratio.max())
        if worst > 1.0:
            idx = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            problems.append(f"value at {list(map(int, idx))}: {a[idx]} vs Syncopy's {b[idx]}")
    report(problems, shape=list(a.shape), worst=worst)


if __name__ == "__main__":
    run(main)
