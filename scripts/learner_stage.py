#!/usr/bin/env python3
"""`make learner`: meet the book the way a learner in Colab, on Binder or on a laptop does.

What it builds and runs, in order (each step prints its time):

1. **A learner's user**: as root it runs everything below as the unprivileged user ``course-learner``
   (created when missing), so nothing can quietly rely on root (``apt-get``, writing into the repo);
   as any other user it runs as that user.
2. **A learner's Python**: a fresh virtual environment in a folder *outside the repository* holding
   only what the first cell of a chapter installs — the package from a git URL of this checkout
   (``git+file://``, a bare clone standing in for GitHub) with its declared dependencies and the
   ``jax`` extra — plus ``ipykernel``.  No jupyter-book, myst-nb, pytest or playwright.  The package
   itself is then uninstalled again, so that step 3 installs it the way a learner does.
3. **The install cell** of the learner notebook ``_build/notebooks/book/setup.ipynb`` (the short one
   Colab runs first), with the repository URL pointed at the bare clone, runs as plain Python in that
   environment and must install ``course_utils``.
4. **The real download path**: with no ``$COURSE_DATA`` and no Debian package in sight,
   ``load_fashion_mnist(download=True)`` runs torchvision's download against a loopback HTTP server
   that serves the four ``.gz`` files (the only change: torchvision's mirror list and its MD5 list,
   because Debian's ``.gz`` wrappers differ from the original ones; the decompressed files are then
   checked against the package's own SHA-256 sums, as on Colab).  The files land in the learner's
   cache folder, where the notebooks find them.
5. **Every notebook top to bottom**: the learner notebooks that `make book` wrote to
   ``_build/notebooks`` (chapters and exercises: what Colab and Binder open), with the build's outputs
   cleared, and every solution notebook; each copied alone into its own folder (nothing of the
   repository beside it, so ``project_root()`` finds nothing) and executed by nbval (``--nbval-lax``: a
   cell fails the stage when it raises) with a kernel of the learner's environment.  The book's
   results cache is shared read-only (hard links to files the learner cannot write), so nothing
   trains twice; the stage reports how many runs it had to train itself.
6. **Colab's versions**: a second environment from Python 3.12 with ipywidgets 7.7.1, matplotlib 3.10.0,
   numpy 2.0.2 and pandas 2.2.2 pinned (``COLAB_PINS``: what Colab ships; the build itself only meets
   ipywidgets 8), its own install cell run, then every learner notebook again in its kernel.
   ``--no-colab`` skips it; the versions each environment ran are in ``_build/learner_stage.json``.

    python scripts/learner_stage.py [--keep-venv] [--no-colab] [--only PATTERN ...]

Environment: ``COURSE_COLAB_PYTHON`` (a Python 3.12 for step 6), ``COURSE_LEARNER_DIR`` (default ``/tmp/course-learner-<hash of the checkout's path>``), ``COURSE_BUDGET`` and
``COURSE_PROGRESS`` are passed through.  Exit status 0 when every step passed.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
from dataclasses import dataclass
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402

USER = "course-learner"
KERNEL = "course-learner"
#: The second environment: Google Colab's versions where the package index has them (Colab, 2026-12:
#: Python 3.12, ipywidgets 7.7.1, matplotlib 3.10.0, numpy 2.0.2, pandas 2.2.2; the build tests only
#: ipywidgets 8 and matplotlib 3.11).  torch stays the one the package index offers (2.14.1).
COLAB_PYTHON = "3.12"
COLAB_PINS = ("ipywidgets==7.7.1", "matplotlib==3.10.0", "numpy==2.0.2", "pandas==2.2.2")
COLAB_KERNEL = "course-colab"
NOTEBOOKS = ROOT / "_build" / "notebooks"   # the learner notebooks `make book` writes
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
RAW = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
#: Variables a learner's shell would have; everything else of the developer's environment is dropped.
PASS_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "COURSE_BUDGET", "COURSE_PROGRESS", "COURSE_DEVICE", "PYTHONHASHSEED",
            "OMP_NUM_THREADS", "PIP_FIND_LINKS", "PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK",
            "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
            "https_proxy", "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GITHUB_SHA", "COURSE_COMMIT")


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


class Learner:
    """Runs commands as the learner (another user when we are root) in the learner's folder."""

    def __init__(self, base: Path):
        self.base = base
        self.root_mode = os.geteuid() == 0
        if self.root_mode:
            try:
                pwd.getpwnam(USER)
            except KeyError:
                say(f"creating the unprivileged user {USER}")
                subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
            pw = pwd.getpwnam(USER)
            self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, Path(pw.pw_dir)
        else:
            self.uid, self.gid, self.home = os.getuid(), os.getgid(), Path.home()
        # The learner's own Python: root's interpreter (e.g. under /root) may not even be readable for them
        self.base_python = os.environ.get("COURSE_LEARNER_PYTHON") or (
            "/usr/bin/python3" if self.root_mode and Path("/usr/bin/python3").exists()
            else getattr(sys, "_base_executable", sys.executable))
        self.venv = base / "venv"
        self.runner = base / "runner"   # nbval + pytest drive the kernel from here, never inside the kernel's env
        self.python = self.venv / "bin" / "python"
        self.cache = base / "cache"
        self.work = base / "work"
        self.jupyter = base / "jupyter"

    def env(self, **extra: str) -> dict:
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.update(HOME=str(self.home), USER=USER if self.root_mode else os.environ.get("USER", ""),
                   COURSE_CACHE=str(self.cache), JUPYTER_PATH=str(self.jupyter / "share" / "jupyter"),
                   JUPYTER_RUNTIME_DIR=str(self.base / "runtime"), MPLCONFIGDIR=str(self.base / "mpl"),
                   PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"))
        env.update(extra)
        return env

    def run(self, cmd: list[str], *, cwd: Path | None = None, check: bool = True, **extra: str):
        if self.root_mode:
            cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--", *cmd]
        return subprocess.run(cmd, cwd=cwd or self.base, env=self.env(**extra), check=check)

    def mkdir(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        if self.root_mode:
            os.chown(path, self.uid, self.gid)
        return path

    def chown_tree(self, path: Path) -> None:
        if self.root_mode:
            subprocess.run(["chown", "-R", f"{self.uid}:{self.gid}", str(path)], check=True)


def bare_clone(learner: Learner) -> str:
    """A bare clone of this checkout's HEAD (stands in for GitHub); returns its git+file URL."""
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()
    if dirty:
        say(f"note: the working tree has uncommitted changes; the learner installs commit {head} (HEAD), "
            f"as Colab would install what is pushed")
    origin = learner.base / "origin.git"
    shutil.rmtree(origin, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", "--bare", str(ROOT), str(origin)], check=True)
    learner.chown_tree(origin)
    return f"file://{origin}"


@dataclass
class Env:
    """One learner environment: a venv from ``base_python`` with ``pins`` (besides the package's own
    dependencies) and a kernel named ``kernel``; ``ld_path`` for an interpreter copied out of /root."""
    name: str
    venv: Path
    base_python: str
    kernel: str
    pins: tuple[str, ...] = ()
    ld_path: str = ""

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def extra_env(self) -> dict:
        return {"LD_LIBRARY_PATH": self.ld_path} if self.ld_path else {}


def make_venv(learner: Learner, origin: str, keep: bool, env: Env | None = None) -> None:
    env = env or Env("learner", learner.venv, learner.base_python, KERNEL)
    stamp = env.venv / ".course-deps"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + repr(env.pins).encode()).hexdigest()
    x = env.extra_env()
    if keep and stamp.is_file() and stamp.read_text() == want:
        say(f"reusing the {env.name} environment {env.venv} (dependencies unchanged)")
    else:
        shutil.rmtree(env.venv, ignore_errors=True)
        learner.run([env.base_python, "-m", "venv", str(env.venv)], **x)
        # a distribution's pip may be too old to parse `name @ git+file://...` (Debian 12's 23.0.1)
        learner.run([str(env.python), "-m", "pip", "install", "-q", "--upgrade", "pip"], **x)
        say(f"{env.name}: installing the package's declared dependencies (+ the jax extra) and ipykernel"
            + (f", pinned {', '.join(env.pins)}" if env.pins else "") + ", as the learner")
        # ipykernel<7: nbval's kernel, not the learner's code (7.x can leave a client waiting on an idle kernel,
        # constraints.txt says more)
        learner.run([str(env.python), "-m", "pip", "install", "-q", "ipykernel<7", *env.pins,
                     f"course-utils[jax] @ git+{origin}"], **x)
        stamp.write_text(want)
    # the package itself goes again: the install cell (step 3) has to bring it back
    learner.run([str(env.python), "-m", "pip", "uninstall", "-q", "-y", "course-utils"], check=False, **x)
    tools = [m for m in ("myst_nb", "jupyter_book", "pytest", "playwright", "nbval", "sphinx")
             if learner.run([str(env.python), "-c", f"import importlib.util as u, sys; "
                             f"sys.exit(0 if u.find_spec({m!r}) else 1)"], check=False, **x).returncode == 0]
    if tools:
        raise SystemExit(f"the {env.name} environment must not hold build/test tools, but has {tools}")
    learner.run([str(env.python), "-m", "ipykernel", "install", "--prefix", str(learner.jupyter),
                 "--name", env.kernel, "--display-name", f"Python 3 ({env.name})"], **x)
    if env.ld_path:  # the kernel must find the copied interpreter's libpython too
        spec = learner.jupyter / "share" / "jupyter" / "kernels" / env.kernel / "kernel.json"
        k = json.loads(spec.read_text())
        k["env"] = {**k.get("env", {}), "LD_LIBRARY_PATH": env.ld_path}
        spec.write_text(json.dumps(k, indent=1))


def versions(learner: Learner, env: Env) -> dict:
    """What the environment's kernel will run with (reported, and checked against the pins)."""
    code = ("import json, sys, importlib.metadata as m; print(json.dumps({'python': sys.version.split()[0], "
            "**{d: m.version(d) for d in ('torch', 'ipywidgets', 'matplotlib', 'numpy', 'pandas')}}))")
    out = subprocess.run(["setpriv", f"--reuid={learner.uid}", f"--regid={learner.gid}", "--init-groups", "--"]
                         * learner.root_mode + [str(env.python), "-c", code], env=learner.env(**env.extra_env()),
                         capture_output=True, text=True, cwd=learner.base)
    if out.returncode:
        raise SystemExit(f"{env.name}: cannot read its versions: {out.stderr[-500:]}")
    return json.loads(out.stdout)


def find_colab_python(learner: Learner) -> tuple[str, str] | None:
    """A Python of Colab's minor version for the second environment, usable by the learner.

    ``$COURSE_COLAB_PYTHON``, else ``python3.12`` on the PATH, else a pyenv build.  An interpreter the
    learner cannot read (root's pyenv under /root) is copied into the learner's folder, with its
    ``lib/`` on ``LD_LIBRARY_PATH`` (pyenv links libpython by an absolute run path).
    """
    cands = [os.environ.get("COURSE_COLAB_PYTHON", ""), shutil.which(f"python{COLAB_PYTHON}") or "",
             *sorted(str(p) for p in Path("/root/.pyenv/versions").glob(f"{COLAB_PYTHON}.*/bin/python{COLAB_PYTHON}"))]
    for c in filter(None, cands):
        # ask the interpreter itself where it lives (a pyenv shim is a script, not the interpreter)
        probe = subprocess.run([c, "-c", "import sys; print(sys.base_prefix); print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True)
        lines = probe.stdout.split()
        if probe.returncode or len(lines) != 2 or lines[1] != COLAB_PYTHON:
            continue
        prefix = Path(lines[0])
        exe = prefix / "bin" / f"python{COLAB_PYTHON}"
        if not exe.is_file():
            continue
        readable = learner.run(["test", "-x", str(exe)], check=False).returncode == 0
        if readable and not str(prefix).startswith("/root"):
            return str(exe), ""
        copy = learner.base / f"python{COLAB_PYTHON}"
        if not (copy / "bin" / exe.name).exists():
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(prefix, copy, symlinks=True)
            learner.chown_tree(copy)
        return str(copy / "bin" / exe.name), str(copy / "lib")
    return None


def check_binder(learner: Learner) -> int:
    """binder/requirements.txt resolves (pip --dry-run), and pulls in no build or test tool.

    The CPU-only wheels (``+cpu`` from download.pytorch.org) cannot be reached here, so the same
    versions are resolved from the default index instead; what Binder itself does is not testable
    offline (see the README).
    """
    lines = []
    for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines():
        if line.strip().startswith("--extra-index-url"):
            continue
        lines.append(line.replace("+cpu", ""))
    req = learner.base / "binder-requirements-local.txt"
    req.write_text("\n".join(lines) + "\n")
    report = learner.base / "binder-resolution.json"
    report.unlink(missing_ok=True)
    learner.mkdir(learner.base)
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()   # e.g. python-3.11
    if not runtime.startswith("python-"):
        raise SystemExit(f"binder/runtime.txt should name the Python version (python-3.X), not {runtime!r}")
    learner.run([str(learner.python), "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed",
                 "--python-version", runtime.removeprefix("python-"), "--only-binary=:all:",
                 "--report", str(report), "-r", str(req)])
    names = {i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"]}
    tools = names & {"pytest", "nbval", "jupyter-book", "myst-nb", "sphinx", "playwright", "plotly"}
    if tools:
        raise SystemExit(f"binder/requirements.txt would install build/test tools: {sorted(tools)}")
    say(f"binder/requirements.txt resolves: {len(names)} distributions, no build or test tool")
    return len(names)


def make_runner(learner: Learner, keep: bool) -> Path:
    """A second, separate environment with nbval: it starts the learner's kernel, it is not the kernel."""
    py = learner.runner / "bin" / "python"
    if not (keep and py.exists() and any(learner.runner.glob("lib/python*/site-packages/xdist"))):
        shutil.rmtree(learner.runner, ignore_errors=True)
        learner.run([learner.base_python, "-m", "venv", str(learner.runner)])
        learner.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        learner.run([str(py), "-m", "pip", "install", "-q", "pytest>=7", "nbval>=0.11", "pytest-xdist>=3"])
    return py


def learner_install_cell() -> str:
    """The install cell of the learner notebook of the setup chapter (what Colab runs first)."""
    import nbformat

    path = NOTEBOOKS / "book" / "setup.ipynb"
    if not path.is_file():
        raise SystemExit(f"{path.relative_to(ROOT)} is missing: run `make book` first (it writes _build/notebooks)")
    nb = nbformat.read(path, as_version=4)
    cell = next(c.source for c in nb.cells if c.cell_type == "code")
    if book_config.LEARNER_INSTALL_MARKER not in cell:
        raise SystemExit(f"{path.relative_to(ROOT)}: its first code cell is not the learner install cell")
    return cell


def run_install_cell(learner: Learner, origin: str, env: Env | None = None) -> None:
    env = env or Env("learner", learner.venv, learner.base_python, KERNEL)
    cell = learner_install_cell()
    url = book_config.repo_url()
    if url not in cell:
        raise SystemExit(f"the learner install cell does not name {url}")
    script = learner.base / "install_cell.py"
    script.write_text(cell.replace(url, origin), encoding="utf-8")
    learner.chown_tree(script)
    learner.run([str(env.python), str(script)], cwd=learner.work, **env.extra_env())
    learner.run([str(env.python), "-c", "import course_utils, course_utils.notebook as n; "
                 "assert not n.have_myst_nb(), 'myst-nb must not be here'; print('course_utils from', course_utils.__file__)"],
                cwd=learner.work, **env.extra_env())


DOWNLOAD_CHECK = r'''
import functools, hashlib, http.server, os, sys, threading
from pathlib import Path
served = Path(sys.argv[1])
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):   # quiet: one line per file would drown the report
        pass
class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):   # torchvision closes its redirect probe early
        pass
srv = Server(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
threading.Thread(target=srv.serve_forever, daemon=True).start()
from torchvision.datasets import FashionMNIST
from course_utils import data
FashionMNIST.mirrors = [f"http://127.0.0.1:{srv.server_port}/"]
FashionMNIST.resources = [(name, hashlib.md5((served / name).read_bytes()).hexdigest())
                          for name, _ in FashionMNIST.resources]
data.DEBIAN_DIR = Path("/nonexistent/dataset-fashion-mnist")   # as on Colab: no Debian package
os.environ.pop("COURSE_DATA", None)
fm = data.load_fashion_mnist(device="cpu")
assert fm.source.startswith("torchvision download"), fm.source
assert tuple(fm.train[0].shape) == (50000, 1, 28, 28) and len(fm.test[1]) == 10000, fm
print("downloaded over HTTP and verified:", fm)
again = data.load_fashion_mnist(device="cpu")
assert again.source.startswith("project cache"), again.source
print("second load:", again.source)
'''


def check_download(learner: Learner, book_raw: Path | None) -> None:
    served = learner.mkdir(learner.base / "mirror")
    import gzip

    for name in RAW:
        target = served / f"{name}.gz"
        if (DEBIAN_DIR / f"{name}.gz").is_file():
            shutil.copyfile(DEBIAN_DIR / f"{name}.gz", target)
        elif book_raw is not None and (book_raw / name).is_file():
            target.write_bytes(gzip.compress((book_raw / name).read_bytes(), mtime=0))
        else:
            raise SystemExit(f"no copy of {name} to serve: run `make data` first")
    learner.chown_tree(served)
    shutil.rmtree(learner.cache / "data", ignore_errors=True)
    script = learner.base / "download_check.py"
    script.write_text(DOWNLOAD_CHECK, encoding="utf-8")
    learner.run([str(learner.python), str(script), str(served)], cwd=learner.work)


def share_cache(learner: Learner) -> int:
    """Hard-link the book's results cache into the learner's (read-only for the learner); count entries."""
    book_cache = Path(os.environ.get("COURSE_BOOK_CACHE", ROOT / ".cache"))
    n = 0
    for sub in ("runs", "transfer", "jax", "explorer", "surfaces"):
        src = book_cache / sub
        if not src.is_dir():
            continue
        dst = learner.mkdir(learner.cache / sub)
        for f in src.rglob("*"):
            if not f.is_file() or f.name.startswith("."):
                continue
            t = dst / f.relative_to(src)
            t.parent.mkdir(parents=True, exist_ok=True)
            if t.exists():
                t.unlink()
            try:
                os.link(f, t)   # same inode: owned by the book's user, not writable for the learner
                if f.stat().st_mode & 0o004 == 0:   # e.g. written 0600 by an older course_utils
                    os.chmod(f, f.stat().st_mode | 0o444)
            except OSError:
                shutil.copy2(f, t)
                os.chmod(t, 0o444)
            n += 1
    if learner.root_mode:  # the folders are the learner's (new entries may be added), the shared files are not
        for d in [learner.cache, *[p for p in learner.cache.rglob("*") if p.is_dir()]]:
            os.chown(d, learner.uid, learner.gid)
    return n


def committed(rel: str) -> str | None:
    """The text of ``rel`` at HEAD (what a learner gets from GitHub), or None when it is not committed."""
    res = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True)
    return res.stdout.decode("utf-8") if res.returncode == 0 else None


def notebooks(only: list[str]) -> list[Path]:
    """Every learner notebook `make book` wrote (chapters and exercises) and every solution notebook.

    Paths are relative to the repository: ``_build/notebooks/...`` for the learner notebooks (what Colab and
    Binder open), ``exercises/solutions/...`` (committed) for the solutions.
    """
    index = NOTEBOOKS / "index.json"
    if not index.is_file():
        raise SystemExit(f"{index.relative_to(ROOT)} is missing: run `make book` first (it writes the learner notebooks)")
    found = [(NOTEBOOKS / p).relative_to(ROOT) for p in json.loads(index.read_text())["notebooks"]]
    listed = subprocess.run(["git", "ls-files", "exercises/solutions/*.ipynb"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    found += [Path(p) for p in sorted(listed)]
    if only:
        found = [p for p in found if any(fnmatch.fnmatch(str(p), pat) for pat in only)]
    return found


def stage_notebooks(learner: Learner, origin: str, nbs: list[Path], work: Path) -> list[Path]:
    """Copy each notebook alone into its own folder of ``work``, outputs cleared; install URL -> the bare clone.

    The learner notebooks come from this build (``_build/notebooks``), the solutions from HEAD; the
    package comes from HEAD (the bare clone), as on GitHub.
    """
    import nbformat

    url = book_config.repo_url()
    out = []
    for rel in nbs:
        if rel.parts[0] == "_build":
            text = (ROOT / rel).read_text(encoding="utf-8")
            name = Path(*rel.parts[2:])
        else:
            text = committed(rel.as_posix())
            name = rel
        if text is None:
            raise SystemExit(f"{rel}: not committed; the learner stage runs what a learner would get (HEAD)")
        if url not in text:
            raise SystemExit(f"{rel}: its install cell does not name repository.url {url} (run `make sync`)")
        nb = nbformat.reads(text.replace(f"git+{url}", f"git+{origin}"), as_version=4)
        for c in nb.cells:  # what the learner runs starts without the build's outputs
            if c.cell_type == "code":
                c.outputs, c.execution_count = [], None
        nb.metadata.pop("widgets", None)
        folder = learner.mkdir(work / "_".join(name.parent.parts))
        target = folder / name.name
        nbformat.write(nb, target)
        out.append(target)
    learner.chown_tree(work)
    return out


#: Notebooks run side by side (pytest-xdist), each notebook's cells in order on one worker (``--dist loadfile``,
#: as nbval's README asks); the kernels of most notebooks mostly wait on imports and cached runs.
WORKERS = max(1, min(2, os.cpu_count() or 1))


def run_notebooks(learner: Learner, runner: Path, env: Env, nbs: list[Path], work: Path):
    cmd = [str(runner), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
           "-n", str(WORKERS), "--dist", "loadfile",
           f"--nbval-kernel-name={env.kernel}", "--nbval-cell-timeout=1800", "--durations=10",
           "--rootdir", str(work), *map(str, nbs)]
    return learner.run(cmd, cwd=work, check=False, **env.extra_env())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep-venv", action="store_true", help="reuse the learner venv when pyproject.toml is unchanged")
    ap.add_argument("--only", nargs="*", default=[], help="glob(s) of notebooks to run (paths relative to the repo)")
    ap.add_argument("--no-colab", action="store_true", help="skip the second environment (Colab's versions)")
    args = ap.parse_args(argv)
    t_all = time.perf_counter()
    # one folder per checkout, so two clones (e.g. CI beside a working tree) never share a learner
    default = Path("/tmp") / f"course-learner-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]}"
    base = Path(os.environ.get("COURSE_LEARNER_DIR", default)).resolve()
    if base == ROOT or ROOT in base.parents:
        raise SystemExit(f"COURSE_LEARNER_DIR={base} is inside the repository; the learner works outside it")
    learner = Learner(base)
    learner.mkdir(base)
    for d in (learner.work, learner.base / "work-colab", learner.base / "runtime", learner.base / "mpl"):
        shutil.rmtree(d, ignore_errors=True)
        learner.mkdir(d)
    learner.mkdir(learner.cache)
    times = {}

    t = time.perf_counter()
    origin = bare_clone(learner)
    make_venv(learner, origin, keep=args.keep_venv)
    runner = make_runner(learner, keep=args.keep_venv)
    times["learner environment"] = time.perf_counter() - t

    t = time.perf_counter()
    n_binder = check_binder(learner)
    times["binder resolution"] = time.perf_counter() - t

    t = time.perf_counter()
    run_install_cell(learner, origin)
    times["install cell"] = time.perf_counter() - t

    t = time.perf_counter()
    book_raw = ROOT / ".cache" / "data" / "FashionMNIST" / "raw"
    check_download(learner, book_raw if book_raw.is_dir() else None)
    times["download over loopback"] = time.perf_counter() - t

    shared = share_cache(learner)
    before = {p.relative_to(learner.cache) for p in learner.cache.rglob("*") if p.is_file()}
    all_nbs = notebooks(args.only)
    nbs = stage_notebooks(learner, origin, all_nbs, learner.work)
    say(f"executing {len(nbs)} notebooks as {USER if learner.root_mode else 'this user'} in {learner.work} "
        f"({shared} cached results shared read-only from the book's build)")
    colab = colab_ready = None
    if not args.no_colab:
        found = find_colab_python(learner)
        if found is None:
            raise SystemExit(f"no Python {COLAB_PYTHON} for the Colab-like environment: install one (e.g. "
                             f"`apt-get install python{COLAB_PYTHON}`, pyenv) or point COURSE_COLAB_PYTHON at it; "
                             f"--no-colab skips that environment")
        colab = Env("colab", learner.base / "venv-colab", found[0], COLAB_KERNEL, COLAB_PINS, found[1])

        def prepare_colab() -> float:  # installing is mostly waiting on pip: done beside the learner notebooks
            t0 = time.perf_counter()
            make_venv(learner, origin, keep=args.keep_venv, env=colab)
            run_install_cell(learner, origin, env=colab)
            return time.perf_counter() - t0
        colab_ready = concurrent.futures.ThreadPoolExecutor(max_workers=1).submit(prepare_colab)
    t = time.perf_counter()
    res = run_notebooks(learner, runner, Env("learner", learner.venv, learner.base_python, KERNEL), nbs, learner.work)
    times["notebooks"] = time.perf_counter() - t
    passed = {"learner": res.returncode == 0}
    env_versions = {"learner": versions(learner, Env("learner", learner.venv, learner.base_python, KERNEL))}

    if colab is not None:
        t = time.perf_counter()
        times["colab environment (beside the learner notebooks)"] = colab_ready.result()  # its errors raise here
        env_versions["colab"] = v = versions(learner, colab)
        wrong = [p for p in COLAB_PINS if v.get(p.split("==")[0]) != p.split("==")[1]]
        if wrong or not v["python"].startswith(COLAB_PYTHON + "."):
            raise SystemExit(f"the Colab-like environment did not get {wrong or 'Python ' + COLAB_PYTHON}: {v}")
        times["colab environment, waited for after the learner notebooks"] = time.perf_counter() - t
        say(f"Colab-like environment: {v}")
        # the learner notebooks (what Colab opens), not the solutions
        colab_nbs = stage_notebooks(learner, origin, [p for p in all_nbs if p.parts[0] == "_build"],
                                    learner.mkdir(learner.base / "work-colab"))
        t = time.perf_counter()
        res_c = run_notebooks(learner, runner, colab, colab_nbs, learner.base / "work-colab")
        times["notebooks (Colab versions)"] = time.perf_counter() - t
        passed["colab"] = res_c.returncode == 0

    after = {p.relative_to(learner.cache) for p in learner.cache.rglob("*") if p.is_file()}
    trained = sorted(str(p) for p in after - before if p.parts[0] in ("runs", "transfer", "jax"))
    times["total"] = time.perf_counter() - t_all
    report = {"notebooks": len(nbs), "binder_distributions": n_binder, "passed": all(passed.values()),
              "passed_by_environment": passed, "versions": env_versions, "new_cache_entries": len(trained),
              "shared_cache_entries": shared, "seconds": {k: round(v, 1) for k, v in times.items()}}
    out = ROOT / "_build" / "learner_stage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    for k, v in times.items():
        say(f"{k}: {v:.0f} s")
    say(f"{len(trained)} result(s) the learners had to compute themselves (not in the book's cache)"
        + (": " + ", ".join(trained[:10]) if trained else ""))
    failed = [k for k, ok in passed.items() if not ok]
    if failed:
        say(f"a notebook failed in the {' and the '.join(failed)} environment (see above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
