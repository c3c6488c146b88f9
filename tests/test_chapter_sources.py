"""Every MyST chapter of the toc is the only source of its page and its learner notebook: no ``.ipynb``
beside it, the install cell first (installing from the repository URL of _config.yml), the provenance
cell last, no plumbing in the code the page shows, and nothing the learner notebook needs left in a
build-only cell (scripts/page_code.py).

The chapters are discovered from _toc.yml, so a new chapter is checked without editing this file.
Fix the generated cells with `make sync`.
"""
import importlib.util
import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync)
_spec = importlib.util.spec_from_file_location("page_code", ROOT / "scripts" / "page_code.py")
page_code = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(page_code)

CHAPTERS = sync.chapters(ROOT)
IDS = [str(p.relative_to(ROOT)) for p in CHAPTERS]
REPO_URL = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")


def test_toc_has_chapters():
    assert CHAPTERS, "no MyST-notebook chapter found in _toc.yml"
    assert ROOT / "book" / "setup.md" in CHAPTERS


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_the_md_is_the_only_source(md):
    """No jupytext pair beside a chapter: what learners open is built from the executed page."""
    assert not md.with_suffix(".ipynb").exists(), (
        f"{md.with_suffix('.ipynb').relative_to(ROOT)}: remove it; the learner notebook is built by "
        f"`make book` into _build/notebooks (_ext/learner_notebooks.py)")


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_page_code_is_lecture_and_the_learner_notebook_is_whole(md):
    """No glue or sentence assembly in a cell the page shows; no kept cell reads a build-only name."""
    problems = page_code.problems(md)
    assert not problems, f"{md.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("src, what", [
    ('x = 1\nglue("x", x, display=False)', "glue(...)"),
    ('import course_utils.notebook as nb\nnb.glue("x", 1)', "glue(...)"),
    ('w = "is ahead of the rest" if d > 0 else "trails"', "conditional choosing between texts"),
    ('w = " and ".join(names)', "builds a sentence"),
    ('import torch\nfrom course_utils.notebook import glue', "imports glue"),
    ('w = f"{a} beats {b} by far" if ok else "no"', "conditional choosing between texts"),
])
def test_plumbing_is_found(src, what):
    assert any(what in p for p in page_code.plumbing(src)), (src, page_code.plumbing(src))


@pytest.mark.parametrize("src", [
    'res = train.train_model(net, opt, data, epochs=2)',
    'label = "adam" if wd == 0 else "adamw"',          # a key, not a sentence
    'plt.title(", ".join(names))',
    'print(f"device: {device}; {budget.describe()}")',
    'print({k: "to do" if v is None else f"{v:.1f} ms per step" for k, v in d.items()})',  # output
])
def test_lecture_code_is_not_plumbing(src):
    assert page_code.plumbing(src) == [], src


def test_a_name_only_a_build_only_cell_defines_is_caught():
    fence = "```"
    md = (f"{fence}{{code-cell}} ipython3\n:tags: [remove-cell]\n\nbest = 3\n{fence}\n\n"
          f"{fence}{{code-cell}} ipython3\nprint(best)\n{fence}\n")
    assert any("'best'" in p for p in page_code.removed_names_used(md))
    kept = md.replace(":tags: [remove-cell]", ":tags: [remove-input]")
    assert page_code.removed_names_used(kept) == []
    redefined = md.replace("print(best)", "best = 4\nprint(best)")
    assert page_code.removed_names_used(redefined) == []


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_first_code_cell_installs_course_utils(md):
    """The first code cell is the install cell generated from repository.url (scripts/book_config.py)."""
    problem = sync.install_cell_problem(md)
    assert problem is None, f"{md.name}: {problem} — run `make sync`"
    nb = jupytext.read(md, fmt="md:myst")
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "git+" + REPO_URL in first.source, f"{md.name}: must install from {REPO_URL}"
    tags = first.metadata.get("tags", [])
    assert any(t in tags for t in ("hide-input", "remove-input", "hide-cell", "remove-cell")), (
        f"{md.name}: tag the install cell hide-input (it is noise for readers of the HTML)")


def test_install_cell_check_can_fail(tmp_path):
    """A hand-edited install cell (another URL) and a page without one are both reported."""
    md = tmp_path / "ch.md"
    text = (ROOT / "book" / "setup.md").read_text(encoding="utf-8")
    md.write_text(text.replace(REPO_URL, "https://github.com/someone/else"), encoding="utf-8")
    assert "differs" in sync.install_cell_problem(md)
    assert sync.write_install_cell(md) and sync.install_cell_problem(md) is None
    bare = tmp_path / "bare.md"
    bare.write_text("---\nkernelspec: {}\n---\n# T\n\n```{code-cell} ipython3\nx = 1\n```\n", encoding="utf-8")
    assert "not the install cell" in sync.install_cell_problem(bare)
    assert sync.write_install_cell(bare) and sync.install_cell_problem(bare) is None
    assert "x = 1" in bare.read_text(encoding="utf-8")


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_last_code_cell_shows_provenance(md):
    assert sync.has_provenance_cell(md), f"{md.name}: run `make sync` to append the provenance cell"


def test_repository_urls_agree_with_config():
    """Every repository URL written in the pages is repository.url of _config.yml."""
    owner_repo = "/".join(REPO_URL.split("/")[-2:])
    pattern = re.compile(r"github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?(?=[/\"'\s)}>@]|$)")
    for f in [*ROOT.glob("book/**/*.md"), ROOT / "README.md"]:
        if not f.is_file():
            continue
        for m in pattern.finditer(f.read_text(encoding="utf-8")):
            if m.group(1).split("/")[0] in ("course-team",) or "init-optim" in m.group(1):
                assert m.group(1) == owner_repo, f"{f.name}: {m.group(0)} is not {REPO_URL}"


def test_provenance_cell_appended_once(tmp_path):
    md = tmp_path / "ch.md"
    md.write_text((ROOT / "book" / "setup.md").read_text(encoding="utf-8"), encoding="utf-8")
    first = sync.add_provenance_cell(md)
    assert sync.has_provenance_cell(md)
    assert not sync.add_provenance_cell(md)
    assert md.read_text(encoding="utf-8").count("provenance.show()") == 1
    assert first or "provenance.show()" in (ROOT / "book" / "setup.md").read_text(encoding="utf-8")


def test_a_value_computed_in_sight_only_for_the_build_is_caught():
    fence = "```"
    shown = f"{fence}{{code-cell}} ipython3\nratio = a / b\n{fence}\n\n"
    hidden = f"{fence}{{code-cell}} ipython3\n:tags: [remove-cell]\n\nglue('r', ratio)\n{fence}\n"
    assert any("'ratio'" in p for p in page_code.computed_for_the_build(shown + hidden))
    printed = shown.replace("ratio = a / b", "ratio = a / b\nprint(f'ratio {ratio:.2f}')")
    assert page_code.computed_for_the_build(printed + hidden) == []
    moved = hidden.replace("glue('r', ratio)", "ratio = a / b\nglue('r', ratio)")
    assert page_code.computed_for_the_build(moved) == []


# The PDF typesets code in GNU FreeMono (Sphinx's xelatex default; comments in its oblique cut). A
# character it has no glyph for is dropped from the PDF with only a log line, which `make pdf-test`
# catches an hour into CI; this finds it in the source in a second.  The symbols _config.yml's preamble
# maps to text (\newunicodechar) are exempt.
FREEFONT = Path("/usr/share/fonts/opentype/freefont")
_MAPPED = set(re.findall(r"\\newunicodechar\{(.)\}",
                         (ROOT / "_config.yml").read_text(encoding="utf-8")))


def _mono_cmap():
    ttlib = pytest.importorskip("fontTools.ttLib")
    fonts = [FREEFONT / f"FreeMono{cut}.otf" for cut in ("", "Oblique")]
    if not all(f.is_file() for f in fonts):
        pytest.skip("GNU FreeFont is not installed (Debian fonts-freefont-otf; scripts/ensure_tex.sh)")
    cmaps = [set(ttlib.TTFont(f).getBestCmap()) for f in fonts]
    return set.intersection(*cmaps)


def unprintable_in_code(text: str, cmap: set) -> list[str]:
    """'cell N: 'c' (U+XXXX)' for each character FreeMono cannot print in a code cell the PDF shows
    (not remove-cell / remove-input)."""
    out = []
    for i, (tags, src) in enumerate(page_code.code_cells(text)):
        if any(t in page_code.HIDDEN_CODE for t in tags):
            continue
        out += [f"cell {i}: {c!r} (U+{ord(c):04X})" for c in dict.fromkeys(src)
                if ord(c) > 126 and ord(c) not in cmap and c not in _MAPPED]
    return out


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_code_cells_print_in_the_pdf_font(md):
    bad = unprintable_in_code(md.read_text(encoding="utf-8"), _mono_cmap())
    assert not bad, (f"{md.relative_to(ROOT)}: the PDF's code font (FreeMono) has no glyph for these; "
                     "write them in ASCII (e.g. X^T for Xᵀ):\n" + "\n".join(bad))


def test_unprintable_code_is_found():
    cmap = _mono_cmap()
    cell = "```{code-cell} ipython3\n%s\nA = X @ X.T  # X Xᵀ\nb = 'σ²'\n```\n"
    page = "text ᵀ is fine here\n\n" + cell % ":tags: [remove-cell]" + "\n" + cell % ""
    assert [b.split(":")[0] for b in unprintable_in_code(page, cmap)] == ["cell 1"]
