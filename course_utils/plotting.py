"""Figures for the book. Every function takes data computed elsewhere and only draws."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["set_style", "plot_layer_hists", "plot_learning_curves", "show_images"]


def set_style() -> None:
    """The book's plotting style (seaborn's whitegrid, readable font sizes, SVG-crisp lines)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "axes.titlesize": "medium"})


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


def plot_learning_curves(results: Mapping[str, object], *, metric: str = "val_acc", ax: plt.Axes | None = None,
                         title: str | None = None) -> plt.Axes:
    """Per-epoch ``metric`` of several :class:`~course_utils.train.TrainResult` s, one line each."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    labels = {"val_acc": "validation accuracy", "train_acc": "training accuracy",
              "train_loss": "training loss (cross-entropy)", "val_loss": "validation loss (cross-entropy)",
              "lr": "learning rate"}
    for name, r in results.items():
        ys = getattr(r, metric)
        ax.plot(range(1, len(ys) + 1), ys, marker="o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(labels.get(metric, metric))
    ax.set_title(title or labels.get(metric, metric))
    if len(results) > 1:
        ax.legend()
    return ax


def show_images(X: np.ndarray, labels: Sequence[str], *, ncols: int = 8, title: str | None = None,
                mean: float = 0.0, std: float = 1.0) -> plt.Figure:
    """A grid of grey-scale images ``(N, 1, 28, 28)`` or ``(N, 28, 28)`` with a caption under each."""
    X = np.asarray(X)
    if X.ndim == 4:
        X = X[:, 0]
    if X.ndim != 3:
        raise ValueError(f"show_images expects images of shape (N, 28, 28) or (N, 1, 28, 28), got {X.shape}.")
    n = len(X)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(X[k] * std + mean, cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(labels[k], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------- Part I (init)
__all__ += ["plot_depth_sweep", "plot_per_layer", "plot_init_panels"]


def plot_depth_sweep(df, *, activations: Sequence[str] | None = None, title: str | None = None,
                     axes: Sequence[plt.Axes] | None = None) -> plt.Figure:
    """Variance against depth, one panel per activation, one colour per scheme (solid measured, dashed theory).

    Args:
        df: the long DataFrame of :func:`course_utils.theory.depth_sweep`
            (columns ``scheme, activation, layer, measured, theory``).
    """
    acts = list(activations or dict.fromkeys(df["activation"]))
    if axes is None:
        fig, axes = plt.subplots(1, len(acts), figsize=(4.6 * len(acts), 3.9), sharey=True, squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, act in zip(axes, acts):
        sub = df[df["activation"] == act]
        for k, (scheme, g) in enumerate(sub.groupby("scheme", sort=False)):
            c = f"C{k}"
            ax.plot(g["layer"], g["measured"].clip(lower=1e-300), color=c, lw=1.6, label=f"{scheme}")
            ax.plot(g["layer"], g["theory"].clip(lower=1e-300), color=c, lw=1.0, ls="--")
        ax.set_yscale("log")
        ax.set_ylim(1e-20, 1e22)
        ax.axhline(1.0, color="grey", lw=0.6)
        ax.set_title(f"activation: {act}")
        ax.set_xlabel("layer (depth)")
    axes[0].set_ylabel("variance of the layer's pre-activations")
    axes[-1].legend(title="solid: measured\ndashed: recurrence", fontsize=8, title_fontsize=8,
                    loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(title or "Signal variance against depth for each initialisation scheme", y=1.02)
    fig.tight_layout()
    return fig


def plot_per_layer(series: Mapping[str, Sequence[float]], *, labels: Sequence[str], ylabel: str, title: str,
                   logy: bool = False, ax: plt.Axes | None = None) -> plt.Axes:
    """One line per entry of ``series`` over the layers (x axis: layer 1..L, ticks labelled ``labels``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(1, len(labels) + 1)
    for name, ys in series.items():
        ax.plot(x, list(ys), marker="o", ms=4, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, fontsize=7)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return ax


def plot_init_panels(exp, *, colors: Sequence[str] = ("C0", "C1", "C2"), bins: int = 40,
                     max_points: int = 20_000, seed: int = 0) -> plt.Figure:
    """Weights, gradients and activations of one :class:`course_utils.theory.InitExperiment`, a row each.

    Drawn with ``np.histogram`` + ``stairs`` (fast: 3 x L panels per experiment); each panel's title
    gives the variance of *all* values, the histogram shows at most ``max_points`` of them.
    """
    n = len(exp.activations)
    if n == 0:
        raise ValueError("This experiment kept no per-layer values; run it with with_hists=True.")
    fig, axes = plt.subplots(3, n, figsize=(2.5 * n, 6.6), squeeze=False)
    rng = np.random.default_rng(seed)
    rows = [(exp.weights, "weights", "weight value"), (exp.gradients, "gradients", "∂L/∂w"),
            (exp.activations, "activations", "pre-activation value")]
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
            ax.set_xlabel(xlabel, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.tick_params(axis="x", labelrotation=30)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
            ax.set_yticks([])  # densities differ by orders of magnitude; the shape is what matters
            ax.xaxis.set_major_locator(plt.MaxNLocator(3))
        axes[r][0].set_ylabel(f"{what}\ndensity", fontsize=8)
    fig.suptitle(f"{exp.name}: weights, gradients and activations per layer (one batch)", y=0.99)
    fig.subplots_adjust(left=0.05, right=0.99, top=0.88, bottom=0.1, hspace=1.0, wspace=0.12)  # no tight_layout: it redraws
    return fig
