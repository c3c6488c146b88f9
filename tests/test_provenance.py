"""Tests of course_utils.provenance: the fields, their fallbacks, and clear errors for bad input."""
import datetime as dt
import re
import subprocess

import pytest
import torch

from course_utils import config, provenance
from course_utils import provenance as P


def test_line_has_every_field(monkeypatch):
    monkeypatch.delenv("COURSE_COMMIT", raising=False)
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    line = provenance.provenance_line(config.get_budget("cpu"), seeds=[0, 1, 2], device="cpu")
    for key in ("commit", "built", "device", "torch", "budget", "seeds"):
        assert key in line, line
    assert torch.__version__ in line
    assert "budget 'cpu'" in line
    assert "seeds 0–2" in line
    assert re.search(r"built \d{4}-\d{2}-\d{2}", line)


def test_commit_matches_git(monkeypatch):
    monkeypatch.delenv("COURSE_COMMIT", raising=False)
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    try:
        ref = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True,
                             cwd=provenance.__file__.rsplit("/", 1)[0])
    except OSError:
        pytest.skip("git is not installed")
    expected = ref.stdout.strip() if ref.returncode == 0 else "unknown"
    assert provenance.git_commit() == (expected or "unknown")


def test_commit_from_environment_and_missing_git(monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123")
    assert provenance.git_commit() == "0123456789ab"
    monkeypatch.delenv("GITHUB_SHA")
    monkeypatch.delenv("COURSE_COMMIT", raising=False)
    assert provenance.git_commit(tmp_path) == "unknown"          # not a git checkout


@pytest.mark.parametrize("epoch, date", [(0, "1970-01-01"), (1767225600, "2026-01-01")])
def test_build_date_reproducible(monkeypatch, epoch, date):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    assert provenance.build_date() == date


def test_build_date_rejects_bad_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
        provenance.build_date()
    assert provenance.build_date(dt.datetime(2025, 3, 4, tzinfo=dt.timezone.utc)) == "2025-03-04"


@pytest.mark.parametrize("text, expected", [
    ("processor\t: 0\nmodel name\t: Intel(R)  Xeon(R) CPU @ 2.20GHz\n", "Intel(R) Xeon(R) CPU @ 2.20GHz (cpu)"),
    ("processor\t: 0\nHardware\t: BCM2835\n", "BCM2835 (cpu)"),
])
def test_cpu_model_from_cpuinfo(tmp_path, text, expected):
    f = tmp_path / "cpuinfo"
    f.write_text(text)
    assert provenance.device_name("cpu", cpuinfo=f) == expected


def test_cpu_model_without_cpuinfo(tmp_path):
    name = provenance.device_name("cpu", cpuinfo=tmp_path / "missing")
    assert name.endswith("(cpu)") and len(name) > len(" (cpu)")


@pytest.mark.parametrize("seeds, text", [(None, None), (7, "7"), (range(5), "0–4"), ([3, 1], "3, 1"),
                                         ([0, 1], "0, 1"), ([], None)])
def test_seed_formatting(seeds, text):
    assert provenance._format_seeds(seeds) == text


@pytest.mark.parametrize("seeds", ["0,1", [0.5, 1], [True]])
def test_bad_seeds(seeds):
    with pytest.raises(TypeError, match="seeds"):
        provenance.provenance_line("cpu", seeds=seeds, device="cpu")


def test_bad_budget_and_device():
    with pytest.raises(ValueError, match="Unknown budget"):
        provenance.provenance_line("huge", device="cpu")
    with pytest.raises(TypeError, match="budget"):
        provenance.provenance_line(3, device="cpu")
    with pytest.raises(ValueError, match="Invalid device"):
        provenance.device_name("gpu")


def test_reprs_escape_and_agree():
    p = provenance.Provenance({"device": "<cpu>", "torch": "2.4"})
    assert "&lt;cpu&gt;" in p._repr_html_() and "course-provenance" in p._repr_html_()
    assert str(p) == "device <cpu> · torch 2.4"
    assert p._repr_markdown_().startswith("*Produced by:*")


def test_show_returns_outside_ipython():
    p = provenance.show("cpu", device="cpu")
    assert isinstance(p, provenance.Provenance)


def test_a_page_with_its_own_sizes_says_them_not_the_budgets_defaults():
    line = provenance.provenance_line("cpu", device="cpu", sizes={"epochs": 4, "seeds": 5, "n_train": 15000,
                                                                   "rates": {"SGD": [0.1]}})
    assert "budget 'cpu'; this page: epochs 4, seeds 5, n train 15,000" in line
    assert "6 epochs" not in line   # the budget's default, which this page did not run
    with pytest.raises(TypeError, match="sizes this page ran"):
        provenance.provenance_line("cpu", device="cpu", sizes={})


def test_every_chapter_with_its_own_sizes_reports_them():
    """A chapter that picks its sizes per budget (a SIZES table) must print those in its provenance line."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for md in sorted((root / "book").rglob("*.md")):
        text = md.read_text()
        if re.search(r"^SIZES = ", text, re.M) and not re.search(r"provenance\.show\([^)]*sizes=", text):
            offenders.append(str(md.relative_to(root)))
    assert not offenders, f"these chapters define SIZES but their provenance line does not say them: {offenders}"


def test_sizes_keyed_by_budget_pick_this_budgets_row():
    line = provenance.provenance_line("full", device="cpu", sizes={"cpu": {"epochs": 4}, "full": {"epochs": 40, "seeds": [0, 1, 2, 3]}})
    assert "budget 'full'; this page: epochs 40, seeds 0–3" in line


def test_recorded_budget_run_says_how_to_record_a_missing_one():
    with pytest.raises(FileNotFoundError, match="run_budget.py --budget nosuch"):
        provenance.recorded_budget_run("nosuch")


# ----------------------------------------------------------------------------- the other budget's finding
_RECORD = {"budget": "full", "chapters": {
    "book/a.md": {"passed": True, "commit": "abcdef1234", "finished": "2026-12-02 14:28:54",
                  "glued": {"acc": "88.756", "verdict": "'Adam is ahead'", "n": "5"}},
    "book/b.md": {"passed": False, "commit": "abcdef1234", "glued": {"acc": "10.0"}}}}


def test_recorded_value_parses_numbers_and_unquotes_text():
    assert P.recorded_value(_RECORD, "book/a.md", "acc") == pytest.approx(88.756)
    assert P.recorded_value(_RECORD, "book/a.md", "verdict") == "Adam is ahead"
    with pytest.raises(KeyError, match="glued no 'nope'.*acc"):
        P.recorded_value(_RECORD, "book/a.md", "nope")
    with pytest.raises(KeyError, match="not in the recorded 'full' run"):
        P.recorded_value(_RECORD, "book/zzz.md", "acc")


def test_at_other_budget_quotes_the_record_labelled():
    box = P.at_other_budget("book/a.md", lambda v: f"Mean {v('acc'):.2f} %: {v('verdict')}.", record=_RECORD,
                            current="cpu")
    assert box.title == "The recorded run at the 'full' budget"
    assert "Mean 88.76 %: Adam is ahead." in box.body and "commit abcdef1" in box.body and "2026-12-02" in box.body
    assert "ran at 'cpu'" in box.body
    assert 'class="admonition note' in box._repr_html_() and "88.76" in box._repr_html_()
    assert box._repr_markdown_().startswith("**The recorded run at the 'full' budget.**")


def test_at_other_budget_without_a_passing_record_or_at_that_budget():
    for chapter, words in (("book/b.md", "did not pass"), ("book/none.md", "has not been run")):
        box = P.at_other_budget(chapter, lambda v: v("acc"), record=_RECORD, current="cpu")
        assert words in box.body and "only this page's own 'cpu' numbers" in box.body
    box = P.at_other_budget("book/a.md", lambda v: 1 / 0, record=_RECORD, current="full")  # never called
    assert box.title == "This page ran at the 'full' budget"
    with pytest.raises(KeyError):  # a sentence naming a value the chapter never glued is a clear error
        P.at_other_budget("book/a.md", lambda v: v("missing"), record=_RECORD, current="cpu")


def test_markdown_of_the_box_escapes_markup():
    md = P.AtOtherBudget("t", "AdamW (weight_decay=0.05) * 2")._repr_markdown_()
    assert r"weight\_decay" in md and r"\*" in md
