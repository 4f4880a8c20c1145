#!/usr/bin/env bash
# The whole test suite: installs missing system packages (HDF5, Python venv support, OpenMPI
# and libclang) and the pinned Syncopy/SciPy/pynwb venv, checks formatting and clippy, then
# runs every test (including the Python interop tests), the examples, the MPI tests under
# mpirun with 2 and 3 ranks (with the custom-routine binary too), the Python package's
# pytest suite, and checks that the benchmarks build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-system.sh --python --mpi --trace
TRIALFLOW_INTEROP_PYTHON="$(scripts/python-env.sh | tail -n 1)"
export TRIALFLOW_INTEROP_PYTHON

# `--include-ignored` runs the interop and root-only tests; `_child` entry points are child
# processes that other tests spawn, not tests of their own.
# Gates: formatting, and clippy with every warning an error (the workspace lints include
# clippy::undocumented_unsafe_blocks).
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

cargo test --workspace -- --include-ignored --skip _child
cargo run --quiet --example custom_routine -- routines clip
cargo run --quiet --example parallel_map
cargo run --quiet --example collectives

# MPI (rsmpi): the executor under mpirun, 2 and 3 ranks, as root where CI runs.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo build --features mpi --example custom_routine --example event_routine
cargo test --features mpi --test mpi
cargo test --features mpi --test itc mpi_ranks
cargo test --features mpi --test timefreq_pipelines mpi_ranks
cargo test --features mpi --test connectivity mpi_ranks
cargo test --features mpi --test trial_statistics mpi_ranks
cargo test --features mpi --test event_inputs mpi_ranks
cargo test --features mpi --test timelock mpi_ranks
cargo test --features mpi --test psth mpi_ranks
if [ -x scripts/test-map-mpi.sh ]; then
    scripts/test-map-mpi.sh
fi

# The Python package: builds the wheel into the interop venv (pip install ./python) and runs
# its pytest suite.
scripts/test-python.sh
cargo bench --workspace --no-run --quiet
