"""The notebooks learners open, built from the executed book (registered in ``_config.yml``).

After an HTML build, every chapter with code and every exercise gets a learner notebook in
``_build/notebooks/`` (mirroring ``book/`` and ``exercises/``), also published with the site under
``_notebooks/`` and, by the publishing workflow, on the ``notebooks`` branch that the Colab and Binder
buttons open (``_ext/course_book.py``).  A learner notebook is made for people, not for the build:

* **Prose in plain Jupyter Markdown.**  Glued values are written in as the build computed them
  (formatted as the page formats them); ``{doc}``, ``{eq}`` and links between pages become links to the
  published page (equation numbers as the page shows them); admonitions become block quotes, dropdowns
  ``<details>``; numbered display math gets its ``\\tag``; ``{literalinclude}`` becomes the code it
  includes.  No MyST syntax is left (:func:`myst_leftovers`, tested).
* **Code as the page runs it**, minus the build-only cells (``remove-cell``: hidden checks and glue);
  cells whose code the page hides keep their code, folded (:func:`fold_code`: JupyterLab and Colab).
* **The build's outputs** (figures, tables, printed numbers, widget state), read from the execution
  cache (myst-nb writes ``jupyter_execute/*.ipynb`` without outputs after a cache hit).  Exercise
  notebooks keep their stubs and carry outputs only of the cells before the first stub, grader or
  answer (:func:`is_graded_work`).
* **After the title, a cell** that says which execution made the outputs (budget, date, commit: the
  page's provenance line), which budget this runtime will pick, how long the chapter takes at each
  budget and how that was measured (:func:`page_times`: alone and cold from ``_ext/cold_seconds.json``,
  else a run of the whole book), and how to choose (``COURSE_BUDGET``); then a short install cell, pinned
  to the commit that built the notebook.
* **Colab metadata**: the notebook's name, and a GPU accelerator where the ``full`` budget takes more
  than ten minutes on CPU.

Why not a converter: sphinx-tojupyter converts a Sphinx doctree with its own execution (a second full
build, no myst-nb glue, no access to the cached outputs); jupytext round-trips MyST but keeps every
role and directive.  The book uses few MyST forms (glue:text, doc, eq, admonition, literalinclude,
labelled display math), so a small converter over myst-nb's own notebook reader, with a test that fails
on any MyST form left, is the smaller and stricter piece.
"""
from __future__ import annotations

import ast
import copy
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402  (scripts/ is not a package)

NOTEBOOK_BRANCH = book_config.NOTEBOOK_BRANCH   # the branch the publishing workflow pushes _build/notebooks to
SITE_FOLDER = "_notebooks"           # the same notebooks, served with the site (download links)
GPU_FULL_SECONDS = 600               # full budget longer than this on CPU: ask Colab for a GPU
ADMONITIONS = ("admonition", "note", "tip", "hint", "important", "warning", "caution", "attention",
               "danger", "error", "seealso")

# ----------------------------------------------------------------------------- MyST -> Markdown

_ROLE = re.compile(r"\{([a-z][a-z0-9:_-]*)\}`([^`]*)`")
_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z][a-z0-9:_-]*)\}[ \t]*(?P<arg>.*)$")
_LABELLED_MATH_END = re.compile(r"^(?P<head>.*?)\$\$[ \t]*\((?P<label>[A-Za-z0-9_.:-]+)\)[ \t]*$")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?!https?:|mailto:|#|/)([^)#\s]+\.(?:md|ipynb))(#[^)\s]*)?\)")
_SUBST = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Resolver:
    """What a learner notebook needs from the build to write references and values out."""

    def __init__(self, docname: str, glued: dict[str, dict], *, base_url: str, docs: dict[str, str],
                 equations: dict[str, tuple[str, int]], substitutions: dict[str, str] | None = None,
                 srcdir: Path = ROOT):
        self.docname, self.glued, self.base_url = docname, glued, base_url.rstrip("/")
        self.docs, self.equations, self.subs, self.srcdir = docs, equations, substitutions or {}, srcdir
        self.missing: list[str] = []

    def page_url(self, docname: str, anchor: str = "") -> str:
        return f"{self.base_url}/{docname}.html" + (f"#{anchor}" if anchor else "")

    def glue_text(self, content: str) -> str:
        from myst_nb.core.variables import format_plain_text

        key, fmt = content.rsplit(":", 1) if ":" in content else (content, "")  # as myst-nb: the last colon
        data = self.glued.get(key)
        if data is None or "text/plain" not in data:
            self.missing.append(f"glue key {key!r}")
            return f"[{key}]"
        try:
            return format_plain_text(data["text/plain"], fmt)
        except (TypeError, ValueError) as e:  # the page itself warns too (myst-nb: "Failed to format")
            self.missing.append(f"glue key {key!r} ({e})")
            return data["text/plain"]

    def doc(self, content: str) -> str:
        m = re.match(r"^(.*?)\s*<([^>]+)>$", content, re.S)
        text, target = (m.group(1), m.group(2)) if m else (None, content)
        target = target.strip()
        name = target.lstrip("/") if target.startswith("/") else os.path.normpath(
            os.path.join(os.path.dirname(self.docname), target)).replace(os.sep, "/")
        name = re.sub(r"\.(md|ipynb)$", "", name)
        if name not in self.docs:
            self.missing.append(f"document {target!r}")
        return f"[{text or self.docs.get(name, name)}]({self.page_url(name)})"

    def eq(self, content: str) -> str:
        m = re.match(r"^(.*?)\s*<([^>]+)>$", content, re.S)
        text, label = (m.group(1), m.group(2)) if m else (None, content.strip())
        if label not in self.equations:
            self.missing.append(f"equation {label!r}")
            return f"({label})"
        doc, num = self.equations[label]
        return f"[{text or f'({num})'}]({self.page_url(doc, 'equation-' + label)})"

    def md_link(self, m: re.Match) -> str:
        """``[text](other.md#anchor)``: a link between pages of the book, to the published page."""
        text, target, anchor = m.group(1), m.group(2), m.group(3) or ""
        name = os.path.normpath(os.path.join(os.path.dirname(self.docname), target)).replace(os.sep, "/")
        name = re.sub(r"\.(md|ipynb)$", "", name)
        if name not in self.docs:
            self.missing.append(f"link {target!r}")
            return m.group(0)
        return f"[{text}]({self.page_url(name, anchor.lstrip('#'))})"

    def role(self, m: re.Match) -> str:
        name, content = m.group(1), m.group(2)
        if name == "glue:text":
            return self.glue_text(content)
        if name == "doc":
            return self.doc(content)
        if name == "eq":
            return self.eq(content)
        if name == "math":
            return f"${content}$"
        if name in ("sub", "sup"):
            return f"<{name}>{content}</{name}>"
        if name == "fa":
            return ""
        if name in ("code", "literal", "file", "kbd", "command", "samp"):
            return f"`{content}`"
        self.missing.append(f"role {{{name}}}")
        return m.group(0)


def _quote(text: str) -> str:
    return "\n".join("> " + ln if ln.strip() else ">" for ln in text.strip("\n").splitlines())


def _pyobject(path: Path, dotted: str) -> str:
    """The source of ``dotted`` (``Class.method`` or ``function``) in ``path``, as literalinclude shows it."""
    text = path.read_text(encoding="utf-8")
    tree, node = ast.parse(text), None
    body = tree.body
    for part in dotted.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            raise KeyError(f"{dotted} not found in {path}")
        body = getattr(node, "body", [])
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(text.splitlines()[start - 1:node.end_lineno])


def _directive(name: str, arg: str, options: dict[str, str], body: str, r: Resolver) -> str:
    if name in ADMONITIONS:
        title = arg.strip() or name.capitalize()
        inner = convert_markdown(body, r)
        if "dropdown" in options.get("class", "").split():
            return f"<details>\n<summary>{title}</summary>\n\n{inner}\n\n</details>"
        return _quote(f"**{title}**\n\n{inner}")
    if name == "literalinclude":
        src = (r.srcdir / os.path.dirname(r.docname) / arg.strip()).resolve()
        code = _pyobject(src, options["pyobject"]) if "pyobject" in options else src.read_text(encoding="utf-8")
        lang = options.get("language", "python")
        where = src.relative_to(r.srcdir).as_posix() if src.is_relative_to(r.srcdir) else src.name
        return f"From `{where}`:\n\n```{lang}\n{code.rstrip()}\n```"
    if name == "math":
        label = options.get("label")
        tag = ""
        if label and label in r.equations:
            tag = f" \\tag{{{r.equations[label][1]}}}"
        return f"$$\n{body.strip()}{tag}\n$$"
    r.missing.append(f"directive {{{name}}}")
    return f"```\n{body}\n```"


def convert_markdown(text: str, r: Resolver) -> str:
    """A MyST Markdown cell as Markdown that Jupyter, JupyterLab and Colab render."""
    lines = text.splitlines()
    out: list[str] = []
    prose: list[str] = []   # lines of running text: roles may wrap across them

    def flush():
        if prose:
            block = _MD_LINK.sub(r.md_link, _ROLE.sub(r.role, "\n".join(prose)))
            out.append(_SUBST.sub(lambda s: r.subs.get(s.group(1), s.group(0)), block))
            prose.clear()

    i = 0
    in_code = None
    while i < len(lines):
        ln = lines[i]
        m = _FENCE_OPEN.match(ln)
        if in_code is None and (m or re.match(r"^(`{3,}|~{3,})", ln) or _LABELLED_MATH_END.match(ln)):
            flush()
        if in_code is None and m:
            fence, name, arg = m.group("fence"), m.group("name"), m.group("arg")
            j, options, body = i + 1, {}, []
            while j < len(lines) and re.match(r"^:[A-Za-z_-]+:", lines[j]):
                k, _, v = lines[j][1:].partition(":")
                options[k] = v.strip()
                j += 1
            depth = 0
            while j < len(lines):
                s = lines[j]
                if _FENCE_OPEN.match(s) and s.startswith(fence[0]) and len(re.match(r"^[`:]+", s).group(0)) == len(fence):
                    depth += 1
                elif s.strip() == fence and depth == 0:
                    break
                elif s.strip() == fence:
                    depth -= 1
                body.append(s)
                j += 1
            out.append(_directive(name, arg, options, "\n".join(body), r))
            i = j + 1
            continue
        if in_code is None and re.match(r"^(`{3,}|~{3,})", ln):
            in_code = re.match(r"^(`{3,}|~{3,})", ln).group(1)
            out.append(ln)
            i += 1
            continue
        if in_code is not None:
            if ln.strip() == in_code:
                in_code = None
            out.append(ln)
            i += 1
            continue
        if re.match(r"^\([A-Za-z0-9_.:-]+\)=\s*$", ln) or re.match(r"^%", ln):
            i += 1     # a target label (the page's anchor) or a MyST comment
            continue
        lm = _LABELLED_MATH_END.match(ln)
        if lm:
            label = lm.group("label")
            num = r.equations.get(label, (None, None))[1]
            if num is None:
                r.missing.append(f"equation {label!r}")
            tag = f" \\tag{{{num}}}" if num is not None else ""
            out.append(f"{lm.group('head')}{tag}$$".lstrip() if lm.group("head").strip() else f"{tag.strip()}\n$$")
            i += 1
            continue
        prose.append(ln)
        i += 1
    flush()
    return "\n".join(out).strip("\n")


_LEFTOVERS = [
    (re.compile(r"\{[a-z][a-z0-9:_-]*\}`"), "a MyST role"),
    (re.compile(r"^\s*(`{3,}|:{3,})\{", re.M), "a MyST directive"),
    (re.compile(r"^\([A-Za-z0-9_.:-]+\)=\s*$", re.M), "a MyST target"),
    (re.compile(r"\$\$\s*\([A-Za-z0-9_.:-]+\)"), "a MyST equation label"),
    (re.compile(r"\{\{\s*[A-Za-z_]+\s*\}\}"), "a MyST substitution"),
    (re.compile(r"^:[a-z-]+:\s", re.M), "a directive option"),
    (re.compile(r"^\+\+\+", re.M), "a jupytext cell break"),
]


def myst_leftovers(markdown: str) -> list[str]:
    """What MyST syntax a Markdown cell still contains (empty when none)."""
    return [f"{what}: {m.group(0)!r}" for rx, what in _LEFTOVERS for m in rx.finditer(markdown)]


# ----------------------------------------------------------------------------- notebooks


def glued_values(nb) -> dict[str, dict]:
    """Every glued value of an executed notebook: key -> its output's data (mime prefix removed)."""
    out = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            if meta:
                n = len(meta.get("mime_prefix", ""))
                out[meta["name"]] = {k[n:]: v for k, v in o.get("data", {}).items()}
    return out


def _strip_glue_outputs(cell) -> None:
    cell.outputs = [o for o in cell.get("outputs", []) if "scrapbook" not in o.get("metadata", {})]


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def fold_code(cell) -> None:
    """Fold the code of a cell whose code the page hides: JupyterLab reads ``jupyter.source_hidden``, Colab
    shows a cell with ``cellView: form`` and a ``#@title`` line as its title only (double-click shows the
    code)."""
    cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    cell.metadata["cellView"] = "form"
    if not cell.source.lstrip().startswith("#@title"):
        first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
        title = first.lstrip("# ").strip() if first.startswith("#") else "Code the page hides: run it as it is"
        cell.source = f"#@title {title[:90]}\n" + cell.source


def is_install_cell(source: str) -> bool:
    s = source.lstrip()
    return "import course_utils" in s and "except ImportError" in s and "pip" in s


GRADED = ("NotImplementedError", "TODO", "exercises.check_", "show_answer(", "answer_button(")


def is_graded_work(source: str) -> bool:
    """A cell of an exercise where the learner's work starts: a stub, a grader, an answer to reveal.  From
    the first such cell on, an exercise notebook carries no outputs (the page's would show solutions)."""
    return any(g in source for g in GRADED)


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    if seconds < 10:
        return "a few seconds"
    if seconds < 90:
        return f"about {round(seconds, -1):.0f} s"
    return f"about {seconds / 60:.0f} min"


def _time_phrase(budget: str, entry: dict | None) -> str:
    """``entry``: ``{"seconds": s, "how": "alone" | "book"}`` (see :func:`page_times`)."""
    if not entry or entry.get("seconds") is None:
        return f"`{budget}` not measured yet"
    how = {"alone": "measured alone, nothing cached",
           "alone, shared": "measured alone, nothing cached, on 2 cores busy with other work: an idle machine is faster",
           "book": "in a run of the whole book that could reuse runs trained before, so cold it may take longer"}
    return f"`{budget}` {_minutes(entry['seconds'])} ({how.get(entry.get('how'), entry.get('how', ''))})"


def header_cell(*, page_url: str, build: dict, times: dict[str, dict | None], exercise: bool = False,
                scripted: bool = False, graded_code: bool = True, has_outputs: bool = True) -> str:
    """The cell after the title: where the outputs come from, which budget runs here, how long, how to choose.

    ``build``: ``budget``, and ``outputs_commit`` / ``outputs_date`` of the execution that made the outputs
    (the page's own provenance line).  ``scripted``: some outputs are interactive figures whose script a
    front end runs only in a trusted notebook.
    """
    when = f"{build.get('outputs_date') or build['date']}, commit `{build.get('outputs_commit') or build['commit']}`"
    made = (f"The outputs below are those of the book's build at the **`{build['budget']}`** budget ({when}), "
            f"so you can read the results before running anything. Your own run will differ: floating-point sums "
            f"depend on the machine and its number of threads, and with them a few single-run outcomes can change "
            f"(which rate a short search picks, whether one seed stalls)." if not exercise else
            (f"Your work goes into the cells marked `TODO`; each `exercises.check_*` cell grades it. " if graded_code
             else "Write your answer under each question, then reveal the model answer with the button below it. ")
            + (f"Only the set-up cells carry the outputs of the book's build (**`{build['budget']}`** budget, {when})."
               if has_outputs else "It carries no outputs: everything in it is yours to run."))
    lines = [f"*The learner's notebook of [this page of the book]({page_url}).* {made}", ""]
    if scripted:
        lines += ["The interactive figures are drawn by a script in their output: if one shows blank (JupyterLab "
                  "does not run scripts of a notebook it has not trusted), run its cell, or read it on the page.", ""]
    quick = all(v and v.get("seconds") is not None and v["seconds"] < 90 for v in times.values()) and times
    lines += [
        "**Budget.** Running it yourself, this runtime picks the **`full`** budget (the sources' sizes) when it "
        "has a CUDA GPU and the short **`cpu`** budget otherwise. "
        + ("This page takes about a minute or less at either budget. " if quick else "")
        + f"Time on 2 CPU cores: {_time_phrase('cpu', times.get('cpu'))}; {_time_phrase('full', times.get('full'))}"
        + ("; a GPU runs `full` much faster. " if not quick else ". ")
        + "To choose, run this first (or restart the runtime after changing it):",
        "",
        "```python",
        "import os; os.environ[\"COURSE_BUDGET\"] = \"cpu\"   # or \"full\"",
        "```",
    ]
    return "\n".join(lines)


_PROVENANCE = re.compile(r"commit (\S+) · built (\d{4}-\d{2}-\d{2})")


def outputs_provenance(nb) -> tuple[str | None, str | None]:
    """(commit, date) of the execution that made ``nb``'s outputs, read from its provenance line."""
    for cell in reversed(nb.cells):
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            m = _PROVENANCE.search(o.get("data", {}).get("text/plain", "") or "")
            if m:
                return m.group(1), m.group(2)
    return None, None


def build_learner_notebook(nb, *, docname: str, resolver: Resolver, build: dict,
                           times: dict[str, dict | None], install: str, exercise: bool = False,
                           executed=None):
    """The learner notebook of one executed page (``nb``: the page's notebook with its outputs)."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells = []
    seen_install = False
    stub_seen = False
    for cell in nb.cells:
        tags = _tags(cell)
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            cell.source = convert_markdown(cell.source, resolver)
            if not cell.source.strip():
                continue
            cell.pop("attachments", None) if not cell.get("attachments") else None
            cells.append(cell)
            continue
        if cell.cell_type != "code":
            continue
        if not seen_install and is_install_cell(cell.source):
            seen_install = True
            cells.append(nbformat.v4.new_code_cell(install))
            continue
        _strip_glue_outputs(cell)
        if exercise:
            stub_seen = stub_seen or is_graded_work(cell.source)
            if stub_seen:
                cell.outputs = []
        if "remove-input" in tags or "hide-input" in tags:
            fold_code(cell)
        cell.metadata.pop("execution", None)
        cells.append(cell)
    n = 0
    for c in cells:
        if c.cell_type == "code":
            c.pop("id", None)
            if c.outputs:
                n += 1
                c.execution_count = n
                for o in c.outputs:
                    if "execution_count" in o:
                        o["execution_count"] = n
            else:
                c.execution_count = None
    scripted = any("<script" in str(o.get("data", {}).get("text/html", "")) for c in cells
                   if c.cell_type == "code" for o in c.get("outputs", []))
    commit, date = outputs_provenance(executed if executed is not None else nb)  # the page's provenance line
    build = {**build, "outputs_commit": commit, "outputs_date": date}
    graded_code = any("exercises.check_" in c.source or "NotImplementedError" in c.source
                      for c in cells if c.cell_type == "code")
    head = nbformat.v4.new_markdown_cell(header_cell(page_url=resolver.page_url(docname), build=build,
                                                     times=times, exercise=exercise, scripted=scripted,
                                                     graded_code=graded_code,
                                                     has_outputs=any(c.get("outputs") for c in cells
                                                                     if c.cell_type == "code")))
    body = [nbformat.from_dict(dict(c)) for c in cells]
    top = []
    if body and body[0].cell_type == "markdown" and body[0].source.startswith("# "):
        # the page's title stays first (Colab and JupyterLab name the notebook by it); the header follows it
        first, _, rest = body[0].source.partition("\n")
        top = [nbformat.v4.new_markdown_cell(first)]
        body[0].source = rest.strip("\n")
        if not body[0].source:
            body = body[1:]
    out = nbformat.v4.new_notebook()
    out.cells = top + [head] + body
    out.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"name": Path(docname).name + ".ipynb", "provenance": [], "toc_visible": True},
        "course": {"source": docname, **build},
    }
    if "widgets" in nb.metadata:
        out.metadata["widgets"] = nb.metadata["widgets"]
    if ((times.get("full") or {}).get("seconds") or 0) > GPU_FULL_SECONDS:
        out.metadata["accelerator"] = "GPU"
        out.metadata["colab"]["gpuType"] = "T4"
    for i, c in enumerate(out.cells):  # nbformat >= 5.1 wants ids; deterministic ones keep diffs small
        c["id"] = f"c{i:03d}"
    return out


# ----------------------------------------------------------------------------- Sphinx


def _site_url(app) -> str:
    base = (app.config.html_baseurl or "").rstrip("/")
    if base:
        return base
    owner, repo = book_config.owner_repo().split("/")
    return f"https://{owner}.github.io/{repo}"


def _build_info() -> dict:
    from course_utils import config
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    try:
        full = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        full = ""
    full = os.environ.get("GITHUB_SHA", "") or full
    commit = full[:10] or commit
    return {"budget": config.get_budget().name, "date": _dt.date.today().isoformat(), "commit": commit,
            "full_commit": full}


COLD_RECORD = Path(__file__).with_name("cold_seconds.json")


def _cold_record() -> dict:
    """``{budget: {chapter.md: {"seconds": s, ...}}}``: each chapter run alone with an empty results cache
    (``scripts/cold_times.py``)."""
    try:
        return json.loads(COLD_RECORD.read_text(encoding="utf-8")).get("budgets", {})
    except (OSError, ValueError):
        return {}


def page_times(rel_md: str, budget: str, seconds: float | None, full_record: dict, cold: dict) -> dict:
    """How long the page takes at each budget, with how each time was measured: alone and cold when the
    cold record has it, else in a run of the whole book (this build for its own budget, the shipped
    ``full`` record for ``full``), where runs shared with earlier chapters were already cached."""
    out = {}
    for b in ("cpu", "full"):
        alone = (cold.get(b) or {}).get(rel_md)
        if alone and alone.get("seconds") is not None:
            out[b] = {"seconds": float(alone["seconds"]),
                      "how": "alone, shared" if "shared" in str(alone.get("machine", "")) else "alone"}
        elif b == budget and seconds is not None:
            out[b] = {"seconds": float(seconds), "how": "book"}
        elif b == "full" and (full_record.get(rel_md) or {}).get("seconds") is not None:
            out[b] = {"seconds": float(full_record[rel_md]["seconds"]), "how": "book"}
        else:
            out[b] = None
    return out


def _full_record() -> dict:
    path = ROOT / "course_utils" / "results" / "full_budget.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("chapters", {})
    except (OSError, ValueError):
        return {}


def _executed(app, docname: str):
    """The page's notebook as myst-nb read it, with the outputs of its execution (None if none)."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import create_nb_reader

    path = Path(app.env.doc2path(docname))
    text = path.read_text(encoding="utf-8")
    reader = create_nb_reader(str(path), app.env.myst_config, app.env.mystnb_config, text)
    if reader is None:
        return None, None
    nb = reader.read(text)
    cache = get_cache(app.env.mystnb_config.execution_cache_path or str(Path(app.outdir).parent / ".jupyter_cache"))
    try:
        rec = cache.match_cache_notebook(nb)
        _, merged = cache.merge_match_into_notebook(nb)
        return merged, rec.data.get("execution_seconds")
    except KeyError:
        return None, None


def _resolver_tables(app):
    env = app.env
    docs = {d: (env.titles[d].astext() if d in env.titles else d) for d in env.found_docs}
    eqs = {}
    for label, obj in env.get_domain("math").data.get("objects", {}).items():
        doc, num = obj[0], obj[1]
        shown = (env.toc_fignumbers.get(doc, {}).get("displaymath", {}) or {}).get(f"equation-{label}")
        eqs[label] = (doc, ".".join(map(str, shown)) if shown else num)  # as the page numbers it, e.g. 9.1
    subs = dict(getattr(app.config, "myst_substitutions", {}) or {})
    return docs, eqs, subs


def exercise_notebook(docname: str, srcdir: Path) -> Path | None:
    """``exercises/NN_name.ipynb`` (the learner's, with stubs) for the page ``book/exercises/NN_name``."""
    parts = Path(docname).parts
    if len(parts) == 3 and parts[:2] == ("book", "exercises"):
        p = srcdir / "exercises" / (parts[2] + ".ipynb")
        return p if p.is_file() else None
    return None


def learner_target(docname: str, srcdir: Path) -> str:
    """Where a page's learner notebook lies under ``_build/notebooks`` (and on the notebooks branch)."""
    ex = exercise_notebook(docname, srcdir)
    return ex.relative_to(srcdir).as_posix() if ex else docname + ".ipynb"


def write_binder(src: Path, dest: Path, build: dict) -> None:
    """``binder/`` for the notebooks branch: the same environment, but the package comes from the repository
    at the commit that built the notebooks (the branch holds no package source to install with ``.``)."""
    if not src.is_dir():
        return
    shutil.copytree(src, dest, dirs_exist_ok=True)
    post = dest / "postBuild"
    if post.is_file():
        req = book_config.install_requirement(branch=build.get("full_commit") or None)
        text = post.read_text(encoding="utf-8")
        if "pip install --no-deps .\n" not in text:
            raise RuntimeError("binder/postBuild no longer installs the package with `pip install --no-deps .`; "
                               "update write_binder in _ext/learner_notebooks.py")
        post.write_text(text.replace("pip install --no-deps .\n", f"pip install --no-deps '{req}'\n"), encoding="utf-8")
        post.chmod(0o755)


def write_learner_notebooks(app, exception) -> None:
    if exception is not None or app.builder.name not in ("html", "dirhtml"):
        return
    import nbformat
    from sphinx.util import logging
    log = logging.getLogger(__name__)

    srcdir = Path(app.srcdir)
    outroot = Path(app.outdir).parent / "notebooks"
    site = Path(app.outdir) / SITE_FOLDER
    docs, eqs, subs = _resolver_tables(app)
    base = _site_url(app)
    build = _build_info()
    record = _full_record()
    cold = _cold_record()
    # the package at the commit that built the notebook (as binder/ on the notebooks branch): the graders
    # and the code a learner runs are those the outputs came from
    install = book_config.learner_install_cell(branch=build.get("full_commit") or None)
    written = []
    for docname in sorted(app.env.found_docs):
        if "kernelspec" not in app.env.metadata.get(docname, {}):
            continue
        page_nb, seconds = _executed(app, docname)
        if page_nb is None:
            log.warning(f"{docname}: no executed notebook in the execution cache, so no learner notebook",
                        type="course", subtype="learner")
            continue
        target = learner_target(docname, srcdir)
        ex = exercise_notebook(docname, srcdir)
        rel_md = Path(app.env.doc2path(docname)).relative_to(srcdir).as_posix()
        times = page_times(rel_md, build["budget"], seconds, record, cold)
        r = Resolver(docname, glued_values(page_nb), base_url=base, docs=docs, equations=eqs,
                     substitutions=subs, srcdir=srcdir)
        if ex is not None:
            nb = nbformat.read(ex, as_version=4)
            # outputs of the page's identical set-up cells (the page runs the solutions; the stubs' cells
            # and everything after the first stub carry none)
            page_out = {c.source.strip(): c.get("outputs", []) for c in page_nb.cells if c.cell_type == "code"}
            for c in nb.cells:
                if c.cell_type == "code":
                    c.outputs = copy.deepcopy(page_out.get(c.source.strip(), []))
            # the Colab/Binder badges of the committed notebook point at the committed file: retarget
            for c in nb.cells:
                if c.cell_type == "markdown":
                    c.source = c.source.replace("/blob/main/exercises/", f"/blob/{NOTEBOOK_BRANCH}/exercises/")
                    c.source = re.sub(r"(mybinder\.org/v2/gh/[^/]+/[^/]+/)main\?", rf"\g<1>{NOTEBOOK_BRANCH}?", c.source)
        else:
            nb = page_nb
        out = build_learner_notebook(nb, docname=docname, resolver=r, build=build, times=times,
                                     executed=page_nb,
                                     install=install, exercise=ex is not None)
        for c in out.cells:
            if c.cell_type == "markdown":
                left = myst_leftovers(c.source)
                if left:
                    r.missing += left
        if r.missing:
            log.warning(f"{docname}: learner notebook: could not convert " + "; ".join(sorted(set(r.missing))[:8]),
                        type="course", subtype="learner")
        for dest in (outroot / target, site / target):
            dest.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(out, dest)
        written.append(target)
    (outroot / "index.json").write_text(json.dumps({"build": build, "notebooks": written}, indent=1) + "\n",
                                        encoding="utf-8")
    write_binder(srcdir / "binder", outroot / "binder", build)
    log.info(f"learner notebooks: {len(written)} in {outroot}")


def setup(app):
    app.connect("build-finished", write_learner_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
