#!/usr/bin/env bash
# Create (idempotently) the Python venv used for Syncopy/SciPy interop fixtures.
#
#   scripts/python-env.sh [VENV_DIR]      (default: <repo>/target/interop-venv)
#
# Pins come from <repo>/fixtures/requirements-interop.txt. A marker file inside the
# venv stores a hash of those pins (plus the interpreter version); when it matches,
# pip is skipped. The last (and normally only) line on stdout is the venv's python.
# pip output goes to <venv>/pip-install.log; progress messages go to stderr.
#
# Environment overrides: PYTHON (interpreter to build the venv from),
#                        PIP_EXTRA_ARGS (extra args passed to pip install).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
REQ_FILE="$REPO_ROOT/fixtures/requirements-interop.txt"
VENV_DIR="${1:-$REPO_ROOT/target/interop-venv}"
MARKER_NAME=".trialflow-requirements.sha256"

log() { echo "python-env: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -f "$REQ_FILE" ] || die "missing $REQ_FILE"

# --- pick an interpreter: esi-syncopy 2023.9 needs Python >=3.8,<3.12 ---------------
py_ok() {
    "$1" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] < (3, 12) else 1)' >/dev/null 2>&1
}
PY=""
if [ -n "${PYTHON:-}" ]; then
    py_ok "$PYTHON" || die "PYTHON=$PYTHON is not a Python in [3.8, 3.12)"
    PY="$PYTHON"
else
    for cand in python3 python3.11 python3.10 python3.9 python3.8; do
        if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then PY="$(command -v "$cand")"; break; fi
    done
    # Resolve shims (pyenv etc.) to the real interpreter so the venv does not depend
    # on whichever version a shim would pick in some other directory.
    if [ -n "$PY" ]; then PY="$("$PY" -c 'import sys; print(sys.executable)')"; fi
fi
[ -n "$PY" ] || die "no python3 in [3.8, 3.12) found (esi-syncopy 2023.9 requires it); set PYTHON="
PY_VER="$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"

# --- serialize concurrent runs on the same venv -------------------------------------
mkdir -p "$(dirname "$VENV_DIR")"
VENV_DIR="$(cd "$(dirname "$VENV_DIR")" && pwd)/$(basename "$VENV_DIR")"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV_DIR.lock"
    flock 9
fi

WANT_HASH="$( { cat "$REQ_FILE"; echo "python=$PY_VER"; echo "marker-v1"; } | sha256sum | cut -d' ' -f1)"
VPY="$VENV_DIR/bin/python"

# --- fast path -----------------------------------------------------------------------
if [ -x "$VPY" ] && [ -f "$VENV_DIR/$MARKER_NAME" ] \
   && [ "$(cat "$VENV_DIR/$MARKER_NAME")" = "$WANT_HASH" ] \
   && "$VPY" -c 'import sys' >/dev/null 2>&1; then
    echo "$VPY"
    exit 0
fi

# --- create the venv (installing python3-venv via apt if ensurepip/venv is missing) ---
apt_install_venv() {
    command -v apt-get >/dev/null 2>&1 || die "python3 -m venv failed and apt-get is unavailable; install the venv module for $PY"
    local SUDO=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install python3-venv"
        SUDO="sudo"
    fi
    local mm; mm="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    log "python venv/ensurepip missing: installing python3-venv via apt-get"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2
    # python3-venv pulls python3.X-venv for the default python3; add the versioned
    # package when it exists so a non-default python3.X also gets its ensurepip.
    local pkgs="python3-venv"
    if apt-cache show "python${mm}-venv" >/dev/null 2>&1; then pkgs="$pkgs python${mm}-venv"; fi
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq $pkgs >&2
}

venv_works() {
    [ -x "$VPY" ] && "$VPY" -c 'import sys' >/dev/null 2>&1 && "$VPY" -m pip --version >/dev/null 2>&1
}

if ! venv_works; then
    rm -rf "$VENV_DIR"
    log "creating venv at $VENV_DIR with $PY ($PY_VER)"
    # Check for the modules first: on Debian without python3-venv, `-m venv` either
    # says "No module named venv" or fails in ensurepip after leaving a half venv.
    if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_install_venv
    fi
    if ! "$PY" -m venv "$VENV_DIR" >&2; then
        rm -rf "$VENV_DIR"
        apt_install_venv
        "$PY" -m venv "$VENV_DIR" >&2 || die "python -m venv still fails after installing python3-venv"
    fi
    venv_works || die "venv at $VENV_DIR has no working pip"
fi

# --- install pins ----------------------------------------------------------------------
PIP_LOG="$VENV_DIR/pip-install.log"
log "installing pinned packages (log: $PIP_LOG)"
rm -f "$VENV_DIR/$MARKER_NAME"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# shellcheck disable=SC2086
if ! "$VPY" -m pip install --quiet -r "$REQ_FILE" ${PIP_EXTRA_ARGS:-} >"$PIP_LOG" 2>&1; then
    tail -n 40 "$PIP_LOG" >&2
    die "pip install failed (full log: $PIP_LOG)"
fi
# Smoke test: the stack must import together (catches numpy/h5py ABI mismatches).
SMOKE_DIR="$(mktemp -d)"
if ! SPYSILENTSTARTUP=1 SPYDIR="$SMOKE_DIR" "$VPY" -c 'import numpy, scipy, h5py, pandas, syncopy' >>"$PIP_LOG" 2>&1; then
    rm -rf "$SMOKE_DIR"
    tail -n 40 "$PIP_LOG" >&2
    die "installed packages fail to import (log: $PIP_LOG)"
fi
rm -rf "$SMOKE_DIR"
"$VPY" -m pip freeze >"$VENV_DIR/pip-freeze.txt" 2>>"$PIP_LOG" || true
echo "$WANT_HASH" >"$VENV_DIR/$MARKER_NAME"
log "done"
echo "$VPY"
