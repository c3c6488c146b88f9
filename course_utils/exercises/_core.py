"""Feedback plumbing shared by every grader: the result object, the messages, running learner code safely."""
from __future__ import annotations

import dataclasses
import os
import traceback
from typing import Callable, Sequence

import torch


PASS, FAIL, TODO = "pass", "fail", "not yet"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # frames in here are the graders' own
_ICON = {PASS: "✅", FAIL: "❌", TODO: "⏳"}


@dataclasses.dataclass
class CheckResult:
    """Outcome of one check: ``status`` is ``"pass"``, ``"fail"`` or ``"not yet"``; truthy only on a pass."""

    name: str
    status: str
    message: str

    def __bool__(self) -> bool:
        return self.status == PASS

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def __str__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """The message was already printed by the check; show nothing more as a cell's value."""


def _report(name: str, status: str, headline: str, *, expected: str | None = None, got: str | None = None,
            case: str | None = None, hint: str | None = None, details: Sequence[str] = (),
            verbose: bool = True) -> CheckResult:
    lines = [f"{_ICON[status]} {name}: {headline}"]
    if case:
        lines.append(f"   case:     {case}")
    if expected is not None:
        lines.append(f"   expected: {expected}")
    if got is not None:
        lines.append(f"   got:      {got}")
    lines += [f"   {d}" for d in details]
    if hint:
        lines.append(f"   hint:     {hint}")
    res = CheckResult(name, status, "\n".join(lines))
    if verbose:
        print(res.message)
    return res


def _not_yet(name: str, what: str, verbose: bool) -> CheckResult:
    return _report(name, TODO, f"not yet — `{what}` still raises NotImplementedError (the TODO stub). "
                   "Replace the `raise NotImplementedError` line with your code and run this cell again.",
                   verbose=verbose)


def _short_exc(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    first = msg[0] if msg else ""
    return f"{type(e).__name__}: {first[:300]}"


def _where(e: BaseException) -> str:
    """The line of the learner's code that raised (the last frame outside this module)."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if not f.filename.startswith(_PACKAGE_DIR)]
    if not frames:
        return ""
    f = frames[-1]
    return f"raised at line {f.lineno}: `{(f.line or '').strip()}`"


def _exception_hint(e: BaseException) -> str:
    text = str(e)
    if "leaf Variable that requires grad" in text or "a view of a leaf Variable" in text:
        return ("you changed a parameter in place while autograd was recording. Decorate `step` with "
                "`@torch.no_grad()` (as torch.optim does) or update `p.data`.")
    if "NoneType" in text and "grad" in text:
        return "skip parameters whose `.grad` is None (`if p.grad is None: continue`)."
    if isinstance(e, TypeError) and ("argument" in text or "keyword" in text):
        return "the function or class must accept exactly the arguments of the stub (names included)."
    if "shape" in text or "size" in text:
        return "check the shapes of the tensors you combine (print `x.shape`)."
    return "read the error above, fix the line it points at and run the cell again."


def _raised(name: str, e: BaseException, verbose: bool, case: str | None = None) -> CheckResult:
    details = [_where(e)] if _where(e) else []
    return _report(name, FAIL, f"your code raised {_short_exc(e)}", case=case, details=details,
                   hint=_exception_hint(e), verbose=verbose)


def _not_callable(name: str, obj, what: str, verbose: bool) -> CheckResult:
    return _report(name, FAIL, f"expected {what}, got {type(obj).__name__} ({obj!r:.60}).",
                   hint="pass the function/class itself (no parentheses), e.g. `check(my_function)`.",
                   verbose=verbose)


class _one_thread:
    """Run tiny CPU models on one intra-op thread: they gain nothing from more, and on a busy machine
    OpenMP threads that spin-wait for each other make a one-second run take minutes."""

    def __enter__(self):
        self.n = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.n)


def attempt(fn: Callable, *args, **kwargs):
    """Call ``fn(*args, **kwargs)``; if it is still the TODO stub print "not yet" and return ``None``.

    Notebook cells that *use* a learner's function (not grade it) call it through
    ``attempt`` so that an unfilled notebook runs top to bottom.
    """
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        print(f"⏳ not yet — `{getattr(fn, '__name__', fn)}` is still the TODO stub; "
              "fill it in above and run this cell again.")
        return None


def _fmt(x, digits: int = 4) -> str:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double()
        if x.numel() <= 6:
            return "[" + ", ".join(f"{v:.{digits}g}" for v in x.flatten().tolist()) + "]"
        return f"tensor of shape {tuple(x.shape)}, first values [" + ", ".join(
            f"{v:.{digits}g}" for v in x.flatten()[:4].tolist()) + ", …]"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return repr(x)
