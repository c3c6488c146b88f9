"""Exercises 01 — initialization: the backward-pass condition, Xavier and Kaiming init, the variance slider."""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numbers

import numpy as np
import torch
from torch import nn

from ._core import (_NO_DEFAULT, _signature_report, CheckResult, FAIL, PASS, TODO, _as_number, _describe, _not_a_function, _not_callable, _not_yet,
                    _num_text,
                    _one_thread, _raised, _report, _say, _say_raised, _show)
from ._core import _graded


def measure_backward_ratio(var_w: float, d_x: int, d_y: int, *, n: int = 2048, seed: int = 0) -> float:
    """Var(∂L/∂x) / Var(∂L/∂y) through ``y = W x`` with ``W ~ N(0, var_w)`` of shape ``(d_y, d_x)``.

    The backward pass computes ``∂L/∂x = Wᵀ ∂L/∂y``: each input gradient sums ``d_y``
    terms, so the ratio is ``d_y · var_w`` (up to sampling noise).
    """
    value, _ = _as_number(var_w, low=0)  # a Python, NumPy or one-element torch number
    if value is None:
        raise ValueError(f"var_w must be a finite number >= 0, got {var_w!r}.")
    var_w = value
    if d_x <= 0 or d_y <= 0:
        raise ValueError(f"d_x and d_y must be positive, got d_x={d_x}, d_y={d_y}.")
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(d_y, d_x, generator=g, dtype=torch.float64) * math.sqrt(var_w)  # (d_y, d_x)
    grad_y = torch.randn(n, d_y, generator=g, dtype=torch.float64)                     # (n, d_y)
    grad_x = grad_y @ W                                                                 # (n, d_x)
    return float(grad_x.var() / grad_y.var())


#: four layers; a wrong formula is named only when it matches on every one of them, since on a single layer
#: two mistakes can coincide (at 512 × 128, √(d_x·d_y) = d_x/2; at a square layer most formulas agree).  On the
#: last, 784 × 32, every formula of ``_BACKWARD_MISTAKES`` and the right one give distinct values.
_BACKWARD_CASES = ((512, 128), (100, 400), (256, 256), (784, 32))
_BACKWARD_MISTAKES = (
    (lambda dx, dy: 1 / dx, "that is the forward-pass condition. Going backward, ∂L/∂x_j = Σ_i W_ij ∂L/∂y_i: "
                            "count the terms of *that* sum."),
    (lambda dx, dy: 2 / (dx + dy), "that is Glorot's compromise between the two conditions; the question asks "
                                   "for the backward condition alone."),
    (lambda dx, dy: 2 / dy, "the factor 2 belongs to ReLU (it halves the signal); the layer here is linear."),
    (lambda dx, dy: 2 / dx, "the factor 2 belongs to ReLU (Kaiming's forward rule); the layer here is linear, and "
                            "the backward pass sums over the d_y outputs."),
    (lambda dx, dy: float(dy), "your variance grows with the layer's size, so the gradient grows at every "
                               "layer; the variance of a sum grows with its number of terms, so W's must "
                               "do the opposite."),
    (lambda dx, dy: float(dx), "your variance grows with the layer's size, and it counts the inputs; the "
                               "variance of a sum grows with its number of terms, so W's must do the opposite."),
    (lambda dx, dy: 1 / math.sqrt(dy), "your formula has a square root: that is the scale of a standard "
                                       "deviation, and the question asks for Var(W) (variances of independent "
                                       "terms add without roots)."),
    (lambda dx, dy: 1 / math.sqrt(dx), "your formula has a square root (a standard deviation's scale), and it "
                                       "counts the inputs: the question asks for Var(W) in the backward pass."),
    (lambda dx, dy: 1 / (dx * dy), "the backward sum has d_y terms, not d_x·d_y: each ∂L/∂x_j collects one "
                                   "term per output."),
    (lambda dx, dy: 1 / dy ** 2, "the variance of a sum of d_y independent terms is d_y times the variance of "
                                 "one term (not d_y²)."),
    (lambda dx, dy: 1 / math.sqrt(dx * dy), "your formula takes both sizes under a square root, √(d_x·d_y): the "
                                            "backward sum runs over the outputs only (count its terms), and a "
                                            "variance needs no root (variances of independent terms add)."),
    (lambda dx, dy: 1 / (dx + dy), "your formula counts d_x + d_y terms (Glorot's compromise, and without its "
                                   "factor 2); the backward sum ∂L/∂x_j = Σ_i W_ij ∂L/∂y_i has one term per "
                                   "output only."),
    (lambda dx, dy: math.sqrt(2 / (dx + dy)), "that is the standard deviation of Glorot's compromise; the "
                                              "question asks for Var(W) of the backward condition alone."),
)


def _apart_from_one(x: float) -> str:
    """``x`` with enough decimals not to print as 1 (0.9961 rather than 1.000), three at least; a number far from
    1 (≥ 10⁴, below 10⁻³, not finite) in four significant digits (1.28e+302, not its 300 digits)."""
    if not math.isfinite(x) or abs(x) >= 1e4 or 0 < abs(x) < 1e-3:
        return f"{x:.4g}"
    for d in range(3, 8):
        text = f"{x:.{d}f}"
        if float(text) != 1.0:
            return text
    return f"{x:.8f}"


def _close(a: float, b: float, rel: float = 1e-6) -> bool:
    return abs(a - b) <= rel * abs(b)


@_graded('check_backward_condition(backward_var)', name="backward condition")
def check_backward_condition(answer, *, verbose: bool = True) -> CheckResult:
    """Grade the backward-pass variance condition Var(W) = 1/d_y.

    ``answer`` is a function ``(d_x, d_y) -> Var(W)`` (the notebook's ``backward_var``); a number is
    refused, since the condition is a formula in the layer's sizes, not one layer's value.  The check
    also pushes unit-variance gradients back through a random layer with the learner's variance and
    reports the ratio.  The expected value itself is never printed before the answer is right.
    """
    name = "backward condition"
    if (isinstance(answer, numbers.Real) and not isinstance(answer, bool)) or (
            isinstance(answer, torch.Tensor) and answer.numel() == 1):
        return _report(name, FAIL, "expected a function of the layer sizes, got a number.",
                       hint="the condition must hold for every layer, so write it as a formula: pass your "
                            "function `backward_var` itself (no parentheses), `def backward_var(d_x, d_y): "
                            "return …` in terms of d_x and d_y.", verbose=verbose)
    if _not_a_function(answer):
        return _not_callable(name, answer, "a function (d_x, d_y) -> Var(W)", verbose)
    bad = _signature_report(name, answer, "backward_var", [("d_x", _NO_DEFAULT), ("d_y", _NO_DEFAULT)], verbose)
    if bad is not None:
        return bad
    fn, cases = answer, _BACKWARD_CASES
    values, raw = [], []
    for d_x, d_y in cases:
        case = f"layer with d_x={d_x} inputs and d_y={d_y} outputs"
        try:
            got = fn(d_x, d_y)
            raw.append(got)
        except NotImplementedError:
            return _not_yet(name, getattr(answer, "__name__", "answer"), verbose)
        except Exception as e:  # the learner's code: report, never raise
            return _raised(name, e, verbose, case)
        v, why = _as_number(got)
        if why:
            return _report(name, FAIL, "the answer is not a number.", case=case, got=_describe(got),
                           hint=f"{why} Return a Python float, a formula in d_x and d_y.", verbose=verbose)
        if v < 0:
            return _report(name, FAIL, "a variance must be a finite number ≥ 0.", case=case, got=f"{v}",
                           hint="the answer is a positive fraction of 1/d_x or 1/d_y.", verbose=verbose)
        values.append(v)
    wrong = [k for k, ((d_x, d_y), got) in enumerate(zip(cases, values)) if not _close(got, 1 / d_y)]
    if wrong:
        (d_x, d_y), got = cases[wrong[0]], values[wrong[0]]
        want = 1 / d_y
        case = f"layer with d_x={d_x} inputs and d_y={d_y} outputs"
        ratio = measure_backward_ratio(got, d_x, d_y)
        # a mistake is named only when the function agrees with it on every layer (on one layer two can coincide)
        hint = next((h for f, h in _BACKWARD_MISTAKES
                     if all(_close(v, f(dx, dy)) for v, (dx, dy) in zip(values, cases))), None)
        if hint is None and all(_close(x, values[0]) for x in values):
            hint = ("your function returns the same number for every layer: it must depend on the layer's "
                    "size (a formula in d_x and d_y).")
        near = abs(d_y * got - 1) < 0.05  # closer than one random layer's measurement can show
        rounded = [r for r in raw if isinstance(r, torch.Tensor) and r.dtype in (torch.float16, torch.bfloat16)]
        if hint is None and rounded and all(abs(v * dy - 1) < 4e-3 for v, (dx, dy) in zip(values, cases)):
            hint = (f"your formula looks right, but you return a {str(rounded[0].dtype).replace('torch.', '')} "
                    "tensor, which keeps only about 3 significant digits: the rounding is the whole difference. "
                    "Return a Python float (or a float32/float64 value).")
        if hint is None and near:
            hint = ("your formula is close but not exact: it is off by a small term (a size counted one too "
                    "many or too few, or an extra constant). The condition is exact: count the terms of "
                    "∂L/∂x_j = Σ_i W_ij ∂L/∂y_i.")
        if hint is None:
            hint = ("write Var(∂L/∂x_j) as a sum of d_y independent products W_ij·∂L/∂y_i and ask when it "
                    "equals Var(∂L/∂y).")
        direction = "too large: the gradient grows" if got > want else "too small: the gradient shrinks"
        theory = f"in theory d_y·Var(W) = {_apart_from_one(d_y * got)} (your variance is {direction})"
        detail = (f"measured: one random layer gives {ratio:.3f}, too close to 1 to show the gap; {theory}, "
                  f"off by {100 * abs(d_y * got - 1):.2g} %, which compounds over depth (the condition is exact)"
                  if near else
                  f"measured: with your Var(W) a unit-variance gradient leaves the layer with variance "
                  f"{_apart_from_one(ratio)} instead of ≈ 1; {theory}")
        return _report(name, FAIL, "that variance does not keep the gradient variance constant.", case=case,
                       got=f"Var(W) = {got:.6g}", details=[detail], hint=hint, verbose=verbose)
    d_x, d_y = cases[0]
    ratio = measure_backward_ratio(1 / d_y, d_x, d_y)
    return _report(name, PASS, f"correct — Var(W) = 1/d_y. Measured on a random {d_y}×{d_x} layer: "
                   f"Var(∂L/∂x)/Var(∂L/∂y) = {ratio:.3f} (≈ 1).", verbose=verbose)


_INIT_CASES = ((64, 1024), (1024, 64), (300, 300), (200, 500))
#: a small layer, drawn many times and pooled: with fans of 3 and 8, a fan off by one (a bias counted)
#: moves the variance by 8–14 %, far beyond the sampling error of 48,000 draws (≈ 0.6 %)
_SMALL_SHAPE, _SMALL_REPS = (3, 8), 2000


def _off_by_one(var_of, n):
    """Hint candidates for a fan (or a sum of fans) ``n`` counted one or two off (a bias counted as an input)."""
    msg = ("a fan is off by one: fan_in = w.shape[1] and fan_out = w.shape[0] count the weights only (the bias "
           "is not an input of the sum).")
    return [(var_of(n + d), msg) for d in (1, 2, -1, -2) if n + d > 0]


#: what the tensor handed to the learner's init holds before: a value no init draws, so "not filled" and
#: "filled with NaN" read differently
_SENTINEL = 12345.0


def _run_init(name, fn, shape, seed, args, case, verbose):
    """Run the learner's init on a sentinel-filled tensor of ``shape``: ``(weights as float64, None)``, or
    ``(None, result)`` when it is the stub, raised, or broke the in-place contract."""
    torch.manual_seed(seed)
    w = torch.full(shape, _SENTINEL)
    kept = (w.dtype, w.data_ptr())
    try:
        out, borrowed = _calls_torch_init(fn, w, *args)
    except NotImplementedError:
        return None, _not_yet(name, name, verbose)
    except Exception as e:
        return None, _raised(name, e, verbose, case, context="init")
    if borrowed:
        return None, _report(name, FAIL, f"your function calls torch's own `torch.nn.init.{borrowed}`: the task "
                             "is to write the initialisation from scratch.", case=case,
                             hint="compute the scale from the fans yourself and fill w with an in-place random "
                                  "method; torch's function is only the reference the checker compares with.",
                             verbose=verbose)
    bad = _replaced(w, kept) or _init_failure(name, w, out, shape)
    if bad:
        return None, _report(name, FAIL, bad.pop("headline"), case=case, verbose=verbose, **bad)
    return (out if out is not None else w).detach().double(), None


#: torch's own initialisers, which the learner's function is to replace (helpers such as
#: ``_calculate_fan_in_and_fan_out`` or ``uniform_`` stay allowed)
_TORCH_INITS = ("xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform",
                "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal_")
#: (``trunc_normal_`` is a generic fill, as ``normal_`` and ``uniform_`` are: the learner computes the scale; a cut
#: that changes the distribution is told by the statistics, see :func:`_cut_hint`)


def _calls_torch_init(fn, *args):
    """``(fn(*args), name)``: ``name`` is the first of torch's own initialisers (``nn.init.xavier_uniform_``,
    ``kaiming_normal_``, …, however imported) that the call ran, or None.  Found from the code objects
    called, so an alias (`from torch.nn.init import xavier_uniform_ as f`) is caught too."""
    import sys

    import os

    init_file = torch.nn.init.__file__
    torch_dir = os.path.dirname(torch.__file__) + os.sep
    seen = []

    def prof(frame, event, arg):
        # (called by the learner's code: torch's own callers, e.g. nn.Linear's constructor, which initialises
        # its weight with kaiming_uniform_, are not the learner borrowing the init)
        if event == "call" and not seen and frame.f_code.co_filename == init_file and not (
                frame.f_back is not None and frame.f_back.f_code.co_filename.startswith(torch_dir)):
            if frame.f_code.co_name in _TORCH_INITS:
                seen.append(frame.f_code.co_name)
            elif frame.f_code.co_name == "deprecated_init":  # torch's old names (xavier_uniform, ...), a wrapper
                seen.append(str(frame.f_locals.get("old_name", "xavier_uniform")))

    old = sys.getprofile()
    sys.setprofile(prof)
    try:
        with warnings.catch_warnings():   # the old names' FutureWarning would point into this file
            warnings.filterwarnings("ignore", category=FutureWarning, message=r"`nn\.init\.")
            out = fn(*args)
    finally:
        sys.setprofile(old)
    return out, (seen[0] if seen else None)


def _replaced(w, kept) -> dict | None:
    """A failure when the call swapped w's memory (``w.data = new tensor``) instead of filling it: another
    dtype (a float32 layer turned float64) or other storage.  ``kept`` is ``(dtype, data_ptr)`` from before."""
    dtype, ptr = kept
    if w.dtype != dtype:
        return dict(headline=f"w's dtype changed from {str(dtype).replace('torch.', '')} to "
                             f"{str(w.dtype).replace('torch.', '')}: its values were replaced, not filled in place.",
                    hint="don't assign `w.data = ...` (or build a tensor of another dtype): fill the tensor you are "
                         "given with its in-place methods (`w.uniform_(...)`, `w.normal_(...)`) inside "
                         "`torch.no_grad()`, so it keeps its dtype and memory.")
    if w.data_ptr() != ptr:
        return dict(headline="w now points to new memory (`w.data = ...`): it was replaced, not filled in place.",
                    hint="fill the tensor you are given with its in-place methods (`w.uniform_(...)`, "
                         "`w.normal_(...)`, `w.copy_(...)`) inside `torch.no_grad()`; anything else holding w's "
                         "old memory would not see the new weights.")
    return None


def _init_failure(name, w, out, shape):
    """Common shape/in-place problems, or None."""
    if out is None:
        filled = not (w == _SENTINEL).any()
        return dict(headline="the function returned None" + (" (it filled w in place, but did not return it)."
                                                              if filled else "."),
                    hint="end with `return w`: the task asks for the filled tensor back, as torch.nn.init "
                         "does.")
    if out is not None and not isinstance(out, torch.Tensor):
        return dict(headline=f"the function returned {_describe(out)}, not a tensor.",
                    hint="fill the tensor in place and `return w`, as torch.nn.init does.")
    result = out if out is not None else w
    if tuple(result.shape) != tuple(shape):
        return dict(headline="the shape changed.", expected=f"shape {tuple(shape)}", got=f"shape {tuple(result.shape)}",
                    hint="fill the given tensor (e.g. `w.uniform_(-a, a)`); don't build a new one of another shape.")
    if not torch.isfinite(result).all():
        return dict(headline="the weights contain inf or NaN.", hint="check for a division by zero, or a NaN, "
                    "in the scale.")
    if (w == _SENTINEL).any() and not (w == _SENTINEL).all():
        left = int((w == _SENTINEL).sum())
        return dict(headline=f"only part of w was filled: {left} of its {w.numel()} entries still hold what they "
                             "held before.",
                    hint="fill the whole tensor: `w.normal_(...)` / `w.uniform_(...)` on w itself, not on a slice "
                         "of it (`w[:k]`, one row, …).")
    if (w == _SENTINEL).any():
        return dict(headline="the weight tensor you were given was not filled in place.",
                    hint="use the in-place methods `w.uniform_(...)` / `w.normal_(...)` inside `torch.no_grad()`; "
                         "assigning `w = ...` only rebinds the local name.")
    if not _is_w(out, w):
        return dict(headline=f"w was filled, but the function returned another tensor ({_returned(out, w)}).",
                    hint="the task returns the filled `w` itself, as torch.nn.init does: end with `return w` "
                         "(no copy, no dtype conversion, no new tensor).")
    return None


def _is_w(out, w) -> bool:
    """``out`` is ``w`` itself, or the same memory seen the same way (``w.data``, ``w.detach()``)."""
    return out is w or (isinstance(out, torch.Tensor) and out.dtype == w.dtype and out.device == w.device
                        and tuple(out.shape) == tuple(w.shape) and out.stride() == w.stride()
                        and out.data_ptr() == w.data_ptr())


def _returned(out, w) -> str:
    """What the learner's init returned instead of ``w``, in words."""
    if out.dtype != w.dtype:
        return f"a {str(out.dtype).replace('torch.', '')} copy of w's {str(w.dtype).replace('torch.', '')} values"
    if torch.equal(out.detach(), w.detach()):
        return "a copy of w, in other memory"
    return "a new tensor with other values than w"


def _draw_problem(name, fn, shape, args, w, case, verbose) -> CheckResult | None:
    """A report when the weights ``w`` (from ``fn`` under global seed 0) are no independent random draws:
    neighbouring values correlated (``linspace``, a sorted or repeated pattern) or the same numbers under
    another global seed (a seed hard-coded inside the function)."""
    flat = w.flatten()
    if flat.numel() > 1 and bool((flat == 0).all()):
        return _report(name, FAIL, "every weight is 0.", case=case, got="all weights = 0",
                       hint="the scale you computed (the bound or the std) is probably 0: look for an integer "
                            "division `//`, or a ratio of whole numbers that rounds down to 0, in it. (If you "
                            "filled the tensor with 0: the weights must be random draws.)", verbose=verbose)
    if flat.numel() > 1 and bool((flat == flat[0]).all()):
        return _report(name, FAIL, "every weight has the same value: the tensor was filled with a constant.",
                       case=case, got=f"all weights = {flat[0].item():.4g}",
                       hint="the weights must be random draws (an in-place random method such as `normal_` or "
                            "`uniform_`); `fill_` writes one number everywhere, so all units compute the same "
                            "thing and never become different. (`w.normal_(mean, std)` takes the mean first: "
                            "`normal_(std, 0)` draws the constant std.)", verbose=verbose)
    if flat.numel() > 16 and flat.std() > 0:
        a, b = flat[:-1] - flat[:-1].mean(), flat[1:] - flat[1:].mean()
        corr = float((a * b).sum() / (a.norm() * b.norm() + 1e-300))
        if abs(corr) > 0.2:
            return _report(name, FAIL, "the weights follow a pattern: neighbouring values are correlated.",
                           case=case, got=f"correlation of neighbouring weights {corr:.2f} (random draws: ≈ 0)",
                           hint="the entries must be independent random draws from the distribution (an "
                                "in-place random method), not evenly spaced or sorted values.", verbose=verbose)
    other, res = _run_init(name, fn, shape, 999_983, args, case, verbose)
    if res is not None:
        return res
    if torch.equal(other, w):
        return _report(name, FAIL, "your function draws the same weights whatever the global seed is.", case=case,
                       hint="don't seed inside the init (every layer, and every run, would get the same "
                            "numbers): draw from the global generator, which the caller seeds.", verbose=verbose)
    return None


def _pooled(name, fn, shape, args, reps, case, verbose):
    """``reps`` calls on a small ``shape``, their weights pooled: a small fan tells fan ± 1 apart."""
    parts = []
    for r in range(reps):
        w, res = _run_init(name, fn, shape, 50_000 + r, args, case, verbose)
        if res is not None:
            return None, res
        parts.append(w.flatten())
    return torch.cat(parts), None


def _check_on_linear(name, fn, args, verbose) -> CheckResult | None:
    """Run the learner's init on the weight of a real ``nn.Linear`` (a leaf Parameter that requires grad)."""
    lin = nn.Linear(512, 256)
    before = lin.weight.detach().clone()
    kept = (lin.weight.dtype, lin.weight.data_ptr())
    case = "the weight of a real nn.Linear(512, 256) (an nn.Parameter with requires_grad=True)"
    try:
        out = fn(lin.weight, *args)
    except NotImplementedError:
        return _not_yet(name, name, verbose)
    except Exception as e:
        return _raised(name, e, verbose, case, context="init")
    bad = _replaced(lin.weight, kept) if isinstance(lin.weight, torch.Tensor) else None
    if bad:
        return _report(name, FAIL, bad.pop("headline"), case=case, verbose=verbose, **bad)
    if not isinstance(lin.weight, nn.Parameter) or not lin.weight.requires_grad:
        return _report(name, FAIL, "the layer's weight no longer requires grad after your init.", case=case,
                       hint="don't call `requires_grad_(False)` or replace the parameter: fill it in place "
                            "inside `with torch.no_grad():` and it stays trainable.", verbose=verbose)
    if out is None:
        return _report(name, FAIL, "the function returned None.", case=case,
                       hint="end with `return w`: the task asks for the filled tensor back.", verbose=verbose)
    if not isinstance(out, torch.Tensor):
        return _report(name, FAIL, f"the function returned {_describe(out)}, not a tensor.", case=case,
                       hint="fill the tensor in place and `return w`, as torch.nn.init does.", verbose=verbose)
    if not torch.equal(lin.weight.detach(), before) and not _is_w(out, lin.weight):
        return _report(name, FAIL, f"the weight was filled, but the function returned another tensor "
                       f"({_returned(out, lin.weight)}).", case=case,
                       hint="the task returns the filled `w` itself, as torch.nn.init does: end with `return w` "
                            "(no copy, no dtype conversion, no new tensor).", verbose=verbose)
    if torch.equal(lin.weight.detach(), before):
        return _report(name, FAIL, "the nn.Linear weight was not changed: your function did not fill it in place.",
                       case=case, hint="fill the tensor you are given with its in-place methods (`w.normal_(...)`, "
                       "`w.uniform_(...)`, `w.copy_(...)`) inside `with torch.no_grad():`; building a new tensor "
                       "(`w = ...`, `torch.randn(...)`) leaves the layer's weight as it was.", verbose=verbose)
    if not torch.isfinite(lin.weight.detach()).all():
        return _report(name, FAIL, "the nn.Linear weight contains inf or NaN after your init.", case=case,
                       hint="check for a division by zero in the scale.", verbose=verbose)
    return None


def _variance_hint(var: float, fan_in: int, fan_out: int, candidates) -> str | None:
    for value, hint in candidates:
        if value > 0 and abs(var / value - 1) < 0.03:
            return hint
    return None


def _cut_hint(w, want_var: float) -> str | None:
    """A hint when the draws are a normal cut off (clamped or truncated): many values piled on the extremes, or
    none in the tails beyond 2.5 σ, where a normal sample of this size puts about 1.2 % of its values."""
    a = w.abs()
    piled = _piled(w)
    tails = (a > 2.5 * math.sqrt(want_var)).double().mean().item()
    z = (w - w.mean()) / w.std()
    kurt = (z ** 4).mean().item()  # a normal cut at 2 σ: 2.4; a uniform draw: 1.8
    # (a clamp shows at any width, ±1 σ included, by the values piled on it; a cut without a pile only by its
    # missing tails, which a draw too narrow also lacks)
    if w.numel() >= 10_000 and (piled or (tails < 0.001 and kurt > 2.1 and (
            a > 1.5 * math.sqrt(want_var)).double().mean().item() > 0.05)):
        how = ("clamped: many values sit exactly on the cut, and the larger ones are gone" if piled else
               "cut off: no value lies beyond 2.5 σ, where a normal draw puts about 1 %")
        return (f"the distribution is {how}. Cutting the tails leaves too few large values and shrinks the "
                "variance even with the right std: draw with `normal_` and keep every value as drawn.")
    return None


def _piled(w) -> float | None:
    """The fraction of the weights piled exactly on the largest magnitude, ±max, when it is far more than a
    continuous draw puts there (a clamp: `clamp_`, `min`/`max`); None otherwise, and for draws of a few
    values (±σ), which are told apart by their count of distinct values."""
    a = w.abs()
    piled = (a >= a.max() * (1 - 1e-6)).double().mean().item()
    if w.numel() >= 1000 and piled > 0.005 and torch.unique(w).numel() > 16:
        return piled
    return None


def _var_tol(n: int) -> float:
    """Relative tolerance on a sample variance of ``n`` draws: six standard errors (√(2/n)), at least 1.5 %."""
    return max(6 * math.sqrt(2 / n), 0.015)


def _xavier_mistakes(fan_in: int, fan_out: int, gain: float) -> list:
    """``(Var(W), hint)`` of the typical Xavier mistakes on one shape, always in the same order (-1 where a
    mistake cannot show, e.g. an ignored gain at gain 1), so that a mistake can be followed across shapes."""
    want_var = gain ** 2 * 2 / (fan_in + fan_out)
    return [
        (gain ** 2 / fan_in, "that is LeCun's 1/fan_in (fan_in alone); Xavier averages the forward and backward "
                             "conditions: 2/(fan_in + fan_out)."),
        (gain ** 2 / fan_out, "that is 1/fan_out (fan_out alone, the backward condition); Xavier averages the "
                              "two conditions: 2/(fan_in + fan_out)."),
        (gain ** 2 * 2 / fan_in, "that is Kaiming's 2/fan_in (fan_in alone); Xavier uses 2/(fan_in + fan_out)."),
        (gain ** 2 * 2 / fan_out, "that is 2/fan_out (fan_out alone); Xavier uses both fans: "
                                  "2/(fan_in + fan_out)."),
        (gain ** 2 / (fan_in + fan_out), "the factor 2 is missing: Var(W) = 2/(fan_in + fan_out)."),
        (gain ** 2 / math.sqrt(fan_in * fan_out), "you took the geometric mean of the fans, √(fan_in·fan_out); "
                                                  "Xavier's is the arithmetic one, (fan_in + fan_out)/2: Var(W) "
                                                  "= 2/(fan_in + fan_out) (the two agree only on square layers)."),
        (gain ** 2 * 2 / (fan_in * fan_out), "you multiplied the fans; Xavier adds them: Var(W) = "
                                             "2/(fan_in + fan_out)."),
        (want_var / 3, "your bound a is the standard deviation σ you want, but the bound of U(−a, a) is not "
                       "its standard deviation: what is the variance of U(−a, a), in terms of a?"),
        (2 / (fan_in + fan_out) if gain != 1 else -1, "the `gain` argument was ignored: your variance is the "
                                                      "same at gain 1 and at this gain."),
        (gain ** 4 * 2 / (fan_in + fan_out) if gain != 1 else -1, "your variance grows with gain⁴: the "
                                                                  "variance gets gain², so how does the bound "
                                                                  "scale with gain?"),
        (gain * 2 / (fan_in + fan_out) if gain != 1 else -1, "your variance grows with gain, not gain²: the gain "
                                                             "seems to sit inside the square root."),
        (want_var * 3, "your variance is three times too large: did you take a² to be the variance? What is "
                       "the variance of U(−a, a), in terms of a?"),
        (gain ** 2 * (2 / (fan_in + fan_out)) ** 2 / 3 if fan_in + fan_out > 2 else -1,
         "you passed a variance where the bound goes: the bound is a square root."),
    ] + _off_by_one(lambda n: gain ** 2 * 2 / n, fan_in + fan_out)


def _xavier_shape(k: int):
    """``(shape, gain)`` of the k-th shape the Xavier check draws (the last: the small, pooled one)."""
    shapes = _INIT_CASES + (_SMALL_SHAPE,)
    return shapes[k], (5 / 3 if k == 3 else 1.0)


def _xavier_hint(fn, k_failed: int, var_failed: float) -> str | None:
    """The mistake that the learner's variances match on *every* shape the check draws (the failed one, whose
    variance is ``var_failed``, and the other large ones, drawn again here): on a single shape two mistakes can
    coincide (on a square layer 1/fan_in, 1/fan_out and √(fan_in·fan_out) agree), so one shape cannot name it."""
    measured = {k_failed: var_failed}
    for k in range(len(_INIT_CASES)):
        if k == k_failed:
            continue
        shape, gain = _xavier_shape(k)
        w, res = _run_init("xavier_uniform_", fn, shape, 20_000 + k, () if gain == 1.0 else (gain,), "", False)
        if res is None:
            measured[k] = w.var().item()
    tables = {k: _xavier_mistakes(_xavier_shape(k)[0][1], _xavier_shape(k)[0][0], _xavier_shape(k)[1])
              for k in measured}
    for i, (_, hint) in enumerate(tables[k_failed]):
        if tables[k_failed][i][0] <= 0:
            continue
        if all(tables[k][i][0] <= 0 or abs(v / tables[k][i][0] - 1) < 0.03 for k, v in measured.items()):
            return hint
    return None


@_graded('check_xavier_uniform(xavier_uniform_)', name="xavier_uniform_")
def check_xavier_uniform(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``xavier_uniform_(w, gain=1.0)``: U(−a, a) with a = gain·√(6/(fan_in+fan_out)), in place.

    Reference: the statistics of ``torch.nn.init.xavier_uniform_`` (variance
    gain²·2/(fan_in+fan_out), all values inside ±a), on four weight shapes, then once on
    the weight of a real ``nn.Linear`` (a Parameter that requires grad).
    """
    name = "xavier_uniform_"
    if _not_a_function(fn):
        return _not_callable(name, fn, "a function xavier_uniform_(w, gain=1.0)", verbose)
    bad = _signature_report(name, fn, "xavier_uniform_", [("w", _NO_DEFAULT), ("gain", 1.0)], verbose)
    if bad is not None:
        return bad
    for k, shape in enumerate(_INIT_CASES + (_SMALL_SHAPE,)):
        fan_out, fan_in = shape
        gain = 5 / 3 if k == 3 else 1.0
        args = () if gain == 1.0 else (gain,)
        case = f"weight of shape {shape} (fan_out={fan_out}, fan_in={fan_in}), gain={gain:.3g}"
        if shape == _SMALL_SHAPE:
            case += f", {_SMALL_REPS} calls pooled"
            w, result = _pooled(name, fn, shape, args, _SMALL_REPS, case, verbose)
        else:
            w, result = _run_init(name, fn, shape, k, args, case, verbose)
            if result is None and k == 0:
                result = _draw_problem(name, fn, shape, args, w, case, verbose)
        if result is not None:
            return result
        want_var = gain ** 2 * 2 / (fan_in + fan_out)
        bound = gain * math.sqrt(6 / (fan_in + fan_out))
        var, mean, wmax = w.var().item(), w.mean().item(), w.abs().max().item()
        # the mean's noise scales with the spread actually drawn: a far too wide draw (std ~45) has a mean of ±0.01
        # that is noise, and is told by its variance, not called off-centre
        if abs(mean) > 6 * math.sqrt(max(want_var, var) / w.numel()):
            return _report(name, FAIL, "the weights are not centred on 0.", case=case, expected="mean ≈ 0",
                           got=f"mean = {mean:.4g}", hint="draw from U(−a, a), not U(0, a).", verbose=verbose)
        piled = _piled(w)
        if piled:
            return _report(name, FAIL, "the values are not uniform on [−a, a]: they are clamped, "
                           f"{100 * piled:.0f} % of them sit exactly on ±{wmax:.4g}.", case=case,
                           expected=f"values spread evenly over [−a, a], a = {bound:.4g}, none piled on a value",
                           got=f"{100 * piled:.0f} % of the values on ±{wmax:.4g}, Var(W) = {var:.4g}",
                           hint="a clamp (`clamp_`, `min`/`max`) after the draw piles every value beyond the cut "
                                "onto it and shrinks the variance, even with the right bound: draw with "
                                "`uniform_` and keep every value as drawn.", verbose=verbose)
        if abs(var / want_var - 1) > _var_tol(w.numel()):
            hint = _xavier_hint(fn, k, var) or ("Var(W) must be 2/(fan_in + fan_out), with fan_in = w.shape[1], "
                                                "fan_out = w.shape[0].")
            return _report(name, FAIL, "the variance of the weights is off.", case=case,
                           expected=f"Var(W) ≈ {want_var:.4g} (torch.nn.init.xavier_uniform_)",
                           got=f"Var(W) = {var:.4g}", hint=hint, verbose=verbose)
        distinct = torch.unique(w.detach()).numel()
        if wmax <= bound * (1 + 1e-6) and distinct <= 16 and w.numel() >= 64:
            return _report(name, FAIL, "the values are not uniform on [−a, a]: they take only "
                           f"{distinct} distinct value{'s' if distinct != 1 else ''}.", case=case,
                           expected=f"values spread over the whole interval [−a, a], a = {bound:.4g}",
                           got=f"{distinct} distinct values (max |w| = {wmax:.4g}); the variance is right",
                           hint="the variance alone does not make the draw: Xavier-uniform draws every weight "
                                "from the continuous uniform distribution U(−a, a) (`w.uniform_(-a, a)`), not "
                                "from a few fixed values such as ±σ.", verbose=verbose)
        if wmax > bound * (1 + 1e-6) or wmax < 0.97 * bound:
            looks_normal = wmax > 1.25 * bound
            return _report(name, FAIL, "the values are not uniform on [−a, a].", case=case,
                           expected=f"all |w| ≤ a = {bound:.4g}, filling the interval",
                           got=f"max |w| = {wmax:.4g}",
                           hint="use `w.uniform_(-a, a)`; a normal distribution with the right variance is "
                                "`xavier_normal_`, another function." if looks_normal else
                                f"the values fill an interval slightly {'wider' if wmax > bound else 'narrower'} "
                                "than ±a: check the fans in the bound (fan_in = w.shape[1], fan_out = w.shape[0], "
                                "no bias counted).", verbose=verbose)
    bad = _check_on_linear(name, fn, (), verbose)
    if bad is not None:
        return bad
    return _report(name, PASS, "correct — Var(W) = 2/(fan_in+fan_out) and the values fill U(−a, a) on all "
                   f"{len(_INIT_CASES)} shapes, as torch.nn.init.xavier_uniform_, and a real nn.Linear weight "
                   "is filled in place.", verbose=verbose)


#: (fan_out, fan_in, a): ReLU (a = 0) on three shapes, leaky ReLUs whose slope tells (1 + a) from (1 + a²)
_KAIMING_CASES = ((64, 1024, 0.0), (1024, 64, 0.0), (400, 400, 0.0), (300, 512, 0.2), (256, 768, 0.5),
                  (300, 512, 1.0))


@_graded('check_kaiming_normal(kaiming_normal_)', name="kaiming_normal_")
def check_kaiming_normal(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``kaiming_normal_(w, a=0.0)``: N(0, 2/((1+a²)·fan_in)) with fan_in = ``w.shape[1]``, in place.

    Reference: the statistics of ``torch.nn.init.kaiming_normal_(w, a, mode="fan_in",
    nonlinearity="leaky_relu")`` (which is ReLU's 2/fan_in at a = 0), on six shapes and slopes
    (a = 0.2 and 0.5 tell (1 + a²) from (1 + a)), then on the weight of a real ``nn.Linear``.
    """
    name = "kaiming_normal_"
    if _not_a_function(fn):
        return _not_callable(name, fn, "a function kaiming_normal_(w, a=0.0)", verbose)
    bad = _signature_report(name, fn, "kaiming_normal_", [("w", _NO_DEFAULT), ("a", 0.0)], verbose)
    if bad is not None:
        return bad
    for k, (fan_out, fan_in, a) in enumerate(_KAIMING_CASES + (_SMALL_SHAPE + (0.0,),)):
        shape = (fan_out, fan_in)
        args = () if a == 0.0 else (a,)
        case = f"weight of shape {shape} (fan_out={fan_out}, fan_in={fan_in}), a={a}"
        if shape == _SMALL_SHAPE:
            case += f", {_SMALL_REPS} calls pooled"
            w, result = _pooled(name, fn, shape, args, _SMALL_REPS, case, verbose)
        else:
            w, result = _run_init(name, fn, shape, 10 + k, args, case, verbose)
            if result is None and k == 0:
                result = _draw_problem(name, fn, shape, args, w, case, verbose)
        if result is not None:
            return result
        gain2 = 2 / (1 + a * a)
        want_var = gain2 / fan_in
        var, mean = w.var().item(), w.mean().item()
        # the mean's noise scales with the spread actually drawn: a far too wide draw (std ~45) has a mean of ±0.01
        # that is noise, and is told by its variance, not called off-centre
        if abs(mean) > 6 * math.sqrt(max(want_var, var) / w.numel()):
            return _report(name, FAIL, "the weights are not centred on 0.", case=case, expected="mean ≈ 0",
                           got=f"mean = {mean:.4g}", hint="draw from N(0, σ²): `w.normal_(0, std)`.",
                           verbose=verbose)
        if abs(var / want_var - 1) > _var_tol(w.numel()):
            hint = _cut_hint(w, want_var) or _variance_hint(var, fan_in, fan_out, [
                (gain2 / fan_out if fan_in != fan_out else -1,
                 "you used fan_out. PyTorch stores a Linear weight as (out_features, in_features), so fan_in = "
                 "w.shape[1]; Kaiming's forward rule divides by fan_in."),
                (1 / fan_in if a == 0 else -1, "that is LeCun's 1/fan_in: ReLU zeroes half of its inputs, so "
                                               "Kaiming doubles it to 2/fan_in."),
                (2 * gain2 / (fan_in + fan_out) if fan_in != fan_out else -1,
                 "that mixes in fan_out like Xavier; Kaiming uses fan_in only."),
                ((gain2 / fan_in) ** 2, "you passed the variance where the standard deviation goes: "
                                        "`normal_(0, std)` takes the square root of the variance."),
                (2 / ((1 + a) * fan_in) if a not in (0.0, 1.0) else -1,
                 "you used (1 + a): the slope a scales the negative half of the signal, so what does it do "
                 "to that half's second moment, E[(a·z)²]?"),
                (2 / ((1 + a) ** 2 * fan_in) if a != 0 else -1,
                 "you used (1 + a)²: the positive half of the signal passes unchanged and only the negative "
                 "half is scaled by a, so add the two halves' second moments rather than squaring a sum."),
                (2 / fan_in if a != 0 else -1, "the negative slope `a` was ignored: your variance is ReLU's "
                                               "for every a. What fraction of E[z²] does the leaky ReLU keep "
                                               "on the negative half?"),
                (2 * (1 + a * a) / fan_in if a not in (0.0, 1.0) else -1,
                 "your variance grows with the slope a, but a leaky ReLU keeps more of the signal than ReLU "
                 "does, so it needs less variance in the weights: check where its factor goes."),
            ] + _off_by_one(lambda n: gain2 / n, fan_in)) or (
                "the variance is not the forward rule for a leaky ReLU of slope a over fan_in = w.shape[1]: "
                "replace ReLU's factor 2 by the one the slope gives; `normal_` takes the std, not the "
                "variance.")
            return _report(name, FAIL, "the variance of the weights is off.", case=case,
                           expected=f"Var(W) ≈ {want_var:.4g} (torch.nn.init.kaiming_normal_)",
                           got=f"Var(W) = {var:.4g}", hint=hint, verbose=verbose)
        tail = (w.abs() > 1.8 * math.sqrt(want_var)).double().mean().item()  # normal: 7.2 %, uniform(±√3σ): 0
        if tail < 0.04:
            return _report(name, FAIL, "the variance is right but the values do not look normal.", case=case,
                           expected="about 7 % of the weights beyond 1.8 σ (a Gaussian)",
                           got=f"{100 * tail:.1f} %", hint="draw with `w.normal_(0, std)`, not `uniform_`.",
                           verbose=verbose)
    bad = _check_on_linear(name, fn, (), verbose)
    if bad is not None:
        return bad
    return _report(name, PASS, f"correct — Var(W) = 2/((1+a²)·fan_in) on all {len(_KAIMING_CASES)} shapes and "
                   "slopes, matching torch.nn.init.kaiming_normal_ (fan_in mode), and a real nn.Linear weight is "
                   "filled in place.", verbose=verbose)


_ACTS = {"tanh": torch.tanh, "relu": torch.relu, "identity": lambda x: x, "sigmoid": torch.sigmoid}


def activation_variances(std: float, depth: int, *, act: str = "tanh", width: int = 256, n: int = 512,
                         seed: int = 0, init: Callable | None = None) -> np.ndarray:
    """Per-layer activation variance of a ``depth``-layer square net on unit-variance inputs.

    Weights are drawn N(0, std²) (biases 0), or by ``init(w)`` when given (``std`` is then ignored).

    Returns:
        array of shape ``(depth,)``: Var of each layer's output after the activation.
    """
    if act not in _ACTS:
        raise ValueError(f"act must be one of {sorted(_ACTS)}, got {act!r}.")
    if not (isinstance(depth, int) and depth >= 1):
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}.")
    if init is None and not (isinstance(std, numbers.Real) and not isinstance(std, bool) and std > 0):
        raise ValueError(f"std must be a number > 0, got {std!r}.")
    # an odd offset, so the inputs never replay the global stream an init function may draw from
    g = torch.Generator().manual_seed(1_000_003 + seed)
    x = torch.randn(n, width, generator=g)  # (n, width), Var = 1
    out = []
    with torch.no_grad(), _one_thread():
        for _ in range(depth):
            if init is None:
                W = torch.randn(width, width, generator=g) * std
            else:
                W = torch.empty(width, width)
                init(W)
            x = _ACTS[act](x @ W.T)
            out.append(x.var().item())
    return np.array(out)


def plot_activation_variances(variances: dict, *, ax=None, title: str | None = None):
    """Draw ``{label: per-layer variances}`` on a log scale (returns the axes).

    :func:`course_utils.plotting.plot_depth_curves`, with a variance of exactly 0 (a collapsed signal)
    drawn at 1e-30 instead of vanishing from the log axis.
    """
    from ..plotting import legend_outside, plot_depth_curves, series_styles

    clipped = {label: np.clip(np.asarray(v, dtype=float), 1e-30, None) for label, v in variances.items()}
    depth = max((len(v) for v in clipped.values()), default=0)
    ax = plot_depth_curves(clipped, ax=ax, ylabel="activation variance (log scale)",
                           title=title or "Activation variance per layer", logy=True,
                           styles=series_styles(clipped, n_points=depth))  # colour, dash and marker per series
    ax.axhline(1.0, color="0.4", lw=1, ls=":", label="variance 1: signal kept")
    legend_outside(ax)
    return ax


def variance_slider(inits: dict | None = None, *, width: int = 256):
    """Sliders over weight std, depth and activation that redraw the per-layer activation variance.

    ``inits`` maps labels to init functions ``f(w)`` (e.g. the learner's Xavier and
    Kaiming) drawn as extra lines for comparison.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    if isinstance(inits, (list, tuple)) and all(callable(f) for f in inits):  # functions, labelled by name
        inits = {getattr(f, "__name__", f"init {i + 1}"): f for i, f in enumerate(inits)}
    if inits is not None and not isinstance(inits, dict):
        _say(FAIL, f"variance_slider expects a dict {{label: init function}}, e.g. "
             f"`{{'your Xavier': xavier_uniform_}}`, got {_describe(inits)}.")
        return None
    inits = dict(inits or {})

    def draw(std=1 / math.sqrt(width), depth=20, act="tanh"):
        curves = {f"N(0, {std:.3g}²)": activation_variances(std, depth, act=act, width=width)}
        for label, f in inits.items():
            try:
                curves[label] = activation_variances(1.0, depth, act=act, width=width, init=f)
            except NotImplementedError:
                _say(TODO, f"{label}: not yet implemented — fill it in to see its line.")
            except Exception as e:  # the learner's init: report it and draw the other lines
                _say_raised(f"{label} (left out of the plot)", e, context="init")
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        plot_activation_variances(curves, ax=ax, title=f"{act}, width {width}, depth {depth}")
        plt.show()

    _show(widgets.interactive(
        draw,
        std=widgets.FloatLogSlider(value=1 / math.sqrt(width), base=10, min=-2.5, max=0, step=0.05,
                                   description="weight std", continuous_update=False),
        depth=widgets.IntSlider(value=20, min=1, max=60, description="depth", continuous_update=False),
        act=widgets.Dropdown(options=list(_ACTS), value="tanh", description="activation")))


# ----------------------------------------------------------------------------- predict, then run
#: the net of the prediction task: 8 ReLU layers of width 128, weights N(0, 3/fan_in) (1.5 times He's variance)
GRADIENT_NET = dict(depth=8, width=128, var_factor=3.0, n=256)


def signal_gradient_norms(*, depth: int = 8, width: int = 128, var_factor: float = 3.0, n: int = 256,
                          seed: int = 0) -> np.ndarray:
    """RMS of ∂L/∂z_l, the gradient reaching each layer's output (1 = next to the input), of a
    ``depth``-layer ReLU net at initialisation: weights N(0, var_factor/fan_in), unit-variance inputs, the
    loss a random linear read-out of the last layer.

    Going back through a layer multiplies the gradient's variance by fan_out·Var(W)·½ (ReLU passes half
    the units), here ``var_factor``/2 per layer.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, width, generator=g)
    Ws = [torch.randn(width, width, generator=g) * math.sqrt(var_factor / width) for _ in range(depth)]
    head = torch.randn(width, generator=g) / math.sqrt(width)
    zs, h = [], x
    with _one_thread():
        for W in Ws:
            z = (h @ W.T).requires_grad_() if not zs else h @ W.T
            z.retain_grad()
            zs.append(z)
            h = torch.relu(z)
        (h @ head).sum().backward()
    return np.array([z.grad.pow(2).mean().sqrt().item() for z in zs])


@_graded('check_largest_gradient(largest_layer)', name="predict: largest gradient")
def check_largest_gradient(answer, *, verbose: bool = True) -> CheckResult:
    """Grade a *prediction*: which layer (1 = next to the input) of :data:`GRADIENT_NET` receives the
    largest gradient ∂L/∂z (:func:`signal_gradient_norms`) at initialisation.  The run is made after the answer; a wrong prediction gets the
    direction (nearer the input or the output), a right one the measured norms."""
    name = "predict: largest gradient"
    depth = GRADIENT_NET["depth"]
    if answer is None or answer is ...:
        return _report(name, TODO, "not yet — set `largest_layer` to your prediction (a layer number) and run "
                       "the cell again.", verbose=verbose)
    v, why = _as_number(answer, low=1, high=depth)
    if why or v != int(v):
        return _report(name, FAIL, why or f"expected a whole layer number, got {_num_text(v)} (not a whole number).",
                       hint=f"a layer number from 1 (next to the input) to {depth} (next to the output).",
                       verbose=verbose)
    norms = signal_gradient_norms(**GRADIENT_NET)
    best = int(np.argmax(norms)) + 1
    if int(v) == best:
        table = ", ".join(f"{k + 1}: {x:.3g}" for k, x in enumerate(norms))
        return _report(name, PASS, f"correct — layer {best} receives the largest gradient.",
                       details=[f"measured RMS of ∂L/∂z per layer: {table}",
                                "with Var(W)·fan_in = 3 each ReLU layer multiplies the gradient's variance by "
                                "3 × ½ = 1.5 on the way back, so it grows towards the input."], verbose=verbose)
    side = "nearer the input" if best < v else "nearer the output"
    left = int(v) - 1 if best < v else depth - int(v)  # the layers on that side
    headline = (f"the run disagrees: the largest gradient is in a layer {side} than layer {int(v)}." if left > 1
                else f"the run disagrees: layer {int(v)} does not receive the largest gradient.")  # (no give-away)
    return _report(name, FAIL, headline, hint="follow the gradient backwards: each layer multiplies its variance by "
                   "fan_out·Var(W)·(ReLU's ½). Is that factor above or below 1 here?", verbose=verbose)
