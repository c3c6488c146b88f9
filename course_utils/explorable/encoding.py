"""The curves of an explorable as compact JSON, and where a curve stops being drawable.

:func:`encode_series` and :func:`decode_series` (rounded values, a regular x stored as its start and step);
:func:`series_events` (the first point that is NaN/inf, below a panel's floor, above its ceiling or not
positive on a log scale: the line stops there and the figure says why).  The page script
(``course_utils/static/explorable.js``) reads the same encoding.
"""
from __future__ import annotations

import itertools
import math
from typing import Any

# ----------------------------------------------------------------------------- encoding the curves
def _round(v, digits: int):
    if v is None:
        return None
    v = float(v)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}") if v != 0 else 0.0


def _as_floats(values, what: str) -> list:
    try:
        import numpy as np  # the package depends on numpy; imported lazily to keep this module light
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: values must be numbers (None/NaN/inf allowed), got {values!r:.80}: {e}") from None
    if arr.ndim != 1:
        raise ValueError(f"{what}: values must be one-dimensional, got shape {arr.shape}.")
    return arr.tolist()


def encode_series(y, *, x=None, digits: int = 4):
    """The JSON form of one curve: y rounded to ``digits`` significant digits, non-finite -> ``None``.

    A bare list when x is implicit; runs of 3+ equal values become ``{"r": [value, count, ...]}`` when that
    is shorter; an explicit ``x`` gives ``{"x": [...], "y": ...}``.
    """
    ys = [_round(v, digits) for v in _as_floats(y, "series")]
    enc: Any = ys
    runs: list = []
    for v, grp in itertools.groupby(ys):
        runs += [v, len(list(grp))]
    if len(runs) < 0.6 * len(ys):
        enc = {"r": runs}
    if x is not None:
        xs = [_round(v, 6) for v in _as_floats(x, "series x")]
        if len(xs) != len(ys):
            raise ValueError(f"series: {len(xs)} x values for {len(ys)} y values; give one x per y.")
        enc = {"x": xs, **({"y": enc} if isinstance(enc, list) else enc)}
    return enc


def decode_series(enc, x0: float = 1.0, dx: float = 1.0) -> tuple[list, list]:
    """``(x, y)`` lists of a curve stored by :func:`encode_series` (``None`` where it was not finite)."""
    x = None
    if isinstance(enc, dict):
        x = enc.get("x")
        if "r" in enc:
            r = enc["r"]
            y = [v for i in range(0, len(r), 2) for v in [r[i]] * int(r[i + 1])]
        else:
            y = list(enc["y"])
    else:
        y = list(enc)
    if x is None:
        x = [x0 + i * dx for i in range(len(y))]
    return list(x), y


def series_events(x, y, *, floor=None, ceil=None, log=False, backward=False) -> tuple[int, str | None, float | None]:
    """Where a curve stops being drawable: ``(n_good, reason, x_at)``.

    ``reason`` is ``"nan"`` (None/NaN/inf), ``"floor"``, ``"ceil"``, ``"nonpositive"`` (log axis) or None; the
    first ``n_good`` points are drawn (the last ``n_good`` with ``backward``: the curve is read from its end).
    The script of :meth:`Explorable.html` applies the same rule.
    """
    order = range(len(y) - 1, -1, -1) if backward else range(len(y))
    for k, i in enumerate(order):
        v = y[i]
        if v is None or not math.isfinite(v):
            return k, "nan", x[i]
        if floor is not None and v < floor:
            return k, "floor", x[i]
        if ceil is not None and v > ceil:
            return k, "ceil", x[i]
        if log and v <= 0:
            return k, "nonpositive", x[i]
    return len(y), None, None


def _good(x, y, n, backward):
    """The drawn part of a curve: its first ``n`` points, or its last ``n`` when read backward."""
    return (x[len(x) - n:], y[len(y) - n:]) if backward else (x[:n], y[:n])
