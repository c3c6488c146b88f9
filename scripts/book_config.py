#!/usr/bin/env python3
"""The book's repository URL lives in one place, ``repository.url`` of ``_config.yml``.

Everything that names the repository is generated from it: the install cell at the top of every
chapter and exercise notebook (``make sync``), the Colab/Binder badges of the exercises
(``exercises/build_notebooks.py``), the launch buttons (sphinx-book-theme reads the config), and the
README's install line.  ``tests/test_learner_paths.py`` fails when any copy disagrees.

    python scripts/book_config.py                      # print the configured URL
    python scripts/book_config.py --set https://github.com/me/my-fork
    python scripts/book_config.py --from-github-env    # CI: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY

``--set`` rewrites ``repository.url`` and every tracked text file that names the old repository, so a
fork's site (and its install cells) point at the fork; run ``make sync`` afterwards to regenerate the
paired notebooks.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "_config.yml"
_URL_LINE = re.compile(r"^(\s*url:\s*)(\S+)\s*$", re.M)
#: An owner/name the way GitHub spells it.
_OWNER_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
#: Where a page may name the repository (the URL forms we generate).
REPO_REFERENCE = re.compile(
    r"(?:github\.com|colab\.research\.google\.com/github|mybinder\.org/v2/gh)/"
    r"([A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+?)(?:\.git)?(?=[/\"'\s)}>@?#\]]|$)")
#: What follows OWNER/REPO in a link that cites another project's discussion (``/pull/1172``): not a reference to
#: the book's repository, so ``references`` skips it.
CITATION = re.compile(r"/(?:pull|issues|discussions)/\d+")
#: Tracked files that are text and may name the repository.
TEXT_SUFFIXES = {".md", ".ipynb", ".py", ".yml", ".yaml", ".txt", ".toml", ".cfg", ".sh", ".js", ".css", ""}


def repository(root: Path = ROOT) -> dict:
    """``repository`` of ``_config.yml`` as a dict with ``url`` (no trailing slash) and ``branch``."""
    import yaml

    cfg = yaml.safe_load((root / CONFIG).read_text(encoding="utf-8")) or {}
    repo = cfg.get("repository") or {}
    url = str(repo.get("url") or "").rstrip("/")
    if not url:
        raise SystemExit(f"{root / CONFIG}: repository.url is not set; it is the one place the book's "
                         f"GitHub URL is written (e.g. https://github.com/OWNER/REPO).")
    return {"url": url.removesuffix(".git"), "branch": str(repo.get("branch") or "main")}


def repo_url(root: Path = ROOT) -> str:
    return repository(root)["url"]


def owner_repo(url: str | None = None, root: Path = ROOT) -> str:
    """``OWNER/REPO`` of a GitHub URL (default: the configured one)."""
    url = (url or repo_url(root)).rstrip("/").removesuffix(".git")
    m = re.match(r"^https?://github\.com/([^/]+/[^/]+)$", url)
    if not m or not _OWNER_REPO.match(m.group(1)):
        raise ValueError(f"{url!r} is not a GitHub repository URL like https://github.com/OWNER/REPO.")
    return m.group(1)


def install_requirement(url: str | None = None, branch: str | None = None) -> str:
    """The pip requirement that installs the course package from the repository's book branch."""
    repo = repository()
    url, branch = url or repo["url"], branch or repo["branch"]
    return f"course-utils @ git+{url.rstrip('/')}@{branch}"


INSTALL_MARKER = "# Colab, Binder or your own Jupyter: install the course package if it is missing"


INSTALL_NOTE = " Generated from repository.url in _config.yml by `make sync`."


def install_cell(url: str | None = None, branch: str | None = None, *, maintainer_note: bool = True) -> str:
    """Source of the first code cell of every chapter and exercise notebook.

    Plain Python (no ``%pip`` magic) so that a failed install stops the notebook here with a message
    that says what to do, instead of printing a git error and failing one cell later with
    ``ModuleNotFoundError``. ``maintainer_note=False`` leaves out the build-plumbing remark (where the
    cell comes from), which means nothing to a learner: the exercise notebooks a learner opens.
    """
    req = install_requirement(url, branch)
    note = INSTALL_NOTE if maintainer_note else ""
    return f'''{INSTALL_MARKER}
# (nothing happens when it is there).{note}
try:
    import course_utils
except ImportError:
    import importlib, os, site, subprocess, sys
    _req = "{req}"
    print("Installing", _req, "(a minute or two) ...")
    _pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", _req], capture_output=True,
                          text=True, env={{**os.environ, "GIT_TERMINAL_PROMPT": "0"}})
    if _pip.returncode != 0:
        raise RuntimeError(
            "Could not install the course package; pip said:\\n"
            + (_pip.stdout + _pip.stderr).strip()[-1500:]
            + "\\nWhat to do: check that this runtime is online and that the repository "
            "in the line above exists, then run this cell again; or, in a terminal with a "
            "virtual environment active, run  pip install '" + _req + "'  and restart "
            "the kernel."
        ) from None
    site.addsitedir(site.getusersitepackages())  # pip may have fallen back to --user
    importlib.invalidate_caches()
    try:
        import course_utils
    except ImportError:
        raise RuntimeError("course_utils was installed but this kernel cannot import it yet: "
                           "restart the kernel (Kernel > Restart) and run the notebook "
                           "again.") from None
    print("course_utils", course_utils.__version__, "is installed.")'''


#: The branch the publishing workflow pushes the learner notebooks to (``_build/notebooks``, with ``binder/``):
#: what the Colab and Binder buttons open.
NOTEBOOK_BRANCH = "notebooks"

LEARNER_INSTALL_MARKER = "# Install the course package when it is missing (Colab, Binder, your own Jupyter)"


def learner_install_cell(url: str | None = None, branch: str | None = None) -> str:
    """The short install cell of a learner notebook (``_build/notebooks``), a few lines.

    A failed install ends in ``SystemExit`` with pip's last words and what to do: IPython shows that
    message without a traceback, and the notebook stops here instead of one cell later.
    """
    req = install_requirement(url, branch)
    return f'''{LEARNER_INSTALL_MARKER}
import importlib.util, os, subprocess, sys
REQ = "{req}"
if importlib.util.find_spec("course_utils") is None:
    print("Installing the course package (a minute or two) ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", REQ], capture_output=True,
                         text=True, env={{**os.environ, "GIT_TERMINAL_PROMPT": "0"}})
    if pip.returncode:
        raise SystemExit(f"Could not install {{REQ}}:\\n{{(pip.stdout + pip.stderr).strip()[-1200:]}}\\n"
                         "Check that this runtime is online, then run this cell again.")
    importlib.invalidate_caches()'''


def is_install_cell(source: str) -> bool:
    """True for an install cell, generated or an older hand-written one."""
    s = source.lstrip()
    return "import course_utils" in s and "except ImportError" in s and ("pip" in s)


def tracked_text_files(root: Path = ROOT) -> list[Path]:
    """Tracked files (git ls-files) that are text and may name the repository."""
    try:
        names = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                               check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    out = []
    for n in names:
        p = root / n
        if p.is_file() and p.suffix in TEXT_SUFFIXES and not n.startswith(".git/"):
            out.append(p)
    return out


#: Files that name other repositories on purpose (examples, test fixtures).
NOT_SCANNED = ("tests/", "scripts/book_config.py")


def references(root: Path = ROOT) -> list[tuple[Path, str]]:
    """Every (file, OWNER/REPO) a tracked file names in a GitHub, Colab or Binder URL."""
    found = []
    for p in tracked_text_files(root):
        if p.relative_to(root).as_posix().startswith(NOT_SCANNED):
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for m in REPO_REFERENCE.finditer(text):
            if CITATION.match(text, m.end()):  # a pull request or issue of another project, cited
                continue
            found.append((p, m.group(1)))
    return found


def set_repo_url(new_url: str, root: Path = ROOT) -> list[Path]:
    """Point the book at ``new_url``: ``_config.yml`` and every tracked file naming the old repository."""
    new = owner_repo(new_url)
    old_url = repo_url(root)
    old = owner_repo(old_url)
    cfg = root / CONFIG
    text = cfg.read_text(encoding="utf-8")
    # only the url: line inside the repository: block
    block = re.search(r"^repository:\n((?:[ \t]+.*\n?)+)", text, re.M)
    if not block:
        raise SystemExit(f"{cfg}: no repository: block to edit")
    body = _URL_LINE.sub(lambda m: m.group(1) + f"https://github.com/{new}", block.group(1), count=1)
    text = text[:block.start(1)] + body + text[block.end(1):]
    changed = []
    if text != cfg.read_text(encoding="utf-8"):
        cfg.write_text(text, encoding="utf-8")
        changed.append(cfg)
    if new == old:
        return changed
    for p in tracked_text_files(root):
        if p == cfg:
            continue
        try:
            body = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if old in body:
            p.write_text(body.replace(old, new), encoding="utf-8")
            changed.append(p)
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--set", metavar="URL", help="point the book at another GitHub repository")
    g.add_argument("--from-github-env", action="store_true",
                   help="use $GITHUB_SERVER_URL/$GITHUB_REPOSITORY (in GitHub Actions)")
    ap.add_argument("--warn-uncommitted", action="store_true",
                    help="with --from-github-env: print a GitHub warning when the committed URL differs")
    args = ap.parse_args(argv)
    committed_url = repo_url()
    url = args.set
    if args.from_github_env:
        repo = os.environ.get("GITHUB_REPOSITORY")
        if not repo:
            print("GITHUB_REPOSITORY is not set (this option is for GitHub Actions)", file=sys.stderr)
            return 2
        url = f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com').rstrip('/')}/{repo}"
    if url:
        try:
            changed = set_repo_url(url)
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
        print(f"repository.url = {repo_url()}; {len(changed)} file(s) rewritten")
        for p in changed:
            print("  ", p.relative_to(ROOT))
        if args.warn_uncommitted and changed and committed_url != repo_url():
            # GitHub Actions annotation: the site now names this repository, but the notebooks that
            # Colab opens come straight from the repository, where the old URL is still committed.
            print(f"::warning title=Install cells name {owner_repo(committed_url)}::The committed notebooks "
                  f"install course_utils from {committed_url}, so Colab learners of this repository get that "
                  f"code. Run `python scripts/book_config.py --set {repo_url()}` and `make sync`, and commit.")
        return 0
    print(repo_url())
    return 0


if __name__ == "__main__":
    sys.exit(main())
