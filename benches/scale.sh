#!/usr/bin/env bash
# Issue 17: trialflow's time against the h5copy floor, and its peak RSS, across sizes and
# trial counts. For each recording (made once with `trialflow generate`, float32), times
# back to back, REPEAT rounds, as whole processes under /usr/bin/time -v:
#   h5copy of the data dataset (a plain HDF5 read and write of the same bytes, the floor),
#   trialflow run of rectify, parallel (2 workers) and sequential.
# Every output is deleted as soon as it is timed, so the disk holds at most the recording
# and one output (2x the recording; 20 GB for 10gb).
# Prints one markdown row per recording (best time, ratio to the floor, largest peak RSS,
# load average when the row ended), and appends every run to DIR/scale.csv, which
# `crates/plot/examples/scaling_figure.rs` draws.
#
#   benches/scale.sh DIR [SIZES...]
#   SIZES, by input size (10 000 x 32 trials): 0.1gb, 1gb, 10gb (78, 781, 7813 trials);
#          by trial count at 1 GB, 32 channels: 1gb (781 x 10 000 samples),
#          1gb-7810 (x 1000), 1gb-78k (78 125 x 100), 1gb-200k (200 000 x 40);
#          the issue's shapes: tiny (200 000 x 200 x 8, 1.28 GB), 102mb (200 x 2000 x 64).
#          Default: 0.1gb 1gb 10gb 1gb-7810 1gb-78k 1gb-200k.
# Environment: TRIALFLOW (default target/release/trialflow), REPEAT (3), MODES (parallel
# sequential), KEEP=1 keeps recordings over 2 GB (deleted after their row otherwise),
# DURABLE (true; false runs trialflow with `execution.durable: false`, no syncs, like h5copy,
# recorded in the CSV as `parallel-nosync` or `sequential-nosync`).
set -euo pipefail
dir=${1:?usage: benches/scale.sh DIR [SIZES...]}
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(0.1gb 1gb 10gb 1gb-7810 1gb-78k 1gb-200k)
tf=${TRIALFLOW:-target/release/trialflow}
tf=$(readlink -f "$tf")
repeat=${REPEAT:-3}
read -r -a modes <<<"${MODES:-parallel sequential}"
command -v h5copy >/dev/null || { echo "scale.sh: h5copy missing (apt-get install hdf5-tools)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(readlink -f "$dir")
csv="$dir/scale.csv"
# Runs without syncs are recorded as `parallel-nosync` (`sequential-nosync`), so that one
# CSV can hold both and the figure tells them apart.
tool_suffix=""
[ "${DURABLE:-true}" = false ] && tool_suffix="-nosync"
[ -s "$csv" ] || echo "recording,trials,samples,channels,bytes,tool,round,seconds,user_s,sys_s,peak_rss_kb,load1,utc" >"$csv"

shape() {
    case "$1" in
        tiny) echo "200000 200 8" ;;
        102mb) echo "200 2000 64" ;;
        0.1gb) echo "78 10000 32" ;;
        1gb) echo "781 10000 32" ;;
        10gb) echo "7813 10000 32" ;;
        1gb-7810) echo "7810 1000 32" ;;
        1gb-78k) echo "78125 100 32" ;;
        1gb-200k) echo "200000 40 32" ;;
        *) echo "scale.sh: unknown size $1" >&2; exit 2 ;;
    esac
}

# Runs a command under /usr/bin/time -v, then deletes OUTPUT; appends a CSV row and prints
# "seconds peak_rss_kb".  measure TOOL OUTPUT COMMAND...
measure() {
    local tool=$1 output=$2 log t0 t1 secs row
    shift 2
    log=$(mktemp)
    t0=$(date +%s%N)
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; rm -f "$log"; exit 1; }
    t1=$(date +%s%N)
    rm -rf "$output"
    secs=$(awk -v d="$((t1 - t0))" 'BEGIN { printf "%.3f", d / 1e9 }')
    row=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2}
        /Maximum resident set size/ {r = $2} END { printf "%s,%s,%s", u, s, r }' "$log")
    rm -f "$log"
    echo "$size,$trials,$samples,$channels,$bytes,$tool,$round,$secs,$row,$(cut -d' ' -f1 /proc/loadavg),$(date -u +%FT%TZ)" >>"$csv"
    echo "$secs ${row##*,}"
}

header="| recording | h5copy"
rule="|---|---:"
for mode in "${modes[@]}"; do
    header+=" | trialflow $mode | ratio | peak RSS"
    rule+="|---:|---:|---:"
done
echo "$header | load |"
echo "$rule|---:|"
for size in "${sizes[@]}"; do
    read -r trials samples channels <<<"$(shape "$size")"
    bytes=$((trials * samples * channels * 4))
    rec="$dir/$size.spy"
    if [ ! -d "$rec" ]; then
        "$tf" generate "$rec" --trials "$trials" --samples "$samples" --channels "$channels" >/dev/null
    fi
    analog=$(ls "$rec"/*.analog)
    for mode in "${modes[@]}"; do
        cat >"$dir/$size-$mode.yaml" <<EOF
input: $analog
output: $dir/$size-$mode-out.spy
execution:
  mode: $mode
  workers: 2
  durable: ${DURABLE:-true}
steps:
  - routine: rectify
EOF
    done
    declare -A runs=()
    for round in $(seq "$repeat"); do
        runs[h5copy]+="$(measure h5copy "$dir/h5copy.h5" h5copy -i "$analog" -o "$dir/h5copy.h5" -s data -d data)"$'\n'
        for mode in "${modes[@]}"; do
            runs[$mode]+="$(measure "$mode$tool_suffix" "$dir/$size-$mode-out.spy" "$tf" run "$dir/$size-$mode.yaml" --overwrite -q)"$'\n'
        done
    done
    best() { printf '%s' "${runs[$1]}" | awk 'NF' | sort -g | head -1 | cut -d' ' -f1; }
    rss() { printf '%s' "${runs[$1]}" | awk 'NF {print $2}' | sort -n | tail -1; }
    h5t=$(best h5copy)
    line="| $size ($trials x $samples x $channels) | $h5t s"
    for mode in "${modes[@]}"; do
        line+=$(awk -v h="$h5t" -v t="$(best "$mode")" -v r="$(rss "$mode")" \
            'BEGIN { printf " | %.2f s | %.2fx | %.0f MB", t, t / h, r / 1024 }')
    done
    echo "$line | $(cut -d' ' -f1-3 /proc/loadavg) |"
    unset runs
    rm -f "$dir/$size"-*.yaml
    if [ "$bytes" -gt 2000000000 ] && [ -z "${KEEP:-}" ]; then rm -rf "$rec"; fi
done
echo
echo "best of $repeat (peak RSS: the largest of the runs; load: 1, 5, 15 min averages when the row ended); $(nproc) cores; every run in $csv"
