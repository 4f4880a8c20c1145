#!/usr/bin/env bash
# Issue 15's benchmarks, paired: coherence, Granger, timelock and psth on 200 trials x 2000
# samples x 16 and x 64 channels (float32, 1000 Hz), Syncopy 2023.9 sequential and on a
# 2-worker dask LocalCluster, each run followed by `trialflow run` of the same analysis
# (benches/connectivity/*.yaml, release build, default parallel mode).
#
#   benches/connectivity.sh [DIR] [ANALYSES] [CHANNELS]
#
# DIR (default /work/bench, or $TRIALFLOW_BENCH_DIR) gets c16/ and c64/, each with
# recording.spy (`trialflow generate`), events.spy (`trialflow run peaks.yaml`: gaussian then
# find_peaks, psth's input), the pipelines and the outputs; ANALYSES defaults to
# "coh granger timelock psth", CHANNELS to "16 64". REPEAT (default 3) runs per mode; the
# README takes the best of them. MODES (default "sequential,parallel2") picks Syncopy's
# modes: its 64-channel Granger takes many minutes per run, so `MODES=sequential REPEAT=1`
# for that one. An analysis whose routine this trialflow does not have yet is timed for
# Syncopy only (the script says so): adding the routine makes it paired.
# DURABLE=false runs trialflow with `execution.durable: false` (no syncs; Syncopy syncs
# nothing either). PYTHON_API=false leaves out the in-process pair: by default each analysis
# also runs through the Python package (`trialflow.run`) in Syncopy's process, timed as
# Syncopy is (the venv needs the package: scripts/test-python.sh installs it). Prints the
# JSON lines of benches/syncopy_connectivity.py.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${TRIALFLOW_BENCH_DIR:-/work/bench}}
analyses=${2:-coh granger timelock psth}
channels=${3:-16 64}
tf=${TRIALFLOW:-$repo/target/release/trialflow}
py=${PYTHON:-$repo/target/interop-venv/bin/python}
repeat=${REPEAT:-3}
modes=${MODES:-sequential,parallel2}

[ -x "$tf" ] || { echo "no $tf: cargo build --release first" >&2; exit 2; }
for c in $channels; do
  d=$dir/c$c
  mkdir -p "$d"
  cp "$repo"/benches/connectivity/*.yaml "$d"/
  cd "$d"
  [ -e recording.spy ] || "$tf" generate recording.spy --trials 200 --samples 2000 --channels "$c" >&2
  echo "# $c channels, $(uptime)" >&2
  for a in $analyses; do
    input=recording.spy
    if [ "$a" = psth ]; then
      [ -e events.spy ] || "$tf" run peaks.yaml --overwrite -q
      input=events.spy
    fi
    routine=$a
    case $a in coh | granger) routine=connectivity ;; esac
    pair=()
    if "$tf" routines | grep -q "^$routine "; then
      pair=(--trialflow "$tf run $a.yaml --overwrite -q --set execution.durable=${DURABLE:-true}"
            --trialflow-output "out_$a.spy")
      if [ "${PYTHON_API:-true}" = true ]; then
        pair+=(--trialflow-python "$a.yaml" --trialflow-set "execution.durable=${DURABLE:-true}")
      fi
    else
      echo "# trialflow has no routine $routine yet: Syncopy only" >&2
    fi
    "$py" "$repo/benches/syncopy_connectivity.py" "$a" "$input" syn --repeat "$repeat" --modes "$modes" "${pair[@]}" \
      | sed -u "s/^{/{\"channels\": $c, /"
  done
done
