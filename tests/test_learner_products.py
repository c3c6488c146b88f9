"""What the build made for people, read back after `make book` (the `site` stage of `make test`):

* the learner notebooks in ``_build/notebooks`` (what Colab and Binder open): one per chapter with code and
  per exercise, no MyST syntax, no check or glue cell, the build's outputs, the header and the short
  install cell, Colab metadata; the same files published under ``_build/html/_notebooks``;
* the launch buttons and download links of every built page open those notebooks and nothing else;
* no built page shows plumbing: no visible code cell calls ``glue(`` or assembles a sentence.

Sizes of the notebooks go to ``_build/notebooks/sizes.json`` (the README reports them).
"""
import html as htmllib
import importlib.util
import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "html"))
NOTEBOOKS = ROOT / "_build" / "notebooks"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ln = _load("learner_notebooks", ROOT / "_ext" / "learner_notebooks.py")
sync = _load("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
page_code = _load("page_code", ROOT / "scripts" / "page_code.py")
book_config = _load("book_config", ROOT / "scripts" / "book_config.py")

if not (NOTEBOOKS / "index.json").is_file():
    if os.environ.get("COURSE_REQUIRE_SITE"):
        raise RuntimeError("_build/notebooks/index.json is missing: `make book` must write the learner notebooks")
    pytest.skip("no built learner notebooks (run `make book`)", allow_module_level=True)

INDEX = json.loads((NOTEBOOKS / "index.json").read_text(encoding="utf-8"))
CHAPTERS = {md.relative_to(ROOT).with_suffix("").as_posix(): md for md in sync.chapters(ROOT)}
TARGETS = {d: ln.learner_target(d, ROOT) for d in CHAPTERS}


def _nb(target):
    return nbformat.read(NOTEBOOKS / target, as_version=4)


def _is_exercise(target):
    return target.startswith("exercises/")


def test_every_chapter_and_exercise_has_a_learner_notebook():
    missing = sorted(t for t in TARGETS.values() if not (NOTEBOOKS / t).is_file())
    assert not missing, f"no learner notebook for {missing}"
    assert sorted(INDEX["notebooks"]) == sorted(TARGETS.values())
    published = sorted(t for t in TARGETS.values() if not (HTML / ln.SITE_FOLDER / t).is_file())
    assert not published, f"not published with the site: {published}"
    assert sum(_is_exercise(t) for t in TARGETS.values()) == 7


@pytest.mark.parametrize("docname", sorted(CHAPTERS))
def test_a_learner_notebook_is_clean(docname):
    target = TARGETS[docname]
    nb = _nb(target)
    nbformat.validate(nb)
    md_cells = [c for c in nb.cells if c.cell_type == "markdown"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in md_cells:
        assert ln.myst_leftovers(c.source) == [], f"{target}: MyST left: {ln.myst_leftovers(c.source)}"
    # the build-only cells of the source never reach the learner
    removed = {src.strip() for tags, src in page_code.code_cells(CHAPTERS[docname].read_text(encoding="utf-8"))
               if "remove-cell" in tags}
    for c in code:
        assert c.source.strip() not in removed, f"{target}: a build-only cell reached the learner:\n{c.source[:200]}"
        folded = c.metadata.get("jupyter", {}).get("source_hidden", False)  # the page hides this code too
        assert folded or not page_code.plumbing(c.source), f"{target}: plumbing in {c.source[:120]!r}"
        assert not re.search(r"^\s*assert\b", c.source, re.M) or "def " in c.source, (
            f"{target}: a check reached the learner:\n{c.source[:200]}")
    # the header and the short install cell
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "the title comes first"
    head = nb.cells[1].source
    assert nb.cells[1].cell_type == "markdown" and "COURSE_BUDGET" in head and "`cpu`" in head and "`full`" in head
    # the execution that made the outputs: the page's provenance line (its last line), kept in the metadata
    course = nb.metadata["course"]
    commit, date = course.get("outputs_commit") or course["commit"], course.get("outputs_date") or course["date"]
    if any(c.outputs for c in code):  # a notebook without outputs (the conceptual questions) names no build
        assert commit in head and date in head
    else:
        assert "no outputs" in head
    if ln.outputs_provenance(nb)[0]:
        assert ln.outputs_provenance(nb) == (commit, date)
    install = code[0].source
    assert book_config.LEARNER_INSTALL_MARKER in install and len(install.splitlines()) <= 12, install
    assert "git+" + book_config.repo_url(ROOT) in install
    # Colab metadata
    assert nb.metadata["colab"]["name"] == Path(target).name
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("docname", sorted(d for d in CHAPTERS if not _is_exercise(TARGETS[d])))
def test_a_chapter_notebook_carries_the_builds_outputs(docname):
    """Figures, tables and printed numbers are there before the learner runs anything."""
    target = TARGETS[docname]
    code = [c for c in _nb(target).cells if c.cell_type == "code"]
    assert any(c.outputs for c in code[1:]), f"{target}: no outputs at all"
    for c in code:
        last = [ln_ for ln_ in c.source.strip().splitlines() if ln_.strip() and not ln_.lstrip().startswith("#")]
        if last and last[-1].strip() in ("plt.show()", "fig.show()"):
            kinds = {k for o in c.outputs for k in o.get("data", {})}
            assert "image/png" in kinds or "image/svg+xml" in kinds, f"{target}: a figure cell without its figure"


@pytest.mark.parametrize("docname", sorted(d for d in CHAPTERS if _is_exercise(TARGETS[d])))
def test_an_exercise_notebook_keeps_its_stubs_and_no_solution_outputs(docname):
    target = TARGETS[docname]
    code = [c for c in _nb(target).cells if c.cell_type == "code"]
    first = next((i for i, c in enumerate(code) if ln.is_graded_work(c.source)), None)
    assert first is not None, f"{target}: no stub, grader or answer cell"
    assert not any(c.outputs for c in code[first:]), f"{target}: outputs from the first graded cell on"
    assert not any(c.source.lstrip().startswith("# Solution") for c in code), target
    committed = nbformat.read(ROOT / target, as_version=4)
    stubs = [c.source for c in committed.cells if c.cell_type == "code" and "NotImplementedError" in c.source]
    assert all(s in [c.source for c in code] for s in stubs), f"{target}: a stub is missing"
    assert stubs or "06_" in target, f"{target}: no stub (only the conceptual questions have none)"


def test_notebook_sizes_are_recorded():
    sizes = {t: (NOTEBOOKS / t).stat().st_size for t in sorted(TARGETS.values())}
    report = {"total_bytes": sum(sizes.values()), "largest": max(sizes.items(), key=lambda kv: kv[1]),
              "bytes": sizes}
    (NOTEBOOKS / "sizes.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    assert report["largest"][1] < 25e6, f"a learner notebook of {report['largest'][1] / 1e6:.1f} MB"


# ----------------------------------------------------------------------------- the built pages

PAGES = {d: HTML / f"{d}.html" for d in CHAPTERS}


def _hrefs(text):
    return [htmllib.unescape(h) for h in re.findall(r'href="([^"]+)"', text)]


def _opened(href):
    """(branch, path) that a Colab or Binder URL opens, else None."""
    parts = urlsplit(href)
    m = re.search(r"/github/[^/]+/[^/]+/blob/([^/]+)/(.+)$", parts.path)
    if "colab.research.google.com" in parts.netloc and m:
        return m.group(1), unquote(m.group(2))
    m = re.search(r"/v2/gh/[^/]+/[^/]+/([^/?]+)", parts.path)
    if m:
        q = parse_qs(parts.query)
        path = q.get("labpath", [None])[0] or re.sub(r"^(lab/)?tree/", "", q.get("urlpath", [""])[0])
        return m.group(1), unquote(path)
    return None


@pytest.mark.parametrize("docname", sorted(CHAPTERS))
def test_launch_buttons_open_the_learner_notebook(docname):
    text = PAGES[docname].read_text(encoding="utf-8")
    block = text[text.find("dropdown-launch-buttons"):]
    block = block[:block.find("</ul>")]
    opened = [o for o in map(_opened, _hrefs(block)) if o]
    assert len(opened) >= 2, f"{docname}: launch buttons found: {opened}"
    for branch, path in opened:
        assert branch == ln.NOTEBOOK_BRANCH and path == TARGETS[docname], (docname, branch, path)
        assert (NOTEBOOKS / path).is_file()
    depth = docname.count("/")
    assert f'{"../" * depth}{ln.SITE_FOLDER}/{TARGETS[docname]}' in text, f"{docname}: no download link of the notebook"
    assert "_sources/" + docname + ".md" not in text, f"{docname}: the download menu still offers the MyST source"


def test_every_colab_or_binder_link_opens_a_learner_or_solution_notebook():
    """Badges in the prose too: a link may open a learner notebook (notebooks branch) or a committed
    solution notebook; nothing else (no .md, no stale path)."""
    bad = []
    for page in HTML.rglob("*.html"):
        if ln.SITE_FOLDER in page.parts or "_static" in page.parts:
            continue
        for href in _hrefs(page.read_text(encoding="utf-8")):
            o = _opened(href)
            if o is None:
                continue
            branch, path = o
            ok = ((branch == ln.NOTEBOOK_BRANCH and (NOTEBOOKS / path).is_file())
                  or (path.startswith("exercises/solutions/") and (ROOT / path).is_file()))
            if not ok:
                bad.append(f"{page.relative_to(HTML)}: {href}")
    assert not bad, "launch links that open no learner notebook:\n" + "\n".join(sorted(set(bad))[:20])


def test_the_launch_check_can_fail():
    assert _opened("https://colab.research.google.com/github/o/r/blob/main/book/setup.md") == ("main", "book/setup.md")
    assert _opened("https://mybinder.org/v2/gh/o/r/notebooks?urlpath=lab/tree/book/setup.ipynb") == (
        "notebooks", "book/setup.ipynb")


_CELL_INPUT = re.compile(r'<div class="cell_input docutils container">(.*?)</div>\s*</div>', re.S)


def _visible_code(text):
    for m in _CELL_INPUT.finditer(text):
        code = re.sub(r"<[^>]+>", "", m.group(1))
        yield htmllib.unescape(code)


@pytest.mark.parametrize("docname", sorted(CHAPTERS))
def test_no_built_page_shows_plumbing(docname):
    """What a reader sees of the code: no glue calls, no sentence assembly (checked on the HTML)."""
    problems = []
    for code in _visible_code(PAGES[docname].read_text(encoding="utf-8")):
        if "glue(" in code:
            problems.append(f"glue( in: {code[:160]!r}")
        problems += page_code.plumbing(code)
    assert not problems, f"{docname}:\n" + "\n".join(problems[:10])


def test_the_plumbing_check_on_html_can_fail():
    page = ('<div class="cell_input docutils container"><div class="highlight"><pre>'
            '<span class="n">glue</span><span class="p">(</span>&quot;x&quot;, 1)</pre></div>\n</div>\n</div>')
    assert any("glue(" in c for c in _visible_code(page))
