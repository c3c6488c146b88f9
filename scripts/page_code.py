#!/usr/bin/env python3
"""What a reader sees of a chapter's code, and what a learner's notebook keeps of it.

A chapter's ``.md`` serves the build (glue, checks, sentence assembly) and the reader (lecture code).
The build-only code sits in cells tagged ``remove-cell``: they run in the build, never show on the
page, and are left out of the learner notebook (``scripts/learner_notebooks.py``). Cells tagged
``remove-input`` (or ``hide-input``) run everywhere; the page hides or folds their code.

Two rules, checked here on the source (and on the built pages by ``tests/test_site.py``):

1. **No plumbing in sight.** A cell the page shows (not ``remove-cell`` / ``remove-input``) does not
   call ``glue(`` and assembles no English sentence (a conditional expression choosing between two
   texts, ``" and ".join(...)`` of words).
   What a cell ``print``s is its output, not the page's prose, and may choose its words.
2. **The learner's notebook still runs.** A name that a ``remove-cell`` cell defines is not read by a
   later cell that the learner notebook keeps, unless a kept cell defined it first.
3. **No dead code in sight.** A shown cell does not compute a value that only build-only cells read: the
   reader sees code with no visible result, the learner a dead name.  Compute it in the build-only cell,
   or show it.

    python scripts/page_code.py [FILE.md ...]     # every chapter of the toc when no file is named
"""
from __future__ import annotations

import ast
import builtins
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n((?::[^\n]*\n)*)\n?(.*?)\n```$", re.S | re.M)
HIDDEN_CODE = ("remove-cell", "remove-input")   # tags whose code the page does not show
BUILD_ONLY = ("remove-cell",)                     # tags of cells the learner notebook leaves out


def code_cells(md_text: str) -> list[tuple[tuple[str, ...], str]]:
    """Every code cell of a MyST notebook as (tags, source), in order."""
    out = []
    for m in CELL.finditer(md_text):
        meta, src = m.group(1), m.group(2)
        tags: tuple[str, ...] = ()
        t = re.search(r"^:tags:\s*\[([^\]]*)\]", meta, re.M)
        if t:
            tags = tuple(x.strip().strip("'\"") for x in t.group(1).split(",") if x.strip())
        out.append((tags, src))
    return out


def _strip_magics(src: str) -> str:
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines())


def _parse(src: str):
    try:
        return ast.parse(_strip_magics(src))
    except SyntaxError:
        return None


def _is_text(node) -> bool:
    """A string literal or f-string that reads as words (at least two spaces: a phrase, not a key)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.count(" ") >= 2
    if isinstance(node, ast.JoinedStr):
        lit = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return lit.count(" ") >= 2
    return False


def plumbing(src: str) -> list[str]:
    """What in one visible cell's code is reporting rather than lecture (empty when nothing)."""
    found = []
    tree = _parse(src)
    if tree is None:
        return found
    printed = {id(n) for call in ast.walk(tree) if isinstance(call, ast.Call)
               and isinstance(call.func, ast.Name) and call.func.id == "print" for n in ast.walk(call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "glue" for a in node.names):
            found.append(f"line {node.lineno}: imports glue (import it in the build-only cell that glues)")
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name == "glue":
                found.append(f"line {node.lineno}: glue(...)")
            elif (name == "join" and isinstance(f, ast.Attribute) and isinstance(f.value, ast.Constant)
                  and isinstance(f.value.value, str) and f.value.value.strip() in ("and", "or")):
                found.append(f"line {node.lineno}: {f.value.value!r}.join(...) builds a sentence")
        elif (isinstance(node, ast.IfExp) and id(node) not in printed  # what a cell prints is output, not prose
              and (_is_text(node.body) or _is_text(node.orelse))):
            found.append(f"line {node.lineno}: a conditional choosing between texts builds a sentence")
    return found


def _names(tree) -> tuple[set[str], list[tuple[int, str]]]:
    """(names this code binds at top level or anywhere, names it reads) for one cell."""
    stored, loaded = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                stored.add(node.id)
            else:
                loaded.append((node.lineno, node.id))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stored.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                stored.add((a.asname or a.name).split(".")[0])
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            stored.add(node.name)
    return stored, loaded


def removed_names_used(md_text: str) -> list[str]:
    """Names a learner notebook would read but never define: defined only in ``remove-cell`` cells."""
    kept_defined: set[str] = set(dir(builtins)) | {"display", "get_ipython", "In", "Out", "_"}
    removed_only: dict[str, int] = {}
    problems = []
    for i, (tags, src) in enumerate(code_cells(md_text)):
        tree = _parse(src)
        if tree is None:
            continue
        stored, loaded = _names(tree)
        if any(t in BUILD_ONLY for t in tags):
            for n in stored - kept_defined:
                removed_only.setdefault(n, i)
            continue
        for line, n in loaded:
            if n in removed_only and n not in kept_defined and n not in stored:
                problems.append(f"code cell {i}, line {line}: reads {n!r}, which only the build-only "
                                f"(remove-cell) code cell {removed_only[n]} defines")
        kept_defined |= stored
    return problems


def computed_for_the_build(md_text: str) -> list[str]:
    """Names a shown cell computes only for the build: no kept cell reads them (the cell itself included,
    e.g. to print them), but a build-only cell does.  In the learner notebook they are dead code, and on
    the page they are code without a visible result: move them into the build-only cell that uses them,
    or show the value."""
    cells = code_cells(md_text)
    parsed = [(tags, _parse(src)) for tags, src in cells]
    problems = []
    for i, (tags, tree) in enumerate(parsed):
        if tree is None or any(t in HIDDEN_CODE for t in tags):
            continue
        bound = {n.id for stmt in tree.body for n in ast.walk(stmt)
                 if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        read_kept, read_build = set(), set()
        for j, (tags_j, tree_j) in enumerate(parsed[i:], start=i):
            if tree_j is None:
                continue
            loads = {n.id for n in ast.walk(tree_j) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            loads |= {n.value.id for n in ast.walk(tree_j) if isinstance(n, ast.Attribute)
                      and isinstance(n.value, ast.Name)}
            (read_build if any(t in BUILD_ONLY for t in tags_j) else read_kept).update(loads)
        for name in sorted((bound & read_build) - read_kept):
            problems.append(f"code cell {i} (shown on the page) computes {name!r} only for build-only cells")
    return problems


def problems(md: Path) -> list[str]:
    text = md.read_text(encoding="utf-8")
    out = []
    for i, (tags, src) in enumerate(code_cells(text)):
        if any(t in HIDDEN_CODE for t in tags):
            continue
        out += [f"code cell {i} (shown on the page), {p}" for p in plumbing(src)]
    out += removed_names_used(text)
    if "exercises" not in md.parts:  # an exercise's learner notebook is built from exercises/NN.ipynb instead
        out += computed_for_the_build(text)
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        files = [Path(a) for a in argv]
    else:
        sys.path.insert(0, str(ROOT / "scripts"))
        import sync_notebooks
        files = sync_notebooks.chapters()
    bad = 0
    for f in files:
        for p in problems(f):
            bad += 1
            print(f"{f}: {p}")
    print(f"{bad} problem(s) in {len(files)} file(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
