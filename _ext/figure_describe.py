"""Alt text that says what a figure shows, computed in the build's kernels from the figure's own data.

A figure of the book is a PNG by the time Sphinx sees it: the data it drew are gone.  So the description
is made where the data still are, in the kernel, at the moment the figure is saved for display:
:func:`install` wraps matplotlib's ``FigureCanvasBase.print_figure`` (as ``text_record.py`` does), and
every PNG written records :func:`describe` of its figure in the PNG text chunk :data:`ALT_KEY`.
``_ext/course_book.py`` (``add_alt_text``) reads that chunk from the image file and makes it the
``<img>``'s alt text.

:func:`describe` reads what the axes hold: lines (each series' name, its range, its start and end, its
peak or low where they are not at an end; which series ends highest and lowest, and by how much), bars
(the tallest and shortest bar of each group), scatter points, images and heat maps (size and value
range), filled bands, contours; the titles and axis labels, with matplotlib's TeX turned into plain
text.  A log axis says so once, beside its name; a value on it is given by the name alone ("at epoch 5").
A plotting function whose figure's coordinates say little (positions of rows, say) may set
``ax.course_description`` to a sentence of what it drew (clauses joined by "; "); that sentence replaces
the axes' own.

A figure of several panels shares :data:`MAX_CHARS` among them: each keeps at least its head and its first
clause that gives values (a series' from .. to .., shortened rather than dropped), the rest is shared out;
a list of series the same in every panel is said once, before them.  Build machinery: learners' kernels
never run it (``_ext/build_kernel.py`` writes the start-up file of the build's kernels only).
"""
from __future__ import annotations

import math
import re

#: PNG text chunk in which every figure the build saves records its description.
ALT_KEY = "course-alt"
#: Series described one by one; a figure with more names them and ranks their ends.
MAX_DETAILED = 4
#: Longest description kept (characters); longer ones end at a sentence and say how many panels were left.
MAX_CHARS = 1200

_GREEK = {name: chr(code) for name, code in [
    ("alpha", 0x3b1), ("beta", 0x3b2), ("gamma", 0x3b3), ("delta", 0x3b4), ("epsilon", 0x3b5),
    ("varepsilon", 0x3b5), ("zeta", 0x3b6), ("eta", 0x3b7), ("theta", 0x3b8), ("iota", 0x3b9),
    ("kappa", 0x3ba), ("lambda", 0x3bb), ("mu", 0x3bc), ("nu", 0x3bd), ("xi", 0x3be), ("pi", 0x3c0),
    ("rho", 0x3c1), ("sigma", 0x3c3), ("tau", 0x3c4), ("phi", 0x3c6), ("varphi", 0x3c6), ("chi", 0x3c7),
    ("psi", 0x3c8), ("omega", 0x3c9), ("Gamma", 0x393), ("Delta", 0x394), ("Theta", 0x398),
    ("Lambda", 0x39b), ("Sigma", 0x3a3), ("Phi", 0x3a6), ("Psi", 0x3a8), ("Omega", 0x3a9)]}
_SYMBOLS = {"ell": "ℓ", "times": "×", "cdot": "·", "approx": "≈", "leq": "≤", "le": "≤", "geq": "≥",
            "ge": "≥", "neq": "≠", "infty": "∞", "pm": "±", "to": "→", "rightarrow": "→", "nabla": "∇",
            "partial": "∂", "sum": "Σ", "prod": "Π", "log": "log", "exp": "exp", "ln": "ln", "max": "max",
            "min": "min", "sqrt": "√", "propto": "∝", "sim": "~", "%": "%", "quad": " ", ",": " ", ";": " ",
            "!": "", " ": " "}
_SUP = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")


def plain(text: str) -> str:
    """matplotlib's mathtext (``$\\sigma_w^2$``, ``\\mathrm{...}``) as plain text a screen reader can say.

    >>> plain(r"$\\sigma_w^2 = 2/n_{in}$ (He)")
    'σw² = 2/nin (He)'
    """
    def math(m):
        s = m.group(1)
        for _ in range(4):  # innermost braces first: \mathdefault{10^{1}}, \mathrm{\frac{1}{2}}
            before = s
            s = re.sub(r"\\(?:mathdefault|mathrm|mathbf|mathit|text|operatorname|mathcal|boldsymbol|rm|bf)\s*\{([^{}]*)\}", r"\1", s)
            s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1)/(\2)", s)
            s = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"√(\1)", s)
            s = re.sub(r"\^\{([-+]?\d+)\}", lambda k: k.group(1).translate(_SUP), s)
            if s == before:
                break

        def command(k):
            name = k.group(1)
            return _GREEK.get(name) or _SYMBOLS.get(name, name)
        s = re.sub(r"\\([A-Za-z]+|[%,;! ])", command, s)
        s = re.sub(r"\^\{([-+]?\d+)\}|\^([-+]?\d)", lambda k: (k.group(1) or k.group(2)).translate(_SUP), s)
        s = re.sub(r"\^\{([^{}]*)\}", r"^\1", s)
        s = re.sub(r"_\{([^{}]*)\}|_(\w)", lambda k: k.group(1) or k.group(2), s)
        return s.replace("{", "").replace("}", "").replace("\\", "")
    out = re.sub(r"\$([^$]*)\$", math, str(text))
    out = out.replace("\\$", "$").replace("\n", " ")
    return re.sub(r"\s+", " ", out).strip()


def number(v: float) -> str:
    """A value as a reader would say it: three significant digits, powers of ten written out.

    >>> [number(x) for x in (0.8766, 12345.0, 2.5e-05, 3.0, -0.0)]
    ['0.877', '12,300', '2.5×10⁻⁵', '3', '0']
    """
    v = float(v)
    if not math.isfinite(v):
        return "not finite"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        mant, exp = f"{v:.2e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        return f"{mant}×10{str(int(exp)).translate(_SUP)}"
    digits = max(0, 2 - int(math.floor(math.log10(a))))
    s = f"{round(v, digits):,.{digits}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if a >= 1000:  # 12,345 -> 12,300: three significant digits
        s = f"{float(f'{v:.3g}'):,.0f}"
    return s


class _Part(str):
    """One clause of a panel's description (they are joined by "; "), with ``short``, the form it takes when the
    panel's share of the length is small (a series without its peak, a list of names as their count), and
    ``values``: whether it says what the data do (a list of names does not)."""

    def __new__(cls, text: str, short: str | None = None, values: bool = True):
        obj = super().__new__(cls, text)
        obj.short = str(text) if short is None else short
        obj.values = values
        return obj


def _short(part: str) -> str:
    return getattr(part, "short", part)


def _label(artist) -> str | None:
    lab = artist.get_label() if hasattr(artist, "get_label") else None
    if not lab or str(lab).startswith("_"):
        return None
    return plain(lab)


def _axis_name(ax, which: str) -> str:
    return plain(ax.get_xlabel() if which == "x" else ax.get_ylabel())


def _finite_xy(line):
    import numpy as np

    try:
        xy = np.asarray(line.get_xydata(), dtype=float)
    except (TypeError, ValueError):
        return None
    if xy.ndim != 2 or xy.shape[1] != 2:
        return None
    xy = xy[np.isfinite(xy).all(axis=1)]
    return xy if len(xy) else None


#: A label's own note that its axis is logarithmic: "(log scale)", "(log scale; dotted: ...)", ", log scale".
_LOG_NOTE = re.compile(r"\s*\([^()]*\blog[- ]scale\b[^()]*\)|,?\s*\b(?:on a )?log[- ]scale$", re.I)


def _point_name(ax, which: str) -> str:
    """An axis's name where a value on it is given ("at epoch 5"): the name without its parentheses (a note
    that the axis is logarithmic, a unit, a condition such as "(bias variance 0.05)"), which the axes' head
    says once beside the name, never at every point."""
    name = _LOG_NOTE.sub("", _axis_name(ax, which)).strip()
    return re.sub(r"\s*\([^()]*\)", "", name).strip() or name


def _at(ax, x: float) -> str:
    name = _point_name(ax, "x")
    return f"{name} {number(x)}" if name else f"x = {number(x)}"


def _compare(a: float, b: float, log: bool, span: float | None = None) -> str:
    """How far apart two values are: a ratio where that is the natural measure, else a difference. On a linear
    axis a value near zero (below 5 % of the axis ``span``) makes a ratio meaningless ("249 times as high" for a
    correlation that ends at 0.003): a difference then."""
    near_zero = not log and span is not None and span > 0 and b < 0.05 * span
    if a > 0 and b > 0 and (log or a / b >= 3) and not near_zero:
        return f"{number(a / b)} times as high"
    return f"{number(a - b)} higher"


def _left_to_right(xy) -> bool:
    """Whether a series is drawn from left to right (x never falls): then its last point is its right end.
    A series drawn the other way (a spectrum against falling x) or a path that turns back is not."""
    import numpy as np

    return bool(len(xy) < 2 or np.all(np.diff(xy[:, 0]) >= 0))


def _same_end(named, i: int) -> bool:
    """Whether every series is drawn left to right and has its point ``i`` (0: first, -1: last) at one x."""
    import numpy as np

    if not all(_left_to_right(xy) for _, xy in named):
        return False
    xs = np.array([float(xy[i, 0]) for _, xy in named if len(xy) > 1])
    return bool(len(xs) and np.allclose(xs, xs[0], rtol=1e-6, atol=1e-12))


def _series(ax, line, xy, log: bool) -> str:
    name = _label(line) or "the line"
    y = xy[:, 1]
    if len(xy) == 1:
        return f"{name}: one point, {number(y[0])} at {_at(ax, xy[0, 0])}"
    if float(y.max()) == float(y.min()):
        return f"{name}: flat at {number(y[0])}"
    text = f"{name}: from {number(y[0])} at {_at(ax, xy[0, 0])} to {number(y[-1])} at {_at(ax, xy[-1, 0])}"
    i_max, i_min = int(y.argmax()), int(y.argmin())
    extra = []
    if 0 < i_max < len(y) - 1:
        extra.append(f"highest {number(y[i_max])} at {_at(ax, xy[i_max, 0])}")
    if 0 < i_min < len(y) - 1:
        extra.append(f"lowest {number(y[i_min])} at {_at(ax, xy[i_min, 0])}")
    if log and y[0] > 0 and y[-1] > 0 and max(y[0], y[-1]) / min(y[0], y[-1]) >= 10:
        extra.append(f"{'down' if y[-1] < y[0] else 'up'} by a factor of {number(max(y[0], y[-1]) / min(y[0], y[-1]))}")
    return _Part(text + (" (" + ", ".join(extra) + ")" if extra else ""), short=text)


def _errorbar_lines(ax) -> set:
    """The lines that belong to error bars (their points and caps): :func:`_errorbars` describes those."""
    from matplotlib.container import ErrorbarContainer

    out = set()
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            data_line, caps, _ = c.lines
            out |= {id(x) for x in ([data_line] if data_line is not None else []) + list(caps)}
    return out


def _categories(ax, which: str = "x") -> dict:
    """An axis's tick names when they are words (a categorical axis), else {}."""
    from matplotlib.ticker import LogFormatter, ScalarFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    if isinstance(axis.get_major_formatter(), (LogFormatter, ScalarFormatter)):
        return {}  # numbers that a locator placed (powers of ten on a log axis, say): not categories
    names = _tick_names(ax, which)
    numeric = all(re.fullmatch(r"[-−+]?[\d.,]+(?:e[-−+]?\d+)?%?", t.replace("×10", "e")) for t in names.values())
    return {} if numeric else names


def _category(names: dict, x: float, width: float = 0.5) -> str | None:
    near = min(names, key=lambda c: abs(c - x), default=None)
    return names[near] if near is not None and abs(near - x) <= width else None


def _errorbars(ax) -> list[str]:
    """Points with error bars: each one's value and the interval its bar spans, named by its category."""
    import numpy as np
    from matplotlib.container import ErrorbarContainer

    names = _categories(ax)
    items, label = [], None
    for c in ax.containers:
        if not isinstance(c, ErrorbarContainer):
            continue
        data_line, _, bars = c.lines
        label = label or _label(c) or (data_line is not None and _label(data_line)) or None
        if data_line is None:
            continue
        xy = _finite_xy(data_line)
        segs = [np.asarray(seg, dtype=float) for col in bars for seg in col.get_segments()]
        for k, (x, y) in enumerate(xy if xy is not None else []):
            name = _category(names, x) or _at(ax, x)
            span = ""
            if k < len(segs) and segs[k].shape == (2, 2) and segs[k][0, 0] == segs[k][1, 0]:
                span = f" ({number(segs[k][:, 1].min())} to {number(segs[k][:, 1].max())})"
            items.append(f"{name} {number(y)}{span}")
    if not items:
        return []
    head = f"{label or 'values with error bars'}: "
    short = head + ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
    return [_Part(head + ", ".join(items), short=short)]


def _lines(ax, log: bool) -> list[str]:
    import numpy as np

    skip = _errorbar_lines(ax)
    lines = [ln for ln in ax.get_lines() if ln.get_visible() and id(ln) not in skip]
    named = [(ln, xy) for ln in lines if _label(ln) and (xy := _finite_xy(ln)) is not None]
    if not named:  # no legend: describe every line (numbered)
        named = []
        for k, ln in enumerate(lines):
            xy = _finite_xy(ln)
            if xy is not None and len(xy) > 1:
                ln_label = f"line {k + 1}" if len(lines) > 1 else "the line"
                named.append((_Named(ln, ln_label), xy))
    if not named:
        return []
    out = []
    if len(named) <= MAX_DETAILED:
        out += [_series(ax, ln, xy, log) for ln, xy in named]
    else:
        names = [_label(ln) or "unnamed" for ln, _ in named]
        sep = "; " if any("," in x for x in names) else ", "  # "Xavier uniform, gain 5/3" stays one name
        out.append(_Part(f"{len(named)} series: " + sep.join(names),
                         short=f"{len(named)} series", values=False))
    ends = [(float(xy[-1, 1]), _label(ln) or "unnamed") for ln, xy in named if len(xy) > 1]
    # Ends are compared only where they are comparable: every series drawn left to right and ending at the same x
    # (the last epoch, the largest rate). Series that end at different x (a spectrum, a path in the plane, one
    # series cut short) have no common end: "x at its end is 3 times as high" would compare different places.
    if len(ends) >= 2 and _same_end(named, -1):
        ends.sort(reverse=True)
        (hi, hi_name), (lo, lo_name) = ends[0], ends[-1]
        if number(hi) != number(lo):
            out.append(f"at the right end {hi_name} is highest ({number(hi)}) and {lo_name} lowest "
                       f"({number(lo)}), {_compare(hi, lo, log, abs(np.subtract(*ax.get_ylim())))}")
        else:  # all end together (normalised there, say): then the other end tells them apart
            out.append(f"all {len(ends)} series end at {number(hi)}")
            starts = sorted(((float(xy[0, 1]), _label(ln) or "unnamed") for ln, xy in named if len(xy) > 1),
                            reverse=True)
            (hi, hi_name), (lo, lo_name) = starts[0], starts[-1]
            if number(hi) != number(lo) and _same_end(named, 0):
                out.append(f"at the left end {hi_name} is highest ({number(hi)}) and {lo_name} lowest "
                           f"({number(lo)}), {_compare(hi, lo, log, abs(np.subtract(*ax.get_ylim())))}")
    return out


class _Named:
    """A line with a name given here (lines without a legend entry are numbered)."""

    def __init__(self, line, name):
        self._line, self._name = line, name

    def get_label(self):
        return self._name

    def get_xydata(self):
        return self._line.get_xydata()


def _tick_names(ax, which: str) -> dict:
    axis = ax.xaxis if which == "x" else ax.yaxis
    out = {}
    for t in axis.get_ticklabels():
        text = plain(t.get_text())
        if text:
            pos = t.get_position()[0 if which == "x" else 1]
            out[round(float(pos), 6)] = text
    return out


def _histogram(ax, heights, edges, label: str | None) -> str:
    """A histogram: its range and its tallest bin."""
    import numpy as np

    h, e = np.asarray(heights, dtype=float), np.asarray(edges, dtype=float)
    k = int(np.nanargmax(h))
    head = f"{label}: " if label else ""
    return (f"{head}a histogram of {len(h)} bins over {_point_name(ax, 'x') or 'x'} from {number(e[0])} to "
            f"{number(e[-1])}, tallest ({number(h[k])}) at {number((e[k] + e[k + 1]) / 2)}")


def _spans(ax) -> list[str]:
    """Labelled shaded bands across a panel (``axhspan``/``axvspan``): what the band is and where it lies, since
    the other series are read against it."""
    from matplotlib.container import BarContainer
    from matplotlib.patches import StepPatch

    in_bars = {id(p) for c in ax.containers if isinstance(c, BarContainer) for p in c.patches}
    box = ax.get_window_extent()
    out = []
    for p in ax.patches:
        label = _label(p)
        # a histogram's step outline (``stairs``) is a series, described with the bars, never a band
        if not label or id(p) in in_bars or not p.get_visible() or isinstance(p, StepPatch):
            continue
        ext = p.get_window_extent()
        (x0, y0), (x1, y1) = ax.transData.inverted().transform([[ext.x0, ext.y0], [ext.x1, ext.y1]])
        if ext.width >= 0.95 * box.width:  # across the panel: a band of y values
            out.append(f"{label}: a shaded band from {number(min(y0, y1))} to {number(max(y0, y1))}")
        elif ext.height >= 0.95 * box.height:  # a band of x values
            out.append(f"{label}: a shaded band from {_at(ax, min(x0, x1))} to {_at(ax, max(x0, x1))}")
    return out


def _bars(ax, log: bool) -> list[str]:
    from matplotlib.container import BarContainer
    from matplotlib.patches import StepPatch

    out = []
    groups = [c for c in ax.containers if isinstance(c, BarContainer) and len(c.patches)]
    for g in groups[:MAX_DETAILED]:
        horizontal = getattr(g, "orientation", "vertical") == "horizontal"
        names = _categories(ax, "y" if horizontal else "x")
        categorical = bool(names)
        bars = []
        for p in g.patches:
            if horizontal:
                v, lo, width = p.get_width(), p.get_y(), p.get_height()
            else:
                v, lo, width = p.get_height(), p.get_x(), p.get_width()
            if math.isfinite(v):
                bars.append((float(v), float(lo), float(width)))
        if not bars:
            continue
        label = _label(g)
        contiguous = len(bars) >= 4 and all(abs(b[1] - (a[1] + a[2])) <= 1e-6 * max(1.0, abs(a[2]) * 1e3)
                                            for a, b in zip(bars, bars[1:]))
        if contiguous and not categorical:
            out.append(_histogram(ax, [b[0] for b in bars], [b[1] for b in bars] + [bars[-1][1] + bars[-1][2]], label))
            continue
        vals = []
        for v, lo, width in bars:
            centre = lo + width / 2
            near = min(names, key=lambda c: abs(c - centre), default=None)
            if categorical and near is not None and abs(near - centre) <= max(width, 1e-12):
                vals.append((v, names[near]))
            else:
                vals.append((v, f"{_point_name(ax, 'y' if horizontal else 'x') or 'x'} {number(centre)}"))
        head = f"{label}: " if label else ""
        hi, lo = max(vals), min(vals)
        if len(vals) == 1:
            out.append(f"{head}one bar, {hi[1]}, of height {number(hi[0])}")
        else:
            cmp = _compare(hi[0], lo[0], log).replace("times as high", "times as high as").replace("higher", "higher than")
            out.append(f"{head}{len(vals)} bars from {number(lo[0])} ({lo[1]}) to {number(hi[0])} ({hi[1]}), "
                       f"the tallest {cmp} the shortest")
    if len(groups) > MAX_DETAILED:
        out.append(f"and {len(groups) - MAX_DETAILED} more groups of bars")
    for p in ax.patches:
        if isinstance(p, StepPatch) and p.get_visible():
            values, edges, _ = p.get_data()
            if len(values):
                out.append(_histogram(ax, values, edges, _label(p)))
    return out


def _collections(ax) -> list[str]:
    import numpy as np
    from matplotlib.collections import PathCollection, PolyCollection

    out = []
    for c in ax.collections:
        if not c.get_visible():
            continue
        label = _label(c)
        kind = type(c).__name__
        if isinstance(c, PathCollection):
            off = np.asarray(c.get_offsets(), dtype=float)
            off = off[np.isfinite(off).all(axis=1)] if off.ndim == 2 else off[:0]
            if len(off) and c.get_offset_transform() is not ax.transData and (label or c.get_gid()):
                # marks placed along an edge (y in axes coordinates, e.g. runs that diverged): only x means anything
                xname = re.sub(r"\s*\(.*?\)", "", _axis_name(ax, "x")) or "x"
                xs = sorted(set(float(v) for v in off[:, 0]))
                out.append(f"{label or c.get_gid()} at {xname} " + ", ".join(number(v) for v in xs))
            elif len(off):
                head = f"{label}: " if label else ""
                n = len(off)
                names = _categories(ax)
                if names and n <= 12 and all(_category(names, x) for x in off[:, 0]):  # one point per category
                    out.append(head + ", ".join(f"{_category(names, x)} {number(y)}" for x, y in off))
                elif n == 1:
                    out.append(f"{head}a point at ({number(off[0, 0])}, {number(off[0, 1])})")
                else:
                    out.append(f"{head}{n} points, {_point_name(ax, 'x') or 'x'} from {number(off[:, 0].min())} to "
                               f"{number(off[:, 0].max())}, {_point_name(ax, 'y') or 'y'} from "
                               f"{number(off[:, 1].min())} to {number(off[:, 1].max())}")
        elif isinstance(c, PolyCollection) and label:
            out.append(f"a shaded band: {label}")
        elif "Contour" in kind:
            levels = getattr(c, "levels", None)
            if levels is not None and len(levels):
                filled = "filled contours" if getattr(c, "filled", False) else "contour lines"
                out.append(f"{filled} at {len(levels)} levels from {number(min(levels))} to {number(max(levels))}")
    return out


def _images(ax) -> list[str]:
    import numpy as np

    out = []
    for im in ax.get_images():
        arr = np.asarray(im.get_array(), dtype=float) if im.get_array() is not None else None
        if arr is None or arr.ndim < 2:
            continue
        if arr.ndim == 2 and arr.size:
            finite = arr[np.isfinite(arr)]
            rng = f", values from {number(finite.min())} to {number(finite.max())}" if finite.size else ""
            out.append(f"a {arr.shape[0]}×{arr.shape[1]} heat map{rng}")
        else:
            out.append(f"an image of {arr.shape[0]}×{arr.shape[1]} pixels")
    return out


def _is_colorbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>"


def _panel(ax) -> tuple[str, list[str]]:
    """(head, clauses) of one axes: its title and axis names, and what it holds (no clauses: nothing drawn)."""
    log = ax.get_yscale() == "log"
    custom = getattr(ax, "course_description", None)  # set by a plotting function that knows what it drew
    if custom:
        parts = str(custom).rstrip(".").split("; ")
    elif ax.name == "3d":
        parts = ["a three-dimensional surface"]
    else:
        parts = _errorbars(ax) + _lines(ax, log) + _spans(ax) + _bars(ax, log) + _collections(ax) + _images(ax)
    title = plain(ax.get_title()) or plain(ax.get_title(loc="left"))
    xl, yl = _axis_name(ax, "x"), _axis_name(ax, "y")
    if xl and not yl and ax.get_lines() and not custom:  # a panel that shares its neighbour's y label
        yl = "values"
    # a log axis says so beside its own name, once (an axis label may say so itself); a value on it is given
    # by the name alone (_point_name)
    if yl and log and "log scale" not in yl:
        yl += " (log scale)"
    if xl and ax.get_xscale() == "log" and "log scale" not in xl:
        xl += " (log scale)"
    axes = ""
    if xl and yl:
        axes = f"{yl} against {xl}"
    elif yl or xl:
        axes = yl or xl
    return ", ".join(x for x in (title, axes) if x), parts


def _join(head: str, parts: list[str], more: bool = False) -> str:
    return (head + ": " if head else "") + "; ".join(parts) + ("; more in the text." if more else ".")


def describe_axes(ax) -> str:
    """One sentence or a few about what one axes shows (empty when it holds nothing drawn)."""
    head, parts = _panel(ax)
    return _join(head, parts) if parts else ""


def _first_values(parts: list[str]) -> int:
    """Index of the first clause that says what the data do (a list of series' names does not)."""
    return next((i for i, p in enumerate(parts) if getattr(p, "values", True)), 0)


def _least(head: str, parts: list[str]) -> str:
    """The shortest a panel's description becomes: its head and, in their short forms, its clauses up to and
    including the first that gives values (for a line chart, the first series from .. to ..)."""
    full = _join(head, parts)
    least = _join(head, [_short(p) for p in parts[: _first_values(parts) + 1]], more=True)
    return full if len(full) <= len(least) else least


def _shorten(head: str, parts: list[str], limit: int) -> str:
    """One panel's description in about ``limit`` characters: never less than :func:`_least` (its head and its
    first clause with values); then the later clauses in their short forms, in order, while they fit; then
    each kept clause in its full form where that fits.  A cut ends "more in the text"."""
    full = _join(head, parts)
    if len(full) <= limit:
        return full
    first = _first_values(parts)
    keep = {i: _short(parts[i]) for i in range(first + 1)}

    def text(k):
        return _join(head, [k[i] for i in sorted(k)], more=True)
    for i in range(first + 1, len(parts)):
        if len(text({**keep, i: _short(parts[i])})) > limit:
            break
        keep[i] = _short(parts[i])
    for i in sorted(keep):
        if len(text({**keep, i: parts[i]})) <= limit:
            keep[i] = parts[i]
    return text(keep) if len(text(keep)) < len(full) else full


def describe(fig) -> str:
    """What the figure shows, from the data its axes hold: one description per panel, titles first.

    Returns "" for a figure with nothing drawn (no lines, bars, points or images).
    """
    axes = [ax for ax in fig.get_axes() if ax.get_visible() and not _is_colorbar(ax)]
    sup = plain(fig._suptitle.get_text()) if getattr(fig, "_suptitle", None) is not None else ""
    image_only = [ax for ax in axes if ax.get_images() and not ax.get_lines() and not ax.collections]
    if len(axes) > 4 and len(image_only) == len(axes):  # a grid of pictures (show_images)
        titles = [plain(ax.get_title()) for ax in axes if ax.get_title()]
        shape = axes[0].get_images()[0].get_array().shape
        body = (f"a grid of {len(axes)} images of {shape[0]}×{shape[1]} pixels"
                + (", labelled " + ", ".join(titles[:12]) + (f" and {len(titles) - 12} more" if len(titles) > 12 else "")
                   if titles else "") + ".")
        return (sup + ": " if sup else "") + body
    panels = [(head, parts) for ax in axes for head, parts in [_panel(ax)] if parts]
    if not panels:
        return ""
    if len(panels) == 1:
        body = _shorten(*panels[0], MAX_CHARS - len(sup) - 2)
    else:
        # a list of series the same in every panel (one legend for the figure) is said once, before the panels:
        # in full where that leaves every panel its least, else as their count
        names = [next((x for x in p if not getattr(x, "values", True)), None) for _, p in panels]
        shared = ""
        if names[0] is not None and all(x == names[0] for x in names) and all(len(p) > 1 for _, p in panels):
            panels = [(h, [x for x in p if x is not n]) for (h, p), n in zip(panels, names)]
            shared = f", each with the same {names[0]}"
        full = [len(_join(h, p)) for h, p in panels]
        least = [len(_least(h, p)) for h, p in panels]
        if shared and MAX_CHARS - len(sup) - len(shared) - 20 - 12 * len(panels) < sum(least):
            shared = f", each with the same {_short(names[0])}"
        budget = MAX_CHARS - len(sup) - len(shared) - 20 - 12 * len(panels)
        # every panel gets its share of the length, so that a long first panel cannot crowd out the others:
        # first the least of each (its head and its first clause with values, _least), then what is left,
        # shared out, what a short panel does not need going to the longer ones
        left, limits = budget - sum(least), {}
        for rank, k in enumerate(sorted(range(len(panels)), key=lambda k: full[k] - least[k])):
            limits[k] = least[k] + min(full[k] - least[k], max(left, 0) // (len(panels) - rank))
            left -= limits[k] - least[k]
        for _ in range(3):  # what a cut panel could not use (its next clause was longer) goes to the cut ones
            texts = [_shorten(h, p, limits[k]) for k, (h, p) in enumerate(panels)]
            cut = [k for k in range(len(panels)) if len(texts[k]) < full[k]]
            spare = budget - sum(len(t) for t in texts)
            if not cut or spare < 20:
                break
            for k in cut:
                limits[k] = len(texts[k]) + spare // len(cut)
        texts = [_shorten(h, p, limits[k]) for k, (h, p) in enumerate(panels)]
        body = f"{len(panels)} panels{shared}. " + " ".join(f"Panel {k + 1}, {t}" for k, t in enumerate(texts))
    text = (sup + ". " if sup else "") + body
    if len(text) > MAX_CHARS:
        cut = text.rfind(". ", 0, MAX_CHARS)
        text = text[: cut + 1 if cut > 0 else MAX_CHARS] + " (The rest of the figure is described by the text around it.)"
    return text


# ----------------------------------------------------------------------------- colour vision
#: PNG text chunk: the series of one axes that only colour tells apart and that merge for a reader with
#: deuteranopia or protanopia ("none" when there are none).
CVD_KEY = "course-cvd"
#: Smallest CIE76 colour difference, under simulated deuteranopia and protanopia, at which two series may
#: differ by colour alone.  2.3 is a just-noticeable difference for large patches side by side; a 1.5-px
#: line or a legend swatch needs several times that.  Okabe and Ito's palette, the usual reference for
#: colour-blind-safe figures, keeps its closest two of seven colours at 17.9 under deuteranopia: 15
#: accepts it and rejects matplotlib's red and green (C3, C2: 7.3).
MIN_CVD_DELTA_E = 15.0
# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB
_DEUTERANOPIA = ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881))
_PROTANOPIA = ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998))


def _lab(rgb, matrix=None):
    """CIELAB (D65) of an sRGB colour, seen through ``matrix`` (a colour-vision simulation) if given."""
    import numpy as np

    c = np.asarray(rgb, dtype=float)[:3]
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    if matrix is not None:
        lin = np.clip(np.asarray(matrix) @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b, vision: str | None = None) -> float:
    """CIE76 difference of two colours (anything matplotlib reads), for normal vision or under
    simulated ``"deuteranopia"`` or ``"protanopia"``."""
    import numpy as np
    from matplotlib.colors import to_rgb

    m = {None: None, "deuteranopia": _DEUTERANOPIA, "protanopia": _PROTANOPIA}[vision]
    return float(np.linalg.norm(_lab(to_rgb(a), m) - _lab(to_rgb(b), m)))


def _style_of_series(ax):
    """(name, colour, what else tells it apart) of every series of one axes: lines and groups of bars."""
    from matplotlib.container import BarContainer

    lines = [ln for ln in ax.get_lines() if ln.get_visible() and len(ln.get_xdata()) > 1]
    named = [ln for ln in lines if _label(ln)] or lines
    out = [(_label(ln) or f"line {k + 1}", ln.get_color(), (str(ln.get_linestyle()), str(ln.get_marker())))
           for k, ln in enumerate(named)]
    for g in ax.containers:
        if isinstance(g, BarContainer) and len(g.patches) and _label(g):
            p = g.patches[0]
            out.append((_label(g), p.get_facecolor(), ("bar", str(p.get_hatch()))))
    return out


def cvd_conflicts(fig) -> list[str]:
    """Pairs of series in one axes that differ by colour alone and whose colours, seen with deuteranopia or
    protanopia, differ by less than :data:`MIN_CVD_DELTA_E`."""
    out = []
    for ax in fig.get_axes():
        if not ax.get_visible() or _is_colorbar(ax):
            continue
        series = _style_of_series(ax)
        for i in range(len(series)):
            for j in range(i + 1, len(series)):
                (na, ca, sa), (nb, cb, sb) = series[i], series[j]
                if sa != sb or na == nb or delta_e(ca, cb) < 2.3:
                    continue  # told apart by style, or one series drawn twice (same colour: the figure lint's business)
                worst = min(((delta_e(ca, cb, v), v) for v in ("deuteranopia", "protanopia")))
                if worst[0] < MIN_CVD_DELTA_E:
                    where = plain(ax.get_title()) or "an axes"
                    out.append(f"{where}: {na!r} and {nb!r} differ by colour alone, ΔE {worst[0]:.1f} with {worst[1]}")
    return out


def install() -> None:
    """Make every PNG that matplotlib writes record :func:`describe` of its figure under :data:`ALT_KEY` and
    :func:`cvd_conflicts` under :data:`CVD_KEY`.

    Idempotent; a figure whose description fails is saved as it is (the description is never worth a
    broken build), with the reason as its description so that the site test names it.
    """
    from matplotlib.backend_bases import FigureCanvasBase
    import matplotlib.pyplot as plt

    if getattr(FigureCanvasBase.print_figure, "_course_describe", False):
        return
    print_figure = FigureCanvasBase.print_figure

    def print_fig(self, filename, *args, **kwargs):
        fmt = kwargs.get("format") or (str(filename).rsplit(".", 1)[-1] if isinstance(filename, str) else None)
        if (fmt or plt.rcParams["savefig.format"]).lower() == "png":
            try:
                desc = describe(self.figure)
            except Exception as exc:  # noqa: BLE001 - reported through the alt text check
                desc = f"(no description: {type(exc).__name__}: {exc})"
            try:
                cvd = "; ".join(cvd_conflicts(self.figure)) or "none"
            except Exception as exc:  # noqa: BLE001 - reported through the colour-vision check
                cvd = f"(not checked: {type(exc).__name__}: {exc})"
            md = dict(kwargs.get("metadata") or {})
            if desc:
                md[ALT_KEY] = desc
            md[CVD_KEY] = cvd
            kwargs["metadata"] = md
        return print_figure(self, filename, *args, **kwargs)

    print_fig._course_describe = True
    for attr in ("_course_record",):  # keep the marks of wrappers installed before this one
        if getattr(print_figure, attr, False):
            setattr(print_fig, attr, True)
    FigureCanvasBase.print_figure = print_fig


def read_png_alt(path) -> str | None:
    """The description a PNG written by the build records (None when it has none)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return (getattr(im, "text", None) or {}).get(ALT_KEY)
    except (OSError, ValueError):
        return None
