#!/usr/bin/env python3
"""The Syncopy side of issue 14's time-frequency comparisons: spy.freqanalysis with
method mtmconvol, wavelet or superlet on an AnalogData container, timed end to end (load,
compute, spy.save), sequentially and on a 2-worker dask LocalCluster, each run followed by
the trialflow command given with --trialflow (so both see the same machine load).

    target/interop-venv/bin/python benches/syncopy_timefreq.py METHOD RECORDING.spy OUTDIR \\
        [--trials N] [--repeat R] [--modes sequential,parallel2] \\
        [--trialflow "target/release/trialflow run tf.yaml --overwrite -q"]

RECORDING.spy: `trialflow generate RECORDING.spy --trials 200 --samples 2000 --channels 64`
(float32, 102.4 MB, 1000 Hz). --trials N uses the first N trials only (spy.selectdata before
the timed part; give trialflow the same `select: {trials: [...]}`).

METHOD settings (the issue's benchmarks; the trialflow pipeline must use the same):
  mtmconvol  taper hann, t_ftimwin 0.5 s, toi 0.5 (half-window overlap), output pow
  wavelet    Morlet (width 6), foi = linspace(1, 100, 50), toi every 10th sample, output pow
  superlet   order_min 1, order_max 10, adaptive, c_1 3, foi = linspace(1, 100, 50),
             toi every 10th sample, output pow

One JSON line per run: mode, seconds, MB/s of input, MB/s of output (float32 bytes of the
result), output shape.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import time

import numpy as np


def settings(method, data):
    foi = np.linspace(1, 100, 50)
    toi = data.time[0][::10]
    return {
        "mtmconvol": dict(method="mtmconvol", taper="hann", t_ftimwin=0.5, toi=0.5, output="pow"),
        "wavelet": dict(method="wavelet", wavelet="Morlet", width=6, foi=foi, toi=toi,
                        output="pow"),
        "superlet": dict(method="superlet", order_min=1, order_max=10, adaptive=True, c_1=3,
                         foi=foi, toi=toi, output="pow"),
    }[method]


def run_once(spy, src, outdir, tag, method, n_trials, parallel):
    dst = os.path.join(outdir, f"{tag}.spy")
    shutil.rmtree(dst, ignore_errors=True)
    data = spy.load(src)
    if n_trials:
        data = spy.selectdata(data, trials=list(range(n_trials)))
    kwargs = settings(method, data)
    t0 = time.perf_counter()
    if not n_trials:
        data = spy.load(src)
    spec = spy.freqanalysis(data, keeptrials=True, parallel=parallel, **kwargs)
    spy.save(spec, container=dst)
    elapsed = time.perf_counter() - t0
    in_bytes = sum(t.size for t in data.trials) * 4
    out_bytes = int(np.prod(spec.data.shape)) * 4
    shape = list(spec.data.shape)
    del spec, data
    return elapsed, in_bytes, out_bytes, shape


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("method", choices=["mtmconvol", "wavelet", "superlet"])
    ap.add_argument("recording")
    ap.add_argument("outdir")
    ap.add_argument("--trials", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--modes", default="sequential,parallel2")
    ap.add_argument("--trialflow", default=None, help="a trialflow command to time after each run")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    import syncopy as spy

    for mode in args.modes.split(","):
        client = None
        if mode == "parallel2":
            from dask.distributed import Client, LocalCluster
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="8GB")
            client = Client(cluster)
        for r in range(args.repeat):
            elapsed, in_bytes, out_bytes, shape = run_once(
                spy, args.recording, args.outdir, f"{mode}_{r}", args.method, args.trials,
                parallel=client is not None)
            print(json.dumps({"method": args.method, "mode": mode, "run": r,
                              "seconds": round(elapsed, 3),
                              "in_mb_per_s": round(in_bytes / 1e6 / elapsed, 2),
                              "out_mb_per_s": round(out_bytes / 1e6 / elapsed, 2),
                              "output_shape": shape}), flush=True)
            if args.trialflow:
                t0 = time.perf_counter()
                subprocess.run(shlex.split(args.trialflow), check=True)
                tf = time.perf_counter() - t0
                print(json.dumps({"method": args.method, "mode": "trialflow", "after": mode,
                                  "run": r, "seconds": round(tf, 3),
                                  "in_mb_per_s": round(in_bytes / 1e6 / tf, 2),
                                  "out_mb_per_s": round(out_bytes / 1e6 / tf, 2)}), flush=True)
        if client is not None:
            client.close()
            cluster.close()


if __name__ == "__main__":
    main()
