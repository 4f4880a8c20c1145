#!/usr/bin/env python3
"""Summarises the JSON lines of benches/connectivity.sh (from files or stdin) as the README's
table: per channel count and analysis, the best (smallest) wall time of each Syncopy mode and
of the trialflow runs, trialflow's MB/s, the ratio to the faster Syncopy mode, and the CPU
seconds of Syncopy sequential and trialflow (best run each) with their ratio; and, where the
log has them, the runs through the Python package in Syncopy's process ("trialflow-python",
timed as Syncopy is: the like-for-like pair) with their ratio.

    python3 benches/connectivity_table.py LOG.jsonl [LOG.jsonl ...]
"""
import fileinput
import json
from collections import defaultdict


def main():
    runs = defaultdict(lambda: defaultdict(list))
    for line in fileinput.input():
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        runs[(r["channels"], r["analysis"])][r["mode"]].append(r)
    print("| channels | analysis | Syncopy sequential | Syncopy 2 dask workers | trialflow "
          "| trialflow MB/s | ratio to the faster Syncopy | CPU s: Syncopy seq / trialflow "
          "| CPU ratio | trialflow in Python | its ratio | Syncopy runs per mode |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (channels, analysis), modes in sorted(runs.items()):
        best = {m: min(rs, key=lambda r: r["seconds"]) for m, rs in modes.items()}
        seq, par, tf, tfp = (best.get(m) for m in
                             ("sequential", "parallel2", "trialflow", "trialflow-python"))
        peers = [r["seconds"] for r in (seq, par) if r]
        cell = lambda r: (f"{r['seconds']:.3f} s" if r['seconds'] < 0.1 else f"{r['seconds']:.2f} s") if r else "-"
        ratio = f"**{min(peers) / tf['seconds']:.1f}x**" if tf and peers else "-"
        ratio_py = f"**{min(peers) / tfp['seconds']:.1f}x**" if tfp and peers else "-"
        cpu_seq = min((r["cpu_seconds"] for r in modes.get("sequential", [])), default=None)
        cpu_tf = min((r["cpu_seconds"] for r in modes.get("trialflow", [])), default=None)
        cpu = f"{cpu_seq:.2f} / {cpu_tf:.2f}" if cpu_seq and cpu_tf else (
            f"{cpu_seq:.2f} / -" if cpu_seq else "-")
        cpu_ratio = f"{cpu_seq / cpu_tf:.1f}x" if cpu_seq and cpu_tf else "-"
        n = len(modes.get("sequential", []))
        mbs = f"{tf['mb_per_s']:.1f}" if tf else "-"
        print(f"| {channels} | {analysis} | {cell(seq)} | {cell(par)} | {cell(tf)} | {mbs} "
              f"| {ratio} | {cpu} | {cpu_ratio} | {cell(tfp)} | {ratio_py} | {n} |")


if __name__ == "__main__":
    main()
