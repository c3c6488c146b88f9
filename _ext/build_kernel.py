"""What the kernels of the book's build run at start, and learners' kernels never do.

The Makefile points ``IPYTHONDIR`` at ``_build/ipython``; :func:`write_startup` writes its IPython start-up
file, which in every kernel of the build (the HTML build, the PDF build, ``make full-budget``):

* makes every PNG record its smallest drawn text, for the browser test (``text_record.py``);
* gives tables, explorables and widgets a Markdown form for the PDF (``table_formats.py``);
* makes every PNG record a description of what its figure shows, the images' alt text (``figure_describe.py``).

All three are build machinery: the learner's package neither holds nor runs them, so a learner's matplotlib and
IPython display are their own (tested in ``tests/test_text_record.py`` and ``tests/test_notebook_tables.py``).

    python _ext/build_kernel.py _build/ipython
"""
from __future__ import annotations

import sys
from pathlib import Path

STARTUP = '''# Written by _ext/build_kernel.py for the book's build (IPYTHONDIR=_build/ipython, set by the Makefile).
# Learners' kernels never run this.
import sys as _sys
_sys.path.insert(0, {ext!r})
import text_record as _text_record
import table_formats as _table_formats
_text_record.install()
_table_formats.register_table_formats()
__import__("figure_lint").install()  # every figure shown is linted; a defect fails its cell (figure_lint.py)
del _sys, _text_record, _table_formats
import figure_describe as _figure_describe  # every PNG records what its figure shows (alt text)
_figure_describe.install()
del _figure_describe
'''


def write_startup(ipython_dir: Path) -> Path:
    """Write the start-up file that every kernel started with ``IPYTHONDIR=ipython_dir`` runs."""
    startup = Path(ipython_dir) / "profile_default" / "startup" / "00-course-build.py"
    startup.parent.mkdir(parents=True, exist_ok=True)
    text = STARTUP.format(ext=str(Path(__file__).resolve().parent))
    if not startup.is_file() or startup.read_text(encoding="utf-8") != text:
        startup.write_text(text, encoding="utf-8")
    return startup


if __name__ == "__main__":
    print(write_startup(Path(sys.argv[1] if len(sys.argv) > 1 else "_build/ipython")))
