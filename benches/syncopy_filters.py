#!/usr/bin/env python3
"""Syncopy's side of the `butterworth` end-to-end comparison (issue 4): times

    spy.preprocessing(data, filter_class='but', filter_type='lp', freq=40, order=4,
                      direction='twopass')

on an AnalogData file, sequentially and on a 2-worker dask LocalCluster, each from
`spy.load` to `spy.save` of the result; then (with --trialflow) `trialflow run` of the same
filter on the same file, end to end, and prints the ratio to the faster Syncopy run.

    trialflow generate /tmp/bench/recording.spy --trials 200 --samples 2000 --channels 64
    target/interop-venv/bin/python benches/syncopy_filters.py \\
        /tmp/bench/recording.spy --trialflow target/release/trialflow --repeat 3

Prints one JSON object: the best of `--repeat` wall-clock times per run, in seconds, MB/s of
input, and speedup = faster Syncopy time / trialflow time; also the CPU seconds of the
sequential Syncopy run and of `trialflow run` (user + system), which other load on a shared
machine disturbs less than wall time, and the 1-minute load average. Syncopy runs need the interop venv
(scripts/python-env.sh: esi-syncopy 2023.9, scipy 1.13.1). The outputs of Syncopy and
trialflow are compared too (max |difference| relative to the largest input), so the timing
is of the same computation.
"""
import argparse
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def syncopy_run(src, out_dir, parallel):
    import syncopy as spy

    t0 = time.perf_counter()
    c0 = time.process_time()
    data = spy.load(src)
    filtered = spy.preprocessing(
        data, filter_class="but", filter_type="lp", freq=40, order=4, direction="twopass",
        parallel=parallel,
    )
    target = os.path.join(out_dir, "syncopy_out.spy")
    if os.path.exists(target):
        shutil.rmtree(target)
    spy.save(filtered, container=target)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    result = np.asarray(filtered.data[()])
    del filtered, data
    return elapsed, result, cpu


def trialflow_run(binary, src, out_dir):
    analog = glob.glob(os.path.join(src, "*.analog"))[0]
    pipeline = os.path.join(out_dir, "butterworth.yaml")
    with open(pipeline, "w") as f:
        f.write(
            f"input: {analog}\n"
            f"output: {os.path.join(out_dir, 'trialflow_out.spy')}\n"
            "execution:\n  mode: parallel\n  workers: 2\n"
            "steps:\n  - routine: butterworth\n    filter_type: lp\n    freq: 40\n"
            "    order: 4\n    direction: twopass\n"
        )
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([binary, "run", pipeline, "--overwrite", "-q"], check=True)
    elapsed = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return elapsed, os.path.join(out_dir, "trialflow_out.spy"), cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("recording", help="a .spy container holding one AnalogData")
    ap.add_argument("--trialflow", help="path to the trialflow binary (release build)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import h5py
    import syncopy as spy
    from dask.distributed import Client, LocalCluster

    analog = glob.glob(os.path.join(args.recording, "*.analog"))[0]
    with h5py.File(analog, "r") as f:
        nbytes = f["data"].size * f["data"].dtype.itemsize
        scale = float(np.max(np.abs(f["data"][()])))
    out_dir = tempfile.mkdtemp(prefix="syncopy-filters-")
    report = {"input_mb": nbytes / 1e6, "repeat": args.repeat,
              "syncopy": spy.__version__, "cores": os.cpu_count()}

    times = [syncopy_run(args.recording, out_dir, parallel=False) for _ in range(args.repeat)]
    report["syncopy_sequential_s"] = min(t for t, _, _ in times)
    # CPU seconds of the sequential run (this process only): less sensitive to other load.
    report["syncopy_sequential_cpu_s"] = min(c for _, _, c in times)
    reference = times[-1][1]

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="4GB")
    client = Client(cluster)
    try:
        times = [syncopy_run(args.recording, out_dir, parallel=True) for _ in range(args.repeat)]
    finally:
        client.close()
        cluster.close()
    report["syncopy_parallel2_s"] = min(t for t, _, _ in times)
    report["syncopy_parallel_vs_sequential_max_rel_diff"] = float(
        np.max(np.abs(times[-1][1] - reference)) / scale)
    best_syncopy = min(report["syncopy_sequential_s"], report["syncopy_parallel2_s"])

    if args.trialflow:
        runs = [trialflow_run(args.trialflow, args.recording, out_dir) for _ in range(args.repeat)]
        report["trialflow_parallel2_s"] = min(t for t, _, _ in runs)
        report["trialflow_cpu_s"] = min(c for _, _, c in runs)
        out_file = glob.glob(os.path.join(runs[-1][1], "*.analog"))[0]
        with h5py.File(out_file, "r") as f:
            ours = f["data"][()]
        report["trialflow_vs_syncopy_max_rel_diff"] = float(np.max(np.abs(ours - reference)) / scale)
        report["trialflow_mb_per_s"] = nbytes / 1e6 / report["trialflow_parallel2_s"]
        report["speedup_vs_faster_syncopy"] = best_syncopy / report["trialflow_parallel2_s"]
        report["cpu_time_ratio_syncopy_sequential_to_trialflow"] = (
            report["syncopy_sequential_cpu_s"] / report["trialflow_cpu_s"])
    report["syncopy_best_mb_per_s"] = nbytes / 1e6 / best_syncopy
    # The machine may be shared: the 1-minute load average says how busy it was.
    report["load_average_1min_at_end"] = os.getloadavg()[0]
    shutil.rmtree(out_dir, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
