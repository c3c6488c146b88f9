"""Lighter figures for the site: every matplotlib PNG the HTML build writes is stored with a palette.

A book figure is lines, text and flat fills on white: 256 colours hold it exactly enough (anti-aliased edges
included), and the file is about a third of the RGBA PNG that matplotlib writes (measured on the book's figures). The PNG's text chunks
(the alt text and colour-vision record of ``figure_describe``, the smallest-text record of ``text_record``,
``Software``) are kept. Runs at ``build-finished`` over ``_images/``; a file already stored with a palette is
left alone, so the step is idempotent. The learner notebooks keep matplotlib's own PNGs.
"""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, PngImagePlugin

__all__ = ["compress_png", "compress_images"]


def compress_png(path: Path) -> tuple[int, int]:
    """Rewrite one matplotlib PNG with a 256-colour palette (text chunks kept); ``(bytes before, after)``.

    A PNG not written by matplotlib, already paletted, or with see-through pixels is left as it is
    (``after == before``); so is one that the palette would not make smaller.
    """
    path = Path(path)
    before = path.stat().st_size
    with Image.open(path) as im:
        im.load()
        text = dict(getattr(im, "text", {}) or {})
        if "Matplotlib" not in text.get("Software", "") or im.mode not in ("RGBA", "RGB"):
            return before, before
        if im.mode == "RGBA" and im.getextrema()[3][0] < 255:  # see-through pixels: keep the RGBA file
            return before, before
        rgb = im.convert("RGB")
    # median cut keeps the large flat areas (white, the fills) exact; octree shifts white to 254
    q = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    info = PngImagePlugin.PngInfo()
    for k, v in text.items():
        info.add_text(k, v)
    buf = io.BytesIO()
    q.save(buf, "PNG", optimize=True, pnginfo=info)
    data = buf.getvalue()
    if len(data) >= before:
        return before, before
    path.write_bytes(data)
    return before, len(data)


def compress_images(app, exception) -> None:
    """``build-finished``: :func:`compress_png` over the HTML build's ``_images/``."""
    if exception is not None or app.builder.format != "html":
        return
    folder = Path(app.outdir) / "_images"
    total = [0, 0]
    for png in sorted(folder.glob("*.png")):
        b, a = compress_png(png)
        total[0] += b
        total[1] += a
    if total[0]:
        from sphinx.util import logging

        logging.getLogger(__name__).info(f"png_compress: figures {total[0] / 1e6:.1f} MB -> {total[1] / 1e6:.1f} MB")
