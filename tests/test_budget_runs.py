"""The full-budget runner (scripts/run_budget.py) and the prepared GPU check (scripts/gpu_check.py)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "exercises"))
from build_notebooks import FRONT as _JUPYTEXT_FRONT  # noqa: E402  (the book's MyST notebook front matter)

FRONT = _JUPYTEXT_FRONT + "\n# A fixture chapter\n"


def _chapter(tmp_path, *cells):
    md = tmp_path / "chapter.md"
    md.write_text(FRONT + "".join(f"\n```{{code-cell}} ipython3\n{c}\n```\n" for c in cells))
    return md


def _run_budget(tmp_path, md, *extra):
    p = subprocess.run([sys.executable, str(ROOT / "scripts/run_budget.py"), "--budget", "cpu", "--cache",
                        str(tmp_path / "cache"), "--out", str(tmp_path / "out"), *extra, str(md)],
                       capture_output=True, text=True, timeout=300)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    return p, report["chapters"][str(md)]


def test_runner_records_every_failing_check_and_the_glued_values(tmp_path):
    md = _chapter(tmp_path,
                  "import os\nfrom course_utils.notebook import glue\nglue('budget_seen', os.environ['COURSE_BUDGET'])",
                  "assert 1 + 1 == 3, 'a hidden check that fails'",
                  "x = 2",
                  "assert x == 5, 'a second failing check, after the first'")
    p, rec = _run_budget(tmp_path, md)
    assert p.returncode == 1, p.stdout + p.stderr
    assert not rec["passed"] and rec["status"] == "executed"
    assert [e["ename"] for e in rec["errors"]] == ["AssertionError", "AssertionError"]
    assert "a second failing check" in rec["errors"][1]["evalue"]
    assert rec["glued"].get("budget_seen") == "'cpu'"   # the kernel ran at the budget asked for
    assert "1 failed" not in p.stdout and "2 failed" in p.stdout   # the table says how many


def test_runner_passes_a_good_chapter_and_skips_it_unchanged(tmp_path):
    md = _chapter(tmp_path, "assert True")
    p, rec = _run_budget(tmp_path, md)
    assert p.returncode == 0 and rec["passed"] and rec["errors"] == []
    p2, _ = _run_budget(tmp_path, md)
    assert "skip" in p2.stdout
    md.write_text(md.read_text().replace("assert True", "assert 1"))   # a changed source runs again
    p3, _ = _run_budget(tmp_path, md)
    assert "skip" not in p3.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_check_refuses_clearly_without_cuda(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "scripts/gpu_check.py"), "--out", str(tmp_path / "g.json")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "no CUDA device" in p.stderr and "DRY=1" in p.stderr
    assert not (tmp_path / "g.json").exists()


def test_gpu_check_dry_run_runs_every_step_on_cpu(tmp_path):
    out = tmp_path / "g.json"
    p = subprocess.run([sys.executable, str(ROOT / "scripts/gpu_check.py"), "--dry-run", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(out.read_text())
    assert r["passed"] and r["dry_run"]
    assert set(r["steps"]) == {"train_throughput", "where_time_goes", "chapters"}
    assert r["steps"]["train_throughput"]["speedup"] > 0
    # stacking the seeds keeps each seed's own run (same initial weights and batch order)
    assert r["steps"]["where_time_goes"]["stacked_max_weight_difference"] < 1e-5
    assert [c["passed"] for c in r["steps"]["chapters"]["run"]] == [True]


def test_a_cached_rerun_keeps_the_cold_time_and_the_table_shows_both():
    import importlib.util
    spec = importlib.util.spec_from_file_location("run_budget", ROOT / "scripts" / "run_budget.py")
    rb = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "scripts"))
    spec.loader.exec_module(rb)
    cold = {"seconds": 1913.0, "new_cache_files": 28}
    rerun = {"seconds": 15.0, "new_cache_files": 0}
    assert rb.cold_seconds(cold, None) == 1913.0
    assert rb.cold_seconds(rerun, cold) == 1913.0                       # read everything back: keep 1913
    assert rb.cold_seconds(rerun, {**cold, "cold_seconds": 2000.0}) == 2000.0
    assert rb.cold_seconds({"seconds": 40.0, "new_cache_files": 3}, cold) == 40.0  # it trained: a new cold time
    assert rb.cold_seconds(rerun, None) == 15.0
    env = {"device": "new box", "torch": "2.14.1"}
    assert rb.cold_environment(cold, None, env) == {"cold_device": "new box", "cold_torch": "2.14.1"}
    first = {**cold, "device": "old box", "torch": "2.13"}                # the cold run stored its machine
    assert rb.cold_environment(rerun, first, env) == {"cold_device": "old box", "cold_torch": "2.13"}
    assert rb.cold_environment(rerun, {**first, "cold_seconds": 1913.0}, env)["cold_device"] == "old box"
    older = {**first, "seconds": 15.0, "cold_seconds": 1913.0}             # its time was itself kept from before
    assert rb.cold_environment(rerun, older, env) == {"cold_device": None, "cold_torch": None}
    assert rb.cold_environment(rerun, {**older, "cold_device": "x", "cold_torch": "y"}, env) == {
        "cold_device": "x", "cold_torch": "y"}
    rep = {"chapters": {"a.md": {"chapter": "a.md", **rerun, "cold_seconds": 1913.0, "passed": True, "errors": [],
                                 "status": "executed"}}}
    assert "| a.md | 1913 | 15 | all passed |" in rb.table(rep)


def test_export_keeps_long_sentences_and_drops_tables():
    import importlib.util
    spec = importlib.util.spec_from_file_location("run_budget", ROOT / "scripts" / "run_budget.py")
    rb = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT / "scripts"))
    spec.loader.exec_module(rb)
    verdict = "'" + "after Holm's correction, x is ahead of y by 0.35 points; " * 8 + "'"   # ~470 characters
    rep = {"budget": "full", "chapters": {"book/setup.md": {
        "chapter": "book/setup.md", "seconds": 3.0, "passed": True, "errors": [], "status": "executed",
        "glued": {"verdict": verdict, "table": "   a  b\n0  1  2", "n": "5"}}}}
    glued = rb.export(rep)["chapters"]["book/setup.md"]["glued"]
    assert glued == {"verdict": verdict, "n": "5"}
