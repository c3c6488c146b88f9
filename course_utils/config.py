"""Run-wide settings that are *arguments with defaults*, never import-time globals.

Three things every chapter needs and nobody should hard-code:

* the **device** (CUDA when there is one, else CPU; ``COURSE_DEVICE`` overrides),
* the **cache folder** (training results, the decompressed data set), and
* the **budget**: how big the experiments are.  The ``full`` budget has the
  sizes the sources use (40 epochs, 5 seeds) and is what the GPU build runs;
  the ``cpu`` budget is chosen so that the whole book executes on a 2-core
  laptop in about half an hour.  ``COURSE_BUDGET=full|cpu`` overrides the
  automatic choice (``full`` on CUDA, ``cpu`` otherwise).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

__all__ = ["Budget", "BUDGETS", "get_budget", "default_device", "cache_dir", "project_root", "progress_enabled"]


@dataclasses.dataclass(frozen=True)
class Budget:
    """Sizes of the experiments in the book.

    Attributes:
        name: ``"full"`` or ``"cpu"``.
        epochs: epochs of a "real" training run (the sources' 40 on ``full``).
        seeds: number of seeds when a result is reported with error bars.
        sweep_epochs: epochs of each run in a learning-rate or schedule sweep.
        short_epochs: epochs of a quick demonstration run (setup page, Part II).

    How many training images a run uses is each page's own choice (``FashionMNISTData.subset``),
    stated on that page, not a property of the budget.
    """

    name: str
    epochs: int
    seeds: int
    sweep_epochs: int
    short_epochs: int

    def describe(self) -> str:
        """One line that a page can print to say which budget produced its numbers."""
        return (f"budget '{self.name}': {self.epochs} epochs per run, {self.seeds} seeds, "
                f"{self.sweep_epochs}-epoch sweeps (a page states its own sizes where it uses others)")


BUDGETS = {
    "full": Budget("full", epochs=40, seeds=5, sweep_epochs=10, short_epochs=10),
    "cpu": Budget("cpu", epochs=6, seeds=3, sweep_epochs=2, short_epochs=3),
}


def get_budget(name: str | None = None) -> Budget:
    """Return the budget ``name``, else ``$COURSE_BUDGET``, else ``full`` on CUDA / ``cpu``.

    Raises:
        ValueError: for a name that is not a known budget.
    """
    name = name or os.environ.get("COURSE_BUDGET") or ("full" if torch.cuda.is_available() else "cpu")
    name = name.strip().lower()
    if name not in BUDGETS:
        raise ValueError(f"Unknown budget {name!r}: expected one of {sorted(BUDGETS)}. "
                         f"Set COURSE_BUDGET=full or COURSE_BUDGET=cpu (or unset it).")
    return BUDGETS[name]


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else ``$COURSE_DEVICE``, else ``cuda`` when available, else ``cpu``."""
    if device is None:
        device = os.environ.get("COURSE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"Invalid device {device!r}: use 'cpu', 'cuda' or 'cuda:N'.") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Device {device!r} was requested but CUDA is not available here; "
                         f"use device='cpu' (or unset COURSE_DEVICE).")
    return dev


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to show ``tqdm`` progress bars: ``progress`` if given, else ``$COURSE_PROGRESS``.

    The one switch for every bar of the package: ``COURSE_PROGRESS=0`` (or ``false``/``no``/``off``)
    turns them all off (the book build does, so the HTML has no empty bar widgets); unset, bars are on,
    which is what a learner in Colab wants during a run of many minutes.  An explicit
    ``progress=False`` still wins over the environment, ``progress=True`` does not override ``0``.
    """
    env_off = os.environ.get("COURSE_PROGRESS", "1").strip().lower() in ("0", "false", "no", "off")
    if progress is None:
        return not env_off
    return bool(progress) and not env_off


def project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: cwd) that holds ``_config.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "_config.yml").is_file() and (d / "course_utils").is_dir():
            return d
    return None


def cache_dir(sub: str | None = None, *, create: bool = True) -> Path:
    """The project's cache folder (``$COURSE_CACHE``, else ``<project>/.cache``, else ``./.course_cache``).

    Raises:
        PermissionError: if the folder cannot be created or written, with what to do.
    """
    base = os.environ.get("COURSE_CACHE")
    if base:
        path = Path(base).expanduser()
    else:
        root = project_root()
        path = (root / ".cache") if root else Path.cwd() / ".course_cache"
    if sub:
        path = path / sub
    if create:
        ensure_writable(path)
    return path


def ensure_writable(path: Path) -> Path:
    """Create ``path`` if needed and check that a file can be written in it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise PermissionError(
            f"The cache folder {str(path)!r} cannot be written ({e.strerror or e}). "
            f"Point COURSE_CACHE (or cache_dir=...) at a folder you can write, "
            f"e.g. `export COURSE_CACHE=$HOME/.cache/course_utils`.") from e
    return path
