"""What a chapter needs from the notebook it runs in, with or without the book's build tools.

The book's pages hand every number their prose quotes to myst-nb's ``glue``, which stores it in the
cell's output for the HTML build to insert into the text.  A learner who opens a chapter in Colab,
Binder or their own Jupyter has no myst-nb (it is a build tool, not a dependency of this package), so
:func:`glue` here uses myst-nb when it is installed and otherwise prints the value, so that the learner
sees the numbers the text talks about instead of an ``ImportError``.

    from course_utils.notebook import glue
    glue("sgd_acc", 88.93, display=False)   # book build: stored for {glue:text}`sgd_acc`
                                            # elsewhere: prints "sgd_acc = 88.93"
"""
from __future__ import annotations

import numbers
from typing import Any

__all__ = ["glue", "have_myst_nb", "format_glued", "markdown_table", "markdown_escape",
           "register_table_formats"]

_MYST_NB_GLUE = None
_CHECKED = False


def _myst_nb_glue():
    """myst-nb's ``glue`` when myst-nb is importable, else None (looked up once)."""
    global _MYST_NB_GLUE, _CHECKED
    if not _CHECKED:
        _CHECKED = True
        try:
            from myst_nb import glue as real
        except ImportError:
            real = None
        _MYST_NB_GLUE = real
    return _MYST_NB_GLUE


def have_myst_nb() -> bool:
    """True when myst-nb is installed (the book build); False in a learner's notebook."""
    return _myst_nb_glue() is not None


def format_glued(value: Any) -> str:
    """A short text for a glued scalar or string (floats to 4 significant digits)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def glue(name: str, variable: Any, display: bool = True) -> None:
    """Glue ``variable`` under ``name`` for the book, or show it when the book's tools are absent.

    Args:
        name: the key the page's text refers to (``{glue:text}`name```).
        variable: the value (a number, a string, a DataFrame or a figure).
        display: also show the value in the cell's output (myst-nb's meaning).  Without myst-nb
            the value is always shown: a number as ``name = value``, anything else as itself.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"glue needs a non-empty string name, got {name!r}.")
    real = _myst_nb_glue()
    if real is not None:
        real(name, variable, display=display)
        return
    if isinstance(variable, (numbers.Number, str)) or variable is None:
        print(f"{name} = {format_glued(variable)}")
        return
    try:
        from IPython.display import display as show
    except ImportError:  # plain Python: print what we can
        print(f"{name} = {variable!r}")
        return
    print(f"{name}:")
    show(variable)


# ----------------------------------------------------------------------------- tables in the PDF
# A Jupyter frontend and the HTML book show a table's text/html.  The PDF (Sphinx's LaTeX builder) cannot
# use HTML: myst-nb falls back to text/markdown, then text/plain, and a pandas Styler's text/plain is
# "<pandas.io.formats.style.Styler at 0x...>".  So every Styler and DataFrame shown in a kernel that
# imported this module also carries a Markdown table (typeset as a real table in the PDF) and a plain
# text one, with the Styler's own formats.
_MD_SPECIAL = "\\`*_{}[]<>#|$~"
_REGISTERED: set[int] = set()


def markdown_escape(text: str) -> str:
    """``text`` with Markdown's special characters backslash-escaped (shown as typed, never as markup)."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))


def _md_cell(text: str) -> str:
    return markdown_escape(" ".join(str(text).split())) or " "   # one line per cell


def _styler_rows(obj) -> tuple[list[str], list[list[str]]] | None:
    """The header and body cells of a Styler or DataFrame as displayed (its formats applied)."""
    import pandas as pd
    from pandas.io.formats.style import Styler

    if isinstance(obj, pd.DataFrame):
        fmt = pd.get_option("display.float_format")
        obj = obj.style.format(
            (lambda v: fmt(v) if isinstance(v, float) else v) if fmt else None,
            na_rep=pd.get_option("styler.format.na_rep") or "NaN")
    if not isinstance(obj, Styler):
        return None
    df = obj.data
    max_rows = pd.get_option("display.max_rows")
    if max_rows is not None and len(df) > max_rows:
        return None                                  # pandas would truncate: leave it to text/plain
    text = obj.to_string(delimiter="\t", sparse_index=False, sparse_columns=False)
    lines = text.rstrip("\n").split("\n")
    n_body = len(df) - len(getattr(obj, "hidden_rows", []) or [])
    n_head = len(lines) - n_body
    if n_head < 1 or n_body < 0:
        return None
    rows = [line.split("\t") for line in lines]
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    header = []
    for j in range(width):                           # stacked header rows (levels, index name) -> one
        parts = [rows[i][j].strip() for i in range(n_head) if rows[i][j].strip()]
        header.append(" ".join(dict.fromkeys(parts)))
    return header, rows[n_head:]


def markdown_table(obj) -> str | None:
    """A pandas Styler or DataFrame as a Markdown (GFM) table with its caption, or None for anything
    else (and for a DataFrame longer than ``display.max_rows``)."""
    try:
        got = _styler_rows(obj)
    except Exception:  # noqa: BLE001 - a display hook must never break a cell's output
        return None
    if got is None:
        return None
    header, body = got
    out = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in body]
    caption = getattr(obj, "caption", None)
    if caption:
        out = [f"**{_md_cell(caption)}**", ""] + out
    return "\n".join(out) + "\n"


def _plain_table(obj) -> str:
    try:
        got = _styler_rows(obj)
    except Exception:  # noqa: BLE001 - a display hook must never break a cell's output
        got = None
    if got is None:
        return object.__repr__(obj)
    header, body = got
    rows = [header] + body
    widths = [max(len(str(r[j])) for r in rows) for j in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    caption = getattr(obj, "caption", None)
    return "\n".join(([str(caption)] if caption else []) + lines)


INTERACTIVE_NOTE = ("*An interactive figure is shown here in the web version of this page; "
                    "run the notebook to use it live.*\n")
WIDGET_NOTE = "*Sliders and buttons are shown here when the notebook runs in Jupyter, Colab or Binder.*\n"


def _interactive_note(obj) -> str | None:
    """The PDF's stand-in for an explorable's HTML block (other HTML outputs: no Markdown form)."""
    data = getattr(obj, "data", None) or ""
    if 'class="explorable"' in data or 'class="surface-explorer"' in data:
        return INTERACTIVE_NOTE
    return None


def _widget_note(obj) -> str:
    return WIDGET_NOTE


def register_table_formats(shell=None) -> bool:
    """Give pandas Stylers and DataFrames a text/markdown (and Stylers a text/plain) representation in
    the running IPython kernel; True when registered.  Idempotent; a no-op outside IPython."""
    if shell is None:
        import sys
        if "IPython" not in sys.modules:      # no kernel can be running: don't import IPython for nothing
            return False
        from IPython import get_ipython
        shell = get_ipython()
    if shell is None:
        return False
    if id(shell) in _REGISTERED:
        return True
    try:
        import pandas as pd
        from pandas.io.formats.style import Styler
    except ImportError:  # pragma: no cover - pandas is a dependency of the package
        return False
    formatters = shell.display_formatter.formatters
    formatters["text/markdown"].for_type(Styler, markdown_table)
    formatters["text/markdown"].for_type(pd.DataFrame, markdown_table)
    formatters["text/plain"].for_type(Styler, lambda obj, p, cycle: p.text(_plain_table(obj)))
    # what has no Markdown form (an explorable's HTML and script, a live widget) says so in the PDF,
    # instead of "<IPython.core.display.HTML object>" or "VBox(children=(...))"
    formatters["text/markdown"].for_type_by_name("IPython.core.display", "HTML", _interactive_note)
    formatters["text/markdown"].for_type_by_name("ipywidgets.widgets.widget", "Widget", _widget_note)
    _REGISTERED.add(id(shell))
    return True


register_table_formats()
