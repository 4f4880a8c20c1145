#!/usr/bin/env bash
# Installs the Debian packages trialflow needs, only when they are missing.
#
#   scripts/setup-system.sh            build deps: libhdf5-dev, pkg-config, a C compiler
#   scripts/setup-system.sh --python   also python3 + venv (for the Syncopy interop tests)
#   scripts/setup-system.sh --mpi      also OpenMPI and libclang (for `--features mpi`)
#   scripts/setup-system.sh --trace    also strace (tests/durability.rs checks which files a run syncs)
#   scripts/setup-system.sh --bench    also hdf5-tools (`h5copy`, the I/O floor of benches/peers.py
#                                      and benches/scale.sh)
#
# Runs apt-get as root, or through sudo. Prints what it installs on stderr.
set -euo pipefail

want=(libhdf5-dev pkg-config gcc libc6-dev)
for arg in "$@"; do
    case "$arg" in
        --python) want+=(python3 python3-venv python3-pip) ;;
        --mpi) want+=(libopenmpi-dev openmpi-bin libclang-dev clang) ;;
        --bench) want+=(hdf5-tools) ;;
        --trace) want+=(strace) ;;
        *) echo "setup-system: unknown option $arg" >&2; exit 2 ;;
    esac
done

missing=()
for pkg in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
# A python3 from elsewhere (pyenv, conda) with a working venv module is fine too.
if printf '%s\n' "${missing[@]}" | grep -q '^python3'; then
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        missing=($(printf '%s\n' "${missing[@]}" | grep -v '^python3' || true))
    fi
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-system: missing packages ${missing[*]}, and apt-get is not available; install them by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup-system: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
echo "setup-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
