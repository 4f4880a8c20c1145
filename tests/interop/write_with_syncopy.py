#!/usr/bin/env python3
"""Write a fresh Syncopy AnalogData container for trialflow to read.

Usage:
    python write_with_syncopy.py OUTDIR [--seed N]

Writes OUTDIR/synin.spy/synin.analog (+ .info) with real Syncopy: float32, 4 channels
("chan0".."chan3"), samplerate 1000 Hz, 5 trials of unequal lengths with different
offsets and 2 trialinfo columns. An existing OUTDIR/synin.spy is replaced.

Prints ONE JSON document on stdout:
  {"container", "hdf5_path", "info_path" (absolute), "dataclass", "dimord", "dtype",
   "shape", "trialdefinition" (rows [start, stop, offset, trialinfo...]), "trial_lengths",
   "offsets", "trialinfo", "samplerate", "channel", "file_checksum" (SHA-1 from .info),
   "data_sha256" (sha256 of the C-order data bytes), "data" (rows = samples; float32
   values as the exact float64 of each float32), "versions"}
On error: {"error": "..."} and exit status 1. Syncopy's chatter goes to stderr.

Note: the object is switched to mode "r" before saving. With Syncopy 2023.9's default
"r+", save() hashes the file while it is still open for writing (HDF5 superblock byte
20 = 1), so the stored checksum stops matching as soon as the file is closed and
spy.load(..., checksum=True) then fails.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import traceback

LENGTHS = [200, 150, 300, 120, 250]
OFFSETS = [-100, 0, -250, -20, -125]
TRIALINFO = [[1, 0.5], [2, 1.5], [1, -3.0], [3, 2.25], [2, 100.0]]
NCHAN = 4
SAMPLERATE = 1000.0


def write(outdir, seed):
    import h5py
    import numpy as np
    import syncopy as spy

    rng = np.random.default_rng(seed)
    total = sum(LENGTHS)
    t = np.arange(total) / SAMPLERATE
    data = np.empty((total, NCHAN))
    for c in range(NCHAN):
        data[:, c] = np.cos(2 * np.pi * (10 + 7 * c) * t) * (c + 1) + 0.3 * rng.standard_normal(total) - 2.0 * c
    data = data.astype(np.float32)
    starts = np.concatenate([[0], np.cumsum(LENGTHS)[:-1]])
    trldef = np.column_stack([starts, np.cumsum(LENGTHS), OFFSETS, np.asarray(TRIALINFO, float)]).astype(float)
    channel = ["chan%d" % c for c in range(NCHAN)]

    os.makedirs(outdir, exist_ok=True)
    container = os.path.join(os.path.abspath(outdir), "synin.spy")
    if os.path.exists(container):
        shutil.rmtree(container)
    obj = spy.AnalogData(data=data, samplerate=SAMPLERATE, channel=channel, trialdefinition=trldef)
    obj.mode = "r"  # see module docstring: keeps the stored checksum valid after close
    spy.save(obj, container=container)
    obj.data.file.close()

    hdf = os.path.join(container, "synin.analog")
    # Round-trip through Syncopy (verifies the checksum) before reporting.
    back = spy.load(hdf, checksum=True, mode="r")
    got = np.asarray(back.data[()])
    assert got.dtype == np.float32 and np.array_equal(got, data)
    assert np.array_equal(np.asarray(back.trialdefinition), trldef)
    back.data.file.close()
    with open(hdf + ".info") as f:
        info = json.load(f)

    return {
        "container": container,
        "hdf5_path": hdf,
        "info_path": hdf + ".info",
        "dataclass": "AnalogData",
        "dimord": ["time", "channel"],
        "dtype": "float32",
        "shape": list(data.shape),
        "trialdefinition": trldef.tolist(),
        "trial_lengths": LENGTHS,
        "offsets": OFFSETS,
        "trialinfo": np.asarray(TRIALINFO, float).tolist(),
        "samplerate": SAMPLERATE,
        "channel": channel,
        "file_checksum": info["file_checksum"],
        "data_sha256": hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest(),
        "data": data.tolist(),
        "versions": {
            "esi-syncopy": spy.__version__,
            "numpy": np.__version__,
            "h5py": h5py.__version__,
        },
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write a Syncopy AnalogData container (synin.spy).")
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args(argv)

    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)  # Syncopy prints to stdout; keep stdout for our JSON only
    scratch = tempfile.mkdtemp(prefix="write-with-syncopy-")
    status = 0
    try:
        os.environ.setdefault("SPYSILENTSTARTUP", "1")
        # Keep Syncopy's folders (default ~/.spy: logs, tmp_storage) in our scratch dir.
        for var, sub in (("SPYDIR", "spy"), ("SPYTMPDIR", "spy/tmp"), ("SPYLOGDIR", "spy/log")):
            if not os.environ.get(var):
                os.environ[var] = os.path.join(scratch, sub)
                os.makedirs(os.environ[var], exist_ok=True)
        import warnings

        warnings.simplefilter("ignore")
        result = write(args.outdir, args.seed)
    except BaseException as exc:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        result, status = {"error": "%s: %s" % (type(exc).__name__, str(exc).strip() or "")}, 1
    finally:
        sys.stdout.flush()
        os.dup2(real_stdout, 1)
        os.close(real_stdout)
        shutil.rmtree(scratch, ignore_errors=True)
    sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
