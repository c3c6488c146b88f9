"""Figures of the mean-field theory (Part I): the edge of chaos, correlation maps, Jacobian spectra.

:func:`plot_phase_diagram` (with the text description the figure check reads), :func:`plot_correlation_curves`,
:func:`plot_spectrum_bands` and :func:`plot_spectrum_hists`.  The theory comes from :mod:`course_utils.theory`
and :mod:`course_utils.criticality`.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .layout import COLUMN_IN, legend_outside
from .style import series_styles


# ----------------------------------------------------------------------------- the edge of chaos (book/part1/criticality.md)
def plot_phase_diagram(diagram: Mapping[str, np.ndarray], *, edge: tuple[Sequence[float], Sequence[float]],
                       points: Mapping[str, tuple[float, float]], ax: plt.Axes | None = None,
                       title: str = "Order and chaos in a deep tanh network") -> plt.Axes:
    r""":math:`\chi_1` over the :math:`(\sigma_w^2, \sigma_b^2)` plane, the edge :math:`\chi_1 = 1` and named points on it.

    Args:
        diagram: :func:`course_utils.criticality.phase_diagram` (``weight_var``, ``bias_var``, ``chi1``).
        edge: ``(bias variances, critical weight variances)`` (:func:`~course_utils.criticality.critical_weight_var`).
        points: ``{label: (weight variance, bias variance)}``, one marker each (black-edged, so that they show on
            both colours of the map).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_IN, 4.4))
    from matplotlib.colors import TwoSlopeNorm

    # log scale, white at chi_1 = 1; each side of 1 gets the full range of its colour (the chaotic side of
    # this plane reaches only ~1.4, the ordered one ~1/10)
    lo, hi = -3.0, math.log2(1.5)
    lg = np.log2(np.clip(diagram["chi1"], 2.0 ** lo, 2.0 ** hi))
    mesh = ax.pcolormesh(diagram["weight_var"], diagram["bias_var"], lg, cmap="PuOr_r", shading="auto",
                         norm=TwoSlopeNorm(vcenter=0.0, vmin=lo, vmax=hi))
    ticks = {"≤1/8": -3, "1/4": -2, "1/2": -1, "1": 0, "1.25": math.log2(1.25), "≥1.5": hi}
    cb = ax.figure.colorbar(mesh, ax=ax, ticks=list(ticks.values()))
    cb.ax.set_yticklabels(list(ticks))
    cb.set_label(r"$\chi_1$, error-signal variance factor per layer")
    ax.plot(edge[1], edge[0], color="black", lw=2.2, label=r"edge of chaos, $\chi_1 = 1$")
    styles = series_styles(list(points))
    for label, (w, b) in points.items():
        st = styles[label]
        ax.plot([w], [b], ls="none", marker=st["marker"], ms=9, mfc=st["color"], mec="black", mew=1.2,
                label=label, zorder=4, clip_on=False)
    ax.text(0.04, 0.9, "ordered", transform=ax.transAxes, fontsize="small", fontweight="bold", color="black")
    ax.text(0.8, 0.9, "chaotic", transform=ax.transAxes, fontsize="small", fontweight="bold", color="black")
    ax.set_xlim(diagram["weight_var"][0], diagram["weight_var"][-1])
    ax.set_ylim(diagram["bias_var"][0], diagram["bias_var"][-1])
    ax.set_xlabel(r"weight variance $\sigma_w^2$ (fan-in × variance of a weight)")
    ax.set_ylabel(r"bias variance $\sigma_b^2$")
    ax.set_title(title)
    legend_outside(ax, ncol=2)
    ax.course_description = _phase_description(diagram, edge, points, (lo, hi), ax.get_xlim())
    return ax


def _distance_to_line(px, py, lx, ly) -> np.ndarray:
    """Distance of each point ``(px, py)`` to the polyline through ``(lx, ly)`` (same shape as ``px``)."""
    P = np.stack([np.ravel(px), np.ravel(py)], 1)[:, None, :]
    L = np.stack([np.asarray(lx, float), np.asarray(ly, float)], 1)
    if len(L) == 1:
        return np.linalg.norm(P[:, 0] - L[0], axis=-1).reshape(np.shape(px))
    A, AB = L[None, :-1], np.diff(L, axis=0)[None]
    t = np.clip(((P - A) * AB).sum(-1) / np.maximum((AB ** 2).sum(-1), 1e-300), 0.0, 1.0)
    return np.linalg.norm(P - (A + t[..., None] * AB), axis=-1).min(1).reshape(np.shape(px))


def _phase_description(diagram, edge, points, clip, xlim) -> str:
    """What the phase diagram shows, in words and numbers from its arrays, for its alt text
    (``_ext/figure_describe.py`` reads ``ax.course_description``): what the colour encodes and its range, on
    which side of the edge it is below or above 1, where the edge runs, where each marked point lies."""
    g = lambda v: f"{float(v):.3g}"  # noqa: E731
    wv, bv = np.asarray(diagram["weight_var"], float), np.asarray(diagram["bias_var"], float)
    chi = np.asarray(diagram["chi1"], float)
    W, B = np.meshgrid(wv, bv)
    i_lo, i_hi = np.unravel_index(np.nanargmin(chi), chi.shape), np.unravel_index(np.nanargmax(chi), chi.shape)
    where = lambda i: f"weight variance {g(W[i])}, bias variance {g(B[i])}"  # noqa: E731
    out = [f"the colour shows χ1, the error-signal variance factor per layer, on a log scale, white at 1: from "
           f"{g(chi[i_lo])} ({where(i_lo)}) to {g(chi[i_hi])} ({where(i_hi)})"
           + (f", the colour saturating below {g(2.0 ** clip[0])} and above {g(2.0 ** clip[1])}"
              if chi[i_lo] < 2.0 ** clip[0] or chi[i_hi] > 2.0 ** clip[1] else "")]
    eb, ew = np.asarray(edge[0], float), np.asarray(edge[1], float)
    order = np.argsort(eb)
    eb, ew = eb[order], ew[order]
    w_edge = lambda b: np.interp(b, eb, ew)  # noqa: E731
    # which side of the line is ordered (chi1 < 1), judged on the grid's cells that a reader sees apart from the
    # line: farther from it, as drawn (straight between its points), than 2 % of the plot's width and height
    off = _distance_to_line((W - xlim[0]) / (xlim[1] - xlim[0]), (B - bv[0]) / max(bv[-1] - bv[0], 1e-300),
                            (ew - xlim[0]) / (xlim[1] - xlim[0]), (eb - bv[0]) / max(bv[-1] - bv[0], 1e-300)) > 0.02
    left, right = off & (W < w_edge(B)), off & (W > w_edge(B))
    n_below, n_above = int(np.sum((chi < 1) & left)), int(np.sum((chi > 1) & right))
    if n_below == left.sum() and n_above == right.sum() and off.any():
        out.append("it is below 1 (purple, ordered: the error signal shrinks layer by layer) everywhere left of the "
                   "black line and above 1 (orange, chaotic: it grows) everywhere right of it")
    elif off.any():
        out.append(f"it is below 1 (purple, ordered: the error signal shrinks layer by layer) in {n_below} of the "
                   f"{int(left.sum())} grid cells left of the black line and above 1 (orange, chaotic: it grows) in "
                   f"{n_above} of the {int(right.sum())} right of it")
    inside = (ew >= wv[0]) & (ew <= wv[-1]) & (eb >= bv[0]) & (eb <= bv[-1])
    if inside.any():
        e0, e1 = np.flatnonzero(inside)[[0, -1]]
        rise = np.diff(ew[inside])
        trend = (", moving to larger weight variances as the bias variance grows" if np.all(rise > 0) else
                 ", moving to smaller weight variances as the bias variance grows" if np.all(rise < 0) else "")
        out.append(f"the black line, the edge of chaos where χ1 = 1, runs from weight variance {g(ew[e0])} at bias "
                   f"variance {g(eb[e0])} to {g(ew[e1])} at bias variance {g(eb[e1])}{trend}")
    tol = 1e-3 * abs(xlim[1] - xlim[0])  # closer to the line than this is on it (far below a pixel)

    def chi_at(w, b):
        if not (wv[0] <= w <= wv[-1] and bv[0] <= b <= bv[-1]):
            return None
        return float(np.interp(b, bv, [np.interp(w, wv, row) for row in chi]))
    marks = []
    for label, (w, b) in sorted(points.items(), key=lambda kv: kv[1][0]):
        d = w - float(w_edge(b))
        place = "on the line" if abs(d) <= tol else "on the ordered side" if d < 0 else "on the chaotic side"
        c = chi_at(w, b)
        marks.append(f"{label} at ({g(w)}, {g(b)}): " + (f"χ1 {g(c)}, " if c is not None else "") + place)
    if marks:
        out.append(f"{len(marks)} marked points (weight variance, bias variance), from left to right: "
                   + "; ".join(marks))
    return "; ".join(out)


def plot_correlation_curves(theory: Mapping[str, Sequence[float]], measured: Mapping[str, np.ndarray], *,
                            ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """Theory as lines, measurement (mean over the first axis, e.g. seeds) as markers of the same style, per layer.

    Args:
        theory: ``{label: value per layer}`` (layers 1..L).
        measured: ``{label: (seeds, L) array}``.
    """
    from matplotlib.lines import Line2D

    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_IN, 4.0))
    n = len(next(iter(theory.values())))
    styles = series_styles(list(theory), n_points=n)
    layers = np.arange(1, n + 1)
    handles = []
    for label, th in theory.items():
        st = styles[label]
        # labelled so that the figure's description names them (the legend below uses its own handles)
        ax.plot(layers, th, color=st["color"], ls=st["ls"], lw=1.4, label=f"{label}, theory")
        ax.plot(layers, np.asarray(measured[label]).mean(0), ls="none", marker=st["marker"], ms=4.5,
                color=st["color"], markevery=st.get("markevery"), label=f"{label}, measured")
        handles.append(Line2D([], [], color=st["color"], ls=st["ls"], marker=st["marker"], ms=4.5, label=label))
    ax.set_xlabel("layer")
    ax.set_title(title)
    legend_outside(ax, ncol=2, handles=handles, labels=list(theory))
    # what the figure says, for its alt text (its lines carry no labels of their own): _ext/figure_describe.py
    g = lambda v: f"{float(v):.3g}"  # noqa: E731
    means = {label: np.asarray(measured[label], float).mean(0) for label in theory}
    gaps = {label: np.abs(means[label] - np.asarray(th, float)) for label, th in theory.items()}
    worst = max(gaps, key=lambda k: np.nanmax(gaps[k]))
    seeds = np.asarray(next(iter(measured.values()))).shape[0]
    ax.course_description = (
        f"{len(theory)} series, each a theory line and measured markers (the mean of {seeds} runs): "
        + "; ".join(f"{label}: theory from {g(th[0])} at layer 1 to {g(th[-1])} at layer {n}, measured "
                    f"{g(means[label][0])} at layer 1 and {g(means[label][-1])} at layer {n}"
                    for label, th in theory.items())
        + f"; measurement and theory differ by at most {g(np.nanmax(gaps[worst]))} ({worst}, layer "
          f"{int(np.nanargmax(gaps[worst])) + 1})")
    return ax


def plot_spectrum_bands(spectra: Mapping[str, Mapping[int, np.ndarray]], *, ax: plt.Axes | None = None,
                        floor: float = 1e-6, title: str = "Singular values of the input–output Jacobian") -> plt.Axes:
    """Median and 10–90 % band of each spectrum against depth (log–log), one style per series.

    Args:
        spectra: ``{label: {depth: singular values}}`` (zeros are left out: a ReLU's exact zeros have no logarithm).
        floor: lowest value shown; a band that reaches below it is cut at the axis, and the panel says so.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_IN, 3.8))
    styles = series_styles(list(spectra))
    cut = False
    for k, (label, by_depth) in enumerate(spectra.items()):
        depths = sorted(by_depth)
        q = np.array([np.percentile(np.asarray(by_depth[d])[np.asarray(by_depth[d]) > 0], [10, 50, 90]) for d in depths])
        st = styles[label]
        ax.fill_between(depths, np.maximum(q[:, 0], floor), q[:, 2], color=st["color"], alpha=0.18, lw=0,
                        hatch=(None, "//", "\\\\", "..")[k % 4])  # overlapping bands stay apart
        ax.plot(depths, np.maximum(q[:, 0], floor), color=st["color"], ls=st["ls"], lw=0.8)
        ax.plot(depths, q[:, 2], color=st["color"], ls=st["ls"], lw=0.8)
        ax.plot(depths, q[:, 1], label=label, lw=1.8, **st)
        cut |= bool(np.any(q[:, 0] < floor))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylim(floor, None)
    ax.axhline(1.0, color="0.4", lw=0.8, ls=":")
    if cut:
        ax.text(0.02, 0.03, "bands cut at the axis: they continue below", transform=ax.transAxes,
                fontsize="x-small", color="0.3")
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("singular value")
    ax.set_title(title)
    legend_outside(ax, title="line: median · band: 10–90 % of the singular values")
    return ax


def plot_spectrum_hists(spectra: Mapping[str, np.ndarray], *, ax: plt.Axes | None = None, lo: float = -6.0,
                        hi: float = 1.0, bins: int = 56, title: str = "") -> plt.Axes:
    """Histograms of log10 of singular values (step lines, one style per series); values below ``10**lo``
    are counted in the first bin, which the x label says."""
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_IN, 3.6))
    styles = series_styles(list(spectra), markers=False)
    edges = np.linspace(lo, hi, bins + 1)
    for label, s in spectra.items():
        s = np.asarray(s, dtype=float)
        x = np.clip(np.log10(np.maximum(s, 1e-300)), lo, hi - 1e-9)
        h, _ = np.histogram(x, edges)
        ax.stairs(h / h.sum(), edges, label=label, lw=1.8, **styles[label])
    ax.set_xlabel(f"log10 of singular value (below {lo:.0f}: counted at the left edge)")
    ax.set_ylabel("share of singular values")
    ax.set_title(title)
    legend_outside(ax)
    return ax
