#!/usr/bin/env bash
# Installs the Debian packages trialflow needs, only when they are missing.
#
#   scripts/setup-system.sh            build deps: libhdf5-dev (the Python extension links it),
#                                      pkg-config, a C compiler, and CMake 3.26 or newer (the
#                                      `trialflow` binary compiles HDF5 in: hdf5-metno-src)
#   scripts/setup-system.sh --python   also python3 + venv (for the Syncopy interop tests)
#   scripts/setup-system.sh --mpi      also OpenMPI and libclang (for `--features mpi`)
#   scripts/setup-system.sh --trace    also strace (tests/durability.rs checks which files a run syncs)
#   scripts/setup-system.sh --bench    also hdf5-tools (`h5copy`, the I/O floor of benches/peers.py
#                                      and benches/scale.sh)
#
# Runs apt-get as root, or through sudo. Prints what it installs on stderr.
set -euo pipefail

want=(libhdf5-dev pkg-config gcc libc6-dev make)
for arg in "$@"; do
    case "$arg" in
        --python) want+=(python3 python3-venv python3-pip) ;;
        --mpi) want+=(libopenmpi-dev openmpi-bin libclang-dev clang) ;;
        --bench) want+=(hdf5-tools) ;;
        --trace) want+=(strace) ;;
        *) echo "setup-system: unknown option $arg" >&2; exit 2 ;;
    esac
done

CMAKE_PIN=3.31.10
cmake_ok() {
    local v
    v=$(cmake --version 2>/dev/null | head -n 1 | sed -n 's/^cmake version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
    [ -n "$v" ] && set -- $v && { [ "$1" -gt 3 ] || { [ "$1" -eq 3 ] && [ "$2" -ge 26 ]; }; }
}
# CMake from PyPI needs python3 with venv (below).
cmake_ok || want+=(python3 python3-venv python3-pip)

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

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

install_missing() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup-system: missing packages ${missing[*]}, and apt-get is not available; install them by hand" >&2
        exit 1
    fi
    if [ -n "$SUDO" ]; then
        command -v sudo >/dev/null 2>&1 || { echo "setup-system: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        SUDO="sudo"
    fi
    echo "setup-system: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
[ ${#missing[@]} -eq 0 ] || install_missing

# HDF5 2.x's build needs CMake 3.26; Debian 12 ships 3.25. Where the system's is older or
# missing, the pinned release from PyPI goes into its own venv under /opt, linked from
# /usr/local/bin (ahead of /usr/bin on PATH), where cargo's build script finds it.
if ! cmake_ok; then
    if ! command -v python3 >/dev/null 2>&1; then
        echo "setup-system: CMake 3.26 or newer is needed, and python3 (to fetch it from PyPI) is missing; install CMake by hand" >&2
        exit 1
    fi
    echo "setup-system: installing CMake $CMAKE_PIN (PyPI) in /opt/trialflow-cmake" >&2
    $SUDO python3 -m venv /opt/trialflow-cmake >&2
    $SUDO /opt/trialflow-cmake/bin/pip install -q "cmake==$CMAKE_PIN" >&2
    $SUDO ln -sf /opt/trialflow-cmake/bin/cmake /usr/local/bin/cmake
    hash -r
    cmake_ok || { echo "setup-system: cmake on PATH is still older than 3.26 (is /usr/local/bin first on PATH?)" >&2; exit 1; }
fi
