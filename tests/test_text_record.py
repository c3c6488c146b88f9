"""The build's measurement of figure text (_ext/text_record.py): every PNG records its smallest drawn text,
only in kernels started with the build's IPYTHONDIR."""
import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_utils import plotting as P  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("text_record", ROOT / "_ext" / "text_record.py")
tr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tr)
_spec = importlib.util.spec_from_file_location("build_kernel", ROOT / "_ext" / "build_kernel.py")
bk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bk)


def _saved_text_record(fig):
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    return Image.open(buf).text.get(tr.TEXT_RECORD_KEY)


def test_every_png_records_its_smallest_drawn_text():
    P.set_style()
    fig, ax = plt.subplots(figsize=P.figsize())
    assert _saved_text_record(fig) is None, "no record before the build installs it"
    tr.install()
    tr.install()                                        # idempotent
    ax.set_title("title", fontsize=12)
    ax.text(0.5, 0.5, "small", fontsize=6)
    ax.text(0.5, 0.5, "", fontsize=2)                   # empty: not drawn, not counted
    hidden = ax.text(0.5, 0.5, "hidden", fontsize=3)
    hidden.set_visible(False)
    assert float(_saved_text_record(fig)) == pytest.approx(6 * P.FIG_DPI / 72, abs=0.01)
    plt.close(fig)
    bare, ax = plt.subplots()
    ax.axis("off")                                      # no text drawn at all
    assert _saved_text_record(bare) == "none"
    plt.close(bare)


def test_the_startup_file_installs_it_in_a_kernel_of_the_build_only(tmp_path):
    """IPython runs the start-up file of $IPYTHONDIR; without it (a learner) nothing is replaced."""
    startup = bk.write_startup(tmp_path / "ipython")
    code = ("import matplotlib; matplotlib.use('Agg'); from matplotlib.backend_bases import FigureCanvasBase as F; "
            "print(getattr(F.print_figure, '_course_record', False))")
    run = lambda env_dir: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "IPython", "--quick" if env_dir is None else "--no-banner", "-c", code],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                             "IPYTHONDIR": str(env_dir or tmp_path / "learner")})
    with_build = run(tmp_path / "ipython")
    assert with_build.stdout.strip().endswith("True"), with_build.stderr[-800:]
    learner = run(None)
    assert learner.stdout.strip().endswith("False"), learner.stderr[-800:]
    assert startup.read_text().count("_text_record.install()") == 1
    assert startup.read_text().count("_table_formats.register_table_formats()") == 1
