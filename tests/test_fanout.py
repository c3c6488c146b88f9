"""The `full` budget's fan-out (scripts/fanout.py), offline: grouping by recorded times, merging the groups'
results caches, and a dry run of both."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("fanout", ROOT / "scripts" / "fanout.py")
fanout = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fanout)


def test_the_toc_is_read_as_the_build_reads_it():
    sys.path.insert(0, str(ROOT / "scripts"))
    import sync_notebooks
    want = [md.relative_to(ROOT).as_posix() for md in sync_notebooks.chapters(ROOT)]
    assert fanout.toc_chapters(ROOT) == want


def test_every_chapter_has_a_time_and_the_readers_exist():
    times = fanout.estimated_seconds(ROOT)
    assert set(times) == set(fanout.toc_chapters(ROOT))
    assert all(s > 0 for s, _ in times.values())
    unrecorded = [c for c, (_, src) in times.items() if src == "no record"]
    assert not unrecorded, f"no recorded time for {unrecorded}: run scripts/cold_times.py on them"
    assert set(fanout.READERS) <= set(times), "a reader chapter left the toc: update READERS"


def test_groups_cover_each_chapter_once_and_balance():
    times = {f"c{i}.md": float(s) for i, s in enumerate([100, 90, 50, 40, 30, 20, 10, 5, 5])}
    groups = fanout.plan(times, 3, readers={"c8.md"})
    chapters = [c for g in groups for c in g["chapters"]]
    assert sorted(chapters) == sorted(set(times) - {"c8.md"})
    loads = sorted(g["seconds"] for g in groups)
    assert loads == [110.0, 115.0, 120.0], loads  # LPT on this input (345 s over 3)
    assert groups[0]["seconds"] == max(loads) and len({g["group"] for g in groups}) == 3
    assert len(fanout.plan(times, 20)) == len(times)  # never an empty group
    with pytest.raises(ValueError, match="at least 1"):
        fanout.plan(times, 0)


def test_the_books_plan_puts_the_longest_chapter_alone():
    times = {c: s for c, (s, _) in fanout.estimated_seconds(ROOT).items()}
    groups = fanout.plan(times, 4)
    assert not {c for g in groups for c in g["chapters"]} & set(fanout.READERS)
    heaviest = max((c for c in times if c not in fanout.READERS), key=times.get)
    assert groups[0]["chapters"][0] == heaviest and groups[0]["seconds"] == pytest.approx(
        max(times[heaviest], groups[0]["seconds"]))
    m = fanout.matrix(groups)
    assert [e["group"] for e in m["include"]] == [g["group"] for g in groups]
    assert all(" " not in e["group"] and "/" not in e["group"] for e in m["include"])  # artifact and cache names


def test_merge_copies_results_only_and_keeps_the_first_duplicate(tmp_path):
    a, b, into = tmp_path / "a", tmp_path / "b", tmp_path / "cache"
    for d, body in ((a, "A"), (b, "B")):
        (d / "runs").mkdir(parents=True)
        (d / "runs" / f"only-{d.name}.pt").write_text(body)
        (d / "runs" / "shared.pt").write_text(body)
        (d / "data").mkdir()
        (d / "data" / "images.gz").write_text("not a result")
    (a / "jax").mkdir()
    (a / "jax" / "k.json").write_text("{}")
    stats = fanout.merge([a, b], into)
    assert fanout.result_files(into) == {"runs/only-a.pt", "runs/only-b.pt", "runs/shared.pt", "jax/k.json"}
    assert (into / "runs" / "shared.pt").read_text() == "A" and not (into / "data").exists()
    assert stats == {"copied": 4, "duplicates": 1, "differing": 1, "sources": 2}
    assert not list(into.rglob("*.part"))
    with pytest.raises(SystemExit, match="not a folder"):
        fanout.merge([tmp_path / "missing"], into)


def test_dry_run_plans_trains_and_merges(tmp_path):
    res = fanout.dry_run(ROOT, 4, tmp_path)
    assert len(res["groups"]) == 4 and res["merged"]["sources"] == 4 and res["merged"]["duplicates"] == 0


def test_dry_run_fails_when_a_chapter_is_left_out(tmp_path, monkeypatch):
    """The check can fail: a plan that drops a chapter (neither in a group nor a reader) is caught."""
    real = fanout.plan
    monkeypatch.setattr(fanout, "plan", lambda times, k: [{**g, "chapters": g["chapters"][1:]} if i == 0 else g
                                                          for i, g in enumerate(real(times, k))])
    with pytest.raises(AssertionError, match="in no group|differs"):
        fanout.dry_run(ROOT, 3, tmp_path)


def test_plan_writes_the_github_outputs(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    assert fanout.main(["plan", "--groups", "3", "--github-output"]) == 0
    lines = dict(ln.split("=", 1) for ln in out.read_text().splitlines())
    assert lines["fanout"] == "true" and len(json.loads(lines["matrix"])["include"]) == 3
    out.unlink()
    assert fanout.main(["plan", "--budget", "cpu", "--github-output"]) == 0
    assert "fanout=false" in out.read_text()
    assert fanout.main(["plan", "--groups", "0"]) == 2 and "at least 1" in capsys.readouterr().err
    monkeypatch.delenv("GITHUB_OUTPUT")
    assert fanout.main(["plan", "--github-output"]) == 2


def test_the_publish_estimates():
    """The README quotes these (2-core records; a 4-vCPU runner between 1x and 2x as fast)."""
    slow, fast = fanout.estimate(ROOT, 4, 1.0), fanout.estimate(ROOT, 4, 2.0)
    assert slow["critical_group"] == "part3-fashion_mnist_comparison"
    assert slow["full_fanout_cold_minutes"] < slow["full_one_runner_cold_minutes"]
    assert fast["full_fanout_cold_minutes"] < slow["full_fanout_cold_minutes"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for est, words in ((slow, "about {} minutes of wall time"), (fast, "{} if 4 vCPU")):
        assert words.format(round(est["full_fanout_cold_minutes"])) in readme, words
    assert f"about {round(slow['cpu_cold_minutes'])} minutes" in readme
    # the cpu publish line itself (the table's "about N minutes" alone would let it go stale)
    assert (f"`BOOK_BUDGET=cpu`: one runner, about {round(slow['cpu_cold_minutes'])} minutes" in readme
            and f"({round(fast['cpu_cold_minutes'])} if 4 vCPU" in readme), "README's BOOK_BUDGET=cpu estimate"
    assert f"{slow['full_fanout_runner_minutes'] / 60:.1f} runner-hours" in readme
