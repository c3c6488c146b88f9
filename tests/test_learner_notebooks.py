"""The converter of the learner notebooks (_ext/learner_notebooks.py), on small MyST pieces and on every
page of the book: each MyST form the book uses becomes plain Jupyter Markdown, and whatever is left is
reported.  The built notebooks themselves are checked after the build (tests/test_learner_products.py).
"""
import importlib.util
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("learner_notebooks", ROOT / "_ext" / "learner_notebooks.py")
ln = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ln)
_spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync)

BASE = "https://o.github.io/r"


def resolver(glued=None, docname="book/part2/x", **kw):
    kw.setdefault("docs", {"book/part1/variance_derivation": "The variance derivation", "book/part2/y": "Y page"})
    kw.setdefault("equations", {"eq-a": ("book/part2/x", 3), "eq-b": ("book/part1/variance_derivation", 7)})
    return ln.Resolver(docname, glued or {}, base_url=BASE, srcdir=ROOT, **kw)


@pytest.mark.parametrize("myst, want", [
    ("{glue:text}`acc:.2f` %", "88.94 %"),
    ("{glue:text}`acc`", "88.93612"),   # as myst-nb: the value as glued
    ("{glue:text}`n:,.0f` images", "50,000 images"),
    ("{glue:text}`words`", "is ahead"),
    ("{glue:text}`tiny:.1e`", "1.2e-05"),
    ("see {doc}`../part1/variance_derivation`", f"see [The variance derivation]({BASE}/book/part1/variance_derivation.html)"),
    ("{doc}`that page <y>`", f"[that page]({BASE}/book/part2/y.html)"),
    ("equation {eq}`eq-a`", f"equation [(3)]({BASE}/book/part2/x.html#equation-eq-a)"),
    ("{eq}`eq-b`", f"[(7)]({BASE}/book/part1/variance_derivation.html#equation-eq-b)"),
    ("{math}`x^2`", "$x^2$"),
    ("the {fa}`rocket` button", "the  button"),
    ("{{ repo_url }}", "https://github.com/o/r"),
])
def test_roles_become_text_and_links(myst, want):
    glued = {"acc": {"text/plain": "88.93612"}, "n": {"text/plain": "50000"},
             "words": {"text/plain": "'is ahead'"}, "tiny": {"text/plain": "1.234e-05"}}
    r = resolver(glued, substitutions={"repo_url": "https://github.com/o/r"})
    assert ln.convert_markdown(myst, r) == want
    assert r.missing == []


def test_what_cannot_be_resolved_is_reported_not_hidden():
    r = resolver()
    out = ln.convert_markdown("{glue:text}`nope` and {eq}`eq-zz` and {doc}`../nowhere` and {numref}`fig-x`", r)
    assert {m.split(" ")[0] for m in r.missing} == {"glue", "equation", "document", "role"}
    assert ln.myst_leftovers(out), "an unknown role must stay visible to the leftover check"


def test_admonitions_dropdowns_and_math():
    r = resolver({"v": {"text/plain": "2.5"}})
    text = "\n".join([
        ":::{admonition} Model answer", ":class: dropdown", "", "The answer is {glue:text}`v:.1f`.", ":::",
        "", ":::{admonition} Why", "", "Two lines", "", "of reasons.", ":::",
        "", "$$", "a = b", "$$ (eq-a)",
        "", "```{math}", ":label: eq-b", "", "c = d", "```",
    ])
    out = ln.convert_markdown(text, r)
    assert "<details>\n<summary>Model answer</summary>\n\nThe answer is 2.5.\n\n</details>" in out
    assert "> **Why**\n>\n> Two lines\n>\n> of reasons." in out
    assert "a = b\n\\tag{3}\n$$" in out
    assert "$$\nc = d \\tag{7}\n$$" in out
    assert ln.myst_leftovers(out) == [] and r.missing == []


def test_literalinclude_becomes_the_code_it_shows():
    r = resolver(docname="book/part3/optimizers_from_scratch")
    out = ln.convert_markdown("```{literalinclude} ../../course_utils/optim.py\n:language: python\n"
                              ":pyobject: SGD.update\n```", r)
    assert out.startswith("From `course_utils/optim.py`:\n\n```python\n")
    assert "def update(" in out and out.rstrip().endswith("```")
    assert ln.myst_leftovers(out) == []


def test_code_fences_are_left_alone():
    r = resolver()
    text = "```python\nx = {glue:text}`not-a-role-in-code`\n```"
    assert ln.convert_markdown(text, r) == text


@pytest.mark.parametrize("bad", [
    "{glue:text}`k`", "{numref}`fig`", "```{note}\nx\n```", ":::{admonition} T\nx\n:::", "(sec-a)=",
    "$$ (eq-x)", "{{ repo_url }}", ":class: dropdown ", "+++",
])
def test_leftover_check_catches_each_myst_form(bad):
    assert ln.myst_leftovers(bad), bad


@pytest.mark.parametrize("md", sync.chapters(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_page_converts_without_myst_left(md):
    """Every Markdown cell of every chapter converts to plain Markdown with nothing but glue values to fill in
    (they come from the build; here they are stand-ins)."""
    docname = md.relative_to(ROOT).with_suffix("").as_posix()
    labels = {}
    for other in sync.chapters(ROOT):
        for i, lab in enumerate(re.findall(r"^\$\$\s*\(([^)]+)\)\s*$|^:label:\s*(\S+)", other.read_text(encoding="utf-8"), re.M)):
            labels[lab[0] or lab[1]] = (other.relative_to(ROOT).with_suffix("").as_posix(), i + 1)
    docs = {p.relative_to(ROOT).with_suffix("").as_posix(): p.stem for p in ROOT.glob("book/**/*.md")}

    class AnyGlue(dict):
        def get(self, key, default=None):
            return {"text/plain": "1.5"}

    r = ln.Resolver(docname, AnyGlue(), base_url=BASE, docs=docs, equations=labels, srcdir=ROOT)
    nb = jupytext.read(md, fmt="md:myst")
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            out = ln.convert_markdown(cell.source, r)
            assert ln.myst_leftovers(out) == [], (docname, ln.myst_leftovers(out))
    assert r.missing == [], (docname, r.missing)


def _page_nb():
    nb = nbformat.v4.new_notebook()
    install = "# Colab...\ntry:\n    import course_utils\nexcept ImportError:\n    subprocess.run(['pip'])"
    glue_out = nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "3"},
                                      metadata={"scrapbook": {"name": "k", "mime_prefix": "application/papermill.record/"}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nThe value is {glue:text}`k`."),
        nbformat.v4.new_code_cell(install, metadata={"tags": ["hide-input"]}),
        nbformat.v4.new_code_cell("x = 3\nprint(x)", outputs=[nbformat.v4.new_output("stream", text="3\n")]),
        nbformat.v4.new_code_cell("glue('k', x)", metadata={"tags": ["remove-cell"]}, outputs=[glue_out]),
        nbformat.v4.new_code_cell("assert x == 3", metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell("SIZES = {}", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_code_cell("def f():\n    raise NotImplementedError  # TODO", outputs=[]),
        nbformat.v4.new_code_cell("check(f)", outputs=[nbformat.v4.new_output("stream", text="✅ solved\n")]),
    ]
    return nb


@pytest.mark.parametrize("exercise", [False, True])
def test_a_learner_notebook_has_no_build_cells_and_keeps_outputs(exercise):
    nb = _page_nb()
    r = resolver(ln.glued_values(nb))
    build = {"budget": "cpu", "date": "2026-12-06", "commit": "abc"}
    out = ln.build_learner_notebook(nb, docname="book/part2/x", resolver=r, build=build,
                                    times={"cpu": {"seconds": 30, "how": "alone"}, "full": {"seconds": 3600, "how": "book"}},
                                    install="# short install", exercise=exercise)
    sources = [c.source for c in out.cells]
    assert sources[0] == "# Title", "the page's title stays the first cell"
    assert sources[2] == "The value is 3."
    assert "# short install" in sources and not any("glue(" in s or "assert" in s for s in sources)
    head = sources[1]
    assert "`cpu`" in head and "2026-12-06" in head and "abc" in head and "COURSE_BUDGET" in head
    assert "`full` about 60 min (in a run of the whole book" in head and "`cpu` about 30 s (measured alone" in head
    printed = next(c for c in out.cells if c.source.startswith("x = 3"))
    assert printed.outputs and printed.execution_count == 1
    hidden = next(c for c in out.cells if c.source.endswith("SIZES = {}"))
    assert hidden.metadata["jupyter"]["source_hidden"] is True and hidden.metadata["cellView"] == "form"
    assert hidden.source.startswith("#@title ")  # Colab folds a form cell to its title
    graded = next(c for c in out.cells if c.source == "check(f)")
    assert bool(graded.outputs) is (not exercise), "an exercise notebook must not carry a solution's output"
    assert out.metadata["accelerator"] == "GPU" and out.metadata["colab"]["name"] == "x.ipynb"
    nbformat.validate(out)


def test_binder_of_the_notebooks_branch_installs_the_package_from_the_repository(tmp_path):
    ln.write_binder(ROOT / "binder", tmp_path / "binder", {"full_commit": "0123abcd"})
    post = (tmp_path / "binder" / "postBuild").read_text(encoding="utf-8")
    assert "pip install --no-deps 'course-utils @ git+" in post and "@0123abcd'" in post
    assert "pip install --no-deps .\n" not in post
    assert (tmp_path / "binder" / "requirements.txt").is_file()


def test_a_value_that_cannot_be_formatted_is_reported_not_a_crash():
    r = resolver({"x": {"text/plain": "np.float64(6.5)"}})
    assert ln.convert_markdown("{glue:text}`x:.1f`", r) == "np.float64(6.5)"
    assert r.missing and "x" in r.missing[0]


def test_page_times_say_how_each_was_measured():
    cold = {"cpu": {"book/a.md": {"seconds": 103.0}}}
    full = {"book/a.md": {"seconds": 1200.0}, "book/b.md": {"seconds": 50.0}}
    a = ln.page_times("book/a.md", "cpu", 10.0, full, cold)
    assert a == {"cpu": {"seconds": 103.0, "how": "alone"}, "full": {"seconds": 1200.0, "how": "book"}}
    b = ln.page_times("book/b.md", "cpu", 10.0, full, cold)
    assert b["cpu"] == {"seconds": 10.0, "how": "book"}
    assert ln.page_times("book/c.md", "cpu", None, full, cold) == {"cpu": None, "full": None}
    quick = ln.header_cell(page_url="u", build={"budget": "cpu", "date": "d", "commit": "c"}, times=b)
    assert "about a minute or less at either budget" in quick
    slow = ln.header_cell(page_url="u", build={"budget": "cpu", "date": "d", "commit": "c"}, times=a)
    assert "measured alone, nothing cached" in slow and "about 20 min" in slow


def test_the_header_names_the_execution_that_made_the_outputs():
    nb = _page_nb()
    nb.cells.append(nbformat.v4.new_code_cell("provenance.show()", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/plain": "commit 1506e49373 · built 2026-12-05 · device cpu · torch 2.14"})]))
    assert ln.outputs_provenance(nb) == ("1506e49373", "2026-12-05")
    out = ln.build_learner_notebook(nb, docname="book/part2/x", resolver=resolver(ln.glued_values(nb)),
                                    build={"budget": "cpu", "date": "2026-12-06", "commit": "abcdef"},
                                    times={"cpu": None, "full": None}, install="# i")
    assert "2026-12-05, commit `1506e49373`" in out.cells[1].source and "abcdef" not in out.cells[1].source


def test_links_between_pages_go_to_the_published_page():
    r = resolver(docs={"book/part2/selu": "SELU", "book/part2/x": "X"})
    out = ln.convert_markdown("see the [SELU chapter](selu.md) and [its end](selu.md#what-it-means), "
                              "not [a site](https://example.org/a.md)", r)
    assert f"[SELU chapter]({BASE}/book/part2/selu.html)" in out
    assert f"[its end]({BASE}/book/part2/selu.html#what-it-means)" in out and "(https://example.org/a.md)" in out
    r2 = resolver(docs={})
    ln.convert_markdown("[gone](nowhere.md)", r2)
    assert r2.missing
