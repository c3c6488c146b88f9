"""Where a page's numbers came from: one line of provenance at the end of every executed page.

The line names the commit of the book, the date of the build, the device the kernel ran on (the GPU's
name, else the CPU model), the torch version, the experiment budget and the seeds, e.g.::

    commit 3a8518b · built 2026-01-05 · device Intel(R) Xeon(R) CPU @ 2.20GHz (cpu) · torch 2.4.1 ·
    budget 'cpu': 6 epochs per run, 3 seeds, ... · seeds 0, 1, 2

Every chapter ends with a hidden-input cell that calls :func:`show` (``scripts/sync_notebooks.py``
appends it to a chapter that lacks it).  Nothing here raises when git, ``/proc/cpuinfo`` or CUDA is
missing: the field then says ``unknown``.  torch is imported only to describe the device, so
:func:`git_commit` is light (the reported-figures page's snapshot uses it too).
"""
from __future__ import annotations

import datetime as _dt
import html
import os
import platform
import subprocess
from pathlib import Path
from typing import Iterable

__all__ = ["Provenance", "git_commit", "build_date", "device_name", "provenance", "provenance_line", "show",
           "recorded_budget_run", "recorded_value", "record_environment", "recorded_environment",
           "AtOtherBudget", "at_other_budget"]

UNKNOWN = "unknown"


def git_commit(path: str | os.PathLike | None = None) -> str:
    """Short hash of the commit the book was built from.

    ``$COURSE_COMMIT`` or ``$GITHUB_SHA`` (set by CI) win; else ``git rev-parse`` in the folder of this
    package (or ``path``); else ``"unknown"`` (a Colab session or an unpacked archive has no git).
    """
    for var in ("COURSE_COMMIT", "GITHUB_SHA"):
        if os.environ.get(var):
            return os.environ[var].strip()[:12]
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(where), "rev-parse", "--short=10", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else UNKNOWN


def build_date(now: _dt.datetime | None = None) -> str:
    """The date of the build in UTC, ``YYYY-MM-DD`` (``$SOURCE_DATE_EPOCH`` wins, for reproducible builds)."""
    if now is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        if epoch:
            try:
                now = _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc)
            except ValueError as e:
                raise ValueError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in seconds; "
                                 f"unset it or set it to an integer.") from e
        else:
            now = _dt.datetime.now(tz=_dt.timezone.utc)
    return now.strftime("%Y-%m-%d")


def _cpu_model(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str:
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
            return " ".join(value.split())
    return platform.processor() or platform.machine() or UNKNOWN


def device_name(device: str | torch.device | None = None, *,
                cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str:
    """Human name of ``device``: the GPU's name for CUDA, else the CPU model, with the device type.

    ``device`` defaults to the book's device (:func:`course_utils.config.default_device`).
    """
    import torch

    if device is None:
        from . import config
        device = config.default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"Invalid device {device!r}: use 'cpu', 'cuda' or 'cuda:N'.") from e
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(dev)} ({dev.type})"
    if dev.type == "mps":
        return f"Apple GPU ({dev.type})"
    return f"{_cpu_model(cpuinfo)} ({dev.type})"


def _format_seeds(seeds) -> str | None:
    if seeds is None:
        return None
    if isinstance(seeds, int):
        seeds = [seeds]
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be an int or a sequence of ints, got {type(seeds).__name__}: "
                        f"pass e.g. seeds=range(5) or seeds=[0, 1, 2].")
    seeds = list(seeds)
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise TypeError(f"seeds must be integers, got {seeds!r}.")
    if not seeds:
        return None
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def _describe_budget(budget) -> str:
    if budget is None:
        from . import config
        budget = config.get_budget()
    if isinstance(budget, str):
        from . import config
        budget = config.get_budget(budget)  # raises ValueError for an unknown name
    describe = getattr(budget, "describe", None)
    if not callable(describe):
        raise TypeError(f"budget must be a config.Budget or a budget name, got {type(budget).__name__}; "
                        f"pass config.get_budget().")
    text = describe()
    return text[len("budget "):] if text.startswith("budget ") else text


class Provenance:
    """The provenance of a page, displayed as one small line (HTML, Markdown or plain text)."""

    def __init__(self, fields: dict[str, str]):
        self.fields = dict(fields)

    def __str__(self) -> str:
        return " · ".join(f"{k} {v}" for k, v in self.fields.items())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        parts = " · ".join(f"{html.escape(k)} <code>{html.escape(v)}</code>" for k, v in self.fields.items())
        return f'<p class="course-provenance"><small>Produced by: {parts}</small></p>'

    def _repr_markdown_(self) -> str:
        return "*Produced by:* " + " · ".join(f"{k} `{v}`" for k, v in self.fields.items())


def _describe_sizes(budget, sizes) -> str:
    """``'cpu'; this page: epochs 4, seeds 5`` from a page's own table of sizes (``SIZES[budget.name]``)."""
    if not isinstance(sizes, dict) or not sizes:
        raise TypeError(f"sizes must be a non-empty dict of the sizes this page ran (e.g. SIZES), got {sizes!r}.")
    name = _describe_budget(budget).split(":")[0]
    key = name.strip("'")
    if isinstance(sizes.get(key), dict):  # the page's whole table, keyed by budget: take this budget's row
        sizes = sizes[key]
    shown = []
    for k, v in sizes.items():
        label = str(k).replace("_", " ")
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            shown.append(f"{label} {v:,}")
        elif isinstance(v, (float, str)):
            shown.append(f"{label} {v}")
        elif isinstance(v, (list, tuple, range)) and all(isinstance(x, int) for x in v):
            shown.append(f"{label} {_format_seeds(list(v))}")
    return f"{name}; this page: " + ", ".join(shown)


def provenance(budget=None, seeds=None, device=None, sizes=None) -> Provenance:
    """Collect the fields of the provenance line (see :func:`provenance_line`)."""
    import torch

    fields = {
        "commit": git_commit(),
        "built": build_date(),
        "device": device_name(device),
        "torch": torch.__version__,
        "budget": _describe_budget(budget) if sizes is None else _describe_sizes(budget, sizes),
    }
    s = _format_seeds(seeds)
    if s is not None:
        fields["seeds"] = s
    return Provenance(fields)


def provenance_line(budget=None, seeds=None, device=None, sizes=None) -> str:
    """One line saying what produced a page's numbers.

    Args:
        budget: a :class:`course_utils.config.Budget`, a budget name, or None for ``config.get_budget()``.
        seeds: the seeds the page's runs used (an int or a sequence of ints), or None to leave them out.
        device: the device the page ran on; None for ``config.default_device()``.
        sizes: the sizes this page actually ran (its ``SIZES`` entry for the budget), when they differ from
            the budget's defaults: the line then names those instead of the budget's epochs and seeds.

    Returns:
        ``"commit … · built YYYY-MM-DD · device … · torch … · budget … · seeds …"``.

    Raises:
        TypeError: for seeds that are not integers or a budget that is neither a Budget nor a name.
        ValueError: for an unknown budget name or device.
    """
    return str(provenance(budget, seeds=seeds, device=device, sizes=sizes))


def show(budget=None, seeds=None, device=None, sizes=None) -> Provenance | None:
    """Display the provenance line as the output of a notebook cell (returns it outside IPython)."""
    p = provenance(budget, seeds=seeds, device=device, sizes=sizes)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - plain Python
        return p
    if get_ipython() is not None:
        display(p)
        return None
    return p


def recorded_budget_run(budget: str = "full") -> dict:
    """The recorded run of the whole book at ``budget`` (``course_utils/results/<budget>_budget.json``).

    Written by ``scripts/run_budget.py --export`` and shipped with the package, so the page that shows it
    also works in Colab: per chapter its title, cold seconds, whether every hidden check passed, the
    commit it ran at and its glued values (as text).

    Raises:
        FileNotFoundError: no run of that budget was recorded (says how to record one).
    """
    import json
    from importlib import resources

    name = f"{budget}_budget.json"
    path = resources.files("course_utils") / "results" / name
    if not path.is_file():
        raise FileNotFoundError(
            f"No recorded run of the {budget!r} budget ships with this course_utils (looked for "
            f"course_utils/results/{name}). Record one with  python scripts/run_budget.py --budget {budget}  "
            f"and then  --export course_utils/results/{name}.")
    return json.loads(path.read_text(encoding="utf-8"))


def record_environment(device=None) -> dict[str, str]:
    """What a budget run stores about the machine beside each chapter: ``{"device", "torch", "python"}``.

    ``scripts/run_budget.py`` calls it once per run (the chapters' kernels run on the same machine, with the
    book's device, :func:`device_name`), so the record says which card or CPU and which torch produced the
    numbers it ships.
    """
    import torch

    return {"device": device_name(device), "torch": torch.__version__, "python": platform.python_version()}


def recorded_environment(record: dict, chapter: str) -> dict[str, str | None]:
    """``{"device", "torch"}`` that the record stored for ``chapter``; ``None`` for a field the record lacks
    (records made before it stored them).

    Raises:
        KeyError: the chapter is not in the record.
    """
    chapters = record.get("chapters", {})
    if chapter not in chapters:
        raise KeyError(f"{chapter!r} is not in the recorded {record.get('budget', '?')!r} run; it has "
                       f"{sorted(chapters)}.")
    entry = chapters[chapter]
    return {k: (str(entry[k]) if entry.get(k) else None) for k in ("device", "torch")}


def recorded_value(record: dict, chapter: str, name: str):
    """A value that ``chapter`` glued in a recorded budget run: a float when the text is a number, else the
    text without the quotes its repr added.

    Raises:
        KeyError: the chapter is not in the record, or glued nothing under ``name`` (says which exist).
    """
    chapters = record.get("chapters", {})
    if chapter not in chapters:
        raise KeyError(f"{chapter!r} is not in the recorded {record.get('budget', '?')!r} run; it has "
                       f"{sorted(chapters)}.")
    glued = chapters[chapter].get("glued", {})
    if name not in glued:
        raise KeyError(f"{chapter} glued no {name!r} in the recorded run; it glued {sorted(glued)[:40]}.")
    text = glued[name]
    try:
        return float(text)
    except (TypeError, ValueError):
        return str(text).strip("'\"")


class AtOtherBudget:
    """A short, labelled box on a page: what the recorded run of this chapter at another budget found.

    Displayed as HTML (an admonition in the book's theme), Markdown (the PDF, Jupyter) or text."""

    def __init__(self, title: str, body: str, kind: str = "note"):
        self.title, self.body, self.kind = title, body, kind

    def __str__(self) -> str:
        return f"{self.title}. {self.body}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return (f'<div class="admonition {self.kind} course-other-budget"><p class="admonition-title">'
                f'{html.escape(self.title)}</p><p>{html.escape(self.body)}</p></div>')

    def _repr_markdown_(self) -> str:
        from .notebook import markdown_escape
        return f"**{markdown_escape(self.title)}.** {markdown_escape(self.body)}\n"


def at_other_budget(chapter: str, sentence, *, budget: str = "full", record: dict | None = None,
                    current=None) -> AtOtherBudget:
    """What ``chapter`` found when it ran at ``budget`` (the shipped record, :func:`recorded_budget_run`),
    for a page executed at another budget -- so that a page built at ``cpu`` shows, clearly labelled, the
    ``full`` budget's numbers where they change the meaning.

    Args:
        chapter: the page's path in the record, e.g. ``"book/part3/fashion_mnist_comparison.md"``.
        sentence: a function of ``value(name)`` (:func:`recorded_value` for this chapter) returning the
            sentence to show, built from the recorded values only.
        budget: the recorded budget to quote.
        record: a record dict (default: the shipped one); current: the page's own budget (default:
            ``config.get_budget()``).

    Returns:
        The box: the recorded finding; or, on a page that itself runs at ``budget``, a line saying so; or,
        when the chapter has no passing record at ``budget``, a line saying that.
    """
    from . import config
    if current is None:
        current = config.get_budget()
    current_name = current if isinstance(current, str) else current.name
    want = config.get_budget(budget)
    sizes = f"{want.epochs} epochs per run, {want.seeds} seeds"
    if current_name == budget:
        return AtOtherBudget(f"This page ran at the {budget!r} budget",
                             f"Its numbers are the {budget!r} budget's ({sizes}).")
    if record is None:
        try:
            record = recorded_budget_run(budget)
        except FileNotFoundError:
            record = {"budget": budget, "chapters": {}}
    entry = record.get("chapters", {}).get(chapter)
    title = f"The recorded run at the {budget!r} budget"
    if entry is None or not entry.get("passed"):
        why = "has not been run" if entry is None else "did not pass all its hidden checks"
        return AtOtherBudget(title, f"This chapter {why} at the {budget!r} budget in the record that ships "
                                    f"with course_utils, so only this page's own {current_name!r} numbers are shown.")
    text = sentence(lambda name: recorded_value(record, chapter, name)).strip()
    when = f"commit {str(entry.get('commit', UNKNOWN))[:7]}"
    if entry.get("finished"):
        when += f", {str(entry['finished'])[:10]}"
    env = recorded_environment(record, chapter)
    when += (f", {env['device']}, torch {env['torch']}" if env["device"] and env["torch"] else
             ", device and torch version not stored in that record")
    return AtOtherBudget(title, f"{text} (The recorded run of this chapter, {when}, every hidden check passed; "
                                f"this page ran at {current_name!r}.)")
