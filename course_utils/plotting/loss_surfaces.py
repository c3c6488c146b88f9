"""Figures of loss surfaces (Part III): 3-D surface, contour map and optimizer trajectories on it.

:func:`plot_surface_3d`, :func:`plot_contour`, :func:`plot_trajectories` (with the text description the figure
check reads) and :func:`window_crossings` (where a path leaves the plotted window).  The grids come from
:mod:`course_utils.surfaces`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .layout import legend_outside
from .style import PALETTE, fmt_number, optimizer_styles


# ----------------------------------------------------------------------------- loss surfaces (Part III)
def _levels(Z: np.ndarray, log: bool) -> np.ndarray:
    return np.log1p(Z - Z.min()) if log else Z


def plot_surface_3d(grid: tuple[np.ndarray, np.ndarray, np.ndarray], *, title: str, ax=None, log: bool = False,
                    cmap: str = "viridis", zlabel: str = "loss", bands: int = 20):
    """A 3-D view of ``evaluate_grid`` output, coloured in ``bands`` bands of height (those of
    :func:`plot_contour`). Returns the (3-D) axes.

    The facets are drawn without anti-aliasing (with ``linewidth=0`` that shows no seams between them) and in
    banded colours: the PNG is about half the size of a smooth, anti-aliased one."""
    W1, W2, Z = grid
    if ax is None:
        fig = plt.figure(figsize=(5.2, 4.2))
        ax = fig.add_subplot(projection="3d")
    ax.plot_surface(W1, W2, _levels(Z, log), cmap=plt.get_cmap(cmap, bands), linewidth=0, antialiased=False,
                    rcount=60, ccount=60)
    ax.set_xlabel(r"$w_1$")
    ax.set_ylabel(r"$w_2$")
    ax.set_zlabel(f"log(1 + {zlabel} − min)" if log else zlabel)
    ax.set_title(title)
    return ax


def plot_contour(grid: tuple[np.ndarray, np.ndarray, np.ndarray], *, title: str, ax=None, log: bool = False,
                 cmap: str = "viridis", levels: int = 20, colorbar: bool = True, label: str = "loss"):
    """Filled contours of ``evaluate_grid`` output, axes labelled ``w1``/``w2``. Returns the axes.

    Twenty bands read as well as thirty on the book's figures and keep each PNG about a sixth lighter."""
    W1, W2, Z = grid
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.4))
    cs = ax.contourf(W1, W2, _levels(Z, log), levels=levels, cmap=cmap)
    if colorbar:
        ax.figure.colorbar(cs, ax=ax, label=f"log(1 + {label} − min)" if log else label)
    ax.set_xlabel(r"$w_1$")
    ax.set_ylabel(r"$w_2$")
    ax.set_title(title)
    return ax


def window_crossings(path: np.ndarray, xlim: Sequence[float], ylim: Sequence[float]) -> list[tuple[int, str, float, float]]:
    """Where a 2-D path crosses the edge of the window ``xlim`` × ``ylim``, segment by segment.

    Segment ``i`` joins point ``i`` to point ``i + 1``; each is clipped to the window (Liang and Barsky's
    parametric test).  A segment from a point inside to one outside *exits* where it meets the edge; one from
    outside to inside *enters* there; one whose two ends lie outside but whose middle crosses the window enters
    and exits.  Segments with a non-finite end are skipped (a diverged run has no direction to follow).

    Returns:
        ``[(i, "entry" | "exit", x, y), ...]`` in the order the path visits them.

    >>> window_crossings(np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 0.5], [0.5, 0.5]]), (-1, 1), (-1, 1))
    [(0, 'exit', 1.0, 0.0), (2, 'entry', 1.0, 0.5)]
    """
    p = np.asarray(path, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"window_crossings needs a path of shape (T, 2), got {p.shape}.")
    (x0, x1), (y0, y1) = (sorted(map(float, xlim)), sorted(map(float, ylim)))
    if len(p) < 2:
        return []
    a, b = p[:-1], p[1:]
    with np.errstate(all="ignore"):
        d = b - a
        t_in, t_out = np.zeros(len(a)), np.ones(len(a))
        ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
        for j, (lo, hi) in enumerate(((x0, x1), (y0, y1))):
            still = d[:, j] == 0
            ok &= ~(still & ((a[:, j] < lo) | (a[:, j] > hi)))  # parallel to this edge pair and outside it
            ta, tb = (lo - a[:, j]) / d[:, j], (hi - a[:, j]) / d[:, j]
            t_in = np.where(still, t_in, np.maximum(t_in, np.minimum(ta, tb)))
            t_out = np.where(still, t_out, np.minimum(t_out, np.maximum(ta, tb)))
    inside = np.isfinite(p).all(axis=1) & (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
    out = []
    for i in np.flatnonzero(ok & (t_in <= t_out) & ~(inside[:-1] & inside[1:])):
        if not inside[i] and not inside[i + 1] and not t_in[i] < t_out[i]:
            continue  # both ends outside, touching a corner at most
        if not inside[i]:
            e = a[i] + t_in[i] * d[i]
            out.append((int(i), "entry", float(e[0]), float(e[1])))
        if not inside[i + 1]:
            e = a[i] + t_out[i] * d[i]
            out.append((int(i), "exit", float(e[0]), float(e[1])))
    return out


def plot_trajectories(paths: Mapping[str, np.ndarray], ax, *, markersize: float = 3.0, legend: bool = True,
                      colors: Sequence[str] | None = None, styles: Mapping[str, dict] | None = None):
    """Draw trajectories ``{label: (T, 2) array}`` on ``ax``: each start marked with an open square, each end
    with a star in the run's colour, and the axes' limits kept.

    Every end shows: the stars are drawn over all the paths, and stars that fall on the same spot are drawn
    smaller and smaller on top of each other (concentric), so that none hides another.  A run that ends
    outside the axes (or diverges) is drawn up to the edge, where a triangle in its colour points the way it
    left (:func:`window_crossings`), and its legend entry says where it ended.

    Args:
        styles: ``{label: plot keyword arguments}`` (e.g. :func:`optimizer_styles`); pass the same mapping to
            every panel that shows these runs, so that each keeps its colour.  Default: :func:`optimizer_styles`.
        colors: colours in order, when no ``styles`` are given.
        legend: draw the legend, under the axes (it never covers the surface).

    Returns:
        ``ax``; ``ax.outside_ends`` lists the labels of the runs that end outside the axes.
    """
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    if styles is None:
        styles = optimizer_styles(paths) if len(paths) <= len(PALETTE) else {}
        if colors:
            styles = {k: {**st, "color": colors[i % len(colors)]} for i, (k, st) in enumerate(styles.items())}
    drawn = []
    for i, (label, p) in enumerate(paths.items()):
        p = np.asarray(p, dtype=float)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"trajectory {label!r} must have shape (T, 2), got {p.shape}.")
        st = {"color": PALETTE[i % len(PALETTE)], "marker": "o", **styles.get(label, {})}
        st.pop("markevery", None)
        st["ms"] = markersize
        end = p[-1]
        inside = bool(np.isfinite(end).all() and min(xlim) <= end[0] <= max(xlim) and min(ylim) <= end[1] <= max(ylim))
        shown = label
        if not inside:
            shown = (f"{label}; diverged" if not np.isfinite(end).all() else
                     f"{label}; ends off the plot at ({fmt_number(end[0], 3)}, {fmt_number(end[1], 3)})")
        ax.plot(p[:, 0], p[:, 1], label=shown, lw=1.2, alpha=0.9, markeredgecolor="k", markeredgewidth=0.3,
                        zorder=2, **st)
        drawn.append((label, p, st["color"], inside))
    starts = {tuple(np.round(p[0], 12)) for _, p, _, _ in drawn}
    for x0, y0 in starts:  # one open square per distinct start
        ax.plot(x0, y0, "s", ms=7, mfc="white", mec="k", mew=1.2, zorder=4)
    to_px = ax.transData.transform
    placed: list[np.ndarray] = []
    for label, p, color, inside in drawn:  # ends on top of every path
        if inside:
            at = to_px(p[-1])
            stacked = sum(np.hypot(*(at - q)) < 6 for q in placed)  # ends already drawn at this spot (6 px)
            placed.append(at)
            ax.plot(*p[-1], "*", color=color, ms=15 * 0.6 ** stacked, markeredgecolor="k", markeredgewidth=0.6,
                    zorder=5 + stacked)
            continue
        exits = [c for c in window_crossings(p, xlim, ylim) if c[1] == "exit"]
        if not exits:  # a run that never was inside the window: nothing to point at
            continue
        i, _, ex, ey = exits[-1]
        edge = np.array([ex, ey])
        (xa, xb), (ya, yb) = sorted(xlim), sorted(ylim)
        gaps = {">": abs(ex - xb), "<": abs(ex - xa), "^": abs(ey - yb), "v": abs(ey - ya)}
        ax.plot(*edge, min(gaps, key=gaps.get), color=color, ms=11, markeredgecolor="k", markeredgewidth=0.8,
                zorder=6, clip_on=False)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.outside_ends = [label for label, _, _, inside in drawn if not inside]
    ax.course_description = _paths_description(paths, ax)  # the alt text: a path's last w2 is not a result
    if legend:
        legend_outside(ax, ncol=min(len(paths), 2))
    return ax


def _paths_description(paths: Mapping[str, np.ndarray], ax) -> str:
    """What a panel of :func:`plot_trajectories` shows, for its alt text (``_ext/figure_describe.py`` reads
    ``ax.course_description``): the contours drawn so far and their range, where the paths start, and where each
    run ends (on the plot, off it, or diverged). Read as curves w2(w1), paths would be compared by where they end."""
    # a coordinate below a millionth of the axes' span is a zero up to rounding (6e-38 after a step that clears w2)
    tiny = 1e-6 * max(abs(np.subtract(*ax.get_xlim())), abs(np.subtract(*ax.get_ylim())))
    coord = lambda v: "0" if abs(v) < tiny else fmt_number(v, 3)  # noqa: E731
    point = lambda xy: f"({coord(xy[0])}, {coord(xy[1])})"  # noqa: E731
    clauses = []
    filled = [c for c in ax.collections if hasattr(c, "levels")]  # a contour set (plot_contour)
    if filled:
        levels, bar = filled[0].levels, getattr(filled[0], "colorbar", None)
        name = bar.ax.get_ylabel() if bar is not None and bar.ax.get_ylabel() else "loss"
        name = name if name.startswith("log") else "the " + name
        clauses.append(f"filled contours of {name} from {fmt_number(levels[0], 2)} to {fmt_number(levels[-1], 2)}, "
                       "dark where it is low")
    starts = list(dict.fromkeys(point(np.asarray(p, dtype=float)[0]) for p in paths.values()))
    n_steps = sorted({len(p) - 1 for p in paths.values()})
    clauses.append(f"{len(paths)} path{'s' * (len(paths) != 1)} of {' or '.join(f'{n:,}' for n in n_steps)} steps "
                   f"from {' and '.join(starts)} (an open square), each ending at a star unless it leaves the plot")
    for label, p in paths.items():
        end = np.asarray(p, dtype=float)[-1]
        if not np.isfinite(end).all():
            clauses.append(f"{label} diverges")
        elif label in ax.outside_ends:
            clauses.append(f"{label} leaves the plot (a triangle at the edge) and ends at {point(end)}")
        else:
            clauses.append(f"{label} ends at {point(end)}")
    return "; ".join(clauses)
