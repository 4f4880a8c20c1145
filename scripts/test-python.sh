#!/usr/bin/env bash
# The Python package's tests: builds the package from python/ into the interop venv the way a
# user installs it (`pip install ./python`: a release abi3 wheel through maturin), then runs
# its pytest suite against SciPy, Syncopy and the `trialflow` binary.
#
#   scripts/test-python.sh [pytest args...]
#
# Uses $TRIALFLOW_INTEROP_PYTHON when set (scripts/test.sh sets it), else creates the venv
# with scripts/python-env.sh. Set TRIALFLOW_BENCH=1 to also run the benchmarks (timings
# printed, never asserted).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${TRIALFLOW_INTEROP_PYTHON:-$(scripts/python-env.sh | tail -n 1)}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# No build isolation: the venv's pinned maturin builds it, without a download (its PEP 517
# hook runs `maturin` from PATH).
PATH="$(dirname "$PY"):$PATH"
# A `maturin develop` build left in the sources must not stand in for the wheel's.
rm -f python/trialflow/_native*.so
"$PY" -m pip install --quiet --no-build-isolation --force-reinstall --no-deps ./python

# The tests compare with what the command line writes.
cargo build --quiet --bin trialflow
TRIALFLOW_BIN="$(pwd)/target/debug/trialflow"
export TRIALFLOW_BIN

# Run from the tests folder so `import trialflow` is the installed wheel, not the sources.
cd python/tests
"$PY" -m pytest -q -p no:cacheprovider "$@" .
if [ "${TRIALFLOW_BENCH:-}" = 1 ]; then
    "$PY" ../benchmarks/bench.py
fi
