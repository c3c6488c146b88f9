"""Sphinx extension: a page that lists every number the book reports, and what changed since the last build.

Every number in the prose of a chapter is glued (``myst_nb.glue``); myst-nb writes each executed
chapter's glue values to ``_build/jupyter_execute/<docname>.glue.json``.  The directive

.. code-block:: md

    ```{reported-figures}
    ```

puts a placeholder into its page; once every chapter has been read (and executed), the placeholder is
replaced by

* a summary line: how many figures (every scalar glued into the prose: numbers, and texts of any
  length, long ones shortened on screen but compared in full), in how many chapters, which budget and
  device, how many changed since the previous successful build of the same budget;
* a section of the figures that changed, one table per chapter (previous value, new value, signed
  relative change, defined on the page), and
* the whole list under a heading per part and per chapter, each table with a caption.

After a successful HTML build (not one that failed under ``-W --keep-going``) the current values are
saved (atomically) as the snapshot the next build of the same budget compares with:
``<cache>/reported_figures.<budget>.json``, where ``<cache>`` is the project's cache folder
(``course_utils.config.cache_dir()``: ``$COURSE_CACHE`` or ``<project>/.cache``), with the budget, the
device, the date (UTC) and the commit that the pages' provenance lines name
(``course_utils.provenance.git_commit``).  A missing, unreadable or other-budget snapshot is not an
error: the page then says that there is nothing to compare with, and the next build writes a fresh one.

The pure functions (``read_glue``, ``diff``, ``load_snapshot``, ``save_snapshot``, ``fmt``) do not need
Sphinx (nor torch: they use only the light ``course_utils._io``) and are unit-tested in
``tests/test_reported_figures.py``.
"""
from __future__ import annotations

import ast
import datetime as _dt
import json
import math
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from course_utils._io import atomic_write_json

SNAPSHOT_VERSION = 2  # 2: the snapshot records its budget and device; one file per budget
SHOW = 160  # a longer glued text (a generated sentence) is shortened on screen; it is compared in full


# ----------------------------------------------------------------------------- pure functions


def _scalar_text(output: dict) -> str | None:
    """The plain-text value of one glued output, if it is a scalar: a number or a string of any length.

    An output that also carries another representation (a figure, a DataFrame's HTML, Markdown) or
    whose text runs over several lines (a table) is not a scalar.
    """
    data = output.get("data") or {}
    if set(data) - {"text/plain"}:
        return None
    text = data.get("text/plain")
    if isinstance(text, list):
        text = "".join(text)
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or "\n" in text:
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:  # the repr of a str: its escapes (\' in a sentence with both quotes) undone
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = None
        text = value if isinstance(value, str) else text[1:-1]
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


_INT = re.compile(r"[+-]?\d+")


def fmt(text: str) -> str:
    """A glued value for the table: an integer as glued, other numbers to 4 significant digits, text as it is."""
    if _INT.fullmatch(text.strip()):
        return text.strip()               # 0 stays 0, 633226 stays 633226: the glue's own form
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


def shorten(text: str, width: int = SHOW) -> str:
    """``text`` cut at a word to at most about ``width`` characters, with "…" when cut."""
    if len(text) <= width:
        return text
    cut = text[:width].rsplit(" ", 1)[0]
    if cut.count("$") % 2:  # never leave half a formula
        cut = cut.rsplit("$", 1)[0]
    return cut.rstrip() + " …"


ROLE = re.compile(r"\{glue(?::text|:md)?\}`([^`:]+)(?::([^`]*))?`")


def _apply(text: str, spec: str | None) -> str:
    """A glued value with the format spec of its role (``:.3f``), as the prose prints it.

    Without a spec the role prints the glued text itself (3.4445 stays 3.4445, 0 stays 0).
    """
    if spec:
        for parse in (int, float):  # an int keeps an integer spec (``:,`` prints 633,226, not 633,226.0)
            try:
                return format(parse(text), spec)
            except (TypeError, ValueError):
                continue
    return text


def _clean(text: str, values: dict[str, str], doc_title=None, eq_number=None) -> str:
    """MyST source as the reader sees it: glue roles replaced by their values, other markup dropped.

    ``doc_title(target)``, when given, names the page of a ``{doc}`target``` role without a title (the
    chapter shows that page's title, not its file name); ``eq_number(label)`` the number an ``{eq}``
    reference shows ("(2.1)"), else the label is shown in brackets.
    """
    text = ROLE.sub(lambda m: _apply(values[m.group(1)], m.group(2)) if m.group(1) in values else "…", text)
    if doc_title is not None:
        text = re.sub(r"\{doc\}`([^`<]+)`", lambda m: doc_title(m.group(1).strip()) or m.group(1), text)
    text = re.sub(r"\{eq\}`([^`]*)`",  # an equation reference: its number, else its label in brackets
                  lambda m: (eq_number(m.group(1).strip()) if eq_number else None) or f"({m.group(1)})", text)
    text = re.sub(r"\{[\w:-]+\}`([^`<]*?)\s*<[^`>]*>`", r"\1", text)  # {doc}`title <target>`: the title
    text = re.sub(r"\{[\w:-]+\}`([^`]*)`", r"\1", text)  # other roles: their text
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    return " ".join(text.replace("$$", "$").replace("`", "").replace("*", "").split())


_CLAUSE_END = re.compile(r"[,;:.!?](?=\s|$)|[()]|\n\s*\n")


def _clause_tail(source: str, start: int, limit: int = 400) -> str:
    """The source from ``start`` to the end of its clause (``, ; : . ( )`` outside a formula, or a blank line)."""
    text = source[start:start + limit]
    in_math = False
    for i, ch in enumerate(text):
        if ch == "$":
            in_math = not in_math
        elif not in_math and _CLAUSE_END.match(text, i):
            return text[:i]
    return text


def quote(source: str, name: str, values: dict[str, str], *, width: int = 90, after: int = 50,
          doc_title=None, eq_number=None) -> str | None:
    """The prose that quotes ``name`` in a MyST ``source``: its sentence up to the number, and the rest of
    the number's clause after it (the unit or noun that gives it its meaning), shortened.

    Other glued numbers in that stretch are replaced by their values, markup is dropped, and the number
    itself is shown in brackets as the chapter prints it. ``None`` when the prose does not quote it
    (a figure used only in a table or a plot).
    """
    hit = next((m for m in ROLE.finditer(source) if m.group(1) == name), None)
    if hit is None or name not in values:
        return None
    line_start = source.rfind("\n", 0, hit.start()) + 1
    line_end = source.find("\n", hit.end())
    line_end = len(source) if line_end < 0 else line_end
    if source[line_start:hit.start()].lstrip().startswith("|"):  # a Markdown table row: quote its cell only
        start = source.rfind("|", line_start, hit.start()) - 1
        stop = source.find("|", hit.end(), line_end)
        tail = source[hit.end():stop if stop >= 0 else line_end]
        tail = _clause_tail(tail, 0)
    else:
        start = max(source.rfind(". ", 0, hit.start()), source.rfind("\n\n", 0, hit.start()))
        tail = _clause_tail(source, hit.end())
    prefix = _clean(source[start + 2 if start >= 0 else 0:hit.start()], values, doc_title, eq_number)
    if len(prefix) > width:
        prefix = "…" + prefix[-width:].split(" ", 1)[-1]
        if prefix.count("$") % 2:  # the cut fell inside a formula: drop the formula's tail
            prefix = "…" + prefix.split("$", 1)[1].lstrip()
    suffix = _clean(tail, values, doc_title, eq_number)
    if len(suffix) > after:
        suffix = suffix[:after].rsplit(" ", 1)[0]
        if suffix.count("$") % 2:
            suffix = suffix.rsplit("$", 1)[0]
        suffix = suffix.rstrip() + " …"
    glued = shorten(_apply(values[name], hit.group(2)))
    # the suffix follows the number as the source has it: "[28]×28 pixels", "[2.9] %"
    space = " " if tail[:1].isspace() else ""
    before = " " if prefix and (hit.start() == 0 or source[hit.start() - 1].isspace()) else ""
    return f"{prefix}{before}[{glued}]{space}{suffix}".strip()


def anchor_for(quoted: str, paragraphs: list[tuple[str, str]]) -> str | None:
    """The id of the section whose paragraph holds the number of a quote (``paragraphs``: the chapter's
    ``(text, section id)`` in order), so that a row links to where the number is; ``None`` if not found.

    The number as printed is looked up with the words after it, then with the words before it, then
    alone; a bare number shorter than 4 characters is too common to place.
    """
    m = re.search(r"\[([^\]]+)\]", quoted)
    if m is None:
        return None
    glued = m.group(1).rstrip(" …")
    before = quoted[:m.start()].replace("…", "").split("$")[-1].strip()
    after = quoted[m.end():].replace("…", "").split("$")[0].rstrip()
    keys = [glued + after[:25] if after.strip() else None, before[-25:] + " " + glued if before else None,
            glued if len(glued) >= 4 else None]
    for key in keys:
        if not key or not key.strip():
            continue
        key = " ".join(key.split())
        for text, ident in paragraphs:
            if key in text:
                return ident
    return None


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
        """The signed relative change ``(now − previous) / |previous|`` (4.787 → 11 is +1.30, i.e. +130 %);
        ``None`` for text, a figure new or gone, or a previous value of 0 (no relative change from 0)."""
        a, b = as_number(self.old or ""), as_number(self.new or "")
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            return None
        if a == b:
            return 0.0
        if a == 0:
            return None
        return (b - a) / abs(a)

    @property
    def size(self) -> float:
        """For sorting, largest first: text changes, new and gone figures, and changes from 0 or to/from
        a non-finite value count as the largest."""
        rel = self.relative
        return math.inf if rel is None else abs(rel)

    def shown(self) -> tuple[str, str]:
        """Previous and now as the table prints them: to 4 significant digits, or in full when the
        4-digit forms would look identical (a change in the 5th digit is still shown as one)."""
        old = fmt(self.old) if self.old is not None else "(new)"
        new = fmt(self.new) if self.new is not None else "(gone)"
        if old == new and self.old is not None and self.new is not None:
            return self.old, self.new
        return old, new

    def described(self) -> str:
        """The "Change" cell: a signed percentage, or what happened when there is no percentage."""
        if self.old is None:
            return "new"
        if self.new is None:
            return "gone"
        a, b = as_number(self.old), as_number(self.new)
        if a is None or b is None:
            return "text changed"
        rel = self.relative
        if rel is None:
            return "from 0" if a == 0 else "—"
        pct = 100 * rel
        shown = f"{pct:+.1f}" if abs(pct) >= 0.1 else f"{pct:+.1g}"  # never "+0.0 %" for a change
        return shown.replace("-", "−") + " %"  # a minus sign, as on the rest of the page


def diff(previous: dict[str, dict[str, str]], current: dict[str, dict[str, str]],
         *, rtol: float = 1e-9) -> list[Change]:
    """Figures whose value changed (beyond ``rtol`` for numbers), appeared, or disappeared.

    Texts (generated sentences of any length) are compared in full. Within a chapter the changes are
    sorted largest first (see ``Change.size``); chapters keep their order.
    """
    changes = []
    for doc in list(current) + [d for d in previous if d not in current]:
        old_vals, new_vals = previous.get(doc, {}), current.get(doc, {})
        in_doc = []
        for name in sorted(set(old_vals) | set(new_vals)):
            old, new = old_vals.get(name), new_vals.get(name)
            if old == new:
                continue
            a, b = as_number(old or ""), as_number(new or "")
            if (a is not None and b is not None and math.isfinite(a) and math.isfinite(b)
                    and abs(b - a) <= rtol * max(abs(a), abs(b))):
                continue
            in_doc.append(Change(doc, name, old, new))
        changes += sorted(in_doc, key=lambda c: -c.size)
    return changes


def load_snapshot(path: Path, budget: str | None = None) -> tuple[dict | None, str | None]:
    """``(snapshot, problem)``: the previous build's snapshot, or ``None`` and why it cannot be used.

    With ``budget``, a snapshot of another budget is not used (its figures come from other runs).
    """
    path = Path(path)
    if not path.is_file():
        return None, (f"no previous successful build of the {budget} budget on this machine" if budget
                      else "no previous build on this machine")
    try:
        snap = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError) as e:
        return None, f"the previous snapshot {path} is unreadable ({e.__class__.__name__}); a new one will be written"
    ok = (isinstance(snap, dict) and snap.get("version") == SNAPSHOT_VERSION
          and isinstance(snap.get("figures"), dict)
          and all(isinstance(v, dict) for v in snap["figures"].values()))
    if not ok:
        return None, f"the previous snapshot {path} has an unknown layout; a new one will be written"
    if budget is not None and snap.get("budget") != budget:
        return None, (f"the previous snapshot {path} is of the {snap.get('budget') or 'unrecorded'} budget, "
                      f"this build of the {budget} budget; figures are compared only within one budget")
    return snap, None


def save_snapshot(path: Path, figures: dict[str, dict[str, str]], *, commit: str, date: str,
                  budget: str | None = None, device: str | None = None) -> None:
    """Write the snapshot atomically (``course_utils._io``: a temporary file in the same folder, then ``os.replace``)."""
    atomic_write_json({"version": SNAPSHOT_VERSION, "commit": commit, "date": date, "budget": budget,
                       "device": device, "figures": figures}, path)


def snapshot_name(budget: str) -> str:
    """One snapshot per budget, so that a cpu build is never compared with a full one."""
    return f"reported_figures.{budget}.json"


def build_failed(app) -> bool:
    """Whether a build that raised no exception still fails: ``-W --keep-going`` counts the warnings and
    sets the failing exit status only after ``build-finished`` (Sphinx 7.4 ``Sphinx.build``)."""
    return bool(getattr(app, "_warncount", 0) and getattr(app, "keep_going", False))


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

    def _budget_and_device() -> tuple[str, str]:
        from course_utils.config import default_device, get_budget  # imports torch: only here

        return get_budget().name, str(default_device())

    def _snapshot_path(app: Sphinx) -> Path:
        from course_utils.config import cache_dir  # imports torch: only here, once per build

        return cache_dir(create=False) / snapshot_name(_budget_and_device()[0])

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

    def _parts(app: Sphinx) -> dict[str, str]:
        """``{docname: caption of its part}`` from the captions of the toctrees (``_toc.yml``'s parts)."""
        from sphinx import addnodes

        parts: dict[str, str] = {}
        try:
            root = app.env.get_doctree(app.config.root_doc)
        except Exception:  # noqa: BLE001 - no root doctree: the chapters are listed without parts
            return parts
        for toc in root.findall(addnodes.toctree):
            caption = toc.get("caption")
            if not caption:
                continue
            stack = list(toc.get("includefiles", []))
            while stack:
                doc = stack.pop()
                if doc not in parts:
                    parts[doc] = caption
                    stack += app.env.toctree_includes.get(doc, [])
        return parts

    def _current(app: Sphinx) -> dict[str, dict[str, str]]:
        if not hasattr(app, "_course_figures"):
            app._course_figures = read_glue(_glue_dir(app), _toc_order(app))
        return app._course_figures

    def _table(header: list[str], rows: list[list[nodes.Node | str]], widths: list[int], *,
               caption: str, kind: str, ident: str) -> nodes.table:
        # a captioned table needs an id (Sphinx warns otherwise, and the book builds with -W)
        table = nodes.table(classes=["reported-figures", f"reported-figures-{kind}"], ids=[nodes.make_id(ident)])
        table += nodes.title(text=caption)  # rendered as the table's <caption>
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

    def _title(app: Sphinx, doc: str) -> str:
        return app.env.titles[doc].astext() if doc in app.env.titles else doc

    def _doc_ref(app: Sphinx, fromdoc: str, doc: str) -> nodes.Node:
        if doc not in app.env.titles:
            return nodes.Text(doc)
        return nodes.reference("", _title(app, doc), internal=True,
                               refuri=app.builder.get_relative_uri(fromdoc, doc))

    def _section(title: nodes.Node | str, ident: str) -> nodes.section:
        sec = nodes.section(ids=[nodes.make_id(ident)])
        head = nodes.title()
        head += nodes.Text(title) if isinstance(title, str) else title
        sec += head
        return sec

    def _value(text: str, *, nowrap: bool = False) -> nodes.paragraph:
        """A table cell holding a value: a number kept on one line (course.css), a text free to wrap."""
        para = nodes.paragraph()
        if nowrap or as_number(text) is not None or text in ("≈ 0", "∞", "−∞", "NaN"):
            para += nodes.inline(text=text, classes=["reported-figures-number"])
        else:
            para += nodes.Text(text)
        return para

    def _literal(text: str, refuri: str | None = None) -> nodes.paragraph:
        """A glue name; with ``refuri``, a link to the section of the chapter that quotes it."""
        para = nodes.paragraph()
        if refuri:
            ref = nodes.reference("", "", internal=True, refuri=refuri)
            ref += nodes.literal(text=text)
            para += ref
        else:
            para += nodes.literal(text=text)
        return para

    def _paragraphs(app: Sphinx, doc: str) -> list[tuple[str, str]]:
        """The chapter's paragraphs (glue already filled in when the chapter was read), each with the id
        of the innermost section that holds it."""
        try:
            tree = app.env.get_doctree(doc)
        except Exception:  # noqa: BLE001 - rows then link to the chapter's heading only
            return []
        found = []
        for para in tree.findall(nodes.paragraph):
            sec = para.parent
            while sec is not None and not (isinstance(sec, nodes.section) and sec.get("ids")):
                sec = sec.parent
            if sec is not None:
                found.append((" ".join(para.astext().split()), sec["ids"][0]))
        return found

    CHANGE_DEFINITION = (
        "Change is the signed relative change, (now − previous) / |previous|: +130 % means that the "
        "figure rose to 2.3 times its previous value, −50 % that it halved. A change from 0 has no "
        "relative size and is marked “from 0”; a changed text (a generated sentence) is compared in full "
        "and marked “text changed”. Within a chapter the largest changes come first. Previous and Now "
        "are shown to four significant digits, or in full where those would look the same.")

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
        budget, device = _budget_and_device()
        snap, problem = load_snapshot(_snapshot_path(app), budget)
        content: list[nodes.Node] = []
        n_figs = sum(len(v) for v in current.values())
        n_long = sum(len(t) > SHOW for v in current.values() for t in v.values())
        what = (f"This {budget}-budget build ({device}) reports {_n(n_figs, 'figure')} in "
                f"{_n(len(current), 'chapter')}: every number and every text glued into the prose"
                + (f" ({n_long} of them, generated sentences longer than {SHOW} characters, are shortened "
                   f"on screen and compared in full)" if n_long else "")
                + "; glued tables and plots are not listed")
        if snap is None:
            summary = f"{what}. There is nothing to compare them with: {problem}."
            changes = []
        else:
            changes = diff(snap["figures"], current)
            since = (f"the previous successful build of the same budget (commit {snap.get('commit', '?')}, "
                     f"{snap.get('date', '?')}, {snap.get('device') or 'device not recorded'})")
            n_gone = sum(c.new is None for c in changes)
            summary = (f"{what}. Since {since}, {_n(len(changes) - n_gone, 'figure')} changed or appeared"
                       + (f", and {n_gone} of that build's figures are gone." if n_gone else "."))
        content.append(nodes.paragraph(text=summary))
        if changes:
            sec = _section("Changed since the previous build", "reported-figures-changed")
            sec += nodes.paragraph(text=CHANGE_DEFINITION)
            for doc in dict.fromkeys(c.doc for c in changes):
                rows = []
                for c in (c for c in changes if c.doc == doc):
                    old, new = c.shown()
                    rows.append([_literal(c.name), _value(old), _value(new), _value(c.described(), nowrap=True)])
                head = nodes.inline()
                head += _doc_ref(app, docname, doc)
                sub = _section(head, f"changed-{doc}")
                sub += _table(["Name", "Previous", "Now", "Change"], rows, [34, 22, 22, 22],
                              caption=f"Figures of “{_title(app, doc)}” that changed", kind="changes",
                              ident=f"table-changed-{doc}")
                sec += sub
            content.append(sec)
        every = _section("Every reported figure, chapter by chapter", "reported-figures-all")
        parts = _parts(app)
        part_sec, part_name = None, None
        for doc, values in current.items():
            part = parts.get(doc, "Other pages")
            if part_sec is None or part != part_name:
                part_sec, part_name = _section(part, f"figures-part-{part}"), part
                every += part_sec
            try:
                source = Path(app.env.doc2path(doc)).read_text(encoding="utf8")
            except OSError:
                source = ""
            def doc_title(target: str, doc=doc) -> str | None:
                target = target[:-3] if target.endswith(".md") else target
                full = (target.lstrip("/") if target.startswith("/")
                        else posixpath.normpath(posixpath.join(posixpath.dirname(doc), target)))
                return _title(app, full) if full in app.env.titles else None

            def eq_number(label: str, doc=doc) -> str | None:
                try:
                    ref = app.env.get_domain("math").resolve_xref(
                        app.env, doc, app.builder, "eq", label, None, nodes.Text(label))
                except Exception:  # noqa: BLE001 - the label in brackets, as before
                    return None
                return ref.astext() if ref is not None else None

            paragraphs = _paragraphs(app, doc)
            rows = []
            for name, text in values.items():
                quoted = quote(source, name, values, doc_title=doc_title, eq_number=eq_number)
                ident = anchor_for(quoted, paragraphs) if quoted else None
                rows.append([_literal(name, app.builder.get_relative_uri(docname, doc) + "#" + ident
                                      if ident and doc in app.env.titles else None),
                             _value(shorten(fmt(text))),
                             quoted_nodes(quoted or "(not quoted in the prose)")])
            head = nodes.inline()
            head += _doc_ref(app, docname, doc)
            chap = _section(head, f"figures-{doc}")
            chap += _table(["Name", "Value", "Quoted in the text as"], rows, [22, 18, 60],
                           caption=f"Figures of “{_title(app, doc)}”", kind="list", ident=f"table-figures-{doc}")
            part_sec += chap
        content.append(every)
        for h in holders:
            h.replace_self(content)
        # The quotes carry math, added after Sphinx noted which pages have equations: note it, so that the
        # page loads MathJax (sphinx.ext.mathjax adds it only to pages whose math domain has equations).
        if any(isinstance(n, nodes.math) for c in content for n in c.findall(nodes.math)):
            app.env.get_domain("math").data["has_equations"][docname] = True
        _update_local_toc(app, doctree, docname)

    def _update_local_toc(app: Sphinx, doctree: nodes.document, docname: str) -> None:
        """The headings added here, in the page's "On this page" contents: Sphinx collected the page's
        table of contents when it read the page, before the headings existed."""
        from sphinx.environment.collectors.toctree import TocTreeCollector

        had = "docname" in app.env.temp_data
        saved = app.env.temp_data.get("docname")
        app.env.temp_data["docname"] = docname
        try:
            TocTreeCollector().process_doc(app, doctree)
        except Exception as e:  # noqa: BLE001 - the page is still right without its local contents
            LOG.info(f"reported figures: the page's local contents were not updated ({e.__class__.__name__}: {e})")
        finally:
            if had:
                app.env.temp_data["docname"] = saved
            else:
                app.env.temp_data.pop("docname", None)

    def force_rewrite(app: Sphinx, env, added, changed, removed) -> list[str]:
        """The page depends on every chapter: re-read it on every build."""
        return [d for d, meta in env.metadata.items() if meta.get("reported_figures")]

    def write_snapshot(app: Sphinx, exception) -> None:
        """Save this build's figures for the next build, only when the build succeeded."""
        if exception is not None or app.builder.format != "html":
            return
        if build_failed(app):
            LOG.info("reported figures: the build failed (warnings under -W); the snapshot is not updated")
            return
        current = _current(app)
        if not current:
            return
        path = _snapshot_path(app)
        budget, device = _budget_and_device()
        try:
            save_snapshot(path, current, commit=git_commit(app.srcdir), budget=budget, device=device,
                          date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
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
