"""_ext/png_compress.py: the site's figures stored with a palette, their text chunks kept, their pixels close."""
import importlib.util
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("png_compress", ROOT / "_ext" / "png_compress.py")
pc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pc)


def _figure_png(path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    x = np.linspace(0, 10, 400)
    for k in range(6):
        ax.plot(x, np.sin(x + k) * np.exp(-x / (k + 3)), label=f"series {k}", ls=["-", "--", ":"][k % 3])
    ax.fill_between(x, -0.2, 0.2, alpha=0.2)
    ax.set_title("a book figure")
    ax.legend()
    fig.savefig(path, format="png", metadata={"Description": "alt text: from 1 to 2", "course-cvd": "none"})
    plt.close(fig)


def test_palette_png_keeps_text_chunks_and_pixels(tmp_path):
    f = tmp_path / "fig.png"
    _figure_png(f)
    with Image.open(f) as im:
        orig = np.asarray(im.convert("RGBA"), dtype=float)
        text0 = dict(im.text)
    before, after = pc.compress_png(f)
    assert after < 0.6 * before, (before, after)
    with Image.open(f) as im:
        assert im.mode == "P"
        assert dict(im.text) == text0  # alt text, colour-vision record, Software
        new = np.asarray(im.convert("RGBA"), dtype=float)
    err = np.abs(new - orig)
    assert err.mean() < 1.0 and np.percentile(err, 99.9) < 24, (err.mean(), np.percentile(err, 99.9))
    assert pc.compress_png(f) == (after, after)  # idempotent: a paletted file is left alone


def test_only_matplotlib_pngs_are_touched(tmp_path):
    f = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((50, 50, 3)) * 255).astype("uint8")).save(f)
    size = f.stat().st_size
    assert pc.compress_png(f) == (size, size)


def test_the_pixel_check_can_fail(tmp_path):
    """A palette of 4 colours would pass the size check but not the pixel check above."""
    f = tmp_path / "fig.png"
    _figure_png(f)
    with Image.open(f) as im:
        orig = np.asarray(im.convert("RGBA"), dtype=float)
        q = im.convert("RGBA").quantize(colors=4, method=Image.Quantize.FASTOCTREE)
    err = np.abs(np.asarray(q.convert("RGBA"), dtype=float) - orig)
    assert not (err.mean() < 1.0 and np.percentile(err, 99.9) < 24)


def test_see_through_figures_are_left_alone(tmp_path):
    f = tmp_path / "clear.png"
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(f, format="png", transparent=True)
    plt.close(fig)
    size = f.stat().st_size
    assert pc.compress_png(f) == (size, size)
