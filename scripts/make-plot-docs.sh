#!/usr/bin/env bash
# Regenerates the figures of docs/plotting.md (docs/figures/*.png) with the trialflow CLI on a
# generated recording: one figure per kind `trialflow plot` draws. Run from anywhere:
#   scripts/make-plot-docs.sh            (builds the debug binary if needed)
# The time-frequency figure needs SpectralData with a time axis, which no built-in routine
# writes yet; it is made from the generated recording by the interop venv's h5py
# (TRIALFLOW_INTEROP_PYTHON, default target/interop-venv/bin/python) and skipped, saying
# so, when that Python is missing.
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

python="${TRIALFLOW_INTEROP_PYTHON:-$OLDPWD/target/interop-venv/bin/python}"
if [ -x "$python" ]; then
    # A sliding-window power map of channels 0-2 (100 ms Hann windows every 10 ms), written as
    # SpectralData with a time axis (the layout Syncopy's mtmconvol writes).
    "$python" - <<'PY'
import json, h5py, numpy as np
src = h5py.File("rec.spy/rec_raw.analog", "r")
data, trl = src["data"][:].astype("f8"), src["trialdefinition"][:]
fs, win, step = 1000.0, 100, 10
freqs = np.fft.rfftfreq(win, 1 / fs)[1:11]
taper = np.hanning(win)
blocks, rows, start = [], [], 0
for s0, s1, off, *_ in trl:
    x = data[int(s0):int(s1), :3]
    centres = np.arange(win // 2, x.shape[0] - win // 2, step)
    spec = np.stack([np.abs(np.fft.rfft((x[c - win // 2:c + win // 2] - x[c - win // 2:c + win // 2].mean(0)) * taper[:, None], axis=0)[1:11]) ** 2 * 2 / (fs * (taper ** 2).sum()) for c in centres])
    blocks.append(spec[:, None, :, :])
    first = (centres[0] + off) / step
    rows.append([start, start + len(centres), np.round(first)])
    start += len(centres)
with h5py.File("tf_power.spectral", "w") as f:
    f["data"] = np.concatenate(blocks).astype("f4")
    f["trialdefinition"] = np.array(rows, "f8")
info = {"dataclass": "SpectralData", "dimord": ["time", "taper", "freq", "channel"],
        "samplerate": fs / step, "channel": ["channel001", "channel002", "channel003"],
        "freq": freqs.tolist(), "cfg": {"power": {"routine": "sliding hann", "output": "pow"}}}
json.dump(info, open("tf_power.spectral.info", "w"))
PY
    "$bin" plot tf_power.spectral --log --latency -0.3 1.0 --size "$size" -o "$out/tfmap.png"
else
    echo "skipped docs/figures/tfmap.png: no interop Python at $python" >&2
fi
ls -l "$out"
