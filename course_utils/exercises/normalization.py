"""Exercises 02 — activations and normalization: leaky ReLU and batch norm, graded against torch, and a
prediction (how much He's ReLU variance grows a leaky-ReLU stack) graded against a run."""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from ._core import (_NO_DEFAULT, _signature_report, CheckResult, FAIL, PASS, TODO, _NUMPY_HINT, _as_number, _describe, _fmt, _is_numpy,
                    _not_a_function, _not_callable, _not_yet, _one_thread, _raised, _report)
from ._core import _frozen, _graded


@_graded('check_leaky_relu(leaky_relu)')
def check_leaky_relu(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``leaky_relu(x, negative_slope=0.01)`` against ``nn.LeakyReLU`` on several shapes and slopes."""
    name = "leaky_relu"
    if _not_a_function(fn):
        return _not_callable(name, fn, "a function leaky_relu(x, negative_slope=0.01)", verbose)
    bad = _signature_report(name, fn, "leaky_relu", [("x", _NO_DEFAULT), ("negative_slope", 0.01)], verbose)
    if bad is not None:
        return bad
    g = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], dtype=torch.float64), None),
             (torch.randn(4, 7, generator=g, dtype=torch.float64), 0.2),
             (torch.randn(2, 3, 5, generator=g, dtype=torch.float64), 0.01),
             (torch.randn(16, generator=g, dtype=torch.float64) * 5, 0.5),
             # a slope above 1 (the definition goes by the sign of x): max(x, slope·x) is leaky ReLU only for
             # slopes ≤ 1
             (torch.tensor([-2.0, -0.5, 0.25, 1.0, 3.0], dtype=torch.float64), 2.0),
             # float32, a network's own dtype: an output cast to float64 (or float16) fails on the dtype
             (torch.randn(3, 6, generator=g), 0.1),
             # float16 (mixed-precision training): a mask made with `.float()` promotes the output to float32
             (torch.randn(3, 6, generator=g).half(), 0.1)]
    for x, slope in cases:
        s = 0.01 if slope is None else slope
        case = f"x of shape {tuple(x.shape)}, negative_slope={'default (0.01)' if slope is None else slope}"
        x_in = x.clone()
        try:
            y = fn(x_in) if slope is None else fn(x_in, slope)
        except NotImplementedError:
            return _not_yet(name, "leaky_relu", verbose)
        except Exception as e:
            return _raised(name, e, verbose, case)
        want = nn.LeakyReLU(s)(x).double()
        if not isinstance(y, torch.Tensor):
            return _report(name, FAIL, f"returned {_describe(y)}, not a tensor.", case=case,
                           hint=_NUMPY_HINT if _is_numpy(y) else
                           "use torch operations (torch.where, clamp) and return the tensor.", verbose=verbose)
        if tuple(y.shape) != tuple(x.shape):
            return _report(name, FAIL, "the output has the wrong shape.", case=case,
                           expected=f"shape {tuple(x.shape)}", got=f"shape {tuple(y.shape)}",
                           hint="apply the function element-wise; don't sum or flatten.", verbose=verbose)
        if not torch.equal(x_in, x):
            return _report(name, FAIL, "your function modified its input in place.", case=case,
                           hint="an in-place operation (`x[mask] *= ...`, `mul_`, `clamp_`, `x[...] =`) wrote "
                                "into x, and the caller may still need x: the result must be a new tensor.",
                           verbose=verbose)
        if y.dtype != x.dtype:
            return _report(name, FAIL, "the output's dtype differs from the input's.", case=case,
                           expected=f"{x.dtype} (the input's dtype, as nn.LeakyReLU keeps it)", got=f"{y.dtype}",
                           hint=_DTYPE_HINT, verbose=verbose)
        y, x = y.double(), x.double()  # compared (and diagnosed) in float64, whatever the case's dtype
        if x_in.dtype == torch.float16:
            # float16 rounds every operation to ~1e-3 of its operands: equivalent algebra (e.g.
            # (1+s)/2·x + (1−s)/2·|x|, whose terms cancel for x < 0) differs from torch's result by a few units in
            # the last place of x, not of the result; a wrong formula is off by a large fraction of |x|
            close = bool(((y - want).abs() <= 4 * 2.0 ** -10 * x.abs() + 1e-9).all())
        else:
            close = torch.allclose(y, want, rtol=1e-6, atol=1e-9)
        if close:
            continue
        pos, neg = x > 0, x < 0
        tol = dict(rtol=4e-3, atol=1e-6) if x_in.dtype == torch.float16 else {}  # the diagnosis, at the case's precision
        if not bool(torch.isfinite(y).all()):
            hint = ("your output contains NaN or inf where nn.LeakyReLU gives finite numbers: look for a division "
                    "(by x, or by 0), a log or a root of a negative number in your formula.")
        elif s > 1 and torch.allclose(y, torch.maximum(x, s * x), **tol):
            hint = ("you took the larger of x and negative_slope·x: that agrees with leaky ReLU only while the "
                    "slope is at most 1. The definition goes by the sign of x, whatever the slope.")
        elif torch.allclose(y[pos], s * x[pos], **tol) and torch.allclose(y[neg], x[neg], **tol):
            hint = "the branches are swapped: positive inputs pass unchanged, the slope multiplies the negative ones."
        elif not torch.allclose(y[pos], x[pos], **tol):
            hint = "positive inputs must pass through unchanged (f(x) = x for x > 0); the slope applies to x < 0 only."
        elif torch.allclose(y[neg], torch.zeros_like(y[neg]), **tol):
            hint = "that is ReLU: negative inputs must be multiplied by the slope, not set to 0."
        elif torch.allclose(y[neg], 0.01 * x[neg], **tol) and s != 0.01:
            hint = "the `negative_slope` argument was ignored (you used 0.01)."
        else:
            hint = "f(x) = x for x > 0 and negative_slope·x otherwise."
        bad = int((~torch.isclose(y, want)).nonzero()[0][0]) if y.dim() == 1 else None
        details = [f"at x = {x[bad].item():.3g}: expected {want[bad].item():.4g}, got {y[bad].item():.4g}"] \
            if bad is not None else []
        return _report(name, FAIL, "the values differ from nn.LeakyReLU.", case=case, details=details,
                       expected=_fmt(want), got=_fmt(y), hint=hint, verbose=verbose)
    bad = _borrowed(fn, "leaky_relu", (cases[1][0].clone(), cases[1][1])) or _leaky_grad_problem(fn, [c for c in cases[1:] if c[0].dtype != torch.float16])
    if bad:
        return _report(name, FAIL, bad.pop("headline"), verbose=verbose, **bad) if "raised" not in bad else \
            _raised(name, bad["raised"], verbose, bad["case"])
    return _report(name, PASS, f"correct — identical to nn.LeakyReLU on {len(cases)} inputs and slopes, values "
                   "and gradients.", verbose=verbose)


def _torch_ops(fn, *args) -> set[str]:
    """The ATen operators that one call ``fn(*args)`` runs (empty if it raises): how a function that calls
    torch's own leaky ReLU or batch norm (``F.leaky_relu``, ``nn.LeakyReLU``, ``F.batch_norm``,
    ``torch.batch_norm``, ``nn.BatchNorm1d``, however imported) is told from one written from scratch."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.add(func.name())
            return func(*args, **(kwargs or {}))

    rec = _Record()
    try:
        with rec:
            fn(*args)
    except Exception:
        pass
    return rec.ops


def _borrowed(fn, what: str, args) -> dict | None:
    """A report (headline, hint) when ``fn`` calls torch's own ``what`` (``"leaky_relu"`` or ``"batch_norm"``)."""
    if not any(what in op for op in _torch_ops(fn, *args)):
        return None
    names = {"leaky_relu": "F.leaky_relu or nn.LeakyReLU", "batch_norm": "F.batch_norm, torch.batch_norm or "
             "nn.BatchNorm1d"}[what]
    return dict(headline=f"your function calls torch's own {what.replace('_', ' ')} ({names}): the task is to "
                         "write it from scratch.",
                hint="build it from elementary tensor operations, following the formula above; torch's is only "
                     "the reference the checker compares with.")


_DTYPE_HINT = ("a layer must return the dtype it was given: the next layer's weights have that dtype and refuse "
               "another one (float64 meets float32: 'mat1 and mat2 must have the same dtype'). Remove the cast "
               "(`.double()`, `.float()`, `.half()`, `.to(...)`; a boolean mask made into numbers with `.float()` "
               "or times a Python float is float32, and turns a float16 x into float32 too), and build new tensors from x (`torch.zeros_like(x)`, "
               "not `torch.zeros(x.shape)`, which takes the default dtype).")

_NO_GRAD_HINT = ("build the output with torch operations on x itself: a round trip through NumPy or Python "
                 "numbers, `torch.tensor(...)` of the values, `.detach()` or `torch.no_grad()` cut the graph, "
                 "and a network using your function would not learn.")


def _leaky_grad_problem(fn, cases) -> dict | None:
    """The backward pass: d f/dx must be 1 for x > 0 and the slope for x < 0 (as nn.LeakyReLU's)."""
    for x, slope in cases:
        case = f"the gradient, x of shape {tuple(x.shape)}, negative_slope={slope}"
        xg = x.clone().requires_grad_()
        try:
            y = fn(xg, slope)
        except Exception as e:
            return dict(raised=e, case=case)
        frozen = _frozen([("x", xg)])
        if frozen:
            return dict(case=case, **frozen)
        if not (isinstance(y, torch.Tensor) and y.requires_grad):
            return dict(headline="no gradient flows through your function: its output is cut off from x.",
                        case=case, hint=_NO_GRAD_HINT)
        try:
            (gx,) = torch.autograd.grad(y.sum(), xg, allow_unused=True)
        except Exception as e:
            return dict(raised=e, case=case)
        want = torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope)).double()
        if gx is None or not torch.allclose(gx.double(), want, rtol=1e-6, atol=1e-9):
            return dict(headline="the gradient differs from nn.LeakyReLU's.", case=case,
                        hint="the values are right but the backward pass is not: " + _NO_GRAD_HINT)
    return None


def _bn_reference(x, gamma, beta, rm, rv, training, momentum, eps, *, unbiased_norm=False, biased_running=False,
                  inverted_momentum=False, eval_batch_stats=False, dim=0, no_affine=False, eps_outside=False,
                  fixed_momentum=False, fixed_eps=False, eval_updates=False, swap_affine=False, running_std=False,
                  eval_no_eps=False, no_sqrt=False, fixed_defaults=False):
    """Batch norm for (N, D) inputs and some typical mistakes (all flags False = the correct algorithm)."""
    momentum = 0.1 if fixed_momentum or fixed_defaults else momentum
    eps = 1e-5 if fixed_eps or fixed_defaults else 0.0 if (eval_no_eps and not training) else eps
    if training or eval_batch_stats:
        mean = x.mean(dim=dim, keepdim=dim == 1)
        var = x.var(dim=dim, unbiased=unbiased_norm, keepdim=dim == 1)
    else:
        mean, var = rm, rv
    xhat = (x - mean) / (var + eps if no_sqrt else var.sqrt() + eps if eps_outside else (var + eps).sqrt())
    y = xhat if no_affine else beta * xhat + gamma if swap_affine else gamma * xhat + beta
    if training or eval_updates:
        n = x.shape[0]
        bmean = x.mean(0)
        bvar = x.var(0, unbiased=False) if biased_running else x.var(0, unbiased=True) if n > 1 else x.var(0, unbiased=False)
        bvar = x.std(0) if running_std else bvar
        w = (1 - momentum) if inverted_momentum else momentum
        rm = (1 - w) * rm + w * bmean.detach()  # bookkeeping: no autograd graph, as nn.BatchNorm1d's buffers
        rv = (1 - w) * rv + w * bvar.detach()
    return y, rm, rv


_BN_MISTAKES = {
    "unbiased_norm": "you normalised with the unbiased batch variance (N−1): the normalisation and the running "
                     "update use different estimates (read the formulas above again).",
    "biased_running": "the running variance is updated with the *unbiased* batch variance (N−1), while the "
                      "normalisation itself uses the biased one.",
    "inverted_momentum": "you gave `momentum` to the old running value, as an optimizer's momentum would: "
                         "PyTorch's batch-norm momentum weighs the other term.",
    "eval_batch_stats": "in eval mode use the running mean and variance, not the statistics of the batch.",
    "dim": "normalise each feature over the batch (dim 0), not each sample over its features (dim 1) — that "
           "would be layer norm.",
    "no_affine": "apply the learned scale and shift: y = gamma·x̂ + beta.",
    "eps_outside": "eps was added outside the square root, √σ² + eps: that is not the formula above.",
    "fixed_momentum": "your function uses momentum = 0.1 whatever the caller passes: read the `momentum` "
                      "argument (the checker passes another value).",
    "fixed_eps": "your function uses eps = 1e-5 whatever the caller passes: read the `eps` argument (the checker "
                 "passes another value).",
    "fixed_defaults": "your function uses momentum = 0.1 and eps = 1e-5 whatever the caller passes: read the "
                      "`momentum` and `eps` arguments (the checker passes other values).",
    "eval_updates": "in eval mode your function also updated the running statistics: evaluation only reads "
                    "them; only training steps change them.",
    "swap_affine": "gamma and beta are swapped: gamma is the learned scale of x̂, beta the learned shift.",
    "running_std": "the running variance was updated with a standard deviation (`std`), not a variance.",
    "eval_no_eps": "in eval mode you left eps out of the denominator: it is there in both modes (the checker "
                   "uses a large eps, so it shows).",
    "no_sqrt": "you divided by the variance itself: normalising divides by a standard deviation, so that x̂ has "
               "variance 1.",
}


@_graded('check_batch_norm(batch_norm)')
def check_batch_norm(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5)``.

    It must return ``(y, new_running_mean, new_running_var)``.  Reference:
    ``nn.BatchNorm1d`` in float64 — two training steps (the running statistics carry
    over), then one evaluation step.
    """
    name = "batch_norm"
    if _not_a_function(fn):
        return _not_callable(name, fn, "a function batch_norm(x, gamma, beta, running_mean, running_var, "
                                       "training, momentum=0.1, eps=1e-5)", verbose)
    bad = _signature_report(name, fn, "batch_norm", [(k, _NO_DEFAULT) for k in (
        "x", "gamma", "beta", "running_mean", "running_var", "training")] + [("momentum", 0.1), ("eps", 1e-5)], verbose)
    if bad is not None:
        return bad
    g = torch.Generator().manual_seed(0)
    D, momentum, eps = 5, 0.3, 1e-3
    gamma = torch.rand(D, generator=g, dtype=torch.float64) + 0.5
    beta = torch.randn(D, generator=g, dtype=torch.float64)
    xs = [torch.randn(8, D, generator=g, dtype=torch.float64) * 3 + 1, torch.randn(6, D, generator=g,
          dtype=torch.float64) * 0.5 - 2, torch.randn(4, D, generator=g, dtype=torch.float64)]
    bn = nn.BatchNorm1d(D, momentum=momentum, eps=eps).double()
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
    steps = [("training step 1", xs[0], True), ("training step 2", xs[1], True), ("eval step", xs[2], False)]
    rm, rv = torch.zeros(D, dtype=torch.float64), torch.ones(D, dtype=torch.float64)
    learner = []  # (y, rm, rv) per step, to look for a known mistake afterwards
    for label, x, training in steps:
        bn.train(training)
        with torch.no_grad():
            y_ref = bn(x)
        case = f"{label}: x of shape {tuple(x.shape)}, momentum={momentum}, eps={eps}"
        args = [x.clone(), gamma.clone(), beta.clone()]
        stats_in = [rm.clone(), rv.clone()]
        try:
            out = fn(*args, *stats_in, training, momentum, eps)
        except NotImplementedError:
            return _not_yet(name, "batch_norm", verbose)
        except Exception as e:
            return _raised(name, e, verbose, case)
        changed = [n for n, a, b in zip(("x", "gamma", "beta"), args, (x, gamma, beta)) if not torch.equal(a, b)]
        if changed:
            return _report(name, FAIL, f"your function overwrote its argument `{changed[0]}` in place.", case=case,
                           hint="the caller still needs its input (the layer below, the backward pass): compute "
                                "new tensors (`x - mean`, not `x -= mean` or `x.sub_(mean)`).", verbose=verbose)
        if not (isinstance(out, (tuple, list)) and len(out) == 3 and all(isinstance(t, torch.Tensor) for t in out)):
            numpy = _is_numpy(out) or (isinstance(out, (tuple, list)) and any(_is_numpy(t) for t in out))
            return _report(name, FAIL, "expected a tuple (y, running_mean, running_var) of three tensors.",
                           case=case, got=_describe(out) + (" (some of them NumPy arrays)" if numpy and "NumPy"
                                                            not in _describe(out) else ""),
                           hint=_NUMPY_HINT if numpy else "`return y, running_mean, running_var`.",
                           verbose=verbose)
        moved = [n for n, a, b in zip(("running_mean", "running_var"), stats_in, (rm, rv)) if not torch.equal(a, b)]
        if moved:
            return _report(name, FAIL, f"your function changed its argument `{moved[0]}` in place.", case=case,
                           hint="an in-place operation (`mul_`, `add_`, `-=`, `[:] =`) wrote into the caller's "
                                "running statistics: the task asks for the new ones as new tensors, returned "
                                "(the caller decides where to keep them).", verbose=verbose)
        cast = [(n, t.dtype) for n, t in zip(("y", "running_mean", "running_var"), out) if t.dtype != x.dtype]
        if cast:
            return _report(name, FAIL, f"`{cast[0][0]}` comes back as {cast[0][1]}, but the inputs are {x.dtype}.",
                           case=case, expected=f"y, running_mean and running_var in {x.dtype}, as nn.BatchNorm1d "
                           "returns them", got=", ".join(f"{n}: {d}" for n, d in cast), hint=_DTYPE_HINT,
                           verbose=verbose)
        y, rm_new, rv_new = (t.double() for t in out)
        shapes = [tuple(t.shape) for t in out]
        if shapes[0] != tuple(x.shape) and sorted(shapes) == sorted([tuple(x.shape), (D,), (D,)]):
            at = ("first", "second", "third")[shapes.index(tuple(x.shape))]
            return _report(name, FAIL, "the three results come back in another order: the normalised output "
                           f"(shape {tuple(x.shape)}) is your {at} item.", case=case,
                           expected=f"(y {tuple(x.shape)}, running_mean ({D},), running_var ({D},))",
                           got="(" + ", ".join(str(sh) for sh in shapes) + ")",
                           hint="the caller unpacks `y, running_mean, running_var = batch_norm(...)`: return them "
                                "in that order.", verbose=verbose)
        if tuple(y.shape) != tuple(x.shape) or rm_new.shape != (D,) or rv_new.shape != (D,):
            return _report(name, FAIL, "wrong shapes.", case=case,
                           expected=f"y {tuple(x.shape)}, running stats ({D},)",
                           got=f"y {tuple(y.shape)}, running_mean {tuple(rm_new.shape)}, "
                               f"running_var {tuple(rv_new.shape)}",
                           hint="compute one mean/variance per feature: `x.mean(dim=0)` has shape (D,).",
                           verbose=verbose)
        learner.append((y, rm_new, rv_new))
        if training and torch.allclose(rm_new, bn.running_var, rtol=1e-6, atol=1e-8) and torch.allclose(
                rv_new, bn.running_mean, rtol=1e-6, atol=1e-8) and not torch.allclose(rm_new, rv_new):
            return _report(name, FAIL, "the running mean and the running variance are swapped.", case=case,
                           hint="return them in the order of the arguments: `return y, running_mean, running_var`.",
                           verbose=verbose)
        if training and torch.equal(rm_new, rm) and torch.equal(rv_new, rv):
            return _report(name, FAIL, "the running statistics were not updated in training mode.", case=case,
                           hint="in training, update them and return the new values: running ← (1 − momentum)·"
                                "running + momentum·batch statistic (the unbiased variance for running_var).",
                           verbose=verbose)
        parts = [("y", y, y_ref), ("running_mean", rm_new, bn.running_mean), ("running_var", rv_new, bn.running_var)]
        wrong = [(p, a, b) for p, a, b in parts if not torch.allclose(a, b, rtol=1e-6, atol=1e-8)]
        if wrong:
            hint = _bn_diagnose(learner, xs, gamma, beta, momentum, eps)
            part, a, b = wrong[0]
            return _report(name, FAIL, f"`{part}` differs from nn.BatchNorm1d.", case=case, expected=_fmt(b),
                           got=_fmt(a), details=[f"parts that differ: {', '.join(p for p, _, _ in wrong)}"],
                           hint=hint or "training: normalise with the batch mean and biased variance, then "
                                        "update running ← (1−momentum)·running + momentum·batch (unbiased "
                                        "variance); eval: normalise with the running statistics.",
                           verbose=verbose)
        rm, rv = bn.running_mean.clone(), bn.running_var.clone()
    stats = (torch.zeros(D, dtype=torch.float64), torch.ones(D, dtype=torch.float64))
    bad = _borrowed(fn, "batch_norm", (xs[0].clone(), gamma.clone(), beta.clone(), *stats, True, momentum, eps)) \
        or _bn_float32_problem(fn, xs[0], gamma, beta, momentum, eps) \
        or _bn_grad_problem(fn, xs[0], gamma, beta, momentum, eps)
    bad = bad or _bn_stats_problem(fn, xs[0], gamma, beta)
    if bad:
        if "raised" in bad:
            return _raised(name, bad["raised"], verbose, bad["case"])
        return _report(name, FAIL, bad.pop("headline"), verbose=verbose, **bad)
    return _report(name, PASS, "correct — outputs and running statistics equal nn.BatchNorm1d in training "
                   "(two steps) and in eval mode, and gradients flow to x, gamma and beta as through it (in both modes).",
                   verbose=verbose)


def _bn_stats_problem(fn, x, gamma, beta) -> dict | None:
    """Two things the float64 steps, which pass every argument, cannot see: running statistics returned with an
    autograd graph (x requires grad, as in a network; nn.BatchNorm1d's buffers never carry one, and a loop that
    feeds them back keeps every step's graph alive), and the stub's defaults (momentum=0.1, eps=1e-5) changed."""
    import inspect

    D = x.shape[1]
    case = f"a training step with x requiring grad, as in a network: x of shape {tuple(x.shape)}"
    try:
        out = fn(x.clone().requires_grad_(), gamma.clone().requires_grad_(), beta.clone().requires_grad_(),
                 torch.zeros(D, dtype=torch.float64), torch.ones(D, dtype=torch.float64), True, 0.1, 1e-5)
    except Exception as e:
        return dict(raised=e, case=case)
    graph = [n for n, t in zip(("running_mean", "running_var"), out[1:3]) if isinstance(t, torch.Tensor)
             and t.requires_grad]
    if graph:
        return dict(headline=f"the returned `{graph[0]}` carries an autograd graph (requires_grad=True).",
                    case=case,
                    hint="the running statistics are bookkeeping, not part of the model's computation: build them "
                         "from the batch statistics detached (`mean.detach()`, `var.detach()`) or under "
                         "`torch.no_grad()`. Fed back step after step, a graph in them keeps every earlier step's "
                         "graph in memory.")
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    differ = [f"{k}={params[k].default!r} (the stub's: {v!r})" for k, v in (("momentum", 0.1), ("eps", 1e-5))
              if k in params and params[k].default is not params[k].empty and params[k].default != v]
    if differ:
        return dict(headline=f"your function changed the stub's defaults: {', '.join(differ)}.",
                    case="`batch_norm(x, gamma, beta, running_mean, running_var, training)`, momentum and eps "
                         "left out",
                    hint="keep the stub's signature, `momentum=0.1, eps=1e-5` (nn.BatchNorm1d's defaults): code "
                         "that leaves them out gets the defaults.")
    dflt_case = "`batch_norm(x, gamma, beta, running_mean, running_var, True)`, momentum and eps left out"
    try:
        got = fn(x.clone(), gamma.clone(), beta.clone(), torch.zeros(D, dtype=torch.float64),
                 torch.ones(D, dtype=torch.float64), True)
    except TypeError:
        return None  # no defaults at all: leaving them out fails loudly, not silently
    except Exception as e:
        return dict(raised=e, case=dflt_case)
    bn = nn.BatchNorm1d(D).double()
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
        y_ref = bn(x)
    want = (y_ref, bn.running_mean, bn.running_var)
    if not (isinstance(got, (tuple, list)) and len(got) == 3 and all(
            isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.detach().double(), b, rtol=1e-6,
                                                                                   atol=1e-8)
            for a, b in zip(got, want))):
        return dict(headline="called with its defaults only, your function does not use the stub's defaults "
                             "(momentum=0.1, eps=1e-5).", case=dflt_case,
                    hint="keep the stub's signature and use its `momentum` and `eps` arguments, not numbers "
                         "written into the body.")
    return None


def _bn_float32_problem(fn, x, gamma, beta, momentum, eps) -> dict | None:
    """A training step in float32, a network's own dtype (the float64 steps cannot see an answer that casts
    everything to float64): all three outputs must stay float32 and match nn.BatchNorm1d."""
    D = x.shape[1]
    args = [t.float() for t in (x, gamma, beta)] + [torch.zeros(D), torch.ones(D)]
    case = f"training step in float32: x of shape {tuple(x.shape)}, momentum={momentum}, eps={eps}"
    try:
        out = fn(*args, True, momentum, eps)
    except Exception as e:
        return dict(raised=e, case=case)
    if not (isinstance(out, (tuple, list)) and len(out) == 3 and all(isinstance(t, torch.Tensor) for t in out)):
        return dict(headline="expected a tuple (y, running_mean, running_var) of three tensors.", case=case,
                    got=_describe(out), hint="`return y, running_mean, running_var`, whatever the dtype.")
    cast = [(n, t.dtype) for n, t in zip(("y", "running_mean", "running_var"), out) if t.dtype != torch.float32]
    if cast:
        return dict(headline=f"`{cast[0][0]}` comes back as {cast[0][1]}, but the inputs are torch.float32.",
                    case=case, expected="y, running_mean and running_var in torch.float32, as nn.BatchNorm1d "
                    "returns them", got=", ".join(f"{n}: {d}" for n, d in cast), hint=_DTYPE_HINT)
    bn = nn.BatchNorm1d(D, momentum=momentum, eps=eps)
    with torch.no_grad():
        bn.weight.copy_(args[1])
        bn.bias.copy_(args[2])
        y_ref = bn(args[0])
    parts = [("y", out[0], y_ref), ("running_mean", out[1], bn.running_mean), ("running_var", out[2], bn.running_var)]
    wrong = [p for p, a, b in parts if a.shape != b.shape or not torch.allclose(a.detach(), b, rtol=1e-4, atol=1e-5)]
    if wrong:
        return dict(headline=f"`{wrong[0]}` differs from nn.BatchNorm1d in float32, though it matched in float64.",
                    case=case, details=[f"parts that differ: {', '.join(wrong)}"],
                    hint="compute in the input's dtype with torch operations on x (no constants or tensors made "
                         "in float64, no NumPy round trip), so the same code works in float32 and float64.")
    return None


def _bn_grad_problem(fn, x, gamma, beta, momentum, eps) -> dict | None:
    """The backward pass of a training step and of an eval step: gradients w.r.t. x, gamma and beta as
    F.batch_norm's (in eval mode y is still differentiable: fine-tuning with frozen statistics, input
    gradients, adversarial examples)."""
    for training in (True, False):
        bad = _bn_grad_problem_in(fn, x, gamma, beta, momentum, eps, training)
        if bad:
            return bad
    return None


def _bn_grad_problem_in(fn, x, gamma, beta, momentum, eps, training) -> dict | None:
    import torch.nn.functional as F

    mode = "training" if training else "eval"
    case = f"the gradients of {'a training' if training else 'an eval'} step, x of shape {tuple(x.shape)}"
    D = x.shape[1]
    g = torch.Generator().manual_seed(6)
    rm0 = torch.zeros(D, dtype=torch.float64) if training else 0.3 * torch.randn(D, generator=g, dtype=torch.float64)
    rv0 = torch.ones(D, dtype=torch.float64) if training else 0.5 + torch.rand(D, generator=g, dtype=torch.float64)
    r = torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    leaves = [t.clone().requires_grad_() for t in (x, gamma, beta)]
    ref = [t.clone().requires_grad_() for t in (x, gamma, beta)]
    y_ref = F.batch_norm(ref[0], rm0.clone(), rv0.clone(), ref[1], ref[2], training, momentum, eps)
    want = torch.autograd.grad((y_ref * r).sum(), ref)
    try:
        out = fn(*leaves, rm0.clone(), rv0.clone(), training, momentum, eps)
        frozen = _frozen(list(zip(("x", "gamma", "beta"), leaves)))
        if frozen:
            return dict(case=case, **frozen)
        y = out[0]
        if not (isinstance(y, torch.Tensor) and y.requires_grad):
            if not training:
                return dict(headline="in eval mode no gradient flows through your batch norm: y is cut off from "
                                     "x, gamma and beta.", case=case,
                            hint="nn.BatchNorm1d in eval mode is still differentiable (fine-tuning with frozen "
                                 "statistics, gradients with respect to the input): compute the eval branch "
                                 "without `torch.no_grad()` or `.detach()`; only the running statistics are "
                                 "bookkeeping.")
            return dict(headline="no gradient flows through your batch norm: y is cut off from x, gamma and beta.",
                        case=case, hint=_NO_GRAD_HINT.replace("on x itself", "on x, gamma and beta"))
        got = torch.autograd.grad((y.double() * r).sum(), leaves, allow_unused=True)
    except Exception as e:
        return dict(raised=e, case=case)
    for n, gr, w in zip(("x", "gamma", "beta"), got, want):
        if gr is None or not torch.allclose(gr.double(), w, rtol=1e-5, atol=1e-8):
            hint = (("the batch mean and variance must stay in the graph (no `.detach()` or `.item()` on "
                     "them): in training the gradient flows through them too.") if n == "x" and training else
                    "in eval mode y = gamma·(x − running_mean)/√(running_var + eps) + beta must stay "
                    "differentiable with respect to x: no `.detach()` or `torch.no_grad()` in the eval branch."
                    if n == "x" else
                    f"use `{n}` itself in the output (`gamma * x_hat + beta`): "
                    f"a `.detach()`, `.data`, `.item()` or a copy made with `torch.tensor(...)` of `{n}` cuts it "
                    f"from the graph, and the network could not learn its {'scale' if n == 'gamma' else 'shift'}.")
            return dict(headline=f"the gradient with respect to `{n}` differs from nn.BatchNorm1d's ({mode} "
                                 "mode).", case=case, hint=hint)
    return None


def _bn_diagnose(learner, xs, gamma, beta, momentum, eps) -> str | None:
    D = gamma.shape[0]
    for flag, hint in _BN_MISTAKES.items():
        rm, rv = torch.zeros(D, dtype=torch.float64), torch.ones(D, dtype=torch.float64)
        ok = True
        for (y, rm_l, rv_l), x, training in zip(learner, xs, (True, True, False)):
            y_m, rm, rv = _bn_reference(x, gamma, beta, rm, rv, training, momentum, eps, **{flag: True if flag != "dim" else 1})
            if not (torch.allclose(y, y_m, rtol=1e-6, atol=1e-8) and torch.allclose(rm_l, rm, rtol=1e-6, atol=1e-8)
                    and torch.allclose(rv_l, rv, rtol=1e-6, atol=1e-8)):
                ok = False
                break
        if ok:
            return hint
    return None


# ----------------------------------------------------------------------------- predict, then run
#: the stacks of the prediction task: 30 layers of width 256 with He's N(0, 2/fan_in) (derived for ReLU) but
#: leaky ReLU with Keras' default slope 0.3, pushed 16 random stacks deep (one stack's variance after 30
#: layers strays by about ±60 % from the mean at this width; the pooled 16 by about ±15 %)
LEAKY_STACK = dict(depth=30, width=256, slope=0.3, n=256, stacks=16)

#: a guess within this factor of the growth is near (the hint then asks for the exact count)
_GROWTH_FACTOR = 1.5


def _growth_band(slope: float) -> float:
    """A prediction is right within this factor of (1 + α²)^(depth − 1): half a layer's factor, √(1 + α²),
    each way (geometrically), so a rounded value (12 for 12.17) passes while one layer more or fewer (a whole
    factor 1 + α² off: 13.3 or 11.2) fails.  The task asks for a calculation ("work out what one layer
    multiplies it by, then compound that over the layers"), and the run cannot be the judge at this
    resolution: 16 pooled stacks scatter by about ±15 %, more than one layer's 9 %.  (At least 1 %, for
    α = 0.)"""
    return max(math.sqrt(1 + slope * slope), 1.01)


def leaky_variance_growth(*, depth: int = 30, width: int = 256, slope: float = 0.3, n: int = 256, stacks: int = 16,
                          seed: int = 0, gain: float = math.sqrt(2)) -> float:
    r"""How much the variance of the pre-activations grows from layer 1 to layer ``depth`` of a leaky-ReLU
    stack initialised for ReLU (He's :math:`\mathrm{Var}(W) = 2/\mathrm{fan_{in}}`, ``gain`` √2), measured.

    Pools ``stacks`` random stacks (:func:`course_utils.layers.deep_stack_stats`, seeds ``seed`` …): the
    mean over the stacks of Var(z_depth), divided by the mean of Var(z_1).  In expectation each layer
    multiplies the variance by :math:`2 \cdot \mathbb E[f(z)^2]/\mathrm{Var}(z) = 1 + \alpha^2`.
    """
    from ..layers import deep_stack_stats

    first, last = [], []
    with _one_thread():
        for s in range(seed, seed + stacks):
            v = deep_stack_stats(nn.LeakyReLU(slope), depth=depth, width=width, gain=gain, n=n, seed=s)
            first.append(v["pre_var"][0])
            last.append(v["pre_var"][-1])
    return float(sum(last) / sum(first))


def _compounded_layers(v: float, factor: float) -> int | None:
    """The whole number n ≥ 2 of layers for which ``factor``ⁿ is ``v`` (to 0.03 of a layer), or None: a
    growth compounded over a wrong count of layers (1.09¹⁵), told from a sum (1 + 29·0.09 = 1.09^14.9)."""
    n = math.log(v) / math.log(factor) if v > 0 and factor > 1 else 0.0
    return round(n) if round(n) >= 2 and abs(n - round(n)) < 0.03 else None


@_graded('check_leaky_growth(growth)', name="predict: variance growth")
def check_leaky_growth(answer, *, verbose: bool = True) -> CheckResult:
    """Grade a *prediction*: by what factor does the variance of the pre-activations grow from layer 1 to
    layer 30 of :data:`LEAKY_STACK` (leaky ReLU, slope 0.3, He's variance)?  Right within half a layer's
    factor of (1 + α²)^29 (:func:`_growth_band`: a layer more or fewer fails); a right answer then sees what
    the run (:func:`leaky_variance_growth`) measured."""
    name = "predict: variance growth"
    spec = LEAKY_STACK
    a, depth = spec["slope"], spec["depth"]
    if answer is None or answer is ...:
        return _report(name, TODO, "not yet — set `growth` to your prediction (a number) and run the cell again.",
                       verbose=verbose)
    v, why = _as_number(answer, ratio=True)
    if why:
        return _report(name, FAIL, why, hint="a factor: Var(layer 30) / Var(layer 1), e.g. 2.5 for a variance "
                       "that grows to two and a half times its size.", verbose=verbose)
    if v <= 0:
        return _report(name, FAIL, f"a ratio of two variances is positive, got {v:g}.",
                       hint="Var(layer 30) / Var(layer 1): both are positive.", verbose=verbose)
    steps = depth - 1
    expected = (1 + a * a) ** steps
    if abs(math.log(v / expected)) <= math.log(_growth_band(a)):
        measured = leaky_variance_growth(**spec)
        return _report(name, PASS, f"right — the run grows the variance {measured:.3g}-fold from layer 1 to "
                       f"layer {depth} (pooled over {spec['stacks']} random stacks).",
                       details=[f"each layer multiplies it by 2·E[f(z)²]/Var(z) = 1 + α² = {1 + a * a:g}; "
                                f"{steps} layers give {expected:.3g} (the run scatters about that by some 15 %).",
                                f"torch's kaiming_normal_(w, a={a:g}, nonlinearity='leaky_relu') divides He's "
                                "variance by 1 + a² and keeps the variance level."], verbose=verbose)
    near = lambda x, rel=0.03: abs(v / x - 1) < rel  # noqa: E731
    # (1 + α²/2)ⁿ and 1 + n·α² are nearly equal here: the one nearer the answer names the mistake
    gap = lambda xs: min(abs(math.log(v / x)) for x in xs)  # noqa: E731
    halves, additive = [(1 + a * a / 2) ** n for n in (steps, depth)], [1 + a * a * n for n in (steps, depth)]
    if a > 0 and (near((1 + a * a) ** depth, 0.01) or near((1 + a * a) ** (steps - 1), 0.01)):
        hint = (f"one layer off: Var(z) at layer 1 is where the count starts, and the factor applies once per "
                f"layer after it, up to layer {depth}. Count those layers again.")
        if near(expected - 1, 0.01):
            hint += " (Or did you give the increase, the factor − 1, instead of the factor itself?)"
    elif near(1 + a * a) or near(1 + a) or near(1 + a * a / 2):
        hint = ("that is (about) one layer's factor: the question asks for the growth over the whole stack. "
                "Count how many layers multiply the variance between layer 1 and layer "
                f"{depth}, and compound the factor over them.")
    elif a > 0 and (near(100 * expected, 0.03) or near(100 * (expected - 1), 0.03)):
        hint = ("that looks like a percentage: give the factor itself, Var(layer 30) / Var(layer 1), as a plain "
                "ratio (a variance that doubles grows by a factor of 2, not 200).")
    elif a > 0 and any(near(x, 0.05) for x in halves) and gap(halves) < gap(additive):
        hint = ("you compounded the factor over the layers, but the one-layer factor is off: leaky ReLU's "
                "E[f(z)²] comes from both halves of z, and He's variance 2/fan_in multiplies it — check that "
                "every factor is in your per-layer number.")
    elif near((1 + a) ** steps, 0.1) or near((1 + a) ** depth, 0.1):
        hint = "the slope multiplies the negative half of the signal: what does that do to its *variance*?"
    elif near(2 * (1 + a * a) ** steps, 0.1) or near(2 * (1 + a * a) ** depth, 0.1):
        hint = ("that looks like the variance at layer 30 itself; the task asks for the ratio Var(z) at layer 30 / "
                "Var(z) at layer 1 (layer 1 starts at fan_in·Var(W)·Var(x) = 2, not 1).")
    elif a > 0 and _compounded_layers(v, 1 + a * a) not in (None, steps):
        n = _compounded_layers(v, 1 + a * a)
        hint = (f"you compounded one layer's factor, but over {n} layers: count again how many layers multiply "
                f"the variance between layer 1 and layer {depth}.")
    elif near(1 + a * a * steps, 0.05) or near(1 + a * a * depth, 0.05):
        hint = ("the factors multiply, they do not add: the same factor applies again at every layer (and check "
                "the factor itself: E[f(z)²] for a symmetric z).")
    elif abs(math.log(v / expected)) <= math.log(_GROWTH_FACTOR):
        hint = ("close, but not what compounding gives: one layer more or fewer changes the result by less than "
                f"10 %, so work the one-layer factor out exactly and count the layers from 1 to {depth}, rather "
                "than estimate.")
    elif 1 / _GROWTH_FACTOR <= v <= _GROWTH_FACTOR:
        hint = ("He's 2/fan_in exactly makes up for ReLU, which keeps half of the variance (E[f(z)²] = Var(z)/2). "
                "Leaky ReLU keeps more than that: how much more, per layer?")
    elif v < 1:
        hint = ("the leak only adds to E[f(z)²] compared with ReLU, and He's variance keeps a ReLU stack level: can "
                "the variance shrink here?")
    else:
        hint = ("each layer multiplies the variance by fan_in·Var(W)·E[f(z)²]/Var(z); work out that factor for "
                f"leaky ReLU with α = {a:g}, then compound it over the layers.")
    side = "too small" if v < expected else "too large"
    return _report(name, FAIL, f"not what the stack does: {v:g} is {side}.", hint=hint, verbose=verbose)
