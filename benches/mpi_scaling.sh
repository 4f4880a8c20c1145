#!/usr/bin/env bash
# MPI scaling of `execution.mode: mpi` from 1 to 2 ranks (and the parallel mode for
# comparison) on the 102 MB benchmark recording: 200 trials x 2000 samples x 64 channels
# float32. Needs a release build with MPI: cargo build --release --features mpi.
#
#   benches/mpi_scaling.sh [ROUTINE_YAML]     (default: a median filter of size 15)
#
# Prints the median wall time of 3 runs per configuration.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="$PWD/target/release/trialflow"
[ -x "$bin" ] || { echo "build first: cargo build --release --features mpi" >&2; exit 2; }
work="${TMPDIR:-/tmp}/trialflow-mpi-scaling"
mkdir -p "$work"
cd "$work"
[ -d rec.spy ] || "$bin" generate rec.spy --trials 200 --samples 2000 --channels 64 >/dev/null
steps="${1:-  - routine: median_filter
    size: 15}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

median_time() {  # runs "$@" 3 times, prints the median wall time in seconds
    local times=()
    for _ in 1 2 3; do
        rm -rf out.spy out.spy.partial
        local t0 t1
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s.%N)
        times+=("$(echo "$t1 - $t0" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}

for mode in sequential mpi; do
    printf 'input: rec.spy\noutput: out.spy\nexecution:\n  mode: %s\nsteps:\n%s\n' "$mode" "$steps" > p.yaml
    if [ "$mode" = sequential ]; then
        echo "sequential (1 process):  $(median_time "$bin" run p.yaml -q) s"
    else
        for n in 1 2; do
            echo "mpi, $n rank(s):          $(median_time mpirun -n "$n" --oversubscribe "$bin" run p.yaml -q) s"
        done
    fi
done
printf 'input: rec.spy\noutput: out.spy\nexecution:\n  mode: parallel\n  workers: 2\nsteps:\n%s\n' "$steps" > p.yaml
echo "parallel, 2 workers:     $(median_time "$bin" run p.yaml -q) s"
