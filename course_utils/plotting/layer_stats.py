"""Figures of per-layer statistics (Parts I-II): histograms, depth sweeps and curves, per-layer bars.

:func:`plot_layer_hists`, :func:`plot_init_panels`, :func:`plot_per_layer`, :func:`plot_depth_sweep`,
:func:`plot_depth_curves`, :func:`plot_grouped_bars`, :func:`plot_activation_gallery` and
:func:`plot_clipping_vectors`.  The statistics come from :mod:`course_utils.stats`, :mod:`course_utils.layers`
and :mod:`course_utils.propagation`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .layout import COLUMN_IN, figsize, legend_outside
from .style import PALETTE, series_styles


# ----------------------------------------------------------------------------- per-layer statistics (Parts I-II)
def plot_layer_hists(stats: Mapping[str, np.ndarray], *, title: str, xlabel: str, color: str = "C0",
                     stat: str = "density", bins: int = 50, axes: Sequence[plt.Axes] | None = None,
                     max_points: int = 200_000, seed: int = 0) -> plt.Figure:
    """One histogram panel per layer, in a row, each titled with the layer and its variance.

    Args:
        stats: ``{layer label: values}`` from :mod:`course_utils.stats`.
        title: figure title (say what the values are and which init produced them).
        xlabel: axis label of the values.
        color: matplotlib colour of the bars.
        stat: seaborn ``histplot`` stat (``"density"`` or ``"count"``).
        bins: number of bins.
        axes: existing axes to draw into (one per layer).
        max_points: subsample very large layers for speed (the variance in the title uses all values).
        seed: seed of that subsampling.
    """
    import seaborn as sns

    if not stats:
        raise ValueError("stats is empty: pass the dict returned by activation_stats/weight_stats/gradient_stats.")
    n = len(stats)
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(2.9 * n, 2.6), squeeze=False)
        axes = axes[0]
    else:
        fig = axes[0].figure
    rng = np.random.default_rng(seed)
    for ax, (label, values) in zip(axes, stats.items()):
        var = float(np.var(values.astype(np.float64)))
        shown = values if values.size <= max_points else rng.choice(values, max_points, replace=False)
        if np.ptp(shown) < 1e-12:  # a constant: histplot cannot bin it; draw one bar
            ax.bar([float(shown[0])], [1.0], width=max(abs(float(shown[0])) * 0.05, 1e-6), color=color)
        else:
            sns.histplot(shown, bins=bins, stat=stat, color=color, ax=ax, edgecolor=None)
        ax.set_title(f"layer {label}\nvar = {var:.3g}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(stat if ax is axes[0] else "")
        ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle(title, y=1.02)
    fig.tight_layout()
    return fig


def plot_init_panels(exp, *, colors: Sequence[str] = ("C0", "C1", "C2"), bins: int = 40,
                     max_points: int = 20_000, seed: int = 0) -> plt.Figure:
    """Weights, gradients and activations of one :class:`course_utils.init_experiments.InitExperiment`, a row each.

    Drawn with ``np.histogram`` + ``stairs`` (fast: 3 x L panels per experiment); each panel's title
    gives the variance of *all* values, the histogram shows at most ``max_points`` of them.
    """
    n = len(exp.activations)
    if n == 0:
        raise ValueError("This experiment kept no per-layer values; run it with with_hists=True.")
    fig, axes = plt.subplots(3, n, figsize=(COLUMN_IN, 6.4), squeeze=False)
    rng = np.random.default_rng(seed)
    rows = [(exp.weights, "weights", "density"), (exp.gradients, "gradients ∂L/∂w", "density"),
            (exp.activations, "pre-activations", "density")]
    for r, (values_by_layer, what, xlabel) in enumerate(rows):
        for c, (label, v) in enumerate(values_by_layer.items()):
            ax = axes[r][c]
            var = float(np.var(v.astype(np.float64)))
            shown = v if v.size <= max_points else rng.choice(v, max_points, replace=False)
            lo, hi = float(shown.min()), float(shown.max())
            if hi - lo <= 1e-5 * max(abs(lo), abs(hi)):  # all equal up to float32 rounding: one bar
                half = max(abs(lo) * 0.5, 1e-30)
                ax.bar([lo], [1.0], width=0.1 * half, color=colors[r])
                ax.set_xlim(lo - half, lo + half)
            else:
                rng_lo, rng_hi = np.percentile(shown, [0.1, 99.9])  # keep a few outliers from squashing the bulk
                if rng_hi <= rng_lo:
                    rng_lo, rng_hi = lo, hi
                h, edges = np.histogram(shown, bins=bins, range=(rng_lo, rng_hi), density=True)
                ax.stairs(h, edges, fill=True, color=colors[r], alpha=0.8)
            ax.set_title(f"{label}\nvar = {var:.3g}", fontsize=8)
            ax.tick_params(labelsize=7)   # no x label per panel: the row says what the values are
            ax.tick_params(axis="x", labelrotation=30)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
            ax.set_yticks([])  # densities differ by orders of magnitude; the shape is what matters
            ax.xaxis.set_major_locator(plt.MaxNLocator(3))
        axes[r][0].set_ylabel(f"{what}\n({xlabel})", fontsize=8)
    fig.suptitle(f"{exp.name}: weights, gradients and\nactivations per layer (one batch)", y=0.995)
    fig.subplots_adjust(left=0.09, right=0.99, top=0.85, bottom=0.1, hspace=1.1, wspace=0.15)  # no tight_layout: it redraws
    return fig


def plot_per_layer(series: Mapping[str, Sequence[float]], *, labels: Sequence[str], ylabel: str, title: str,
                   logy: bool = False, ax: plt.Axes | None = None) -> plt.Axes:
    """One line per entry of ``series`` over the layers (x axis: layer 1..L, ticks labelled ``labels``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(1, len(labels) + 1)
    styles = series_styles(series) if len(series) <= len(PALETTE) else {}
    for name, ys in series.items():
        ax.plot(x, list(ys), label=name, **styles.get(name, {"marker": "o", "ms": 4}))
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, fontsize=7)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        legend_outside(ax)
    return ax


def plot_depth_sweep(df, *, activations: Sequence[str] | None = None, title: str | None = None,
                     axes: Sequence[plt.Axes] | None = None, ncols: int = 2) -> plt.Figure:
    """Variance against depth, one panel per activation, one colour per scheme (solid measured, dashed theory).

    Each panel has its own y range (the decades its curves span, at most 1e-30 .. 1e30), so a slow
    decay such as tanh's 1/(2l) is not flattened by another panel's explosion; a curve that leaves the
    range is cut at its edge and the panel says so.

    Args:
        df: the long DataFrame of :func:`course_utils.propagation.depth_sweep`
            (columns ``scheme, activation, layer, measured, theory``).
        ncols: panels per row (the book's column holds two).
    """
    acts = list(activations or dict.fromkeys(df["activation"]))
    if axes is None:
        ncols = min(ncols, len(acts))
        nrows = -(-len(acts) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=figsize(ncols, nrows, aspect=0.8, extra_height=1.1),
                                 squeeze=False)
        for ax in axes.flat[len(acts):]:
            ax.set_visible(False)
        axes = list(axes.flat)
    fig = axes[0].figure
    lo_cap, hi_cap = 1e-30, 1e30
    for ax, act in zip(axes, acts):
        sub = df[df["activation"] == act]
        vals = np.concatenate([sub["measured"].to_numpy(float), sub["theory"].to_numpy(float)])
        vals = vals[np.isfinite(vals) & (vals > 0)]
        lo = max(lo_cap, 10 ** np.floor(np.log10(vals.min()))) if vals.size else 1e-3
        hi = min(hi_cap, 10 ** np.ceil(np.log10(vals.max()))) if vals.size else 1e3
        lo, hi = min(lo, 0.1), max(hi, 10.0)
        schemes = list(dict.fromkeys(df["scheme"]))
        styles = series_styles(schemes, n_points=int(df["layer"].max())) if len(schemes) <= len(PALETTE) else {}
        for k, (scheme, g) in enumerate(sub.groupby("scheme", sort=False)):
            st = {**styles.get(scheme, {"color": f"C{k}"}), "ls": "-"}   # a marker per scheme: equal curves both show
            ax.plot(g["layer"], g["measured"].clip(lower=1e-300), lw=1.6, label=f"{scheme}", **st)
            theory = {**st, "ls": "--", "mfc": "none", "zorder": 3}     # over the measured lines, hollow markers
            if "markevery" in theory:
                start, every = theory["markevery"]
                theory["markevery"] = ((start + every // 2) % every, every)
            ax.plot(g["layer"], g["theory"].clip(lower=1e-300), lw=1.0, **theory)
        ax.set_yscale("log")
        ax.set_ylim(lo, hi)
        if vals.size and (vals.min() < lo or vals.max() > hi):
            ax.text(0.02, 0.03, "curves cut at the panel's edge", transform=ax.transAxes, fontsize="x-small",
                    color="0.35")
        ax.axhline(1.0, color="grey", lw=0.6)
        ax.set_title(f"activation: {act}")
        ax.set_xlabel("layer (depth)")
    for ax in axes[::ncols]:
        ax.set_ylabel("pre-activation variance")
    fig.suptitle(title or "Signal variance against depth for each initialisation scheme")
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(handles), 3),
               frameon=False, title="solid: measured · dashed: the recurrence")
    return fig


def plot_depth_curves(curves: Mapping[str, Sequence[float]], *, ax: plt.Axes | None = None, ylabel: str,
                      title: str, logy: bool = False, reference: float | None = None,
                      ylim: tuple[float, float] | None = None, styles: Mapping[str, dict] | None = None) -> plt.Axes:
    """One line per configuration: a per-layer statistic against the layer index (1-based).

    Args:
        curves: ``{label: values per layer}``; non-finite values are not drawn.
        ax: axes to draw into (default: a new figure).
        ylabel, title: axis label and title.
        logy: logarithmic y axis (for variances that vanish or explode).
        reference: draw a grey horizontal line at this value (e.g. 1 for a target variance).
        ylim: y range.
        styles: extra ``plot`` keyword arguments by label.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_IN, 3.8))
    for label, ys in curves.items():
        ys = np.asarray(ys, dtype=float)
        ys = np.where(np.isfinite(ys), ys, np.nan)
        ax.plot(np.arange(1, len(ys) + 1), ys, label=label, **(styles or {}).get(label, {}))
    if reference is not None:
        ax.axhline(reference, color="0.4", lw=1, ls=":")
    if logy:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(curves) > 1:
        legend_outside(ax)
    return ax


def plot_grouped_bars(values: Mapping[str, Mapping[str, float]], *, ax: plt.Axes | None = None, ylabel: str,
                      title: str, xlabel: str = "hidden layer", percent: bool = True) -> plt.Axes:
    """Grouped bars: one group per inner key (e.g. layer), one colour per outer key (e.g. activation).

    Args:
        values: ``{series: {group: value}}`` (all series with the same groups).
        percent: multiply by 100 (values are fractions).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN_IN, 3.6))
    series = list(values)
    groups = list(next(iter(values.values())))
    width = 0.8 / len(series)
    x = np.arange(len(groups))
    hatches = ("", "//", "..", "xx", "\\\\", "oo", "--", "++")
    for k, s in enumerate(series):   # a colour and a hatch per series: they separate in grey print too
        ys = np.array([values[s][g] for g in groups], dtype=float) * (100 if percent else 1)
        ax.bar(x + (k - (len(series) - 1) / 2) * width, ys, width, label=s, color=PALETTE[k % len(PALETTE)],
               hatch=hatches[k % len(hatches)], edgecolor="white", linewidth=0.5)
    ax.set_xticks(x, groups)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        legend_outside(ax)
    return ax


def plot_activation_gallery(gallery: Mapping[str, Mapping[str, np.ndarray]], *, labels: Mapping[str, str] | None = None,
                            ncols: int = 4, ylim: tuple[float, float] = (-1.5, 3.0),
                            title: str = "Activation functions f(z) and their derivatives f'(z)") -> plt.Figure:
    """One panel per activation: :math:`f` (solid) and :math:`f'` (dashed) on the same axes.

    Args:
        gallery: ``{name: {"z", "f", "df"}}`` from :func:`course_utils.layers.activation_gallery`.
        labels: panel titles by name (default: the names).
        ncols: panels per row.
        ylim: common y range, so that the panels can be compared.
        title: figure title.
    """
    if not gallery:
        raise ValueError("gallery is empty: pass the dict returned by layers.activation_gallery().")
    n = len(gallery)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_IN, 1.55 * COLUMN_IN / ncols * nrows + 0.5),
                             sharex=True, sharey=True, squeeze=False)
    for ax, (name, d) in zip(axes.flat, gallery.items()):
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.plot(d["z"], d["f"], color="C0", lw=2, label="f(z)")
        ax.plot(d["z"], d["df"], color="C1", lw=1.5, ls="--", label="f'(z)")
        ax.set_title((labels or {}).get(name, name))
        ax.set_ylim(*ylim)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("pre-activation z")
    for ax in axes[:, 0]:
        ax.set_ylabel("value")
    handles, lab = axes.flat[0].get_legend_handles_labels()
    fig.suptitle(title)
    fig.tight_layout()
    fig.legend(handles, lab, loc="upper center", ncol=2, bbox_to_anchor=(0.5, 0.0), frameon=False)
    return fig


def plot_clipping_vectors(vectors: Mapping[str, Sequence[float]], *, ax: plt.Axes | None = None,
                          title: str = "Directions (unit length) of a gradient before and after clipping") -> plt.Axes:
    """Draw 2-D vectors from the origin as arrows, each scaled to unit length so directions compare.

    Args:
        vectors: ``{label: (g1, g2)}``; the legend gives each vector's actual values.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    n = len(vectors)
    for k, (label, v) in enumerate(vectors.items()):
        v = np.asarray(v, dtype=float)
        u = v / np.linalg.norm(v)
        # each later arrow thinner (and every other one dashed) than the one under it, so that two vectors
        # with the same direction (clipping by norm keeps it) both show
        style = dict(color=PALETTE[k % len(PALETTE)], lw=1.5 + 2.5 * (n - 1 - k), ls="--" if k % 2 else "-")
        ax.annotate("", xy=u, xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", mutation_scale=12 + 4 * (n - 1 - k), **style))
        # the shaft again as a line: the legend entry, and data that the alt text can describe (origin to tip)
        ax.plot([0.0, u[0]], [0.0, u[1]], **style, label=f"{label}: ({v[0]:.4g}, {v[1]:.4g})")
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    ax.set_aspect("equal")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title)
    legend_outside(ax, ncol=1)
    ax.course_description = _vectors_description(vectors)  # the alt text: directions, not the arrows' pixels
    return ax


def _vectors_description(vectors: Mapping[str, Sequence[float]]) -> str:
    """Each vector's values and direction (degrees from component 1), and how far each later one is turned from
    the first: what the arrows show (``_ext/figure_describe.py`` reads ``ax.course_description``)."""
    items = [(label, np.asarray(v, dtype=float)) for label, v in vectors.items()]
    angle = {label: float(np.degrees(np.arctan2(v[1], v[0]))) for label, v in items}
    first = items[0][0]
    parts = []
    for k, (label, v) in enumerate(items):
        part = f"{label} ({v[0]:.4g}, {v[1]:.4g}) at {angle[label]:.1f}° from component 1"
        if k:
            turn = abs(angle[label] - angle[first])
            part += (f", the {first}'s direction (drawn thinner on top of it)" if turn < 0.05 else
                     f", turned {turn:.1f}° from the {first}")
        parts.append(part)
    return "Arrows from the origin, each scaled to unit length: " + "; ".join(parts) + "."
