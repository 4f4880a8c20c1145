#!/usr/bin/env python3
"""Paired benchmarks for NWB input (issue 12), whole processes, peer and trialflow in turn.

    PY=target/interop-venv/bin/python        # pynwb, h5py (fixtures/requirements-interop.txt)
    $PY benches/nwb_inputs.py make DIR       # writes the three sessions below (~0.8 GB)
    $PY benches/nwb_inputs.py import DIR --trialflow target/release/trialflow [--repeat 3]
    target/bench-venv/bin/python benches/nwb_inputs.py epochs DIR --trialflow target/release/trialflow
        (the epochs peer needs MNE: benches/requirements-bench.txt)

Sessions (pynwb 4.2, one ElectricalSeries `/acquisition/raw`, 64 channels at 30 kHz,
1 600 000 samples, conversion 2.5e-6 V, channel_conversion, offset, a trials table):
  int16_plain.nwb   int16, contiguous            204.8 MB of samples
  int16_gzip.nwb    int16, gzip level 4 in chunks of 4096 x 64 (512 KiB), as NWB
                    writers commonly store raw ephys
  float32_plain.nwb float32, contiguous           409.6 MB of samples (the same values)
and events.csv: 100 event times (s) for `trials: {events_file}`.

`import`: the peer is what a Python user writes today: pynwb opens the file, the series
is read into numpy, scaled to volts as NWB says (float64, then float32), and written with
h5py into a new HDF5 file. trialflow: `trialflow import FILE OUT.spy --trials length=0.5`
(0.5 s trials, 106 of them covering the session; the same float32 volts, plus Syncopy's
metadata and checksums). Also prints trialflow's cost per input byte and per sample of the
int16 and float32 files.

`epochs`: the peer reads the series with pynwb, builds an MNE RawArray in volts and cuts
`mne.Epochs(raw, events, tmin=-0.1, tmax=0.4, baseline=None, preload=True)`, saved as
float32 (`epochs.save(..., fmt="single")`). trialflow: `trialflow import int16_plain.nwb
OUT.spy --trials events_file=events.csv --trials column=time --trials pre=0.1 --trials
post=0.4`. MNE includes the sample at tmax, so its epochs are one sample longer.

Each line of output is JSON: workload, file, side, seconds, MB/s of input samples.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

RATE = 30000.0
SAMPLES = 1_600_000
CHANNELS = 64
CONVERSION = 2.5e-6
OFFSET = -1e-4
N_EVENTS = 100


def make(out_dir):
    import numpy as np
    from datetime import datetime, timezone
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb import NWBFile, NWBHDF5IO
    from pynwb.ecephys import ElectricalSeries

    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(12)
    t = np.arange(SAMPLES) / RATE
    base = 3000 * np.sin(2 * np.pi * 8 * t)[:, None] + rng.normal(0, 800, (SAMPLES, CHANNELS))
    raw = np.clip(base, -32768, 32767).astype(np.int16)
    cc = (1.0 + 0.01 * np.arange(CHANNELS)).astype(np.float32)
    events = np.sort(rng.uniform(0.2, SAMPLES / RATE - 0.5, N_EVENTS))
    with open(os.path.join(out_dir, "events.csv"), "w") as f:
        f.write("time\n" + "".join(f"{e!r}\n" for e in events))
    for name, values, io in [
        ("int16_plain", raw, lambda d: d),
        ("int16_gzip", raw, lambda d: H5DataIO(d, compression="gzip", compression_opts=4,
                                              chunks=(4096, CHANNELS))),
        ("float32_plain", raw.astype(np.float32), lambda d: d),
    ]:
        nwb = NWBFile(session_description="trialflow NWB benchmark", identifier=name,
                      session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
        device = nwb.create_device(name="probe")
        group = nwb.create_electrode_group(name="shank", description="", location="CA1",
                                           device=device)
        for c in range(CHANNELS):
            nwb.add_electrode(group=group, location="CA1")
        region = nwb.create_electrode_table_region(list(range(CHANNELS)), "all")
        nwb.add_acquisition(ElectricalSeries(
            name="raw", data=io(values), electrodes=region, starting_time=0.0, rate=RATE,
            conversion=CONVERSION, offset=OFFSET, channel_conversion=cc))
        nwb.add_trial_column(name="condition", description="")
        for k, e in enumerate(events):
            nwb.add_trial(start_time=e - 0.1, stop_time=e + 0.4, condition=k % 2)
        path = os.path.join(out_dir, f"{name}.nwb")
        with NWBHDF5IO(path, "w") as w:
            w.write(nwb)
        print(json.dumps({"wrote": path, "bytes": os.path.getsize(path)}), flush=True)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_process(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def sample_bytes(path):
    import h5py
    with h5py.File(path, "r") as f:
        d = f["acquisition/raw/data"]
        return d.size * d.dtype.itemsize


PEER_IMPORT = r"""
import sys, numpy as np, h5py
from pynwb import NWBHDF5IO
src, dst = sys.argv[1], sys.argv[2]
with NWBHDF5IO(src, "r") as io:
    es = io.read().acquisition["raw"]
    data = es.data[:]
    volts = (data.astype(np.float64) * es.conversion * es.channel_conversion[:] + es.offset)
    with h5py.File(dst, "w") as out:
        out.create_dataset("data", data=volts.astype(np.float32))
"""

PEER_EPOCHS = r"""
import sys, numpy as np, mne
from pynwb import NWBHDF5IO
src, events_csv, dst = sys.argv[1], sys.argv[2], sys.argv[3]
mne.set_log_level("ERROR")
with NWBHDF5IO(src, "r") as io:
    es = io.read().acquisition["raw"]
    volts = es.data[:].astype(np.float64) * es.conversion * es.channel_conversion[:] + es.offset
    rate = es.rate
info = mne.create_info([f"ch{c}" for c in range(volts.shape[1])], rate, ch_types="eeg")
raw = mne.io.RawArray(volts.T, info)
times = np.loadtxt(events_csv, skiprows=1)
events = np.column_stack([np.round(times * rate).astype(int), np.zeros(len(times), int),
                          np.ones(len(times), int)])
epochs = mne.Epochs(raw, events, tmin=-0.1, tmax=0.4, baseline=None, preload=True)
epochs.save(dst, fmt="single", overwrite=True)
"""


def bench_import(args):
    out = os.path.join(args.dir, "out")
    tf = shlex.split(args.trialflow)
    results = {}
    for name in ["int16_plain", "int16_gzip", "float32_plain"]:
        src = os.path.join(args.dir, f"{name}.nwb")
        nbytes = sample_bytes(src)
        for _ in range(args.repeat):
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            peer = timed(lambda: run_process([sys.executable, "-c", PEER_IMPORT, src,
                                              os.path.join(out, "peer.h5")]))
            ours = timed(lambda: run_process(tf + ["import", src, os.path.join(out, "tf.spy"),
                                                   "--trials", "length=0.5", "-q"]))
            for side, secs in [("pynwb+h5py", peer), ("trialflow", ours)]:
                results.setdefault((name, side), []).append(secs)
                print(json.dumps({"workload": "import", "file": name, "side": side,
                                  "seconds": round(secs, 3),
                                  "MB/s": round(nbytes / 1e6 / secs, 1)}), flush=True)
        best = {side: min(results[(name, side)]) for side in ["pynwb+h5py", "trialflow"]}
        print(json.dumps({"workload": "import", "file": name, "best_seconds": best,
                          "ratio": round(best["pynwb+h5py"] / best["trialflow"], 2),
                          "trialflow_ns_per_byte": round(best["trialflow"] / nbytes * 1e9, 3),
                          "trialflow_ns_per_sample": round(
                              best["trialflow"] / (nbytes / (2 if "int16" in name else 4)) * 1e9,
                              3)}), flush=True)
    shutil.rmtree(out, ignore_errors=True)


def bench_epochs(args):
    out = os.path.join(args.dir, "out")
    tf = shlex.split(args.trialflow)
    src = os.path.join(args.dir, "int16_plain.nwb")
    events = os.path.join(args.dir, "events.csv")
    nbytes = sample_bytes(src)
    best = {}
    for _ in range(args.repeat):
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        peer = timed(lambda: run_process([sys.executable, "-c", PEER_EPOCHS, src, events,
                                          os.path.join(out, "peer-epo.fif")]))
        ours = timed(lambda: run_process(tf + [
            "import", src, os.path.join(out, "tf.spy"), "--trials", f"events_file={events}",
            "--trials", "column=time", "--trials", "pre=0.1", "--trials", "post=0.4", "-q"]))
        for side, secs in [("mne.Epochs", peer), ("trialflow", ours)]:
            best[side] = min(best.get(side, secs), secs)
            print(json.dumps({"workload": "epochs", "side": side, "seconds": round(secs, 3),
                              "MB/s": round(nbytes / 1e6 / secs, 1)}), flush=True)
    print(json.dumps({"workload": "epochs", "best_seconds": best,
                      "ratio": round(best["mne.Epochs"] / best["trialflow"], 2)}), flush=True)
    shutil.rmtree(out, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["make", "import", "epochs"])
    ap.add_argument("dir")
    ap.add_argument("--trialflow", default="target/release/trialflow")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    {"make": lambda: make(args.dir), "import": lambda: bench_import(args),
     "epochs": lambda: bench_epochs(args)}[args.what]()


if __name__ == "__main__":
    main()
