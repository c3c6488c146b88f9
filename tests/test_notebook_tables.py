"""Tables, explorables and widgets in the PDF: the build's kernels give each a Markdown form
(_ext/table_formats.py, registered by the start-up file of _ext/build_kernel.py); a learner's kernel does not."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("table_formats", ROOT / "_ext" / "table_formats.py")
nb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nb)


@pytest.fixture()
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    sh = InteractiveShell.instance()
    assert nb.register_table_formats(sh)
    assert nb.register_table_formats(sh)        # idempotent
    yield sh
    InteractiveShell.clear_instance()           # later tests must not find a running IPython
    nb._REGISTERED.discard(id(sh))


def test_styler_markdown_keeps_its_formats_caption_and_index_name():
    df = pd.DataFrame({"acc (%)": [88.7612, 88.6], "tag": ["a|b", "x_1*"]},
                      index=pd.Index(["SGD", "Adam"], name="optimizer"))
    md = nb.markdown_table(df.style.format({"acc (%)": "{:.2f}"}).set_caption("Test accuracy"))
    lines = md.splitlines()
    assert lines[0] == "**Test accuracy**"
    assert lines[2] == "| optimizer | acc (%) | tag |"
    assert lines[3] == "|---|---|---|"
    assert lines[4] == r"| SGD | 88.76 | a\|b |" and lines[5] == r"| Adam | 88.60 | x\_1\* |"


def test_hidden_index_and_stacked_columns():
    df = pd.DataFrame(np.arange(4.0).reshape(2, 2), columns=pd.MultiIndex.from_tuples([("A", "x"), ("A", "y")]))
    md = nb.markdown_table(df.style.format("{:.1f}").hide(axis="index"))
    assert md.splitlines()[0] == "| A x | A y |"
    assert md.splitlines()[2] == "| 0.0 | 1.0 |"


def test_dataframe_uses_the_display_float_format():
    df = pd.DataFrame({"v": [1.23456789, np.nan]})
    with pd.option_context("display.float_format", lambda v: f"{v:.3g}", "styler.format.na_rep", "—"):
        md = nb.markdown_table(df)
    assert "| 0 | 1.23 |" in md and "| 1 | — |" in md


def test_long_frames_and_other_objects_have_no_markdown():
    with pd.option_context("display.max_rows", 5):
        assert nb.markdown_table(pd.DataFrame({"v": range(6)})) is None
    assert nb.markdown_table([1, 2]) is None


def test_the_kernel_shows_markdown_and_plain_text_not_a_repr(shell):
    sty = pd.DataFrame({"v": [1.5]}).style.format("{:.1f}")
    data, _ = shell.display_formatter.format(sty)
    assert {"text/html", "text/markdown", "text/plain"} <= set(data)
    assert "Styler at 0x" not in data["text/plain"] and "1.5" in data["text/plain"]
    from IPython.display import HTML
    data, _ = shell.display_formatter.format(HTML('<div id="x1" class="explorable">...</div>'))
    assert data["text/markdown"] == nb.INTERACTIVE_NOTE
    data, _ = shell.display_formatter.format(HTML("<b>plain HTML</b>"))
    assert "text/markdown" not in data
    ipywidgets = pytest.importorskip("ipywidgets")
    data, _ = shell.display_formatter.format(ipywidgets.VBox([ipywidgets.IntSlider()]))
    assert data["text/markdown"] == nb.WIDGET_NOTE


def test_outside_ipython_nothing_is_registered(monkeypatch):
    import IPython
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert nb.register_table_formats() is False


def test_a_failing_styler_falls_back_instead_of_breaking_the_output(shell, monkeypatch):
    from pandas.io.formats.style import Styler
    sty = pd.DataFrame({"v": [1.0]}).style

    def broken(self, *a, **k):
        raise RuntimeError("an older pandas")
    monkeypatch.setattr(Styler, "to_string", broken)
    assert nb.markdown_table(sty) is None
    data, _ = shell.display_formatter.format(sty)
    assert "text/html" in data and "Styler" in data["text/plain"] and "text/markdown" not in data


def test_a_learners_import_registers_no_build_formats():
    """import course_utils and the house style leave IPython's display formatters alone (a fresh interpreter)."""
    code = ("from IPython.core.interactiveshell import InteractiveShell; sh = InteractiveShell.instance(); "
            "import pandas as pd; from pandas.io.formats.style import Styler; "
            "import course_utils; from course_utils import plotting, notebook; plotting.set_style(); "
            "f = sh.display_formatter.formatters['text/markdown']; "
            "assert Styler not in f.type_printers and pd.DataFrame not in f.type_printers, 'build formats registered'; "
            "print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.strip() == "ok", res.stderr[-800:]
