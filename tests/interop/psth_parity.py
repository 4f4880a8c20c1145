#!/usr/bin/env python3
"""Loads a trialflow `psth` result with Syncopy and compares it with Syncopy's own
`spike_psth` of the same SpikeData (trialflow's `find_peaks` output, loaded with Syncopy).

    python psth_parity.py SPIKES RESULT.spy KWARGS_JSON

The script runs spy.spike_psth(spy.load(SPIKES), keeptrials=True, **KWARGS), opens the
result with spy.load (checksums verified) and checks: TimeLockData; samplerate; channel
labels; the whole trial definition exactly; `data` (every trial's histogram), `avg` and
`var` of Syncopy's shapes, NaN where Syncopy has NaN, values to 1e-5 relative or 1e-5 of
the largest magnitude (Syncopy sums float32 histograms in float32). Prints one JSON
object: {"ok": true, "worst": w} or {"error": "..."}.
"""
import json
import warnings

from _parity import one, report, run  # before syncopy: it sets Syncopy's folders

import numpy as np
import syncopy as spy


def main(spikes_path, result_path, kwargs_json):
    spikes = one(spy.load(spikes_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = spy.spike_psth(spikes, keeptrials=True, **json.loads(kwargs_json))
    got = one(spy.load(result_path, checksum=True))
    problems = []
    if type(got).__name__ != "TimeLockData":
        problems.append(f"{type(got).__name__}, Syncopy has TimeLockData")
    if abs(got.samplerate - want.samplerate) > 1e-9 * want.samplerate:
        problems.append(f"samplerate {got.samplerate}, Syncopy has {want.samplerate}")
    if list(got.channel) != list(want.channel):
        problems.append(f"channel {list(got.channel)}, Syncopy has {list(want.channel)}")
    g, w = np.asarray(got.trialdefinition), np.asarray(want.trialdefinition)
    if g.shape != w.shape or not np.array_equal(g, w):
        problems.append(f"trialdefinition {g.tolist()}, Syncopy has {w.tolist()}")
    worst = 0.0
    for name in ("data", "avg", "var"):
        a = np.asarray(getattr(got, name)[()], dtype=np.float64)
        b = np.asarray(getattr(want, name)[()], dtype=np.float64)
        if a.shape != b.shape:
            problems.append(f"{name} shape {list(a.shape)}, Syncopy has {list(b.shape)}")
            continue
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            problems.append(f"{name}: NaN at other places than Syncopy's")
            continue
        fin = ~np.isnan(b)
        if not fin.any():
            continue
        tol = np.maximum(1e-5 * np.abs(b[fin]), 1e-5 * np.abs(b[fin]).max())
        ratio = np.abs(a[fin] - b[fin]) / np.maximum(tol, np.finfo(float).tiny)
        worst = max(worst, float(ratio.max()))
        if ratio.max() > 1.0:
            problems.append(f"{name}: {a[fin][ratio.argmax()]}, Syncopy has {b[fin][ratio.argmax()]}")
    report(problems, worst=worst)


if __name__ == "__main__":
    run(main)
