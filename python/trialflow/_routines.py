"""``routines()``: the registry's documentation, one object per routine whose docstring is
what ``trialflow routines NAME`` prints."""

from dataclasses import dataclass

from . import _native


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    default: str
    doc: str


class RoutineInfo:
    """A built-in routine's documentation (see ``__doc__``)."""

    def __init__(self, raw):
        self.name = raw["name"]
        self.summary = raw["summary"]
        self.matches = raw["matches"]
        self.input = raw["input"]
        self.output = raw["output"]
        self.example = raw["example"]
        self.params = [Param(p["name"], p["kind"], p["default"], p["doc"]) for p in raw["params"]]
        self.defaults = {p.name: p.default for p in self.params}
        self.__doc__ = self._doc()

    def _doc(self):
        lines = [f"{self.name}: {self.summary}", "", f"{self.input} -> {self.output}"]
        if self.matches:
            lines.append(f"Matches: {self.matches}")
        if self.params:
            lines += ["", "Parameters:"]
            for p in self.params:
                lines.append(f"  {p.name} ({p.kind}, default {p.default}): {p.doc}")
        lines += ["", "Example step:", *("  " + line for line in self.example.splitlines())]
        return "\n".join(lines)

    def __repr__(self):
        return f"<routine {self.name}: {self.input} -> {self.output}>"


def routines():
    """Every built-in routine, sorted by name."""
    return [RoutineInfo(raw) for raw in _native.routines()]
