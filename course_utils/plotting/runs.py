"""Figures of training runs (Parts III-V): learning curves, sweeps, seed intervals, schedules, ratios.

:func:`plot_learning_curves`, :func:`plot_sweep`, :func:`plot_seed_intervals`, :func:`plot_traces`
(learning-rate schedules) and :func:`plot_ratio_bands` (ratios that should be 1, with their noise band: the JAX
appendix).  The runs come from :mod:`course_utils.train`, the tables from :mod:`course_utils.compare`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .layout import COLUMN_IN, integer_epochs, legend_outside
from .style import PALETTE, optimizer_styles, series_styles

if TYPE_CHECKING:  # only for the annotations
    import pandas as pd


# ----------------------------------------------------------------------------- training runs (Parts III-V)
def plot_learning_curves(results: Mapping[str, object], *, metric: str = "val_acc", ax: plt.Axes | None = None,
                         title: str | None = None, ylabel: str | None = None, logy: bool = False,
                         percent: bool = False, styles: Mapping[str, dict] | None = None) -> plt.Axes:
    """Per-epoch ``metric`` of several :class:`~course_utils.train.TrainResult` s, one line each.

    Args:
        results: ``{label: TrainResult}``; a resumed run's epochs are numbered after its ``start_epoch``.
        metric: ``"val_acc"``, ``"train_acc"``, ``"train_loss"``, ``"val_loss"`` or ``"lr"``.
        ax: axes to draw into (default: a new figure).
        title, ylabel: labels (default: the metric's name).
        logy: logarithmic y axis.
        percent: draw an accuracy in % (the values times 100).
        styles: extra ``plot`` keyword arguments by label, e.g. ``{"resumed": {"ls": "--"}}`` for a
            line that lies on top of another.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    labels = {"val_acc": "validation accuracy", "train_acc": "training accuracy",
              "train_loss": "training loss (cross-entropy)", "val_loss": "validation loss (cross-entropy)",
              "lr": "learning rate"}
    n_max = max((len(getattr(r, metric)) for r in results.values()), default=0)
    house = series_styles(results, n_points=n_max) if len(results) <= len(PALETTE) else {}
    for name, r in results.items():
        ys = np.asarray(getattr(r, metric), dtype=float) * (100 if percent else 1)
        start = getattr(r, "start_epoch", 0)
        ax.plot(range(start + 1, start + len(ys) + 1), ys, label=name,
                **{**house.get(name, {"marker": "o", "ms": 3}), **(styles or {}).get(name, {})})
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or labels.get(metric, metric) + (" (%)" if percent else ""))
    ax.set_title(title or labels.get(metric, metric))
    if logy:
        ax.set_yscale("log")
    integer_epochs(ax)
    if len(results) > 1:
        legend_outside(ax)
    return ax


def plot_sweep(sweep: pd.DataFrame, ax=None, *, metric: str = "best_val_acc", marks: Mapping[str, float] | None = None,
               styles: Mapping[str, dict] | None = None):
    """Accuracy (%) against learning rate (log axis), one line per optimizer; ``marks`` circles given rates.

    A run that diverged (``metric`` NaN) is a cross at the bottom of the axes, in its series' colour, with one
    legend entry "diverged" for all of them: it has no accuracy to draw.  The crosses of the series that have
    any sit side by side on the bottom edge, each series shifted by a few points (a display offset, so their
    data stay at the rate itself), so that series diverging at the same rate do not hide each other.

    ``styles``: ``{optimizer: plot keyword arguments}``; default :func:`optimizer_styles` (each optimizer in its
    colour and marker of every other figure)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    groups = list(sweep.groupby("optimizer", sort=False))
    if styles is None:
        styles = optimizer_styles([name for name, _ in groups]) if len(groups) <= len(PALETTE) else {}
    from matplotlib.transforms import ScaledTranslation, blended_transform_factory

    floor = blended_transform_factory(ax.transData, ax.transAxes)  # x: the rate; y: 0 = the bottom edge
    any_bad = False
    bad_names = [name for name, df in groups if df[metric].isna().any()]
    SHIFT = 9  # points between the crosses of two series (a cross is about 7 points wide)
    for k, (name, df) in enumerate(groups):
        st = styles.get(name, {"marker": "o", "color": f"C{k}"})
        df = df.sort_values("lr")  # rates added later (a widened grid) join the line in order
        ok = df[metric].notna()
        ax.plot(df.loc[ok, "lr"], 100 * df.loc[ok, metric], label=name, **st)
        bad = df.loc[~ok, "lr"]  # diverged runs: a cross on the axis floor (not a result), in the series' colour
        if len(bad):
            any_bad = True
            dx = SHIFT * (bad_names.index(name) - (len(bad_names) - 1) / 2) / 72  # inches, centred on the rate
            shifted = floor + ScaledTranslation(dx, 0, ax.figure.dpi_scale_trans)
            c = ax.scatter(bad, np.zeros(len(bad)), transform=shifted, marker="x", s=50, lw=1.8, color=st["color"],
                           zorder=4, clip_on=False, label="_nolegend_")
            c.set_gid(f"{name} diverged")  # what the alt text calls it (_ext/figure_describe.py)
        if marks and name in marks:
            sel = df[np.isclose(df["lr"], marks[name])]
            ax.scatter(sel["lr"], 100 * sel[metric], s=160, facecolors="none", edgecolors=st["color"], lw=1.5)
    if any_bad:  # one legend entry for the crosses of every series
        ax.scatter([], [], marker="x", s=50, lw=1.8, color="0.3",
                   label="diverged (crosses on the axis floor, side by side)" if len(bad_names) > 1
                   else "diverged (cross on the axis floor)")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel({"best_val_acc": "best validation accuracy (%)", "test_acc": "test accuracy (%)"}.get(metric, metric))
    legend_outside(ax)
    return ax


def plot_seed_intervals(table: pd.DataFrame, ax=None, *, references: Sequence[str] = (), title: str | None = None,
                        styles: Mapping[str, dict] | None = None):
    """Mean test accuracy with its interval per optimizer, and reference columns as markers.

    Each optimizer's mean and interval take its colour and marker (``styles``, default :func:`optimizer_styles`
    of the table's rows); the reference columns are drawn in black and greys with their own open markers, so
    that no colour means a source in one figure and an optimizer in another.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    lo = [c for c in table.columns if c.endswith("CI low")][0]
    hi = [c for c in table.columns if c.endswith("CI high")][0]
    x = np.arange(len(table))
    mean = table["mean (%)"].to_numpy()
    if styles is None:
        styles = optimizer_styles(table.index) if len(table) <= len(PALETTE) else {}
    for i, name in enumerate(table.index):
        st = styles.get(name, {})
        ax.errorbar(x[i], mean[i], yerr=[[mean[i] - table[lo].iloc[i]], [table[hi].iloc[i] - mean[i]]],
                    fmt=st.get("marker", "o"), ms=7, capsize=6, color=st.get("color", "k"), mec="k", mew=0.6,
                    label=f"this book: mean and {lo.split('%')[0]}% CI" if i == 0 else None)
    greys = ("#000000", "#5f5f5f", "#9a9a9a")
    for k, col in enumerate(references):
        m, c = "xD+s"[k % 4], greys[k % len(greys)]
        look = {"facecolors": "none", "edgecolors": c} if m in "Ds" else {"color": c}  # open or line markers
        ax.scatter(x + 0.14 * (k + 1), table[col], marker=m, s=45, lw=1.3, label=col, **look)
    ax.set_xticks(x, table.index)
    ax.set_xlim(-0.5, len(table) - 0.5)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title or "Test accuracy over seeds")
    handles, labels = ax.get_legend_handles_labels()
    if handles:  # the book's entry: a neutral marker (each optimizer has its own colour on the axis)
        from matplotlib.lines import Line2D

        i = labels.index(next(lb for lb in labels if lb.startswith("this book")))
        handles[i] = Line2D([], [], color="k", marker="o", ls="-", ms=6)
    legend_outside(ax, ncol=min(2, 1 + len(references)), handles=handles, labels=labels)
    return ax


def plot_traces(traces: Mapping[str, np.ndarray], *, ax=None, steps_per_epoch: int = 1, title: str = "",
                ylabel: str = "learning rate", logy: bool = False, drawstyle: str = "steps-post",
                first_epoch: int = 0):
    """Draw learning-rate traces against epochs (a trace of ``E * steps_per_epoch`` values).

    Args:
        traces: ``{label: trace}`` as returned by :func:`lr_trace`.
        ax: matplotlib axes (default: a new figure).
        steps_per_epoch: to put the x axis in epochs (fractional within an epoch).
        title, ylabel: labels.
        logy: logarithmic y axis.
        drawstyle: matplotlib draw style (``"steps-post"`` shows that a rate holds for a whole step).
        first_epoch: the number of the first epoch on the x axis: 0 (the scheduler's ``last_epoch``), or 1
            to match :func:`plot_learning_curves`, which counts epochs from 1, in a figure with both.

    Returns:
        The axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    styles = series_styles(traces, markers=False) if len(traces) <= len(PALETTE) else {}
    for label, tr in traces.items():
        tr = np.asarray(tr)
        x = first_epoch + np.arange(len(tr)) / steps_per_epoch
        ax.plot(x, tr, label=label, drawstyle=drawstyle, **styles.get(label, {}))
    ax.set(xlabel="epoch" if steps_per_epoch == 1 else f"epoch ({steps_per_epoch} steps each)",
           ylabel=ylabel, title=title)
    if logy:
        ax.set_yscale("log")
    if len(traces) > 1:
        legend_outside(ax, where="below" if len(traces) <= 6 else "right")
    integer_epochs(ax)
    return ax


def plot_ratio_bands(table: pd.DataFrame, ax=None, *, ratio: str, se: str, group: str, item: str, z: float = 2.0,
                     title: str | None = None, xlabel: str | None = None, ylabel: str | None = None):
    """Ratios that should be 1, each with its noise band: one row per ``group``, one marker per ``item``.

    Each point is ``table[ratio]``; its bar spans ``ratio * exp(±z * table[se])``, where ``se`` is the standard
    error of the log of the ratio, so a bar that crosses the dashed line at 1 is a ratio within ``z`` standard
    errors of "no difference".  The x axis is logarithmic (a factor 2 up and down look alike).

    Returns:
        The axes.
    """
    groups = list(dict.fromkeys(table[group]))
    items = list(dict.fromkeys(table[item]))
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_IN, 0.42 * len(groups) + 1.6))
    styles = series_styles([f"{item} {it}" for it in items])
    step = 0.75 / max(len(items), 1)
    for j, it in enumerate(items):
        sub = table[table[item] == it]
        y = np.array([groups.index(g) for g in sub[group]]) + (j - (len(items) - 1) / 2) * step
        r, s = sub[ratio].to_numpy(float), sub[se].to_numpy(float)
        st = styles[f"{item} {it}"]
        ax.hlines(y, r * np.exp(-z * s), r * np.exp(z * s), color=st["color"], lw=1.0)
        ax.scatter(r, y, marker=st["marker"], s=20, color=st["color"], zorder=3, label=f"{item} {it}")
    ax.vlines(1.0, -0.5, len(groups) - 0.5, color="0.35", lw=0.9, ls="--", zorder=0)
    ax.set_xscale("log")
    lo = float(np.nanmin(table[ratio] * np.exp(-z * table[se])))
    hi = float(np.nanmax(table[ratio] * np.exp(z * table[se])))
    ticks = [t for t in (0.25, 0.5, 0.7, 1.0, 1.4, 2.0, 4.0) if lo / 1.2 <= t <= hi * 1.2]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(range(len(groups)), groups)
    ax.set_ylim(len(groups) - 0.5, -0.5)  # the first group on top
    ax.set_xlabel(xlabel or f"{ratio} (bars: ±{z:g} standard errors)")
    ax.set_ylabel(ylabel or group)
    if title:
        ax.set_title(title)
    legend_outside(ax, where="below")
    # what the figure says, for its alt text (the rows' y positions are not information): _ext/figure_describe.py
    r_all, s_all = table[ratio].to_numpy(float), table[se].to_numpy(float)
    inside = np.abs(np.log(r_all)) <= z * s_all
    outside = [f"{g} {item} {it}" for g, it, ok in zip(table[group], table[item], inside) if not ok]
    ax.course_description = (
        f"{ratio} for {len(groups)} {group}s × {len(items)} {item}s: ratios from {np.nanmin(r_all):.3g} to "
        f"{np.nanmax(r_all):.3g}; {int(inside.sum())} of {len(r_all)} lie within ±{z:g} standard errors of 1"
        + (f", all but {', '.join(outside)}" if outside and len(outside) <= 6 else "")
        + (f"; {group}s entirely within: " + ", ".join(g for g in groups
           if inside[(table[group] == g).to_numpy()].all()) if len(outside) else ""))
    return ax
