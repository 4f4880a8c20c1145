"""SpikeInterface's band-pass on the same int16 bytes: `bandpass_filter(...).save(n_jobs=2,
chunk_duration="1s")`, written as a binary folder. Reads the recording straight from the
HDF5 file's contiguous `data` (BinaryRecordingExtractor at its byte offset).

usage: spikeinterface_bandpass.py IN.analog OFFSET SAMPLES CHANNELS SAMPLERATE OUT_FOLDER DIRECTION
(DIRECTION: forward, as trialflow's onepass; or forward-backward, SpikeInterface's default)
"""
import sys

import spikeinterface.core as si
import spikeinterface.preprocessing as spre

path, offset, samples, channels, fs, out, direction = sys.argv[1:8]
rec = si.BinaryRecordingExtractor(
    file_paths=[path],
    sampling_frequency=float(fs),
    num_channels=int(channels),
    dtype="int16",
    file_offset=int(offset),
    time_axis=0,
)
assert rec.get_num_samples() >= int(samples)
filtered = spre.bandpass_filter(
    rec, freq_min=300.0, freq_max=6000.0, filter_order=5, direction=direction, dtype="float32"
)
filtered.save(folder=out, n_jobs=2, chunk_duration="1s", progress_bar=False, overwrite=True)
