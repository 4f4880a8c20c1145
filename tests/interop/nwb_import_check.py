#!/usr/bin/env python3
"""Checks a container that `trialflow import` wrote from an NWB series against pynwb:
Syncopy opens it (checksums verified), its values equal pynwb's data in volts
(data * conversion * channel_conversion + offset, rounded once to float32), and its trial
definition equals the NWB trials table mapped to samples by round((t - t0) * rate).

    python nwb_import_check.py SESSION.nwb SERIES_NAME CONTAINER.spy

Prints one JSON object: {"ok": true, ...} or {"error": "..."}.
"""

from _parity import one, report, run  # before syncopy: it sets Syncopy's folders

import numpy as np
import pynwb
import syncopy as spy


def main(nwb_path, series_name, container):
    with pynwb.NWBHDF5IO(nwb_path, "r") as io:
        nwb = io.read()
        es = next(o for o in nwb.objects.values()
                  if isinstance(o, pynwb.ecephys.ElectricalSeries) and o.name == series_name)
        data = es.data[:]
        cc = np.ones(data.shape[1]) if es.channel_conversion is None else np.asarray(es.channel_conversion[:])
        volts = data.astype(np.float64) * es.conversion * cc[None, :] + es.offset
        t0, rate = float(es.starting_time), float(es.rate)
        trials = nwb.trials.to_dataframe()
    obj = one(spy.load(container, checksum=True))
    trl = np.asarray(obj.trialdefinition)
    problems = []
    if obj.samplerate != rate:
        problems.append(f"samplerate {obj.samplerate} != {rate}")
    for i, row in trials.reset_index().iterrows():
        start = int(round((row.start_time - t0) * rate))
        stop = int(round((row.stop_time - t0) * rate))
        got = np.asarray(obj.trials[i])
        want = volts[start:stop].astype(np.float32)
        if got.shape != want.shape:
            problems.append(f"trial {i}: shape {got.shape} != {want.shape}")
        elif not np.array_equal(got, want):
            problems.append(f"trial {i}: values differ (max {np.max(np.abs(got - want))})")
        if trl[i, 1] - trl[i, 0] != stop - start:
            problems.append(f"trial {i}: trialdefinition length {trl[i,1]-trl[i,0]} != {stop - start}")
    report(problems, trials=int(len(trials)), channels=int(data.shape[1]))


if __name__ == "__main__":
    run(main)
