#!/usr/bin/env python3
"""The generated cells of every MyST-notebook chapter of the toc; the toc's chapters for other scripts.

The ``.md`` is the only source of a chapter.  What Colab and Binder open is the learner notebook built
from the executed page (``_ext/learner_notebooks.py``, in ``_build/notebooks``), so no ``.ipynb`` is kept
beside a chapter.  The chapters are discovered from ``_toc.yml`` at run time, so new chapters need no
edit here.

    python scripts/sync_notebooks.py            # (re)write the generated cells
    python scripts/sync_notebooks.py --check    # exit 1 listing chapters whose cells are stale; writes nothing

Two cells are generated: (1) the first code cell of every chapter is the install cell generated from
``repository.url`` of ``_config.yml`` (``scripts/book_config.py``: the one place the URL is written), so
that the ``.md`` also runs in Jupyter with jupytext; (2) a chapter whose last code cell does not call
``provenance.show`` gets a hidden-input cell that prints the page's provenance line (commit, date,
device, torch, budget).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import book_config  # noqa: E402  (scripts/ is not a package)

_FIRST_CODE_CELL = re.compile(r"```\{code-cell\}[^\n]*\n((?::[^\n]*\n)*)\n?(.*?)\n```", re.S)
PROVENANCE_CELL = """
```{code-cell} ipython3
:tags: [remove-input]

# What produced the numbers on this page (appended by `make sync`; see course_utils/provenance.py)
from course_utils import provenance
provenance.show()
```
"""


def toc_files(root: Path = ROOT) -> list[str]:
    """Every file of ``_toc.yml`` (the root first), in order, as paths without suffix.

    Read with Jupyter Book's own toc parser (sphinx-external-toc), so the book and this script can
    never disagree about which pages the toc holds.
    """
    from sphinx_external_toc.parsing import parse_toc_yaml

    return list(parse_toc_yaml(str(root / "_toc.yml")))


def is_myst_notebook(path: Path) -> bool:
    if path.suffix != ".md" or not path.is_file():
        return False
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and "format_name: myst" in head and "kernelspec" in head


def chapters(root: Path = ROOT) -> list[Path]:
    """The MyST-notebook chapters of the toc (``.md`` files with jupytext front matter)."""
    found = []
    for f in toc_files(root):
        p = root / f
        p = p if p.suffix else p.with_suffix(".md")
        if is_myst_notebook(p):
            found.append(p)
    return found


def install_cell_problem(md: Path, url: str | None = None) -> str | None:
    """None when the first code cell of ``md`` is the generated install cell; else what is wrong."""
    m = _FIRST_CODE_CELL.search(md.read_text(encoding="utf-8"))
    want = book_config.install_cell(url)
    if m is None:
        return "has no code cell (the first one must be the install cell)"
    if m.group(2).strip() != want.strip():
        if book_config.is_install_cell(m.group(2)):
            return "install cell differs from the one generated from repository.url of _config.yml"
        return "first code cell is not the install cell"
    return None


def write_install_cell(md: Path, url: str | None = None) -> bool:
    """Make the first code cell of ``md`` the generated install cell (replace or insert); True if changed."""
    if install_cell_problem(md, url) is None:
        return False
    text = md.read_text(encoding="utf-8")
    m = _FIRST_CODE_CELL.search(text)
    cell = f"```{{code-cell}} ipython3\n:tags: [hide-input]\n\n{book_config.install_cell(url)}\n```"
    if m is not None and book_config.is_install_cell(m.group(2)):
        text = text[:m.start()] + cell + text[m.end():]
    else:  # insert it before the first code cell (or at the end of a page without code)
        at = m.start() if m is not None else len(text)
        text = text[:at] + cell + "\n\n" + text[at:]
    md.write_text(text, encoding="utf-8")
    return True


def has_provenance_cell(md: Path) -> bool:
    nb = jupytext.read(md, fmt="md:myst")
    code = [c for c in nb.cells if c.cell_type == "code"]
    return bool(code) and "provenance.show(" in code[-1].source


def add_provenance_cell(md: Path) -> bool:
    if has_provenance_cell(md):
        return False
    text = md.read_text(encoding="utf-8").rstrip("\n") + "\n" + PROVENANCE_CELL
    md.write_text(text, encoding="utf-8")
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report stale generated cells (exit 1 if any)")
    ap.add_argument("--no-provenance", action="store_true", help="do not append the provenance cell")
    ap.add_argument("only", nargs="*", help="restrict to these chapters (.md paths); default: all in _toc.yml")
    args = ap.parse_args(argv)
    mds = chapters()
    if args.only:
        wanted = {Path(p).resolve() for p in args.only}
        mds = [md for md in mds if md.resolve() in wanted]
    if args.check:
        problems = [f"{md.relative_to(ROOT)}: {p}" for md in mds if (p := install_cell_problem(md))]
        problems += [f"{md.relative_to(ROOT)}: last code cell does not call provenance.show()"
                     for md in mds if not has_provenance_cell(md)]
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("run `make sync` and commit the .md files", file=sys.stderr)
        return 1 if problems else 0
    for md in mds:
        rel = md.relative_to(ROOT)
        if write_install_cell(md):
            print(f"{rel}: install cell (re)generated from repository.url")
        if not args.no_provenance and add_provenance_cell(md):
            print(f"{rel}: appended the provenance cell")
    print(f"{len(mds)} chapter(s) in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main())
