"""``load``: a container or object file opened without reading its data.

Metadata comes from the native ``inspect`` (what ``trialflow info`` shows); each trial, and
each event property, is read from the file when it is accessed. NWB input is not supported
yet; ``.spy`` containers and their object files are.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import _native
from ._errors import UserError


class _TrialsView(Sequence):
    """The trials of an object: indexable (negative indices and slices too) and iterable;
    each access reads that trial from the file."""

    def __init__(self, read, count):
        self._read = read
        self._count = count

    def __len__(self):
        return self._count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._read(i) for i in range(*index.indices(self._count))]
        try:
            i = int(index)
        except TypeError:
            raise TypeError(f"trial index: expected an integer or a slice, got {type(index).__name__}") from None
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError(f"trial {index} out of range: the object has {self._count} trials")
        return self._read(i)

    def __repr__(self):
        return f"<{self._count} trials, read on access>"


class SyncopyObject:
    """One object of a container (AnalogData, SpectralData or SpikeData)."""

    def __init__(self, info):
        self.path = Path(info["path"])
        self.cls = info["class"]
        self.dtype = info["dtype"]
        self.shape = tuple(info["shape"])
        self.samplerate = info["samplerate"]
        self.channel = np.asarray(info["channel"], dtype=object).astype(str)
        rows = np.asarray(info["trials"], dtype=np.float64).reshape(-1, 3)
        self._trials = rows
        self._trialinfo_columns = info["trialinfo_columns"]
        self._datasets = list(info["datasets"])
        self.freq = None if info["freq"] is None else np.asarray(info["freq"], dtype=np.float64)
        self.taper = None if info["taper"] is None else np.asarray(info["taper"], dtype=object).astype(str)
        self.unit = None if info["unit"] is None else np.asarray(info["unit"], dtype=object).astype(str)
        self.trials = _TrialsView(self._read_trial, rows.shape[0])

    @property
    def trialdefinition(self):
        """Rows ``[start, stop, offset, trialinfo...]`` (samples), as stored."""
        if self._trialinfo_columns == 0:
            return self._trials.copy()
        return _native.read_rows(os.fspath(self.path), "trialdefinition")

    @property
    def tag(self):
        return self.path.stem

    def _bounds(self, i):
        start, stop, _ = self._trials[i]
        return int(start), int(stop)

    def _read_trial(self, i):
        start, stop = self._bounds(i)
        return _native.read_rows(os.fspath(self.path), "data", start, stop)

    @property
    def time(self):
        """Per trial, the time of each row in seconds: (sample - start + offset) / samplerate."""
        if self.samplerate is None:
            raise AttributeError(f"{self.path}: no samplerate, so no time axis")
        out = []
        for start, stop, offset in self._trials:
            out.append((np.arange(int(stop - start)) + offset) / self.samplerate)
        return out

    def to_syncopy(self):
        """The object opened by Syncopy (``syncopy.load``); needs the esi-syncopy package."""
        try:
            import syncopy
        except ImportError:
            raise ImportError("to_syncopy() needs Syncopy: pip install esi-syncopy") from None
        return syncopy.load(os.fspath(self.path))

    def __repr__(self):
        return f"<{self.cls} {self.path.name}: shape {self.shape}, {len(self.trials)} trials>"


class SpikeObject(SyncopyObject):
    """SpikeData: ``data`` rows ``[sample, channel, unit]`` and row-aligned properties,
    each read from the file on access (``obj.properties['peak_heights']`` or
    ``obj.peak_heights``). ``trials[i]`` are the rows of trial ``i``."""

    _OWN = ("data", "trialdefinition")

    @property
    def data(self):
        return _native.read_rows(os.fspath(self.path), "data")

    @property
    def property_names(self):
        return [d for d in self._datasets if d not in self._OWN]

    @property
    def properties(self):
        return {name: _native.read_rows(os.fspath(self.path), name) for name in self.property_names}

    def __getattr__(self, name):
        if name.startswith("_") or name not in self.property_names:
            raise AttributeError(name)
        return _native.read_rows(os.fspath(self.path), name)

    def _read_trial(self, i):
        start, stop = self._bounds(i)
        data = self.data
        lo, hi = np.searchsorted(data[:, 0], [start, stop], side="left")
        return data[lo:hi]


class Container(Mapping):
    """A ``.spy`` container: its objects by tag (``container['gaussian']``), in file order."""

    def __init__(self, path, objects):
        self.path = Path(path)
        base = self.path.stem
        self._objects = {}
        for obj in objects:
            tag = obj.path.stem
            if tag.startswith(base + "_"):
                tag = tag[len(base) + 1 :]
            self._objects[tag] = obj

    def __getitem__(self, tag):
        try:
            return self._objects[tag]
        except KeyError:
            raise KeyError(f"{self.path} has no object {tag!r}; it has {', '.join(self._objects)}") from None

    def __iter__(self):
        return iter(self._objects)

    def __len__(self):
        return len(self._objects)

    def __repr__(self):
        inner = ", ".join(f"{tag}: {obj.cls}" for tag, obj in self._objects.items())
        return f"<Container {self.path.name} {{{inner}}}>"


def _object(info):
    return SpikeObject(info) if info["class"] == "SpikeData" else SyncopyObject(info)


def load(path):
    """Opens a result or input without reading data: a ``.spy`` folder gives a
    :class:`Container` of its objects by tag, an object file (``*.analog``, ``*.spectral``,
    ``*.spike``) gives that object. NWB files are not supported yet."""
    path = os.fspath(path)
    if path.endswith(".nwb"):
        raise UserError(f"{path}: NWB input is not supported yet; convert it to a .spy container")
    objects = [_object(info) for info in _native.inspect(path)]
    if os.path.isdir(path):
        return Container(path, objects)
    return objects[0]
