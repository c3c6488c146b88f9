"""Tables, explorables and widgets in the PDF: a text/markdown form for what has only HTML.

A Jupyter front end and the HTML book show a table's text/html.  The PDF (Sphinx's LaTeX builder) cannot use
HTML: myst-nb falls back to text/markdown, then text/plain, and a pandas Styler's text/plain is
"<pandas.io.formats.style.Styler at 0x...>".  So in the book's build every Styler and DataFrame shown also
carries a Markdown table (typeset as a real table in the PDF) and a plain-text one, with the Styler's own
formats, and an explorable or a live widget carries a line that says where it runs.

This is build machinery, not lecture: it lives outside the learner's package and is registered only in the
kernels of the book's build, by the IPython start-up file of ``_ext/build_kernel.py``.
"""
from __future__ import annotations

from course_utils.notebook import markdown_escape

_REGISTERED: set[int] = set()


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
