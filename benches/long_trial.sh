#!/usr/bin/env bash
# Trials longer than memory (issue 17): one continuous int16 recording of SAMPLES x CHANNELS
# (default 33 554 432 x 64 = 4 GiB) as a single trial, through gaussian, one-pass
# butterworth, and gaussian -> find_peaks, each as a whole `trialflow run` timed with
# /usr/bin/time -v (elapsed, CPU and peak RSS); then SpikeInterface's
# bandpass_filter(...).save(n_jobs=2, chunk_duration="1s") on the same bytes. SpikeInterface
# runs its 2 jobs in worker processes, and `time -v` reports only the largest single
# process, so each command's process tree is also sampled every 0.5 s for the sum of its
# proportional set sizes (PSS: shared pages split between the processes sharing them).
#
#   cargo build --release --bin trialflow
#   python3 -m venv target/bench-venv      # writes the recording (h5py)
#   target/bench-venv/bin/pip install -r fixtures/requirements-interop.txt -r benches/requirements-bench.txt
#   python3 -m venv target/si-venv         # SpikeInterface needs numpy>=2: a venv of its own
#   target/si-venv/bin/pip install -r benches/requirements-spikeinterface.txt
#   benches/long_trial.sh                 # SAMPLES=... CHANNELS=... to change the size
#   SI_DIRECTIONS=forward benches/long_trial.sh   # one SpikeInterface run ("" for none)
# TRIALFLOW_BIN, TRIALFLOW_GEN_PYTHON (h5py) and TRIALFLOW_BENCH_PYTHON (SpikeInterface)
# override the paths above.
#
# Needs about 3x the recording's size free on the disk of TRIALFLOW_BENCH_DIR (input,
# one float32 output at a time); everything it writes is deleted at the end (KEEP=1 keeps
# the recording for the next run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TRIALFLOW_BIN:-$ROOT/target/release/trialflow}
PY=${TRIALFLOW_BENCH_PYTHON:-$ROOT/target/si-venv/bin/python}
GEN_PY=${TRIALFLOW_GEN_PYTHON:-$ROOT/target/bench-venv/bin/python}
DIR=${TRIALFLOW_BENCH_DIR:-$ROOT/target/long-trial-bench}
SAMPLES=${SAMPLES:-33554432}
CHANNELS=${CHANNELS:-64}
FS=30000
WORKERS=${WORKERS:-2}

mkdir -p "$DIR"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$DIR"' EXIT
echo "# $(uname -n) $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB RAM; $(date -u +%FT%TZ)"
df -h "$DIR" | tail -1
# A recording of this size left by `KEEP=1 benches/long_trial.sh` is reused.
if [ "$(cat "$DIR/made" 2>/dev/null)" != "$SAMPLES $CHANNELS" ]; then
    echo "# writing ${SAMPLES} x ${CHANNELS} int16 ($(( SAMPLES * CHANNELS * 2 / 1048576 )) MiB)"
    "$GEN_PY" "$ROOT/benches/long_trial/make_recording.py" "$DIR/in.analog" "$SAMPLES" "$CHANNELS" "$FS" >"$DIR/offset"
    echo "$SAMPLES $CHANNELS" >"$DIR/made"
fi
OFFSET=$(cat "$DIR/offset")

# The largest sum of PSS (KiB) over the processes of session SID, sampled every 0.5 s
# until the session's leader exits (a zombie, until `wait` reaps it, has exited).
tree_pss() {
    local sid=$1 max=0 total p v
    while [ "$(awk '{print $3}' "/proc/$sid/stat" 2>/dev/null || echo Z)" != Z ]; do
        total=0
        for p in $(pgrep -s "$sid"); do
            v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
            total=$((total + ${v:-0}))
        done
        [ "$total" -gt "$max" ] && max=$total
        sleep 0.5
    done
    echo "$max"
}

# One measured command: prints "label  wall  CPU  peak-RSS  peak-PSS-of-tree  load-average".
measure() {
    local label=$1; shift
    sync
    local log="$DIR/time.log" pid status=0
    setsid /usr/bin/time -v "$@" >"$DIR/out.log" 2>"$log" &
    pid=$!
    local pss
    pss=$(tree_pss "$pid")
    wait "$pid" || status=$?
    [ "$status" = 0 ] || { cat "$DIR/out.log" "$log"; exit 1; }
    local wall cpu rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    cpu=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {printf "%.1f s", u + s}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$log")
    printf '| %s | %s | %s | %s MiB | %.0f MiB | %s |\n' "$label" "$wall" "$cpu" "$rss" \
        "$(awk -v k="$pss" 'BEGIN {print k / 1024}')" "$(cut -d' ' -f1-3 /proc/loadavg)"
}
echo "| command | wall | CPU (user+sys) | peak RSS (largest process) | peak PSS (all processes) | load average at the end |"
echo "|---|---:|---:|---:|---:|---|"

pipeline() {
    cat >"$DIR/p.yaml" <<YAML
input: in.analog
output: out.spy
overwrite: true
execution:
  mode: parallel
  workers: $WORKERS
steps:
$1
YAML
}

pipeline "  - routine: gaussian
    sigma: 3
    dtype: float32"
measure "trialflow gaussian (sigma 3)" "$BIN" run "$DIR/p.yaml" -q
grep -h -o '"chunk_samples": *[0-9a-z]*' "$DIR"/out.spy/*.info | head -1 >&2
rm -rf "$DIR/out.spy"

pipeline "  - routine: butterworth
    filter_type: bp
    freq: [300, 6000]
    order: 5
    direction: onepass
    dtype: float32"
measure "trialflow butterworth bp onepass" "$BIN" run "$DIR/p.yaml" -q
rm -rf "$DIR/out.spy"

pipeline "  - routine: gaussian
    sigma: 3
  - routine: find_peaks
    height: 200
    prominence: 50
    wlen: 61"
measure "trialflow gaussian -> find_peaks" "$BIN" run "$DIR/p.yaml" -q
rm -rf "$DIR/out.spy"

for direction in ${SI_DIRECTIONS-forward forward-backward}; do
    measure "spikeinterface bandpass ($direction)" "$PY" "$ROOT/benches/long_trial/spikeinterface_bandpass.py" \
        "$DIR/in.analog" "$OFFSET" "$SAMPLES" "$CHANNELS" "$FS" "$DIR/si_out" "$direction"
    rm -rf "$DIR/si_out"
done
