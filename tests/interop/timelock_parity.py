#!/usr/bin/env python3
"""Loads a trialflow `timelock` result with Syncopy and compares it with Syncopy's own
`timelockanalysis` of the same input.

    python timelock_parity.py INPUT RESULT.spy KWARGS_JSON

The script runs spy.timelockanalysis(spy.load(INPUT), **KWARGS), opens the result with
spy.load (checksums verified) and checks: TimeLockData with Syncopy's dimord; samplerate
exactly, the input's channel labels (Syncopy's own result has default ones); `data` (the
kept trials cut to the window) and the whole trial definition exactly Syncopy's; `avg`,
`var` and `cov` of Syncopy's shapes with the same values to 1e-5 relative or 1e-5 of the
largest magnitude (Syncopy sums float32 trials in float32). Prints one JSON object:
{"ok": true, "worst": w} or {"error": "..."}.
"""
import json
import warnings

from _parity import one, report, run  # before syncopy: it sets Syncopy's folders

import numpy as np
import syncopy as spy


def main(input_path, result_path, kwargs_json):
    data = one(spy.load(input_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = spy.timelockanalysis(data, **json.loads(kwargs_json))
    got = one(spy.load(result_path, checksum=True))
    problems = []
    if type(got).__name__ != "TimeLockData" or list(got.dimord) != list(want.dimord):
        problems.append(f"{type(got).__name__} {got.dimord}, Syncopy has TimeLockData {want.dimord}")
    if got.samplerate != want.samplerate:
        problems.append(f"samplerate {got.samplerate}, Syncopy has {want.samplerate}")
    # Syncopy 2023.9's timelockanalysis builds its TimeLockData without the input's labels
    # (it gets default ones); trialflow keeps the input's.
    if list(got.channel) != list(data.channel):
        problems.append(f"channel {list(got.channel)}, the input has {list(data.channel)}")
    g, w = np.asarray(got.trialdefinition), np.asarray(want.trialdefinition)
    if g.shape != w.shape or not np.array_equal(g, w):
        problems.append(f"trialdefinition {g.tolist()}, Syncopy has {w.tolist()}")
    if len(got.trials) != len(want.trials):
        problems.append(f"{len(got.trials)} trials, Syncopy has {len(want.trials)}")
    gd, wd = np.asarray(got.data[()]), np.asarray(want.data[()])
    if gd.shape != wd.shape or not np.array_equal(gd.astype(np.float64), wd.astype(np.float64)):
        problems.append(f"data {list(gd.shape)} differs from Syncopy's {list(wd.shape)}")
    worst = 0.0
    for name in ("avg", "var", "cov"):
        a, b = getattr(got, name), getattr(want, name)
        if (a is None) != (b is None):
            problems.append(f"{name}: {'missing' if a is None else 'present'}, Syncopy's {'missing' if b is None else 'present'}")
            continue
        if a is None:
            continue
        a, b = np.asarray(a[()], dtype=np.float64), np.asarray(b[()], dtype=np.float64)
        if a.shape != b.shape:
            problems.append(f"{name} shape {list(a.shape)}, Syncopy has {list(b.shape)}")
            continue
        tol = np.maximum(1e-5 * np.abs(b), 1e-5 * np.abs(b).max())
        ratio = np.abs(a - b) / tol
        worst = max(worst, float(ratio.max()))
        if ratio.max() > 1.0:
            idx = np.unravel_index(int(ratio.argmax()), ratio.shape)
            problems.append(f"{name}{list(idx)}: {a[idx]}, Syncopy has {b[idx]}")
    report(problems, worst=worst)


if __name__ == "__main__":
    run(main)
