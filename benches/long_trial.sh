#!/usr/bin/env bash
# Trials longer than memory (issue 17): one continuous int16 recording of SAMPLES x CHANNELS
# (default 33 554 432 x 64 = 4 GiB) as a single trial, through gaussian, one-pass
# butterworth, and gaussian -> find_peaks, each as a whole `trialflow run` timed with
# /usr/bin/time -v (elapsed and peak RSS); then SpikeInterface's
# bandpass_filter(...).save(n_jobs=2, chunk_duration="1s") on the same bytes.
#
#   cargo build --release --bin trialflow
#   python3 -m venv target/bench-venv
#   target/bench-venv/bin/pip install -r fixtures/requirements-interop.txt -r benches/requirements-bench.txt
#   benches/long_trial.sh                 # SAMPLES=... CHANNELS=... to change the size
#   SI_DIRECTIONS=forward benches/long_trial.sh   # one SpikeInterface run ("" for none)
#
# Needs about 3x the recording's size free on the disk of TRIALFLOW_BENCH_DIR (input,
# one float32 output at a time); everything it writes is deleted at the end (KEEP=1 keeps
# the recording for the next run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TRIALFLOW_BIN:-$ROOT/target/release/trialflow}
PY=${TRIALFLOW_BENCH_PYTHON:-$ROOT/target/bench-venv/bin/python}
GEN_PY=${TRIALFLOW_GEN_PYTHON:-$PY}
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

# One measured command: prints "label  seconds  peak-RSS-MiB  load-average".
measure() {
    local label=$1; shift
    sync
    local log="$DIR/time.log"
    /usr/bin/time -v "$@" >"$DIR/out.log" 2>"$log" || { cat "$DIR/out.log" "$log"; exit 1; }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$log")
    printf '%-40s %10s %8s MiB   load %s\n' "$label" "$wall" "$rss" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

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
grep -h -o '"chunk_samples": *[0-9a-z]*' "$DIR"/out.spy/*.info | head -1
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
