"""Figures of Part II (activations, normalisation, clipping). Each function only draws data computed
by :mod:`course_utils.layers`, :mod:`course_utils.stats` or :mod:`course_utils.train`."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_activation_gallery", "plot_depth_curves", "plot_grouped_bars", "plot_clipping_vectors"]


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
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.5 * nrows), sharex=True, sharey=True,
                             squeeze=False)
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
    fig.legend(handles, lab, loc="upper right", ncol=2, bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title, x=0.4, y=1.0)
    fig.tight_layout()
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
        _, ax = plt.subplots(figsize=(6.5, 3.8))
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
        ax.legend(fontsize="small")
    return ax


def plot_grouped_bars(values: Mapping[str, Mapping[str, float]], *, ax: plt.Axes | None = None, ylabel: str,
                      title: str, xlabel: str = "hidden layer", percent: bool = True) -> plt.Axes:
    """Grouped bars: one group per inner key (e.g. layer), one colour per outer key (e.g. activation).

    Args:
        values: ``{series: {group: value}}`` (all series with the same groups).
        percent: multiply by 100 (values are fractions).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    series = list(values)
    groups = list(next(iter(values.values())))
    width = 0.8 / len(series)
    x = np.arange(len(groups))
    for k, s in enumerate(series):
        ys = np.array([values[s][g] for g in groups], dtype=float) * (100 if percent else 1)
        ax.bar(x + (k - (len(series) - 1) / 2) * width, ys, width, label=s)
    ax.set_xticks(x, groups)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize="small")
    return ax


def plot_clipping_vectors(vectors: Mapping[str, Sequence[float]], *, ax: plt.Axes | None = None,
                          title: str = "Directions of a gradient before and after clipping") -> plt.Axes:
    """Draw 2-D vectors from the origin as arrows, each scaled to unit length so directions compare.

    Args:
        vectors: ``{label: (g1, g2)}``; the legend gives each vector's actual values.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    for k, (label, v) in enumerate(vectors.items()):
        v = np.asarray(v, dtype=float)
        u = v / np.linalg.norm(v)
        ax.annotate("", xy=u, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=f"C{k}", lw=2))
        ax.plot([], [], color=f"C{k}", lw=2, label=f"{label}: ({v[0]:.4g}, {v[1]:.4g})")
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    ax.set_aspect("equal")
    ax.set_xlabel("component 1 (unit-length direction)")
    ax.set_ylabel("component 2 (unit-length direction)")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="lower right")
    return ax
