"""Shared fixtures: the reference cases of the Rust tests, a recording written by the
`trialflow` binary, and the binary itself (the CLI the package must agree with)."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "fixtures" / "reference"


def _decode(value):
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}[value]
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def reference(name):
    """A reference fixture (`fixtures/reference/<name>.json`), non-finite strings decoded."""
    with open(REFERENCE / f"{name}.json") as f:
        return json.load(f)


def array(values):
    return np.asarray(_decode(values), dtype=np.float64)


def case_input(doc, case):
    """A case's input array (samples x channels): inline or named in `inputs`."""
    source = case["input"]
    if isinstance(source, str):
        entry = doc["inputs"][source]
        if isinstance(entry, dict):
            values = array(entry["data"])
            return values.astype(np.float32) if entry.get("dtype") == "float32" else values
        return array(entry)
    return array(source)


def cases(doc, *routines):
    return [c for c in doc["cases"] if c["routine"] in routines]


def trialflow_binary():
    path = os.environ.get("TRIALFLOW_BIN")
    if not path:
        candidate = REPO / "target" / "debug" / "trialflow"
        path = str(candidate) if candidate.exists() else None
    return path


@pytest.fixture(scope="session")
def cli():
    """Runs the `trialflow` binary; returns (exit code, stdout, stderr)."""
    path = trialflow_binary()
    if path is None:
        pytest.skip("skipped: no trialflow binary (set TRIALFLOW_BIN or cargo build --bin trialflow)")

    def call(*args, check=True):
        done = subprocess.run([path, *map(str, args)], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise AssertionError(f"trialflow {' '.join(map(str, args))} exited {done.returncode}: {done.stderr}")
        return done.returncode, done.stdout, done.stderr

    return call


@pytest.fixture(scope="session")
def recording(tmp_path_factory, cli):
    """A float64 recording (6 trials of unequal length, 5 channels) written by the CLI."""
    folder = tmp_path_factory.mktemp("recording")
    path = folder / "rec.spy"
    cli("generate", path, "--trials", 6, "--samples", 600, "--channels", 5, "--dtype", "f64", "--unequal", "--seed", 7)
    return path


@pytest.fixture(scope="session")
def h5py():
    return pytest.importorskip("h5py", reason="skipped: h5py is not installed")


def same_bits(a, b):
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# Syncopy wants a writable folder of its own and prints a banner unless told not to.
os.environ.setdefault("SPYSILENTSTARTUP", "1")
if "SPYDIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["SPYDIR"] = tempfile.mkdtemp(prefix="trialflow-spy-")
    atexit.register(shutil.rmtree, os.environ["SPYDIR"], True)
