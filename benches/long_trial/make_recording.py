"""Writes one continuous int16 recording as a single trial: `in.analog` (HDF5 with a
contiguous `data` dataset, samples x channels, a one-row `trialdefinition` and a
`samplerate` attribute; trialflow reads it without a `.info`), written block by block so
this script's memory stays small whatever the size. Prints the data's byte offset in the
file, which SpikeInterface's binary reader then reads the same bytes from.

The signal (oscillations per channel, noise, sparse negative spikes) is computed once for a
base block of 2^20 samples; every written block is that base rotated by a different shift,
so writing gigabytes costs copies, not random numbers.

usage: make_recording.py OUT.analog SAMPLES CHANNELS [SAMPLERATE]
"""
import sys

import h5py
import numpy as np

out, samples, channels = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fs = float(sys.argv[4]) if len(sys.argv) > 4 else 30000.0
rng = np.random.default_rng(7)
base_len = 1 << 20
t = np.arange(base_len)[:, None] / fs
base = 300 * np.sin(2 * np.pi * (8 + np.arange(channels)) * t)
base += 40 * rng.standard_normal((base_len, channels))
base[rng.random((base_len, channels)) < 2e-4] -= 600
base = np.clip(np.round(base), -32768, 32767).astype("<i2")
block = 1 << 18
with h5py.File(out, "w") as f:
    ds = f.create_dataset("data", shape=(samples, channels), dtype="<i2")
    for k, start in enumerate(range(0, samples, block)):
        n = min(block, samples - start)
        shift = (k * 104729) % base_len
        rows = (shift + np.arange(n)) % base_len
        ds[start:start + n] = base[rows]
    f.create_dataset("trialdefinition", data=np.array([[0.0, samples, 0.0]]))
    f.attrs["samplerate"] = fs
    offset = ds.id.get_offset()
print(offset)
