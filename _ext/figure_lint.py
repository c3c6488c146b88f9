"""The book build's figure lint: every figure a build kernel shows must show every series and every text.

A reviewer found figures whose defects no check saw: two panels squeezed to zero width under overlapping
titles, a series drawn exactly under another of the same style, legends over the data, one colour meaning
Adam in the left panel and momentum in the right, and a raw ``<Axes: ...>`` repr printed above a figure.
:func:`lint_figure` finds each of these from the figure itself, measured with the renderer:

* **texts overlap** — titles, axis labels, tick labels in view, annotations, figure texts and legends
  (each legend as one block) must not overlap by more than :data:`OVERLAP_TOL_IN` (rotated tick labels are
  compared as rotated rectangles, not as their bounding boxes);
* **axes too small** — a panel with visible axes narrower than :data:`MIN_AXES_WIDTH_IN` or shorter than
  :data:`MIN_AXES_HEIGHT_IN` (colour bars excepted; a panel with its axes off, an image, has the smaller
  :data:`MIN_OFF_AXES_IN`);
* **legend over data** — a legend (of an axes or of the figure) whose box covers a plotted point, line,
  bar, filled area, arrow or image of any panel;
* **colour changes meaning** — one label drawn in two colours in two panels of one figure;
* **hidden series** — a line (or arrow) whose every point lies under another line of the same style, so
  that only one of the two shows; distinct markers, a dashed line on top, a thinner line on top or an
  offset make both visible, and a label (or a text of the figure naming the series) that says
  so ("identical", "same as", "under", "overlap", "coincide", "hidden") is the explicit opt-out;
* **raw repr** — a cell whose last expression is a matplotlib artist, axes or container (their repr, e.g.
  ``<Axes: ...>``, would print above the figure; a figure itself displays as an image and is fine).

:func:`install` wires it into an IPython kernel of the build (``_ext/build_kernel.py``'s start-up file):
an AST transformer makes every cell end by linting the figures it leaves open (the ones the inline backend
shows) and its last expression, and ``print_figure`` is wrapped so that a figure shown and closed
mid-cell (``plt.show()``, ``display(fig)``) is linted too.  A defect raises :class:`FigureLintError` in the
cell, naming the figure and the defect, so the strict build (``execute.allow_errors: false`` and ``-W``)
fails.  With ``COURSE_FIGURE_LINT_REPORT=<file>`` in the environment nothing raises: every defect is
appended to that file as one JSON line (a survey of the whole book).  Learners' kernels never run this.
"""
from __future__ import annotations

import ast
import json
import math
import os
import re
from dataclasses import dataclass

#: Minimum size of a panel with visible axes, in inches (the figure's own inches; the book shows its figures
#: at about 1:1 in a column of 6.2 in, ``plotting.COLUMN_IN``).  A panel must hold three tick labels of
#: four to five characters side by side at the book's tick font (about 0.3 in each at 8-9 pt) with gaps:
#: about 1 in; the book's narrowest intended panels (four across the column, ``plot_activation_gallery``)
#: are 1.2-1.3 in wide.  Height: two or three y tick labels one line (0.15 in) apart with gaps.
MIN_AXES_WIDTH_IN = 0.9
MIN_AXES_HEIGHT_IN = 0.7
#: A panel with its axes off (an image in a grid) has no tick labels to hold; it must still be visible.
MIN_OFF_AXES_IN = 0.35
#: How deep two texts may overlap before it counts (ink of adjacent glyph boxes touching, about 1 px at the
#: book's 110 dpi), in inches.
OVERLAP_TOL_IN = 0.012
#: How far apart two lines' points may be and still hide each other (display units, inches).
COINCIDE_TOL_IN = 0.012
#: Words in a label or a text of the figure that say that a series lies under another (the opt-out).
NOTE_RE = re.compile(r"\b(identical|same as|coincid\w*|overlap\w*|hidden|under)\b", re.I)
#: Environment variable: a file to append defects to (JSON lines) instead of raising.
REPORT_ENV = "COURSE_FIGURE_LINT_REPORT"


class FigureLintError(AssertionError):
    """A figure shown by the build has a defect that hides a series or a text."""


@dataclass
class Defect:
    figure: str      # how the figure is named: its title or its panels' titles
    kind: str        # "texts overlap", "axes too small", "legend over data", "colour changes meaning",
    #                  "hidden series", "raw repr"
    detail: str

    def __str__(self) -> str:
        return f"{self.figure}: {self.kind}: {self.detail}"


# ----------------------------------------------------------------------------- naming
def _short(s: str, n: int = 60) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def figure_name(fig) -> str:
    """The figure as a reader finds it: its suptitle, else its panels' titles, else its number."""
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        return f"figure '{_short(sup.get_text())}'"
    titles = [t for ax in fig.axes for t in (ax.get_title(), ax.get_title("left")) if t.strip()]
    if titles:
        return "figure with panel(s) " + ", ".join(f"'{_short(t, 40)}'" for t in titles[:3]) + \
            (" …" if len(titles) > 3 else "")
    return f"untitled figure {getattr(fig, 'number', '')}".rstrip()


def _panel_name(fig, ax) -> str:
    if _is_colorbar(ax):
        return "colour bar"
    title = ax.get_title() or ax.get_title("left")
    k = [a for a in fig.axes if not _is_colorbar(a)].index(ax) + 1 if ax in fig.axes else 0
    return f"panel {k}" + (f" '{_short(title, 40)}'" if title.strip() else "")


def _is_colorbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>"


# ----------------------------------------------------------------------------- geometry
def _renderer(fig):
    fig.draw_without_rendering()      # tick labels, legend "best" placement and layouts are settled at draw
    return fig.canvas.get_renderer()


def _text_polygon(text, renderer):
    """The rotated rectangle a text's ink box occupies, as 4 display-space corners (None: nothing drawn)."""
    import numpy as np
    from matplotlib.text import Text

    bb = Text.get_window_extent(text, renderer)
    if bb.width <= 0 or bb.height <= 0:
        return None
    angle = math.radians(text.get_rotation() % 180)
    c, s = abs(math.cos(angle)), abs(math.sin(angle))
    cx, cy = (bb.x0 + bb.x1) / 2, (bb.y0 + bb.y1) / 2
    if s < 1e-3 or c < 1e-3 or abs(c - s) < 1e-3:   # axis-aligned, or 45° where w, h cannot be recovered
        if abs(c - s) >= 1e-3:
            return np.array([[bb.x0, bb.y0], [bb.x1, bb.y0], [bb.x1, bb.y1], [bb.x0, bb.y1]])
        # 45°: measure the unrotated text
        w, h, _ = renderer.get_text_width_height_descent(text.get_text(), text.get_fontproperties(),
                                                         ismath=text._preprocess_math(text.get_text())[1])
    else:  # W = w c + h s, H = w s + h c  (the bounding box of a w x h rectangle turned by angle)
        det = c * c - s * s
        w = (bb.width * c - bb.height * s) / det
        h = (bb.height * c - bb.width * s) / det
        if w <= 0 or h <= 0:
            return np.array([[bb.x0, bb.y0], [bb.x1, bb.y0], [bb.x1, bb.y1], [bb.x0, bb.y1]])
    a = math.radians(text.get_rotation())
    u = np.array([math.cos(a), math.sin(a)]) * w / 2
    v = np.array([-math.sin(a), math.cos(a)]) * h / 2
    ctr = np.array([cx, cy])
    return np.array([ctr - u - v, ctr + u - v, ctr + u + v, ctr - u + v])


def _overlap_depth(p, q) -> float:
    """How deep two convex polygons overlap: the smallest penetration over the separating axes (0: apart)."""
    import numpy as np

    depth = math.inf
    for poly in (p, q):
        for i in range(len(poly)):
            edge = poly[(i + 1) % len(poly)] - poly[i]
            n = np.array([-edge[1], edge[0]])
            norm = float(np.hypot(*n))
            if norm == 0:
                continue
            n /= norm
            a, b = p @ n, q @ n
            d = min(a.max(), b.max()) - max(a.min(), b.min())
            if d <= 0:
                return 0.0
            depth = min(depth, d)
    return 0.0 if depth is math.inf else depth


# ----------------------------------------------------------------------------- the texts of a figure
def _drawn_ticks(axis):
    try:
        return axis._update_ticks()   # the ticks in view, as the draw uses them
    except Exception:                 # pragma: no cover - a matplotlib without it
        return axis.get_major_ticks()


def _texts(fig, renderer):
    """(what, polygon) for every visible non-empty text a reader sees, each legend as one block."""
    import numpy as np

    out = []

    def add(what, t):
        if t is None or not t.get_visible() or not t.get_text().strip():
            return
        poly = _text_polygon(t, renderer)
        if poly is not None:
            out.append((what, poly))

    def add_legend(what, leg):
        if leg is None or not leg.get_visible():
            return
        bb = leg.get_window_extent(renderer)
        out.append((what, np.array([[bb.x0, bb.y0], [bb.x1, bb.y0], [bb.x1, bb.y1], [bb.x0, bb.y1]])))

    if getattr(fig, "_suptitle", None) is not None:
        add(f"figure title '{_short(fig._suptitle.get_text(), 40)}'", fig._suptitle)
    for name in ("_supxlabel", "_supylabel"):
        add(f"figure label '{_short(getattr(fig, name, None) and getattr(fig, name).get_text(), 40)}'",
            getattr(fig, name, None))
    own = [getattr(fig, n, None) for n in ("_suptitle", "_supxlabel", "_supylabel")]
    for t in fig.texts:
        if not any(t is o for o in own):
            add(f"figure text '{_short(t.get_text(), 40)}'", t)
    for k, leg in enumerate(fig.legends):
        add_legend(f"figure legend {k + 1}", leg)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        p = _panel_name(fig, ax) if not _is_colorbar(ax) else "colour bar"
        for loc in ("title", "_left_title", "_right_title"):
            t = getattr(ax, loc, None)
            if t is not None:
                add(f"title '{_short(t.get_text(), 40)}' of {p}", t)
        if ax.axison:
            axes_ = [ax.xaxis, ax.yaxis] + ([ax.zaxis] if hasattr(ax, "zaxis") else [])
            for axis in axes_:
                name = axis.axis_name
                add(f"{name} label '{_short(axis.label.get_text(), 40)}' of {p}", axis.label)
                add(f"{name} offset text of {p}", axis.offsetText)
                if hasattr(ax, "zaxis"):
                    continue       # a 3-D axis places its tick labels at draw; its labels are checked above
                for tick in _drawn_ticks(axis):
                    for lab in (tick.label1, tick.label2):
                        add(f"{name} tick label '{_short(lab.get_text(), 20)}' of {p}", lab)
        for t in ax.texts:
            add(f"text '{_short(t.get_text(), 40)}' in {p}", t)
        add_legend(f"legend of {p}", ax.get_legend())
    return out


def _check_texts(fig, renderer, name):
    tol = OVERLAP_TOL_IN * fig.dpi
    texts = _texts(fig, renderer)
    boxes = [(p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()) for _, p in texts]
    found = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            a, b = boxes[i], boxes[j]
            if a[0] >= b[2] - tol or b[0] >= a[2] - tol or a[1] >= b[3] - tol or b[1] >= a[3] - tol:
                continue
            if _overlap_depth(texts[i][1], texts[j][1]) > tol:
                found.append(Defect(name, "texts overlap", f"{texts[i][0]} and {texts[j][0]}"))
    return found


# ----------------------------------------------------------------------------- panel sizes
def _check_sizes(fig, name):
    found = []
    for ax in fig.axes:
        if not ax.get_visible() or _is_colorbar(ax):
            continue
        bb = ax.get_position()
        w, h = bb.width * fig.get_figwidth(), bb.height * fig.get_figheight()
        min_w, min_h = (MIN_AXES_WIDTH_IN, MIN_AXES_HEIGHT_IN) if ax.axison else (MIN_OFF_AXES_IN,) * 2
        if w < min_w or h < min_h:
            found.append(Defect(name, "axes too small",
                                f"{_panel_name(fig, ax)} is {w:.2f} x {h:.2f} in; a panel needs at least "
                                f"{min_w} x {min_h} in (give the figure more room or fewer panels per row)"))
    return found


# ----------------------------------------------------------------------------- legends over data
def _finite_path(path):
    """The path without non-finite vertices (a NaN gap starts a new piece), or None when nothing is left."""
    import numpy as np
    from matplotlib.path import Path

    v = np.asarray(path.vertices, float)
    if len(v) == 0:
        return None
    ok = np.isfinite(v).all(axis=1)
    if ok.all():
        return path
    codes = path.codes if path.codes is not None else np.full(len(v), Path.LINETO, dtype=Path.code_type)
    codes = codes.copy()
    if len(codes):
        codes[0] = Path.MOVETO
    keep, new_codes, prev_ok = [], [], False
    for vert, code, good in zip(v, codes, ok):
        if not good:
            prev_ok = False
            continue
        keep.append(vert)
        new_codes.append(code if prev_ok else Path.MOVETO)
        prev_ok = True
    return Path(np.array(keep), np.array(new_codes, dtype=Path.code_type)) if keep else None


def _data_shapes(ax, renderer):
    """(what, display path, filled) for the data an axes draws: lines, markers, collections, bars, images."""
    import numpy as np
    from matplotlib.collections import PathCollection
    from matplotlib.path import Path

    shapes = []
    clip = ax.bbox
    for line in ax.lines:
        if not line.get_visible() or len(line.get_xydata()) == 0:
            continue
        if not line.get_transform().contains_branch(ax.transData):
            continue            # axhline/axvline: a reference across the axes, not data
        path = _finite_path(line.get_transform().transform_path(line.get_path()))
        if path is None:
            continue
        label = line.get_label()
        what = f"line '{label}'" if not label.startswith("_") else "a line"
        if line.get_linestyle() not in ("None", "", " ", "none"):
            shapes.append((what, path, False))
        if line.get_marker() not in ("None", "", " ", None, "none"):
            r = max(line.get_markersize() * fig_px(ax) / 2, 1.0)
            for x, y in path.vertices:
                shapes.append((what, Path([[x - r, y - r], [x + r, y - r], [x + r, y + r], [x - r, y + r]]), True))
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        label = coll.get_label()
        what = f"'{label}'" if not label.startswith("_") else "a plotted area or points"
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            off = coll.get_offset_transform().transform(np.asarray(coll.get_offsets(), float))
            sizes = coll.get_sizes() if len(coll.get_sizes()) else [36.0]
            r = max(math.sqrt(float(np.max(sizes))) * fig_px(ax) / 2, 1.0)
            for x, y in off:
                if np.isfinite(x) and np.isfinite(y):
                    shapes.append((what, Path([[x - r, y - r], [x + r, y - r], [x + r, y + r], [x - r, y + r]]), True))
            continue
        try:
            paths = coll.get_paths()
            tr = coll.get_transform()
        except Exception:  # pragma: no cover
            continue
        filled = len(coll.get_facecolor()) > 0 and float(np.max(np.asarray(coll.get_facecolor())[:, 3])) > 0
        for p in paths:
            dp = _finite_path(tr.transform_path(p))
            if dp is not None:
                shapes.append((what, dp, filled))
    for patch in ax.patches:
        if not patch.get_visible():
            continue
        dp = _finite_path(patch.get_transform().transform_path(patch.get_path()))
        if dp is not None:
            label = patch.get_label()
            shapes.append((f"'{label}'" if not label.startswith("_") else "a bar or patch", dp, patch.get_fill()))
    for im in ax.images:
        if im.get_visible():
            bb = im.get_window_extent(renderer)
            shapes.append(("an image", Path([[bb.x0, bb.y0], [bb.x1, bb.y0], [bb.x1, bb.y1], [bb.x0, bb.y1]]), True))
    for t in ax.texts:     # annotation arrows are data (e.g. gradient vectors)
        arrow = getattr(t, "arrow_patch", None)
        if arrow is not None and t.get_visible():
            try:
                dp = arrow._get_path_in_displaycoord()
                dp = dp[0] if isinstance(dp, tuple) else dp
                dp = dp[0] if isinstance(dp, list) else dp
            except Exception:  # pragma: no cover
                continue
            shapes.append(("an arrow", dp, False))
    # only what lies inside the axes is drawn
    return [(w, p, f) for w, p, f in shapes if p.intersects_bbox(clip, filled=True)], clip


def fig_px(ax) -> float:
    """Display pixels per point."""
    return ax.figure.dpi / 72.0


def _check_legends(fig, renderer, name):
    from matplotlib.transforms import Bbox

    found = []
    legends = [(f"legend of {_panel_name(fig, ax)}", ax.get_legend()) for ax in fig.axes] + \
              [(f"figure legend {k + 1}", leg) for k, leg in enumerate(fig.legends)]
    shapes = {id(ax): _data_shapes(ax, renderer) for ax in fig.axes if ax.get_visible() and not _is_colorbar(ax)}
    tol = OVERLAP_TOL_IN * fig.dpi
    for what, leg in legends:
        if leg is None or not leg.get_visible():
            continue
        lb = leg.get_window_extent(renderer)
        lb = Bbox.from_extents(lb.x0 + tol, lb.y0 + tol, lb.x1 - tol, lb.y1 - tol)
        for ax in fig.axes:
            if id(ax) not in shapes:
                continue
            items, clip = shapes[id(ax)]
            inside = Bbox.intersection(lb, clip)
            if inside is None or inside.width <= 0 or inside.height <= 0:
                continue
            covered = sorted({w for w, p, filled in items if p.intersects_bbox(inside, filled=filled)})
            if covered:
                found.append(Defect(name, "legend over data",
                                    f"the {what} covers {', '.join(covered[:4])}{' …' if len(covered) > 4 else ''}"
                                    f" in {_panel_name(fig, ax)} (put it outside: plotting.legend_outside)"))
    return found


# ----------------------------------------------------------------------------- colours across panels
def _series(ax):
    """(label, rgba, artist) of every labelled series of an axes."""
    from matplotlib import colors as mcolors

    out = []
    for line in ax.lines:
        if not line.get_label().startswith("_"):
            out.append((line.get_label(), mcolors.to_rgba(line.get_color()), line))
    for coll in ax.collections:
        if not coll.get_label().startswith("_"):
            fc = coll.get_facecolor()
            c = fc[0] if len(fc) and fc[0][3] > 0 else (coll.get_edgecolor()[0] if len(coll.get_edgecolor()) else None)
            if c is not None and len(c):
                out.append((coll.get_label(), tuple(float(x) for x in c), coll))
    for cont in ax.containers:
        lab = cont.get_label()
        if lab and not lab.startswith("_") and len(cont) and hasattr(cont[0], "get_facecolor"):
            out.append((lab, tuple(cont[0].get_facecolor()), cont))
    return out


def _check_colours(fig, name):
    seen: dict[str, tuple] = {}
    found = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for label, rgba, _ in _series(ax):
            if label in seen and seen[label][0] is not ax:
                a = seen[label][1]
                if max(abs(x - y) for x, y in zip(a[:3], rgba[:3])) > 0.02:
                    found.append(Defect(name, "colour changes meaning",
                                        f"'{_short(label, 40)}' is drawn in {_hex(a)} in {_panel_name(fig, seen[label][0])} "
                                        f"and in {_hex(rgba)} in {_panel_name(fig, ax)} (one colour per series)"))
            else:
                seen.setdefault(label, (ax, rgba))
    return found


def _hex(rgba) -> str:
    from matplotlib import colors as mcolors

    return mcolors.to_hex(rgba)


# ----------------------------------------------------------------------------- series hidden under another
def _solid(ls) -> bool:
    return ls in ("-", "solid")


def _no(m) -> bool:
    return m in (None, "None", "none", "", " ")


def _shows_under(top, bottom, px) -> bool:
    """True when ``bottom`` stays visible although ``top`` runs over the same points."""
    if not _no(bottom.get_marker()) and (bottom.get_marker() != top.get_marker()
                                         or bottom.get_markersize() > top.get_markersize() + 1):
        return True
    if not _no(bottom.get_linestyle()) and bottom.get_linestyle() not in ("None",):
        if not _solid(top.get_linestyle()) and top.get_linestyle() != bottom.get_linestyle():
            return True                               # gaps in the top line show a differently drawn line below
        if bottom.get_linewidth() * px > top.get_linewidth() * px + 1.5:   # a wider line shows its edges
            return True
    if top.get_alpha() is not None and top.get_alpha() < 0.6:
        return True
    return False


def _noted(fig, ax, a, b) -> bool:
    labels = [a.get_label(), b.get_label()]
    if any(NOTE_RE.search(lab) for lab in labels if not lab.startswith("_")):
        return True
    texts = [t.get_text() for t in list(fig.texts) + list(ax.texts)]
    leg = ax.get_legend()
    if leg is not None and leg.get_title() is not None:
        texts.append(leg.get_title().get_text())
    texts.append(ax.get_title())
    for t in texts:
        if NOTE_RE.search(t) and any(lab in t for lab in labels if not lab.startswith("_")):
            return True
    return False


def _points_near(points, path_pts, tol) -> bool:
    """Every point of ``points`` lies within ``tol`` of the polyline ``path_pts``."""
    import numpy as np

    if len(path_pts) == 1:
        return bool((np.hypot(*(points - path_pts[0]).T) <= tol).all())
    a, b = path_pts[:-1], path_pts[1:]
    ab = b - a
    L2 = np.maximum((ab ** 2).sum(1), 1e-12)
    for p in points:
        t = np.clip(((p - a) * ab).sum(1) / L2, 0, 1)
        d = np.hypot(*(a + t[:, None] * ab - p).T)
        if d.min() > tol:
            return False
    return True


def _check_hidden(fig, renderer, name):
    import numpy as np

    found = []
    tol = COINCIDE_TOL_IN * fig.dpi
    px = fig.dpi / 72.0
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        lines = []
        for line in ax.lines:
            if not line.get_visible() or len(line.get_xydata()) == 0:
                continue
            pts = line.get_transform().transform(np.asarray(line.get_xydata(), float))
            pts = pts[np.isfinite(pts).all(axis=1)]
            if len(pts):
                lines.append((line, pts))
        for i, (bottom, bp) in enumerate(lines):            # later lines are drawn on top (same zorder)
            for top, tp in lines[i + 1:] + lines[:i]:
                if top.get_zorder() < bottom.get_zorder() or (top.get_zorder() == bottom.get_zorder()
                                                                and ax.lines.index(top) < ax.lines.index(bottom)):
                    continue
                if len(bp) < 2 and len(tp) < 2:
                    continue
                if not _points_near(bp, tp, tol) or _shows_under(top, bottom, px) or _noted(fig, ax, top, bottom):
                    continue
                found.append(Defect(name, "hidden series",
                                    f"{_series_name(bottom)} lies under {_series_name(top)} in {_panel_name(fig, ax)} "
                                    "with the same line style: give one a marker or a dashed style, offset it, or "
                                    "say so in its label (e.g. '(same as …)')"))
                break
        found += _check_hidden_patches(fig, ax, name, tol)
        arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None and t.get_visible()]
        for i, lower in enumerate(arrows):
            for upper in arrows[i + 1:]:
                pa = np.array([lower.arrow_patch._posA_posB]) if hasattr(lower.arrow_patch, "_posA_posB") else None
                pb = np.array([upper.arrow_patch._posA_posB]) if hasattr(upper.arrow_patch, "_posA_posB") else None
                if pa is None or pb is None or pa.shape != pb.shape:
                    continue
                if np.abs(pa - pb).max() <= tol and _arrow_style(lower) == _arrow_style(upper):
                    found.append(Defect(name, "hidden series",
                                        f"two arrows with the same start, end and line style in {_panel_name(fig, ax)}: "
                                        "the lower one does not show (draw it wider or dashed, or offset it)"))
    return found


def _patch_series(ax):
    """(name, patches) per series of patches: each bar container (a histogram, a bar chart), then each
    other patch alone (a step histogram is one polygon)."""
    series, seen = [], set()
    for cont in ax.containers:
        patches = [p for p in cont if hasattr(p, "get_path")] if hasattr(cont, "__iter__") else []
        if patches:
            lab = cont.get_label() or ""
            series.append((f"'{_short(lab, 40)}'" if lab and not lab.startswith("_") else "unlabelled bars", patches))
            seen.update(id(p) for p in patches)
    for p in ax.patches:
        if id(p) not in seen:
            lab = p.get_label()
            series.append((f"'{_short(lab, 40)}'" if lab and not lab.startswith("_") else "an unlabelled patch", [p]))
    return series


def _patch_shows_under(top, bottom) -> bool:
    """An outline over a filled patch, or a dashed outline over a solid one, lets both show."""
    if bottom.get_fill() and not top.get_fill():
        return True
    if not top.get_fill() and not bottom.get_fill():
        return top.get_linestyle() != bottom.get_linestyle() or abs(top.get_linewidth() - bottom.get_linewidth()) > 1
    return False


def _check_hidden_patches(fig, ax, name, tol):
    import numpy as np

    found = []
    series = [(n, ps, [p.get_transform().transform(p.get_path().vertices) for p in ps]) for n, ps in _patch_series(ax)
              if all(p.get_visible() for p in ps)]
    for i, (n1, p1, v1) in enumerate(series):
        for n2, p2, v2 in series[i + 1:]:
            if len(p1) != len(p2) or any(a.shape != b.shape for a, b in zip(v1, v2)):
                continue
            if not all(np.isfinite(a).all() and np.isfinite(b).all() and np.abs(a - b).max() <= tol
                       for a, b in zip(v1, v2)):
                continue
            labels = [p1[0].get_label(), p2[0].get_label()] + [c.get_label() for c in ax.containers
                                                               if c and (c[0] is p1[0] or c[0] is p2[0])]
            if any(NOTE_RE.search(lab or "") for lab in labels):
                continue
            bottom, top = (p1[0], p2[0]) if p1[0].get_zorder() <= p2[0].get_zorder() else (p2[0], p1[0])
            if _patch_shows_under(top, bottom):
                continue
            found.append(Defect(name, "hidden series",
                                f"{n1} and {n2} in {_panel_name(fig, ax)} draw the same bars or areas in the same "
                                "style, so one hides (or, translucent, tints) the other: draw one as an outline "
                                "(histtype='step', another line style), or say so in its label"))
    return found


def _arrow_style(ann):
    a = ann.arrow_patch
    return (a.get_linestyle(), round(a.get_linewidth(), 1))


def _series_name(line) -> str:
    lab = line.get_label()
    return f"'{_short(lab, 40)}'" if not lab.startswith("_") else "an unlabelled line"


# ----------------------------------------------------------------------------- the whole figure
def lint_figure(fig) -> list[Defect]:
    """Every defect of one figure (an empty list when it shows every series and every text)."""
    name = figure_name(fig)
    if not fig.axes and not fig.texts:
        return []
    renderer = _renderer(fig)
    found = []
    for check in (lambda: _check_sizes(fig, name), lambda: _check_texts(fig, renderer, name),
                  lambda: _check_legends(fig, renderer, name), lambda: _check_colours(fig, name),
                  lambda: _check_hidden(fig, renderer, name)):
        try:
            found += check()
        except Exception as e:  # a figure this lint cannot measure: say so, do not fail the page for it
            import warnings

            warnings.warn(f"figure_lint could not check {name}: {type(e).__name__}: {e}", stacklevel=2)
    return found


def raw_repr(value) -> Defect | None:
    """A defect when ``value`` (a cell's last expression) would print a matplotlib repr, e.g. ``<Axes: ...>``."""
    import sys

    if "matplotlib" not in sys.modules:
        return None
    from matplotlib.artist import Artist
    from matplotlib.container import Container
    from matplotlib.figure import Figure

    def bad(v):
        if isinstance(v, Figure):
            return False
        if isinstance(v, (Artist, Container)):
            return True
        if isinstance(v, (list, tuple)) and v:
            return any(bad(x) for x in v)
        try:
            import numpy as np

            if isinstance(v, np.ndarray) and v.dtype == object and v.size:
                return any(bad(x) for x in v.flat)
        except ImportError:  # pragma: no cover
            pass
        return False

    if not bad(value):
        return None
    r = repr(value)
    return Defect("cell output", "raw repr",
                  f"the cell's last expression prints {_short(r, 70)!r}; end the line with ';', or let the cell "
                  "end with the figure (or nothing)")


# ----------------------------------------------------------------------------- the build kernel's hooks
_NAME = "__course_figure_lint__"
_pending: list[Defect] = []
_busy = [False]
_in_cell = [False]      # between a cell's start and its end_of_cell: the figures it shows mid-cell are linted


def _lint_open_figures() -> list[Defect]:
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        return []
    from matplotlib._pylab_helpers import Gcf

    found = []
    for manager in Gcf.get_all_fig_managers():
        found += lint_figure(manager.canvas.figure)
    return found


def _report(defects: list[Defect]) -> None:
    seen, unique = set(), []
    for d in defects:
        if str(d) not in seen:
            seen.add(str(d))
            unique.append(d)
    if not unique:
        return
    path = os.environ.get(REPORT_ENV)
    if path:
        cell = ""
        try:
            from IPython import get_ipython

            ip = get_ipython()
            cell = ip.user_ns.get("In", [""])[-1] if ip is not None else ""
        except Exception:  # pragma: no cover
            pass
        with open(path, "a", encoding="utf-8") as f:
            for d in unique:
                f.write(json.dumps({"cwd": os.getcwd(), "cell": cell[:300], "figure": d.figure, "kind": d.kind,
                                    "detail": d.detail}) + "\n")
        return
    raise FigureLintError("The figure lint (_ext/figure_lint.py) found what a reader cannot see:\n  - "
                          + "\n  - ".join(str(d) for d in unique))


def end_of_cell(value=None):
    """Called with a cell's last expression (None when it has none) once the cell's code has run."""
    defects, _pending[:] = list(_pending), []
    _in_cell[0] = False
    if value is not None:
        d = raw_repr(value)
        if d is not None:
            try:
                from IPython import get_ipython

                quiet = get_ipython().displayhook.quiet()   # a trailing ';' prints nothing
            except Exception:
                quiet = False
            if not quiet:
                defects.append(d)
        try:
            from matplotlib.figure import Figure

            if isinstance(value, Figure):
                defects += lint_figure(value)
        except ImportError:  # pragma: no cover
            pass
    defects += _lint_open_figures()
    _report(defects)
    return value


class _EndOfCell(ast.NodeTransformer):
    """Wrap a cell's last expression in ``end_of_cell(...)`` (or append ``end_of_cell()``)."""

    def visit_Module(self, node):
        call = lambda arg: ast.Call(func=ast.Name(id=_NAME, ctx=ast.Load()), args=[arg], keywords=[])  # noqa: E731
        if node.body and isinstance(node.body[-1], ast.Expr):
            last = node.body[-1]
            node.body[-1] = ast.copy_location(ast.Expr(value=call(last.value)), last)
        else:
            node.body.append(ast.Expr(value=call(ast.Constant(value=None))))
        return ast.fix_missing_locations(node)


def _cell_starts(*_args) -> None:
    _pending.clear()
    _in_cell[0] = True


def _wrap_print_figure() -> None:
    """Lint a figure whenever it is rendered (``plt.show()`` or ``display(fig)`` mid-cell)."""
    from matplotlib.backend_bases import FigureCanvasBase

    if getattr(FigureCanvasBase.print_figure, "_course_lint", False):
        return
    original = FigureCanvasBase.print_figure

    def print_figure(self, *args, **kwargs):
        if _in_cell[0] and not _busy[0]:
            _busy[0] = True
            try:
                _pending.extend(lint_figure(self.figure))
            finally:
                _busy[0] = False
        return original(self, *args, **kwargs)

    print_figure._course_lint = True
    for attr in ("_course_record",):     # keep the text record's marker visible (text_record.install)
        if getattr(original, attr, False):
            setattr(print_figure, attr, True)
    FigureCanvasBase.print_figure = print_figure


def install(shell=None) -> None:
    """Lint every figure the kernel shows; called by the build's start-up file.  Idempotent."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return
    import builtins

    setattr(builtins, _NAME, end_of_cell)       # not in the user's namespace: %who and %reset never see it
    if not any(isinstance(t, _EndOfCell) for t in shell.ast_transformers):
        shell.ast_transformers.append(_EndOfCell())
        shell.events.register("pre_run_cell", _cell_starts)
    _wrap_print_figure()
