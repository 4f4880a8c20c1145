#!/usr/bin/env python3
"""Compares trialflow's `trials: {events, pre, post}` on a Syncopy input with Syncopy's own
`definetrial` given the trial definition those events map to (sample = round(t x fs) on the
stacked recording, one window length rounded once, offset -round(pre x fs)).

    python definetrial_parity.py INPUT.analog RESULT.spy EVENTS_JSON PRE POST

Checks that the trialflow result of `rectify` equals |x| of every trial Syncopy cuts, with
the same time axes. Prints {"ok": true, "trials": N} or {"error": "..."}.
"""
import json

from _parity import one, report, run  # before syncopy: it sets Syncopy's folders

import numpy as np
import syncopy as spy


def main(input_path, result_path, events_json, pre, post):
    events = json.loads(events_json)
    pre, post = float(pre), float(post)
    data = spy.load(input_path)
    fs = data.samplerate
    pre_n = int(round(pre * fs))
    length = int(round((pre + post) * fs))
    trl = np.array([[int(round(t * fs)) - pre_n, int(round(t * fs)) - pre_n + length, -pre_n] for t in events])
    spy.definetrial(data, trialdefinition=trl)
    result = one(spy.load(result_path))
    problems = []
    if len(data.trials) != len(result.trials):
        problems.append(f"{len(result.trials)} trials, Syncopy has {len(data.trials)}")
    for i in range(min(len(data.trials), len(result.trials))):
        want = np.abs(np.asarray(data.trials[i])).astype(np.float32)
        got = np.asarray(result.trials[i])
        if want.shape != got.shape or not np.array_equal(want, got):
            problems.append(f"trial {i}: values differ ({got.shape} vs {want.shape})")
        if not np.allclose(data.time[i], result.time[i], rtol=0, atol=1e-12):
            problems.append(f"trial {i}: time axes differ")
    report(problems, trials=len(result.trials))


if __name__ == "__main__":
    run(main)
