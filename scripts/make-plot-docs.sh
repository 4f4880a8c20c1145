#!/usr/bin/env bash
# Regenerates the figures of docs/plotting.md (docs/figures/*.png) with the trialflow CLI on a
# generated recording: one figure per kind `trialflow plot` draws. Run from anywhere:
#   scripts/make-plot-docs.sh            (builds the debug binary if needed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --quiet --bin trialflow
bin="$PWD/target/debug/trialflow"
out="$PWD/docs/figures"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"

"$bin" generate rec.spy --trials 20 --samples 2000 --channels 8 --seed 1 --unequal >/dev/null
cat > pipeline.yaml <<'YAML'
input: rec.spy
output: res.spy
steps:
  - routine: detrend
    name: detrended
    save: true
  - routine: gaussian
    sigma: 2
    name: smoothed
    save: true
  - routine: find_peaks
    prominence: 1.5
    wlen: 25
    width: [null, 10]
    name: peaks
YAML
cat > spectrum.yaml <<'YAML'
input: res.spy/res_detrended.analog
output: spec.spy
steps:
  - routine: welch
    nperseg: 500
    name: psd
YAML
"$bin" run pipeline.yaml -q
"$bin" run spectrum.yaml -q

size=900x560
"$bin" plot res.spy/smoothed --trials 0 --channels 0-3 --overlay res.spy/peaks \
    --size "$size" -o "$out/traces-peaks.png"
"$bin" plot res.spy/detrended --trials 0-1 --channels 0-2 --latency -0.2 0.4 \
    --size "$size" -o "$out/traces-trials.png"
"$bin" plot spec.spy/psd --channels 0-5 --foilim 1 60 --size "$size" -o "$out/spectrum.png"
"$bin" plot spec.spy/psd --channels 0-5 --foilim 1 100 --log --size "$size" -o "$out/spectrum-log.png"
"$bin" plot res.spy/peaks --channels 0-3 --size "$size" -o "$out/raster.png"

cat > tf.yaml <<'YAML'
input: rec.spy
output: tf.spy
steps:
  - routine: mtmconvol
    t_ftimwin: 0.1
    toi: 0.9
    foilim: [5, 100]
    name: power
YAML
cat > coh.yaml <<'YAML'
input: rec.spy
output: coh.spy
steps:
  - routine: connectivity
    method: coh
    tapsmofrq: 3
    foilim: [1, 60]
YAML
"$bin" run tf.yaml -q
"$bin" run coh.yaml -q
"$bin" plot tf.spy/power --channels 0-2 --log --latency -0.3 1.0 --size "$size" -o "$out/tfmap.png"
"$bin" plot coh.spy --channels 0-2 --size "$size" -o "$out/coherence.png"
cat > tl.yaml <<'YAML'
input: rec.spy
output: tl.spy
steps:
  - routine: timelock
    latency: [-0.3, 1.2]
    name: evoked
YAML
"$bin" run tl.yaml -q
"$bin" plot tl.spy/evoked --channels 0-3 --size "$size" -o "$out/evoked.png"
ls -l "$out"
