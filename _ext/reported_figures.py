"""Sphinx extension: a page that lists every number the book reports, and what changed since the last build.

Every number in the prose of a chapter is glued (``myst_nb.glue``); myst-nb writes each executed
chapter's glue values to ``_build/jupyter_execute/<docname>.glue.json``.  The directive

.. code-block:: md

    ```{reported-figures}
    ```

puts a placeholder into its page; once every chapter has been read (and executed), the placeholder is
replaced by

* a summary line: how many figures, in how many chapters, how many changed since the previous build;
* a table of the figures that changed (old value, new value, relative change), and
* the whole list, chapter by chapter, each chapter linked.

After a successful HTML build the current values are saved (atomically) as the snapshot the next build
compares with: ``<cache>/reported_figures.json``, where ``<cache>`` is the project's cache folder
(``course_utils.config.cache_dir()``: ``$COURSE_CACHE`` or ``<project>/.cache``), with the commit that
the pages' provenance lines name (``course_utils.provenance.git_commit``).  A missing or unreadable
snapshot is not an error: the page then says that there is nothing to compare with, and the next build
writes a fresh one.

The pure functions (``read_glue``, ``diff``, ``load_snapshot``, ``save_snapshot``, ``fmt``) do not need
Sphinx (nor torch: they use only the light ``course_utils._io``) and are unit-tested in
``tests/test_reported_figures.py``.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from course_utils._io import atomic_write_json

SNAPSHOT_VERSION = 1
MAX_TEXT = 60  # longer glue values (tables, figures) are not "figures" in the sense of this page


# ----------------------------------------------------------------------------- pure functions


def _scalar_text(output: dict) -> str | None:
    """The plain-text value of one glued output, if it is a short scalar (a number or a short string)."""
    text = (output.get("data") or {}).get("text/plain")
    if isinstance(text, list):
        text = "".join(text)
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or "\n" in text or len(text) > MAX_TEXT:
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


def read_glue(glue_dir: Path, docnames: list[str]) -> dict[str, dict[str, str]]:
    """``{docname: {glue name: text}}`` for every doc of ``docnames`` that has a ``.glue.json`` file."""
    found: dict[str, dict[str, str]] = {}
    for doc in docnames:
        path = Path(glue_dir) / f"{doc}.glue.json"
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf8"))
        except (OSError, ValueError):
            continue
        values = {}
        for name, output in (data.items() if isinstance(data, dict) else []):
            text = _scalar_text(output) if isinstance(output, dict) else None
            if text is not None:
                values[name] = text
        if values:
            found[doc] = dict(sorted(values.items()))
    return found


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def as_number(text: str) -> float | None:
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x


def fmt(text: str) -> str:
    """A glued value for the table: numbers to 4 significant digits, anything else as it is."""
    x = as_number(text)
    if x is None:
        return text
    if math.isnan(x):
        return "NaN"                       # a value that is not a number (e.g. an overflowed variance)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return str(x)
    if abs(x) < 1e-200:                    # float rounding of an exact zero (a loss at its minimum)
        return "≈ 0"
    if float(x).is_integer() and abs(x) < 1e7:
        return str(int(x))
    return f"{x:.4g}"


ROLE = re.compile(r"\{glue(?::text|:md)?\}`([^`:]+)(?::([^`]*))?`")


def _apply(text: str, spec: str | None) -> str:
    """A glued value with the format spec of its role (``:.3f``), as the prose prints it."""
    if spec:
        for parse in (int, float):  # an int keeps an integer spec (``:,`` prints 633,226, not 633,226.0)
            try:
                return format(parse(text), spec)
            except (TypeError, ValueError):
                continue
    return fmt(text)


def quote(source: str, name: str, values: dict[str, str], *, width: int = 90) -> str | None:
    """The prose that quotes ``name`` in a MyST ``source``: its sentence up to the number, shortened.

    Other glued numbers in that stretch are replaced by their values, markup is dropped, and the number
    itself is shown in brackets as the chapter prints it. ``None`` when the prose does not quote it
    (a figure used only in a table or a plot).
    """
    hit = next((m for m in ROLE.finditer(source) if m.group(1) == name), None)
    if hit is None or name not in values:
        return None
    start = max(source.rfind(". ", 0, hit.start()), source.rfind("\n\n", 0, hit.start()))
    prefix = source[start + 2 if start >= 0 else 0:hit.start()]
    prefix = ROLE.sub(lambda m: _apply(values[m.group(1)], m.group(2)) if m.group(1) in values else "…", prefix)
    prefix = re.sub(r"\{[\w:-]+\}`([^`]*)`", r"\1", prefix)  # other roles: their text
    prefix = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", prefix)  # links: their text
    prefix = " ".join(prefix.replace("$$", "$").replace("`", "").replace("*", "").split())
    if len(prefix) > width:
        prefix = "…" + prefix[-width:].split(" ", 1)[-1]
        if prefix.count("$") % 2:  # the cut fell inside a formula: drop the formula's tail
            prefix = "…" + prefix.split("$", 1)[1].lstrip()
    return f"{prefix} [{_apply(values[name], hit.group(2))}]".strip()


def quoted_nodes(text: str):
    """A quote as docutils nodes: its ``$…$`` formulas as math (typeset by MathJax), the rest as text."""
    para = nodes.paragraph()
    for k, part in enumerate(text.split("$")):
        if part:
            para += nodes.math(text=part) if k % 2 else nodes.Text(part)
    return para


@dataclass(frozen=True)
class Change:
    doc: str
    name: str
    old: str | None  # None: new since the previous build
    new: str | None  # None: gone since the previous build

    @property
    def relative(self) -> float | None:
        a, b = as_number(self.old or ""), as_number(self.new or "")
        if a is None or b is None:
            return None
        if a == b:
            return 0.0
        return abs(b - a) / max(abs(a), abs(b))


def diff(previous: dict[str, dict[str, str]], current: dict[str, dict[str, str]],
         *, rtol: float = 1e-9) -> list[Change]:
    """Figures whose value changed (beyond ``rtol`` for numbers), appeared, or disappeared."""
    changes = []
    for doc in list(current) + [d for d in previous if d not in current]:
        old_vals, new_vals = previous.get(doc, {}), current.get(doc, {})
        for name in sorted(set(old_vals) | set(new_vals)):
            old, new = old_vals.get(name), new_vals.get(name)
            if old == new:
                continue
            change = Change(doc, name, old, new)
            rel = change.relative
            if rel is not None and rel <= rtol:
                continue
            changes.append(change)
    return changes


def load_snapshot(path: Path) -> tuple[dict | None, str | None]:
    """``(snapshot, problem)``: the previous build's snapshot, or ``None`` and why it cannot be used."""
    path = Path(path)
    if not path.is_file():
        return None, "no previous build on this machine"
    try:
        snap = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError) as e:
        return None, f"the previous snapshot {path} is unreadable ({e.__class__.__name__}); a new one will be written"
    ok = (isinstance(snap, dict) and snap.get("version") == SNAPSHOT_VERSION
          and isinstance(snap.get("figures"), dict)
          and all(isinstance(v, dict) for v in snap["figures"].values()))
    if not ok:
        return None, f"the previous snapshot {path} has an unknown layout; a new one will be written"
    return snap, None


def save_snapshot(path: Path, figures: dict[str, dict[str, str]], *, commit: str, date: str) -> None:
    """Write the snapshot atomically (``course_utils._io``: a temporary file in the same folder, then ``os.replace``)."""
    atomic_write_json({"version": SNAPSHOT_VERSION, "commit": commit, "date": date, "figures": figures}, path)


# ----------------------------------------------------------------------------- Sphinx glue

try:  # the pure functions above are importable without Sphinx (unit tests)
    from docutils import nodes
    from sphinx.application import Sphinx
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective
except ImportError:  # pragma: no cover
    nodes = None

if nodes is not None:
    from course_utils.provenance import git_commit

    LOG = logging.getLogger(__name__)

    class reported_figures(nodes.General, nodes.Element):
        """Placeholder, replaced in ``doctree-resolved`` when every chapter has been executed."""

    class ReportedFiguresDirective(SphinxDirective):
        has_content = False

        def run(self):
            self.env.metadata[self.env.docname]["reported_figures"] = True
            return [reported_figures("")]

    def _snapshot_path(app: Sphinx) -> Path:
        from course_utils.config import cache_dir  # imports torch: only here, once per build

        return cache_dir(create=False) / "reported_figures.json"

    def _glue_dir(app: Sphinx) -> Path:
        return Path(app.outdir).parent / "jupyter_execute"

    def _toc_order(app: Sphinx) -> list[str]:
        env, seen, order = app.env, set(), []

        def walk(doc):
            if doc in seen:
                return
            seen.add(doc)
            order.append(doc)
            for child in env.toctree_includes.get(doc, []):
                walk(child)
        walk(app.config.root_doc)
        return order + sorted(d for d in env.found_docs if d not in seen)

    def _current(app: Sphinx) -> dict[str, dict[str, str]]:
        if not hasattr(app, "_course_figures"):
            app._course_figures = read_glue(_glue_dir(app), _toc_order(app))
        return app._course_figures

    def _table(header: list[str], rows: list[list[nodes.Node | str]], widths: list[int]) -> nodes.table:
        table = nodes.table(classes=["reported-figures"])
        group = nodes.tgroup(cols=len(header))
        table += group
        for w in widths:
            group += nodes.colspec(colwidth=w)
        head, body = nodes.thead(), nodes.tbody()
        group += head
        group += body

        def row(cells, parent):
            r = nodes.row()
            for c in cells:
                entry = nodes.entry()
                entry += c if isinstance(c, nodes.Node) else nodes.paragraph(text=str(c))
                r += entry
            parent += r
        row([nodes.paragraph(text=h) for h in header], head)
        for cells in rows:
            row(cells, body)
        return table

    def _doc_link(app: Sphinx, fromdoc: str, doc: str) -> nodes.paragraph:
        title = app.env.titles[doc].astext() if doc in app.env.titles else doc
        para = nodes.paragraph()
        ref = nodes.reference("", title, internal=True,
                              refuri=app.builder.get_relative_uri(fromdoc, doc))
        para += ref
        return para

    def _literal(text: str) -> nodes.paragraph:
        para = nodes.paragraph()
        para += nodes.literal(text=text)
        return para

    def fill_placeholders(app: Sphinx, doctree: nodes.document, docname: str) -> None:
        holders = list(doctree.findall(reported_figures))
        if not holders:
            return
        if app.builder.format != "html":
            for h in holders:
                h.replace_self(nodes.paragraph(
                    text="The list of every reported figure, and of what changed since the previous "
                         "build, is a page of the HTML edition of this book."))
            return
        current = _current(app)
        snap, problem = load_snapshot(_snapshot_path(app))
        content: list[nodes.Node] = []
        n_figs = sum(len(v) for v in current.values())
        if snap is None:
            summary = (f"This build reports {_n(n_figs, 'figure')} in {_n(len(current), 'chapter')}. "
                       f"There is nothing to compare them with: {problem}.")
            changes = []
        else:
            changes = diff(snap["figures"], current)
            since = f"the previous build (commit {snap.get('commit', '?')}, {snap.get('date', '?')})"
            summary = (f"This build reports {_n(n_figs, 'figure')} in {_n(len(current), 'chapter')}; "
                       f"{len(changes)} of them changed, appeared or disappeared since {since}.")
        content.append(nodes.paragraph(text=summary))
        if changes:
            sec = nodes.rubric(text="Changed since the previous build")
            rows = []
            for c in changes:
                rel = c.relative
                rows.append([_doc_link(app, docname, c.doc) if c.doc in app.env.titles else c.doc,
                             _literal(c.name),
                             fmt(c.old) if c.old is not None else "(new)",
                             fmt(c.new) if c.new is not None else "(gone)",
                             f"{rel:.1%}" if rel is not None else "—"])
            content += [sec, _table(["Chapter", "Name", "Previous", "Now", "Relative change"], rows,
                                    [30, 25, 15, 15, 15])]
        content.append(nodes.rubric(text="Every reported figure, chapter by chapter"))
        for doc, values in current.items():
            content.append(_doc_link(app, docname, doc))
            try:
                source = Path(app.env.doc2path(doc)).read_text(encoding="utf8")
            except OSError:
                source = ""
            rows = [[_literal(name), fmt(text), quoted_nodes(quote(source, name, values) or "(in a table or figure)")]
                    for name, text in values.items()]
            content.append(_table(["Name", "Value", "Quoted in the text as"], rows, [22, 13, 65]))
        for h in holders:
            h.replace_self(content)
        # The quotes carry math, added after Sphinx noted which pages have equations: note it, so that the
        # page loads MathJax (sphinx.ext.mathjax adds it only to pages whose math domain has equations).
        if any(isinstance(n, nodes.math) for c in content for n in c.findall(nodes.math)):
            app.env.get_domain("math").data["has_equations"][docname] = True

    def force_rewrite(app: Sphinx, env, added, changed, removed) -> list[str]:
        """The page depends on every chapter: re-read it on every build."""
        return [d for d, meta in env.metadata.items() if meta.get("reported_figures")]

    def write_snapshot(app: Sphinx, exception) -> None:
        if exception is not None or app.builder.format != "html":
            return
        current = _current(app)
        if not current:
            return
        path = _snapshot_path(app)
        try:
            save_snapshot(path, current, commit=git_commit(app.srcdir),
                          date=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
            LOG.info(f"reported figures: snapshot written to {path}")
        except OSError as e:
            LOG.info(f"reported figures: could not write {path} ({e}); the next build has nothing to compare with")

    def _skip(self, node):  # never reached: fill_placeholders replaces every placeholder
        raise nodes.SkipNode

    def setup(app: Sphinx):
        app.add_node(reported_figures, html=(_skip, None), latex=(_skip, None), text=(_skip, None))
        app.add_directive("reported-figures", ReportedFiguresDirective)
        app.connect("env-get-outdated", force_rewrite)
        app.connect("doctree-resolved", fill_placeholders)
        app.connect("build-finished", write_snapshot)
        return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": False}
