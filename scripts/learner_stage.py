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
3. **The install cell**, taken from ``book/setup.ipynb`` with the repository URL pointed at the bare
   clone, runs as plain Python in that environment and must install ``course_utils``.
4. **The real download path**: with no ``$COURSE_DATA`` and no Debian package in sight,
   ``load_fashion_mnist(download=True)`` runs torchvision's download against a loopback HTTP server
   that serves the four ``.gz`` files (the only change: torchvision's mirror list and its MD5 list,
   because Debian's ``.gz`` wrappers differ from the original ones; the decompressed files are then
   checked against the package's own SHA-256 sums, as on Colab).  The files land in the learner's
   cache folder, where the notebooks find them.
5. **Every notebook top to bottom**: copies of each chapter's paired ``.ipynb`` (one per folder, with
   nothing else of the repository beside it, so ``project_root()`` finds nothing), every learner
   notebook in ``exercises/`` and every solution notebook, executed by nbval (``--nbval-lax``: a cell
   fails the stage when it raises) with a kernel of the learner's environment.  The book's results
   cache is shared read-only (hard links to files the learner cannot write), so nothing trains
   twice; the stage reports how many runs it had to train itself.

    python scripts/learner_stage.py [--keep-venv] [--only PATTERN ...]

Environment: ``COURSE_LEARNER_DIR`` (default ``/tmp/course-learner-<hash of the checkout's path>``), ``COURSE_BUDGET`` and
``COURSE_PROGRESS`` are passed through.  Exit status 0 when every step passed.
"""
from __future__ import annotations

import argparse
import fnmatch
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
import sync_notebooks  # noqa: E402

USER = "course-learner"
KERNEL = "course-learner"
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


def make_venv(learner: Learner, origin: str, keep: bool) -> None:
    stamp = learner.venv / ".course-deps"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if keep and stamp.is_file() and stamp.read_text() == want:
        say(f"reusing the learner environment {learner.venv} (dependencies unchanged)")
    else:
        shutil.rmtree(learner.venv, ignore_errors=True)
        learner.run([learner.base_python, "-m", "venv", str(learner.venv)])
        # a distribution's pip may be too old to parse `name @ git+file://...` (Debian 12's 23.0.1)
        learner.run([str(learner.python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        say("installing the package's declared dependencies (+ the jax extra) and ipykernel, as the learner")
        learner.run([str(learner.python), "-m", "pip", "install", "-q", "ipykernel",
                     f"course-utils[jax] @ git+{origin}"])
        stamp.write_text(want)
    # the package itself goes again: the install cell (step 3) has to bring it back
    learner.run([str(learner.python), "-m", "pip", "uninstall", "-q", "-y", "course-utils"], check=False)
    tools = [m for m in ("myst_nb", "jupyter_book", "pytest", "playwright", "nbval", "sphinx")
             if learner.run([str(learner.python), "-c", f"import importlib.util as u, sys; "
                             f"sys.exit(0 if u.find_spec({m!r}) else 1)"], check=False).returncode == 0]
    if tools:
        raise SystemExit(f"the learner environment must not hold build/test tools, but has {tools}")
    learner.run([str(learner.python), "-m", "ipykernel", "install", "--prefix", str(learner.jupyter),
                 "--name", KERNEL, "--display-name", "Python 3 (learner)"])


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
    if not (keep and py.exists()):
        shutil.rmtree(learner.runner, ignore_errors=True)
        learner.run([learner.base_python, "-m", "venv", str(learner.runner)])
        learner.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        learner.run([str(py), "-m", "pip", "install", "-q", "pytest>=7", "nbval>=0.11"])
    return py


def run_install_cell(learner: Learner, origin: str) -> None:
    import nbformat

    nb = nbformat.reads(committed("book/setup.ipynb") or "", as_version=4)
    cell = next(c.source for c in nb.cells if c.cell_type == "code")
    url = book_config.repo_url()
    if url not in cell:
        raise SystemExit(f"book/setup.ipynb: the install cell does not name {url} (run `make sync`)")
    script = learner.base / "install_cell.py"
    script.write_text(cell.replace(url, origin), encoding="utf-8")
    learner.run([str(learner.python), str(script)], cwd=learner.work)
    learner.run([str(learner.python), "-c", "import course_utils, course_utils.notebook as n; "
                 "assert not n.have_myst_nb(), 'myst-nb must not be here'; print('course_utils from', course_utils.__file__)"],
                cwd=learner.work)


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
    """Every paired chapter .ipynb of the toc, every learner and every solution notebook (repo-relative)."""
    found = [md.with_suffix(".ipynb").relative_to(ROOT) for md in sync_notebooks.chapters(ROOT)]
    listed = subprocess.run(["git", "ls-files", "exercises/*.ipynb", "exercises/solutions/*.ipynb"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    found += [Path(p) for p in sorted(listed)]
    if only:
        found = [p for p in found if any(fnmatch.fnmatch(str(p), pat) for pat in only)]
    return found


def stage_notebooks(learner: Learner, origin: str, nbs: list[Path]) -> list[Path]:
    """Copy each committed notebook alone into its own folder of the work tree; install URL -> the bare clone.

    The notebooks come from HEAD, like the package (the bare clone): a learner gets both from the same
    commit, whatever is being edited in the working tree.
    """
    url = book_config.repo_url()
    out = []
    for rel in nbs:
        text = committed(rel.as_posix())
        if text is None:
            raise SystemExit(f"{rel}: not committed; the learner stage runs what a learner would get (HEAD)")
        if url not in text:
            raise SystemExit(f"{rel}: its install cell does not name repository.url {url} (run `make sync`)")
        folder = learner.mkdir(learner.work / "_".join(rel.parent.parts))
        target = folder / rel.name
        target.write_text(text.replace(f"git+{url}", f"git+{origin}"), encoding="utf-8")
        out.append(target)
    learner.chown_tree(learner.work)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep-venv", action="store_true", help="reuse the learner venv when pyproject.toml is unchanged")
    ap.add_argument("--only", nargs="*", default=[], help="glob(s) of notebooks to run (paths relative to the repo)")
    args = ap.parse_args(argv)
    t_all = time.perf_counter()
    # one folder per checkout, so two clones (e.g. CI beside a working tree) never share a learner
    default = Path("/tmp") / f"course-learner-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]}"
    base = Path(os.environ.get("COURSE_LEARNER_DIR", default)).resolve()
    if base == ROOT or ROOT in base.parents:
        raise SystemExit(f"COURSE_LEARNER_DIR={base} is inside the repository; the learner works outside it")
    learner = Learner(base)
    learner.mkdir(base)
    for d in (learner.work, learner.base / "runtime", learner.base / "mpl"):
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
    nbs = stage_notebooks(learner, origin, notebooks(args.only))
    say(f"executing {len(nbs)} notebooks as {USER if learner.root_mode else 'this user'} in {learner.work} "
        f"({shared} cached results shared read-only from the book's build)")
    t = time.perf_counter()
    cmd = [str(runner), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
           f"--nbval-kernel-name={KERNEL}", "--nbval-cell-timeout=1800", "--durations=10",
           "--rootdir", str(learner.work), *map(str, nbs)]
    res = learner.run(cmd, cwd=learner.work, check=False)
    times["notebooks"] = time.perf_counter() - t
    after = {p.relative_to(learner.cache) for p in learner.cache.rglob("*") if p.is_file()}
    trained = sorted(str(p) for p in after - before if p.parts[0] in ("runs", "transfer", "jax"))
    times["total"] = time.perf_counter() - t_all
    report = {"notebooks": len(nbs), "binder_distributions": n_binder, "passed": res.returncode == 0, "new_cache_entries": len(trained),
              "shared_cache_entries": shared, "seconds": {k: round(v, 1) for k, v in times.items()}}
    out = ROOT / "_build" / "learner_stage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    for k, v in times.items():
        say(f"{k}: {v:.0f} s")
    say(f"{len(trained)} result(s) the learner had to compute itself (not in the book's cache)"
        + (": " + ", ".join(trained[:10]) if trained else ""))
    if res.returncode != 0:
        say("a notebook failed for the learner (see above)")
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
