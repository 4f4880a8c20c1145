#!/usr/bin/env python3
"""Issue 17's peer table: every peer and `trialflow run`, as whole processes, in one run.

    python benches/peers.py make DIR                 # DIR/recording.spy, written by Syncopy
    python benches/peers.py run DIR --trialflow target/release/trialflow [--repeat 3]

`make` writes a 102.4 MB AnalogData (200 trials x 2000 samples x 64 channels, float32,
1000 Hz, the same deterministic signal as benches/common) with `spy.save`. `run` times, per
workload, each peer and trialflow back to back (the best of `--repeat` rounds, each round
running every contender once, so load from other processes hits all of them alike):

| workload | Syncopy | SciPy loop |
|---|---|---|
| mtmfft | `freqanalysis(mtmfft, hann, pow)` | hann window, rfft, |X|^2 (Syncopy's scaling) |
| butterworth | `preprocessing(but, lp 40 Hz, order 4, twopass)` | `filtfilt` of `butter(4, 40)` |
| gaussian -> find_peaks | (no such routines) | `gaussian_filter1d(3)`, `find_peaks` per channel |
| rectify | (refused without a filter) | `np.abs` |

Syncopy runs sequentially and on a 2-worker dask LocalCluster; the SciPy loop runs on one
thread, and under `joblib.Parallel(n_jobs=2)` with threads and with processes (loky). Every
contender reads the input file and writes its result to a new HDF5 file. `h5copy` of the
`data` dataset (a plain HDF5 read and write of the same bytes) is the I/O floor. Each
contender is one process (`python peers.py peer ...`, `h5copy`, `trialflow run`), timed
from outside, so interpreter start, imports and dask's cluster start-up count, as they do
for a user. Prints the table (markdown) and, with --json, every time.

trialflow syncs its work to disk before its journal claims it (`execution.durable`, the
default); no peer and no plain `h5copy` does. So trialflow also runs with `durable: false`
("trialflow, no sync"), and the floor also runs as `h5copy` followed by `sync --data` of
its output ("h5copy + sync"): each trialflow figure has its like-for-like floor.

Use the bench venv (target/bench-venv: fixtures/requirements-interop.txt +
benches/requirements-bench.txt).
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

WORKLOADS = ["mtmfft", "butterworth", "gaussian_peaks", "rectify"]
# Syncopy 2023.9 has no gaussian or find_peaks, and refuses `rectify` without a filter,
# detrending or z-scoring in the same call.
NO_SYNCOPY = ["gaussian_peaks", "rectify"]
PEERS = ["syncopy", "syncopy_dask2", "scipy", "joblib_threads", "joblib_processes"]
SAMPLERATE = 1000.0


def signal(trials, samples, channels):
    """benches/common/mod.rs's signal, float32."""
    import numpy as np

    rows = trials * samples
    r = np.arange(rows, dtype=np.uint64)[:, None]
    c = np.arange(channels, dtype=np.uint64)[None, :]
    z = (r * np.uint64(channels) + c + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    t = r.astype(np.float64) / 1000.0
    cf = c.astype(np.float64)
    two_pi = 2 * np.pi
    v = (np.sin(two_pi * (5 + cf / 2) * t + cf / 10) + 0.4 * np.sin(two_pi * (40 + cf) * t)
         + 0.5 * (u - 0.5))
    return v.astype(np.float32)


def make(folder, trials=200, samples=2000, channels=64):
    import numpy as np
    import syncopy as spy

    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, "recording.spy")
    shutil.rmtree(target, ignore_errors=True)
    values = signal(trials, samples, channels)
    data = spy.AnalogData(data=[values[i * samples:(i + 1) * samples] for i in range(trials)],
                          samplerate=SAMPLERATE)
    spy.save(data, container=target)
    print(target, values.nbytes / 1e6, "MB", file=sys.stderr)


def analog_file(spy_dir):
    return glob.glob(os.path.join(spy_dir, "*.analog"))[0]


# --- the SciPy loop's per-trial work (module level, so loky can pickle it) ---

def work(workload, x):
    import numpy as np

    if workload == "rectify":
        return np.abs(x)
    if workload == "butterworth":
        from scipy.signal import butter, filtfilt

        b, a = butter(4, 40, fs=SAMPLERATE)
        return filtfilt(b, a, x, axis=0).astype(np.float32)
    if workload == "mtmfft":
        from scipy.signal.windows import hann

        n = x.shape[0]
        win = hann(n, sym=False)
        spec = np.fft.rfft(x * win[:, None], axis=0) / np.sqrt(np.sum(win ** 2) * SAMPLERATE)
        power = np.abs(spec) ** 2
        power[1:] *= 2
        return power.astype(np.float32)[None, :, :]
    if workload == "gaussian_peaks":
        from scipy.ndimage import gaussian_filter1d
        from scipy.signal import find_peaks

        smooth = gaussian_filter1d(x.astype(np.float64), 3.0, axis=0)
        rows = []
        for c in range(smooth.shape[1]):
            peaks, props = find_peaks(smooth[:, c], height=0.5, distance=5, prominence=0.2)
            rows.append(np.column_stack([peaks, np.full(len(peaks), c), props["peak_heights"],
                                         props["prominences"]]))
        return np.concatenate(rows)
    raise ValueError(workload)


def peer(workload, mode, src_spy, out):
    """One peer run (in its own process)."""
    if mode.startswith("syncopy"):
        return syncopy_peer(workload, mode == "syncopy_dask2", src_spy, out)
    import h5py
    import numpy as np

    with h5py.File(analog_file(src_spy), "r") as f, h5py.File(out, "w") as g:
        data = f["data"]
        trl = f["trialdefinition"][()][:, :2].astype(int)
        trials = (data[a:b, :] for a, b in trl)
        if mode == "scipy":
            results = (work(workload, x) for x in trials)
        else:
            from joblib import Parallel, delayed

            backend = "threading" if mode == "joblib_threads" else "loky"
            results = Parallel(n_jobs=2, backend=backend, return_as="generator")(
                delayed(work)(workload, x) for x in trials)
        if workload == "gaussian_peaks":
            found = []
            for (a, _), r in zip(trl, results):
                r[:, 0] += a
                found.append(r)
            g["peaks"] = np.concatenate(found)
            return
        out_ds = None
        row = 0
        for r in results:
            if out_ds is None:
                shape = (len(trl) * r.shape[0],) + r.shape[1:]
                out_ds = g.create_dataset("data", shape=shape, dtype=r.dtype)
            out_ds[row:row + r.shape[0]] = r
            row += r.shape[0]


def syncopy_peer(workload, dask2, src_spy, out):
    import syncopy as spy

    client = None
    if dask2:
        from dask.distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="4GB"))
    try:
        data = spy.load(src_spy)
        if workload == "mtmfft":
            result = spy.freqanalysis(data, method="mtmfft", taper="hann", output="pow",
                                      keeptrials=True, parallel=dask2)
        elif workload == "butterworth":
            result = spy.preprocessing(data, filter_class="but", filter_type="lp", freq=40,
                                       order=4, direction="twopass", parallel=dask2)
        else:
            raise SystemExit(f"Syncopy has no {workload}")
        spy.save(result, container=out)
    finally:
        if client is not None:
            client.close()


PIPELINES = {
    "mtmfft": "  - routine: mtmfft\n    taper: hann\n    output: pow\n",
    "butterworth": ("  - routine: butterworth\n    filter_type: lp\n    freq: 40\n"
                    "    order: 4\n    direction: twopass\n"),
    "gaussian_peaks": ("  - routine: gaussian\n    sigma: 3\n"
                       "  - routine: find_peaks\n    height: 0.5\n    distance: 5\n"
                       "    prominence: 0.2\n"),
    "rectify": "  - routine: rectify\n",
}


def trialflow_pipeline(workload, src_spy, work_dir, mode="parallel", durable=True):
    """Writes the workload's pipeline; returns its path and its output's."""
    name = workload if durable else f"{workload}_nosync"
    path = os.path.join(work_dir, f"{name}.yaml")
    output = os.path.join(work_dir, f"trialflow_{name}.spy")
    with open(path, "w") as f:
        f.write(f"input: {analog_file(src_spy)}\n"
                f"output: {output}\n"
                f"execution:\n  mode: {mode}\n  workers: 2\n"
                f"  durable: {'true' if durable else 'false'}\n"
                "steps:\n" + PIPELINES[workload])
    return path, output


def timed(cmd, remove):
    """Wall seconds of one process; its output is removed first (outside the timing)."""
    shutil.rmtree(remove, ignore_errors=True)
    if os.path.exists(remove):
        os.remove(remove)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run(args):
    src = os.path.join(args.folder, "recording.spy")
    work_dir = os.path.join(args.folder, "peers-out")
    os.makedirs(work_dir, exist_ok=True)
    me = os.path.abspath(__file__)
    analog = analog_file(src)
    workloads = args.workloads.split(",")
    peers = args.peers.split(",")
    times = {}
    for workload in workloads:
        contenders = {}
        for p in peers:
            if p.startswith("syncopy") and workload in NO_SYNCOPY:
                continue
            out = os.path.join(work_dir, f"{p}_{workload}" + (".spy" if "syncopy" in p else ".h5"))
            contenders[p] = ([sys.executable, me, "peer", workload, p, src, out], out)
        h5out = os.path.join(work_dir, "h5copy.h5")
        contenders["h5copy"] = (["h5copy", "-i", analog, "-o", h5out, "-s", "data", "-d", "data"],
                                h5out)
        contenders["h5copy + sync"] = (["sh", "-c", f'h5copy -i "{analog}" -o "{h5out}" -s data '
                                        f'-d data && sync --data "{h5out}"'], h5out)
        for durable, name in [(True, "trialflow"), (False, "trialflow, no sync")]:
            pipeline, out = trialflow_pipeline(workload, src, work_dir, durable=durable)
            contenders[name] = ([args.trialflow, "run", pipeline, "--overwrite", "-q"], out)
        best = {}
        for _ in range(args.repeat):
            for name, (cmd, out) in contenders.items():
                t = timed(cmd, out)
                best[name] = min(best.get(name, t), t)
                print(json.dumps({"workload": workload, "contender": name, "seconds": round(t, 4)}),
                      file=sys.stderr, flush=True)
        times[workload] = best
    load = os.getloadavg()
    header = ["workload"] + peers + ["h5copy", "h5copy + sync", "trialflow",
                                     "trialflow, no sync", "best peer / trialflow",
                                     "best peer / trialflow no sync", "trialflow / (h5copy + sync)",
                                     "trialflow no sync / h5copy"]
    print("| " + " | ".join(header) + " |")
    print("|---" + "|---:" * (len(header) - 1) + "|")
    for workload, best in times.items():
        compute_peers = [best[p] for p in peers if p in best]
        synced, unsynced = best["trialflow"], best["trialflow, no sync"]
        cells = [workload] + [f"{best[p]:.3f} s" if p in best else "n/a" for p in peers]
        cells += [f"{best['h5copy']:.3f} s", f"{best['h5copy + sync']:.3f} s",
                  f"**{synced:.3f} s**", f"**{unsynced:.3f} s**",
                  f"**{min(compute_peers) / synced:.1f}x**" if compute_peers else "n/a",
                  f"**{min(compute_peers) / unsynced:.1f}x**" if compute_peers else "n/a",
                  f"{synced / best['h5copy + sync']:.2f}x",
                  f"{unsynced / best['h5copy']:.2f}x"]
        print("| " + " | ".join(cells) + " |")
    print(f"\nbest of {args.repeat}; load average at the end {load[0]:.2f} / {load[1]:.2f} / "
          f"{load[2]:.2f}; {os.cpu_count()} cores")
    if args.json:
        print(json.dumps({"times": times, "load": load}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("folder")
    r = sub.add_parser("run")
    r.add_argument("folder")
    r.add_argument("--trialflow", required=True)
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("--workloads", default=",".join(WORKLOADS))
    r.add_argument("--peers", default=",".join(PEERS))
    r.add_argument("--json", action="store_true")
    p = sub.add_parser("peer")
    p.add_argument("workload")
    p.add_argument("mode")
    p.add_argument("src")
    p.add_argument("out")
    args = ap.parse_args()
    if args.cmd == "make":
        make(args.folder)
    elif args.cmd == "run":
        run(args)
    else:
        peer(args.workload, args.mode, args.src, args.out)


if __name__ == "__main__":
    main()
