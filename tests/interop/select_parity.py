#!/usr/bin/env python3
"""Compares a trialflow result of `select:` + `rectify` with Syncopy's own selection.

    python select_parity.py INPUT.analog RESULT.spy SELECTION_JSON

SELECTION_JSON holds `trials`, `channel` and `latency` as spy.selectdata takes them. The
script applies spy.selectdata to the input, takes |x| of every selected trial, and checks
that the trialflow result has the same number of trials, the same channel labels, the same
time axis per trial and the same values (float32, exactly). Prints one JSON object:
{"ok": true, "trials": N} or {"error": "..."}.
"""
import json

from _parity import one, report, run  # before syncopy: it sets Syncopy's folders

import numpy as np
import syncopy as spy


def main(input_path, result_path, selection_json):
    selection = json.loads(selection_json)
    data = spy.load(input_path)
    selected = spy.selectdata(data, **selection)
    result = one(spy.load(result_path))
    problems = []
    if len(selected.trials) != len(result.trials):
        problems.append(f"{len(result.trials)} trials, Syncopy has {len(selected.trials)}")
    if list(selected.channel) != list(result.channel):
        problems.append(f"channels {list(result.channel)}, Syncopy has {list(selected.channel)}")
    for i in range(min(len(selected.trials), len(result.trials))):
        want = np.abs(np.asarray(selected.trials[i])).astype(np.float32)
        got = np.asarray(result.trials[i])
        if want.shape != got.shape:
            problems.append(f"trial {i}: shape {got.shape}, Syncopy has {want.shape}")
            continue
        if not np.array_equal(want, got):
            problems.append(f"trial {i}: values differ")
        if not np.allclose(selected.time[i], result.time[i], rtol=0, atol=1e-12):
            problems.append(f"trial {i}: time {result.time[i][:2]}..., Syncopy has {selected.time[i][:2]}...")
    report(problems, trials=len(result.trials))


if __name__ == "__main__":
    run(main)
