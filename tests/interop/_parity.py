"""What the Syncopy parity checks beside this file share: a quiet Syncopy with a temporary
folder of its own (set on import, so import this before syncopy), loading the one object of
a file, and the single JSON line the Rust side reads (tests/interop.rs `parity`):
{"ok": true, ...} with exit code 0, or {"error": "..."} with exit code 1.
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("SPYSILENTSTARTUP", "1")
os.environ.setdefault("SPYDIR", tempfile.mkdtemp())


def one(loaded):
    """The object of a `spy.load` result that may be a dict of one object."""
    if isinstance(loaded, dict):
        (loaded,) = loaded.values()
    return loaded


def report(problems, **ok):
    """Prints the problems as one error, or {"ok": true, **ok}; exits 1 on problems."""
    if problems:
        print(json.dumps({"error": "; ".join(problems)}))
        sys.exit(1)
    print(json.dumps({"ok": True, **ok}))


def run(main):
    """Calls main(*command-line arguments); an exception is reported as one JSON error line
    (never a traceback on stdout) with exit code 1."""
    try:
        main(*sys.argv[1:])
    except Exception as e:  # noqa: BLE001 - one JSON line either way
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
