"""Graders and small interactive helpers for the exercise notebooks in ``exercises/``.

Every ``check_*`` function runs the learner's code on fixed cases, compares the
result with a reference computed by PyTorch itself (``torch.nn.init``,
``nn.LeakyReLU``, ``nn.BatchNorm1d``, ``torch.optim``) or by a closed-form
formula, prints one friendly message and returns a :class:`CheckResult`
(truthy when the answer is right)::

    ✅ passed   ❌ not quite (what was expected, what came out, a hint)   ⏳ not yet (still the TODO stub)

A check never lets the learner's exception escape: a ``NotImplementedError``
(the unmodified stub) reads as "not yet", any other exception is reported with
its type, its message and a hint.  The graders depend only on ``torch`` (and
``course_utils.train`` for the short training runs of notebooks 04 and 07), not
on the book's other from-scratch modules, so a bug elsewhere cannot make a
right answer fail.

The module also carries the pieces the notebooks' sliders need: a depth sweep of
activation variance, the two loss surfaces of the optimizer chapter, learning-rate
curves of the real torch schedulers, and the model answers of the conceptual
questions (revealed by :func:`show_answer` or :func:`answer_button`).
"""
from __future__ import annotations

import dataclasses
import math
import traceback
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CheckResult", "attempt",
    # 01 initialization
    "measure_backward_ratio", "check_backward_condition", "check_xavier_uniform", "check_kaiming_normal",
    "activation_variances", "plot_activation_variances", "variance_slider",
    # 02 activations & normalization
    "check_leaky_relu", "check_batch_norm",
    # 03 optimizers
    "check_momentum", "check_rmsprop", "check_adam", "pathological_curvature", "steep_optima", "SURFACES",
    "surface_trajectory", "plot_surface", "surface_explorer",
    # 04 schedules
    "SCHEDULES", "schedule_lrs", "schedule_explorer", "small_subset", "small_mlp", "check_schedule_beats_constant",
    # 05 regularization
    "check_mc_dropout", "mc_dropout_predict_reference", "predictive_entropy", "check_l2_penalty",
    "compare_l2_and_decay", "check_choice",
    # 06 conceptual questions
    "QUESTIONS", "show_question", "show_answer", "answer_button",
    # 07 capstone
    "CAPSTONE_SIZES", "capstone_sizes", "check_capstone_model", "capstone_run", "mc_dropout_accuracy",
    "capstone_table",
]

PASS, FAIL, TODO = "pass", "fail", "not yet"
_ICON = {PASS: "✅", FAIL: "❌", TODO: "⏳"}


# ============================================================================ feedback plumbing
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
    frames = [f for f in traceback.extract_tb(e.__traceback__) if not f.filename.endswith("exercises.py")]
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


# ============================================================================ 01 initialization
def measure_backward_ratio(var_w: float, d_x: int, d_y: int, *, n: int = 2048, seed: int = 0) -> float:
    """Var(∂L/∂x) / Var(∂L/∂y) through ``y = W x`` with ``W ~ N(0, var_w)`` of shape ``(d_y, d_x)``.

    The backward pass computes ``∂L/∂x = Wᵀ ∂L/∂y``: each input gradient sums ``d_y``
    terms, so the ratio is ``d_y · var_w`` (up to sampling noise).
    """
    if not (isinstance(var_w, (int, float)) and math.isfinite(var_w) and var_w >= 0):
        raise ValueError(f"var_w must be a finite number >= 0, got {var_w!r}.")
    if d_x <= 0 or d_y <= 0:
        raise ValueError(f"d_x and d_y must be positive, got d_x={d_x}, d_y={d_y}.")
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(d_y, d_x, generator=g, dtype=torch.float64) * math.sqrt(var_w)  # (d_y, d_x)
    grad_y = torch.randn(n, d_y, generator=g, dtype=torch.float64)                     # (n, d_y)
    grad_x = grad_y @ W                                                                 # (n, d_x)
    return float(grad_x.var() / grad_y.var())


_BACKWARD_CASES = ((512, 128), (100, 400), (256, 256), (784, 32))
_BACKWARD_MISTAKES = (
    (lambda dx, dy: 1 / dx, "that is the forward-pass condition. Going backward, ∂L/∂x_j = Σ_i W_ij ∂L/∂y_i "
                            "sums over the d_y *outputs*, so the count that matters is d_y."),
    (lambda dx, dy: 2 / (dx + dy), "that is Glorot's compromise between the two conditions; the question asks "
                                   "for the backward condition alone."),
    (lambda dx, dy: 2 / dy, "the factor 2 belongs to ReLU (it halves the signal); the layer here is linear."),
    (lambda dx, dy: float(dy), "upside down: the variance of the weights must shrink when d_y grows."),
    (lambda dx, dy: 1 / math.sqrt(dy), "that is the standard deviation; the question asks for the variance."),
)


def check_backward_condition(answer, *, verbose: bool = True) -> CheckResult:
    """Grade the backward-pass variance condition Var(W) = 1/d_y.

    ``answer`` is a function ``(d_x, d_y) -> Var(W)`` or a number for the case
    d_x = 512, d_y = 128.  The check also pushes unit-variance gradients back
    through a random layer with the learner's variance and reports the ratio.
    """
    name = "backward condition"
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        fn, cases = (lambda dx, dy: float(answer)), _BACKWARD_CASES[:1]
    elif callable(answer):
        fn, cases = answer, _BACKWARD_CASES
    else:
        return _not_callable(name, answer, "a function (d_x, d_y) -> Var(W) or a number", verbose)
    for d_x, d_y in cases:
        case = f"layer with d_x={d_x} inputs and d_y={d_y} outputs"
        try:
            got = fn(d_x, d_y)
        except NotImplementedError:
            return _not_yet(name, getattr(answer, "__name__", "answer"), verbose)
        except Exception as e:  # the learner's code: report, never raise
            return _raised(name, e, verbose, case)
        try:
            got = float(got)
        except (TypeError, ValueError):
            return _report(name, FAIL, "the answer is not a number.", case=case, got=repr(got),
                           hint="return a Python float such as `1 / d_y`.", verbose=verbose)
        want = 1 / d_y
        if not math.isfinite(got) or got < 0:
            return _report(name, FAIL, "a variance must be a finite number ≥ 0.", case=case, got=f"{got}",
                           hint="the answer is a positive fraction of 1/d_x or 1/d_y.", verbose=verbose)
        if abs(got - want) > 1e-6 * want:
            ratio = measure_backward_ratio(got, d_x, d_y)
            hint = next((h for f, h in _BACKWARD_MISTAKES if abs(f(d_x, d_y) - got) <= 1e-6 * abs(f(d_x, d_y))),
                        "write Var(∂L/∂x_j) as a sum of d_y independent products W_ij·∂L/∂y_i and ask when it "
                        "equals Var(∂L/∂y).")
            return _report(name, FAIL, "not quite.", case=case, expected=f"Var(W) = {want:.6g}",
                           got=f"Var(W) = {got:.6g}",
                           details=[f"measured: with your Var(W) a unit-variance gradient leaves the layer with "
                                    f"variance {ratio:.3f} instead of ≈ 1"], hint=hint, verbose=verbose)
    d_x, d_y = cases[0]
    ratio = measure_backward_ratio(1 / d_y, d_x, d_y)
    return _report(name, PASS, f"correct — Var(W) = 1/d_y. Measured on a random {d_y}×{d_x} layer: "
                   f"Var(∂L/∂x)/Var(∂L/∂y) = {ratio:.3f} (≈ 1).", verbose=verbose)


_INIT_CASES = ((64, 1024), (1024, 64), (300, 300), (200, 500))


def _run_init(fn, shape, seed, *args):
    torch.manual_seed(seed)
    w = torch.full(shape, float("nan"))
    out = fn(w, *args)
    return w, out


def _init_failure(name, w, out, shape):
    """Common shape/in-place problems, or None."""
    if out is not None and not isinstance(out, torch.Tensor):
        return dict(headline=f"the function returned {type(out).__name__}, not a tensor.",
                    hint="fill the tensor in place and `return w`, as torch.nn.init does.")
    result = out if out is not None else w
    if tuple(result.shape) != tuple(shape):
        return dict(headline="the shape changed.", expected=f"shape {tuple(shape)}", got=f"shape {tuple(result.shape)}",
                    hint="fill the given tensor (e.g. `w.uniform_(-a, a)`); don't build a new one of another shape.")
    if torch.isnan(w).any():
        return dict(headline="the weight tensor you were given was not filled in place.",
                    hint="use the in-place methods `w.uniform_(...)` / `w.normal_(...)` inside `torch.no_grad()`; "
                         "assigning `w = ...` only rebinds the local name.")
    if not torch.isfinite(result).all():
        return dict(headline="the weights contain inf or NaN.", hint="check for a division by zero in the scale.")
    return None


def _variance_hint(var: float, fan_in: int, fan_out: int, candidates) -> str | None:
    for value, hint in candidates:
        if abs(var / value - 1) < 0.04:
            return hint
    return None


def check_xavier_uniform(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``xavier_uniform_(w, gain=1.0)``: U(−a, a) with a = gain·√(6/(fan_in+fan_out)), in place.

    Reference: the statistics of ``torch.nn.init.xavier_uniform_`` (variance
    gain²·2/(fan_in+fan_out), all values inside ±a), on four weight shapes.
    """
    name = "xavier_uniform_"
    if not callable(fn):
        return _not_callable(name, fn, "a function xavier_uniform_(w, gain=1.0)", verbose)
    for k, shape in enumerate(_INIT_CASES):
        fan_out, fan_in = shape
        gain = 1.0 if k < 3 else 5 / 3
        case = f"weight of shape {shape} (fan_out={fan_out}, fan_in={fan_in}), gain={gain:.3g}"
        try:
            w, out = _run_init(fn, shape, k, *(() if gain == 1.0 else (gain,)))
        except NotImplementedError:
            return _not_yet(name, "xavier_uniform_", verbose)
        except Exception as e:
            return _raised(name, e, verbose, case)
        bad = _init_failure(name, w, out, shape)
        if bad:
            return _report(name, FAIL, bad.pop("headline"), case=case, verbose=verbose, **bad)
        w = (out if out is not None else w).double()
        want_var = gain ** 2 * 2 / (fan_in + fan_out)
        bound = gain * math.sqrt(6 / (fan_in + fan_out))
        var, mean, wmax = w.var().item(), w.mean().item(), w.abs().max().item()
        if abs(mean) > 6 * math.sqrt(want_var / w.numel()):
            return _report(name, FAIL, "the weights are not centred on 0.", case=case, expected="mean ≈ 0",
                           got=f"mean = {mean:.4g}", hint="draw from U(−a, a), not U(0, a).", verbose=verbose)
        if abs(var / want_var - 1) > 0.04:
            hint = _variance_hint(var, fan_in, fan_out, [
                (gain ** 2 / fan_in, "that is LeCun's 1/fan_in; Xavier averages the forward and backward "
                                      "conditions: 2/(fan_in + fan_out)."),
                (gain ** 2 * 2 / fan_in, "that is Kaiming's 2/fan_in; Xavier uses 2/(fan_in + fan_out)."),
                (gain ** 2 / (fan_in + fan_out), "the factor 2 is missing: Var(W) = 2/(fan_in + fan_out)."),
                (want_var / 3, "U(−a, a) has variance a²/3, so the bound is a = √(3·σ²) = √(6/(fan_in+fan_out)), "
                               "not σ itself."),
                (2 / (fan_in + fan_out) if gain != 1 else -1, "the `gain` argument was ignored: multiply the bound "
                                                              "by gain."),
                (want_var * 3, "did you use the bound a² as the variance? a = √(6/(fan_in+fan_out)) gives "
                               "variance a²/3."),
            ]) or "Var(W) must be 2/(fan_in + fan_out), with fan_in = w.shape[1], fan_out = w.shape[0]."
            return _report(name, FAIL, "the variance of the weights is off.", case=case,
                           expected=f"Var(W) ≈ {want_var:.4g} (torch.nn.init.xavier_uniform_)",
                           got=f"Var(W) = {var:.4g}", hint=hint, verbose=verbose)
        if wmax > bound * (1 + 1e-6) or wmax < 0.97 * bound:
            return _report(name, FAIL, "the values are not uniform on [−a, a].", case=case,
                           expected=f"all |w| ≤ a = {bound:.4g}, filling the interval",
                           got=f"max |w| = {wmax:.4g}",
                           hint="use `w.uniform_(-a, a)`; a normal distribution with the right variance is "
                                "`xavier_normal_`, another function.", verbose=verbose)
    return _report(name, PASS, "correct — Var(W) = 2/(fan_in+fan_out) and the values fill U(−a, a) on all "
                   f"{len(_INIT_CASES)} shapes, as torch.nn.init.xavier_uniform_.", verbose=verbose)


def check_kaiming_normal(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``kaiming_normal_(w, a=0.0)``: N(0, 2/((1+a²)·fan_in)) with fan_in = ``w.shape[1]``, in place.

    Reference: the statistics of ``torch.nn.init.kaiming_normal_(w, a, mode="fan_in",
    nonlinearity="leaky_relu")`` (which is ReLU's 2/fan_in at a = 0).
    """
    name = "kaiming_normal_"
    if not callable(fn):
        return _not_callable(name, fn, "a function kaiming_normal_(w, a=0.0)", verbose)
    cases = ((64, 1024, 0.0), (1024, 64, 0.0), (400, 400, 0.0), (300, 512, 1.0))
    for k, (fan_out, fan_in, a) in enumerate(cases):
        shape = (fan_out, fan_in)
        case = f"weight of shape {shape} (fan_out={fan_out}, fan_in={fan_in}), a={a}"
        try:
            w, out = _run_init(fn, shape, 10 + k, *(() if a == 0.0 else (a,)))
        except NotImplementedError:
            return _not_yet(name, "kaiming_normal_", verbose)
        except Exception as e:
            return _raised(name, e, verbose, case)
        bad = _init_failure(name, w, out, shape)
        if bad:
            return _report(name, FAIL, bad.pop("headline"), case=case, verbose=verbose, **bad)
        w = (out if out is not None else w).double()
        gain2 = 2 / (1 + a * a)
        want_var = gain2 / fan_in
        var, mean = w.var().item(), w.mean().item()
        if abs(mean) > 6 * math.sqrt(want_var / w.numel()):
            return _report(name, FAIL, "the weights are not centred on 0.", case=case, expected="mean ≈ 0",
                           got=f"mean = {mean:.4g}", hint="draw from N(0, σ²): `w.normal_(0, std)`.",
                           verbose=verbose)
        if abs(var / want_var - 1) > 0.04:
            hint = _variance_hint(var, fan_in, fan_out, [
                (gain2 / fan_out, "you used fan_out. PyTorch stores a Linear weight as (out_features, "
                                  "in_features), so fan_in = w.shape[1]; Kaiming's forward rule divides by fan_in."),
                (1 / fan_in if a == 0 else -1, "that is LeCun's 1/fan_in: ReLU zeroes half of its inputs, so "
                                               "Kaiming doubles it to 2/fan_in."),
                (2 * gain2 / (fan_in + fan_out), "that mixes in fan_out like Xavier; Kaiming uses fan_in only."),
                ((gain2 / fan_in) ** 2, "you passed the variance where the standard deviation goes: "
                                            "`normal_(0, std)` takes std = √(2/fan_in)."),
                (2 / fan_in if a != 0 else -1, "the negative slope `a` was ignored: the gain is 2/(1 + a²)."),
            ]) or "Var(W) = 2/((1 + a²)·fan_in) with fan_in = w.shape[1]; `normal_` takes the std, not the variance."
            return _report(name, FAIL, "the variance of the weights is off.", case=case,
                           expected=f"Var(W) ≈ {want_var:.4g} (torch.nn.init.kaiming_normal_)",
                           got=f"Var(W) = {var:.4g}", hint=hint, verbose=verbose)
        tail = (w.abs() > 1.8 * math.sqrt(want_var)).double().mean().item()  # normal: 7.2 %, uniform(±√3σ): 0
        if tail < 0.04:
            return _report(name, FAIL, "the variance is right but the values do not look normal.", case=case,
                           expected="about 7 % of the weights beyond 1.8 σ (a Gaussian)",
                           got=f"{100 * tail:.1f} %", hint="draw with `w.normal_(0, std)`, not `uniform_`.",
                           verbose=verbose)
    return _report(name, PASS, "correct — Var(W) = 2/((1+a²)·fan_in) on all 4 shapes, matching "
                   "torch.nn.init.kaiming_normal_ (fan_in mode).", verbose=verbose)


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
    if init is None and not (std > 0):
        raise ValueError(f"std must be > 0, got {std!r}.")
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
    """Draw ``{label: per-layer variances}`` on a log scale (returns the axes)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, v in variances.items():
        ax.plot(np.arange(1, len(v) + 1), np.clip(v, 1e-30, None), marker="o", ms=3, label=label)
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", ls=":", lw=1)
    ax.set(xlabel="layer", ylabel="activation variance (log scale)",
           title=title or "Activation variance per layer")
    ax.legend(loc="best", fontsize="small")
    return ax


def variance_slider(inits: dict | None = None, *, width: int = 256):
    """Sliders over weight std, depth and activation that redraw the per-layer activation variance.

    ``inits`` maps labels to init functions ``f(w)`` (e.g. the learner's Xavier and
    Kaiming) drawn as extra lines for comparison.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    inits = dict(inits or {})

    def draw(std=1 / math.sqrt(width), depth=20, act="tanh"):
        curves = {f"N(0, {std:.3g}²)": activation_variances(std, depth, act=act, width=width)}
        for label, f in inits.items():
            try:
                curves[label] = activation_variances(1.0, depth, act=act, width=width, init=f)
            except NotImplementedError:
                print(f"⏳ {label}: not yet implemented — fill it in to see its line.")
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        plot_activation_variances(curves, ax=ax, title=f"{act}, width {width}, depth {depth}")
        plt.show()

    return widgets.interact(
        draw,
        std=widgets.FloatLogSlider(value=1 / math.sqrt(width), base=10, min=-2.5, max=0, step=0.05,
                                   description="weight std", continuous_update=False),
        depth=widgets.IntSlider(value=20, min=1, max=60, description="depth", continuous_update=False),
        act=widgets.Dropdown(options=list(_ACTS), value="tanh", description="activation"))


# ============================================================================ 02 activations & normalization
def check_leaky_relu(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``leaky_relu(x, negative_slope=0.01)`` against ``nn.LeakyReLU`` on several shapes and slopes."""
    name = "leaky_relu"
    if not callable(fn):
        return _not_callable(name, fn, "a function leaky_relu(x, negative_slope=0.01)", verbose)
    g = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], dtype=torch.float64), None),
             (torch.randn(4, 7, generator=g, dtype=torch.float64), 0.2),
             (torch.randn(2, 3, 5, generator=g, dtype=torch.float64), 0.01),
             (torch.randn(16, generator=g, dtype=torch.float64) * 5, 0.5)]
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
        want = nn.LeakyReLU(s)(x)
        if not isinstance(y, torch.Tensor):
            return _report(name, FAIL, f"returned {type(y).__name__}, not a tensor.", case=case,
                           hint="use torch operations (torch.where, clamp) and return the tensor.", verbose=verbose)
        if tuple(y.shape) != tuple(x.shape):
            return _report(name, FAIL, "the output has the wrong shape.", case=case,
                           expected=f"shape {tuple(x.shape)}", got=f"shape {tuple(y.shape)}",
                           hint="apply the function element-wise; don't sum or flatten.", verbose=verbose)
        if not torch.equal(x_in, x):
            return _report(name, FAIL, "your function modified its input in place.", case=case,
                           hint="build a new tensor (e.g. torch.where(x > 0, x, slope * x)); the caller "
                                "may still need x.", verbose=verbose)
        y = y.double()
        if torch.allclose(y, want, rtol=1e-6, atol=1e-9):
            continue
        pos, neg = x > 0, x < 0
        if torch.allclose(y[pos], s * x[pos]) and torch.allclose(y[neg], x[neg]):
            hint = "the branches are swapped: positive inputs pass unchanged, the slope multiplies the negative ones."
        elif not torch.allclose(y[pos], x[pos]):
            hint = "positive inputs must pass through unchanged (f(x) = x for x > 0); the slope applies to x < 0 only."
        elif torch.allclose(y[neg], torch.zeros_like(y[neg])):
            hint = "that is ReLU: negative inputs must be multiplied by the slope, not set to 0."
        elif torch.allclose(y[neg], 0.01 * x[neg]) and s != 0.01:
            hint = "the `negative_slope` argument was ignored (you used 0.01)."
        else:
            hint = "f(x) = x for x > 0 and negative_slope·x otherwise."
        bad = int((~torch.isclose(y, want)).nonzero()[0][0]) if y.dim() == 1 else None
        details = [f"at x = {x[bad].item():.3g}: expected {want[bad].item():.4g}, got {y[bad].item():.4g}"] \
            if bad is not None else []
        return _report(name, FAIL, "the values differ from nn.LeakyReLU.", case=case, details=details,
                       expected=_fmt(want), got=_fmt(y), hint=hint, verbose=verbose)
    return _report(name, PASS, f"correct — identical to nn.LeakyReLU on {len(cases)} inputs and slopes.",
                   verbose=verbose)


def _bn_reference(x, gamma, beta, rm, rv, training, momentum, eps, *, unbiased_norm=False, biased_running=False,
                  inverted_momentum=False, eval_batch_stats=False, dim=0, no_affine=False, eps_outside=False):
    """Batch norm for (N, D) inputs and some typical mistakes (all flags False = the correct algorithm)."""
    if training or eval_batch_stats:
        mean = x.mean(dim=dim, keepdim=dim == 1)
        var = x.var(dim=dim, unbiased=unbiased_norm, keepdim=dim == 1)
    else:
        mean, var = rm, rv
    xhat = (x - mean) / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())
    y = xhat if no_affine else gamma * xhat + beta
    if training:
        n = x.shape[0]
        bmean = x.mean(0)
        bvar = x.var(0, unbiased=False) if biased_running else x.var(0, unbiased=True) if n > 1 else x.var(0, unbiased=False)
        w = (1 - momentum) if inverted_momentum else momentum
        rm = (1 - w) * rm + w * bmean
        rv = (1 - w) * rv + w * bvar
    return y, rm, rv


_BN_MISTAKES = {
    "unbiased_norm": "In training, normalise with the *biased* batch variance (divide by N: "
                     "`x.var(0, unbiased=False)`); PyTorch uses the unbiased (N−1) estimate only to update the "
                     "running variance.",
    "biased_running": "the running variance is updated with the *unbiased* batch variance (N−1), while the "
                      "normalisation itself uses the biased one.",
    "inverted_momentum": "PyTorch's `momentum` is the weight of the NEW batch statistic: running ← "
                         "(1 − momentum)·running + momentum·batch (the opposite of optimizer momentum).",
    "eval_batch_stats": "in eval mode use the running mean and variance, not the statistics of the batch.",
    "dim": "normalise each feature over the batch (dim 0), not each sample over its features (dim 1) — that "
           "would be layer norm.",
    "no_affine": "apply the learned scale and shift: y = gamma·x̂ + beta.",
    "eps_outside": "eps goes inside the square root: (x − μ)/√(σ² + eps).",
}


def check_batch_norm(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5)``.

    It must return ``(y, new_running_mean, new_running_var)``.  Reference:
    ``nn.BatchNorm1d`` in float64 — two training steps (the running statistics carry
    over), then one evaluation step.
    """
    name = "batch_norm"
    if not callable(fn):
        return _not_callable(name, fn, "a function batch_norm(x, gamma, beta, running_mean, running_var, "
                                       "training, momentum=0.1, eps=1e-5)", verbose)
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
        try:
            out = fn(x.clone(), gamma.clone(), beta.clone(), rm.clone(), rv.clone(), training, momentum, eps)
        except NotImplementedError:
            return _not_yet(name, "batch_norm", verbose)
        except Exception as e:
            return _raised(name, e, verbose, case)
        if not (isinstance(out, (tuple, list)) and len(out) == 3 and all(isinstance(t, torch.Tensor) for t in out)):
            return _report(name, FAIL, "expected a tuple (y, running_mean, running_var) of three tensors.",
                           case=case, got=f"{type(out).__name__}", hint="`return y, running_mean, running_var`.",
                           verbose=verbose)
        y, rm_new, rv_new = (t.double() for t in out)
        if tuple(y.shape) != tuple(x.shape) or rm_new.shape != (D,) or rv_new.shape != (D,):
            return _report(name, FAIL, "wrong shapes.", case=case,
                           expected=f"y {tuple(x.shape)}, running stats ({D},)",
                           got=f"y {tuple(y.shape)}, running_mean {tuple(rm_new.shape)}, "
                               f"running_var {tuple(rv_new.shape)}",
                           hint="compute one mean/variance per feature: `x.mean(dim=0)` has shape (D,).",
                           verbose=verbose)
        learner.append((y, rm_new, rv_new))
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
    return _report(name, PASS, "correct — outputs and running statistics equal nn.BatchNorm1d in training "
                   "(two steps) and in eval mode.", verbose=verbose)


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


# ============================================================================ 03 optimizers
def _opt_problem():
    """A small non-quadratic problem in float64 with two parameter groups and one parameter without grad."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(16, 4, generator=g, dtype=torch.float64)
    T = torch.randn(16, 3, generator=g, dtype=torch.float64)
    W = torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(3, generator=g, dtype=torch.float64).requires_grad_()
    unused = torch.randn(2, generator=g, dtype=torch.float64).requires_grad_()

    def loss_fn():
        return ((X @ W.T + b - T) ** 2).mean() + 0.1 * (W ** 4).sum() + 0.05 * torch.sin(3 * b).sum()

    return [W, b, unused], loss_fn


def _trajectory(make_opt, steps: int):
    """Run ``steps`` optimizer steps; return the list of parameter snapshots after each step."""
    (W, b, unused), loss_fn = _opt_problem()
    opt = make_opt([{"params": [W, unused]}, {"params": [b], "lr_scale": 0.5}])
    snaps = []
    for _ in range(steps):
        opt.zero_grad()
        loss_fn().backward()
        unused.grad = None
        opt.step()
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
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.rule(p, p.grad, self.state[p], group)


def _optimizer_check(name, cls, *, kwargs, reference, mistakes, steps=12, verbose=True) -> CheckResult:
    if not (isinstance(cls, type) or callable(cls)):
        return _not_callable(name, cls, "your optimizer class", verbose)
    lr = kwargs["lr"]
    sig = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    case = f"{steps} steps on a small float64 problem, two parameter groups (lr and lr/2), {sig}"
    try:
        opt, got = _trajectory(lambda pg: cls(_groups(pg, lr), **kwargs), steps)
    except NotImplementedError:
        return _not_yet(name, getattr(cls, "__name__", name), verbose)
    except Exception as e:
        return _raised(name, e, verbose, case)
    if not isinstance(opt, torch.optim.Optimizer):
        return _report(name, FAIL, f"{getattr(cls, '__name__', cls)} is not a torch.optim.Optimizer.",
                       hint="subclass it: `class MyOpt(torch.optim.Optimizer)` and call "
                            "`super().__init__(params, defaults)`.", verbose=verbose)
    _, want = _trajectory(lambda pg: reference(_groups(pg, lr)), steps)
    for t, (g_snap, w_snap) in enumerate(zip(got, want), start=1):
        if not torch.equal(g_snap[2], w_snap[2]):
            return _report(name, FAIL, "a parameter without gradient was changed.", case=case,
                           hint="skip parameters whose `.grad` is None.", verbose=verbose)
        diffs = [(a - b).abs().max().item() for a, b in zip(g_snap, w_snap)]
        if any(not math.isfinite(d) for d in diffs) or max(diffs) > 1e-9 * (1 + max(s.abs().max().item() for s in w_snap)):
            hint = None
            for variant, h in mistakes:
                _, alt = _trajectory(lambda pg: variant(_groups(pg, lr)), steps)
                if all(all(torch.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(ga, aa))
                       for ga, aa in zip(got, alt)):
                    hint = h
                    break
            which = "weight W" if diffs[0] >= diffs[1] else "bias b (second group, lr/2)"
            return _report(name, FAIL, f"the parameters first differ from torch.optim after step {t}.", case=case,
                           expected=f"{which} = {_fmt(w_snap[0] if diffs[0] >= diffs[1] else w_snap[1])}",
                           got=f"{which} = {_fmt(g_snap[0] if diffs[0] >= diffs[1] else g_snap[1])}",
                           details=[f"largest difference: {max(diffs):.3g}"],
                           hint=hint or "compare your update line by line with the formula in the markdown above; "
                                        "keep per-parameter state in `self.state[p]` and read lr from `group['lr']`.",
                           verbose=verbose)
    return _report(name, PASS, f"correct — identical to the torch.optim reference for {steps} steps "
                   "(two parameter groups, a parameter without gradient skipped).", verbose=verbose)


def _rule_momentum(sign=1.0, ema=False, plain=False, nesterov=False):
    def rule(p, g, st, group):
        beta = group["momentum"]
        if plain:
            p.add_(g, alpha=-group["lr"])
            return
        v = st.setdefault("v", torch.zeros_like(p))
        v.mul_(beta).add_(g, alpha=(1 - beta) if ema else 1.0)
        p.add_(g + beta * v if nesterov else v, alpha=-sign * group["lr"])
    return rule


def _global_lr(rule, lr):
    def wrapped(p, g, st, group):
        rule(p, g, st, {**group, "lr": lr})
    return wrapped


def check_momentum(cls, *, verbose: bool = True) -> CheckResult:
    """Grade SGD with momentum, ``cls(params, lr, momentum=0.9)``: v ← βv + g; p ← p − η v.

    Reference: ``torch.optim.SGD(params, lr, momentum=β, dampening=0)``.
    """
    lr, beta = 0.05, 0.9
    mk = lambda rule: (lambda pg: _SimpleOpt(pg, lr, rule, momentum=beta))  # noqa: E731
    mistakes = [
        (mk(_rule_momentum(sign=-1.0)), "wrong sign: the step goes *against* the velocity, p ← p − η·v "
                                        "(you added it, which climbs the loss)."),
        (mk(_rule_momentum(plain=True)), "the velocity is never used — this is plain SGD. Keep v in "
                                         "`self.state[p]` and update it every step: v ← β·v + g."),
        (mk(_rule_momentum(ema=True)), "that is the EMA form v ← β·v + (1−β)·g (torch's dampening=β). The "
                                       "exercise uses torch's velocity form v ← β·v + g (dampening = 0)."),
        (mk(_rule_momentum(nesterov=True)), "that is the Nesterov variant; plain momentum steps with v itself."),
        (mk(_global_lr(_rule_momentum(), lr)), "every group used the same learning rate: read `group['lr']` "
                                               "inside the loop over `self.param_groups`."),
    ]
    return _optimizer_check("momentum", cls, kwargs=dict(lr=lr, momentum=beta),
                            reference=lambda pg: torch.optim.SGD(pg, lr=lr, momentum=beta, dampening=0),
                            mistakes=mistakes, verbose=verbose)


def _rule_rmsprop(eps_inside=False, swapped=False, no_square=False, no_sqrt=False):
    def rule(p, g, st, group):
        a, eps = group["alpha"], group["eps"]
        v = st.setdefault("v", torch.zeros_like(p))
        gg = g if no_square else g * g
        if swapped:
            v.mul_(1 - a).add_(gg, alpha=a)
        else:
            v.mul_(a).add_(gg, alpha=1 - a)
        denom = v + eps if no_sqrt else ((v + eps).sqrt() if eps_inside else v.sqrt() + eps)
        p.addcdiv_(g, denom, value=-group["lr"])
    return rule


def check_rmsprop(cls, *, verbose: bool = True) -> CheckResult:
    """Grade RMSProp, ``cls(params, lr, alpha=0.99, eps=1e-8)``: v ← αv + (1−α)g²; p ← p − η g/(√v + ε).

    Reference: ``torch.optim.RMSprop(params, lr, alpha, eps)`` (checked with a large eps so its place shows).
    """
    lr, alpha, eps = 0.01, 0.9, 1e-2
    mk = lambda rule: (lambda pg: _SimpleOpt(pg, lr, rule, alpha=alpha, eps=eps))  # noqa: E731
    mistakes = [
        (mk(_rule_rmsprop(eps_inside=True)), "eps belongs outside the square root: g/(√v + ε), as in torch."),
        (mk(_rule_rmsprop(swapped=True)), "α and 1−α are swapped: v ← α·v + (1−α)·g² keeps most of the old average."),
        (mk(_rule_rmsprop(no_square=True)), "average the *squared* gradient: v ← α·v + (1−α)·g²."),
        (mk(_rule_rmsprop(no_sqrt=True)), "divide by the root mean square: g/(√v + ε), not g/(v + ε)."),
        (mk(_global_lr(_rule_rmsprop(), lr)), "every group used the same learning rate: read `group['lr']`."),
    ]
    return _optimizer_check("rmsprop", cls, kwargs=dict(lr=lr, alpha=alpha, eps=eps),
                            reference=lambda pg: torch.optim.RMSprop(pg, lr=lr, alpha=alpha, eps=eps),
                            mistakes=mistakes, verbose=verbose)


def _rule_adam(correct_m=True, correct_v=True, eps_inside=False, swapped=False, no_square=False):
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
        m_hat = m / (1 - b1 ** st["t"]) if correct_m else m
        v_hat = v / (1 - b2 ** st["t"]) if correct_v else v
        denom = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
        p.addcdiv_(m_hat, denom, value=-group["lr"])
    return rule


def check_adam(cls, *, verbose: bool = True) -> CheckResult:
    """Grade Adam, ``cls(params, lr, betas=(0.9, 0.999), eps=1e-8)``, with bias correction.

    m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; m̂ = m/(1−β₁ᵗ); v̂ = v/(1−β₂ᵗ); p ← p − η m̂/(√v̂ + ε).
    Reference: ``torch.optim.Adam`` (checked with a large eps so its place shows).
    """
    lr, betas, eps = 0.01, (0.8, 0.95), 1e-3
    mk = lambda rule: (lambda pg: _SimpleOpt(pg, lr, rule, betas=betas, eps=eps))  # noqa: E731
    mistakes = [
        (mk(_rule_adam(correct_m=False, correct_v=False)),
         "no bias correction: m and v start at 0, so early on they are too small. Divide by (1 − β₁ᵗ) and "
         "(1 − β₂ᵗ), with t counting this parameter's steps from 1."),
        (mk(_rule_adam(correct_v=False)), "only m was bias-corrected; v̂ = v/(1 − β₂ᵗ) needs it too."),
        (mk(_rule_adam(correct_m=False)), "only v was bias-corrected; m̂ = m/(1 − β₁ᵗ) needs it too."),
        (mk(_rule_adam(eps_inside=True)), "eps belongs outside the square root: m̂/(√v̂ + ε), as in torch."),
        (mk(_rule_adam(swapped=True)), "β₁ and β₂ are swapped: β₁ (0.9) averages the gradient, β₂ (0.999) its square."),
        (mk(_rule_adam(no_square=True)), "v averages the *squared* gradient: v ← β₂·v + (1−β₂)·g²."),
        (mk(_global_lr(_rule_adam(), lr)), "every group used the same learning rate: read `group['lr']`."),
    ]
    return _optimizer_check("adam", cls, kwargs=dict(lr=lr, betas=betas, eps=eps),
                            reference=lambda pg: torch.optim.Adam(pg, lr=lr, betas=betas, eps=eps),
                            mistakes=mistakes, verbose=verbose)


def pathological_curvature(w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    """tanh(w1)² + 0.01·|w1| + σ(w2): flat along w2 far out, a narrow steep valley along w1."""
    return torch.tanh(w1) ** 2 + 0.01 * torch.abs(w1) + torch.sigmoid(w2)


def _gauss(w1, w2, mx, my, s):
    return torch.exp(-((w1 - mx) ** 2 + (w2 - my) ** 2) / (2 * s * s)) / (2 * math.pi * s * s)


def steep_optima(w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    """Three narrow negative Gaussians (σ 0.2) at (1, −0.5), (−1, 0.5), (−0.5, −0.8)."""
    return -(_gauss(w1, w2, 1.0, -0.5, 0.2) + _gauss(w1, w2, -1.0, 0.5, 0.2) + _gauss(w1, w2, -0.5, -0.8, 0.2))


#: surface name -> (function, default start, x range, y range, default learning rates per optimizer)
SURFACES = {
    "pathological curvature": dict(fn=pathological_curvature, start=(5.0, 5.0), x_range=(-5, 5), y_range=(-5, 5),
                                   steps=100, lrs={"SGD": 10.0, "SGD + momentum": 10.0, "Adam": 1.0}),
    "steep optima": dict(fn=steep_optima, start=(0.0, 0.0), x_range=(-2, 2), y_range=(-2, 2),
                         steps=100, lrs={"SGD": 0.5, "SGD + momentum": 1.0, "Adam": 0.2}),
}


def surface_trajectory(surface: Callable, make_optimizer: Callable, start=(5.0, 5.0), steps: int = 100) -> np.ndarray:
    """Points visited by ``make_optimizer([w])`` minimising ``surface(w1, w2)`` from ``start``: ``(steps+1, 2)``."""
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = make_optimizer([w])
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

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.8))
    xs, ys = np.linspace(*x_range, 200), np.linspace(*y_range, 200)
    X, Y = np.meshgrid(xs, ys)
    Z = surface(torch.from_numpy(X), torch.from_numpy(Y)).numpy()
    cs = ax.contourf(X, Y, Z, levels=40, cmap="viridis")
    ax.figure.colorbar(cs, ax=ax, label="loss")
    for i, (label, pts) in enumerate(trajectories.items()):
        pts = np.clip(pts, [x_range[0] - 1, y_range[0] - 1], [x_range[1] + 1, y_range[1] + 1])
        ax.plot(pts[:, 0], pts[:, 1], "-o", ms=2, lw=1.2, color=f"C{i + 1}", label=label)
    ax.set(xlim=x_range, ylim=y_range, xlabel="$w_1$", ylabel="$w_2$", title=title or "Loss surface")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def _default_makers():
    return {"SGD": lambda p, lr, b1, b2: torch.optim.SGD(p, lr=lr),
            "SGD + momentum": lambda p, lr, b1, b2: torch.optim.SGD(p, lr=lr, momentum=b1),
            "Adam": lambda p, lr, b1, b2: torch.optim.Adam(p, lr=lr, betas=(b1, b2))}


def surface_explorer(optimizers: dict | None = None):
    """Sliders (surface, learning-rate multiplier, β₁, β₂, start point, steps) redrawing the paths.

    ``optimizers`` maps a label to ``(params, lr, beta1, beta2) -> optimizer``; the default is
    torch's SGD, SGD + momentum and Adam.  Each optimizer starts from the learning rate the
    sources use on that surface (times the slider's multiplier; an optimizer of the learner's
    uses the momentum/Adam value that matches its label, else Adam's).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    makers = optimizers or _default_makers()

    def draw(surface="pathological curvature", lr_mult=1.0, beta1=0.9, beta2=0.999, start_w1=None, start_w2=None,
             steps=100):
        spec = SURFACES[surface]
        start = (spec["start"][0] if start_w1 is None else start_w1, spec["start"][1] if start_w2 is None else start_w2)
        paths = {}
        for label, make in makers.items():
            matches = [k for k in spec["lrs"] if k.lower() in label.lower()]  # the longest name that fits
            base = spec["lrs"][max(matches, key=len)] if matches else spec["lrs"]["Adam"]
            try:
                paths[f"{label} (lr {base * lr_mult:.3g})"] = surface_trajectory(
                    spec["fn"], lambda p: make(p, base * lr_mult, beta1, beta2), start, steps)
            except NotImplementedError:
                print(f"⏳ {label}: not yet implemented.")
        fig, ax = plt.subplots(figsize=(6.4, 5))
        plot_surface(spec["fn"], paths, x_range=spec["x_range"], y_range=spec["y_range"], ax=ax,
                     title=f"{surface}: {steps} steps from ({start[0]:.2g}, {start[1]:.2g})")
        plt.show()

    return widgets.interact(
        draw, surface=widgets.Dropdown(options=list(SURFACES), description="surface"),
        lr_mult=widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.1, description="lr ×",
                                       continuous_update=False),
        beta1=widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="β₁ / momentum",
                                  continuous_update=False),
        beta2=widgets.FloatSlider(value=0.999, min=0.9, max=0.9999, step=0.0005, readout_format=".4f",
                                  description="β₂", continuous_update=False),
        start_w1=widgets.FloatSlider(value=5.0, min=-5, max=5, step=0.1, description="start w₁", continuous_update=False),
        start_w2=widgets.FloatSlider(value=5.0, min=-5, max=5, step=0.1, description="start w₂", continuous_update=False),
        steps=widgets.IntSlider(value=100, min=10, max=300, step=10, description="steps", continuous_update=False))


# ============================================================================ 04 schedules
#: schedule name -> optimizer, params -> torch scheduler (the real torch classes)
SCHEDULES = {
    "constant": lambda opt, P: torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0),
    "step (StepLR)": lambda opt, P: torch.optim.lr_scheduler.StepLR(opt, step_size=P["step_size"], gamma=P["gamma"]),
    "exponential": lambda opt, P: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=P["gamma"]),
    "cosine": lambda opt, P: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=P["T"]),
    "cosine warm restarts": lambda opt, P: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=P["T0"], T_mult=P["T_mult"]),
    "warm-up + cosine": lambda opt, P: torch.optim.lr_scheduler.SequentialLR(
        opt, [torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=max(P["warmup"], 1)),
              torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(P["T"] - P["warmup"], 1))],
        milestones=[max(P["warmup"], 1)]),
    "1cycle": lambda opt, P: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=P["max_lr"], total_steps=P["T"] + 1,
                                                                 pct_start=P["pct_start"]),
}

_SCHED_DEFAULTS = dict(step_size=10, gamma=0.9, T=50, T0=2, T_mult=2, warmup=5, max_lr=0.5, pct_start=0.3)


def schedule_lrs(make_scheduler: Callable, *, epochs: int = 50, lr: float = 0.1) -> np.ndarray:
    """Learning rate at each of ``epochs`` steps of ``make_scheduler(optimizer)`` (a real torch scheduler)."""
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def schedule_explorer():
    """Sliders over the parameters of torch's schedulers; redraws the learning-rate curves of the chosen ones."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import warnings

    def draw(schedules=("constant", "exponential", "1cycle"), lr=0.1, gamma=0.9, step_size=10, T=50, T0=2, T_mult=2,
             warmup=5, max_lr=0.5, pct_start=0.3):
        P = dict(gamma=gamma, step_size=step_size, T=T, T0=T0, T_mult=T_mult, warmup=min(warmup, T - 1),
                 max_lr=max_lr, pct_start=pct_start)
        fig, ax = plt.subplots(figsize=(7, 3.8))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in schedules:
                ax.plot(np.arange(T), schedule_lrs(lambda o: SCHEDULES[name](o, P), epochs=T, lr=lr), label=name)
        ax.set(xlabel="epoch", ylabel="learning rate", title="Learning rate per epoch")
        ax.legend(fontsize="small")
        plt.show()

    s = dict(continuous_update=False)
    return widgets.interact(
        draw,
        schedules=widgets.SelectMultiple(options=list(SCHEDULES), value=("constant", "exponential", "1cycle"),
                                         description="schedules", rows=len(SCHEDULES)),
        lr=widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=0, step=0.1, description="initial lr", **s),
        gamma=widgets.FloatSlider(value=0.9, min=0.5, max=0.99, step=0.01, description="γ (step/exp)", **s),
        step_size=widgets.IntSlider(value=10, min=1, max=30, description="step size", **s),
        T=widgets.IntSlider(value=50, min=10, max=100, description="epochs T", **s),
        T0=widgets.IntSlider(value=2, min=1, max=20, description="T₀ (restarts)", **s),
        T_mult=widgets.IntSlider(value=2, min=1, max=3, description="T_mult", **s),
        warmup=widgets.IntSlider(value=5, min=1, max=30, description="warm-up", **s),
        max_lr=widgets.FloatLogSlider(value=0.5, base=10, min=-2, max=0.5, step=0.1, description="max lr (1cycle)", **s),
        pct_start=widgets.FloatSlider(value=0.3, min=0.05, max=0.5, step=0.05, description="pct_start", **s))


def small_subset(data, n_train: int, *, n_val: int | None = None):
    """The same data object with only the first ``n_train`` training (and ``n_val`` validation) images."""
    if not (isinstance(n_train, int) and n_train > 0):
        raise ValueError(f"n_train must be a positive integer, got {n_train!r}.")
    X, y = data.train
    out = dataclasses.replace(data, train=(X[:n_train], y[:n_train]))
    if n_val is not None:
        Xv, yv = data.val
        out = dataclasses.replace(out, val=(Xv[:n_val], yv[:n_val]))
    return out


def small_mlp(seed: int = 0, hidden: Sequence[int] = (128,), act: str = "relu") -> nn.Module:
    """A small Kaiming-initialised MLP 784-hidden-10 (seeded), for the short runs of the exercises."""
    from .models import MLP

    torch.manual_seed(seed)
    net = MLP(act_fn=act, hidden_sizes=tuple(hidden))
    for lin in net.linears:
        nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        nn.init.zeros_(lin.bias)
    return net


#: settings of the short run in check_schedule_beats_constant
SCHEDULE_RUN = dict(n_train=4000, epochs=4, batch_size=128, lr=0.02, margin=0.5)


def check_schedule_beats_constant(scheduler_fn: Callable, data, *, verbose: bool = True, **overrides) -> CheckResult:
    """Train a small MLP with SGD (lr 0.02) twice — constant LR and ``scheduler_fn(optimizer)`` — and compare.

    Passes when the scheduled run's best validation accuracy beats the constant
    run's by at least ``margin`` percentage points.  Both runs go through
    :func:`course_utils.train.train_model` (cached), on ``n_train`` images.
    """
    from .train import train_model

    name = "schedule vs constant LR"
    if not callable(scheduler_fn):
        return _not_callable(name, scheduler_fn, "a function optimizer -> scheduler", verbose)
    P = {**SCHEDULE_RUN, **overrides}
    try:  # a stub or a broken function is reported before any training
        probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=P["lr"])
        scheduler_fn(probe)
    except NotImplementedError:
        return _not_yet(name, getattr(scheduler_fn, "__name__", "scheduler_fn"), verbose)
    except Exception as e:
        return _raised(name, e, verbose, "calling your function on an SGD optimizer")
    sub = small_subset(data, P["n_train"])
    opt_fn = lambda p: torch.optim.SGD(p, lr=P["lr"])  # noqa: E731
    kw = dict(epochs=P["epochs"], batch_size=P["batch_size"], seed=0, progress=False)
    try:
        with _one_thread():
            base = train_model(small_mlp(0), opt_fn, sub, desc="constant", **kw)
            run = train_model(small_mlp(0), opt_fn, sub, scheduler_fn=scheduler_fn, desc="scheduled", **kw)
    except NotImplementedError:
        return _not_yet(name, getattr(scheduler_fn, "__name__", "scheduler_fn"), verbose)
    except FloatingPointError as e:
        return _report(name, FAIL, "the run with your schedule diverged.", details=[_short_exc(e)],
                       hint="the peak learning rate is too high; lower it.", verbose=verbose)
    except Exception as e:
        return _raised(name, e, verbose)
    a0, a1 = 100 * base.best_val_acc, 100 * run.best_val_acc
    details = [f"constant lr {P['lr']}: best val acc {a0:.2f} %, final train loss {base.train_loss[-1]:.3f}",
               f"your schedule:   best val acc {a1:.2f} %, final train loss {run.train_loss[-1]:.3f}",
               f"(SGD, {P['epochs']} epochs of {P['n_train']} images, batch {P['batch_size']}, "
               f"{math.ceil(P['n_train'] / P['batch_size'])} steps per epoch)"]
    if a1 >= a0 + P["margin"]:
        return _report(name, PASS, f"your schedule beats the constant learning rate by {a1 - a0:.2f} points.",
                       details=details, verbose=verbose)
    return _report(name, FAIL, f"your schedule does not beat the constant learning rate by {P['margin']} points.",
                   details=details, hint="in a short run the constant lr is too small to get far: a schedule that "
                   "starts or peaks higher (warm-up, 1cycle with a max_lr several times 0.02) and then decays "
                   "covers more ground early and settles at the end. Steps are per epoch unless the scheduler is "
                   "OneCycleLR/CyclicLR (then per batch).", verbose=verbose)


# ============================================================================ 05 regularization
def mc_dropout_predict_reference(model: nn.Module, x: torch.Tensor, n_samples: int = 50):
    """Reference MC dropout: dropout on, everything else in eval mode; mean and std of softmax outputs."""
    if not (isinstance(n_samples, int) and n_samples >= 2):
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}.")
    was = model.training
    model.eval()
    for m in model.modules():
        if isinstance(m, (nn.Dropout, nn.AlphaDropout)):
            m.train()
    with torch.no_grad():
        probs = torch.stack([F.softmax(model(x), dim=-1) for _ in range(n_samples)])  # (S, N, C)
    model.train(was)
    return probs.mean(0), probs.std(0)


def predictive_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each row of class probabilities ``(N, C) -> (N,)``."""
    return -(probs * probs.clamp_min(1e-12).log()).sum(-1)


def _mc_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.BatchNorm1d(64), nn.Dropout(0.5), nn.Linear(64, 5))
    with torch.no_grad():
        model[2].running_mean.uniform_(-0.5, 0.5)
        model[2].running_var.uniform_(0.5, 2.0)
    model.eval()
    x = torch.randn(32, 20, generator=torch.Generator().manual_seed(1))
    return model, x


def check_mc_dropout(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``mc_dropout_predict(model, x, n_samples)`` -> (mean probs, std probs) on a net with dropout and BN."""
    name = "mc_dropout_predict"
    if not callable(fn):
        return _not_callable(name, fn, "a function mc_dropout_predict(model, x, n_samples=50)", verbose)
    model, x = _mc_model()
    bn_before = (model[2].running_mean.clone(), model[2].running_var.clone())
    S = 400
    case = f"a Linear–ReLU–BatchNorm–Dropout(0.5)–Linear net in eval mode, x of shape {tuple(x.shape)}, n_samples={S}"
    torch.manual_seed(123)
    try:
        with _one_thread():
            out = fn(model, x, S)
    except NotImplementedError:
        return _not_yet(name, "mc_dropout_predict", verbose)
    except Exception as e:
        return _raised(name, e, verbose, case)
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
        return _report(name, FAIL, "expected a pair (mean_probs, std_probs) of tensors.", case=case,
                       got=type(out).__name__, hint="`return probs.mean(0), probs.std(0)`.", verbose=verbose)
    mean, std = (t.detach().double() for t in out)
    if mean.shape != (32, 5) or std.shape != (32, 5):
        return _report(name, FAIL, "wrong shapes.", case=case, expected="(32, 5) and (32, 5)",
                       got=f"{tuple(mean.shape)} and {tuple(std.shape)}",
                       hint="stack the passes into (n_samples, N, C) and reduce over dim 0.", verbose=verbose)
    if not (torch.equal(model[2].running_mean, bn_before[0]) and torch.equal(model[2].running_var, bn_before[1])):
        return _report(name, FAIL, "the batch-norm running statistics changed.", case=case,
                       hint="`model.train()` also puts batch norm in training mode (batch statistics, running "
                            "averages updated). Keep the model in eval mode and switch only the Dropout modules "
                            "to train: `for m in model.modules(): if isinstance(m, nn.Dropout): m.train()`.",
                       verbose=verbose)
    if model.training or model[3].training:
        return _report(name, FAIL, "the model was left in training mode.", case=case,
                       hint="call `model.eval()` before returning, so later evaluations are deterministic.",
                       verbose=verbose)
    if not torch.allclose(mean.sum(-1), torch.ones(32, dtype=torch.float64), atol=1e-4):
        return _report(name, FAIL, "the mean predictions are not probabilities (rows do not sum to 1).", case=case,
                       got=f"row sums {_fmt(mean.sum(-1))}",
                       hint="apply softmax to each pass, then average the probabilities.", verbose=verbose)
    with torch.no_grad():
        p_eval = F.softmax(model(x), -1).double()
    if std.max() < 1e-6 or torch.allclose(mean, p_eval, atol=1e-6):
        return _report(name, FAIL, "all passes gave the same prediction — dropout was off.", case=case,
                       got=f"max std {std.max().item():.2g}",
                       hint="in eval mode nn.Dropout does nothing; switch the Dropout modules to train mode "
                            "inside the function.", verbose=verbose)
    torch.manual_seed(7)
    with _one_thread():
        ref_mean, ref_std = (t.double() for t in mc_dropout_predict_reference(model, x, 2000))
    tol_mean = 6 * ref_std.max().item() / math.sqrt(S) + 1e-3
    if (mean - ref_mean).abs().max() > tol_mean:
        return _report(name, FAIL, "the mean prediction is far from the reference MC estimate.", case=case,
                       expected=f"≈ {_fmt(ref_mean[0])} (first row)", got=_fmt(mean[0]),
                       hint="average softmax outputs over n_samples stochastic passes with only dropout active.",
                       verbose=verbose)
    if (std - ref_std).abs().max() > 0.25 * ref_std.max().item():
        return _report(name, FAIL, "the spread across passes is off.", case=case,
                       expected=f"std ≈ {_fmt(ref_std[0])} (first row)", got=_fmt(std[0]),
                       hint="return the standard deviation of the per-pass probabilities over the passes (dim 0).",
                       verbose=verbose)
    return _report(name, PASS, "correct — dropout on, batch norm untouched, mean and spread agree with a "
                   "2000-pass reference.", verbose=verbose)


def check_l2_penalty(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``l2_penalty(params, lam)`` = λ/2·Σ‖w‖² (so its gradient is λ·w, what ``weight_decay=λ`` adds)."""
    name = "l2_penalty"
    if not callable(fn):
        return _not_callable(name, fn, "a function l2_penalty(params, lam)", verbose)
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_(),
          torch.randn(5, generator=g, dtype=torch.float64).requires_grad_()]
    lam = 0.3
    case = f"two tensors of shapes (3, 4) and (5,), lam={lam}"
    try:
        pen = fn(ws, lam)
    except NotImplementedError:
        return _not_yet(name, "l2_penalty", verbose)
    except Exception as e:
        return _raised(name, e, verbose, case)
    if not (isinstance(pen, torch.Tensor) and pen.dim() == 0):
        return _report(name, FAIL, "expected a scalar tensor.", case=case, got=_fmt(pen),
                       hint="sum over all parameters: `sum((w ** 2).sum() for w in params)`.", verbose=verbose)
    want = lam / 2 * sum((w.detach() ** 2).sum() for w in ws)
    sq = sum((w.detach() ** 2).sum() for w in ws)
    if not torch.allclose(pen.detach().double(), want):
        v = pen.detach().double().item()
        hint = ("the ½ is missing: with λ/2·‖w‖² the gradient is exactly λ·w, the term weight_decay=λ adds."
                if math.isclose(v, lam * sq.item(), rel_tol=1e-9) else
                "square the norm: ‖w‖² = Σ w², not ‖w‖." if math.isclose(
                    v, lam / 2 * sum(w.detach().norm() for w in ws).item(), rel_tol=1e-9) else
                "that is ℓ1 (Σ|w|); ℓ2 uses squares." if math.isclose(
                    v, lam / 2 * sum(w.detach().abs().sum() for w in ws).item(), rel_tol=1e-9) else
                "λ/2 times the sum of squares of every entry of every parameter.")
        return _report(name, FAIL, "the penalty value is off.", case=case, expected=f"{want.item():.6g}",
                       got=f"{v:.6g}", hint=hint, verbose=verbose)
    if not pen.requires_grad:
        return _report(name, FAIL, "the penalty is detached from the parameters (no gradient flows).", case=case,
                       hint="don't use .item(), .detach() or torch.no_grad() inside the penalty.", verbose=verbose)
    grads = torch.autograd.grad(pen, ws)
    if not all(torch.allclose(gw, lam * w.detach()) for gw, w in zip(grads, ws)):
        return _report(name, FAIL, "the gradient of the penalty is not λ·w.", case=case,
                       hint="use differentiable torch operations on the parameters.", verbose=verbose)
    return _report(name, PASS, "correct — value λ/2·Σ‖w‖² and gradient λ·w.", verbose=verbose)


def compare_l2_and_decay(penalty_fn: Callable, *, lam: float = 0.1, lr: float = 0.01, steps: int = 200):
    """ℓ2 in the loss vs. the optimizer's decay, under SGD and Adam, on a small least-squares problem.

    Returns a DataFrame: for each way of regularising, the distance of the final
    weights from "ℓ2 penalty in the loss" and the final weight norm.
    """
    import pandas as pd

    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 8, generator=g, dtype=torch.float64)
    X[:, :4] *= 5  # features on different scales, so Adam's per-coordinate scaling matters
    y = X @ torch.randn(8, generator=g, dtype=torch.float64) + 0.5 * torch.randn(64, generator=g, dtype=torch.float64)
    w0 = torch.randn(8, generator=g, dtype=torch.float64)

    def run(make_opt, with_penalty):
        w = w0.clone().requires_grad_()
        opt = make_opt([w])
        for _ in range(steps):
            opt.zero_grad()
            loss = ((X @ w - y) ** 2).mean()
            if with_penalty:
                loss = loss + penalty_fn([w], lam)
            loss.backward()
            opt.step()
        return w.detach()

    a_lr = lr
    rows = []
    configs = [
        ("SGD", "ℓ2 penalty in the loss", lambda p: torch.optim.SGD(p, lr=lr), True),
        ("SGD", "SGD(weight_decay=λ)", lambda p: torch.optim.SGD(p, lr=lr, weight_decay=lam), False),
        ("Adam", "ℓ2 penalty in the loss", lambda p: torch.optim.Adam(p, lr=a_lr), True),
        ("Adam", "Adam(weight_decay=λ)", lambda p: torch.optim.Adam(p, lr=a_lr, weight_decay=lam), False),
        ("Adam", "AdamW(weight_decay=λ)", lambda p: torch.optim.AdamW(p, lr=a_lr, weight_decay=lam), False),
    ]
    ref = {}
    for opt_name, how, make, pen in configs:
        w = run(make, pen)
        ref.setdefault(opt_name, w)
        rows.append({"optimizer": opt_name, "regularisation": how,
                     "‖w − w(ℓ2 in loss)‖": (w - ref[opt_name]).norm().item(), "‖w‖": w.norm().item()})
    return pd.DataFrame(rows)


_CHOICES = {
    "adam_l2": ({"a", "adam"}, "Adam's `weight_decay` adds λ·w to the gradient *before* the adaptive scaling — "
                "exactly what the ℓ2 penalty does; AdamW subtracts η·λ·w from the weights after it (decoupled)."),
}


def check_choice(question: str, answer, *, verbose: bool = True) -> CheckResult:
    """Grade a multiple-choice answer (a letter) to ``question`` (``"adam_l2"``)."""
    if question not in _CHOICES:
        raise ValueError(f"Unknown question {question!r}; expected one of {sorted(_CHOICES)}.")
    name = f"question {question}"
    if answer is None or answer == "" or answer is ...:
        return _report(name, TODO, "not yet — set `answer` to one of the letters and run the cell again.",
                       verbose=verbose)
    right, why = _CHOICES[question]
    a = str(answer).strip().lower().strip("().")
    if a in right:
        return _report(name, PASS, f"correct — {why}", verbose=verbose)
    return _report(name, FAIL, f"{answer!r} is not it.", hint="compare the columns ‖w − w(ℓ2 in loss)‖ in the "
                   "table above: a distance of 0 means the two updates are identical.", verbose=verbose)


# ============================================================================ 06 conceptual questions
#: (question, model answer) — the textbook chapter's eight exercises, in the book's own words.
QUESTIONS = [
    ("What problem do Glorot and He initialisation set out to fix?",
     "Unstable gradients at the start of training. With badly scaled random weights the variance of the "
     "activations (forward) and of the gradients (backward) is multiplied by a constant factor at every layer, "
     "so in a deep net it shrinks towards zero or blows up geometrically: the first layers barely learn, or the "
     "loss diverges. Glorot chooses Var(W) = 2/(fan_in + fan_out), a compromise between keeping the forward "
     "variance (1/fan_in) and the backward variance (1/fan_out) constant; He adds the factor 2 that ReLU's "
     "halving of the signal requires (2/fan_in)."),
    ("Can all weights start with the same value, provided that value is drawn at random with He initialisation?",
     "No. If every weight of a layer is equal, every unit computes the same function and receives the same "
     "gradient, so the units stay identical for the whole of training (only the symmetry-breaking noise of, "
     "e.g., dropout could separate them): the layer behaves like a single unit. Drawing the one shared value "
     "from a good distribution does not help — it is the *independent* draws per weight that break the symmetry."),
    ("Is it fine to initialise the biases to 0?",
     "Yes. The random weights already break the symmetry between units, and zero biases add no variance to the "
     "signal, which is what the variance derivations assume. Some practitioners give ReLU units a small positive "
     "bias so that fewer are dead at the start, but 0 is the standard default (and what the book uses)."),
    ("When would you choose each of the activation functions of the chapter?",
     "ReLU is the fast, strong default for plain deep nets. Leaky ReLU / PReLU avoid dead units (PReLU learns the "
     "slope, helpful on large data sets). ELU and GELU/SiLU (Swish) are smooth and often a little more accurate at "
     "extra compute; GELU/SiLU/SwiGLU are the usual choice in transformers. SELU makes a plain stack of dense "
     "layers self-normalising (with LeCun init, standardised inputs, no skip connections, alpha dropout only). "
     "tanh is useful when outputs must lie in [−1, 1] (and in recurrent nets); sigmoid when they must be in "
     "[0, 1] (probabilities, gates) — both saturate, so avoid them in hidden layers of deep feed-forward nets. "
     "Hardswish-like functions when inference latency matters."),
    ("What can happen if the momentum of SGD is set too close to 1 (say 0.99999)?",
     "The velocity then averages over about 1/(1−β) = 100,000 past gradients and barely decays: the optimizer "
     "gains enormous speed (the effective step is η/(1−β)), overshoots the minimum, and oscillates around it "
     "for a very long time — training is slower and less stable than with β ≈ 0.9, and it may diverge."),
    ("Name three ways to obtain a sparse model.",
     "(1) Train normally and then set the smallest weights to zero (magnitude pruning, e.g. "
     "torch.nn.utils.prune.l1_unstructured), usually followed by fine-tuning. (2) Add an ℓ1 penalty on the "
     "weights during training, which pushes many of them to exactly or nearly zero. (3) Use a method designed "
     "for it, e.g. iterative or structured pruning during training, or dedicated toolkits for sparse/compressed "
     "models. (Sparsity breaks SELU's self-normalisation.)"),
    ("Does dropout slow down training? Does it slow down inference? And MC dropout?",
     "Training: yes, usually — each step costs about the same, but the noise it injects means more epochs are "
     "needed to converge (often around twice as many). Inference: no — dropout is switched off at test time, so "
     "predictions cost exactly what they would without it. MC dropout, in contrast, makes inference K times more "
     "expensive: it runs K stochastic forward passes (e.g. 10–100) per input and averages them, in exchange for "
     "better-calibrated probabilities and an uncertainty estimate."),
    ("The practical exercise of the chapter (done in notebook 07): a 20-hidden-layer, 100-unit SiLU net with He "
     "init and NAdam; then batch norm; then SELU; alpha dropout with MC dropout; 1cycle. What must you change for "
     "the SELU version to self-normalise, and what do you expect batch norm to change?",
     "For self-normalisation: standardise the inputs (mean 0, std 1 per feature), use LeCun-normal init "
     "(Var(W) = 1/fan_in), keep the network a plain sequence of dense layers (no batch norm, no skip "
     "connections), and regularise only with alpha dropout (ordinary dropout breaks the fixed point). Batch norm in "
     "the 20-layer SiLU net usually makes it converge in fewer epochs and tolerate larger learning rates, may "
     "improve accuracy a little, but each epoch costs more time (extra computation per layer) and predictions "
     "need the running statistics (or BN folded into the Linear layers)."),
]


def _check_n(n) -> int:
    if not (isinstance(n, int) and 1 <= n <= len(QUESTIONS)):
        raise ValueError(f"Questions are numbered 1 to {len(QUESTIONS)}; got {n!r}.")
    return n


def show_question(n: int):
    """Display question ``n`` (1-based) as Markdown."""
    from IPython.display import Markdown, display

    display(Markdown(f"**Question {_check_n(n)}.** {QUESTIONS[n - 1][0]}"))


def show_answer(n: int):
    """Reveal the model answer of question ``n`` (1-based)."""
    from IPython.display import Markdown, display

    display(Markdown(f"**Model answer {_check_n(n)}.** {QUESTIONS[n - 1][1]}"))


def answer_button(n: int):
    """A button that reveals (and hides again) the model answer of question ``n``."""
    import ipywidgets as widgets
    from IPython.display import Markdown, display

    _check_n(n)
    button = widgets.ToggleButton(value=False, description=f"Show model answer {n}", icon="eye")
    out = widgets.Output()

    def toggle(change):
        out.clear_output()
        button.description = f"{'Hide' if change['new'] else 'Show'} model answer {n}"
        if change["new"]:
            with out:
                display(Markdown(QUESTIONS[n - 1][1]))

    button.observe(toggle, names="value")
    return widgets.VBox([button, out])


# ============================================================================ 07 capstone
#: size of the capstone runs per budget: a smoke test on the CPU, the real thing on a GPU
CAPSTONE_SIZES = {"cpu": dict(n_train=5000, n_val=2000, epochs=1, batch_size=64, mc_samples=10),
                  "full": dict(n_train=50_000, n_val=10_000, epochs=20, batch_size=128, mc_samples=50)}


def capstone_sizes(budget=None) -> dict:
    """The capstone's ``n_train``/``n_val``/``epochs``/``batch_size``/``mc_samples`` for ``budget``."""
    from .config import get_budget

    b = budget or get_budget()
    return dict(CAPSTONE_SIZES[b.name if b.name in CAPSTONE_SIZES else "cpu"])


_CAPSTONE_SPECS = {
    "silu_he": dict(act=nn.SiLU, var=2.0, bn=False, dropout=None),
    "bn": dict(act=nn.SiLU, var=2.0, bn=True, dropout=None),
    "selu_lecun": dict(act=nn.SELU, var=1.0, bn=False, dropout=None),
    "alpha_dropout": dict(act=nn.SELU, var=1.0, bn=False, dropout=nn.AlphaDropout),
}


def check_capstone_model(build_fn: Callable, variant: str, *, verbose: bool = True) -> CheckResult:
    """Check a capstone architecture: 20 hidden Linear(·, 100) layers, activation, init variance, BN/dropout.

    ``variant`` is one of ``"silu_he"``, ``"bn"``, ``"selu_lecun"``, ``"alpha_dropout"``.
    """
    if variant not in _CAPSTONE_SPECS:
        raise ValueError(f"variant must be one of {sorted(_CAPSTONE_SPECS)}, got {variant!r}.")
    spec = _CAPSTONE_SPECS[variant]
    name = f"capstone model ({variant})"
    if not callable(build_fn):
        return _not_callable(name, build_fn, "a function seed -> nn.Module", verbose)
    try:
        model = build_fn(0)
    except NotImplementedError:
        return _not_yet(name, getattr(build_fn, "__name__", "build"), verbose)
    except Exception as e:
        return _raised(name, e, verbose)
    if not isinstance(model, nn.Module):
        return _report(name, FAIL, f"the builder returned {type(model).__name__}, not an nn.Module.",
                       hint="return the nn.Sequential you built.", verbose=verbose)
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    shapes = [(m.in_features, m.out_features) for m in lins]
    want = [(784, 100)] + [(100, 100)] * 19 + [(100, 10)]
    if shapes != want:
        return _report(name, FAIL, "the Linear layers are not 784→100, 19 × 100→100, 100→10.",
                       got=f"{len(lins)} Linear layers: {shapes[:3]}{' …' if len(shapes) > 3 else ''}",
                       hint="20 hidden layers of 100 units plus one output layer: 21 Linear layers "
                            "(start with nn.Flatten()).", verbose=verbose)
    acts = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.SiLU, nn.SELU, nn.ELU, nn.Tanh, nn.GELU))]
    if len(acts) != 20 or not all(isinstance(a, spec["act"]) for a in acts):
        return _report(name, FAIL, f"expected 20 {spec['act'].__name__} activations (one per hidden layer).",
                       got=f"{len(acts)} activations: {sorted({type(a).__name__ for a in acts})}", verbose=verbose)
    n_bn = sum(isinstance(m, nn.BatchNorm1d) for m in model.modules())
    if spec["bn"] and n_bn < 20:
        return _report(name, FAIL, "batch norm is missing.", got=f"{n_bn} BatchNorm1d layers",
                       hint="add nn.BatchNorm1d(100) after each hidden Linear (before the activation).", verbose=verbose)
    if not spec["bn"] and n_bn:
        hint = ("SELU's self-normalisation needs a plain stack of dense layers: no batch norm."
                if spec["act"] is nn.SELU else "this variant comes before batch norm; leave it out here.")
        return _report(name, FAIL, "this variant should have no batch norm.", hint=hint, verbose=verbose)
    n_drop = sum(isinstance(m, nn.Dropout) for m in model.modules())
    n_alpha = sum(isinstance(m, nn.AlphaDropout) for m in model.modules())
    if spec["dropout"] is nn.AlphaDropout and (n_alpha == 0 or n_drop):
        return _report(name, FAIL, "expected alpha dropout (and no ordinary dropout).",
                       got=f"{n_alpha} AlphaDropout, {n_drop} Dropout",
                       hint="nn.Dropout breaks SELU's fixed point (it sets units to 0, not to SELU's negative "
                            "saturation); use nn.AlphaDropout(p).", verbose=verbose)
    ratios = [m.weight.detach().double().var().item() * m.in_features / spec["var"] for m in lins]
    mean_ratio = float(np.mean(ratios))
    if abs(mean_ratio - 1) > 0.06:
        rule = "He: Var(W) = 2/fan_in" if spec["var"] == 2.0 else "LeCun: Var(W) = 1/fan_in"
        guess = ("that looks like PyTorch's default init (1/(3·fan_in)); initialise every Linear explicitly."
                 if abs(mean_ratio * spec["var"] - 1 / 3) < 0.06 else
                 "that is LeCun's 1/fan_in, not He's 2/fan_in." if abs(mean_ratio * spec["var"] - 1) < 0.06 and
                 spec["var"] == 2.0 else
                 "that is He's 2/fan_in; SELU self-normalises with LeCun's 1/fan_in (nn.init.normal_(w, 0, "
                 "1/√fan_in) or kaiming_normal_(w, nonlinearity='linear'))." if abs(mean_ratio * spec["var"] - 2) < 0.12
                 else f"use {rule} for every Linear layer.")
        return _report(name, FAIL, "the initial weights have the wrong variance.", expected=rule,
                       got=f"Var(W)·fan_in ≈ {mean_ratio * spec['var']:.3f} (averaged over layers)", hint=guess,
                       verbose=verbose)
    with torch.no_grad():
        model.eval()
        out = model(torch.randn(4, 1, 28, 28))
    if tuple(out.shape) != (4, 10):
        return _report(name, FAIL, "the output shape is wrong.", expected="(4, 10) for a batch of 4 images",
                       got=str(tuple(out.shape)), hint="start with nn.Flatten() and end with Linear(100, 10).",
                       verbose=verbose)
    return _report(name, PASS, f"correct — 21 Linear layers, {spec['act'].__name__}, "
                   f"{'He' if spec['var'] == 2 else 'LeCun'} init (Var·fan_in/{spec['var']:.0f} = {mean_ratio:.3f})"
                   f"{', batch norm' if spec['bn'] else ''}{', alpha dropout' if n_alpha else ''}.", verbose=verbose)


def capstone_run(build_fn: Callable, optimizer_fn: Callable, data, *, epochs: int, scheduler_fn=None,
                 desc: str = "capstone", seed: int = 0, **train_kwargs):
    """Build (``build_fn(seed)``) and train a capstone model with :func:`course_utils.train.train_model`.

    Returns ``(model, TrainResult)``, or ``(None, None)`` with a "not yet" note while the
    builder is still the TODO stub, or with the error message if training fails (e.g. diverges).
    """
    from .train import train_model

    try:
        model = build_fn(seed)
        with _one_thread():
            result = train_model(model, optimizer_fn, data, epochs=epochs, seed=seed, scheduler_fn=scheduler_fn,
                                 desc=desc, **train_kwargs)
    except NotImplementedError:
        print(f"⏳ {desc}: not yet — fill in the builder/optimizer above, then run this cell again.")
        return None, None
    except FloatingPointError as e:
        print(f"❌ {desc}: {e}")
        return None, None
    return model, result


def mc_dropout_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, n_samples: int = 10,
                        batch_size: int = 2000) -> float:
    """Accuracy of the MC-dropout prediction (mean softmax over ``n_samples`` passes, dropout on)."""
    correct = 0
    with _one_thread():
        for i in range(0, len(y), batch_size):
            mean, _ = mc_dropout_predict_reference(model, X[i:i + batch_size], n_samples)
            correct += (mean.argmax(-1) == y[i:i + batch_size]).sum().item()
    return correct / max(len(y), 1)


def capstone_table(results: dict):
    """Comparison table: one row per configuration (``{label: TrainResult or None or dict}``)."""
    import pandas as pd

    rows = []
    for label, r in results.items():
        if r is None:
            rows.append({"configuration": label, "test acc (%)": float("nan"), "best val acc (%)": float("nan"),
                         "best epoch": None, "s / epoch": float("nan"), "note": "not run yet"})
        elif isinstance(r, dict):
            rows.append({"configuration": label, **r})
        else:
            rows.append({"configuration": label, "test acc (%)": 100 * r.test_acc,
                         "best val acc (%)": 100 * r.best_val_acc, "best epoch": r.best_epoch,
                         "s / epoch": r.seconds_per_epoch, "note": "cached" if r.cached else ""})
    return pd.DataFrame(rows).set_index("configuration")
