"""The book build's measurement of figure text: every PNG its kernels save records its smallest drawn text.

The browser test (``tests/test_site.py``) reads the record back and scales it by the size at which the page
shows the image, so that no figure text is smaller than ``plotting.MIN_TEXT_PX`` on screen.  Measuring needs
matplotlib's ``Text.draw`` and ``FigureCanvasBase.print_figure`` wrapped, which is build machinery: it lives
here, outside the learner's package, and runs only in the kernels of the book's build.  The Makefile points
``IPYTHONDIR`` at ``_build/ipython``, whose start-up file (:func:`write_startup`) calls :func:`install`; a
learner's kernel (Colab, Binder, the learner stage) never sees that folder.  The start-up file is written
by ``_ext/build_kernel.py``.
"""
from __future__ import annotations

#: PNG text chunk in which every figure records its smallest text, in image pixels.
TEXT_RECORD_KEY = "course-min-text-px"

_recording: list[dict] = []


def install() -> None:
    """Make every PNG that matplotlib writes record the size of its smallest *drawn* text.

    ``Text.draw`` notes the font size of each visible, non-empty text it draws (tick labels of ticks
    in view, titles, legends, annotations); ``print_figure`` writes the smallest, in pixels of the
    saved image, into the PNG's metadata under :data:`TEXT_RECORD_KEY` (``"none"`` when the figure has
    no text).  Idempotent.
    """
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.text import Text

    if getattr(FigureCanvasBase.print_figure, "_course_record", False):
        return
    draw_text, print_figure = Text.draw, FigureCanvasBase.print_figure

    def draw(self, renderer, *args, **kwargs):
        if _recording and self.get_visible() and self.get_text().strip():
            px = float(renderer.points_to_pixels(self.get_fontsize()))
            md = _recording[-1]
            old = md.get(TEXT_RECORD_KEY, "none")
            md[TEXT_RECORD_KEY] = f"{px if old == 'none' else min(px, float(old)):.2f}"
        return draw_text(self, renderer, *args, **kwargs)

    def print_fig(self, filename, *args, **kwargs):
        fmt = kwargs.get("format") or (str(filename).rsplit(".", 1)[-1] if isinstance(filename, str) else None)
        if (fmt or plt.rcParams["savefig.format"]).lower() != "png":
            return print_figure(self, filename, *args, **kwargs)
        md = dict(kwargs.get("metadata") or {})
        md[TEXT_RECORD_KEY] = "none"
        kwargs["metadata"] = md                 # the same dict reaches imsave after the draw
        _recording.append(md)
        try:
            return print_figure(self, filename, *args, **kwargs)
        finally:
            _recording.pop()

    print_fig._course_record = True
    Text.draw, FigureCanvasBase.print_figure = draw, print_fig
