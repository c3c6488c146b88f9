"""Exercises 03 — optimizers: momentum, RMSProp and Adam graded against torch.optim; a prediction of Adam's first
step graded against torch's; the loss-surface sliders."""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import torch

from .. import surfaces as _surfaces
from ._core import (_NO_DEFAULT, _stub_signature_problem, CheckResult, FAIL, PASS, TODO, _as_number, _describe, _fmt, _not_callable, _not_yet, _raised,
                    _report, _say, _say_raised, _show)
from ._core import _graded, _python_own


def _opt_problem():
    """A small non-quadratic problem in float64 with two parameter groups and one parameter without grad (of
    the same shape as another one)."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(16, 4, generator=g, dtype=torch.float64)
    T = torch.randn(16, 3, generator=g, dtype=torch.float64)
    W = torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(3, generator=g, dtype=torch.float64).requires_grad_()
    # the shape of b (in the other group): state shared by parameters of one shape (keyed by `p.shape`) shows
    unused = torch.randn(3, generator=g, dtype=torch.float64).requires_grad_()

    def loss_fn():
        return ((X @ W.T + b - T) ** 2).mean() + 0.1 * (W ** 4).sum() + 0.05 * torch.sin(3 * b).sum()

    return [W, b, unused], loss_fn


#: the (0-based) steps on which the third parameter gets a gradient; on all others its ``.grad`` is None, so a
#: step count kept per parameter group (instead of per parameter, as torch keeps it) shows
_SOMETIMES_GRAD_STEPS = (4, 5, 9)
#: before this (0-based) step every group's lr is scaled by _LR_CHANGE, as a scheduler would do between steps:
#: an update that folds lr into its state (v ← βv + ηg) agrees with torch only while lr stays constant
_LR_CHANGE_STEP, _LR_CHANGE = 7, 0.3
#: what the expected/got lines call each parameter of the problem
_PARAM_NAMES = ("weight W", "bias b (second group, lr/2)", "third parameter (first group, a gradient on some "
                "steps only)")


#: the (0-based) step on which the third parameter gets a gradient of zeros, after it has state: torch still
#: decays its velocity / averages (and momentum and Adam still move it), so a step that skips an all-zero
#: gradient shows
_ZERO_GRAD_STEP = 6


def _aliases_grad(opt, params) -> bool:
    """True when a tensor of the optimizer's state *is* (shares memory with) a parameter's ``.grad``."""
    grads = [p.grad for p in params if p.grad is not None]
    for st in getattr(opt, "state", {}).values():
        for v in (st.values() if isinstance(st, dict) else ()):
            if isinstance(v, torch.Tensor) and any(v is g or (v.numel() and v.data_ptr() == g.data_ptr())
                                                   for g in grads):
                return True
    return False


def _trajectory(make_opt, steps: int, *, restarts: int = 1, keep_grads: bool = False, resume_at: int | None = None):
    """Run ``steps`` optimizer steps; return the list of parameter snapshots after each step.  ``restarts``:
    that many optimizers, each built afresh on the *same* parameter tensors (as re-running a notebook cell
    does), each for ``steps`` steps.  ``keep_grads``: clear the gradients with ``zero_grad(set_to_none=False)``
    (zeroed in place, as older code and many training loops do) instead of setting them to None."""
    import copy

    (W, b, unused), loss_fn = _opt_problem()
    snaps = []
    for _ in range(restarts):
        opt = make_opt([{"params": [W, unused]}, {"params": [b], "lr_scale": 0.5}])
        for k in range(steps):
            if k == resume_at:  # ``resume_at``: save with state_dict(), load into a new optimizer, go on
                saved = copy.deepcopy(opt.state_dict())
                opt = make_opt([{"params": [W, unused]}, {"params": [b], "lr_scale": 0.5}])
                opt.load_state_dict(saved)
            if k == _LR_CHANGE_STEP:
                for group in getattr(opt, "param_groups", ()):
                    if isinstance(group, dict) and isinstance(group.get("lr"), (int, float)):
                        group["lr"] = group["lr"] * _LR_CHANGE
            opt.zero_grad(set_to_none=False) if keep_grads else opt.zero_grad()
            loss_fn().backward()
            if k in _SOMETIMES_GRAD_STEPS:
                unused.grad = torch.cos(unused.detach() + k)
            elif k == _ZERO_GRAD_STEP:
                unused.grad = torch.zeros_like(unused)
            else:
                unused.grad = None
            grads = [None if p.grad is None else p.grad.clone() for p in (W, b, unused)]
            torch.rand(1)  # the global generator moved on, as dropout and shuffling move it between two steps
            rng = torch.get_rng_state()
            opt.step()
            if not torch.equal(torch.get_rng_state(), rng):  # the step drew from, or reseeded, the generator
                opt._checker_rng = getattr(opt, "_checker_rng", []) + [torch.get_rng_state()]
            if _aliases_grad(opt, (W, b, unused)):
                opt._checker_aliased = True
            if any(g is not None and (p.grad is None or not torch.equal(p.grad, g))
                   for p, g in zip((W, b, unused), grads)):
                opt._checker_grad_changed = True
                if all(p.grad is None or not p.grad.any() for p in (W, b)):  # every gradient gone: zero_grad()
                    opt._checker_grads_cleared = True
            snaps.append([W.detach().clone(), b.detach().clone(), unused.detach().clone()])
    return opt, snaps


def _groups(param_groups, lr):
    """Our parameter groups with explicit learning rates (the second group at half the rate)."""
    out = []
    for grp in param_groups:
        grp = dict(grp)
        if grp.pop("lr_scale", None):
            grp["lr"] = lr * 0.5
        out.append(grp)
    return out


class _SimpleOpt(torch.optim.Optimizer):
    """Reference variants (including typical mistakes) for diagnosing a learner's optimizer."""

    def __init__(self, params, lr, rule, **hyper):
        super().__init__(params, dict(lr=lr, **hyper))
        self.rule = rule

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            if hasattr(self.rule, "on_group"):
                self.rule.on_group(group)
            for p in group["params"]:
                if p.grad is None:
                    if hasattr(self.rule, "on_skip"):
                        self.rule.on_skip()
                    continue
                self.rule(p, p.grad, self.state[p], group)


def _torch_optimizer(kind) -> str | None:
    """The name of the torch.optim optimizer that ``kind`` (a class) is or derives from, other than the
    stub's base ``torch.optim.Optimizer``; else None."""
    for c in getattr(kind, "__mro__", ()):
        if c is torch.optim.Optimizer or c is object:
            continue
        if (getattr(c, "__module__", "") or "").startswith("torch."):
            return f"torch.optim.{c.__name__}"
    return None


def _borrowed_update(opt) -> str | None:
    """Why ``opt`` (what the learner's class or function built) does not do its own update, or None."""
    own = _torch_optimizer(type(opt))
    if own:
        return f"it is {own}" if type(opt).__module__.startswith("torch.") else f"it subclasses {own}"
    step = getattr(type(opt), "step", None)
    if step is not None and (getattr(step, "__module__", "") or "").startswith("torch.optim") \
            and step is not torch.optim.Optimizer.step:
        return f"its step is torch's own ({getattr(step, '__qualname__', 'step')})"
    inner = [v for v in vars(opt).values() if isinstance(v, torch.optim.Optimizer)]
    if inner:
        kind = type(inner[0]).__name__
        return f"it hands the update to {'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind} it holds"
    return None


def _digits(want, got) -> int:
    """Significant digits that show the difference of two nearly equal tensors (at least 4, at most 17)."""
    scale = max(want.abs().max().item(), 1e-300)
    diff = (want - got).abs().max().item()
    if not math.isfinite(diff) or diff <= 0:
        return 4
    return int(min(17, max(4, math.ceil(-math.log10(diff / scale)) + 2)))


class _TorchUpdateWatch:
    """Records a call to torch's own functional update (``torch.optim._functional.adam``, ``torch.optim.adam.adam``,
    its ``_single_tensor_adam`` / ``_multi_tensor_adam`` / ``_fused_adam``, the same for SGD and RMSprop) while
    the learner's optimizer runs: torch's implementation reached through its functional API, however imported."""

    _MODULES = ("torch.optim._functional", "torch.optim.sgd", "torch.optim.adam", "torch.optim.rmsprop",
                "torch.optim.adamw")

    def __enter__(self):
        import importlib

        self.called, self.saved = [], []
        for mod_name in self._MODULES:
            try:
                mod = importlib.import_module(mod_name)
            except ImportError:  # pragma: no cover - another torch version
                continue
            for n, f in list(vars(mod).items()):
                if n.startswith("__") or not callable(f) or isinstance(f, type):
                    continue
                if not (n in ("sgd", "adam", "adamw", "rmsprop") or n.startswith(("_single_tensor_", "_multi_tensor_",
                                                                                  "_fused_"))):
                    continue
                self.saved.append((mod, n, f))
                setattr(mod, n, self._spy(f, n))
        return self

    def _spy(self, f, n):
        def spy(*a, **k):
            self.called.append(n)
            return f(*a, **k)
        return spy

    def __exit__(self, *exc):
        for mod, n, f in self.saved:
            setattr(mod, n, f)
        return False


_ALIAS_HINT = ("your optimizer's state holds `p.grad` itself, not a copy (e.g. `state['v'] = p.grad` at the first "
               "step): backward and `zero_grad()` then write into your velocity, and your in-place updates of it "
               "change the gradient. Start the state from `torch.zeros_like(p)` (or `p.grad.clone()`).")


def _stub_defaults_differ(cls, defaults: dict) -> str | None:
    """The learner's ``__init__`` defaults that differ from the stub's, as ``name=value (the stub's: value)``."""
    import inspect

    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return None
    out = []
    for k, want in defaults.items():
        p = params.get(k)
        got = tuple(p.default) if p is not None and isinstance(p.default, list) and isinstance(want, tuple) else (
            p.default if p is not None else None)
        if p is not None and p.default is not p.empty and got != want:
            out.append(f"{k}={p.default!r} (the stub's: {want!r})")
    return ", ".join(out) or None


def _matches_in_float64(make, make_ref, steps) -> bool:
    """True when the learner's optimizer matches the reference once tensors made without a dtype are float64
    too: the confirmation that a tiny difference is float32 rounding (a `torch.tensor(t)`, `torch.zeros(p.shape)`)
    and not a different formula that happens to differ little (AMSGrad's max, say)."""
    before = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        _, got = _trajectory(make, steps)
    except Exception:
        return False
    finally:
        torch.set_default_dtype(before)
    _, want = _trajectory(make_ref, steps)
    return all(torch.allclose(a, b, rtol=1e-9, atol=1e-12) for ga, wa in zip(got, want) for a, b in zip(ga, wa))


def _structure_report(name, cls, lr, kwargs, case, verbose) -> CheckResult | None:
    """A report naming the learner's mistake when their optimizer raised inside torch because of how it is built:
    an ``__init__`` that skips ``super().__init__(params, defaults)`` (no ``param_groups``/``defaults``), or
    state kept as NumPy arrays (``load_state_dict`` casts tensors only); None when neither shows."""
    import numpy as np

    try:
        (W, b, unused), loss_fn = _opt_problem()
        opt = cls(_groups([{"params": [W, unused]}, {"params": [b], "lr_scale": 0.5}], lr), **kwargs)
    except Exception:
        return None
    if not isinstance(opt, torch.optim.Optimizer):
        return None
    if not all(k in vars(opt) for k in ("param_groups", "defaults", "state")):
        return _report(name, FAIL, "your optimizer's `__init__` does not call `super().__init__(params, "
                       "defaults)`.", case=case,
                       hint="torch.optim.Optimizer's own `__init__` builds `self.param_groups`, `self.state` and "
                            "`self.defaults`, which `step`, `zero_grad`, schedulers and `state_dict` read: call it "
                            "first in yours, with the parameters and a dict of your hyper-parameters.",
                       verbose=verbose)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss_fn().backward()
            opt.step()
    except Exception:
        return None
    kept = {type(v).__name__ for st in opt.state.values() if isinstance(st, dict) for v in st.values()
            if isinstance(v, np.ndarray)}
    if kept:
        return _report(name, FAIL, "your optimizer keeps NumPy arrays in `self.state[p]`.", case=case,
                       hint="saving and resuming a run (`state_dict()` / `load_state_dict()`) handle torch "
                            "tensors only, and a NumPy round trip leaves torch: keep every buffer as a tensor "
                            "of p's dtype (e.g. made with `torch.zeros_like(p)`) and update it with torch "
                            "operations.", verbose=verbose)
    return None


def _optimizer_check(name, cls, *, kwargs, reference, mistakes, steps=12, verbose=True, nan_hint=None,
                     stub="torch.optim.Optimizer", defaults=None, default_reference=None) -> CheckResult:
    if not (isinstance(cls, type) or callable(cls)) or _python_own(cls):
        return _not_callable(name, cls, "your optimizer class", verbose)
    ref_name = type(reference([torch.zeros(1, requires_grad=True)])).__name__
    write_it = (f"the task is to write the update yourself: subclass {stub} (as the stub does) and implement "
                f"`step` with the formula above; torch.optim.{ref_name} is only the reference your class is "
                "compared with.")
    if isinstance(cls, type) and _torch_optimizer(cls):
        what = (f"{_torch_optimizer(cls)} itself" if (cls.__module__ or "").startswith("torch.")
                else f"a subclass of {_torch_optimizer(cls)}")
        return _report(name, FAIL, f"that is {what}, torch's implementation, not yours.", hint=write_it,
                       verbose=verbose)
    if isinstance(cls, type) and not issubclass(cls, torch.optim.Optimizer):
        return _report(name, FAIL, f"{cls.__name__} is not a torch.optim.Optimizer.",
                       hint="subclass it, as the stub does: `class MyOpt(torch.optim.Optimizer)`, and call "
                            "`super().__init__(params, defaults)`; the base class keeps the parameter groups and "
                            "the state that schedulers, `zero_grad` and `state_dict` use.", verbose=verbose)
    lr = kwargs["lr"]
    sig = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    case = (f"{steps} steps on a small float64 problem, two parameter groups (lr and lr/2), {sig}; every "
            f"group's lr is multiplied by {_LR_CHANGE:g} before step {_LR_CHANGE_STEP + 1}, as a scheduler does")
    watch = _TorchUpdateWatch()
    try:
        with watch:
            opt, got = _trajectory(lambda pg: cls(_groups(pg, lr), **kwargs), steps)
    except NotImplementedError:
        return _not_yet(name, getattr(cls, "__name__", name), verbose)
    except Exception as e:
        built = _structure_report(name, cls, lr, kwargs, case, verbose)
        return built if built is not None else _raised(name, e, verbose, case, context="optimizer")
    if not isinstance(opt, torch.optim.Optimizer):
        return _report(name, FAIL, f"{getattr(cls, '__name__', cls)} is not a torch.optim.Optimizer.",
                       hint="subclass it: `class MyOpt(torch.optim.Optimizer)` and call "
                            "`super().__init__(params, defaults)`.", verbose=verbose)
    borrowed = _borrowed_update(opt) or (watch.called and f"its step calls torch's own update function "
                                         f"(torch.optim's functional `{watch.called[0]}`)")
    if borrowed:
        return _report(name, FAIL, f"{getattr(cls, '__name__', 'your code')} does not do the update itself: "
                       f"{borrowed}.", hint=write_it, verbose=verbose)
    _, want = _trajectory(lambda pg: reference(_groups(pg, lr)), steps)
    start = [t.detach() for t in _opt_problem()[0]]
    before = start
    for t, (g_snap, w_snap) in enumerate(zip(got, want), start=1):
        if t - 1 not in _SOMETIMES_GRAD_STEPS + (_ZERO_GRAD_STEP,) and not torch.equal(g_snap[2], before[2]):
            return _report(name, FAIL, "a parameter without gradient was changed.", case=case,
                           hint="skip parameters whose `.grad` is None.", verbose=verbose)
        before = g_snap
        diffs = [(a - b).abs().max().item() for a, b in zip(g_snap, w_snap)]
        if any(not math.isfinite(d) for d in diffs) or max(diffs) > 1e-9 * (1 + max(s.abs().max().item() for s in w_snap)):
            hint = _ALIAS_HINT if getattr(opt, "_checker_aliased", False) else None
            low = sorted({str(v.dtype).replace("torch.", "") for st in opt.state.values() for v in st.values()
                          if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dtype != torch.float64})
            if all(torch.equal(a, b) for a, b in zip(got[-1][:2], start[:2])):  # unchanged after every step
                hint = ("your step changed no parameter. `p = p - …` only rebinds the name p to a new tensor "
                        "(the model never sees it): update in place, e.g. `p.add_(v, alpha=-lr)` inside a step "
                        "decorated with `@torch.no_grad()` (or `p.data.add_(…)`).")
            for variant, h in mistakes if hint is None else ():
                _, alt = _trajectory(lambda pg: variant(_groups(pg, lr)), steps)
                if all(all(torch.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True) for a, b in zip(ga, aa))
                       for ga, aa in zip(got, alt)):
                    hint = h
                    break
            moved = [not torch.equal(a, b) for a, b in zip(got[-1][:2], start[:2])]
            if hint is None and moved[0] and not moved[1]:
                hint = ("your step updates the first parameter group only (the bias b, in the second group, "
                        "never moved): loop over every group, `for group in self.param_groups:`, each with "
                        "its own lr.")
            if hint is None and t - 1 == _SOMETIMES_GRAD_STEPS[0]:
                hint = ("your steps matched until the third parameter, which has the shape of b, first got a "
                        "gradient: its state is mixed with another parameter's. Each parameter needs its own "
                        "state: keep it in `self.state[p]` (keyed by the parameter itself, not by its shape, "
                        "name or position).")
            if hint is None and low:
                hint = (f"your optimizer's state holds {' and '.join(low)} tensors while the parameters are "
                        "float64 (the checker uses float64), so every step rounds: create the state with "
                        "`torch.zeros_like(p)` (same dtype and device as p), and keep the step count t a "
                        "Python int.")
            scale = 1 + max(s_.abs().max().item() for s_ in w_snap)
            if hint is None and all(math.isfinite(d) for d in diffs) and max(diffs) < 1e-5 * scale \
                    and _matches_in_float64(lambda pg: cls(_groups(pg, lr), **kwargs),
                                            lambda pg: reference(_groups(pg, lr)), steps):
                hint = ("the difference is tiny, the size of float32 rounding: the formula is right, but a "
                        "float32 number enters the update while the parameters are float64: a step count made a "
                        "tensor (`torch.tensor(t)`; β ** it is then float32), a `torch.tensor(β)`, or state "
                        "from `torch.zeros(p.shape)`. Keep t a Python int and the state in p's dtype "
                        "(`torch.zeros_like(p)`).")
            if hint is None and any(not math.isfinite(d) for d in diffs):
                hint = nan_hint or ("your parameters became NaN or infinite: look for a division by zero or the "
                                    "square root of a negative number in your update.")
            # the parameter where the difference is largest (a NaN counts as largest)
            worst = max(range(len(diffs)), key=lambda i: (not math.isfinite(diffs[i]), diffs[i]))
            which, w_t, g_t = _PARAM_NAMES[worst], w_snap[worst], g_snap[worst]
            digits = _digits(w_t, g_t)
            return _report(name, FAIL, f"the parameters first differ from torch.optim after step {t}.", case=case,
                           expected=f"{which} = {_fmt(w_t, digits)}",
                           got=f"{which} = {_fmt(g_t, digits)}",
                           details=[f"largest difference: {diffs[worst]:.3g} (in the {which.split(' (')[0]})"],
                           hint=hint or "compare your update line by line with the formula in the markdown above; "
                                        "keep per-parameter state in `self.state[p]` and read lr from `group['lr']`.",
                           verbose=verbose)
    if getattr(opt, "_checker_rng", None):
        after = opt._checker_rng
        reseeds = len(after) > 1 and all(torch.equal(a, after[0]) for a in after[1:])
        what = ("reseeds torch's global random generator (a `torch.manual_seed` inside `step`)" if reseeds else
                "draws from torch's global random generator (a `torch.rand…`/`randn…` or a seeding call inside "
                "`step`)")
        return _report(name, FAIL, f"your step gives the right parameters but {what}.", case=case,
                       hint="the update draws no random numbers, and a training loop calls step after every "
                            "batch: " + ("every dropout mask and every shuffle drawn between two steps would "
                                         "repeat the same numbers. " if reseeds else
                                         "each draw shifts every later dropout mask and shuffle. ")
                            + "Remove it from step; the notebook seeds the generator once, before training.",
                       verbose=verbose)
    if getattr(opt, "_checker_grads_cleared", False):
        return _report(name, FAIL, "your step cleared the gradients (`self.zero_grad()` or `p.grad = None` inside "
                       "`step`).", case=case,
                       hint="step only updates the parameters; clearing the gradients is the training loop's "
                            "job (`optimizer.zero_grad()` before `loss.backward()`), and code between step and "
                            "the next backward (logging, clipping) still reads them: remove the zero_grad from "
                            "step.", verbose=verbose)
    if getattr(opt, "_checker_grad_changed", False):
        return _report(name, FAIL, "your step changed the gradients (`p.grad`) in place.", case=case,
                       hint="an in-place operation on `p.grad` (`g = p.grad; g.mul_(…)`, `p.grad.pow_(2)`, "
                            "`g /= …`) overwrites what backward computed, which other code (clipping, logging, a "
                            "second optimizer) still reads: compute new tensors from the gradient, e.g. `g * g`.",
                       verbose=verbose)
    same = lambda a, b: all(torch.allclose(x, y, rtol=1e-9, atol=1e-12) for ga, wa in zip(a, b)  # noqa: E731
                            for x, y in zip(ga, wa))
    # a second optimizer on the same parameters (a notebook cell run again) must start from a fresh state
    again_case = case + f"; then a second optimizer built on the same parameters, {steps} steps more"
    try:
        _, again = _trajectory(lambda pg: cls(_groups(pg, lr), **kwargs), steps, restarts=2)
    except Exception as e:
        built = _structure_report(name, cls, lr, kwargs, again_case, verbose)
        return built if built is not None else _raised(name, e, verbose, again_case, context="optimizer")
    _, want2 = _trajectory(lambda pg: reference(_groups(pg, lr)), steps, restarts=2)
    if not same(again, want2):
        return _report(name, FAIL, "a second optimizer, built on the same parameters after the first had run, "
                       "does not start from zero state.", case=again_case + "; the first optimizer was right",
                       hint="your state (velocities, averages, step counts) outlives the optimizer: a class "
                            "attribute, a module-level dict or a mutable default is shared by every instance. "
                            "Keep it in `self.state[p]`, which each optimizer gets its own.", verbose=verbose)
    # gradients zeroed in place (zero_grad(set_to_none=False)) instead of set to None
    keep_case = case + "; the gradients cleared with `zero_grad(set_to_none=False)` (zeroed in place)"
    try:
        kept_opt, kept = _trajectory(lambda pg: cls(_groups(pg, lr), **kwargs), steps, keep_grads=True)
    except Exception as e:
        built = _structure_report(name, cls, lr, kwargs, keep_case, verbose)
        return built if built is not None else _raised(name, e, verbose, keep_case, context="optimizer")
    _, want_kept = _trajectory(lambda pg: reference(_groups(pg, lr)), steps, keep_grads=True)
    if not same(kept, want_kept):
        aliased = getattr(kept_opt, "_checker_aliased", False)
        return _report(name, FAIL, "your steps differ from torch.optim when the training loop zeroes the "
                       "gradients in place instead of setting them to None." if not aliased else
                       "your optimizer's state is the gradient tensor itself.", case=keep_case,
                       hint=_ALIAS_HINT if aliased else
                       "your update must not depend on whether `p.grad` is a new tensor at each step: copy what "
                       "you keep from it (`torch.zeros_like(p)`, then update that; or `p.grad.clone()`).",
                       verbose=verbose)
    # saved and resumed (the book's checkpoint chapter): the state must live where state_dict() finds it
    half = max(steps // 2, 1)
    resume_case = case + (f"; the optimizer saved with `state_dict()` after {half} steps and loaded into a new "
                          "one with `load_state_dict()` (a resumed run)")
    try:
        _, resumed = _trajectory(lambda pg: cls(_groups(pg, lr), **kwargs), steps, resume_at=half)
    except Exception as e:
        built = _structure_report(name, cls, lr, kwargs, resume_case, verbose)
        return built if built is not None else _raised(name, e, verbose, resume_case, context="optimizer")
    _, want_resumed = _trajectory(lambda pg: reference(_groups(pg, lr)), steps, resume_at=half)
    if not same(resumed, want_resumed):
        return _report(name, FAIL, "your optimizer loses its state when it is saved and loaded "
                       "(`state_dict()` / `load_state_dict()`): a resumed run restarts from zero state.",
                       case=resume_case,
                       hint="keep every per-parameter buffer (velocity, running averages, the step count t) in "
                            "`self.state[p]`: `state_dict()` saves only that (and the param_groups); a dict or "
                            "counter kept elsewhere on `self` (`self.buf`, `self.m`, `self.t`) is silently left "
                            "out of every checkpoint.", verbose=verbose)
    # the stub's defaults: `Adam(model.parameters())` must be torch's Adam with the stub's defaults
    if defaults:
        bad = _stub_signature_problem(cls, getattr(cls, "__name__", name), [("params", _NO_DEFAULT)]
                                      + list(defaults.items()),
                                      call=f"`{getattr(cls, '__name__', name)}(params)`, the hyper-parameters left out")
        if bad and "removed" in bad["headline"]:  # (changed defaults and order: told below / by the steps)
            return _report(name, FAIL, bad.pop("headline").replace("your function", "your `__init__`"),
                           verbose=verbose, **bad)
        differ = _stub_defaults_differ(cls, defaults)
        shown = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
        if differ:
            return _report(name, FAIL, f"your `__init__` changed the stub's defaults: {differ}.",
                           case=f"`{getattr(cls, '__name__', name)}(params)`, the hyper-parameters left out",
                           hint=f"keep the stub's signature, `(self, params, {shown})`: code that builds your "
                                "optimizer without naming a hyper-parameter gets its default.", verbose=verbose)
        flat = lambda pg: [p for g in pg for p in g["params"]]  # noqa: E731
        try:
            _, dflt = _trajectory(lambda pg: cls(flat(pg)), steps)
        except TypeError:
            dflt = None  # a signature without defaults: leaving a hyper-parameter out fails loudly, not silently
        except Exception as e:
            return _raised(name, e, verbose, f"`{getattr(cls, '__name__', name)}(params)`, every "
                                             "hyper-parameter left at its default", context="optimizer")
        if dflt is not None:
            _, want_d = _trajectory(lambda pg: default_reference(flat(pg)), steps)
            if not same(dflt, want_d):
                return _report(name, FAIL, "built with its defaults only, your optimizer does not use the stub's "
                               f"defaults ({shown}).",
                               case=f"`{getattr(cls, '__name__', name)}(params)`, {steps} steps",
                               hint="keep the stub's `__init__` as it is and pass its arguments on to "
                                    "`super().__init__(params, dict(...))` unchanged.", verbose=verbose)
    try:
        bad = _closure_problem(cls, kwargs, lr, case)
    except Exception as e:
        return _raised(name, e, verbose, case.split(";")[0] + "; then one step called as `opt.step(closure)`",
                       context="optimizer")
    if bad:
        return _report(name, FAIL, verbose=verbose, **bad)
    return _report(name, PASS, f"correct — identical to the torch.optim reference for {steps} steps "
                   "(two parameter groups, a parameter with a gradient on some steps only, one all-zero), also "
                   "with gradients zeroed in place and with the stub's defaults, and a second instance on the "
                   "same parameters starts afresh; `step(closure)` returns the closure's loss.", verbose=verbose)


_CLOSURE_HINT = ("follow torch's template: start `step` with `loss = None` and `if closure is not None:` "
                 "`with torch.enable_grad(): loss = closure()` (the closure recomputes the loss and its gradients; "
                 "optimizers such as L-BFGS call it several times per step), and end it with `return loss`.")


def _closure_problem(cls, kwargs, lr, case) -> dict | None:
    """None when ``opt.step(closure)`` calls the closure (with gradients enabled) and returns its loss, as every
    torch.optim optimizer does; else the report's headline, case and hint."""
    (W, b, unused), loss_fn = _opt_problem()
    case = case.split(";")[0] + "; then a fresh optimizer, one step called as `loss = opt.step(closure)`"
    calls = []

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        calls.append(loss)
        return loss

    try:
        opt = cls(_groups([{"params": [W, unused]}, {"params": [b], "lr_scale": 0.5}], lr), **kwargs)
        returned = opt.step(closure)
    except TypeError as e:
        if "closure" not in str(e) and "positional argument" not in str(e):
            raise
        return dict(headline="your `step` takes no `closure` argument.", case=case, hint=_CLOSURE_HINT)
    except RuntimeError as e:
        if "does not require grad" not in str(e):
            raise
        return dict(headline="your `step` calls the closure with autograd off (inside `@torch.no_grad()`), so "
                    "its `backward()` fails.", case=case, hint=_CLOSURE_HINT)
    if not calls:
        return dict(headline="your `step(closure)` ignores its closure: `opt.step(closure)` neither re-evaluates "
                    "the loss nor returns it.", case=case, hint=_CLOSURE_HINT)
    if returned is not calls[-1]:
        return dict(headline="your `step(closure)` calls the closure but does not return its loss.", case=case,
                    hint=_CLOSURE_HINT)
    return None


def _rule_momentum(sign=1.0, ema=False, plain=False, nesterov=False, p_first=False, lr_in_v=False,
                   old_beta_v=False):
    def rule(p, g, st, group):
        beta = group["momentum"]
        if lr_in_v:  # v ← βv + ηg; p ← p − v: torch's update only while lr is constant
            v = st.setdefault("v", torch.zeros_like(p))
            v.mul_(beta).add_(g, alpha=group["lr"])
            p.sub_(v)
            return
        if plain:
            p.add_(g, alpha=-group["lr"])
            return
        v = st.setdefault("v", torch.zeros_like(p))
        if p_first or old_beta_v:  # the step uses the old velocity (or β times it), then v is updated
            p.add_(v, alpha=-group["lr"] * (beta if old_beta_v else 1.0))
            v.mul_(beta).add_(g)
            return
        v.mul_(beta).add_(g, alpha=(1 - beta) if ema else 1.0)
        p.add_(g + beta * v if nesterov else v, alpha=-sign * group["lr"])
    return rule


def _fixed(rule, **values):
    """``rule`` with some hyper-parameters hard-coded (the stub's defaults), whatever the group says."""
    def wrapped(p, g, st, group):
        rule(p, g, st, {**group, **values})
    return wrapped


_HARD_CODED = ("your update uses the stub's default {what} whatever the optimizer was given: read it from "
               "`group[{key!r}]` (the checker uses values that differ from every default).")


_EPS_INSIDE = ("ε went inside the square root, √({v} + ε): that is not the formula above (the checker uses a "
               "large ε so that its place shows).")
_SHARED_T = ("the step count t of your bias correction is shared: one counter for the whole optimizer, advanced "
             "once per parameter it visits, so each parameter's t runs ahead of the number of steps that "
             "parameter has taken (t must be 1 at every parameter's first step).")


def _global_lr(rule, lr):
    def wrapped(p, g, st, group):
        rule(p, g, st, {**group, "lr": lr})
    return wrapped


def _frozen_lr(rule):
    """``rule`` with each parameter's lr read once, at its first step (a scheduler's later change is missed)."""
    def wrapped(p, g, st, group):
        lr0 = st.setdefault("_checker_lr0", {"lr": group["lr"]})["lr"]
        rule(p, g, st, {**group, "lr": lr0})
    for attr in ("on_group", "on_skip"):
        if hasattr(rule, attr):
            setattr(wrapped, attr, getattr(rule, attr))
    return wrapped


def _skips_zero(rule):
    """``rule`` that skips a parameter whose gradient is all zeros (torch still updates its state and moves it)."""
    def wrapped(p, g, st, group):
        if g.any():
            rule(p, g, st, group)
    for attr in ("on_group", "on_skip"):
        if hasattr(rule, attr):
            setattr(wrapped, attr, getattr(rule, attr))
    return wrapped


_SKIPS_ZERO = ("your step skipped a parameter whose gradient was all zeros: a zero gradient is still a gradient. "
               "Skip only `p.grad is None`; on a zero gradient the velocity / averages still decay and the "
               "parameter still moves with them.")
_FROZEN_LR = ("your update kept the learning rate it read first: it was right until the rates changed before "
              f"step {_LR_CHANGE_STEP + 1} (a scheduler changes `group['lr']` between steps). Read "
              "`group['lr']` afresh inside `step`, every time.")
_ONE_LR = ("every group used the same learning rate: read `group['lr']` inside the loop over "
           "`self.param_groups`, in every step.")


@_graded('check_momentum(Momentum)')
def check_momentum(cls, *, verbose: bool = True) -> CheckResult:
    """Grade SGD with momentum, ``cls(params, lr, momentum=0.9)``: v ← βv + g; p ← p − η v.

    Reference: ``torch.optim.SGD(params, lr, momentum=β, dampening=0)``.
    """
    lr, beta = 0.05, 0.7  # both differ from the stub's defaults (lr=0.01, momentum=0.9)
    mk = lambda rule: (lambda pg: _SimpleOpt(pg, lr, rule, momentum=beta))  # noqa: E731
    mistakes = [
        (mk(_fixed(_rule_momentum(), momentum=0.9)), _HARD_CODED.format(what="β = 0.9", key="momentum")),
        (mk(_rule_momentum(sign=-1.0)), "wrong sign: the step goes *against* the velocity, p ← p − η·v "
                                        "(you added it, which climbs the loss)."),
        (mk(_rule_momentum(plain=True)), "the velocity is never used — this is plain SGD. Keep v in "
                                         "`self.state[p]` and update it every step: v ← β·v + g."),
        (mk(_rule_momentum(ema=True)), "that is the EMA form v ← β·v + (1−β)·g (torch's dampening=β). The "
                                       "exercise uses torch's velocity form v ← β·v + g (dampening = 0)."),
        (mk(_rule_momentum(nesterov=True)), "that is the Nesterov variant; plain momentum steps with v itself."),
        (mk(_rule_momentum(p_first=True)), "the order is swapped: you moved the parameter with the old velocity "
                                           "and updated v afterwards (so the first step moved nothing). Update "
                                           "v ← β·v + g first, then step with the new v."),
        (mk(_rule_momentum(old_beta_v=True)), "your step uses β·v from before this step's update, without this "
                                              "step's gradient (so the first step moved nothing). Update "
                                              "v ← β·v + g first, then step with the new v."),
        (mk(_global_lr(_rule_momentum(), lr)), _ONE_LR),
        (mk(_frozen_lr(_rule_momentum())), _FROZEN_LR),
        (mk(_skips_zero(_rule_momentum())), _SKIPS_ZERO),
        (mk(_rule_momentum(lr_in_v=True)), "you folded the learning rate into the velocity (v ← β·v + η·g, then "
                                           "p ← p − v): that matches torch only while lr is constant; after the "
                                           f"rates changed before step {_LR_CHANGE_STEP + 1} (as a scheduler "
                                           "does) your velocity still carries the old rate. Keep lr out of v, as "
                                           "in the formula above, and apply the current lr in the step."),
    ]
    return _optimizer_check("momentum", cls, kwargs=dict(lr=lr, momentum=beta),
                            reference=lambda pg: torch.optim.SGD(pg, lr=lr, momentum=beta, dampening=0),
                            mistakes=mistakes, verbose=verbose, defaults=dict(lr=0.01, momentum=0.9),
                            default_reference=lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9))


def _rule_rmsprop(eps_inside=False, swapped=False, no_square=False, no_sqrt=False, abs_g=False, init_g2=False,
                  corrected=False, no_g=False):
    def rule(p, g, st, group):
        a, eps = group["alpha"], group["eps"]
        gg = g.abs() if abs_g else g if no_square else g * g
        if init_g2 and "v" not in st:
            st["v"] = gg.clone()
        v = st.setdefault("v", torch.zeros_like(p))
        st["t"] = st.get("t", 0) + 1
        if swapped:
            v.mul_(1 - a).add_(gg, alpha=a)
        else:
            v.mul_(a).add_(gg, alpha=1 - a)
        v_used = v / (1 - a ** st["t"]) if corrected else v
        denom = v_used + eps if no_sqrt else ((v_used + eps).sqrt() if eps_inside else v_used.sqrt() + eps)
        p.addcdiv_(torch.ones_like(g) if no_g else g, denom, value=-group["lr"])
    return rule


def _flipped(rule):
    """``rule`` with its step taken the other way (added to p instead of subtracted)."""
    def wrapped(p, g, st, group):
        before = p.clone()
        rule(p, g, st, group)
        p.copy_(2 * before - p)
    return wrapped


def _plain_sgd(p, g, st, group):
    p.sub_(group["lr"] * g)


_WRONG_SIGN = ("wrong sign: your step goes *up* the gradient (you added the update to p), which climbs the loss; "
               "the parameter moves against the gradient.")
_PLAIN_SGD = ("your update is plain SGD, p ← p − η·g: the running average of this optimizer is not used in the step "
              "(keep it in `self.state[p]`, update it every step, and use it as the formula above does).")


@_graded('check_rmsprop(RMSProp)')
def check_rmsprop(cls, *, verbose: bool = True) -> CheckResult:
    """Grade RMSProp, ``cls(params, lr, alpha=0.99, eps=1e-8)``: v ← αv + (1−α)g²; p ← p − η g/(√v + ε).

    Reference: ``torch.optim.RMSprop(params, lr, alpha, eps)`` (checked with a large eps so its place shows).
    """
    lr, alpha, eps = 0.02, 0.9, 1e-2  # all differ from the stub's defaults (0.01, 0.99, 1e-8)
    mk = lambda rule: (lambda pg: _SimpleOpt(pg, lr, rule, alpha=alpha, eps=eps))  # noqa: E731
    mistakes = [
        (mk(_fixed(_rule_rmsprop(), alpha=0.99)), _HARD_CODED.format(what="α = 0.99", key="alpha")),
        (mk(_fixed(_rule_rmsprop(), eps=1e-8)), _HARD_CODED.format(what="ε = 1e-8", key="eps")),
        (mk(_rule_rmsprop(eps_inside=True)), _EPS_INSIDE.format(v="v")),
        (mk(_rule_rmsprop(swapped=True)), "α and 1−α are swapped: v ← α·v + (1−α)·g² keeps most of the old average."),
        (mk(_rule_rmsprop(no_square=True)), "average the *squared* gradient: v ← α·v + (1−α)·g²."),
        (mk(_rule_rmsprop(no_sqrt=True)), "divide by the root mean square: g/(√v + ε), not g/(v + ε)."),
        (mk(_flipped(_rule_rmsprop())), _WRONG_SIGN),
        (mk(_plain_sgd), _PLAIN_SGD),
        (mk(_rule_rmsprop(abs_g=True)), "v averages |g|, the gradient's magnitude: RMSProp averages its square."),
        (mk(_rule_rmsprop(init_g2=True)), "your v starts at the first step's g²: it starts at 0 (a zero tensor), "
                                          "and the first update averages g² into it."),
        (mk(_rule_rmsprop(corrected=True)), "you bias-corrected v, as Adam does: RMSProp uses v as it is."),
        (mk(_rule_rmsprop(no_g=True)), "the gradient is missing from the step's numerator: your step is lr/(√v + ε) "
                                       "whatever g is, so it neither follows the gradient's sign nor its size."),
        (mk(_global_lr(_rule_rmsprop(), lr)), _ONE_LR),
        (mk(_frozen_lr(_rule_rmsprop())), _FROZEN_LR),
    ]
    return _optimizer_check("rmsprop", cls, kwargs=dict(lr=lr, alpha=alpha, eps=eps),
                            reference=lambda pg: torch.optim.RMSprop(pg, lr=lr, alpha=alpha, eps=eps),
                            mistakes=mistakes, verbose=verbose, defaults=dict(lr=0.01, alpha=0.99, eps=1e-8),
                            default_reference=lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.99, eps=1e-8))


def _rule_adam(correct_m=True, correct_v=True, eps_inside=False, swapped=False, no_square=False, t_offset=0,
               eps_hat=False, shared_t=None, corrections_swapped=False, numer_g=False):
    """Adam, or one of its typical mistakes.  ``eps_hat``: the paper's "efficient" form, the corrections folded
    into the rate, lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε̂) with ε̂ = ε.  ``shared_t``: one step counter for the whole
    optimizer, advanced for every parameter updated (``"updated"``) or for every parameter, before the skip of
    those without gradient (``"all"``), instead of one per parameter."""
    counter, group_t = [0], {}

    def rule(p, g, st, group):
        b1, b2 = group["betas"]
        if swapped:
            b1, b2 = b2, b1
        eps = group["eps"]
        st["t"] = st.get("t", 0) + 1
        m = st.setdefault("m", torch.zeros_like(p))
        v = st.setdefault("v", torch.zeros_like(p))
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).add_(g if no_square else g * g, alpha=1 - b2)
        t = st["t"] + t_offset
        if shared_t == "group":
            t = group_t[id(group)]
        elif shared_t:
            counter[0] += 1
            t = counter[0]
        if eps_hat:
            p.addcdiv_(m, v.sqrt() + eps, value=-group["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t))
            return
        c1, c2 = (1 - b2 ** t, 1 - b1 ** t) if corrections_swapped else (1 - b1 ** t, 1 - b2 ** t)
        m_hat = (g if numer_g else m / c1) if correct_m else m
        v_hat = v / c2 if correct_v else v
        denom = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
        p.addcdiv_(m_hat, denom, value=-group["lr"])

    def on_group(group):
        group_t[id(group)] = group_t.get(id(group), 0) + 1

    def on_skip():
        counter[0] += 1 if shared_t == "all" else 0
    if shared_t == "group":
        rule.on_group = on_group
    if shared_t == "all":
        rule.on_skip = on_skip
    return rule


@_graded('check_adam(Adam)')
def check_adam(cls, *, verbose: bool = True) -> CheckResult:
    """Grade Adam, ``cls(params, lr, betas=(0.9, 0.999), eps=1e-8)``, with bias correction.

    m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; m̂ = m/(1−β₁ᵗ); v̂ = v/(1−β₂ᵗ); p ← p − η m̂/(√v̂ + ε).
    Reference: ``torch.optim.Adam`` (checked with a large eps so its place shows).
    """
    lr, betas, eps = 0.01, (0.8, 0.95), 1e-3  # all differ from the stub's defaults (1e-3, (0.9, 0.999), 1e-8)
    mk = lambda rule: (lambda pg: _SimpleOpt(pg, lr, rule, betas=betas, eps=eps))  # noqa: E731
    mistakes = [
        (mk(_fixed(_rule_adam(), betas=(0.9, 0.999))), _HARD_CODED.format(what="β₁, β₂ = 0.9, 0.999", key="betas")),
        (mk(_fixed(_rule_adam(), eps=1e-8)), _HARD_CODED.format(what="ε = 1e-8", key="eps")),
        (mk(_rule_adam(correct_m=False, correct_v=False)),
         "no bias correction: m and v start at 0, so early on they are too small. Divide by (1 − β₁ᵗ) and "
         "(1 − β₂ᵗ), with t counting this parameter's steps from 1."),
        (mk(_rule_adam(correct_v=False)), "only m was bias-corrected; v̂ = v/(1 − β₂ᵗ) needs it too."),
        (mk(_rule_adam(correct_m=False)), "only v was bias-corrected; m̂ = m/(1 − β₁ᵗ) needs it too."),
        (mk(_rule_adam(eps_inside=True)), _EPS_INSIDE.format(v="v̂")),
        (mk(_rule_adam(eps_hat=True)),
         "you folded the bias corrections into the rate, the paper's 'ε̂' form lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε̂): "
         "there ε is added to the uncorrected √v, so it is not the same ε as in the formula above. The two "
         "agree only while ε is negligible, and the checker uses ε = 1e-3 so that its place shows."),
        (mk(_rule_adam(shared_t="updated")), _SHARED_T),
        (mk(_rule_adam(shared_t="all")), _SHARED_T),
        (mk(_rule_adam(shared_t="group")),
         "your step count t advances once per step for a whole parameter group (or the whole optimizer): "
         "torch counts each parameter's own steps, so a parameter that had no gradient on some steps has a "
         "smaller t (1 at its first update). Keep t in `self.state[p]`."),
        (mk(_rule_adam(swapped=True)), "β₁ and β₂ are swapped: β₁ (0.9) averages the gradient, β₂ (0.999) its square."),
        (mk(_rule_adam(no_square=True)), "v averages the *squared* gradient: v ← β₂·v + (1−β₂)·g²."),
        (mk(_flipped(_rule_adam())), _WRONG_SIGN),
        (mk(_rule_adam(corrections_swapped=True)), "the two bias corrections are swapped: each average is corrected "
                                                   "with the β it was averaged with."),
        (mk(_rule_adam(numer_g=True)), "the numerator of your step is the raw gradient g: Adam steps with the "
                                       "(bias-corrected) running average of the gradient, m̂."),
        (mk(_global_lr(_rule_adam(), lr)), _ONE_LR),
        (mk(_frozen_lr(_rule_adam())), _FROZEN_LR),
        (mk(_skips_zero(_rule_adam())), _SKIPS_ZERO),
        (mk(_rule_adam(t_offset=1)), "the bias correction counts t from 2: t is 1 at the first step (increment "
                                     "the count *before* using it, or start it at 0 and add 1 first)."),
        (mk(_rule_adam(t_offset=-1)), _T_FROM_0),
    ]
    return _optimizer_check("adam", cls, kwargs=dict(lr=lr, betas=betas, eps=eps),
                            reference=lambda pg: torch.optim.Adam(pg, lr=lr, betas=betas, eps=eps),
                            mistakes=mistakes, verbose=verbose, nan_hint=_T_FROM_0,
                            defaults=dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8),
                            default_reference=lambda ps: torch.optim.Adam(ps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8))


_T_FROM_0 = ("the parameters became NaN at the first step: the bias correction used t = 0, and 1 − β⁰ = 0 "
             "divides by zero. t counts this parameter's steps from 1: increment it before the correction.")


# ----------------------------------------------------------------------------- predict, then run
#: the prediction task: Adam's first step on a loss 1000·w₁ + 0.001·w₂ (gradients a million times apart)
FIRST_STEP = dict(lr=0.01, grads=(1000.0, 0.001))


def adam_first_step(*, lr: float = 0.01, grads=(1000.0, 0.001), betas=(0.9, 0.999), eps: float = 1e-8) -> np.ndarray:
    """How far each parameter moves in the first step of ``torch.optim.Adam`` on the linear loss
    Σ gᵢ·wᵢ (constant gradients ``grads``), from w = 0: the absolute change of each parameter."""
    w = torch.zeros(len(grads), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr, betas=betas, eps=eps)
    (torch.tensor(grads, dtype=torch.float64) * w).sum().backward()
    opt.step()
    return w.detach().abs().numpy()


def _pair(answer):
    """``(a, b, None)`` for two real numbers (a tuple, list, array or tensor of two), else ``(None, None, why)``."""
    if isinstance(answer, torch.Tensor):
        answer = answer.detach().flatten().tolist()
    elif isinstance(answer, np.ndarray):
        answer = answer.flatten().tolist()
    elif isinstance(answer, (tuple, list)) and all(isinstance(x, (tuple, list)) and len(x) == 1 for x in answer):
        answer = [x[0] for x in answer]  # [[0.01], [0.01]]: one number per parameter, as a column
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        what = "one number" if _as_number(answer)[1] is None else _describe(answer)
        return None, None, f"expected two numbers, one per parameter, got {what}."
    values = []
    for x in answer:
        v, why = _as_number(x)
        if why:
            return None, None, why
        values.append(v)
    return values[0], values[1], None


@_graded('check_adam_first_step(first_step)', name="predict: Adam's first step")
def check_adam_first_step(answer, *, verbose: bool = True) -> CheckResult:
    """Grade a *prediction*: how far do w₁ and w₂ move in Adam's first step (lr = 0.01) when their gradients
    are 1000 and 0.001?  Checked against ``torch.optim.Adam`` (:func:`adam_first_step`), within 2 %; the
    distances may be given with the step's sign (−0.01) or without."""
    name = "predict: Adam's first step"
    lr, (g1, g2) = FIRST_STEP["lr"], FIRST_STEP["grads"]
    if answer is None or answer is ...:
        return _report(name, TODO, "not yet — set `first_step` to your prediction, two numbers, and run the cell "
                       "again.", verbose=verbose)
    a, b, why = _pair(answer)
    if why:
        return _report(name, FAIL, why, hint="write `first_step = (distance moved by w1, distance moved by w2)`.",
                       verbose=verbose)
    with np.errstate(all="ignore"), warnings.catch_warnings():  # a huge or tiny answer: no numpy warning
        warnings.simplefilter("ignore")
        return _judge_first_step(name, a, b, verbose)


def _judge_first_step(name, a, b, verbose) -> CheckResult:
    lr, (g1, g2) = FIRST_STEP["lr"], FIRST_STEP["grads"]
    got = np.abs([a, b])
    want = adam_first_step(**FIRST_STEP)
    ok = np.abs(got / want - 1) <= 0.02
    if ok.all():
        return _report(name, PASS, f"right — torch's Adam moves w1 by {want[0]:.6g} and w2 by {want[1]:.6g}.",
                       details=["at t = 1, the corrected m̂ = g and v̂ = g², so the step is lr·g/(|g| + ε) ≈ lr for "
                                "every parameter: the first step ignores the gradient's size (only its sign "
                                "counts): Adam's learning rate sets the size of a step in the parameters' own units."],
                       verbose=verbose)
    close = lambda x, y: abs(x / y - 1) <= 0.02 if y else x == 0  # noqa: E731
    c1, c2 = 1 - 0.9, 1 - 0.999
    if close(got[0], lr * g1) or close(got[1], lr * g2):
        hint = ("that is plain SGD's step, lr·g. Adam divides the (averaged) gradient by the root of the "
                "(averaged) squared gradient of the same parameter.")
    elif close(got[0], lr * c1 / math.sqrt(c2)) or close(got[1], lr * c1 / math.sqrt(c2)):
        hint = ("you left out the bias correction: m and v start at 0, so after one step they hold only (1 − β₁) "
                "and (1 − β₂) of g and g². What do the corrections make of them?")
    elif close(got[0], 1e-3) and close(got[1], adam_first_step(**{**FIRST_STEP, "lr": 1e-3})[1]):
        # Adam's default lr with the right rule, or lr = 0.01 without m's bias correction: the same numbers
        hint = ("these are the distances that Adam's default lr = 0.001 gives, and the task sets lr = "
                f"{lr:g}; if you did use {lr:g}, one of the two bias corrections is missing: "
                "what do m̂ and v̂ hold after one step (t = 1)?")
    elif close(got[0], lr / math.sqrt(c2)) or close(got[0], lr * c1):
        hint = "one of the two bias corrections is missing: m̂ = m/(1 − β₁ᵗ) and v̂ = v/(1 − β₂ᵗ) both apply."
    elif ok[0] and not ok[1]:
        hint = ("w1 is right. w2's gradient is a million times smaller, but Adam scales each parameter by its own "
                "√v̂: compare |g| with ε = 1e-8.")
    elif ok[1] and not ok[0]:
        hint = "w2 is right; apply the same rule to w1, whose gradient is large."
    else:
        hint = "write out m̂ and v̂ after one step (t = 1) for a constant gradient g, then the update lr·m̂/(√v̂ + ε)."
    wrong = " and ".join(f"w{i + 1}" for i in range(2) if not ok[i])
    return _report(name, FAIL, f"the run disagrees about {wrong}.", hint=hint, verbose=verbose)


# The surfaces themselves have one home, course_utils.surfaces (shared with the chapters and the explorer).
pathological_curvature = _surfaces.pathological_curvature
steep_optima = _surfaces.steep_optima


#: surface name -> (function, default start, x range, y range, default learning rates per optimizer).
#: The rates are the sources' settings; momentum's is torch's velocity form v <- beta v + g, which takes
#: the sources' averaging-form steps (m <- beta m + (1 - beta) g at 1/(1 - beta) times the rate) at
#: beta = 0.9: torch's 1 and 0.1 are the sources' 10 and 1.
SURFACE_SETUPS = {
    "pathological curvature": dict(fn=pathological_curvature, start=(5.0, 5.0), x_range=(-5, 5), y_range=(-5, 5),
                                   steps=100, lrs={"SGD": 10.0, "SGD + momentum": 1.0, "Adam": 1.0}),
    "steep optima": dict(fn=steep_optima, start=(0.0, 0.0), x_range=(-2, 2), y_range=(-2, 2),
                         steps=100, lrs={"SGD": 0.5, "SGD + momentum": 0.1, "Adam": 0.2}),
}


class _NotAnOptimizer(TypeError):
    """The learner's maker returned something that cannot step (None: a forgotten ``return``)."""


def surface_trajectory(surface: Callable, make_optimizer: Callable, start=(5.0, 5.0), steps: int = 100) -> np.ndarray:
    """Points visited by ``make_optimizer([w])`` minimising ``surface(w1, w2)`` from ``start``: ``(steps+1, 2)``."""
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = make_optimizer([w])
    if not (callable(getattr(opt, "zero_grad", None)) and callable(getattr(opt, "step", None))):
        raise _NotAnOptimizer(f"the function that builds it returned {_describe(opt)}, not an optimizer.")
    pts = [w.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        surface(w[0], w[1]).backward()
        opt.step()
        pts.append(w.detach().numpy().copy())
    return np.array(pts)


def plot_surface(surface: Callable, trajectories: dict, *, x_range=(-5, 5), y_range=(-5, 5), ax=None, title=None):
    """Filled contours of ``surface`` with the optimizers' paths on top."""
    import matplotlib.pyplot as plt

    from .. import plotting

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.8))
    xs, ys = np.linspace(*x_range, 200), np.linspace(*y_range, 200)
    X, Y = np.meshgrid(xs, ys)
    Z = surface(torch.from_numpy(X), torch.from_numpy(Y)).numpy()
    cs = ax.contourf(X, Y, Z, levels=40, cmap="viridis")
    ax.figure.colorbar(cs, ax=ax, label="loss")
    styles = plotting.series_styles(list(trajectories))  # colour, line style and marker per path
    for label, pts in trajectories.items():
        pts = np.clip(pts, [x_range[0] - 1, y_range[0] - 1], [x_range[1] + 1, y_range[1] + 1])
        ax.plot(pts[:, 0], pts[:, 1], label=label, **{"lw": 1.2, **styles[label]})
    ax.set(xlim=x_range, ylim=y_range, xlabel="$w_1$", ylabel="$w_2$", title=title or "Loss surface")
    plotting.legend_outside(ax)  # under the panel, off the surface and the paths
    return ax


def _path_window(paths: dict, x_range, y_range, margin: float = 0.5, most: float = 4.0):
    """The surface's own window widened to hold every path (``margin`` beyond its extremes), so the plot shows
    where each path ends; a path that runs off (non-finite or far out) widens it by at most ``most`` spans."""
    window = []
    for i, (lo0, hi0) in enumerate((x_range, y_range)):
        lo, hi, span = lo0, hi0, hi0 - lo0
        vals = np.concatenate([np.asarray(p, dtype=float)[:, i] for p in paths.values()]) if paths else np.empty(0)
        vals = vals[np.isfinite(vals)]
        if vals.size:
            lo, hi = min(lo, float(vals.min()) - margin), max(hi, float(vals.max()) + margin)
        window.append((max(lo, lo0 - most * span), min(hi, hi0 + most * span)))
    return tuple(window)


def _default_makers():
    return {"SGD": lambda p, lr, b1, b2: torch.optim.SGD(p, lr=lr),
            "SGD + momentum": lambda p, lr, b1, b2: torch.optim.SGD(p, lr=lr, momentum=b1),
            "Adam": lambda p, lr, b1, b2: torch.optim.Adam(p, lr=lr, betas=(b1, b2))}


def surface_explorer(optimizers: dict | None = None) -> None:
    """Sliders (surface, learning-rate multiplier, β₁, β₂, start point, steps) redrawing the paths.

    ``optimizers`` maps a label to ``(params, lr, beta1, beta2) -> optimizer``; the default is
    torch's SGD, SGD + momentum and Adam.  Each optimizer starts from the learning rate the
    sources give for it on that surface (times the slider's multiplier; an optimizer of the learner's
    uses the momentum/Adam value that matches its label, else Adam's).  For momentum that number runs
    torch's velocity form, which equals the sources' averaging form at ``1/(1 - beta1)`` times the rate:
    a momentum path's label gives both.  The plot's window is the surface's own range, widened to show where
    every path ends.  Choosing a surface moves
    the start sliders to that surface's own start point and range (the paths start there until
    the learner moves them).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    makers = optimizers or _default_makers()
    moving_start = [False]  # True while the start sliders follow a newly chosen surface

    def draw(surface="pathological curvature", lr_mult=1.0, beta1=0.9, beta2=0.999, start_w1=None, start_w2=None,
             steps=100):
        if moving_start[0]:
            return  # the surface's own redraw follows, with both start coordinates in place
        spec = SURFACE_SETUPS[surface]
        start = (spec["start"][0] if start_w1 is None else start_w1, spec["start"][1] if start_w2 is None else start_w2)
        paths = {}
        for label, make in makers.items():
            matches = [k for k in spec["lrs"] if k.lower() in label.lower()]  # the longest name that fits
            base = spec["lrs"][max(matches, key=len)] if matches else spec["lrs"]["Adam"]
            rate = f"lr {base * lr_mult:.3g}"
            if "momentum" in label.lower() and beta1 < 1:  # torch's velocity form; the sources' averaging form
                rate += f" = averaging form's {base * lr_mult / (1 - beta1):.3g}"
            try:
                paths[f"{label} ({rate})"] = surface_trajectory(
                    spec["fn"], lambda p: make(p, base * lr_mult, beta1, beta2), start, steps)
            except NotImplementedError:
                _say(TODO, f"{label}: not yet implemented — fill it in to see its path.")
            except _NotAnOptimizer as e:
                _say(FAIL, f"{label} (left out of the plot): {e}\n   hint:     the function for {label!r} must "
                     "return the optimizer it builds, `return YourOptimizer(params, lr=lr, ...)`: a function "
                     "without `return` gives None.")
            except Exception as e:  # the learner's optimizer: report it and draw the other paths
                _say_raised(f"{label} (left out of the plot)", e, context="optimizer")
        fig, ax = plt.subplots(figsize=(6.4, 5))
        x_view, y_view = _path_window(paths, spec["x_range"], spec["y_range"])  # wide enough to show the ends
        plot_surface(spec["fn"], paths, x_range=x_view, y_range=y_view, ax=ax,
                     title=f"{surface}: {steps} steps from ({start[0]:.2g}, {start[1]:.2g})")
        plt.show()

    first = SURFACE_SETUPS[next(iter(SURFACE_SETUPS))]
    surface = widgets.Dropdown(options=list(SURFACE_SETUPS), description="surface")
    starts = [widgets.FloatSlider(value=first["start"][i], min=rng[0], max=rng[1], step=0.1,
                                  description=f"start w{'₁₂'[i]}", continuous_update=False)
              for i, rng in enumerate((first["x_range"], first["y_range"]))]

    def follow_surface(change):
        """Move the start sliders to the new surface's start and range (observed before the redraw)."""
        spec = SURFACE_SETUPS[change["new"]]
        moving_start[0] = True
        try:
            for slider, (lo, hi), value in zip(starts, (spec["x_range"], spec["y_range"]), spec["start"]):
                slider.min, slider.max = min(lo, slider.min), max(hi, slider.max)  # widen, move, then narrow
                slider.value = value
                slider.min, slider.max = lo, hi
        finally:
            moving_start[0] = False

    surface.observe(follow_surface, names="value")  # registered first, so it runs before interactive's redraw
    _show(widgets.interactive(
        draw, surface=surface,
        lr_mult=widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.1, description="lr ×",
                                       continuous_update=False),
        beta1=widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="β₁ / momentum",
                                  continuous_update=False),
        beta2=widgets.FloatSlider(value=0.999, min=0.9, max=0.9999, step=0.0005, readout_format=".4f",
                                  description="β₂", continuous_update=False),
        start_w1=starts[0], start_w2=starts[1],
        steps=widgets.IntSlider(value=100, min=10, max=300, step=10, description="steps", continuous_update=False)))
