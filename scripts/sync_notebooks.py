#!/usr/bin/env python3
"""Keep a jupytext-paired, output-free ``.ipynb`` beside every MyST-notebook chapter of the toc.

Colab (and the launch buttons, see ``_ext/course_book.py``) open the ``.ipynb``; the book builds from
the ``.md``.  The chapters are discovered from ``_toc.yml`` at run time, so new chapters need no edit here.

    python scripts/sync_notebooks.py            # write the pairs (and append the provenance cell)
    python scripts/sync_notebooks.py --check    # exit 1 listing missing or stale pairs; writes nothing

Writing also (1) makes the first code cell of every chapter the install cell generated from
``repository.url`` of ``_config.yml`` (``scripts/book_config.py``: the one place the URL is written),
and (2) appends, to a chapter whose last code cell does not call ``provenance.show``, a hidden-input
cell that prints the page's provenance line (commit, date, device, torch, budget).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext
import nbformat

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


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.strip(), tuple(c.get("metadata", {}).get("tags", []))) for c in nb.cells]


def expected_notebook(md: Path):
    """The notebook the pair must contain: the .md's cells, no outputs, no execution counts."""
    nb = jupytext.read(md, fmt="md:myst")
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    nb.metadata.setdefault("jupytext", {})["formats"] = "ipynb,md:myst"
    nb.metadata["jupytext"].pop("text_representation", None)
    return nb


def pair_problem(md: Path) -> str | None:
    """None when ``md``'s paired ``.ipynb`` exists, is output-free and has the same cells; else why not."""
    ipynb = md.with_suffix(".ipynb")
    rel = ipynb.relative_to(ROOT) if ipynb.is_relative_to(ROOT) else ipynb
    if not ipynb.is_file():
        return f"{rel}: missing"
    nb = nbformat.read(ipynb, as_version=4)
    if any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")) for c in nb.cells):
        return f"{rel}: has outputs (the pair is stored without outputs)"
    want, have = _cells(expected_notebook(md)), _cells(nb)
    if want != have:
        for i, (w, h) in enumerate(zip(want, have)):
            if w != h:
                return f"{rel}: cell {i} differs from the .md ({h[1][:40]!r} vs {w[1][:40]!r})"
        return f"{rel}: {len(have)} cells, the .md has {len(want)}"
    return None


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


def write_pair(md: Path) -> bool:
    """(Re)write ``md``'s pair when it is missing or stale; True when a file was written."""
    if pair_problem(md) is None:
        return False
    nb = expected_notebook(md)
    nbformat.validate(nb)
    nbformat.write(nb, md.with_suffix(".ipynb"))
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report missing/stale pairs (exit 1 if any)")
    ap.add_argument("--no-provenance", action="store_true", help="do not append the provenance cell")
    ap.add_argument("only", nargs="*", help="restrict to these chapters (.md paths); default: all in _toc.yml")
    args = ap.parse_args(argv)
    mds = chapters()
    if args.only:
        wanted = {Path(p).resolve() for p in args.only}
        mds = [md for md in mds if md.resolve() in wanted]
    if args.check:
        problems = [f"{md.relative_to(ROOT)}: {p}" for md in mds if (p := install_cell_problem(md))]
        problems += [p for p in map(pair_problem, mds) if p]
        problems += [f"{md.relative_to(ROOT)}: last code cell does not call provenance.show()"
                     for md in mds if not has_provenance_cell(md)]
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("run `make sync` and commit the .md/.ipynb files", file=sys.stderr)
        return 1 if problems else 0
    for md in mds:
        rel = md.relative_to(ROOT)
        if write_install_cell(md):
            print(f"{rel}: install cell (re)generated from repository.url")
        if not args.no_provenance and add_provenance_cell(md):
            print(f"{rel}: appended the provenance cell")
        if write_pair(md):
            print(f"{rel.with_suffix('.ipynb')}: written")
    print(f"{len(mds)} chapter(s) paired")
    return 0


if __name__ == "__main__":
    sys.exit(main())
