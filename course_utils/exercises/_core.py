"""Feedback plumbing shared by every grader: the result object, the messages, running learner code safely.

Every message starts with a symbol *and* a word (``✅ passed``, ``❌ not quite``, ``⏳ to do``), so its
meaning survives where there is no emoji font, and is wrapped to 80 columns when it is printed.  An
exception raised by the learner's code is reported at the learner's own line (never at a line inside
torch or inside these graders), with a hint specific to the mistake where one is known.
"""
from __future__ import annotations

import dataclasses
import decimal
import math
import numbers
import os
import re
import site
import sysconfig
import textwrap
import traceback
from typing import Callable, Sequence

import torch


PASS, FAIL, TODO = "pass", "fail", "not yet"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # frames in here are the graders' own
_ICON = {PASS: "✅", FAIL: "❌", TODO: "⏳"}
_WORD = {PASS: "passed", FAIL: "not quite", TODO: "to do"}  # the text fallback of the symbol
WIDTH = 80


def _label(status: str) -> str:
    return f"{_ICON[status]} {_WORD[status]}"


# ----------------------------------------------------------------------------- the result and its text
def _wrap(text: str, width: int = WIDTH) -> str:
    """Wrap every logical line to ``width`` columns, continuation lines aligned under the field's text."""
    out = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        m = re.match(r"^(\s*(?:[a-z]+:\s+)?)", line)  # "   hint:     " -> continue under the text
        indent = " " * len(m.group(1)) if m and len(m.group(1)) < width // 2 else "   "
        if not line.startswith(" "):  # the headline: continue under the name
            indent = "   "
        out.extend(textwrap.wrap(line, width=width, subsequent_indent=indent, break_long_words=False,
                                 break_on_hyphens=False) or [line])
    return "\n".join(out)


@dataclasses.dataclass
class CheckResult:
    """Outcome of one check: ``status`` is ``"pass"``, ``"fail"`` or ``"not yet"``; truthy only on a pass.

    ``message`` holds the feedback with one logical line per field (easy to search); ``str(result)``
    and what the check prints is the same text wrapped to 80 columns.
    """

    name: str
    status: str
    message: str

    def __bool__(self) -> bool:
        return self.status == PASS

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def text(self) -> str:
        return _wrap(self.message)

    def __str__(self) -> str:
        return self.text

    def _ipython_display_(self) -> None:
        """The message was already printed by the check; show nothing more as a cell's value."""


def _report(name: str, status: str, headline: str, *, expected: str | None = None, got: str | None = None,
            case: str | None = None, hint: str | None = None, details: Sequence[str] = (),
            verbose: bool = True) -> CheckResult:
    lines = [f"{_label(status)} — {name}: {headline}"]
    if case:
        lines.append(f"   case:     {case}")
    if expected is not None:
        lines.append(f"   expected: {expected}")
    if got is not None:
        lines.append(f"   got:      {got}")
    lines += [f"   {d}" for d in details if d]
    if hint:
        lines.append(f"   hint:     {hint}")
    res = CheckResult(name, status, "\n".join(lines))
    if verbose:
        print(res.text)
    return res


def _graded(example: str, name=None):
    """Decorate a check so that a call with missing or unknown arguments prints a plain message (what to
    pass, with the notebook's own call as the example) and returns a failed result, instead of Python's
    TypeError traceback.  Only the binding of the arguments is checked here: errors inside run as before.
    ``name``: the task's name in the check's own messages (a string, or a function of the bound arguments),
    which the messages made here (a changed global setting, the check broken by what the code returned) use
    too; by default the check's name without ``check_``."""
    import functools
    import inspect

    def wrap(check):
        sig = inspect.signature(check)

        @functools.wraps(check)
        def wrapper(*args, **kwargs):
            try:
                sig.bind(*args, **kwargs)
            except TypeError as e:
                missing = [n for n, p in sig.parameters.items() if p.default is p.empty
                           and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][len(args):]
                missing = [n for n in missing if n not in kwargs]
                unknown = [k for k in kwargs if k not in sig.parameters]
                verbose = kwargs.get("verbose", True) is not False
                if unknown:  # a keyword named after the notebook's variable or the question: no such argument
                    return _report(check.__name__, FAIL, f"it has no argument called "
                                   f"{' or '.join(f'`{k}`' for k in unknown)}.",
                                   hint=f"give the arguments by position, as in the notebook: `exercises.{example}`.",
                                   verbose=verbose)
                what = (f"it needs {' and '.join(f'`{n}`' for n in missing)}" if missing else
                        f"the arguments do not fit ({str(e).split(': ', 1)[-1]})")
                return _report(check.__name__, FAIL, f"{what}.",
                               hint=f"call it as in the notebook: `exercises.{example}` — your own function, "
                                    "class or answer, without parentheses after its name.", verbose=verbose)
            task = check.__name__.replace("check_", "")
            if name is not None:
                try:
                    bound = sig.bind(*args, **kwargs)
                    bound.apply_defaults()
                    task = name(bound.arguments) if callable(name) else name
                except Exception:  # (an argument the name cannot be made from: the check reports it)
                    pass
            return _with_default_dtype_kept(check, sig, args, kwargs, str(task))
        return wrapper
    return wrap


def _dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


#: torch's global settings a check pins while it runs: (what it is called, read, set, the value the exercises are
#: written for, how learner code changes it, what to write instead)
_GLOBALS = (
    ("default dtype", torch.get_default_dtype, torch.set_default_dtype, torch.float32,
     "`torch.set_default_dtype`",
     "that call changes every tensor created afterwards, in the check and in the rest of your notebook, not only "
     "yours. Remove it and give a tensor its dtype where it is made (`dtype=...`, `zeros_like`)."),
    ("autograd (gradient recording)", torch.is_grad_enabled, torch.set_grad_enabled, True,
     "`torch.set_grad_enabled(False)`",
     "that call switches gradients off for everything that runs afterwards (training, later checks), not only "
     "inside your function. Use a block instead, `with torch.no_grad():`, which switches them back on when it "
     "ends."),
)


#: torch's own functions and classes, as they were when the exercises were imported: the references a check
#: compares with.  A notebook that replaces one (`torch.optim.Adam = Adam`, "to use mine everywhere", or a wrapper
#: put into `F.batch_norm`) would otherwise grade the learner's code against itself.
_PRISTINE_MODULES = ("torch.optim", "torch.optim.lr_scheduler", "torch.optim._functional", "torch.optim.sgd",
                     "torch.optim.adam", "torch.optim.rmsprop", "torch.nn", "torch.nn.functional", "torch.nn.init",
                     "torch.nn.modules.batchnorm", "torch.nn.modules.activation")
_PRISTINE_TORCH = ("batch_norm", "leaky_relu", "tanh", "sigmoid", "relu", "selu", "alpha_dropout", "dropout")


def _snapshot_torch() -> list:
    import importlib

    out = []
    for mod_name in _PRISTINE_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:  # pragma: no cover - another torch version
            continue
        names = [n for n in vars(mod) if not n.startswith("__") and callable(vars(mod)[n])]
        out.append((mod, mod_name, {n: vars(mod)[n] for n in names}))
    out.append((torch, "torch", {n: getattr(torch, n) for n in _PRISTINE_TORCH if hasattr(torch, n)}))
    # the methods of torch's classes too (`torch.optim.SGD.step = Momentum.step`, `nn.BatchNorm1d.forward = ...`
    # would grade the learner's code against itself just as a replaced name does)
    seen = set()
    for mod, mod_name, attrs in list(out):
        for n, obj in attrs.items():
            if (isinstance(obj, type) and (obj.__module__ or "").startswith("torch.") and obj not in seen):
                for cls in obj.__mro__:
                    if (cls in seen or cls is object or not (cls.__module__ or "").startswith("torch.")
                            or (cls.__module__ or "").startswith("torch._C") or issubclass(cls, torch.Tensor)
                            or cls.__flags__ & (1 << 8)):  # (C types, tensors: immutable or not references)
                        continue
                    seen.add(cls)
                    methods = {k: v for k, v in vars(cls).items() if not k.startswith("__") or k in (
                        "__init__", "__call__", "__setstate__")}
                    methods = {k: v for k, v in methods.items()
                               if callable(v) or isinstance(v, (staticmethod, classmethod, property))}
                    out.append((cls, f"{cls.__module__}.{cls.__qualname__}", methods))
    return out


_PRISTINE = _snapshot_torch()
_ADDED = object()  # a method the learner added on torch's class (deleted while a check runs)


class _TorchAsShipped:
    """While a check runs, torch's references are torch's own; the learner's replacements are put back after
    (and named in a note)."""

    def __enter__(self):
        self.replaced, self.added = [], []
        for mod, mod_name, attrs in _PRISTINE:
            d = vars(mod)
            for n, orig in attrs.items():
                now = d.get(n, orig)
                if isinstance(mod, type) and n not in d:  # a method deleted from torch's class
                    now = None
                # torch wraps an optimizer class's own `step` once, at its first instance (profiling hook)
                if now is not orig and getattr(now, "hooked", False) and getattr(now, "__wrapped__", None) is orig:
                    attrs[n] = orig = now
                if now is not orig:
                    self.replaced.append((mod, n, now, f"{mod_name}.{n}"))
                    setattr(mod, n, orig)
            if isinstance(mod, type):  # a method added on torch's class, over the one it inherits
                for n in [k for k in d if k not in attrs and callable(d[k])
                          and (not k.startswith("__") or k in ("__init__", "__call__"))
                          and any(k in vars(b) for b in mod.__mro__[1:])]:
                    now = d[n]
                    if getattr(now, "hooked", False):  # torch's own profiling wrapper of an inherited step
                        continue
                    self.replaced.append((mod, n, _ADDED, f"{mod_name}.{n}"))
                    self.added.append((mod, n, now))
                    delattr(mod, n)
        return self

    def __exit__(self, *exc):
        for mod, n, now, _ in self.replaced:
            if now is _ADDED:
                continue
            if now is None and isinstance(mod, type):
                delattr(mod, n)
            else:
                setattr(mod, n, now)
        for mod, n, now in self.added:
            setattr(mod, n, now)
        return False

    def note(self) -> str | None:
        names = sorted({full for *_, full in self.replaced if not full.startswith("torch.optim._functional")})
        if not names:
            return None
        shown = ", ".join(f"`{n}`" for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return (f"{shown} had been replaced in this notebook; the check compared with torch's own and left your "
                "replacement in place (remove it: other code that uses torch's name now gets yours).")


def _show_value(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value).replace("torch.", "")


class _SettingsKept:
    """For the training helpers (step_times, search_lr, capstone_run/seeds): torch's global settings pinned to
    what the exercises are written for while the learner's code runs, and the learner's own given back at the
    end.  :meth:`changed` names a change the learner's code made since (a report dict, ``headline`` and
    ``hint``) and puts the setting back, so the helper reports it instead of the error it causes later (an
    autograd switched off: "element 0 of tensors does not require grad") and leaves no setting changed."""

    def __enter__(self):
        self.before = [get() for _, get, *_ in _GLOBALS]
        for (_, _, put, want, *_) in _GLOBALS:
            put(want)
        return self

    def changed(self, who: str = "your code") -> dict | None:
        for what, get, put, want, how, hint in _GLOBALS:
            now = get()
            if now != want:
                put(want)
                return dict(headline=f"{who} changed torch's {what}, from {_show_value(want)} to "
                                     f"{_show_value(now)} ({how}).",
                            hint=hint + " The helper has put the setting back.")
        return None

    def __exit__(self, *exc):
        for (_, _, put, *_), value in zip(_GLOBALS, self.before):
            put(value)
        return False


def _builder_problem(build_fn, call: str) -> dict | None:
    """A report dict when ``build_fn`` cannot be a builder (seed -> model): a model (an instance), or nothing
    callable.  ``call``: how the notebook passes it, for the hint."""
    from torch import nn

    if isinstance(build_fn, nn.Module) or not callable(build_fn) or _python_own(build_fn):
        return dict(headline=f"expected the builder function, got {_describe(build_fn)}.",
                    hint=f"pass the builder function itself, not a model built by it: {call}, its name "
                         "without parentheses; the helper calls it with each seed itself.")
    return None


def _with_default_dtype_kept(check, sig, args, kwargs, task=None):
    """Run ``check`` with torch's global settings (default dtype, autograd on) as the exercises are written for,
    and give the learner's session its own settings back afterwards.  Learner code that changes one of them while
    the check runs (``torch.set_default_dtype``, ``torch.set_grad_enabled(False)``) would change everything the
    check does after it (references, fresh copies of a model, gradients), and the verdict with it, and would
    break the next checks: such a result is replaced by a message that names the change, and the setting is put
    back.  A setting already changed before the check is reported in a note."""
    before = [get() for _, get, *_ in _GLOBALS]
    verbose = kwargs.get("verbose", True) is not False
    quiet = {**kwargs, "verbose": False} if "verbose" in sig.parameters else kwargs
    for (_, _, put, want, *_) in _GLOBALS:
        put(want)

    def changed():
        return [(g, get()) for g in _GLOBALS for get in [g[1]] if get() != g[3]]

    shipped = _TorchAsShipped()
    rng = torch.get_rng_state()  # the learner's random stream: a check that seeds must not leave it reseeded
    try:
        with shipped:
            res = check(*args, **quiet)
    except Exception as e:
        # the check itself broke: on a changed setting (reported below), or on something else the learner's
        # code returned or left behind — reported as such, never as a traceback from inside the grader
        res = None if changed() else _raised(task or check.__name__.replace("check_", ""), e, False)
    finally:
        torch.set_rng_state(rng)
        during = changed()
        for (_, _, put, *_), value in zip(_GLOBALS, before):
            put(value)
    if during and (res is None or isinstance(res, CheckResult)):
        (what, _, _, want, how, hint), now = during[0]
        res = _report(getattr(res, "name", task or check.__name__), FAIL,
                      f"your code changed torch's {what}, from {_show_value(want)} to {_show_value(now)} ({how}), "
                      "when the check called it.",
                      hint=hint + " The check has put the setting back.", verbose=False)
    elif isinstance(res, CheckResult):
        notes = [f"torch's {what} was already {_show_value(b)} in this notebook when the check started ({how} "
                 f"ran before it); the check ran {'with it on' if want is True else 'in ' + _show_value(want)}, "
                 "as the exercises are written for, and left your setting as it was."
                 for (what, _, _, want, how, _), b in zip(_GLOBALS, before) if b != want]
        notes += [shipped.note()] if shipped.note() else []
        if notes:
            res = CheckResult(res.name, res.status, res.message + "".join(f"\n   note:     {n}" for n in notes))
    if verbose and isinstance(res, CheckResult):
        print(res.text)
    return res


def _say(status: str, text: str) -> None:
    """Print a one-off message (sliders, training helpers) with the same symbol, word and wrapping."""
    print(_wrap(f"{_label(status)} — {text}"))


def _not_yet(name: str, what: str, verbose: bool) -> CheckResult:
    return _report(name, TODO, f"not yet — `{what}` still raises NotImplementedError (the TODO stub). "
                   "Replace the `raise NotImplementedError` line with your code and run this cell again.",
                   verbose=verbose)


def _not_a_function(obj) -> bool:
    """True for what cannot be the learner's *function*: not callable, or a torch module or data set
    (class or instance), which are callable but take other arguments."""
    if not callable(obj) or _python_own(obj):
        return True
    from torch import nn
    from torch.utils.data import Dataset

    kinds = (nn.Module, Dataset, torch.optim.Optimizer, _SCHEDULER)
    return isinstance(obj, kinds) or (isinstance(obj, type) and issubclass(obj, kinds))


_SCHEDULER = getattr(torch.optim.lr_scheduler, "LRScheduler", None) or torch.optim.lr_scheduler._LRScheduler


_PYTHON_OWN = ("builtins", "math", "cmath", "operator")


def _python_own(obj) -> bool:
    """True for Python's own classes and functions (``int``, ``float``, ``abs``, ``math.sqrt``): callable, but
    no answer a learner wrote (calling one with the check's arguments fails in ways that blame the checker)."""
    import builtins
    import types

    if isinstance(obj, type):   # (a class the learner defines in code run without a __name__ also says 'builtins')
        return vars(builtins).get(obj.__name__) is obj
    return isinstance(obj, types.BuiltinFunctionType) and getattr(obj, "__module__", None) in _PYTHON_OWN


def _not_callable(name: str, obj, what: str, verbose: bool) -> CheckResult:
    hint = "pass the function/class itself (no parentheses), e.g. `check(my_function)`."
    if _python_own(obj):
        hint = (f"`{getattr(obj, '__name__', obj)}` is Python's own, not yours: pass the function you wrote (its "
                "name, without parentheses).")
    if isinstance(obj, type) and issubclass(obj, _SCHEDULER):
        hint = (f"that is torch's scheduler class itself: pass a function that builds it from the optimizer, "
                f"e.g. `lambda optimizer: {obj.__name__}(optimizer, …)` with your own settings.")
    elif isinstance(obj, _SCHEDULER):
        hint = ("that is a scheduler already built: pass the function that builds it from the optimizer (its name, "
                "no parentheses), so the check can build one for its own optimizer.")
    return _report(name, FAIL, f"expected {what}, got {_describe(obj)}.", hint=hint, verbose=verbose)


# ----------------------------------------------------------------------------- values of the wrong type
def _describe(x) -> str:
    """A learner-readable description of a value: "the string '35%'", "None", "a list of 3 items"."""
    if x is None:
        return "None"
    if isinstance(x, bool):
        return f"the boolean {x}"
    if isinstance(x, str):
        return f"the string {x[:40]!r}"
    if isinstance(x, numbers.Number):
        return f"the number {x!r}"
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)}"
    if _is_numpy(x):
        return f"a NumPy array of shape {tuple(x.shape)}"
    if isinstance(x, (list, tuple)) and x and all(_is_numpy(v) for v in x):
        n = len(x)
        return f"a {type(x).__name__} of {n} NumPy array{'s' if n != 1 else ''}"
    if isinstance(x, (list, tuple, dict, set)):
        return f"a {type(x).__name__} of {len(x)} item{'s' if len(x) != 1 else ''}"
    if isinstance(x, torch.optim.Optimizer):
        return f"the optimizer {type(x).__name__}"
    from torch import nn

    if isinstance(x, nn.Module):
        return f"the module {type(x).__name__}(…) (an instance)"
    if callable(x):
        return f"the {'class' if isinstance(x, type) else 'function'} {getattr(x, '__name__', type(x).__name__)}"
    text = repr(x)
    if len(text) > 40:  # a cut preview says so ("…") and closes the brackets it cut open
        text, open_ = text[:39], []
        for ch in text:
            if ch in "([{":
                open_.append(")]}"["([{".index(ch)])
            elif open_ and ch == open_[-1]:
                open_.pop()
        text += "…" + "".join(reversed(open_))
    return f"a {type(x).__name__} ({text})"


def _is_numpy(x) -> bool:
    return type(x).__module__ == "numpy" and hasattr(x, "shape") and hasattr(x, "dtype") and getattr(x, "ndim", 0) > 0


_NUMPY_HINT = ("NumPy arrays carry no gradient and are not what the caller expects: stay with torch operations "
               "on the tensors you were given (no `.numpy()`, no `np.` functions) and return torch tensors.")


def _blank(answer) -> bool:
    """The stub's placeholder (None, ``...``, an empty string); never compares an array elementwise."""
    return answer is None or answer is ... or (isinstance(answer, str) and answer == "")


def _one_item(answer):
    """A one-element NumPy array of a string (``np.array(["b"])``) read as that string, as a one-element
    array or tensor of a number is read as the number (:func:`_as_number`); anything else unchanged."""
    if _is_numpy(answer) and answer.size == 1 and answer.dtype.kind in "US":
        return str(answer.reshape(-1)[0])
    return answer


def _as_number(x, *, low: float | None = None, high: float | None = None, ratio: bool = False):
    """``(float, None)`` for a real number (Python, numpy or a one-element tensor) inside [low, high],
    else ``(None, reason)`` with a learner-readable reason.  ``ratio``: the number asked for is a factor or a
    fraction, so a percentage written as a string ('1217%') is shown as its factor (12.17)."""
    where = ("between {} and {}".format(low, high) if low is not None and high is not None else
             f"≥ {low}" if low is not None else f"≤ {high}" if high is not None else "")
    want = f"a number{' ' + where if where else ''}"
    if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.dtype.is_complex:
        x = x.item()
    elif hasattr(x, "item") and getattr(x, "shape", None) == ():  # a numpy scalar
        x = x.item()
    elif _is_numpy(x) and x.size == 1 and x.dtype.kind in "iuf":  # np.array([x]), as torch.tensor([x]) is read
        x = x.item()
    elif isinstance(x, decimal.Decimal):  # a number, though not a numbers.Real
        x = float(x) if x.is_finite() else float("nan")
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        extra = ""
        if isinstance(x, str):  # the example is the learner's own number, in the unit the question asks for
            text = x.strip()
            pct = text.endswith("%")
            readings, how = _read_number_text(text.rstrip("%").strip())
            if pct and (ratio or (high is not None and high <= 1)):  # a fraction or factor is asked for
                readings = [r / 100 for r in readings]
            readings = [r for r in readings if math.isfinite(r)]
            quotes = f"without quotes{' or a % sign' if pct else ''}"
            if not readings:  # (a % sign is named only where there is one)
                extra = f" — write the number itself, {quotes}"
            elif len(readings) == 1:
                extra = f" — write the number itself, {quotes}{how} (e.g. {readings[0]:.12g}, not {x!r})"
            else:  # '1,217', '100.000': a decimal or a thousands separator, which one cannot be told
                extra = (f" — write the number itself, {quotes}, with no thousands separator and a point, not a "
                         f"comma, before any decimals "
                         f"(e.g. {readings[0]:.12g} or {readings[1]:.12g}, whichever you meant, not {x!r})")
        if isinstance(x, (list, tuple)) and len(x) == 1 and not isinstance(x[0], (str, list, tuple)):
            extra = " — write the number itself, without the brackets around it"
        return None, f"expected {want}, got {_describe(x)}{extra}."
    v = float(x)
    if not math.isfinite(v):
        return None, f"expected {want}, got {v}."
    if (low is not None and v < low) or (high is not None and v > high):
        return None, f"expected {want}, got {_num_text(v)}."
    return v, None


def _read_number_text(text: str) -> tuple[list, str]:
    """The numbers a learner may have meant by ``text`` (a string, % sign removed) and how to write them: one
    reading where it is unambiguous, two ('1,217': 1.217 or 1217) where a separator could be either, none when it
    is no number. A comma is a decimal comma unless every group after it has exactly three digits."""
    import re

    t = text.replace(" ", "").replace("\u202f", "").replace("\u00a0", "")
    m = re.fullmatch(r"([+-]?)(\d[\d.,]*)((?:[eE][+-]?\d+)?)", t)
    if not m:
        try:
            return [float(t)], ""
        except ValueError:
            return [], ""
    sign, body, exp = m.groups()

    def num(s):
        return float(sign + s + exp)
    try:
        if "," not in body and body.count(".") <= 1:
            if re.fullmatch(r"[1-9]\d{0,2}\.\d{3}", body) and not exp:  # '100.000': 100 or 100000
                return [num(body), num(body.replace(".", ""))], ""
            return [num(body)], ""
        if "," in body and "." in body:  # the last separator is the decimal one: '12.170,5', '1,234.5'
            dec, th = (",", ".") if body.rfind(",") > body.rfind(".") else (".", ",")
            whole, frac = body.rsplit(dec, 1)
            if dec in whole or not re.fullmatch(r"\d{1,3}(\%s\d{3})+" % th, whole):
                return [], ""
            return [num(whole.replace(th, "") + "." + frac)], (", with a decimal point and no thousands separator" if dec == ","
                                                               else ", with no thousands separator")
        sep = "," if "," in body else "."
        groups = body.split(sep)
        if all(len(g) == 3 for g in groups[1:]) and groups[0] and not groups[0].startswith("0"):
            if len(groups) > 2:  # '1,000,000', '1.000.000': thousands
                return [num("".join(groups))], ", with no thousands separator"
            return [num(groups[0] + "." + groups[1]), num("".join(groups))], ""  # '1,217': either
        if sep == "," and len(groups) == 2:  # '0,3487', '12,17', '44,0': a decimal comma
            return [num(groups[0] + "." + groups[1])], ", with a decimal point"
        return [], ""
    except ValueError:
        return [], ""


def _num_text(v: float) -> str:
    """``v`` short (4 significant digits) where that is exact, else in full: 0.9999999 is never shown as "1"."""
    short = f"{v:.4g}"
    try:
        return short if float(short) == v else repr(float(v))
    except ValueError:  # pragma: no cover
        return repr(v)


# ----------------------------------------------------------------------------- exceptions from learner code
def _excluded_dirs() -> tuple[str, ...]:
    dirs = {os.path.dirname(_PACKAGE_DIR.rstrip(os.sep)) + os.sep,  # course_utils itself
            os.path.dirname(os.path.abspath(torch.__file__)) + os.sep}
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            dirs.add(os.path.abspath(paths[key]) + os.sep)
    try:
        dirs.update(os.path.abspath(p) + os.sep for p in site.getsitepackages())
    except Exception:  # virtualenvs without site.getsitepackages
        pass
    return tuple(sorted(dirs))


_EXCLUDED = _excluded_dirs()


def _is_learner_frame(filename: str) -> bool:
    if not filename or filename.startswith("<frozen"):
        return False
    if filename.startswith("<"):  # <ipython-input-…>, <string>, <stdin>: typed by the learner
        return True
    path = os.path.abspath(filename)
    return not (path.startswith(_EXCLUDED) or os.sep + "site-packages" + os.sep in path
                or os.sep + "dist-packages" + os.sep in path)


def _learner_frame(e: BaseException):
    """The innermost traceback frame in the learner's own code (not torch, not a library, not the graders)."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if _is_learner_frame(f.filename)]
    return frames[-1] if frames else None


def _none_grad_at(e: BaseException, line: str) -> bool | None:
    """Whether a gradient the learner's failing ``line`` reads (``p.grad``) is None there: True, False (all of
    them are tensors, or the line reads none), or None when it cannot be told (no frame of the learner's)."""
    frame, tb = None, e.__traceback__
    while tb is not None:
        if _is_learner_frame(tb.tb_frame.f_code.co_filename):
            frame = tb.tb_frame
        tb = tb.tb_next
    if frame is None:
        return None
    local = frame.f_locals
    names = set(re.findall(r"\b([A-Za-z_]\w*)\.grad\b", line))
    if names and all(isinstance(local.get(n), torch.Tensor) for n in names):
        return any(local[n].grad is None for n in names)
    # (the line reads the gradient through another name, `g = p.grad`: a parameter of this frame without one)
    params = [v for v in local.values() if isinstance(v, torch.Tensor) and v.requires_grad and v.is_leaf]
    return any(v.grad is None for v in params) if params else None


def _where(e: BaseException) -> str:
    """The line of the learner's code that raised, or "" when the error came from library code alone."""
    f = _learner_frame(e)
    if f is None:
        return ""
    return f"raised at line {f.lineno} of your code: `{(f.line or '').strip()}`"


#: torch's messages for tensors of two dtypes that met ('mat1 and mat2 must have the same dtype, but got Float
#: and Double', 'expected scalar type Float but found Double', 'Index put requires the source and destination
#: dtypes match', 'expected m1 and m2 to have the same dtype', 'Found dtype Double but expected Float')
_DTYPE_CLASH = re.compile(r"same dtype|dtypes match|expected scalar type|Found dtype \w+ but expected|"
                          r"got Float and Double|got Double and Float|Half and Float|Float and Half")

_ONECYCLE = re.compile(r"Tried to step (\d+) times?\. The specified number of total steps is (\d+)")


def _argument_changed_in_place(e: BaseException, line: str) -> str | None:
    """The name of an argument of the learner's function that ``line`` (where ``e`` was raised) changes in place
    (``x.sub_(…)``, ``x.data.mul_(…)``, ``x[0] += …``), or None."""
    frames = [fr for fr, _ in traceback.walk_tb(e.__traceback__) if _is_learner_frame(fr.f_code.co_filename)]
    if not frames:
        return None
    code = frames[-1].f_code
    args = set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)(?:\.data)?(?:\[[^\]]*\])?\s*(?:\.\w+_\(|[-+*/]=)", line):
        if m.group(1) in args:
            return m.group(1)
    return None


def _exception_hint(e: BaseException, context: str | None = None) -> str:
    """A hint for a known kind of mistake; ``context`` is "init", "optimizer", "scheduler" or None."""
    text = str(e)
    f = _learner_frame(e)
    line = (f.line or "") if f is not None else ""
    m = _ONECYCLE.search(text)
    if m:
        stepped, total = int(m.group(1)), int(m.group(2))
        return (f"total steps too small: OneCycleLR was built with total_steps={total}, but the run stepped "
                f"it {stepped} times (it is stepped after every batch). Use total_steps = epochs × "
                "math.ceil(n_train / batch_size): floor division `//` drops the last, smaller batch of each "
                "epoch. (Or pass epochs=… and steps_per_epoch=… instead of total_steps.)")
    if _DTYPE_CLASH.search(text):
        return ("two tensors of different dtypes met (e.g. float32 and float64): build new tensors from the ones "
                "you were given (`torch.zeros_like(x)`, not `torch.zeros(x.shape)`, which takes the default "
                "dtype) and keep the course's float32 (no `.double()`, `dtype=torch.float64` or "
                "`torch.set_default_dtype`).")
    if 'missing the required "forward" function' in text:
        return ("that module has no forward of its own: an nn.ModuleList (or nn.ModuleDict) only holds layers, "
                "it does not chain them. Return `nn.Sequential(*layers)`, or a module whose `forward` runs "
                "the layers in turn.")
    if "leaf Variable that requires grad" in text or "a view of a leaf Variable" in text:
        if context == "init":
            return ("a real nn.Linear weight requires grad, and autograd forbids changing such a leaf tensor "
                    "in place while it records. Fill it inside `with torch.no_grad():` (as torch.nn.init does), "
                    "e.g. `with torch.no_grad(): w.normal_(0, std)`.")
        if context == "optimizer":
            return ("you changed a parameter in place while autograd was recording. Decorate `step` with "
                    "`@torch.no_grad()` (as torch.optim does) or update `p.data`.")
        arg = _argument_changed_in_place(e, line)
        if arg:  # the caller's tensor: no_grad would only hide that it is overwritten
            return (f"`{arg}` is an argument your function was given, the caller's tensor, and this line changes "
                    "it in place (a method ending in `_`, or `-=`, `+=`, …). Don't: compute a new tensor from it "
                    f"instead (e.g. `{arg} - m`, not `{arg}.sub_(m)`). Wrapping the line in `torch.no_grad()` "
                    "would silence the error and overwrite the caller's data.")
        return ("a tensor that requires grad (a parameter) was changed in place while autograd was recording: "
                "do it inside `with torch.no_grad():`.")
    if "NoneType" in text and context != "optimizer" and ".grad" not in line and (
            "not supported between" in text or "unsupported operand" in text or "must be real number" in text):
        return ("a value is None where a number is needed (e.g. `lr=None`): give every hyper-parameter a "
                "number.")
    if "NoneType" in text:
        none_grad = _none_grad_at(e, line)
        if none_grad is False and (context == "optimizer" or ".grad" in line):
            # every gradient the line reads is there: the None is something else, mostly a state buffer
            return ("a value this line uses is None, not a gradient (every `p.grad` here is a tensor): most "
                    "often a state buffer read before it was created (`self.state[p].get('v')` on the first "
                    "step) or initialised to None. Create it as a tensor on the first step, e.g. "
                    "`state.setdefault('v', torch.zeros_like(p))`, then update it.")
        if context == "optimizer" or ".grad" in line or "grad" in text:
            return ("a parameter without gradient has `p.grad is None` (it was not used in the loss): skip it "
                    "with `if p.grad is None: continue` at the top of the loop over the parameters.")
        return ("something is None: a function without a `return` statement returns None — check that "
                "every function you wrote returns its result.")
    if "numpy() on Tensor that requires grad" in text:
        return ("the checker also runs your code on tensors that require grad, as a network would: stay with "
                "torch operations (a NumPy round trip would also cut the gradient).")
    if "Boolean value of Tensor with more than one" in text:
        return ("a Python `if`, `and`, `or` or `max` needs one True or False, and a tensor of many values is not "
                "one: decide element by element with tensor operations, e.g. an element-wise selection "
                "`torch.where(condition, a, b)`.")
    if "optimizer must support momentum" in text:
        return ("CyclicLR cycles the momentum too by default, and plain SGD has none: pass "
                "`cycle_momentum=False`.")
    if isinstance(e, NameError):
        return ("a name is not defined: check the spelling, and run the cell that defines it (and the import "
                "cell) first.")
    if isinstance(e, TypeError) and ("unexpected keyword" in text or "positional argument" in text
                                     or "required positional" in text or "missing" in text
                                     or "expected at most" in text or "takes no arguments" in text):
        tb = traceback.extract_tb(e.__traceback__)
        if tb and tb[-1].filename.startswith(_PACKAGE_DIR):  # the grader's call of the learner's code failed
            return "the function or class must accept exactly the arguments of the stub (names included)."
        return ("a call on that line got arguments it does not take, or misses one: compare it with the "
                f"function's documentation ({_help_for(text, line, context)}).")
    if "unsupported operand" in text and "str" in text:
        return "one of the values is a string: use numbers (no quotes)."
    if "shape" in text or "size" in text:
        return "check the shapes of the tensors you combine (print `x.shape`)."
    if isinstance(e, TypeError) and ("argument" in text or "keyword" in text):
        return "check the arguments of the call on that line against its documentation."
    if f is None and "PyTorch" in _origin(e):
        return ("the error was raised inside PyTorch while running your code: read the message above; it "
                "usually names the argument of yours that it did not accept.")
    if f is None:
        return ("the checker could not use what your function returned or left behind (e.g. a model whose "
                "dtype or device it changed, or an argument it replaced): return what the task asks for and "
                "leave the arguments you were given as they were.")
    return "read the error above, fix the line it points at and run the cell again."


def _help_for(text: str, line: str, context: str | None) -> str:
    """Where to read about the call that a TypeError ``text`` raised on the learner's ``line`` names: the method
    or function the message names as it is written on that line (`help(w.uniform_)`), else an example that fits
    the exercise (``context``)."""
    m = re.match(r"\s*(?:\w+\.)*(\w+)\(\)", text)
    if m:
        called = re.search(r"((?:[A-Za-z_]\w*\.)*" + re.escape(m.group(1)) + r")\s*\(", line)
        if called:
            return f"`help({called.group(1)})`"
    if context == "scheduler":
        return "e.g. `help(torch.optim.lr_scheduler.OneCycleLR)`"
    return "`help(...)` of the function called there"


def _origin(e: BaseException) -> str:
    """Where an error without a learner's line came from: torch itself, or the checker using an object of yours."""
    tb = traceback.extract_tb(e.__traceback__)
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
    inner = tb[-1].filename if tb else ""
    if inner and os.path.abspath(inner).startswith(torch_dir):
        return "(raised inside PyTorch, not at a line of yours)"
    text = str(e)
    if isinstance(e, TypeError) and any(w in text for w in ("positional argument", "expected at most",
                                                            "unexpected keyword", "takes no arguments",
                                                            "required positional", "argument")):
        return ("(raised when the checker called your function or class with the stub's arguments: it does not "
                "take them)")
    return "(raised while the checker used what your code returned or changed, not at a line of yours)"


def _short_exc(e: BaseException) -> str:
    # a KeyError's str() is the repr of its message (quotes, literal "\n"): show the message itself
    text = e.args[0] if isinstance(e, KeyError) and len(e.args) == 1 and isinstance(e.args[0], str) else str(e)
    msg = text.strip().splitlines()
    first = msg[0] if msg else ""
    return f"{type(e).__name__}: {first[:300]}"


def _raised(name: str, e: BaseException, verbose: bool, case: str | None = None, *,
            context: str | None = None, hint: str | None = None) -> CheckResult:
    where = _where(e)
    details = [where] if where else [_origin(e)]
    return _report(name, FAIL, f"your code raised {_short_exc(e)}", case=case, details=details,
                   hint=hint or _exception_hint(e, context), verbose=verbose)


def _say_raised(what: str, e: BaseException, context: str | None = None) -> None:
    """Print a friendly report of a learner's exception outside a check (a slider, a training helper)."""
    where = _where(e)
    lines = [f"{_label(FAIL)} — {what}: your code raised {_short_exc(e)}"]
    if where:
        lines.append(f"   {where}")
    lines.append(f"   hint:     {_exception_hint(e, context)}")
    print(_wrap("\n".join(lines)))


class _one_thread:
    """Run tiny CPU models on one intra-op thread: they gain nothing from more, and on a busy machine
    OpenMP threads that spin-wait for each other make a one-second run take minutes."""

    def __enter__(self):
        self.n = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.n)


def _show(widget) -> None:
    """Display a slider panel and return nothing, so the cell prints no ``<function …>`` or widget repr.

    (``ipywidgets.interact`` returns the decorated function, whose repr a notebook then prints as the
    cell's value; the explorers build an ``interactive`` and display it instead.)
    """
    from IPython.display import display

    display(widget)


def _unlike(out, like, _item: bool = False):
    """What keeps ``out`` from having the form of ``like`` (a tensor: a tensor of its shape; a tuple of them: a
    tuple or list of as many such tensors), as a phrase, or None."""
    if isinstance(like, torch.Tensor):
        if not isinstance(out, torch.Tensor):
            return f"{_describe(out)}, not a tensor of shape {tuple(like.shape)}"
        if tuple(out.shape) != tuple(like.shape):  # (an item of a tuple need not be shaped like an input)
            return (f"a tensor of shape {tuple(out.shape)}, not {tuple(like.shape)}"
                    + ("" if _item else " (one value per input value)"))
        return None
    if not isinstance(out, (tuple, list)) or len(out) != len(like):
        return f"{_describe(out)}, not a tuple of {len(like)} tensors"
    for i, (o, k) in enumerate(zip(out, like)):
        bad = _unlike(o, k, _item=True)
        if bad:
            return f"as item {i} of its result {bad}"
    return None


def _detached(out):
    if isinstance(out, torch.Tensor):
        return out.detach()
    if isinstance(out, (tuple, list)):
        return type(out)(_detached(o) for o in out)
    return out


def attempt(fn: Callable, *args, returns_like=None, **kwargs):
    """Call ``fn(*args, **kwargs)``; if it is still the TODO stub print "not yet" and return ``None``.

    Notebook cells that *use* a learner's function (not grade it) call it through
    ``attempt`` so that an unfilled notebook runs top to bottom.  Any other exception
    from the learner's code is reported like a check does (their line and a hint), and
    ``None`` is returned as well.  ``returns_like``: the form the cell needs (a tensor, or a tuple of tensors,
    of those shapes); a result of another form is reported instead of breaking the plot or table that uses
    it, and a right one comes back detached from autograd (ready for plotting).
    """
    if not callable(fn):  # e.g. `backward_var = 1/128` assigned where a `def` was asked for
        _say(FAIL, f"expected your function, got {_describe(fn)}: define it with `def name(...):` and "
             "`return` the value, rather than assigning a value to its name.")
        return None
    what = getattr(fn, "__name__", repr(fn))
    try:
        out = fn(*args, **kwargs)
        if returns_like is None:
            return out
        bad = _unlike(out, returns_like)
        if bad:
            _say(FAIL, f"`{what}` returned {bad}, so this cell cannot use it: run its check above, which says "
                 "what is wrong.")
            return None
        return _detached(out)
    except NotImplementedError:
        _say(TODO, f"not yet — `{what}` is still the TODO stub; fill it in above and run this cell again.")
        return None
    except Exception as e:  # the learner's code: report, never raise
        _say_raised(f"`{what}`", e)
        return None


def _frozen(named) -> dict | None:
    """A report (headline, hint) when learner code switched off ``requires_grad`` of tensors it was given:
    ``named`` is ``[(name, tensor)]`` of tensors that required grad before the call."""
    off = [n for n, t in named if isinstance(t, torch.Tensor) and not t.requires_grad]
    if not off:
        return None
    what = " and ".join(f"`{n}`" for n in off[:3]) + (f" (and {len(off) - 3} more)" if len(off) > 3 else "")
    one = len(off) == 1
    return dict(headline=f"your function switched off `requires_grad` of {what}, "
                         f"{'a tensor' if one else 'tensors'} it was given, and left {'it' if one else 'them'} so.",
                hint="the caller still needs gradients through them (training does): a function that computes "
                     "from its inputs leaves their flags alone. Remove the `requires_grad_(False)` (or "
                     "`.requires_grad = False`); `with torch.no_grad():` or `.detach()` on your own copy give a "
                     "tensor without gradient.")


def as_number(x) -> float | None:
    """``x`` as a Python float when it is one real number (Python, NumPy or a one-element tensor), else None
    (what a notebook cell uses to put a learner's returned value into a table)."""
    return _as_number(x)[0]


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


# ----------------------------------------------------------------------------- what a cached run must tell apart
def _callable_id(fn, _depth: int = 0) -> str:
    """A description of a callable that changes when its code does: the training module's own description
    (source text, constants, defaults, closure, the notebook helpers it calls) for Python functions, the
    dotted name for built-ins (``torch.relu`` and ``torch.tanh`` are told apart by name, not by type)."""
    from ..train import _describe_callable

    if isinstance(fn, (staticmethod, classmethod)):
        fn = fn.__func__
    if isinstance(fn, property):
        return "property(" + ",".join(_callable_id(f, _depth + 1) for f in (fn.fget, fn.fset) if f) + ")"
    if getattr(fn, "__code__", None) is None and not hasattr(fn, "func"):
        func = getattr(fn, "__func__", None)  # a bound method: its function, and what it is bound to
        if func is not None and getattr(func, "__code__", None) is not None:
            return "bound(" + _describe_callable(func) + "," + _class_id(type(fn.__self__), _depth + 1) + ")"
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
        if name:
            return f"{getattr(fn, '__module__', None) or type(fn).__module__}.{name}"
        return _class_id(type(fn), _depth + 1)  # a callable instance: its class's code
    try:
        return _describe_callable(fn)
    except Exception:  # pragma: no cover - an exotic callable: its code object as text
        code = getattr(fn, "__code__", None)
        return repr((getattr(code, "co_code", b""), getattr(code, "co_consts", ()), getattr(code, "co_names", ())))


def _is_torch_class(cls) -> bool:
    """torch's own classes (and Python's), and the course's: the training module keys those already (by name, and
    the course's by its package's source text), so only a learner's own classes need their code in a key."""
    mod = getattr(cls, "__module__", "") or ""
    return mod == "builtins" or mod.split(".")[0] in ("torch", "typing", "abc", "course_utils")


def _class_id(cls, _depth: int = 0) -> str:
    """The code of a class that is not torch's own (a learner's module, optimizer or activation): every
    function defined in it and in its bases outside torch, so a class fixed under the same name is another class."""
    import hashlib
    import inspect
    import json

    if _is_torch_class(cls):
        return f"{cls.__module__}.{cls.__qualname__}"
    parts = {"name": f"{cls.__module__}.{cls.__qualname__}"}
    for c in cls.__mro__:
        if _is_torch_class(c) or c is object:
            continue
        try:
            parts[f"source:{c.__qualname__}"] = inspect.getsource(c)
        except (OSError, TypeError):
            pass
        if _depth < 3:
            for k, v in sorted(vars(c).items()):
                if isinstance(v, (staticmethod, classmethod, property)) or callable(v):
                    if isinstance(v, type):
                        parts[f"{c.__qualname__}.{k}"] = _class_id(v, _depth + 1)
                    else:
                        parts[f"{c.__qualname__}.{k}"] = _callable_id(v, _depth + 1)
                elif isinstance(v, (int, float, str, bool)) and not k.startswith("__"):
                    parts[f"{c.__qualname__}.{k}"] = repr(v)
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def _code_fingerprint(model=None, optimizer=None, *functions) -> dict:
    """What a learner's code does that the training module's cache key does not see: the code of every class of
    the model's modules and of the optimizer that is not torch's own, the callables a module holds (a functional
    activation in an attribute, hooks), the functions given (builder, optimizer and scheduler functions), and
    which parameters train (``requires_grad``).  Put into a run's ``extra_key``, a changed answer never gets the
    run of the old one.  Only what differs from torch's own classes with every parameter training is included, so
    a run built from torch's classes alone keeps the key (and the cached run) it always had."""
    import hashlib
    import json

    out: dict = {}
    if model is not None:
        mods = []
        for name, m in model.named_modules():
            own = not _is_torch_class(type(m))
            entry = [name, _class_id(type(m))]
            for k, v in sorted(vars(m).items()):
                if k in ("_parameters", "_buffers", "_modules") or isinstance(v, torch.nn.Module):
                    continue
                if isinstance(v, dict) and k.endswith("hooks") and v:
                    entry.append([k, [_callable_id(h) for h in v.values()]])
                elif own and callable(v) and not isinstance(v, torch.Tensor):
                    entry.append([k, _class_id(v) if isinstance(v, type) else _callable_id(v)])
            if own or len(entry) > 2:  # torch's own modules are told apart by the key's repr already
                mods.append(entry)
        if mods:
            out["modules"] = hashlib.sha256(json.dumps(mods, default=repr).encode()).hexdigest()[:16]
        trains = "".join("1" if p.requires_grad else "0" for p in model.parameters())
        if "0" in trains:
            out["trains"] = trains
    if optimizer is not None:
        cls = optimizer if isinstance(optimizer, type) else type(optimizer)
        if not _is_torch_class(cls):
            out["optimizer"] = _class_id(cls)
    fns = [f for f in functions if f is not None]
    if fns:
        out["functions"] = [(_class_id(f) if isinstance(f, type) else _callable_id(f)) for f in fns]
    return out


def _cached_note(*results) -> str | None:
    """A note for a message built on runs read from the results cache (``TrainResult.cached``)."""
    n = sum(1 for r in results if getattr(r, "cached", False))
    if not n:
        return None
    return (f"{'this run was' if n == 1 else f'{n} of these runs were'} read from the results cache (a run "
            "trained earlier with exactly this code, data and settings), not trained again.")


_NO_DEFAULT = object()


def _stub_signature_problem(fn, stub: str, stub_params: list, *, call: str | None = None) -> dict | None:
    """What keeps ``fn``'s signature from the stub's ``stub_params`` (``[(name, default or _NO_DEFAULT)]``, in the
    stub's order; for a class, ``__init__``'s without ``self``): a stub's name at another position (the checks
    pass arguments positionally, so swapped names read as a formula error), a default removed (code that leaves
    the argument out, the notebook's own cells included, then raises TypeError) or changed (a coincidence no
    sample can tell, e.g. a=0.01 for a=0). ``None`` when it matches, or when it cannot be read (a builtin, a
    ``*args``/``**kwargs`` wrapper: those are judged by the calls). Other names than the stub's are fine."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return None
    pos = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = [n for n, _ in stub_params]
    shown = ", ".join(n if d is _NO_DEFAULT else f"{n}={d!r}" for n, d in stub_params)
    keep = f"keep the stub's signature, `{stub}({shown})`: the checks and the notebook's cells call it that way."
    theirs = ", ".join(p.name for p in pos[:len(names)])
    required = [n for n, d in stub_params if d is _NO_DEFAULT]
    if len(pos) < len(required) and any(p.name in names for p in pos):  # one left out: not an order problem
        k = len(pos)
        return dict(headline=f"your function takes {k} parameter{'s' if k != 1 else ''}, ({theirs}), but the stub "
                             f"takes {len(names)}, ({', '.join(names)}), and every call passes "
                             f"{'both' if len(required) == 2 else len(required)}.",
                    case=call or "the signature of your function", hint=keep)
    moved = [p.name for i, p in enumerate(pos) if p.name in names and names.index(p.name) != i]
    if moved:
        return dict(headline=f"your function takes its parameters in another order: ({theirs}); the stub's order "
                             f"is ({', '.join(names)}), and every call passes the arguments in that order.",
                    case=call or "the signature of your function", hint=keep)
    missing, differ = [], []
    kw_only = {p.name: p for p in params if p.kind == p.KEYWORD_ONLY}
    pairs = list(zip(stub_params, pos)) + [((n, d), kw_only[n]) for n, d in stub_params[len(pos):] if n in kw_only]
    for (name, want), p in pairs:
        if want is _NO_DEFAULT:
            continue
        if p.default is p.empty:
            missing.append(name if p.name == name else f"{p.name} (the stub's {name})")
            continue
        got = tuple(p.default) if isinstance(p.default, list) and isinstance(want, tuple) else p.default
        try:
            same = bool(got == want)
        except Exception:
            same = False
        if not same:
            differ.append(f"{p.name}={p.default!r} (the stub's: {want!r})")
    if missing:
        s = "s" if len(missing) > 1 else ""
        return dict(headline=f"your function removed the stub's default{s} for {', '.join(missing)}: code that "
                             "leaves the argument out (as the stub allows, and as later cells of the notebook do) "
                             "raises TypeError.",
                    case=call or "the signature of your function", hint=keep)
    if differ:
        return dict(headline=f"your function changed the stub's defaults: {', '.join(differ)}.",
                    case=call or "the signature of your function",
                    hint=keep + " Code that leaves an argument out gets the stub's default.")
    return None


def _signature_report(name: str, fn, stub: str, stub_params: list, verbose: bool, call: str | None = None):
    """A failed CheckResult when ``fn``'s signature departs from the stub's (see ``_stub_signature_problem``)."""
    bad = _stub_signature_problem(fn, stub, stub_params, call=call)
    if bad is None:
        return None
    return _report(name, FAIL, bad.pop("headline"), verbose=verbose, **bad)
