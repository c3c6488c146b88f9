"""The column the figures live in, and the layout helpers every figure function uses.

The book's content column (:data:`COLUMN_PX`, :data:`COLUMN_IN`, :data:`FIG_DPI`), the smallest readable text
(:data:`MIN_TEXT_PX`, which the figure lint and ``tests/test_site.py`` enforce), :func:`figsize` for a grid of
panels, :func:`legend_outside` (a legend that never covers the data; the figure lint rejects one inside the axes)
and :func:`integer_epochs`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt


# ----------------------------------------------------------------------------- the column and the legends
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


def integer_epochs(ax: plt.Axes) -> None:
    """Ticks on whole epochs only (no 1.25, 1.5 ... on a short run)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))  # "auto": as many as the width holds
