#!/usr/bin/env python3
"""Loads a trialflow `mean`/`var`/`std`/`median` result with Syncopy and compares it with
Syncopy's own statistic of the same input.

    python statistics_parity.py INPUT RESULT.spy OPERATION DIM

The script runs spy.<OPERATION>(spy.load(INPUT), dim=DIM), opens the result with spy.load
(checksums verified) and checks: AnalogData with Syncopy's dimord; the same trial
definition, samplerate and channel labels (exactly); the same values to 1e-5 relative or
1e-5 of the largest magnitude of the input's channel (Syncopy sums float32 in float32), NaN
where Syncopy has NaN. Prints one JSON object: {"ok": true, "shape": [...], "worst": w} or
{"error": "..."}.
"""
import warnings

from _parity import one, report, run  # before syncopy: it sets Syncopy's folders

import numpy as np
import syncopy as spy


def main(input_path, result_path, operation, dim):
    data = one(spy.load(input_path))
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        want = getattr(spy, operation)(data, dim=dim)
    got = one(spy.load(result_path, checksum=True))
    problems = []
    if type(got).__name__ != "AnalogData" or list(got.dimord) != list(want.dimord):
        problems.append(f"{type(got).__name__} {got.dimord}, Syncopy has AnalogData {want.dimord}")
    if not np.array_equal(np.asarray(got.trialdefinition)[:, :3], np.asarray(want.trialdefinition)[:, :3]):
        problems.append(f"trialdefinition {np.asarray(got.trialdefinition).tolist()}, Syncopy has {np.asarray(want.trialdefinition).tolist()}")
    if got.samplerate != want.samplerate:
        problems.append(f"samplerate {got.samplerate}, Syncopy has {want.samplerate}")
    if list(got.channel) != list(want.channel):
        problems.append(f"channel {list(got.channel)}, Syncopy has {list(want.channel)}")
    a, b = np.asarray(got.data[()]), np.asarray(want.data[()])
    worst = None
    if a.shape != b.shape or a.dtype != b.dtype:
        problems.append(f"data {a.dtype}{list(a.shape)}, Syncopy has {b.dtype}{list(b.shape)}")
    else:
        a, b = a.astype(np.float64), b.astype(np.float64)
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            problems.append("NaN in different places")
        level = np.nanmax(np.abs(np.asarray(data.data[()], dtype=np.float64)), axis=0)
        tol = np.maximum(1e-5 * np.abs(b), 1e-5 * level[None, :])
        ok = ~np.isnan(b)
        ratio = np.where(ok, np.abs(a - b), 0.0) / np.where(tol > 0, tol, 1.0)
        worst = float(np.nanmax(ratio)) if ratio.size else 0.0
        if worst > 1.0:
            idx = np.unravel_index(int(np.nanargmax(ratio)), ratio.shape)
            problems.append(f"value at {list(map(int, idx))}: {a[idx]} vs Syncopy's {b[idx]}")
    report(problems, shape=list(a.shape), worst=worst)


if __name__ == "__main__":
    run(main)
