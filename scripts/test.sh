#!/usr/bin/env bash
# The whole test suite: installs missing system packages and the pinned Syncopy/SciPy venv,
# then runs every test (including the Python interop tests), the examples, and checks that
# the benchmarks build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-system.sh --python
TRIALFLOW_INTEROP_PYTHON="$(scripts/python-env.sh | tail -n 1)"
export TRIALFLOW_INTEROP_PYTHON

cargo test --workspace -- --include-ignored
cargo run --quiet --example custom_routine
cargo bench --no-run --quiet
