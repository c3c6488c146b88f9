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
import re
from typing import Any

__all__ = ["glue", "have_myst_nb", "format_glued", "markdown_escape"]

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


_INLINE_CODE = re.compile(r"`([^`\n]+)`")


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
    if isinstance(variable, numbers.Number) and type(variable).__module__ == "numpy":
        # a NumPy scalar's repr is 'np.float64(...)' since NumPy 2, which the page's {glue:text} cannot format
        variable = variable.item()
    if isinstance(variable, str):
        # {glue:text} shows a glued string as plain text, so Markdown's `code` would show its backticks
        # (e.g. "the recorded `full` run"): the budget names and the like read as plain words instead
        variable = _INLINE_CODE.sub(r"\1", variable)
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


_MD_SPECIAL = "\\`*_{}[]<>#|$~"


def markdown_escape(text: str) -> str:
    """``text`` with Markdown's special characters backslash-escaped (shown as typed, never as markup)."""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))
