"""`pip install git+<repo>` (Colab) installs only the packages pyproject.toml lists: every subpackage
of course_utils must be among them, or Colab learners get an ImportError that editable installs hide."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "course_utils").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"


# --- The wheel and the sdist build with warnings as errors ------------------------------------------------
# Every chapter's first cell builds the wheel (`pip install git+<repo>`), so a deprecated metadata form
# (setuptools announces a date after which it stops building) would one day break every learner's install.
# The build runs the PEP 517 hooks of setuptools in a fresh interpreter under `-W error`, offline, on a copy
# of the files the sdist needs.

import subprocess  # noqa: E402
import sys  # noqa: E402
import zipfile  # noqa: E402
import tarfile  # noqa: E402
import shutil  # noqa: E402

import pytest  # noqa: E402

_BUILD = """
import sys
from setuptools import build_meta as be
out = sys.argv[1]
print(be.build_sdist(out))
print(be.build_wheel(out))
"""


def _tracked(prefix: str) -> list[str]:
    names = subprocess.run(["git", "ls-files", prefix], cwd=ROOT, capture_output=True, text=True).stdout.split()
    return names or [str(p.relative_to(ROOT)) for p in (ROOT / prefix).rglob("*") if p.is_file()]


def _source_copy(dest: Path, pyproject: str | None = None) -> Path:
    for name in ["pyproject.toml", "README.md", "LICENSE", *_tracked("course_utils")]:
        if "__pycache__" in name:
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    if pyproject is not None:
        (dest / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return dest


def _strict_build(src: Path) -> subprocess.CompletedProcess:
    out = src / "dist"
    out.mkdir()
    return subprocess.run([sys.executable, "-W", "error", "-c", _BUILD, str(out)], cwd=src,
                          capture_output=True, text=True, timeout=300)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_wheel_and_sdist_build_with_warnings_as_errors(tmp_path):
    src = _source_copy(tmp_path / "src")
    res = _strict_build(src)
    assert res.returncode == 0, f"the strict build failed:\n{res.stdout}\n{res.stderr[-3000:]}"
    wheel = next((src / "dist").glob("*.whl"))
    sdist = next((src / "dist").glob("*.tar.gz"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "course_utils/results/full_budget.json" in names, "the recorded budget run must ship"
    assert "course_utils/static/explorable.js" in names, "the explorables' page script must ship"
    assert "course_utils/static/surface_explorer.js" in names, "the surface explorer's page script must ship"
    assert "course_utils/exercises/__init__.py" in names
    assert "course_utils/plotting/__init__.py" in names and "course_utils/plotting/runs.py" in names
    assert "course_utils/explorable/__init__.py" in names and "course_utils/explorable/core.py" in names
    assert "License-Expression: MIT" in meta and "License-File: LICENSE" in meta
    assert "Requires-Python: >=3.11" in meta
    with tarfile.open(sdist) as t:
        names = t.getnames()
    assert any(n.endswith("/LICENSE") for n in names) and any(n.endswith("/results/full_budget.json") for n in names)


def test_the_strict_build_fails_on_the_deprecated_licence_table(tmp_path):
    """The check can fail: the old `license = {text = ...}` form is a deprecation, hence an error here."""
    old = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    old = old.replace('license = "MIT"\n', 'license = {text = "MIT"}\n').replace('license-files = ["LICENSE"]\n', "")
    assert 'license = {text = "MIT"}' in old
    res = _strict_build(_source_copy(tmp_path / "src", old))
    assert res.returncode != 0 and "license" in res.stderr.lower(), res.stderr[-2000:]


def test_metadata_for_a_fork_and_its_readers():
    """SPDX licence with its file, the build floor that understands it, URLs that follow _config.yml."""
    import yaml

    meta = _pyproject()
    assert meta["project"]["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    floor = next(r for r in meta["build-system"]["requires"] if r.startswith("setuptools"))
    assert floor.replace(" ", "") == "setuptools>=77", f"PEP 639 licence strings need setuptools>=77, not {floor}"
    assert not any(c.startswith("License ::") for c in meta["project"]["classifiers"]), \
        "a licence classifier beside an SPDX expression is rejected by setuptools>=77"
    url = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"].rstrip("/")
    urls = meta["project"]["urls"]
    assert urls["Repository"] == url and all(u.startswith(url) for u in urls.values()), urls


def _version(text: str) -> tuple[int, int]:
    major, minor = text.strip().split(".")[:2]
    return int(major), int(minor)


def test_requires_python_is_what_the_tests_run():
    """The declared floor is the oldest Python that something in `make test` runs (the build's 3.11, which
    Binder uses too); every Python it runs (also Colab's, scripts/learner_stage.py) is declared in the
    classifiers, and this interpreter satisfies the floor."""
    meta = _pyproject()["project"]
    floor = _version(meta["requires-python"].removeprefix(">="))
    binder = _version((ROOT / "binder" / "runtime.txt").read_text().strip().removeprefix("python-"))
    stage = (ROOT / "scripts" / "learner_stage.py").read_text(encoding="utf-8")
    import re
    colab = _version(re.search(r'^COLAB_PYTHON = "([\d.]+)"', stage, re.M).group(1))
    tested = {binder, colab, sys.version_info[:2]}
    assert floor == min(tested), f"requires-python {meta['requires-python']} but the tests run {sorted(tested)}"
    declared = {_version(c.rsplit("::", 1)[1]) for c in meta["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert tested <= declared, f"add the classifiers of {sorted(tested - declared)}"


# --- The locked toolchain ---------------------------------------------------------------------------------
def _canon(name: str) -> str:
    import re
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_problems(constraints: str, requirements: list[str]) -> list[str]:
    """What is wrong with ``constraints`` as the lock of ``requirements`` (lines of requirements*.txt)."""
    import re
    pins, problems = {}, []
    for line in constraints.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", line)
        if not m:
            problems.append(f"not an exact pin: {line!r}")
            continue
        pins[_canon(m.group(1))] = m.group(2)
    if "course-utils" in pins:
        problems.append("course-utils is the package itself (installed editable): leave it out")
    for req in requirements:
        req = req.split("#", 1)[0].strip()
        if not req or req.startswith("-"):
            continue
        name = _canon(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group(0))
        if name not in pins:
            problems.append(f"{name} (from the requirements) has no pin")
    return problems


def _requirement_lines() -> list[str]:
    return [ln for f in ("requirements.txt", "requirements-jax.txt")
            for ln in (ROOT / f).read_text(encoding="utf-8").splitlines()]


def test_every_build_and_test_requirement_is_pinned_exactly():
    text = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert lock_problems(text, _requirement_lines()) == []
    for strict in ("jupyter-book", "myst-nb", "sphinx", "sphinx-book-theme", "sphinx-togglebutton", "setuptools"):
        assert f"\n{strict}==" in "\n" + "\n".join(_canon(ln.split("==")[0]) + "==" for ln in text.splitlines()), strict


def test_the_lock_check_can_fail():
    reqs = ["jupyter-book>=1.0,<2", "jax[cpu]>=0.4.30", "# a comment"]
    assert lock_problems("jupyter-book==1.0.4\njax==0.4.30\n", reqs) == []
    assert any("jax" in p for p in lock_problems("jupyter-book==1.0.4\n", reqs))
    assert any("exact pin" in p for p in lock_problems("jupyter-book>=1\njax==1\n", reqs))
    assert any("course-utils" in p for p in lock_problems("jupyter-book==1\njax==1\ncourse_utils==0.1\n", reqs))


def test_the_install_rule_uses_the_lock():
    """`make install` (hence `make book`, `make test` and every workflow) installs with -c constraints.txt,
    and reinstalls when the lock changes; the package's own dependencies stay loose lower bounds."""
    import re
    mk = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", mk, re.M)
    assert rule and "constraints.txt" in rule.group(1).split(), "the install stamp must depend on constraints.txt"
    assert re.search(r"pip install .*-c constraints\.txt .*-r requirements\.txt", rule.group(2)), rule.group(2)
    for dep in _pyproject()["project"]["dependencies"]:
        assert "==" not in dep and "<" not in dep.replace("<=", "<"), f"the learner's package pins {dep}"
