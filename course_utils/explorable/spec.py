"""The control spec of an explorable: its controls (:class:`Menu`, :class:`Slider`), panels and series.

:class:`Menu` (discrete choices) and :class:`Slider` (an ordered list of values), each optionally shown only
``when`` a menu has given choices; :class:`Panel` (one drawing, its axes and its message thresholds) of
:class:`Series` (one curve each); :class:`Point` (one precomputed combination).  Each checks its arguments when
built.  Also the defaults the front ends share: :data:`MAX_KB`, :data:`PALETTE` and the message texts.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any, Mapping, Sequence

#: The largest embedded data (JSON) :meth:`Explorable.html` accepts by default, in KB (1 KB = 1024 bytes).
MAX_KB = 300.0
#: Line colours (colour-blind-safe, the Okabe-Ito order without yellow).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEFAULT_TEXTS = {
    "nan": "{label}: diverged (inf/NaN) at {xname} {x}",
    "floor": "{label}: fell below {floor} at {xname} {x}",
    "ceil": "{label}: grew above {ceil} at {xname} {x}",
    "nonpositive": "{label}: not drawn on the log scale from {xname} {x} on (value \u2264 0 there)",
    "empty": "nothing to draw for this setting",
}


def _fmt(v: float) -> str:
    """The number format of the figure (the same as the script's ``fmt``)."""
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        m, e = f"{v:.0e}".split("e")
        return f"{m}e{int(e)}"
    return f"{float(f'{v:.4g}'):g}"


# ----------------------------------------------------------------------------- the control spec
def _check_when(owner: str, when) -> dict:
    if when is None:
        return {}
    if not isinstance(when, Mapping) or not when:
        raise ValueError(f"control {owner!r}: when= must be a dict such as {{'scheduler': ['step']}} "
                         f"(control name -> the values for which {owner!r} is used), got {when!r}.")
    out = {}
    for k, vals in when.items():
        if isinstance(vals, (str, int, float)):
            vals = [vals]
        vals = list(vals)
        if not vals:
            raise ValueError(f"control {owner!r}: when[{k!r}] is empty; list the values of {k!r} that use {owner!r}.")
        out[str(k)] = vals
    return out


@dataclasses.dataclass(frozen=True)
class Menu:
    """A discrete choice: ``options`` are the values passed to ``compute``; ``texts`` what the reader sees."""

    name: str
    options: Sequence[Any]
    label: str | None = None
    texts: Sequence[str] | None = None
    default: Any = None
    when: Mapping[str, Sequence[Any]] | None = None

    kind = "menu"

    def __post_init__(self):
        _check_name(self.name)
        opts = list(self.options) if not isinstance(self.options, str) else None
        if not opts:
            raise ValueError(f"menu {self.name!r} has no options: give a list of at least one value, "
                             f"e.g. Menu({self.name!r}, ['tanh', 'relu']).")
        if len({json.dumps(o, sort_keys=True, default=str) for o in opts}) != len(opts):
            raise ValueError(f"menu {self.name!r} lists an option twice: {opts}. Each option must be different.")
        for o in opts:
            _check_json_value(self.name, o)
        object.__setattr__(self, "options", tuple(opts))
        object.__setattr__(self, "texts", _check_texts(self.name, self.texts, [str(o) for o in opts]))
        object.__setattr__(self, "when", _check_when(self.name, self.when))
        _check_default(self)

    @property
    def values(self) -> tuple:
        return self.options


@dataclasses.dataclass(frozen=True)
class Slider:
    """An ordered list of numbers (strictly increasing); the slider moves from one to the next."""

    name: str
    values: Sequence[float]
    label: str | None = None
    texts: Sequence[str] | None = None
    default: float | None = None
    when: Mapping[str, Sequence[Any]] | None = None
    #: what a screen reader says after the value ("layers": "depth 50 layers"); the page shows ``texts``
    unit: str | None = None

    kind = "slider"

    def __post_init__(self):
        _check_name(self.name)
        vals = list(self.values) if not isinstance(self.values, str) else None
        if not vals:
            raise ValueError(f"slider {self.name!r} has no values: give an increasing list of numbers, "
                             f"e.g. Slider({self.name!r}, [0.1, 0.3, 1.0]).")
        for v in vals:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"slider {self.name!r}: every value must be a finite number, got {v!r}; "
                                 f"use a Menu for choices that are not numbers.")
        if any(b <= a for a, b in zip(vals, vals[1:])):
            raise ValueError(f"slider {self.name!r}: values must be strictly increasing (an ordered list), got "
                             f"{vals}. Sort them and remove repeats.")
        object.__setattr__(self, "values", tuple(vals))
        object.__setattr__(self, "texts", _check_texts(self.name, self.texts, [_fmt(v) for v in vals]))
        object.__setattr__(self, "when", _check_when(self.name, self.when))
        _check_default(self)


def _check_name(name) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"control name {name!r} must be a Python identifier (it becomes a keyword argument of "
                         f"compute), e.g. 'depth' or 'T_max'.")


def _check_json_value(name, v) -> None:
    if not isinstance(v, (str, int, float, bool)) or (isinstance(v, float) and not math.isfinite(v)):
        raise ValueError(f"menu {name!r}: option {v!r} must be a string or a finite number (it is stored as JSON).")


def _check_texts(name, texts, default) -> tuple[str, ...]:
    if texts is None:
        return tuple(default)
    texts = [str(t) for t in texts]
    if len(texts) != len(default):
        raise ValueError(f"control {name!r}: {len(texts)} texts for {len(default)} values; give one text per value.")
    return tuple(texts)


def _check_default(c) -> None:
    vals = list(c.values)
    if c.default is None:
        object.__setattr__(c, "default", vals[0])
    elif c.default not in vals:
        raise ValueError(f"control {c.name!r}: default {c.default!r} is not one of its values {vals}.")


@dataclasses.dataclass(frozen=True)
class Series:
    """One curve of a panel: ``name`` is the key ``compute`` returns it under, ``label`` the legend."""

    name: str
    label: str
    color: str | None = None
    dash: str | None = None      # an SVG dash pattern such as "5 3" (dashed) or None (solid)
    marker: bool = False         # draw a dot at every point

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"series name must be a non-empty string, got {self.name!r}.")


@dataclasses.dataclass(frozen=True)
class Panel:
    """One plot of the figure.

    Args:
        yscale: ``"linear"``, ``"log"``, or ``"toggle"`` (a check box lets the reader switch to log).
        floor, ceil: values below ``floor`` / above ``ceil`` end the line with a message (None: no bound).
        xname: the word for one x step in the messages ("layer", "step").
        xlim, ylim: fixed axis ranges (None: from the data of the setting shown).
        yzero: a linear y axis starts at 0.
        image: draw ``Explorable.images[image]`` (a base64 PNG) under the curves, filling the axes.
        flow: ``"forward"`` (a curve is drawn from its first point until a value cannot be drawn) or
            ``"backward"`` (from its last point down: a gradient that enters at the top layer).
    """

    title: str
    series: Sequence[Series]
    xlabel: str = ""
    ylabel: str = ""
    yscale: str = "linear"
    floor: float | None = None
    ceil: float | None = None
    xname: str = "x"
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    yzero: bool = False
    image: str | None = None
    flow: str = "forward"

    def __post_init__(self):
        if self.flow not in ("forward", "backward"):
            raise ValueError(f"panel {self.title!r}: flow must be 'forward' or 'backward', got {self.flow!r}.")
        if self.yscale not in ("linear", "log", "toggle"):
            raise ValueError(f"panel {self.title!r}: yscale must be 'linear', 'log' or 'toggle', got {self.yscale!r}.")
        series = list(self.series)
        if not series or not all(isinstance(s, Series) for s in series):
            raise ValueError(f"panel {self.title!r} needs a list of Series, e.g. [Series('v', 'measured')].")
        for lim in ("xlim", "ylim"):
            v = getattr(self, lim)
            if v is not None and (len(v) != 2 or not v[0] < v[1]):
                raise ValueError(f"panel {self.title!r}: {lim} must be (low, high) with low < high, got {v!r}.")
        if self.floor is not None and self.ceil is not None and not self.floor < self.ceil:
            raise ValueError(f"panel {self.title!r}: floor {self.floor} must be below ceil {self.ceil}.")
        object.__setattr__(self, "series", tuple(series))


@dataclasses.dataclass
class Point:
    """What ``compute`` may return instead of a plain ``{series name: values}`` dict.

    ``series`` maps a series name to its y values (x = ``x0 + i * dx``) or to an ``(x, y)`` pair;
    ``note`` is a sentence shown under the figure for this setting (e.g. why there is no prediction).
    """

    series: Mapping[str, Any]
    note: str = ""
    x0: float | None = None
    dx: float | None = None
