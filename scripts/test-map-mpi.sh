#!/usr/bin/env bash
# The MPI tests of trialflow-map: builds with `--features mpi` and runs the MPI test program
# and examples under `mpirun -n 2` and `-n 3`. Each run checks that MPI gives exactly what the
# serial executor gives. Needs OpenMPI and libclang (scripts/setup-system.sh --mpi).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-system.sh --mpi

# OpenMPI refuses to run as root unless told to; CI runs as root. --oversubscribe lets three
# ranks run on a two-core machine.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe)

# The test program (a plain main, one per rank), located through cargo's JSON output.
test_binary="$(cargo test -p trialflow-map --features mpi --test mpi --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*"' | grep '/mpi-' | tail -n 1 | cut -d'"' -f4)"
if [[ -z "$test_binary" ]]; then
    echo "test-map-mpi: could not build the MPI test program" >&2
    exit 1
fi
cargo build --quiet --features mpi --example collectives --example parallel_map

for ranks in 2 3; do
    echo "== $ranks MPI ranks"
    "${MPIRUN[@]}" -n "$ranks" "$test_binary"
    "${MPIRUN[@]}" -n "$ranks" target/debug/examples/collectives
    "${MPIRUN[@]}" -n "$ranks" target/debug/examples/parallel_map
done
