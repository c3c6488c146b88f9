"""Generate the exercise notebooks and pages from their masters, ``exercises/src/NN_name.md``.

    python exercises/build_notebooks.py            # (re)write every generated file
    python exercises/build_notebooks.py --check    # exit 1 listing stale or missing files; writes nothing

A master is a jupytext MyST notebook holding the exercise *with* its worked solutions: open it in
Jupyter (jupytext), run it top to bottom, lint it.  From each master come

* ``exercises/NN_name.ipynb`` — the learner's notebook: stubs, graders, no outputs;
* ``exercises/solutions/NN_name.ipynb`` — the worked solutions, ending with a cell that asserts every
  check passes;
* ``book/exercises/NN_name.md`` — the book page: the exercise text, each stub as a listing with its
  solution folded away, the checks executed, the provenance cell (so ``make sync`` adds nothing);

and ``book/exercises/index.md`` lists them all.  ``make sync`` then writes the book pages' paired
``.ipynb`` (``scripts/sync_notebooks.py``).

Solution regions (as nbgrader marks them), inside a code cell::

    def backward_var(d_x, d_y):
        ### BEGIN SOLUTION  # TODO: return the variance as a formula in d_x and d_y
        return 1 / d_y
        ### END SOLUTION

The learner gets the comment after ``BEGIN SOLUTION`` (if any) and ``raise NotImplementedError`` at the
region's indentation.  Any other stub follows the region as a ``STUB`` region, commented out (as an
editor's toggle-comment writes it, so the master still runs)::

        ### END SOLUTION
        ### BEGIN STUB
        # fraction_after_10 = None  # TODO: a number
        ### END STUB

Cell tags of the master (``:tags: [...]``; ``+++ {"tags": [...]}`` on a markdown cell):

* ``install`` — replaced by the install cell generated from ``repository.url`` of ``_config.yml``
  (``scripts/book_config.py``); hidden on the book page.
* ``interactive`` — sliders: run in the notebooks, shown as a listing on the book page.
* ``book-only`` — the book page only (left out of both notebooks): e.g. the static counterpart of a slider
  cell (``course_utils.explorable``), which redraws in the published page without a kernel; a code cell's
  input is hidden unless it has its own ``remove-``/``hide-`` tag.
* ``notebook-only`` — left out of the book page.
* ``solution`` — solutions notebook and book page only (a markdown cell is folded into a dropdown,
  a code cell's input is hidden).  A worked answer whose text glues values (``{glue:text}`name```) cannot be
  plain Markdown in a notebook (Jupyter and Colab would show the roles): in the solutions notebook it becomes a
  code cell, its code folded, that shows the same text with the values of the dict ``glued`` written in (the
  master builds ``glued`` in a solution cell from the learner's own runs, and glues it in a ``book-only``
  cell for the page).  No generated notebook holds a ``{glue`` role (checked when writing).
* ``check`` — solutions notebook only, and a ``remove-cell`` on the book page: asserts that pin results.
* ``provenance`` — the book page's provenance cell, in place of the one ``make sync`` would append: for a
  page that runs its own sizes, ``provenance.show(sizes=...)`` says them (left out of both notebooks).
* ``questions`` — written out as one section per question of ``course_utils.exercises.QUESTIONS``
  (question, an answer cell with the model answer in the solutions, the graded form of
  ``course_utils.exercises.FORMS`` with its check, a reveal button).

Other tags (``remove-cell``, ``hide-input``, …) pass through to the book page; in the solutions notebook a
``remove-cell`` code cell (what the page runs out of sight: the worked answer's sentence assembly) keeps its
code folded, titled by its first comment line.  The front matter's
``exercise.summary`` is the line of the index table.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402  (the one place the repository URL is written: _config.yml)
from sync_notebooks import PROVENANCE_CELL  # noqa: E402  (the cell `make sync` would append)

SRC = Path("exercises") / "src"
OWN_TAGS = {"install", "interactive", "book-only", "notebook-only", "solution", "check", "questions", "provenance"}
FRONT = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
    jupytext_version: 1.16.0
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
NB_METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
               "language_info": {"name": "python"}, "colab": {"provenance": []}}


# ----------------------------------------------------------------------------- solution regions
_BEGIN = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION(?:\s+(?P<comment>#.*?))?\s*$")
_END = re.compile(r"^\s*### END SOLUTION\s*$")
_BEGIN_STUB = re.compile(r"^\s*### BEGIN STUB\s*$")
_END_STUB = re.compile(r"^\s*### END STUB\s*$")


class MasterError(ValueError):
    """A master that cannot be turned into notebooks (unbalanced markers, a malformed stub)."""


def has_region(source: str) -> bool:
    return any(_BEGIN.match(line) for line in source.splitlines())


def strip_regions(source: str, *, solution: bool, where: str = "<cell>") -> str:
    """The cell as the solutions (``solution=True``) or the learner get it: markers removed, and either
    the solution or the stub kept."""
    lines, out, i = source.splitlines(), [], 0
    while i < len(lines):
        m = _BEGIN.match(lines[i])
        if _END.match(lines[i]) or _BEGIN_STUB.match(lines[i]) or _END_STUB.match(lines[i]):
            raise MasterError(f"{where}, line {i + 1}: {lines[i].strip()!r} without a BEGIN SOLUTION before it")
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent, comment, start = m.group("indent"), m.group("comment"), i
        body, i = [], i + 1
        while i < len(lines) and not _END.match(lines[i]):
            if _BEGIN.match(lines[i]):
                raise MasterError(f"{where}, line {i + 1}: a solution region inside another one")
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise MasterError(f"{where}, line {start + 1}: BEGIN SOLUTION without END SOLUTION")
        i += 1
        stub = None
        if i < len(lines) and _BEGIN_STUB.match(lines[i]):
            stub, i = [], i + 1
            while i < len(lines) and not _END_STUB.match(lines[i]):
                line = lines[i]
                if line.strip() == "#":
                    stub.append("")
                elif line.startswith(indent + "# "):
                    stub.append(indent + line[len(indent) + 2:])
                else:
                    raise MasterError(f"{where}, line {i + 1}: a STUB line must be commented out at the "
                                      f"region's indentation ({indent!r} + '# '), got {line!r}")
                i += 1
            if i == len(lines):
                raise MasterError(f"{where}: BEGIN STUB without END STUB")
            i += 1
            if comment:
                raise MasterError(f"{where}, line {start + 1}: give the stub either after BEGIN SOLUTION "
                                  "or in a STUB region, not both")
        if solution:
            out += body
        elif stub is not None:
            out += stub
        else:
            out += ([indent + comment] if comment else []) + [indent + "raise NotImplementedError"]
    return "\n".join(out)


# ----------------------------------------------------------------------------- the master
@dataclasses.dataclass
class Cell:
    kind: str          # "markdown" or "code"
    source: str
    tags: tuple = ()

    def has(self, tag: str) -> bool:
        return tag in self.tags

    @property
    def other_tags(self) -> list[str]:
        return [t for t in self.tags if t not in OWN_TAGS]


@dataclasses.dataclass
class Master:
    name: str          # NN_name
    title: str         # "Exercise 1 — Initialization"
    summary: str       # the index line
    cells: list        # [Cell], the title cell excluded

    @property
    def short_title(self) -> str:
        return self.title.split(" — ", 1)[-1]


def _question_cells() -> list[Cell]:
    from course_utils.exercises import FORMS, QUESTIONS, form_markdown

    cells = []
    for n, (q, a) in enumerate(QUESTIONS, start=1):
        cells.append(Cell("markdown", f"## Question {n}\n\n{q}"))
        cells.append(Cell("answer", f"*Answer.* {a}"))
        cells.append(Cell("markdown", form_markdown(n)))
        kind, right = FORMS[n][0], FORMS[n][3]
        solution = repr(right) if kind == "choice" else f"{right:g}"
        todo = "a letter" if kind == "choice" else "a number"
        cells.append(Cell("code", f"### BEGIN SOLUTION\nform_{n} = {solution}\n### END SOLUTION\n### BEGIN STUB\n"
                                  f"# form_{n} = None  # TODO: {todo}\n### END STUB"))
        cells.append(Cell("code", f"exercises.check_answer({n}, form_{n})"))
        cells.append(Cell("code", f"exercises.answer_button({n})", ("notebook-only",)))
    return cells


def read_master(path: Path) -> Master:
    nb = jupytext.read(path, fmt="md:myst")
    meta = nb.metadata.get("exercise") or {}
    cells = [Cell(c.cell_type, c.source.strip("\n"), tuple(c.metadata.get("tags", []))) for c in nb.cells]
    if not cells or cells[0].kind != "markdown" or not cells[0].source.startswith("# "):
        raise MasterError(f"{path}: the first cell must be the title, a markdown cell '# Exercise N — …'")
    title, _, rest = cells[0].source.partition("\n")
    body = ([Cell("markdown", rest.strip("\n"), cells[0].tags)] if rest.strip() else []) + cells[1:]
    expanded = []
    for i, c in enumerate(body):
        if c.kind == "code" and c.has("questions"):
            expanded += _question_cells()
            continue
        if c.kind == "code" and has_region(c.source):
            for solution in (True, False):  # fail here, with the file's name, on a malformed region
                strip_regions(c.source, solution=solution, where=f"{path.name}, code cell {i + 1}")
        expanded.append(c)
    if not any(c.has("install") for c in expanded):
        raise MasterError(f"{path}: no cell tagged `install` (the first code cell installs the package)")
    return Master(path.stem, title[2:].strip(), str(meta.get("summary", "")).strip(), expanded)


def masters(root: Path = ROOT) -> list[Master]:
    return [read_master(p) for p in sorted((root / SRC).glob("[0-9][0-9]_*.md"))]


def solution_source(master: Master) -> str:
    """The code of every cell of the solutions notebook that defines something (the task cells), joined:
    what the tests import as the reference solutions."""
    return "\n\n".join(strip_regions(c.source, solution=True) for c in master.cells
                       if c.kind == "code" and has_region(c.source))


# ----------------------------------------------------------------------------- notebooks
def _badges(root: Path, path: str) -> tuple[str, str]:
    """Colab and Binder links of an exercise notebook: the learner's is the one `make book` builds (the
    notebooks branch: short install cell, the set-up outputs); the solutions are the committed ones."""
    repo, branch = book_config.owner_repo(root=root), book_config.repository(root)["branch"]
    if not path.startswith("solutions/"):
        branch = book_config.NOTEBOOK_BRANCH
    return (f"https://colab.research.google.com/github/{repo}/blob/{branch}/exercises/{path}.ipynb",
            f"https://mybinder.org/v2/gh/{repo}/{branch}?labpath=exercises/{path}.ipynb")


def _slug(source: str) -> str:
    for line in source.splitlines():
        words = re.findall(r"[A-Za-z0-9]+", line)
        if words:
            return "-".join(words).lower()[:40].strip("-")
    return "cell"


def _with_ids(cells, prefix: str):
    """Ids from each cell's first line, so that inserting a cell does not renumber the others."""
    seen: dict[str, int] = {}
    for c in cells:
        base = f"{prefix}-{_slug(c.source)}"
        seen[base] = seen.get(base, 0) + 1
        c["id"] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return cells


def _nb_cell(kind: str, source: str, tags=()):
    cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


_GLUE_ROLE = re.compile(r"\{glue:text\}`([A-Za-z0-9_.-]+)`")


def _fold(cell, title: str | None = None):
    """Fold a code cell's code (JupyterLab: ``jupyter.source_hidden``; Colab: ``cellView: form`` and a
    ``#@title``), titled by ``title`` or by its first comment line, as the learner notebooks fold hidden code."""
    cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    cell.metadata["cellView"] = "form"
    if title is None:
        first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
        title = first.lstrip("# ").strip() if first.startswith("#") else "Code the book page runs out of sight"
    cell.source = f"#@title {title[:90]}\n" + cell.source
    return cell


def glued_answer_cell(source: str, tags=()):
    """A worked answer that glues values, as a solutions-notebook code cell: the Markdown with each
    ``{glue:text}`name``` replaced by ``glued["name"]`` (the dict the master's solution cells build),
    shown with ``IPython.display.Markdown``; its code folded, so the notebook shows the rendered text."""
    if '"""' in source:
        raise MasterError('a worked answer with glued values cannot hold \'"""\'')
    names = _GLUE_ROLE.findall(source)
    text = _GLUE_ROLE.sub(lambda m: "\0" + m.group(1) + "\1", source)
    text = text.replace("{", "{{").replace("}", "}}").replace("\0", "{").replace("\1", "}")
    if "{glue" in text:
        raise MasterError(f"a worked answer holds a glue role other than {{glue:text}}: {text[:80]!r}")
    code = ('from IPython.display import Markdown\n\n'
            f'Markdown(r"""{text}""".format(**glued))   # glued: the values computed above, {len(set(names))} of them')
    return _fold(_nb_cell("code", code, tags), "The worked answer, with the numbers of your runs written in")


def notebook(master: Master, *, solution: bool, root: Path = ROOT) -> nbformat.NotebookNode:
    """The learner's notebook (``solution=False``) or the worked solutions."""
    colab, binder = _badges(root, f"solutions/{master.name}" if solution else master.name)
    header = (f"# {master.title}{' — worked solutions' if solution else ''}\n\n"
              f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
              f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})")
    cells = [_nb_cell("markdown", header)]
    for c in master.cells:
        if c.has("book-only") or c.has("provenance") or (not solution and (c.has("solution") or c.has("check"))):
            continue
        if c.kind == "answer":
            cells.append(_nb_cell("markdown", notebook_markdown(c.source, root) if solution else "*Your answer:* …"))
        elif c.has("install"):
            cells.append(_nb_cell("code", book_config.install_cell(book_config.repo_url(root))))
        elif c.kind == "code":
            cell = _nb_cell("code", strip_regions(c.source, solution=solution), c.other_tags)
            cells.append(_fold(cell) if solution and "remove-cell" in c.other_tags else cell)
        elif solution and _GLUE_ROLE.search(c.source):
            cells.append(glued_answer_cell(c.source, c.other_tags))
        else:
            cells.append(_nb_cell("markdown", notebook_markdown(c.source, root), c.other_tags))
    nb = nbformat.v4.new_notebook(cells=_with_ids(cells, f"{master.name[:2]}{'s' if solution else 'e'}"),
                                  metadata=NB_METADATA)
    nb.nbformat_minor = 5
    nbformat.validate(nb)
    return nb


# ----------------------------------------------------------------------------- chapter links in the notebooks
DOC_ROLE = re.compile(r"\{doc\}`(?:(?P<text>[^`<]*?)\s*<(?P<target>[^`>]+)>|(?P<bare>[^`]+))`")


def site_url(root: Path = ROOT) -> str:
    """The published book's address, as the learner notebooks link it (``_ext/learner_notebooks.py``):
    ``https://<owner>.github.io/<repo>``."""
    owner, repo = book_config.owner_repo(root=root).split("/")
    return f"https://{owner}.github.io/{repo}"


def notebook_markdown(source: str, root: Path = ROOT) -> str:
    """A markdown cell as Jupyter and Colab show it: each ``{doc}`` role (which only the book resolves) becomes a
    Markdown link to the published page, titled with the page's own heading unless the role gives a text."""
    def link(m: re.Match) -> str:
        target = (m["target"] or m["bare"]).strip()
        docname = (Path("book/exercises") / target).as_posix() if not target.startswith("/") else target[1:]
        parts = []
        for part in docname.split("/"):  # resolve "..": book/exercises/../part2/x -> book/part2/x
            if part == "..":
                parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        docname = "/".join(parts)
        text = (m["text"] or "").strip()
        if not text:
            page = root / f"{docname}.md"
            heads = [ln[2:].strip() for ln in page.read_text(encoding="utf-8").splitlines() if ln.startswith("# ")] \
                if page.exists() else []
            text = heads[0] if heads else docname.rsplit("/", 1)[-1]
        return f"[{text}]({site_url(root)}/{docname}.html)"

    return DOC_ROLE.sub(link, source)


# ----------------------------------------------------------------------------- the book page
def _code_cell(source: str, tags=()) -> str:
    opts = f":tags: [{', '.join(tags)}]\n\n" if tags else ""
    return f"```{{code-cell}} ipython3\n{opts}{source}\n```\n"


def book_page(master: Master, root: Path = ROOT) -> str:
    colab, binder = _badges(root, master.name)
    scolab, sbinder = _badges(root, f"solutions/{master.name}")
    repo, branch = book_config.owner_repo(root=root), book_config.repository(root)["branch"]
    gh = f"https://github.com/{repo}/blob/{book_config.NOTEBOOK_BRANCH}/exercises/{master.name}.ipynb"
    out = [FRONT, f"# {master.title}\n",
           f"Work through this exercise in a notebook: [open it in Colab]({colab}), "
           f"[launch it on Binder]({binder}) or [download it from GitHub]({gh}). The worked solutions are also "
           f"a notebook ([Colab]({scolab}), [Binder]({sbinder})). On this page each solution is folded away — "
           f"click to reveal it — and the checks below it show what the grader says about it. A slider cell "
           f"appears here as code to run in the notebook; where it can, a static version follows that works in "
           f"this page without Python, drawn from precomputed results of PyTorch's own functions.\n"]
    pending = None   # a model answer, shown after its question's graded check (the page has no answer cell)
    for c in master.cells:
        if pending is not None and (c.kind == "markdown" and c.source.startswith("## Question")):
            out.append(pending)
            pending = None
        if c.has("notebook-only") or c.has("provenance"):
            continue
        if c.kind == "answer":
            pending = f":::{{admonition}} Model answer\n:class: dropdown\n\n{c.source}\n:::\n"
        elif c.kind == "markdown":
            out.append(f":::{{admonition}} Answer\n:class: dropdown\n\n{c.source}\n:::\n" if c.has("solution")
                       else c.source + "\n")
        elif c.has("install"):
            out.append(_code_cell(book_config.install_cell(book_config.repo_url(root)), ["hide-input"]))
        elif c.has("book-only"):
            tags = c.other_tags if any(t.startswith(("remove-", "hide-")) for t in c.other_tags) else \
                ["hide-input", *c.other_tags]
            out.append(_code_cell(c.source, tags))
        elif c.has("interactive"):
            out.append(f"```python\n# run this in the notebook (interactive)\n"
                       f"{strip_regions(c.source, solution=True)}\n```\n")
        elif has_region(c.source):
            out.append(f"Your task, as the notebook gives it:\n\n```python\n"
                       f"{strip_regions(c.source, solution=False)}\n```\n")
            out.append(_code_cell("# Solution\n" + strip_regions(c.source, solution=True),
                                  ["hide-input", *c.other_tags]))
        elif c.has("check"):
            out.append(_code_cell(c.source, ["remove-cell"]))
        elif c.has("solution"):
            tags = c.other_tags if any(t.startswith(("remove-", "hide-")) for t in c.other_tags) else \
                ["hide-input", *c.other_tags]
            out.append(_code_cell(c.source, tags))
        else:
            out.append(_code_cell(c.source, c.other_tags))
        if pending is not None and c.kind == "code" and c.source.startswith("exercises.check_answer("):
            out.append(pending)
            pending = None
    if pending is not None:
        out.append(pending)
    own = [c for c in master.cells if c.has("provenance")]
    last = ("\n" + _code_cell(own[-1].source, ["remove-input"])) if own else PROVENANCE_CELL
    return "\n".join(out).rstrip("\n") + "\n" + last


INDEX = """# Exercises

Seven notebooks, one per part of the book, to work through in Colab, on Binder or in a local Jupyter.
Every notebook grades your code on the spot with `course_utils.exercises.check_*`: ✅ when it matches
PyTorch's own implementation ("passed"), ❌ with what your code produced and a hint ("not quite"), and ⏳
while the exercise is still the unmodified stub ("to do"); the expected value is shown once you pass.
The first cell installs the course package when it is missing; the data cells download Fashion-MNIST
when it is not on disk.

| # | notebook | what you do |
|---|---|---|
{rows}

Each page below shows the exercise text with the worked solutions folded behind toggles; the solution
notebooks live in `exercises/solutions/` and run, with all checks passing, in the course's CI. All of
them are generated from one master per exercise, `exercises/src/NN_name.md`
(`python exercises/build_notebooks.py`).

```{{tableofcontents}}
```
"""


def index_page(all_masters: list[Master], root: Path = ROOT) -> str:
    rows = []
    for i, m in enumerate(all_masters, start=1):
        colab, _ = _badges(root, m.name)
        rows.append(f"| {i} | [{m.short_title}]({m.name}.md) | {m.summary} ([Colab]({colab})) |")
    return INDEX.format(rows="\n".join(rows))


# ----------------------------------------------------------------------------- all generated files
def render(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file (relative path) and the text it must contain."""
    all_masters = masters(root)
    if not all_masters:
        raise MasterError(f"no masters found in {root / SRC}")
    files = {}
    for m in all_masters:
        for solution in (False, True):
            nb = notebook(m, solution=solution, root=root)
            left = [c.source[:60] for c in nb.cells if "{glue" in c.source]
            if left:  # Jupyter and Colab would show the role, not the value
                raise MasterError(f"{m.name}: a notebook cell holds a {{glue}} role: {left}")
            files[Path("exercises") / ("solutions" if solution else "") / f"{m.name}.ipynb"] = nbformat.writes(nb)
        files[Path("book") / "exercises" / f"{m.name}.md"] = book_page(m, root)
    files[Path("book") / "exercises" / "index.md"] = index_page(all_masters, root)
    return {p: (text if text.endswith("\n") else text + "\n") for p, text in files.items()}


def stale(root: Path = ROOT) -> list[str]:
    """The generated files that are missing or differ from what their master gives ([] when in sync)."""
    problems = []
    for rel, text in render(root).items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{rel}: stale (differs from what {SRC / (rel.stem + '.md')} gives)"
                            if rel.stem != "index" else f"{rel}: stale")
    return problems


def write(root: Path = ROOT) -> list[Path]:
    written = []
    for rel, text in render(root).items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(rel)
    return written


def main(argv=None, root: Path = ROOT) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="list stale or missing generated files (exit 1 if any)")
    args = ap.parse_args(argv)
    try:
        if args.check:
            problems = stale(root)
            for p in problems:
                print(p, file=sys.stderr)
            if problems:
                print("run `python exercises/build_notebooks.py` (or `make sync`) and commit the files",
                      file=sys.stderr)
            return 1 if problems else 0
        written = write(root)
    except MasterError as e:
        print(e, file=sys.stderr)
        return 2
    for rel in written:
        print(f"wrote {rel}")
    print(f"{len(masters(root))} masters: {len(written)} file(s) written, the others were up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
