#!/usr/bin/env bash
# Issue 17: trialflow's time against the h5copy floor, and its peak RSS, across sizes and
# trial counts. For each recording (made once with `trialflow generate`, float32), times
# back to back, best of REPEAT rounds, as whole processes under /usr/bin/time -v:
#   h5copy of the data dataset (a plain HDF5 read and write of the same bytes, the floor),
#   trialflow run of rectify, parallel (2 workers) and sequential.
# Prints one markdown row per recording: seconds, ratio to the floor, peak RSS.
#
#   benches/scale.sh DIR [SIZES...]
#   SIZES: tiny (200 000 x 200 x 8), 102mb (200 x 2000 x 64), 0.1gb, 1gb, 10gb
#          (10 000 x 32 trials: 78, 781, 7813 of them); default: tiny 102mb 0.1gb 1gb
# Environment: TRIALFLOW (default target/release/trialflow), REPEAT (3), KEEP=1 keeps the
# generated recordings (10gb takes 10 GB of disk; it is deleted after its row otherwise).
set -euo pipefail
dir=${1:?usage: benches/scale.sh DIR [SIZES...]}
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(tiny 102mb 0.1gb 1gb)
tf=${TRIALFLOW:-target/release/trialflow}
tf=$(readlink -f "$tf")
repeat=${REPEAT:-3}
command -v h5copy >/dev/null || { echo "scale.sh: h5copy missing (apt-get install hdf5-tools)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(readlink -f "$dir")

shape() {
    case "$1" in
        tiny) echo "200000 200 8" ;;
        102mb) echo "200 2000 64" ;;
        0.1gb) echo "78 10000 32" ;;
        1gb) echo "781 10000 32" ;;
        10gb) echo "7813 10000 32" ;;
        *) echo "scale.sh: unknown size $1" >&2; exit 2 ;;
    esac
}

# Runs a command under /usr/bin/time -v; prints "seconds peak_rss_kb".
measure() {
    local log t0 t1 rss
    log=$(mktemp)
    t0=$(date +%s%N)
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; rm -f "$log"; exit 1; }
    t1=$(date +%s%N)
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    rm -f "$log"
    echo "$(( (t1 - t0) / 1000 ))e-6 $rss"
}

echo "| recording | h5copy | trialflow parallel | ratio | peak RSS | trialflow sequential | ratio | peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for size in "${sizes[@]}"; do
    read -r trials samples channels <<<"$(shape "$size")"
    rec="$dir/$size.spy"
    if [ ! -d "$rec" ]; then
        "$tf" generate "$rec" --trials "$trials" --samples "$samples" --channels "$channels" >/dev/null
    fi
    analog=$(ls "$rec"/*.analog)
    for mode in parallel sequential; do
        cat >"$dir/$size-$mode.yaml" <<EOF
input: $analog
output: $dir/$size-$mode-out.spy
execution:
  mode: $mode
  workers: 2
steps:
  - routine: rectify
EOF
    done
    best() { sort -g | head -1; }
    h5=() par=() seq=()
    for _ in $(seq "$repeat"); do
        rm -f "$dir/h5copy.h5"
        h5+=("$(measure h5copy -i "$analog" -o "$dir/h5copy.h5" -s data -d data)")
        rm -rf "$dir/$size-parallel-out.spy"
        par+=("$(measure "$tf" run "$dir/$size-parallel.yaml" --overwrite -q)")
        rm -rf "$dir/$size-sequential-out.spy"
        seq+=("$(measure "$tf" run "$dir/$size-sequential.yaml" --overwrite -q)")
    done
    rm -rf "$dir/h5copy.h5" "$dir/$size-parallel-out.spy" "$dir/$size-sequential-out.spy"
    h5t=$(printf '%s\n' "${h5[@]}" | awk '{print $1}' | best)
    pt=$(printf '%s\n' "${par[@]}" | awk '{print $1}' | best)
    st=$(printf '%s\n' "${seq[@]}" | awk '{print $1}' | best)
    prss=$(printf '%s\n' "${par[@]}" | awk '{print $2}' | sort -n | tail -1)
    srss=$(printf '%s\n' "${seq[@]}" | awk '{print $2}' | sort -n | tail -1)
    awk -v n="$size ($trials x $samples x $channels)" -v h="$h5t" -v p="$pt" -v s="$st" \
        -v pr="$prss" -v sr="$srss" 'BEGIN {
        printf "| %s | %.2f s | %.2f s | %.2fx | %.0f MB | %.2f s | %.2fx | %.0f MB |\n",
            n, h, p, p / h, pr / 1024, s, s / h, sr / 1024 }'
    if [ "$size" = 10gb ] && [ -z "${KEEP:-}" ]; then rm -rf "$rec"; fi
done
echo
echo "best of $repeat (peak RSS: the largest of the runs); load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
