"""``run`` and ``merge``: ``trialflow run`` / ``trialflow merge`` from Python."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import _json, _native
from ._custom import lent_steps
from ._progress import progress_reporter


@dataclass(frozen=True)
class SavedObject:
    """One object a run wrote: open it with ``trialflow.load(obj.path)``."""

    tag: str
    path: Path
    cls: str
    dtype: str
    shape: tuple

    def __repr__(self):
        return f"SavedObject({self.tag!r}, {self.cls}, shape={self.shape}, path='{self.path}')"


@dataclass(frozen=True)
class RunResult:
    """What a run (or shard, or merge) wrote, and its statistics."""

    container: Path
    objects: list
    tasks: int
    trials: int
    workers: int
    elapsed: float
    input_bytes: int
    warnings: list = field(default_factory=list)
    resumed_from: object = None
    failed: list = field(default_factory=list)
    shard: object = None

    def __getitem__(self, tag):
        for obj in self.objects:
            if obj.tag == tag:
                return obj
        raise KeyError(f"no saved object {tag!r}; saved: {', '.join(o.tag for o in self.objects)}")


def _result(raw):
    objects = [
        SavedObject(o["tag"], Path(o["path"]), o["class"], o["dtype"], tuple(o["shape"]))
        for o in raw["objects"]
    ]
    return RunResult(
        container=Path(raw["container"]),
        objects=objects,
        tasks=raw["tasks"],
        trials=raw["trials"],
        workers=raw["workers"],
        elapsed=raw["elapsed"],
        input_bytes=raw["input_bytes"],
        warnings=list(raw["warnings"]),
        resumed_from=raw["resumed_from"],
        failed=list(raw["failed"]),
        shard=raw["shard"],
    )


def _looks_like_path(text):
    if "\n" in text:
        return False
    return text.endswith((".yaml", ".yml")) or os.path.isfile(text)


class _Source:
    """The pipeline as the native call wants it: ("file" | "yaml" | "json", text, base)."""

    def __init__(self, pipeline):
        self.lent = None
        if isinstance(pipeline, os.PathLike) or (isinstance(pipeline, str) and _looks_like_path(pipeline)):
            self.kind, self.text, self.base = "file", os.fspath(pipeline), "."
        elif isinstance(pipeline, str):
            self.kind, self.text, self.base = "yaml", pipeline, os.getcwd()
        elif isinstance(pipeline, dict):
            self.kind, self.base = "json", os.getcwd()
            self.tree = dict(pipeline)
        else:
            raise TypeError(
                f"pipeline: expected a YAML file path, YAML text or a dict, got {type(pipeline).__name__}"
            )

    def __enter__(self):
        if self.kind != "json":
            return self
        steps = self.tree.get("steps")
        if isinstance(steps, (list, tuple)):
            self.lent = lent_steps(steps, "pipeline['steps']")
            self.tree["steps"] = self.lent.__enter__()
        self.text = _json.dumps(self.tree)
        return self

    def __exit__(self, *exc):
        if self.lent is not None:
            self.lent.__exit__(*exc)
        return False


def _sets(set):
    if set is None:
        return []
    if isinstance(set, str):
        return [set]
    if isinstance(set, dict):
        return [f"{key}={_json.dumps(value) if not isinstance(value, str) else value}" for key, value in set.items()]
    return [str(s) for s in set]


def run(pipeline, *, overwrite=False, resume=False, set=None, shard=None, progress=None):
    """Runs a pipeline exactly as ``trialflow run`` does.

    ``pipeline`` is a YAML file path, YAML text, or a dict with the YAML's structure (its
    steps may be Python routine objects). Relative ``input``/``output`` paths are resolved
    against the file's folder, or the current directory for text and dicts. ``set`` holds
    ``--set`` edits (``"execution.workers=4"``, a list of them, or a dict ``{key.path:
    value}``); ``shard=(index, count)`` computes one shard (``trialflow run --shard``;
    assemble with :func:`merge`). Raises :class:`UserError` where the CLI exits 2 and
    :class:`RunError` where it exits 1; Ctrl-C stops the run between tasks, keeps its
    completed work for ``resume=True`` and raises ``KeyboardInterrupt``.
    """
    if shard is not None:
        try:
            shard = (int(shard[0]), int(shard[1]))
        except (TypeError, ValueError, IndexError):
            raise TypeError(f"shard: expected (index, count), got {shard!r}") from None
    reporter = progress_reporter(progress, "trialflow run")
    try:
        with _Source(pipeline) as source:
            raw = _native.run(
                source.kind,
                source.text,
                source.base,
                _sets(set),
                overwrite=bool(overwrite),
                resume=bool(resume),
                shard=shard,
                progress=reporter,
            )
    finally:
        if reporter is not None:
            reporter.close()
    return _result(raw)


def merge(pipeline, *, overwrite=False, set=None):
    """Assembles the output of a run computed as shards (``trialflow merge``)."""
    with _Source(pipeline) as source:
        raw = _native.merge(source.kind, source.text, source.base, _sets(set), overwrite=bool(overwrite))
    return _result(raw)
