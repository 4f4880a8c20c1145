#!/usr/bin/env python3
"""Summarise a Syncopy container or object file as ONE JSON document on stdout.

Usage:
    python syncopy_summary.py PATH [--freqanalysis] [--max-elements N]

PATH is a ``.spy`` container folder (all objects inside are summarised) or one object
file (e.g. ``foo.spy/foo_tag.analog``, or a bare ``x.analog`` with its ``.info``).
Loading uses ``spy.load(PATH, checksum=True, mode="r")``: the SHA-1 in the ``.info`` file
must match, and the file is opened read-only (Syncopy's default "r+" would need write
access and briefly flips the HDF5 superblock's "open for write" flag).

Output: {"path", "versions", "n_objects", "objects": [summary, ...]} where each summary
has filename, tag, container, class, dimord, shape, dtype, trialdefinition,
samplerate, channel (+ freq/taper for SpectralData, unit for SpikeData, ...),
data_sha256 (sha256 of the data array's C-order bytes), and ``data`` as nested lists
when the array has fewer than N (default 5000) elements. With --freqanalysis, every
AnalogData summary gains "freqanalysis": the summary of
``spy.freqanalysis(obj, method='mtmfft', taper='hann', output='pow')``.

Non-finite floats are written as the strings "NaN", "Infinity", "-Infinity"; complex
values as [re, im] pairs; other floats are exact (Python repr).
On any error: prints {"error": "..."} and exits with status 1.
Syncopy's own chatter (banner, logs, warnings) goes to stderr.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import traceback

MAX_ELEMENTS_DEFAULT = 5000


def jsonable(value):
    """Convert numpy scalars/arrays and non-finite floats to JSON-safe values."""
    import numpy as np

    if isinstance(value, np.ndarray):
        if np.iscomplexobj(value):
            value = np.stack([value.real, value.imag], axis=-1)
        return jsonable(value.tolist())
    if isinstance(value, (np.generic,)):
        return jsonable(value.item())
    if isinstance(value, complex):
        return [jsonable(value.real), jsonable(value.imag)]
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def split_tag(path):
    """(container, tag) for an object file: 'c.spy/c_tag.analog' -> ('c.spy', 'tag')."""
    folder = os.path.dirname(os.path.abspath(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    if not folder.endswith(".spy"):
        return None, None
    base = os.path.splitext(os.path.basename(folder))[0]
    if stem.startswith(base + "_"):
        return os.path.basename(folder), stem[len(base) + 1:]
    return os.path.basename(folder), None


def summarize(obj, max_elements, with_freq=False):
    import numpy as np

    data = np.asarray(obj.data[()]) if obj.data is not None else None
    fname = obj.filename
    container, tag = split_tag(fname) if fname else (None, None)
    out = {
        "filename": os.path.basename(fname) if fname else None,
        "container": container,
        "tag": tag,
        "class": type(obj).__name__,
        "dimord": list(obj.dimord) if obj.dimord is not None else None,
        "shape": list(data.shape) if data is not None else None,
        "dtype": data.dtype.name if data is not None else None,
    }
    trl = obj.trialdefinition
    out["trialdefinition"] = jsonable(np.asarray(trl)) if trl is not None else None
    out["n_trials"] = len(obj.trials) if obj.trialdefinition is not None else 0
    for attr in ("samplerate", "channel", "channel_i", "channel_j", "freq", "taper", "unit", "eventid"):
        if hasattr(type(obj), attr) or attr in getattr(obj, "_infoFileProperties", ()):
            try:
                val = getattr(obj, attr)
            except Exception as exc:  # noqa: BLE001 - some properties raise when unset
                val = "<error: %s>" % exc
            out[attr] = jsonable(val)
    if getattr(obj, "info", None):
        out["info"] = jsonable(dict(obj.info))
    if data is not None:
        out["data_sha256"] = hashlib.sha256(np.ascontiguousarray(data).tobytes(order="C")).hexdigest()
        out["n_elements"] = int(data.size)
        if data.size < max_elements:
            # for SpikeData/EventData these are the rows [sample, channel, unit] / [sample, eventid, ...]
            out["data"] = jsonable(data)
    if "freq" in out and isinstance(out["freq"], list):
        out["freq_first"] = out["freq"][:10]
        out["n_freq"] = len(out["freq"])
    if with_freq and type(obj).__name__ == "AnalogData":
        import syncopy as spy

        res = spy.freqanalysis(obj, method="mtmfft", taper="hann", output="pow")
        out["freqanalysis"] = {
            "call": "spy.freqanalysis(obj, method='mtmfft', taper='hann', output='pow')",
            **summarize(res, max_elements, with_freq=False),
        }
        try:
            res.data.file.close()
        except Exception:  # noqa: BLE001
            pass
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path")
    ap.add_argument("--freqanalysis", action="store_true")
    ap.add_argument("--max-elements", type=int, default=MAX_ELEMENTS_DEFAULT)
    args = ap.parse_args(argv)

    # Syncopy prints a banner and log lines on stdout: route fd 1 to stderr while it
    # works, so stdout carries only our JSON document.
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    scratch = tempfile.mkdtemp(prefix="syncopy-summary-")
    result, status = None, 0
    try:
        os.environ.setdefault("SPYSILENTSTARTUP", "1")
        # Keep Syncopy's folders (default ~/.spy: logs, tmp_storage) in our scratch dir.
        for var, sub in (("SPYDIR", "spy"), ("SPYTMPDIR", "spy/tmp"), ("SPYLOGDIR", "spy/log")):
            if not os.environ.get(var):
                os.environ[var] = os.path.join(scratch, sub)
                os.makedirs(os.environ[var], exist_ok=True)
        import warnings

        warnings.simplefilter("ignore")
        import h5py
        import numpy as np
        import scipy
        import syncopy as spy

        if not os.path.exists(args.path):
            raise FileNotFoundError("no such file or directory: %s" % args.path)
        loaded = spy.load(args.path, checksum=True, mode="r")
        objs = loaded if isinstance(loaded, dict) else {os.path.basename(loaded.filename): loaded}
        summaries = [summarize(objs[k], args.max_elements, args.freqanalysis) for k in sorted(objs)]
        for o in objs.values():
            try:
                o.data.file.close()
            except Exception:  # noqa: BLE001
                pass
        result = {
            "path": os.path.abspath(args.path),
            "versions": {
                "esi-syncopy": spy.__version__,
                "numpy": np.__version__,
                "scipy": scipy.__version__,
                "h5py": h5py.__version__,
            },
            "n_objects": len(summaries),
            "objects": summaries,
        }
    except BaseException as exc:  # noqa: BLE001 - report every failure as JSON
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            raise
        traceback.print_exc(file=sys.stderr)
        msg = str(exc).strip() or type(exc).__name__
        result, status = {"error": "%s: %s" % (type(exc).__name__, msg)}, 1
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
