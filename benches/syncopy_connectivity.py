#!/usr/bin/env python3
"""The Syncopy side of issue 15's benchmarks: connectivity (coherence, Granger), timelock and
psth, timed end to end (load, compute, spy.save), sequentially and on a 2-worker dask
LocalCluster, each run followed by the trialflow command given with --trialflow (so both see
the same machine load).

    target/interop-venv/bin/python benches/syncopy_connectivity.py ANALYSIS INPUT.spy OUTDIR \\
        [--repeat R] [--modes sequential,parallel2] \\
        [--trialflow "target/release/trialflow run coh.yaml --overwrite -q"] \\
        [--trialflow-python coh.yaml --trialflow-set execution.durable=true]

INPUT.spy: for coh, granger and timelock the recording
`trialflow generate recording.spy --trials 200 --samples 2000 --channels 16` (or 64; float32,
1000 Hz); for psth the SpikeData that `trialflow run peaks.yaml` makes from it (gaussian
sigma 3, then find_peaks height 0.5, distance 5, prominence 0.2). benches/connectivity.sh
runs everything; benches/connectivity/*.yaml are the trialflow pipelines with the same
settings as ANALYSIS below:

  coh       connectivityanalysis(method='coh', tapsmofrq=2, output='abs')
  granger   connectivityanalysis(method='granger', tapsmofrq=2)
  timelock  timelockanalysis(latency='maxperiod', covariance=True, keeptrials=False)
  psth      spike_psth(binsize=0.01, output='rate', latency='maxperiod', vartriallen=True,
            keeptrials=True): Syncopy 2023.9's keeptrials=False fails ("spy_data: empty");
            with True it computes the same avg and var and keeps the trials too
            (trialflow's psth takes keeptrials false only)

One JSON line per run: analysis, mode, run, seconds, MB/s of input (the bytes of the input
object's data: float32 samples, or the int64 spike table for psth), CPU seconds (user +
system; Syncopy's own process only, so not the dask workers'), output shape; and one per
trialflow run ("mode": "trialflow", "after": the Syncopy mode it followed). On a shared
machine the CPU seconds say more than the wall time; compare both.

Syncopy is timed inside its Python process, after `import syncopy` (about 3 s, not counted);
the command line `trialflow run` is timed as a whole process (its start counted). With
--trialflow-python PIPELINE, the same pipeline also runs through the Python package
(`trialflow.run(PIPELINE, overwrite=True)`) in this process after `import trialflow`: timed
like Syncopy, the like-for-like pair ("mode": "trialflow-python", CPU seconds of this process,
which include trialflow's worker threads).
"""
import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import time


def analyse(spy, analysis, data, parallel):
    if analysis == "coh":
        return spy.connectivityanalysis(data, method="coh", tapsmofrq=2,
                                        output="abs", parallel=parallel)
    if analysis == "granger":
        return spy.connectivityanalysis(data, method="granger", tapsmofrq=2,
                                        parallel=parallel)
    if analysis == "timelock":
        return spy.timelockanalysis(data, latency="maxperiod", covariance=True,
                                    keeptrials=False, parallel=parallel)
    if analysis == "psth":
        return spy.spike_psth(data, binsize=0.01, output="rate", latency="maxperiod",
                              vartriallen=True, keeptrials=True, parallel=parallel)
    raise ValueError(analysis)


def run_once(spy, analysis, src, outdir, tag, parallel):
    dst = os.path.join(outdir, f"{analysis}_{tag}.spy")
    shutil.rmtree(dst, ignore_errors=True)
    t0, c0 = time.perf_counter(), time.process_time()
    data = spy.load(src)
    result = analyse(spy, analysis, data, parallel)
    spy.save(result, container=dst)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    nbytes = data.data.size * data.data.dtype.itemsize
    shape = list(result.data.shape)
    del result, data
    return elapsed, cpu, nbytes, shape


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("analysis", choices=["coh", "granger", "timelock", "psth"])
    ap.add_argument("input")
    ap.add_argument("outdir")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="sequential,parallel2")
    ap.add_argument("--trialflow", default=None, help="a trialflow command to time after each run")
    ap.add_argument("--trialflow-output", default=None,
                    help="trialflow's output, removed before each timed run (Syncopy writes a "
                         "new folder each run, so neither pays for deleting the last one)")
    ap.add_argument("--trialflow-python", default=None,
                    help="a pipeline to run in this process with trialflow.run after each run")
    ap.add_argument("--trialflow-set", action="append", default=[],
                    help="a --set edit for --trialflow-python (repeatable)")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    # Only the JSON lines go to stdout: Syncopy's banner and progress bars (and the dask
    # workers', which inherit the descriptor) go to stderr.
    report = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    def emit(record):
        print(json.dumps(record), file=report, flush=True)

    import syncopy as spy
    if args.trialflow_python:
        import trialflow

    for mode in args.modes.split(","):
        client = None
        if mode == "parallel2":
            from dask.distributed import Client, LocalCluster
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="8GB")
            client = Client(cluster)
        for r in range(args.repeat):
            elapsed, cpu, nbytes, shape = run_once(spy, args.analysis, args.input, args.outdir,
                                              f"{mode}_{r}", parallel=client is not None)
            emit({"analysis": args.analysis, "mode": mode, "run": r,
                  "seconds": round(elapsed, 3), "mb_per_s": round(nbytes / 1e6 / elapsed, 2),
                  # this process's CPU (with dask, the workers' is not in it)
                  "cpu_seconds": round(cpu, 3), "output_shape": shape})
            if args.trialflow:
                if args.trialflow_output:
                    shutil.rmtree(args.trialflow_output, ignore_errors=True)
                t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run(shlex.split(args.trialflow), check=True)
                tf = time.perf_counter() - t0
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                tf_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
                emit({"analysis": args.analysis, "mode": "trialflow", "after": mode, "run": r,
                      "seconds": round(tf, 3), "mb_per_s": round(nbytes / 1e6 / tf, 2),
                      "cpu_seconds": round(tf_cpu, 3)})
            if args.trialflow_python:
                if args.trialflow_output:
                    shutil.rmtree(args.trialflow_output, ignore_errors=True)
                t0, c0 = time.perf_counter(), time.process_time()
                trialflow.run(args.trialflow_python, overwrite=True, set=args.trialflow_set,
                              progress=False)
                tf, tf_cpu = time.perf_counter() - t0, time.process_time() - c0
                emit({"analysis": args.analysis, "mode": "trialflow-python", "after": mode,
                      "run": r, "seconds": round(tf, 3), "mb_per_s": round(nbytes / 1e6 / tf, 2),
                      "cpu_seconds": round(tf_cpu, 3)})
        if client is not None:
            client.close()
            cluster.close()


if __name__ == "__main__":
    main()
