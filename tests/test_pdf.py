"""The PDF of the book (`make pdf`: xelatex, offline) exists, is a real PDF, and has one chapter heading
per chapter of _toc.yml, with its figures.  Run by `make pdf-test`; skipped when no PDF was built
(set COURSE_REQUIRE_PDF=1 to make a missing PDF a failure, as `make pdf-test` does)."""
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LATEX = Path(os.environ.get("COURSE_LATEX", ROOT / "_build" / "latex"))
PDF = LATEX / "book.pdf"

if not PDF.is_file():
    if os.environ.get("COURSE_REQUIRE_PDF"):
        pytest.fail(f"{PDF} was not built (make pdf)", pytrace=False)
    pytest.skip(f"no PDF at {PDF} (run `make pdf-test`)", allow_module_level=True)

_spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync)


def _title(md: Path) -> str:
    """The first '# ' heading of a page (its chapter title)."""
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise AssertionError(f"{md} has no '# ' title")


def _chapter_pages() -> list[Path]:
    """Every page of _toc.yml in reading order: chapters and their `sections` (each page is a separate
    document, which Sphinx's LaTeX builder turns into a chapter of its own)."""
    import yaml
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())

    def walk(entries):
        for e in entries or []:
            yield e["file"]
            yield from walk(e.get("sections"))

    files = [f for part in toc.get("parts", []) for f in walk(part.get("chapters"))]
    files += list(walk(toc.get("chapters")))
    return [p for p in ((ROOT / f).with_suffix(".md") for f in files) if p.is_file()]


def _norm(s: str) -> str:
    return re.sub(r"\W+", " ", s).strip().lower()


@pytest.fixture(scope="module")
def text() -> str:
    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext is missing (Debian poppler-utils; scripts/ensure_tex.sh installs it)")
    return subprocess.run(["pdftotext", "-layout", str(PDF), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_is_a_pdf_with_pages():
    head = PDF.read_bytes()[:5]
    assert head == b"%PDF-"
    info = subprocess.run(["pdfinfo", str(PDF)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 2 * len(_chapter_pages()), info


def test_one_chapter_heading_per_chapter():
    """LaTeX's table of contents lists exactly the toc's chapters, in order."""
    toc = (LATEX / "book.toc").read_text(encoding="utf-8", errors="replace")
    entries = re.findall(r"\\contentsline\s*\{chapter\}\{(?:\\numberline\s*\{[^}]*\})?(.*?)\}\{\d+\}", toc)
    got = [_norm(re.sub(r"\\[a-zA-Z]+\s*|[{}]", " ", e)) for e in entries]
    want = [_norm(_title(p)) for p in _chapter_pages()]
    assert got == want, f"chapter headings in the PDF: {got}\nchapters in _toc.yml: {want}"


def test_chapter_titles_are_in_the_text(text):
    flat = _norm(text)
    for page in _chapter_pages():
        title = _norm(_title(page))
        assert flat.count(title) >= 2, f"{title!r}: expected in the contents and as a heading"


def test_figures_and_equations_made_it():
    log = (LATEX / "book.log").read_text(encoding="utf-8", errors="replace")
    assert "Missing character" not in log or os.environ.get("COURSE_PDF_ALLOW_MISSING_GLYPHS"), (
        "a character has no glyph in the PDF's fonts: " +
        "; ".join(sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log)))[:10]))
    tex = (LATEX / "book.tex").read_text(encoding="utf-8", errors="replace")
    if any(p.with_suffix(".ipynb").exists() for p in _chapter_pages()):
        assert "includegraphics" in tex, "no figure in the PDF"


# What a reader of the PDF must never see in place of a table, an explorable or a widget: the object's
# repr (myst-nb's LaTeX output falls back to text/plain when an output has no Markdown or image form).
STRAY_REPR = re.compile(r"<[\w.]+ (?:object )?at 0x[0-9a-f]+>|<[\w.]+ object>|\b(?:VBox|HBox|interactive)\(children=")


def stray_reprs(text: str) -> list[str]:
    return sorted(set(m.group(0) for m in STRAY_REPR.finditer(text)))


def test_the_stray_repr_check_can_fail():
    bad = ("Table 3\n<pandas.io.formats.style.Styler at 0x7ff54e0ba950>\n<IPython.core.display.HTML object>\n"
           "VBox(children=(Dropdown(description='surface',")
    assert len(stray_reprs(bad)) == 3
    good = "| optimizer | test acc. (%) |\nSGD 88.76\nAn interactive figure is shown here in the web version"
    assert stray_reprs(good) == []


def test_tables_explorables_and_widgets_are_not_reprs(text):
    """Every table of the PDF is typeset from its Markdown form (_ext/table_formats.py), every explorable
    and live widget says where it runs: no "<...Styler at 0x...>" or "<...HTML object>" is left."""
    found = stray_reprs(text)
    assert not found, f"{len(found)} object reprs in the PDF, e.g. {found[:5]}"
    tex = (LATEX / "book.tex").read_text(encoding="utf-8", errors="replace")
    assert tex.count(r"\begin{tabular") + tex.count(r"\begin{tabulary") + tex.count(r"\begin{longtable") >= 20, \
        "the PDF has fewer than 20 tables: are the chapters' tables typeset (nb_render_markdown_format: gfm)?"
