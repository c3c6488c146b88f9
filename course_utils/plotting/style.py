"""The house style: colour-blind-safe colours, line styles and markers per series, number formatting.

:data:`PALETTE`, :data:`LINESTYLES` and :data:`MARKERS`; :func:`series_styles` (one distinct style per label) and
:func:`optimizer_styles` (the same colour and marker for an optimizer in every figure, :data:`OPTIMIZER_STYLES`);
:func:`fmt_number` and :func:`table` (numbers as the book's tables show them); :func:`set_style` (matplotlib's
and pandas' settings for the book) and :func:`show_images`.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .layout import COLUMN_IN, FIG_DPI

if TYPE_CHECKING:  # only for the annotations
    import pandas as pd


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
