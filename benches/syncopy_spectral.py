#!/usr/bin/env python3
"""The Syncopy side of issue 4's mtmfft comparison: spy.freqanalysis(method='mtmfft',
taper='hann', output='pow') on an AnalogData container, timed end to end (load, compute,
save), sequentially and on a 2-worker dask LocalCluster.

    target/interop-venv/bin/python benches/syncopy_spectral.py RECORDING.spy OUTDIR [--repeat N]
        [--trialflow "target/release/trialflow run mtmfft.yaml --overwrite -q"]

RECORDING.spy is what `trialflow generate RECORDING.spy --trials 200 --samples 2000
--channels 64` writes (float32, 102.4 MB). Each run loads the container with spy.load, runs
freqanalysis and saves the result with spy.save into OUTDIR (deleted first), the same work
as `trialflow run` of a one-step mtmfft pipeline. Prints one JSON line per run: mode,
seconds, MB/s of input. The cluster's start-up is not timed; it is set up as Syncopy's docs
describe for a workstation: a dask LocalCluster of 2 single-threaded workers with 4 GB each,
and freqanalysis(..., parallel=True).

With --trialflow, that command (a `trialflow run` of the same analysis, e.g. a pipeline with
one `mtmfft` step, taper hann, output pow) is timed right after every Syncopy run, so both
sides see the same machine load (the machines this was written on are shared); its lines
have "mode": "trialflow".
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import time


def run_once(spy, src, outdir, tag, parallel):
    dst = os.path.join(outdir, f"{tag}.spy")
    shutil.rmtree(dst, ignore_errors=True)
    t0 = time.perf_counter()
    data = spy.load(src)
    spec = spy.freqanalysis(data, method="mtmfft", taper="hann", output="pow", keeptrials=True,
                            parallel=parallel)
    spy.save(spec, container=dst)
    elapsed = time.perf_counter() - t0
    nbytes = data.data.size * data.data.dtype.itemsize
    shape = list(spec.data.shape)
    del spec, data
    return elapsed, nbytes, shape


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("recording")
    ap.add_argument("outdir")
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
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="4GB")
            client = Client(cluster)
        for r in range(args.repeat):
            elapsed, nbytes, shape = run_once(spy, args.recording, args.outdir, f"{mode}_{r}",
                                              parallel=client is not None)
            print(json.dumps({"mode": mode, "run": r, "seconds": round(elapsed, 3),
                              "mb_per_s": round(nbytes / 1e6 / elapsed, 2), "output_shape": shape}),
                  flush=True)
            if args.trialflow:
                t0 = time.perf_counter()
                subprocess.run(shlex.split(args.trialflow), check=True)
                tf = time.perf_counter() - t0
                print(json.dumps({"mode": "trialflow", "after": mode, "run": r,
                                  "seconds": round(tf, 3), "mb_per_s": round(nbytes / 1e6 / tf, 2)}),
                      flush=True)
        if client is not None:
            client.close()
            cluster.close()


if __name__ == "__main__":
    main()
