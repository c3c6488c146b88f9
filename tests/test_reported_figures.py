"""The "Reported figures" page (_ext/reported_figures.py): reading glue files, diffing, the snapshot."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("reported_figures", ROOT / "_ext" / "reported_figures.py")
rf = importlib.util.module_from_spec(_spec)
sys.modules["reported_figures"] = rf  # dataclasses look their module up
_spec.loader.exec_module(rf)


def _out(text):
    return {"output_type": "display_data", "data": {"text/plain": text},
            "metadata": {"scrapbook": {"name": "x", "mime_prefix": "application/papermill.record/"}}}


def test_read_glue_keeps_short_scalars_in_toc_order(tmp_path):
    (tmp_path / "book" / "part1").mkdir(parents=True)
    (tmp_path / "book" / "part1" / "a.glue.json").write_text(json.dumps({
        "acc": _out("0.8712"), "name": _out("'adam'"),
        "table": _out("   col\n0  1.0\n1  2.0"),  # a DataFrame: not a figure
        "fig": {"output_type": "display_data", "data": {"image/png": "..."}, "metadata": {}},
    }))
    (tmp_path / "book" / "setup.glue.json").write_text(json.dumps({"mean": _out(["0.28", "60"])}))
    (tmp_path / "book" / "broken.glue.json").write_text("{not json")
    got = rf.read_glue(tmp_path, ["book/setup", "book/part1/a", "book/broken", "book/missing"])
    assert list(got) == ["book/setup", "book/part1/a"]
    assert got["book/setup"] == {"mean": "0.2860"}
    assert got["book/part1/a"] == {"acc": "0.8712", "name": "adam"}


@pytest.mark.parametrize("text, shown", [
    ("0.87123456", "0.8712"), ("12", "12"), ("1e-08", "1e-08"), ("3.4e-08", "3.4e-08"),
    ("2.0", "2"), ("adam", "adam"), ("0.0", "0.0"), ("nan", "NaN"), ("123456.789", "1.235e+05"),
    ("inf", "∞"), ("-inf", "−∞"), ("-3.141908e-267", "≈ 0"),
    ("0", "0"), ("-0", "-0"), ("12345678", "12345678"),  # an integer as glued (review s6, finding 3)
])
def test_fmt(text, shown):
    assert rf.fmt(text) == shown


def test_diff_reports_changed_new_and_gone_but_not_equal_numbers():
    prev = {"p1": {"a": "0.5", "b": "1.0", "gone": "3"}, "p_old": {"z": "1"}}
    cur = {"p1": {"a": "0.5000000000001", "b": "1.1", "new": "x"}}
    changes = {(c.doc, c.name): c for c in rf.diff(prev, cur)}
    assert set(changes) == {("p1", "b"), ("p1", "gone"), ("p1", "new"), ("p_old", "z")}
    assert changes[("p1", "b")].relative == pytest.approx(0.1)  # signed, relative to the previous value
    assert changes[("p1", "gone")].new is None and changes[("p1", "new")].old is None
    assert changes[("p1", "new")].relative is None
    assert rf.diff(cur, cur) == []


def test_snapshot_roundtrip_is_atomic_and_bad_files_are_detected(tmp_path):
    path = tmp_path / "cache" / "reported_figures.json"
    snap, why = rf.load_snapshot(path)
    assert snap is None and "no previous build" in why
    figures = {"book/setup": {"mean": "0.286"}}
    rf.save_snapshot(path, figures, commit="abc1234", date="2026-11-23 12:00 UTC", budget="cpu", device="cpu")
    snap, why = rf.load_snapshot(path)
    assert why is None and snap["figures"] == figures and snap["commit"] == "abc1234"
    assert snap["budget"] == "cpu" and snap["device"] == "cpu"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind

    path.write_text('{"version": 2, "figures": {"book/setup": {"mean"')  # truncated write
    snap, why = rf.load_snapshot(path)
    assert snap is None and "unreadable" in why
    path.write_text(json.dumps({"version": 99, "figures": {}}))
    snap, why = rf.load_snapshot(path)
    assert snap is None and "unknown layout" in why


def test_failed_snapshot_write_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "reported_figures.json"
    rf.save_snapshot(path, {"d": {"a": "1"}}, commit="c1", date="d1")

    def boom(*args, **kwargs):
        raise OSError("disk full")
    import course_utils._io

    monkeypatch.setattr(course_utils._io.os, "replace", boom)  # the rename that makes the write atomic
    with pytest.raises(OSError):
        rf.save_snapshot(path, {"d": {"a": "2"}}, commit="c2", date="d2")
    snap, _ = rf.load_snapshot(path)
    assert snap["figures"] == {"d": {"a": "1"}}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_quote_shows_the_sentence_up_to_the_number():
    src = ("Intro. The training pixels have mean {glue:text}`pixel_mean:.4f` and standard deviation\n"
           "{glue:text}`pixel_std:.4f` (see [the data](setup.md) and $\\mu$).\n\nNext paragraph {glue}`n`.")
    values = {"pixel_mean": "0.28604", "pixel_std": "0.35302", "n": "12"}
    assert rf.quote(src, "pixel_mean", values) == \
        "The training pixels have mean [0.2860] and standard deviation 0.3530"
    assert rf.quote(src, "pixel_std", values) == \
        "The training pixels have mean 0.2860 and standard deviation [0.3530]"
    assert rf.quote(src, "n", values) == "Next paragraph [12]"
    assert rf.quote(src, "not_quoted", values) is None
    assert rf.quote("It has {glue:text}`p:,` weights.", "p", {"p": "633226"}) == "It has [633,226] weights"
    long = "word " * 50 + "{glue:text}`n`"
    q = rf.quote(long, "n", values, width=30)
    assert q.startswith("…") and q.endswith("[12]") and len(q) <= 36


def test_quote_keeps_formulas_as_math():
    """A quoted formula is typeset on the page (math nodes), never shown as raw TeX; a cut inside a
    formula drops the formula's tail instead of leaving an unmatched $."""
    values = {"r": "0.5"}
    src = "The mean $\\mathbb E[\\sigma'(y)^2]$ is {glue:text}`r`."
    q = rf.quote(src, "r", values)
    assert q == "The mean $\\mathbb E[\\sigma'(y)^2]$ is [0.5]"  # the clause ends at the full stop
    para = rf.quoted_nodes(q)
    kinds = [type(n).__name__ for n in para.children]
    assert kinds == ["Text", "math", "Text"] and para.children[1].astext() == "\\mathbb E[\\sigma'(y)^2]"
    cut = rf.quote("$a + b + c + d + e + f + g$ so {glue:text}`r`", "r", values, width=12)
    assert cut.count("$") % 2 == 0 and cut.endswith("[0.5]"), cut


# ----------------------------------------------------------------------------- review s6 (rf6) findings


def test_read_glue_keeps_every_scalar_text_of_any_length(tmp_path):
    """Finding 1: a generated sentence longer than 60 characters is a figure too (a verdict that flips
    must show in the change table); a figure's or a Markdown object's repr is not."""
    verdict = ("After Holm's correction the difference is not significant "
               "(p = 0.21 over 5 paired seeds), and clipping \"helps\" nowhere.")
    (tmp_path / "a.glue.json").write_text(json.dumps({
        "clip_verdict": _out(repr(verdict)),
        "acc": _out("0.8712"),
        "fig": {"output_type": "display_data", "metadata": {},
                "data": {"image/png": "...", "text/plain": "<Figure size 640x480 with 1 Axes>"}},
        "md": {"output_type": "display_data", "metadata": {},
               "data": {"text/markdown": "**x**", "text/plain": "<IPython.core.display.Markdown object>"}},
    }))
    got = rf.read_glue(tmp_path, ["a"])
    assert got == {"a": {"acc": "0.8712", "clip_verdict": verdict}}


def test_a_flipped_verdict_is_a_change_and_long_texts_are_compared_in_full():
    head = "Clipping against no clipping, after Holm's correction over five paired seeds: " * 3
    prev = {"p": {"clip_verdict": head + "not significant."}}
    cur = {"p": {"clip_verdict": head + "significant."}}
    [c] = rf.diff(prev, cur)
    assert c.described() == "text changed" and c.shown() == (prev["p"]["clip_verdict"], cur["p"]["clip_verdict"])
    assert rf.shorten(cur["p"]["clip_verdict"], 60).endswith(" …") and len(rf.shorten(head, 60)) <= 62


@pytest.mark.parametrize("src, name, values, expected", [
    # finding 2: the quote goes on after the number to the end of its clause
    ("There are {glue:text}`n_train:,` training and {glue:text}`n_test:,` test images of "
     "{glue:text}`side`×{glue:text}`side` pixels in {glue:text}`k` classes. Next.", "side",
     {"n_train": "60000", "n_test": "10000", "side": "28", "k": "10"},
     "There are 60,000 training and 10,000 test images of [28]×28 pixels in 10 classes"),
    ("Overall, {glue:text}`dead` first-layer ReLU units ({glue:text}`dead_pct:.1f` %) were dead.", "dead_pct",
     {"dead": "15", "dead_pct": "2.912"}, "Overall, 15 first-layer ReLU units ([2.9] %"),
    ("Adam's two averages cost {glue:text}`bytes:.1f` bytes per weight, twice SGD's.", "bytes",
     {"bytes": "8"}, "Adam's two averages cost [8.0] bytes per weight"),
    ("{glue:text}`frac` % of the batch is misclassified with confidence.\n\nNext.", "frac",
     {"frac": "50"}, "[50] % of the batch is misclassified with confidence"),
    # finding 3: a role without a spec prints the glued text itself, as myst-nb does
    ("Its coefficients are a, b, c = {glue:text}`a`, {glue:text}`b`, {glue:text}`c`.", "a",
     {"a": "3.4445", "b": "-4.775", "c": "2.0315"}, "Its coefficients are a, b, c = [3.4445]"),
    ("w₂ crosses zero {glue:text}`flips` times.", "flips", {"flips": "0"}, "w₂ crosses zero [0] times"),
    # finding 8: a Markdown table row quotes its cell; a {doc} target is not shown
    ("| 1cycle | {doc}`Part IV <../part4/schedules>`, {glue:text}`n` runs | other |", "n",
     {"n": "4"}, "Part IV, [4] runs"),
])
def test_quote_keeps_the_words_after_the_number(src, name, values, expected):
    assert rf.quote(src, name, values) == expected


def test_a_doc_role_without_text_is_quoted_with_the_page_title():
    src = "As {doc}`../part2/normalization` showed, {glue:text}`n` layers suffice."
    titles = {"../part2/normalization": "Normalization"}
    assert rf.quote(src, "n", {"n": "3"}, doc_title=titles.get) == "As Normalization showed, [3] layers suffice"
    assert rf.quote(src, "n", {"n": "3"}) == "As ../part2/normalization showed, [3] layers suffice"
    eq = "By {eq}`eq-backward-factor`, {glue:text}`n` layers suffice."
    assert rf.quote(eq, "n", {"n": "3"}, eq_number={"eq-backward-factor": "(2.1)"}.get) == "By (2.1), [3] layers suffice"


def test_a_row_links_to_the_section_that_holds_its_number():
    paragraphs = [("Intro with 12 things.", "intro"), ("The accuracy is 0.8712 on the test set.", "results"),
                  ("Again 0.8712 later.", "later")]
    assert rf.anchor_for("The accuracy is [0.8712] on the test set", paragraphs) == "results"
    assert rf.anchor_for("…Again [0.8712] later", paragraphs) == "later"
    assert rf.anchor_for("It has [12]", paragraphs) is None  # too short to place without its words
    assert rf.anchor_for("Something [99.99] else", paragraphs) is None


def test_quote_cuts_a_long_tail_at_a_word():
    q = rf.quote("It took {glue:text}`n` " + "very " * 30 + "long.", "n", {"n": "3"}, after=20)
    assert q.startswith("It took [3] very") and q.endswith(" …") and len(q) < 40


@pytest.mark.parametrize("old, new, described", [
    ("4.787", "11", "+129.8 %"),          # finding 4: an increase is not understated (was 56.5 %)
    ("39", "41", "+5.1 %"),
    ("11", "4.787", "−56.5 %"),           # a decrease is signed
    ("32.22000", "32.22001", "+3e−05 %"),  # a tiny change is never "0.0 %"
    ("0", "0.5", "from 0"),
    ("adam", "sgd", "text changed"),
])
def test_change_is_signed_relative_to_the_previous_value(old, new, described):
    [c] = rf.diff({"p": {"x": old}}, {"p": {"x": new}})
    assert c.described() == described
    prev_shown, now_shown = c.shown()
    assert prev_shown != now_shown  # 32.22 → 32.22 is shown in full instead


def test_changes_are_sorted_largest_first_within_a_chapter():
    prev = {"p": {"a": "1.0", "b": "1.0", "c": "1.0"}, "q": {"z": "1"}}
    cur = {"p": {"a": "1.01", "b": "3.0", "c": "1.5"}, "q": {"z": "2"}}
    assert [(c.doc, c.name) for c in rf.diff(prev, cur)] == [("p", "b"), ("p", "c"), ("p", "a"), ("q", "z")]


def test_snapshot_of_another_budget_is_not_compared(tmp_path):
    """Finding 5: one snapshot per budget, and a snapshot that names another budget is not used."""
    assert rf.snapshot_name("cpu") != rf.snapshot_name("full")
    path = tmp_path / rf.snapshot_name("cpu")
    rf.save_snapshot(path, {"d": {"a": "1"}}, commit="c", date="d", budget="full", device="cuda")
    snap, why = rf.load_snapshot(path, "cpu")
    assert snap is None and "full budget" in why and "cpu budget" in why
    snap, why = rf.load_snapshot(path, "full")
    assert why is None and snap["device"] == "cuda"
    snap, why = rf.load_snapshot(tmp_path / "missing.json", "cpu")
    assert snap is None and "cpu budget" in why


def test_a_build_that_failed_under_keep_going_is_detected():
    """Finding 5: Sphinx emits build-finished without an exception before it fails a -W --keep-going
    build with warnings; such a build must not become the previous build."""
    from types import SimpleNamespace as NS
    assert rf.build_failed(NS(_warncount=2, keep_going=True))
    assert not rf.build_failed(NS(_warncount=0, keep_going=True))
    assert not rf.build_failed(NS(_warncount=3, keep_going=False))  # then a warning raised instead


def _sphinx_build(src, out, *, fail_on_warning=False):
    from io import StringIO

    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace
    warnings = StringIO()
    with docutils_namespace():  # each build registers its nodes afresh, as a new process would
        app = Sphinx(str(src), str(src), str(out / "html"), str(out / "doctrees"), "html", status=None,
                     warning=warnings, freshenv=True, warningiserror=fail_on_warning, keep_going=fail_on_warning)
        app.build()
    app.warnings_text = warnings.getvalue()
    return (out / "html" / "figures.html").read_text(encoding="utf8"), app


def test_page_has_headings_captions_budget_and_skips_the_snapshot_of_a_failed_build(tmp_path, monkeypatch):
    """Findings 5 and 6, on a two-page Sphinx project with fake glue files: a heading per part and per
    chapter (with ids), a caption per table, the budget in the summary and in the snapshot; a build that
    fails under -W --keep-going leaves the previous snapshot alone."""
    pytest.importorskip("sphinx")
    src, out = tmp_path / "src", tmp_path / "_build"
    src.mkdir()
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\n"
                                 "extensions = ['reported_figures']\nhtml_theme = 'basic'\n")
    (src / "index.rst").write_text("Book\n====\n\n.. toctree::\n   :caption: Part I — Signals\n\n   chap\n\n"
                                   ".. toctree::\n   :caption: Back matter\n\n   figures\n")
    # the quote is read from the raw source, where a MyST role is plain text to reStructuredText
    (src / "chap.rst").write_text("Chapter one\n===========\n\n.. math::\n   :label: eq-one\n\n   a = b\n\n"
                                  "Results\n-------\n\n"
                                  "See {doc}`figures` and {eq}`eq-one` with {glue:text}`acc` units.\n\n"
                                  "As read, with its glue filled in: 4.787 units.\n")
    (src / "figures.rst").write_text("Reported figures\n================\n\n.. reported-figures::\n")
    glue = out / "jupyter_execute"
    glue.mkdir(parents=True)
    long_verdict = "After Holm's correction over five paired seeds the difference is not significant at all."

    def write_glue(acc, verdict):
        (glue / "chap.glue.json").write_text(json.dumps({"acc": _out(acc), "verdict": _out(repr(verdict))}))
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_BUDGET", "cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    snap_path = tmp_path / "cache" / "reported_figures.cpu.json"

    write_glue("4.787", long_verdict)
    html, app = _sphinx_build(src, out)
    assert app.warnings_text == ""
    assert "This cpu-budget build (cpu) reports 2 figures in 1 chapter" in html
    assert "nothing to compare" in html
    assert ">Part I — Signals<a" in html and 'id="figures-chap"' in html
    assert 'href="#figures-chap"' in html.split('class="sphinxsidebar"', 1)[1]  # in the page's local contents
    assert "<caption>" in html and "Figures of “Chapter one”" in html
    assert "not significant at all." in html  # the long sentence is listed
    assert "See Reported figures and (1) with [4.787] units" in html  # page title, equation number
    assert 'href="chap.html#results"' in html  # the row links to the section that quotes the number
    snap = json.loads(snap_path.read_text())
    assert snap["budget"] == "cpu" and snap["figures"]["chap"]["acc"] == "4.787" and snap["date"].endswith("UTC")

    write_glue("11", long_verdict.replace("not significant", "significant"))
    html, app = _sphinx_build(src, out)
    assert app.warnings_text == ""
    assert "2 figures changed or appeared" in html
    assert 'id="reported-figures-changed"' in html and 'id="changed-chap"' in html
    assert "+129.8 %" in html and "text changed" in html and "(now − previous) / |previous|" in html

    (src / "chap.rst").write_text("Chapter one\n===========\n\nSee :doc:`missing`.\n")  # a warning
    write_glue("12", long_verdict)
    _, app = _sphinx_build(src, out, fail_on_warning=True)
    assert app.statuscode == 1
    assert json.loads(snap_path.read_text())["figures"]["chap"]["acc"] == "11"  # not the failed build's 12
