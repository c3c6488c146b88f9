"""Every MyST chapter of the toc has an up-to-date, output-free jupytext pair for Colab, starts with the
Colab install cell (installing from the repository URL of _config.yml) and ends with the provenance cell.

The chapters are discovered from _toc.yml, so a new chapter is checked without editing this file.
Fix a failure with `make sync` (and commit the .md/.ipynb it touched).
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

CHAPTERS = sync.chapters(ROOT)
IDS = [str(p.relative_to(ROOT)) for p in CHAPTERS]
REPO_URL = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")


def test_toc_has_chapters():
    assert CHAPTERS, "no MyST-notebook chapter found in _toc.yml"
    assert ROOT / "book" / "setup.md" in CHAPTERS


@pytest.mark.parametrize("md", CHAPTERS, ids=IDS)
def test_pair_exists_and_is_in_sync(md):
    problem = sync.pair_problem(md)
    assert problem is None, f"{problem} — run `make sync` and commit the .ipynb"


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


def test_sync_detects_stale_and_missing_pairs(tmp_path, monkeypatch):
    """The checker itself: a missing pair, an edited .md and a pair with outputs are all caught."""
    md = tmp_path / "ch.md"
    md.write_text((ROOT / "book" / "setup.md").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(sync, "ROOT", tmp_path)
    assert "missing" in sync.pair_problem(md)
    assert sync.write_pair(md) and sync.pair_problem(md) is None
    assert not sync.write_pair(md)                      # idempotent
    md.write_text(md.read_text(encoding="utf-8").replace("budget.describe()", "budget"), encoding="utf-8")
    assert "differs" in sync.pair_problem(md)
    sync.write_pair(md)
    import nbformat
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="hi")]
    nbformat.write(nb, md.with_suffix(".ipynb"))
    assert "outputs" in sync.pair_problem(md)


def test_provenance_cell_appended_once(tmp_path):
    md = tmp_path / "ch.md"
    md.write_text((ROOT / "book" / "setup.md").read_text(encoding="utf-8"), encoding="utf-8")
    first = sync.add_provenance_cell(md)
    assert sync.has_provenance_cell(md)
    assert not sync.add_provenance_cell(md)
    assert md.read_text(encoding="utf-8").count("provenance.show()") == 1
    assert first or "provenance.show()" in (ROOT / "book" / "setup.md").read_text(encoding="utf-8")
