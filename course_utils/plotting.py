"""Every figure of the book. Each function takes data computed elsewhere and only draws.

Compute first, draw second: the statistics come from :mod:`course_utils.stats`,
:mod:`course_utils.theory`, :mod:`course_utils.layers`, :mod:`course_utils.compare`,
:mod:`course_utils.schedules` and :mod:`course_utils.surfaces`, the runs from
:mod:`course_utils.train`; a function here gets them as plain data (dicts, arrays, DataFrames,
:class:`~course_utils.train.TrainResult` s), draws into ``ax`` (a new figure when it is None) and
returns the axes or the figure.  Nothing here imports the rest of the package.  By concept:

* style and images: :func:`set_style`, :func:`show_images`;
* per-layer statistics (Parts I-II): :func:`plot_layer_hists`, :func:`plot_init_panels`,
  :func:`plot_per_layer`, :func:`plot_depth_sweep`, :func:`plot_depth_curves`,
  :func:`plot_grouped_bars`, :func:`plot_activation_gallery`, :func:`plot_clipping_vectors`;
* training runs (Parts III-V): :func:`plot_learning_curves`, :func:`plot_sweep`,
  :func:`plot_seed_intervals`, :func:`plot_traces` (learning-rate schedules), :func:`plot_ratio_bands`
  (ratios that should be 1, with their noise band: the JAX appendix);
* loss surfaces (Part III): :func:`plot_surface_3d`, :func:`plot_contour`, :func:`plot_trajectories`.
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

if TYPE_CHECKING:  # only for the annotations
    import pandas as pd

__all__ = ["set_style", "show_images", "figsize", "legend_outside", "series_styles", "integer_epochs", "fmt_number",
           "table", "COLUMN_PX", "COLUMN_IN", "MIN_TEXT_PX", "PALETTE",
           "OPTIMIZER_STYLES", "optimizer_of", "optimizer_styles", "window_crossings",
           "plot_layer_hists", "plot_init_panels", "plot_per_layer", "plot_depth_sweep", "plot_depth_curves",
           "plot_phase_diagram", "plot_correlation_curves", "plot_spectrum_bands", "plot_spectrum_hists",
           "plot_grouped_bars", "plot_activation_gallery", "plot_clipping_vectors",
           "plot_learning_curves", "plot_sweep", "plot_seed_intervals", "plot_traces", "plot_ratio_bands",
           "plot_surface_3d", "plot_contour", "plot_trajectories"]


# ----------------------------------------------------------------------------- house style
#: Width of the book's content column at a 1280-px window (sphinx-book-theme), in CSS pixels, and the
#: figure widths (inches at ``FIG_DPI``) that show there at about full size.  A figure wider than the
#: column is scaled down, text included: ``text px on screen = pt * dpi/72 * column px / image px``.
COLUMN_PX = 688
FIG_DPI = 110
COLUMN_IN = 6.2          # a figure in the column (shown ~1:1)
#: The smallest text a reader should have to read on screen, in CSS pixels (tested in tests/test_site.py).
MIN_TEXT_PX = 8.0
def figsize(ncols: int = 1, nrows: int = 1, *, aspect: float = 0.72,
            extra_height: float = 0.4) -> tuple[float, float]:
    """A figure size that suits the book's column: ``ncols`` x ``nrows`` panels of the given aspect.

    Args:
        ncols, nrows: panels across and down.
        aspect: height / width of one panel.
        extra_height: inches for the titles and the legend below the panels.

    Example: ``fig, axes = plt.subplots(2, 3, figsize=plotting.figsize(3, 2))``.
    """
    if ncols < 1 or nrows < 1:
        raise ValueError(f"figsize needs at least one panel each way, got ncols={ncols}, nrows={nrows}.")
    return COLUMN_IN, round(nrows * aspect * COLUMN_IN / ncols + extra_height, 2)


def _below_axis_pt(ax: plt.Axes) -> float:
    """How far the x axis' tick labels and label reach below the axes, in points (0 when none show)."""
    try:
        bb = ax.xaxis.get_tightbbox(ax.figure.canvas.get_renderer())
    except Exception:  # a canvas without a renderer: about two lines of text
        return 28.0
    return 0.0 if bb is None else max(0.0, (ax.bbox.y0 - bb.y0) * 72.0 / ax.figure.dpi)


def _below_x_axis(ax: plt.Axes):
    """The line just under the x axis' tick labels and label of ``ax``, in display units (a legend's anchor)."""
    from matplotlib.transforms import Bbox

    try:
        bb = ax.xaxis.get_tightbbox(ax.figure._get_renderer())
    except Exception:  # no renderer: about two lines of text
        bb = None
    y0 = ax.bbox.y0 if bb is None else min(ax.bbox.y0, bb.y0)
    return Bbox.from_bounds(ax.bbox.x0, y0 - 4 * ax.figure.dpi / 72.0, ax.bbox.width, 0)


def _fits_width(leg, ax) -> bool:
    try:
        renderer = ax.figure.canvas.get_renderer()
        return leg.get_window_extent(renderer).width <= 1.15 * ax.bbox.width
    except Exception:  # no renderer: keep the columns asked for
        return True


def legend_outside(ax: plt.Axes, *, where: str = "below", ncol: int | None = None, title: str | None = None,
                   handles=None, labels=None):
    """A legend that never covers the data: under the axes (``"below"``) or to their right (``"right"``).

    Below, it starts under the x axis' tick labels and label, wherever they end (measured when it is
    called: call it after labelling the axes).  The saved figure keeps it (``savefig.bbox = "tight"``).
    Returns the legend, or None when the axes have nothing labelled.
    """
    from matplotlib.transforms import ScaledTranslation

    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if where == "below":
        drop = ScaledTranslation(0, -(_below_axis_pt(ax) + 4) / 72.0, ax.figure.dpi_scale_trans)
        for n in ([ncol] if ncol else range(min(len(handles), 3), 0, -1)):  # as many columns as the axes' width holds
            leg = ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                            bbox_transform=ax.transAxes + drop, ncol=n, frameon=False, title=title)
            if ncol or n == 1 or _fits_width(leg, ax):
                break
        leg.get_bbox_to_anchor = lambda: _below_x_axis(ax)  # re-measured at every draw: labels set later count
        return leg
    if where == "right":
        return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), ncol=ncol or 1,
                         frameon=False, title=title)
    raise ValueError(f"where must be 'below' or 'right', got {where!r}.")


#: Colours that readers with the common colour-vision deficiencies can tell apart (seaborn's "colorblind",
#: after Okabe and Ito), and line styles and markers that tell series apart without colour.
PALETTE = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#949494", "#56b4e9")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (8, 2)), (0, (1, 2.5)), (0, (3, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def series_styles(labels: Sequence[str], *, n_points: int | None = None, markers: bool = True) -> dict[str, dict]:
    """One colour, line style and marker per series, so that series separate in grey print too.

    Use the same mapping in every panel of a figure: a series keeps its style across panels.

    Args:
        labels: the series, in order.
        n_points: points per series; when given, markers are spaced (``markevery``) to about eight per line,
            staggered so that two series do not put their markers on the same points.
        markers: also give each series a marker.

    Returns:
        ``{label: plot keyword arguments}``, e.g. ``ax.plot(x, y, label=k, **styles[k])``.

    Example: ``styles = plotting.series_styles(results, n_points=epochs)``.
    """
    labels = list(labels)
    if len(labels) > len(PALETTE):
        raise ValueError(f"series_styles has {len(PALETTE)} distinct styles; got {len(labels)} series. "
                         "Split the figure into panels or group the series.")
    out = {}
    for k, label in enumerate(labels):
        st = {"color": PALETTE[k], "ls": LINESTYLES[k]}
        if markers:
            st.update(marker=MARKERS[k], ms=4)
            if n_points and n_points > 12:
                every = max(1, n_points // 8)
                st["markevery"] = (k * every // max(len(labels), 1), every)
        out[label] = st
    return out


#: One colour and marker per optimizer, the same in every figure of the book (Part III compares them figure
#: after figure): the optimizer is recognised from a series' label by :func:`optimizer_of`.
OPTIMIZER_STYLES = {
    "SGD": {"color": PALETTE[0], "marker": "o"},
    "momentum": {"color": PALETTE[1], "marker": "s"},
    "Adam": {"color": PALETTE[2], "marker": "^"},
    "Nesterov": {"color": PALETTE[4], "marker": "D"},  # pink: far from momentum's orange for every reader
    "AdaGrad": {"color": PALETTE[3], "marker": "v"},
    "RMSprop": {"color": PALETTE[5], "marker": "P"},
}
_OPTIMIZER_PATTERNS = (  # first match wins: "SGD+momentum" is momentum, "NAdam" and "AdamW" are not Adam
    ("Nesterov", r"nesterov"),
    ("momentum", r"momentum|heavy.ball|velocity form|ema form"),
    ("AdaGrad", r"adagrad"),
    ("RMSprop", r"rmsprop"),
    ("Adam", r"(?<![a-z])adam(?![a-z])"),
    ("SGD", r"(?<![a-z])(?:sgd|gd|gradient descent)(?![a-z])"),
)


def optimizer_of(label: str) -> str | None:
    """The optimizer a series' label names (a key of :data:`OPTIMIZER_STYLES`), or None.

    >>> [optimizer_of(s) for s in ("SGD, lr 0.1", "SGD+momentum", "Nesterov (lr 0.5, β 0.9)", "NAdam", "GD (lr 0.3)")]
    ['SGD', 'momentum', 'Nesterov', None, 'SGD']
    """
    low = str(label).lower()
    for name, pattern in _OPTIMIZER_PATTERNS:
        if re.search(pattern, low):
            return name
    return None


def optimizer_styles(labels: Sequence[str], *, n_points: int | None = None, markers: bool = True) -> dict[str, dict]:
    """Like :func:`series_styles`, but each series takes the colour and marker of the optimizer its label names
    (:data:`OPTIMIZER_STYLES`), so that SGD is blue, momentum orange and Adam green in every figure; two series
    of one optimizer (two learning rates) differ by line style. Labels that name no known optimizer take the
    palette's colours that no other series of the figure uses (grey and sky blue first: no optimizer owns them).

    Example: ``styles = plotting.optimizer_styles(["SGD, lr 0.1", "SGD, lr 0.3", "Adam, lr 0.001"])``.
    """
    labels = list(labels)
    out = series_styles(labels, n_points=n_points, markers=markers)  # markevery staggering, the size check
    names = [optimizer_of(label) for label in labels]
    used = {OPTIMIZER_STYLES[n]["color"] for n in names if n}
    # colours no optimizer owns first, then those of the optimizers the book shows least together with others
    order = [PALETTE[i] for i in (6, 7, 4, 5, 3, 0, 1, 2)]
    spare = iter([c for c in order if c not in used])
    spare_markers = iter([m for m in MARKERS if m not in {OPTIMIZER_STYLES[n]["marker"] for n in names if n}])
    seen: dict[str, int] = {}
    for label, name in zip(labels, names):
        st = out[label]
        if name:
            st["color"] = OPTIMIZER_STYLES[name]["color"]
            if markers:
                st["marker"] = OPTIMIZER_STYLES[name]["marker"]
        else:
            st["color"] = next(spare)
            if markers:
                st["marker"] = next(spare_markers)
        if name:  # the first run of an optimizer solid, a second one dashed, ...; other series keep their own
            st["ls"] = LINESTYLES[seen.get(name, 0)]
            seen[name] = seen.get(name, 0) + 1
    return out


def integer_epochs(ax: plt.Axes) -> None:
    """Ticks on whole epochs only (no 1.25, 1.5 ... on a short run)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))  # "auto": as many as the width holds


def fmt_number(x, digits: int = 3, *, nan: str = "—", inf: str = "diverged", zero_below: float = 0.0,
               percent: bool = False) -> str:
    """One number as a table shows it: ``digits`` significant digits, no ``-0.00``, words for the gaps.

    Args:
        x: the value (None and NaN print ``nan``; ±inf prints ``inf``).
        digits: significant digits.
        nan, inf: the words for a missing value (e.g. ``"never"``) and a divergence.
        zero_below: values smaller in magnitude print as ``"≈ 0"`` (e.g. a loss of -3e-267 on a
            plain whose value is zero), 0 prints ``0``.
        percent: append ``" %"``.
    """
    import math

    if x is None:
        return nan
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return nan
    if math.isinf(v):
        return inf
    if v == 0 or (zero_below and abs(v) < zero_below):
        return "0" if v == 0 else "≈ 0"
    s = f"{v:.0f}" if 10 ** digits <= abs(v) < 1e6 else f"{v:.{digits}g}"
    if float(s) == 0:
        s = "0"
    s = s.replace("e-0", "e-").replace("e+0", "e+").replace("e+", "e")
    return s + (" %" if percent else "")


def table(df: "pd.DataFrame", digits: int = 3, *, formats: Mapping[str, object] | None = None,
          nan: str = "—", hide_index: bool = False, caption: str | None = None):
    """A DataFrame as the book shows it: every number through :func:`fmt_number` (``digits``
    significant digits) unless ``formats`` gives a column its own format string or function.

    Returns a pandas ``Styler`` (a cell's last expression displays it).
    """
    formats = dict(formats or {})
    unknown = set(formats) - set(df.columns)
    if unknown:
        raise ValueError(f"formats names columns that the table does not have: {sorted(unknown)}; "
                         f"its columns are {list(df.columns)}.")
    default = lambda v: fmt_number(v, digits, nan=nan) if isinstance(v, (int, float, np.number)) \
        and not isinstance(v, bool) else (nan if v is None else str(v))
    rest = [c for c in df.columns if c not in formats]
    sty = df.style.format(default, subset=rest) if rest else df.style
    for col, f in formats.items():
        sty = sty.format(f, subset=[col])
    if hide_index:
        sty = sty.hide(axis="index")
    if caption:
        sty = sty.set_caption(caption)
    return sty


# ----------------------------------------------------------------------------- style and images
def set_style() -> None:
    """The book's plotting style: seaborn's whitegrid, the colour-blind-safe :data:`PALETTE` as the colour cycle,
    figures sized for the book's column
    (:data:`COLUMN_IN` wide by default), readable fonts, significant digits in plain tables.

    It changes matplotlib's and pandas' settings only; no function of another library is replaced (the
    book's build measures the text of its figures with ``_ext/text_record.py``, in its own kernels)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.9)
    from cycler import cycler  # matplotlib's own dependency

    plt.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE))  # colour-blind-safe: C0, C1, ... are these
    plt.rcParams.update({"figure.dpi": FIG_DPI, "savefig.bbox": "tight", "savefig.pad_inches": 0.05,
                         "axes.titlesize": "medium", "figure.figsize": (COLUMN_IN, 3.8),
                         "legend.fontsize": "small", "axes.formatter.useoffset": False})
    try:  # tables shown without a format of their own: significant digits, not pandas' six decimals
        import pandas as pd

        pd.set_option("display.float_format", lambda v: fmt_number(v, 4))
        pd.set_option("styler.format.na_rep", "—")
    except ImportError:  # pragma: no cover - pandas is a dependency of the package
        pass


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
    lines = max((str(t).count("\n") + 1 for t in labels), default=1)   # caption lines over each image
    side = COLUMN_IN / ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_IN, nrows * (side + 0.17 * lines) + 0.3), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(X[k] * std + mean, cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(labels[k], fontsize=8 if lines == 1 else 7.5)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


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
    cb.set_label(r"$\chi_1$, error-signal factor per layer")
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
    out = [f"the colour shows χ1, the error-signal factor per layer, on a log scale, white at 1: from "
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
    return ax


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
    point = lambda xy: f"({fmt_number(xy[0], 3)}, {fmt_number(xy[1], 3)})"  # noqa: E731
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
