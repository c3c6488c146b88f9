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
])
def test_fmt(text, shown):
    assert rf.fmt(text) == shown


def test_diff_reports_changed_new_and_gone_but_not_equal_numbers():
    prev = {"p1": {"a": "0.5", "b": "1.0", "gone": "3"}, "p_old": {"z": "1"}}
    cur = {"p1": {"a": "0.5000000000001", "b": "1.1", "new": "x"}}
    changes = {(c.doc, c.name): c for c in rf.diff(prev, cur)}
    assert set(changes) == {("p1", "b"), ("p1", "gone"), ("p1", "new"), ("p_old", "z")}
    assert changes[("p1", "b")].relative == pytest.approx(0.1 / 1.1)
    assert changes[("p1", "gone")].new is None and changes[("p1", "new")].old is None
    assert changes[("p1", "new")].relative is None
    assert rf.diff(cur, cur) == []


def test_snapshot_roundtrip_is_atomic_and_bad_files_are_detected(tmp_path):
    path = tmp_path / "cache" / "reported_figures.json"
    snap, why = rf.load_snapshot(path)
    assert snap is None and "no previous build" in why
    figures = {"book/setup": {"mean": "0.286"}}
    rf.save_snapshot(path, figures, commit="abc1234", date="2026-11-23 12:00")
    snap, why = rf.load_snapshot(path)
    assert why is None and snap["figures"] == figures and snap["commit"] == "abc1234"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind

    path.write_text('{"version": 1, "figures": {"book/setup": {"mean"')  # truncated write
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
    assert rf.quote(src, "pixel_mean", values) == "The training pixels have mean [0.2860]"
    assert rf.quote(src, "pixel_std", values) == \
        "The training pixels have mean 0.2860 and standard deviation [0.3530]"
    assert rf.quote(src, "n", values) == "Next paragraph [12]"
    assert rf.quote(src, "not_quoted", values) is None
    assert rf.quote("It has {glue:text}`p:,` weights.", "p", {"p": "633226"}) == "It has [633,226]"
    long = "word " * 50 + "{glue:text}`n`"
    q = rf.quote(long, "n", values, width=30)
    assert q.startswith("…") and q.endswith("[12]") and len(q) <= 36


def test_quote_keeps_formulas_as_math():
    """A quoted formula is typeset on the page (math nodes), never shown as raw TeX; a cut inside a
    formula drops the formula's tail instead of leaving an unmatched $."""
    values = {"r": "0.5"}
    src = "The mean $\\mathbb E[\\sigma'(y)^2]$ is {glue:text}`r`."
    q = rf.quote(src, "r", values)
    assert q == "The mean $\\mathbb E[\\sigma'(y)^2]$ is [0.5]"
    para = rf.quoted_nodes(q)
    kinds = [type(n).__name__ for n in para.children]
    assert kinds == ["Text", "math", "Text"] and para.children[1].astext() == "\\mathbb E[\\sigma'(y)^2]"
    cut = rf.quote("$a + b + c + d + e + f + g$ so {glue:text}`r`", "r", values, width=12)
    assert cut.count("$") % 2 == 0 and cut.endswith("[0.5]"), cut
