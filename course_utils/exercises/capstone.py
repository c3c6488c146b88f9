"""Exercises 07 — capstone, the model checks: what each variant's forward pass does, and its initialisation.

:func:`check_capstone_model` judges a learner's builder by running it: forward hooks record every leaf module's
call, the values between consecutive Linear layers name the activation, training-mode passes find the
dropout, the weights' variance and kurtosis name the initialisation scheme.  The runs of the capstone are in
:mod:`.capstone_runs`, its answers in :mod:`.capstone_answers`.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._core import CheckResult, FAIL, PASS, _describe, _not_callable, _not_yet, _one_thread, _raised, _report
from ._core import _graded, _python_own


_CAPSTONE_SPECS = {
    "silu_he": dict(act="SiLU", var="he", bn=False, dropout=None),
    "bn": dict(act="SiLU", var="he", bn=True, dropout=None),
    "selu_lecun": dict(act="SELU", var="lecun", bn=False, dropout=None),
    "alpha_dropout": dict(act="SELU", var="lecun", bn=False, dropout="alpha"),
}

#: element-wise functions a hidden layer may apply, recognised by their values (so nn.SiLU modules, one
#: shared nn.SiLU instance and F.silu in a custom forward all count the same)
_ACTIVATIONS = (
    ("SiLU", F.silu), ("SELU", F.selu), ("ReLU", F.relu), ("GELU", F.gelu),
    ("GELU", lambda z: F.gelu(z, approximate="tanh")), ("ELU", F.elu), ("Mish", F.mish),
    ("LeakyReLU", F.leaky_relu), ("Tanh", torch.tanh), ("Sigmoid", torch.sigmoid), ("Softplus", F.softplus),
    ("CELU", F.celu), ("Hardswish", F.hardswish), ("ReLU6", F.relu6), ("no activation", lambda z: z),
)

#: initialisation schemes, by the variance they give a Linear weight
_SCHEMES = {
    "he": ("He (Kaiming) normal: Var(W) = 2/fan_in", lambda fi, fo: 2 / fi),
    "lecun": ("LeCun normal: Var(W) = 1/fan_in", lambda fi, fo: 1 / fi),
    "xavier": ("Xavier (Glorot): Var(W) = 2/(fan_in + fan_out)", lambda fi, fo: 2 / (fi + fo)),
    "default": ("PyTorch's default init (kaiming_uniform_ with a=√5): Var(W) = 1/(3·fan_in)",
                lambda fi, fo: 1 / (3 * fi)),
    "he_fan_out": ("He with fan_out: Var(W) = 2/fan_out", lambda fi, fo: 2 / fo),
    "lecun_fan_out": ("1/fan_out", lambda fi, fo: 1 / fo),
    "selu_gain": ("kaiming_normal_(nonlinearity='selu'): Var(W) = (3/4)²/fan_in", lambda fi, fo: 0.5625 / fi),
    "he_std_as_var": ("He with the variance passed as the std: Var(W) = (2/fan_in)²", lambda fi, fo: (2 / fi) ** 2),
    "lecun_std_as_var": ("LeCun with the variance passed as the std: Var(W) = (1/fan_in)²",
                         lambda fi, fo: (1 / fi) ** 2),
}

_SCHEME_HINTS = {
    ("he", "lecun"): "that is LeCun's 1/fan_in, not He's 2/fan_in: use nn.init.kaiming_normal_(w, "
                     "nonlinearity='relu').",
    ("he", "xavier"): "that is Xavier/Glorot's 2/(fan_in + fan_out), not He's 2/fan_in: use "
                      "nn.init.kaiming_normal_(w, nonlinearity='relu').",
    ("lecun", "he"): "that is He's 2/fan_in; SELU self-normalises with LeCun's 1/fan_in (half of He's variance).",
    ("lecun", "xavier"): "that is Xavier/Glorot's 2/(fan_in + fan_out) (equal to LeCun's only for square layers); "
                         "SELU needs LeCun's variance, which depends on fan_in alone.",
    ("lecun", "selu_gain"): "torch's 'selu' gain (3/4) does not self-normalise — its documentation says to use "
                            "nonlinearity='linear' for SELU, which gives LeCun's 1/fan_in.",
}


class _Trace:
    """Forward hooks on every leaf module: the calls of one forward pass, in order (module, input, output).

    Inputs and outputs are *copied* when the hook runs: an in-place module that comes next
    (``nn.SiLU(inplace=True)``, ``F.relu_``) overwrites the tensor it is given, and a kept reference would
    then show the activation's output as the Linear's."""

    def __init__(self, model: nn.Module):
        self.model, self.calls, self.handles = model, [], []

    def __enter__(self):
        for m in self.model.modules():
            if not list(m.children()):
                self.handles.append(m.register_forward_hook(self._hook))
        return self

    def _hook(self, module, inputs, output):
        inp = inputs[0].detach().clone() if inputs and isinstance(inputs[0], torch.Tensor) else None
        out = output.detach().clone() if isinstance(output, torch.Tensor) else None
        self.calls.append((module, inp, out))

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()

    def of(self, cls):
        return [c for c in self.calls if isinstance(c[0], cls)]


def _same(a, b) -> bool:
    """``a`` ≈ ``b`` relative to their own scale (a signal that has shrunk to 1e-10 is still told apart)."""
    if a is None or b is None or a.shape != b.shape:
        return False
    scale = max(a.abs().max().item(), b.abs().max().item())
    return bool(torch.allclose(a, b, rtol=1e-3, atol=1e-4 * scale + 1e-30))


def _activation_name(z, u) -> str:
    """Which element-wise function maps a Linear's output ``z`` to the next Linear's input ``u``."""
    if z is None or u is None or z.shape != u.shape:
        return "something that is not element-wise"
    if not torch.isfinite(z).all() or z.abs().max().item() == 0:
        return "nothing it can recognise (the signal is 0, inf or NaN: check the init's scale)"
    if torch.equal(z, u):  # exactly unchanged (a small signal is also ≈ tanh of itself: not "Tanh")
        return "no activation"
    for label, f in _ACTIVATIONS:
        if _same(f(z), u):
            return label
    return "an unrecognised function"


def _scheme_fit(lins, scheme, variances=None) -> tuple[float, float, float]:
    """Deviation of Var(W)/Var_scheme from 1: averaged over the layers, of the first layer, the worst one."""
    f = _SCHEMES[scheme][1]
    if variances is None:
        variances = [m.weight.detach().double().var().item() for m in lins]
    ratios = [v / f(m.in_features, m.out_features) for v, m in zip(variances, lins)]
    return abs(float(np.mean(ratios)) - 1), abs(ratios[0] - 1), max(abs(r - 1) for r in ratios)


def _identify_scheme(lins) -> str | None:
    best = None
    variances = [m.weight.detach().double().var().item() for m in lins]
    for scheme in _SCHEMES:
        mean_dev, first_dev, worst = _scheme_fit(lins, scheme, variances)
        if mean_dev < 0.06 and first_dev < 0.06 and worst < 0.25:
            if best is None or mean_dev < best[1]:
                best = (scheme, mean_dev)
    return best[0] if best else None


#: below this kurtosis (pooled over the hidden layers' standardised weights) the draw is uniform (1.8), not
#: normal (3): with 19 × 10,000 + 78,400 weights the estimate's standard error is about 0.01
_UNIFORM_KURTOSIS = 2.4


def _pooled_kurtosis(lins) -> float:
    zs = []
    for m in lins:
        w = m.weight.detach().double().flatten()
        w = w - w.mean()
        zs.append(w / w.pow(2).mean().sqrt().clamp_min(1e-300))
    z = torch.cat(zs)
    return z.pow(4).mean().item()


#: the one alpha-dropout layer of the task: p and how far an estimate from 2 × 1,600 units may stray (the
#: estimate's standard error at p = 0.1 is 0.005)
_ALPHA_P, _ALPHA_P_TOL = 0.1, 0.03


def _alpha_dropout_problem(x, runs, act: str) -> dict | None:
    """What is wrong with the alpha dropout of a network in training mode (None when it is one
    nn.AlphaDropout(0.1) after the last hidden activation, before the output layer).

    ``runs``: ``(output, Linear calls)`` of two training-mode passes.  Something random sits between two
    Linear layers where the next Linear's input is not the activation of the previous Linear's output."""
    f = dict(_ACTIVATIONS)[act]
    places = []
    for _, lin_calls in runs:
        here = []
        if not _same(lin_calls[0][1], x.flatten(1)):
            here.append(0)
        here += [i + 1 for i in range(20) if not _same(f(lin_calls[i][2]), lin_calls[i + 1][1])]
        places = sorted(set(places) | set(here))
    where = lambda k: "on the input" if k == 0 else (  # noqa: E731
        "before the output layer" if k == 20 else f"after hidden layer {k}")
    one = "one nn.AlphaDropout(0.1) after the last hidden activation, just before the output Linear(100, 10)"
    if len(places) > 1:
        listed = ", ".join(where(k) for k in places[:4]) + (" …" if len(places) > 4 else "")
        return dict(headline=f"found dropout at {len(places)} places; the task asks for exactly one.",
                    got=f"random changes between layers in training mode: {listed}",
                    hint=f"use {one} (noise at every layer compounds through all 20); remove the others.")
    if places != [20]:
        return dict(headline="the alpha dropout is in the wrong place.",
                    got=f"one dropout {where(places[0])}" if places else "no random change between the layers",
                    hint=f"use {one}.")
    # the units entering the output layer: the dropped ones all take one value, the kept ones a·u + b
    us, vs = [], []
    for _, lin_calls in runs:
        us.append(f(lin_calls[19][2]).flatten().double())
        vs.append(lin_calls[20][1].flatten().double())
    u, v = torch.cat(us), torch.cat(vs)
    values, counts = torch.unique(v, return_counts=True)
    dropped = v == values[counts.argmax()]
    p_hat = dropped.double().mean().item()
    keep_u, keep_v = u[~dropped], v[~dropped]
    A = torch.stack([keep_u, torch.ones_like(keep_u)], 1)
    coef = torch.linalg.lstsq(A, keep_v.unsqueeze(1)).solution.squeeze(1)
    resid = (A @ coef - keep_v).abs().max().item()
    if counts.max().item() < 2 or resid > 1e-3 * (1 + keep_v.abs().max().item()):
        return dict(headline=f"the dropout before the output layer is not alpha dropout applied to the last "
                             f"{act}'s output.",
                    hint=f"the order is … Linear → {act} → AlphaDropout(0.1) → Linear(100, 10): alpha dropout "
                         "sets a unit to SELU's negative saturation and rescales the others, after the "
                         "activation.")
    # the scale of the kept units pins p exactly: a = ((1 − p)(1 + p·c))^(−1/2), c = (λα)² of SELU
    c = (1.0507009873554805 * 1.6732632423543772) ** 2
    disc = (c - 1) ** 2 - 4 * c * (1 / coef[0].item() ** 2 - 1) if coef[0].item() > 0 else -1.0
    if disc >= 0:
        roots = [((c - 1) + sgn * math.sqrt(disc)) / (2 * c) for sgn in (1, -1)]
        p_exact = min(roots, key=lambda r: abs(r - p_hat))
        if abs(p_exact - p_hat) < _ALPHA_P_TOL:
            p_hat = p_exact
    if abs(p_hat - _ALPHA_P) > _ALPHA_P_TOL / 6:
        return dict(headline=f"the dropout rate is off: your alpha dropout drops about {100 * p_hat:.0f} % of "
                             "the units.",
                    expected=f"p = {_ALPHA_P} (about {100 * _ALPHA_P:.0f} % of the units dropped)",
                    got=f"p ≈ {p_hat:.3f} ({dropped.sum().item()} of {dropped.numel()} units dropped in two passes)",
                    hint="use nn.AlphaDropout(0.1): p is the probability of dropping a unit.")
    return None


@_graded('check_capstone_model(build_silu_he, "silu_he")', name=lambda a: f"capstone model ({a['variant']})")
def check_capstone_model(build_fn: Callable, variant: str, *, verbose: bool = True) -> CheckResult:
    """Check a capstone architecture: 20 hidden Linear(·, 100) layers, activation, init variance, BN/dropout.

    ``variant`` is one of ``"silu_he"``, ``"bn"``, ``"selu_lecun"``, ``"alpha_dropout"``.  The check judges
    what the forward pass *does* (forward hooks, counted per call, and the values between consecutive
    Linear layers), so a shared ``nn.SiLU()`` instance or ``F.silu`` in a custom ``forward`` count as 20
    activations, and names the initialisation scheme it finds (He, LeCun, Xavier, PyTorch's default, …).
    """
    if isinstance(build_fn, str) and build_fn in _CAPSTONE_SPECS and callable(variant):
        return _report("capstone model", FAIL, "the arguments look swapped: the builder comes first, then the "
                       "variant's name.", hint=f"`exercises.check_capstone_model(build, {build_fn!r})`.",
                       verbose=verbose)
    if not isinstance(variant, str) or variant not in _CAPSTONE_SPECS:
        return _report("capstone model", FAIL, f"there is no variant {variant!r}.",
                       hint=f"the variants are {', '.join(repr(v) for v in _CAPSTONE_SPECS)}.", verbose=verbose)
    state = torch.random.get_rng_state()  # the learner's builder seeds the global generator: give it back
    try:
        with _one_thread():
            return _check_capstone_model(build_fn, variant, verbose)
    finally:
        torch.random.set_rng_state(state)


class _Found(Exception):
    """A step of the model check found a problem.  ``args[0]``: the report's keywords (``headline``, ``got``,
    ``hint``, …), or ``{"raised": exception, "case": what was running}`` for an error of the learner's code."""


def _check_capstone_model(build_fn, variant, verbose) -> CheckResult:
    """The check itself, step by step: the builder, the Linear layers, the activations, batch norm, dropout,
    the initialisation and the seeding; each step raises :class:`_Found` with what it found wrong."""
    spec = _CAPSTONE_SPECS[variant]
    name = f"capstone model ({variant})"
    if isinstance(build_fn, nn.Module):
        return _report(name, FAIL, f"expected the builder function, got {_describe(build_fn)}.",
                       hint="pass the builder function, not a model: "
                            f"`exercises.check_capstone_model(build, {variant!r})` with your builder's name and "
                            "no parentheses; the check calls it with several seeds itself.", verbose=verbose)
    if not callable(build_fn) or _python_own(build_fn):
        return _not_callable(name, build_fn, "a function seed -> nn.Module", verbose)
    try:
        model = build_fn(0)
    except NotImplementedError:
        return _not_yet(name, getattr(build_fn, "__name__", "build"), verbose)
    except ValueError as e:
        if "nonlinearity" in str(e).lower():
            return _report(name, FAIL, f"torch's init refused the nonlinearity you named ({e}).",
                           case="calling your builder with seed=0",
                           hint="torch's kaiming_normal_ has no gain for SiLU or SELU; the task asks for He's "
                                "variance 2/fan_in, which is `nonlinearity='relu'` (the default mode 'fan_in').",
                           verbose=verbose)
        return _raised(name, e, verbose, "calling your builder with seed=0", context="init")
    except Exception as e:
        return _raised(name, e, verbose, "calling your builder with seed=0", context="init")
    notes = []
    try:
        moved = (_bn_stats_moved(model) if isinstance(model, nn.Module)
                 and not isinstance(model, torch.jit.ScriptModule) else None)
        if moved:
            notes.append(moved)
        x, out, tr = _traced(model)
        lin_calls = tr.of(nn.Linear)
        _check_linears(lin_calls, out)
        _check_other_norms(spec, tr)
        _check_eval_deterministic(model, x, out)
        try:
            _check_activations(spec, lin_calls, out, x)
        except _Found:  # a batch norm set up otherwise than nn.BatchNorm1d(100) changes every hidden signal
            _check_bn_config(spec, tr.of(nn.modules.batchnorm._BatchNorm))
            raise
        _check_bn_config(spec, tr.of(nn.modules.batchnorm._BatchNorm))
        _check_batch_norm(spec, tr.of(nn.modules.batchnorm._BatchNorm), lin_calls)
        _check_dropout(spec, model, x)
        _check_gradients(model, x, lin_calls)
        _check_gradient_values(spec, model, x, lin_calls, tr.of(nn.modules.batchnorm._BatchNorm))
        hidden = [m for m, _, _ in lin_calls[:20]]
        _check_init(spec, hidden)
        _check_seeding(build_fn, model, x)
    except _Found as f:
        found = f.args[0]
        if "raised" in found:
            return _raised(name, found["raised"], verbose, found["case"])
        return _report(name, FAIL, verbose=verbose, **found)
    mean_ratio = float(np.mean([m.weight.detach().double().var().item() * m.in_features for m in hidden]))
    label = "He" if spec["var"] == "he" else "LeCun"
    res = _report(name, PASS, f"correct — 21 Linear layers, {spec['act']} after each of the 20 hidden layers, "
                  f"{label} init (Var·fan_in = {mean_ratio:.3f})"
                  f"{', batch norm' if spec['bn'] else ''}{', alpha dropout' if spec['dropout'] else ''}.",
                  verbose=False)
    if notes:
        res = CheckResult(res.name, res.status, res.message + "".join(f"\n   note:     {n}" for n in notes))
    if verbose:
        print(res.text)
    return res


def _bn_stats_moved(model) -> str | None:
    """Batch-norm running statistics that are not at their initial mean 0, variance 1.  Moved by a forward pass
    in training mode inside the builder (a shape sanity check; ``num_batches_tracked`` > 0): harmless, training
    re-estimates them, so they are reset on the checker's copy and named in a note.  Set by hand (no batch
    counted): a report, naming them rather than the activation the changed layers then hide."""
    touched, by_hand = [], []
    for n, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats \
                and isinstance(m.running_mean, torch.Tensor) and isinstance(m.running_var, torch.Tensor) \
                and not isinstance(m.running_mean, nn.parameter.UninitializedBuffer):
            fresh = bool((m.running_mean == 0).all() and (m.running_var == 1).all())
            counted = m.num_batches_tracked is not None and int(m.num_batches_tracked) > 0
            if counted:
                touched.append(m)
            elif not fresh:
                by_hand.append(n or "the model")
    if by_hand:
        raise _Found(dict(headline="the batch-norm running statistics are not at their initial mean 0, variance 1.",
                          got=f"changed running_mean / running_var in {len(by_hand)} batch-norm layer"
                              f"{'s' if len(by_hand) != 1 else ''} (the first: {by_hand[0]}), with no batch counted",
                          hint="leave the running statistics as nn.BatchNorm1d(100) creates them: training "
                               "estimates them from the batches."))
    if not touched:
        return None
    with torch.no_grad():
        for m in touched:
            m.reset_running_stats()
    return (f"the running statistics of {len(touched)} batch-norm layer{'s' if len(touched) != 1 else ''} had "
            "been updated when the builder returned (a forward pass in training mode inside it, e.g. a shape "
            "check); the check reset them before grading. Harmless for training, which re-estimates them; a "
            "sanity pass under `model.eval()` (then `model.train()`) leaves them untouched.")


def _model_problem(model) -> dict | None:
    """What keeps a built model from running on the course's images (a report's ``headline`` and ``hint``), or
    None: not a module; a module with no forward of its own (an ``nn.ModuleList`` holds layers but does not
    chain them); parameters or buffers in another floating dtype than float32 (the images are float32, so
    ``.double()`` ends in torch's 'mat1 and mat2 must have the same dtype')."""
    if not isinstance(model, nn.Module):
        hint = ("did you forget `return`?" if model is None else
                "return only the model: the builder's job ends with the network (the optimizer is made "
                "elsewhere, from the model's parameters)." if isinstance(model, (list, tuple))
                and any(isinstance(m, nn.Module) for m in model) and not all(isinstance(m, nn.Module) for m in model)
                else "wrap the list in nn.Sequential: `return nn.Sequential(*layers)`." if isinstance(model, (list, tuple))
                else "return the nn.Sequential you built.")
        return dict(headline=f"the builder returned {_describe(model)}, not an nn.Module.", hint=hint)
    if isinstance(model, torch.jit.ScriptModule):
        return dict(headline="the builder returned a TorchScript module (`torch.jit.script` / `torch.jit.trace`), "
                             "not the nn.Module itself.",
                    hint="return the network as you built it (`return model`): the check reads its layers, and "
                         "training caches runs by the module's own layers; script a copy afterwards if you want one.")
    if type(model).forward is nn.Module.forward:
        kind = type(model).__name__
        if isinstance(model, (nn.ModuleList, nn.ModuleDict)):
            return dict(headline=f"the builder returned an nn.{kind}: it holds the layers but does not run them "
                                 "(it has no forward pass).",
                        hint=f"return `nn.Sequential(*layers)`, which calls the layers in turn (an nn.{kind} "
                             "inside your own module works too, if that module's `forward` runs them).")
        return dict(headline=f"your module {kind} has no `forward` method, so it cannot be called on images.",
                    hint="define `def forward(self, x):` in the class (check its spelling and indentation), or "
                         "return `nn.Sequential(*layers)`.")
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in list(model.parameters()) + list(model.buffers())
                     if t.is_floating_point() and t.dtype != torch.float32})
    if dtypes:
        return dict(headline=f"the model's weights are {' and '.join(dtypes)}, not float32.",
                    hint="the images (and every run of the course) are float32, PyTorch's default, and a layer "
                         "refuses another dtype: build the layers without `.double()`, `.half()`, "
                         "`.to(torch.float64)` or `dtype=...` (and without `torch.set_default_dtype`).")
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    if frozen:
        listed = ", ".join(f"`{n}`" for n in frozen[:3]) + (f" and {len(frozen) - 3} more" if len(frozen) > 3 else "")
        every = len(frozen) == len(list(model.parameters()))
        return dict(headline=f"{'every parameter' if every else f'{len(frozen)} parameter(s)'} of the model is "
                             f"frozen (requires_grad=False): {listed}.",
                    hint="an optimizer never changes a parameter that does not require grad, so those layers "
                         "would stay at their initial values: remove the `requires_grad_(False)` (or "
                         "`requires_grad = False`) from the builder; initialise the weights inside "
                         "`torch.no_grad()` instead.")
    return None


def _traced(model):
    """``(x, output, trace)`` of one eval-mode forward pass of a batch of 16 images, every leaf module hooked."""
    bad = _model_problem(model)
    if bad:
        raise _Found(bad)
    x = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    model.eval()
    try:
        with torch.no_grad(), _Trace(model) as tr:
            out = model(x)
    except Exception as e:
        raise _Found(dict(raised=e, case="a forward pass of a batch of 16 images of shape (1, 28, 28)")) from None
    return x, out, tr


def _check_linears(lin_calls, out) -> None:
    """21 distinct Linear layers 784→100, 19 × 100→100, 100→10, and logits of shape (16, 10)."""
    shapes = [(m.in_features, m.out_features) for m, _, _ in lin_calls]
    if shapes != [(784, 100)] + [(100, 100)] * 19 + [(100, 10)]:
        raise _Found(dict(headline="the Linear layers are not 784→100, 19 × 100→100, 100→10.",
                          got=f"{len(lin_calls)} Linear layers in the forward pass: {shapes[:3]}"
                              f"{' …' if len(shapes) > 3 else ''}",
                          hint="20 hidden layers of 100 units plus one output layer: 21 Linear layers "
                               "(start with nn.Flatten())."))
    distinct = len({id(m) for m, _, _ in lin_calls})
    if distinct < len(lin_calls):
        raise _Found(dict(headline="one nn.Linear instance is used for several layers, so they share their weights.",
                          got=f"{distinct} distinct Linear modules for 21 layers",
                          hint="create a new nn.Linear inside the loop for every layer."))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (16, 10):
        raise _Found(dict(headline="the output shape is wrong.", expected="(16, 10) for a batch of 16 images",
                          got=str(tuple(out.shape)) if isinstance(out, torch.Tensor) else _describe(out),
                          hint="start with nn.Flatten() and end with Linear(100, 10)."))


#: normalisations the capstone does not ask for (LayerNorm and friends); RMSNorm only where torch has it
_OTHER_NORMS = tuple(getattr(nn, n) for n in ("LayerNorm", "GroupNorm", "InstanceNorm1d", "RMSNorm",
                                              "LocalResponseNorm") if hasattr(nn, n))


def _check_other_norms(spec, tr) -> None:
    """A normalisation other than batch norm (nn.LayerNorm, …) is named, not read as an unknown activation."""
    calls = tr.of(_OTHER_NORMS)
    if not calls:
        return
    kind = type(calls[0][0]).__name__
    want = ("nn.BatchNorm1d(100) between each hidden Linear and its activation" if spec["bn"] else
            "no normalisation layer at all in this variant")
    raise _Found(dict(headline=f"your network normalises with nn.{kind}, an unexpected normalisation.",
                      got=f"{len(calls)} nn.{kind} call{'s' if len(calls) != 1 else ''} in the forward pass",
                      hint=f"the task asks for {want}; nn.{kind} normalises each example over its features, "
                           "not each feature over the batch, so it is a different method."))


def _check_activations(spec, lin_calls, out, x=None) -> None:
    """The variant's activation after each hidden Linear (named by what it computes), raw logits at the end."""
    found = [_activation_name(lin_calls[i][2], lin_calls[i + 1][1]) for i in range(20)]
    act = spec["act"]
    first_in = lin_calls[0][1] if lin_calls else None
    pixels = x.flatten(1) if isinstance(x, torch.Tensor) else None
    on_input = (first_in is not None and pixels is not None and first_in.shape == pixels.shape
                and not _same(first_in, pixels) and _activation_name(pixels, first_in) not in (
                    "an unrecognised function", "no activation", "something that is not element-wise"))
    if found.count(act) != 20 and on_input:
        before = _activation_name(pixels, first_in)
        raise _Found(dict(headline=f"expected {act} after each of the 20 hidden layers.",
                          got=f"{before} is applied to the input pixels, before the first Linear, and your forward "
                              f"pass applies {act} after {found.count(act)} of the 20 hidden layers: each "
                              "activation sits before its Linear instead of after it",
                          hint=f"the order is Linear, then {act}: `Flatten, Linear(784, 100), {act}, Linear(100, "
                               f"100), {act}, …, Linear(100, 10)` (no activation on the raw pixels)."))
    if found.count(act) != 20:
        counts = {a: found.count(a) for a in dict.fromkeys(found)}
        summary = ", ".join(f"{a} after {n} layer{'s' if n != 1 else ''}" for a, n in counts.items())
        missing = [i + 1 for i, a in enumerate(found) if a != act]
        hint = (f"apply {act} after every hidden Linear (nn.{act}() modules, or F.{act.lower()} in a custom "
                "forward)." + (f" The first layer without it: hidden layer {missing[0]}." if len(missing) < 20 else ""))
        if act == "SiLU" and "Mish" in counts:
            hint = "Mish (x·tanh(softplus(x))) is a different function: SiLU (Swish) is x·sigmoid(x), nn.SiLU()."
        raise _Found(dict(headline=f"expected {act} after each of the 20 hidden layers.",
                          got=f"your forward pass applies {summary}", hint=hint))
    if not _same(out, lin_calls[-1][2]):
        last = _activation_name(lin_calls[-1][2], out)
        if _same(F.softmax(lin_calls[-1][2], -1), out) or _same(F.log_softmax(lin_calls[-1][2], -1), out):
            last = "a softmax"
        raise _Found(dict(headline="the network should end with the output Linear(100, 10): raw logits.",
                          got=f"{last} after the last Linear",
                          hint="remove it: the cross-entropy loss applies log-softmax itself."))


def _check_bn_config(spec, bn_calls) -> None:
    """Raise when a batch-norm layer is configured otherwise than the task's ``nn.BatchNorm1d(100)`` in a way
    that changes what the fresh layer computes in eval mode (so the activation after it is not recognised)."""
    if not spec["bn"]:
        return
    for k, (m, _, _) in enumerate(bn_calls):
        where = f"the batch norm of hidden layer {k + 1}"
        if not m.track_running_stats:
            raise _Found(dict(headline=f"{where} was built with track_running_stats=False.",
                              got="no running statistics: in eval mode it still normalises each batch by that "
                                  "batch's own statistics, so a prediction depends on the other images in the batch",
                              hint="use `nn.BatchNorm1d(100)` with its defaults: it keeps running statistics and "
                                   "uses them in eval mode."))
        if not m.affine:
            raise _Found(dict(headline=f"{where} was built with affine=False.",
                              got="no learnable scale γ and shift β: every hidden signal stays at mean 0 and "
                                  "variance 1, which is a different model from the task's batch norm",
                              hint="use `nn.BatchNorm1d(100)` with its defaults: after normalising, it learns a "
                                   "scale and a shift for every unit."))
        if m.momentum is not None and not 0 < m.momentum < 1:
            raise _Found(dict(headline=f"{where} was built with momentum={m.momentum:g}.",
                              got=("momentum 0: the running statistics never move from mean 0, variance 1, so "
                                   "every prediction in eval mode normalises with the wrong statistics"
                                   if m.momentum <= 0 else
                                   "momentum 1: the running statistics keep only the last training batch, so "
                                   "eval-mode predictions depend on which batch came last"),
                              hint="use `nn.BatchNorm1d(100)` with its defaults: its running averages follow "
                                   "the training batches (momentum 0.1)."))
        # a smaller momentum (smoother running averages, e.g. 0.01) is a legitimate choice; None (a cumulative
        # average) and ≥ 0.5 (mostly the last batch: torch's momentum is the weight of the *new* batch) are not
        if m.momentum is None or 0.5 <= m.momentum < 1:
            raise _Found(dict(headline=f"{where} was built with momentum={m.momentum}, not the default 0.1.",
                              got=("momentum=None: the running statistics are a cumulative average of every "
                                   "batch since the start, so the early batches, taken while the weights were "
                                   "still changing fast, weigh as much as the last ones" if m.momentum is None else
                                   f"momentum={m.momentum:g}: torch's momentum is the weight of the newest batch, "
                                   "so the running statistics follow mostly the last training batch"),
                              hint="use `nn.BatchNorm1d(100)` with its defaults: its running averages follow "
                                   "the training batches with momentum 0.1."))
        if m.eps != 1e-5:
            raise _Found(dict(headline=f"{where} has eps={m.eps:g} instead of the default 1e-5.",
                              got=f"eps={m.eps:g} divides by √(σ² + {m.eps:g}): it shrinks every normalised signal",
                              hint="use `nn.BatchNorm1d(100)` with its defaults (eps is only there to avoid "
                                   "dividing by zero)."))
        if m.affine and m.weight is not None and not bool((m.weight.detach() == 1).all() and
                                                           (m.bias.detach() == 0).all()):
            w = m.weight.detach()
            raise _Found(dict(headline=f"{where} does not start as nn.BatchNorm1d(100) does (scale γ = 1, "
                                       "shift β = 0).",
                              got=(f"γ = 0 everywhere: every hidden signal is multiplied by 0" if bool((w == 0).all())
                                   else f"γ from {w.min().item():.3g} to {w.max().item():.3g}, β from "
                                        f"{m.bias.detach().min().item():.3g} to {m.bias.detach().max().item():.3g}"),
                              hint="leave the batch-norm parameters at their defaults: initialise only the "
                                   "Linear weights (e.g. loop over the Linear layers, not over every module's "
                                   "weight)."))


def _check_batch_norm(spec, bn_calls, lin_calls) -> None:
    """Batch norm where the variant has it: one instance per layer, between each hidden Linear and its activation."""
    if not spec["bn"]:
        if bn_calls:
            raise _Found(dict(headline="this variant should have no batch norm.",
                              hint="SELU's self-normalisation needs a plain stack of dense layers: no batch norm."
                              if spec["act"] == "SELU" else "this variant comes before batch norm; leave it out here."))
        return
    if len(bn_calls) < 20:
        raise _Found(dict(headline="batch norm is missing.", got=f"{len(bn_calls)} batch-norm calls",
                          hint="add nn.BatchNorm1d(100) after each hidden Linear (before the activation)."))
    n_bn = len({id(m) for m, _, _ in bn_calls})
    if n_bn < 20:
        raise _Found(dict(headline="one BatchNorm1d instance is shared by several layers.",
                          got=f"{n_bn} distinct BatchNorm1d modules for {len(bn_calls)} calls",
                          hint="its running statistics and scale would mix the layers: create a new "
                               "nn.BatchNorm1d(100) for every hidden layer."))
    on_input = [inp for _, inp, _ in bn_calls if inp.dim() == 2 and inp.shape[-1] == 784]
    if on_input:
        raise _Found(dict(headline="an extra batch norm normalises the input images (a BatchNorm1d(784) before the "
                                   "first Linear).",
                          got=f"{len(bn_calls)} batch-norm calls, one of them on the 784 input pixels",
                          hint="the task puts batch norm only after each hidden Linear; the loader already "
                               "standardises the pixels, so remove the one on the input."))
    z_out = [c[2] for c in lin_calls[:20]]
    after = sum(1 for _, inp, _ in bn_calls if not any(inp is z or _same(inp, z) for z in z_out))
    last_in = lin_calls[-1][1]
    before_output = [o for _, _, o in bn_calls if o is last_in or _same(o, last_in)]
    if after and len(bn_calls) - after >= 20 and before_output:
        raise _Found(dict(headline="one BatchNorm1d too many: an extra one normalises the last hidden layer's "
                                   "activations, just before the output layer.",
                          got=f"{len(bn_calls)} batch-norm calls: 20 after the hidden Linears, and "
                              f"{after} more before the output Linear",
                          hint="the task puts batch norm only between each hidden Linear and its activation; "
                               "the output layer gets the activations as they are: remove the extra one."))
    out_lin = lin_calls[-1][2]
    on_logits = [1 for _, inp, _ in bn_calls if inp is out_lin or _same(inp, out_lin)]
    if on_logits and len(bn_calls) - len(on_logits) >= 20:
        raise _Found(dict(headline="an extra batch norm after the output layer normalises the logits.",
                          got=f"{len(bn_calls)} batch-norm calls: 20 after the hidden Linears, and "
                              f"{len(on_logits)} on the output Linear's 10 logits",
                          hint="the network ends with the output Linear(100, 10): raw logits. Remove the "
                               "BatchNorm1d(10) after it; batch norm goes only between each hidden Linear and its "
                               "activation."))
    if after:
        raise _Found(dict(headline="batch norm comes after the activation.",
                          got=f"{after} of {len(bn_calls)} BatchNorm1d layers do not normalise a Linear's output",
                          hint="put nn.BatchNorm1d(100) between each hidden Linear and its activation: "
                               "Linear → BatchNorm1d → SiLU."))


def _check_dropout(spec, model, x) -> None:
    """Dropout by what it does in training mode: none, or (alpha variant) one alpha dropout before the output."""
    model.train()
    runs = []
    try:
        for seed in (1, 2):
            torch.manual_seed(seed)
            with torch.no_grad(), _Trace(model) as tr2:
                y = model(x)
            runs.append((y, tr2.of(nn.Linear)))
            # (dropout modules that change what they are given, counted per call: a shared instance twice is two)
            dropouts = [m for m, i, o in tr2.calls if isinstance(m, (nn.modules.dropout._DropoutNd,))
                        and i is not None and o is not None and i.shape == o.shape and not torch.equal(i, o)]
    except Exception as e:
        raise _Found(dict(raised=e, case="a forward pass in training mode")) from None
    finally:
        model.eval()
    stochastic = not torch.allclose(runs[0][0], runs[1][0])
    # the largest share of exact zeros entering a Linear layer: one ordinary dropout layer shows there
    zeros = max((c[1] == 0).double().mean().item() for c in runs[0][1][1:])
    # nn.Dropout(0.0) is a no-op: counted as absent
    n_drop = sum(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())
    if spec["dropout"] == "alpha":
        if stochastic and (zeros > 0.01 or n_drop):
            raise _Found(dict(headline="expected alpha dropout, found ordinary dropout.",
                              got=f"up to {100 * zeros:.1f} % of a layer's inputs are exactly 0 in training mode",
                              hint="nn.Dropout breaks SELU's fixed point (it sets units to 0, not to SELU's negative "
                                   "saturation); use nn.AlphaDropout(p)."))
        if not stochastic:
            raise _Found(dict(headline="expected alpha dropout: in training mode the network is deterministic.",
                              hint="add nn.AlphaDropout(0.1), e.g. once before the output layer (with "
                                   "F.alpha_dropout in a custom forward, pass training=self.training)."))
    elif stochastic:
        raise _Found(dict(headline="this variant should have no dropout: in training mode two passes differ.",
                          hint="leave dropout out here; it comes with the alpha-dropout variant."))
    if stochastic and not all(_same(y, lins_run[-1][2]) for y, lins_run in runs):
        raise _Found(dict(headline="in training mode the output is not the output Linear's: something random "
                                   "comes after the last layer.",
                          hint="dropout belongs before the output layer, never after it (it would scramble the "
                               "logits themselves)."))
    bad = _alpha_dropout_problem(x, runs, spec["act"]) if spec["dropout"] == "alpha" else None
    if bad and "places" in bad["headline"]:  # (dropout at several places: said as such)
        raise _Found(bad)
    if spec["dropout"] == "alpha" and len(dropouts) > 1:  # (several at one place)
        kinds = sorted({type(m).__name__ for m in dropouts})
        raise _Found(dict(headline=f"found {len(dropouts)} dropout layers in one forward pass; the task asks for "
                                   "exactly one.",
                          got=f"{len(dropouts)} calls of {' and '.join(kinds)} in training mode",
                          hint="one nn.AlphaDropout(0.1) after the last hidden activation, just before the output "
                               "Linear(100, 10): two in a row drop about twice as many units (and rescale twice); "
                               "remove the others."))
    if bad:
        raise _Found(bad)


def _check_eval_deterministic(model, x, out) -> None:
    """In eval mode the network is a function: two passes of the same batch agree (dropout off)."""
    try:
        with torch.no_grad():
            again = model(x)
    except Exception as e:
        raise _Found(dict(raised=e, case="a second forward pass in eval mode")) from None
    if isinstance(out, torch.Tensor) and isinstance(again, torch.Tensor) and out.shape == again.shape \
            and not torch.allclose(out, again):
        raise _Found(dict(headline="in eval mode two passes of the same images differ: dropout stays on when the "
                                   "model is evaluated.",
                          got="`model.eval()` did not switch your dropout off",
                          hint="a functional dropout in a custom forward must follow the module's mode: "
                               "`F.alpha_dropout(x, p, training=self.training)` (not `training=True`), or use "
                               "the module nn.AlphaDropout(p), which does so itself."))


def _check_gradients(model, x, lin_calls) -> None:
    """One backward pass reaches every Linear layer: a forward that cuts the graph (``.detach()``, ``.data``,
    ``torch.no_grad()`` around a part, a NumPy round trip) gives the right values but leaves the layers before
    the cut untrained."""
    import copy

    try:
        twin = copy.deepcopy(model)  # the running statistics of batch norm stay as they are
        twin.train()
        twin.zero_grad(set_to_none=True)
        torch.manual_seed(3)
        logits = twin(x)
        F.cross_entropy(logits, torch.arange(x.shape[0]) % 10).backward()
    except Exception as e:
        raise _Found(dict(raised=e, case="one backward pass of a batch of 16 images (cross-entropy)")) from None
    lins = [m for m in twin.modules() if isinstance(m, nn.Linear)]
    order = {id(m): i for i, (m, _, _) in enumerate(lin_calls)}
    originals = {id(m): m for m, _, _ in lin_calls}
    by_name = dict(model.named_modules())
    twin_names = {id(m): n for n, m in twin.named_modules()}
    dead = []
    for m in lins:
        src = by_name.get(twin_names.get(id(m)))
        if src is None or id(src) not in originals:
            continue
        if m.weight.grad is None or not bool(m.weight.grad.abs().sum() > 0):
            dead.append(order[id(src)])
    if dead:
        dead = sorted(dead)
        hidden = [i + 1 for i in dead if i < 20]
        where = (f"hidden layer{'s' if len(hidden) > 1 else ''} "
                 f"{hidden[0] if len(hidden) == 1 else f'{hidden[0]}–{hidden[-1]}' if hidden == list(range(hidden[0], hidden[-1] + 1)) else ', '.join(map(str, hidden))}"
                 if hidden else "the output layer")
        raise _Found(dict(headline=f"no gradient reaches {where}: the forward pass cuts the graph, so "
                                   "those layers would never train.",
                          got=f"after one backward pass, {len(dead)} of {len(lin_calls)} Linear layers have no "
                              "gradient",
                          hint="the values are right, but something in your forward stops autograd: `.detach()`, "
                               "`.data`, a `torch.no_grad()` block, `.item()` or a NumPy round trip. Keep the "
                               "whole forward in torch operations on the tensors themselves."))


def _check_gradient_values(spec, model, x, lin_calls, bn_calls) -> None:
    """The gradient, not only the values: one backward pass through (a copy of) the learner's network agrees
    with the same weights in a network built from torch's own nn.SiLU / nn.SELU and nn.BatchNorm1d.  An
    activation or a batch norm that detaches part of its computation (``x * torch.sigmoid(x).detach()``, a
    straight-through ``x + (F.silu(x) - x).detach()``, batch statistics taken from ``x.detach()``) gives the
    right forward values and a wrong backward.  (The alpha-dropout variant draws masks; it is left out.)"""
    import copy

    if spec["dropout"] or len(lin_calls) != 21 or (spec["bn"] and len(bn_calls) != 20):
        return
    act = {"SiLU": nn.SiLU, "SELU": nn.SELU}[spec["act"]]
    layers = [nn.Flatten()]
    for i in range(20):
        layers.append(copy.deepcopy(lin_calls[i][0]))
        if spec["bn"]:
            src = bn_calls[i][0]
            bn = nn.BatchNorm1d(100, eps=src.eps, momentum=src.momentum, affine=src.affine)
            if src.affine:
                with torch.no_grad():
                    bn.weight.copy_(src.weight)
                    bn.bias.copy_(src.bias)
            layers.append(bn)
        layers.append(act())
    layers.append(copy.deepcopy(lin_calls[20][0]))
    ref = nn.Sequential(*layers).train()
    try:
        twin = copy.deepcopy(model).train()
        twin.zero_grad(set_to_none=True)
        F.cross_entropy(twin(x), torch.arange(x.shape[0]) % 10).backward()
    except Exception as e:
        raise _Found(dict(raised=e, case="one backward pass of a batch of 16 images (cross-entropy)")) from None
    F.cross_entropy(ref(x), torch.arange(x.shape[0]) % 10).backward()
    names = {id(m): n for n, m in model.named_modules()}
    twin_mods = dict(twin.named_modules())
    ref_lins = [m for m in ref if isinstance(m, nn.Linear)]
    for i, ((orig, _, _), r) in enumerate(zip(lin_calls, ref_lins)):
        t = twin_mods.get(names.get(id(orig)))
        if t is None or t.weight.grad is None or r.weight.grad is None:
            return
        g, want = t.weight.grad, r.weight.grad
        if (g - want).norm() > 0.05 * want.norm() + 1e-12:
            where = f"hidden layer {i + 1}" if i < 20 else "the output layer"
            parts = f"nn.{spec['act']}" + (" and nn.BatchNorm1d" if spec["bn"] else "")
            rel = ((g - want).norm() / want.norm()).item()
            size = f"{rel:.0f} times its size" if rel >= 10 else f"{100 * rel:.0f} % of its size"
            raise _Found(dict(
                headline="the forward values are right, but the gradients are not: your "
                         f"{'activation or batch norm' if spec['bn'] else 'activation'} computes part of its "
                         "result outside autograd.",
                got=f"the gradient of {where} differs from the same weights in a network of {parts} (by "
                    f"{size})",
                hint="something in the forward is detached (`.detach()`, `.data`, a straight-through trick, "
                     "batch statistics computed from a detached tensor), so training follows another gradient "
                     f"than {spec['act']}'s. Compute it with differentiable torch operations on the tensor "
                     f"itself, or use {parts}."))


def _check_init(spec, hidden) -> None:
    """The hidden layers' initialisation, named: the variant's variance, a normal draw, zero biases."""
    want_scheme = spec["var"]
    rule = _SCHEMES[want_scheme][0]
    got_scheme = _identify_scheme(hidden)
    if got_scheme != want_scheme:
        ratio = float(np.mean([m.weight.detach().double().var().item() * m.in_features for m in hidden]))
        if got_scheme is None:
            worst = max(range(20), key=lambda i: _scheme_fit([hidden[i]], want_scheme)[2])
            what = f"no single scheme (Var(W)·fan_in ≈ {ratio:.3f} on average; hidden layer {worst + 1} is the " \
                   f"furthest from {rule.split(':')[0]})"
            hint = f"use {rule} for every hidden Linear layer."
        else:
            what = _SCHEMES[got_scheme][0]
            hint = _SCHEME_HINTS.get((want_scheme, got_scheme)) or (
                "initialise every Linear explicitly; PyTorch's default is not He/LeCun." if got_scheme == "default"
                else "`normal_(w, mean, std)` takes the standard deviation: std = √(variance)."
                if got_scheme.endswith("std_as_var") else f"use {rule} for every hidden Linear layer.")
        raise _Found(dict(headline="the initial weights have the wrong variance.", expected=rule,
                          got=f"the hidden layers look like {what}", hint=hint))
    kurt = _pooled_kurtosis(hidden)  # normal, not uniform: the same variance, but the task names the normal draw
    if kurt < _UNIFORM_KURTOSIS:
        how = ("nn.init.kaiming_normal_(w, nonlinearity='relu')" if want_scheme == "he" else
               "nn.init.normal_(w, 0, 1/√fan_in)")
        raise _Found(dict(headline="the initial weights have the right variance but are drawn uniformly.",
                          expected=f"{rule}, drawn from a normal distribution",
                          got=f"weights with kurtosis {kurt:.2f} (a normal draw has 3, a uniform one 1.8)",
                          hint=f"the task asks for the *normal* variant: use {how}, not a uniform draw "
                               "(kaiming_uniform_ / uniform_)."))
    nonzero = [i + 1 for i, m in enumerate(hidden) if m.bias is not None and m.bias.detach().abs().max() > 0]
    if nonzero:
        raise _Found(dict(headline="the hidden layers' biases are not zero.",
                          got=f"{len(nonzero)} of 20 hidden layers have non-zero biases (the first: hidden layer "
                              f"{nonzero[0]})",
                          hint="PyTorch draws the biases at random by default; the task asks for zero biases "
                               "(`nn.init.zeros_(lin.bias)`)."))


def _check_seeding(build_fn, model, x=None) -> None:
    """The builder seeds itself with its argument: the same seed builds the same weights, another seed others."""
    torch.manual_seed(12345)  # so a builder that ignores its seed draws differently from the first call
    try:
        again, other = build_fn(0), build_fn(1)
        if x is not None:  # lazy modules (nn.LazyBatchNorm1d) get their weights at their first forward
            for m in (again, other):
                if isinstance(m, nn.Module) and any(isinstance(p, nn.parameter.UninitializedParameter)
                                                    for p in m.parameters()):
                    m.eval()
                    with torch.no_grad():
                        m(x)
        same = all(torch.equal(a.detach(), b.detach()) for a, b in zip(model.parameters(), again.parameters()))
        differ = any(not torch.equal(a.detach(), b.detach()) for a, b in zip(model.parameters(), other.parameters()))
    except Exception as e:
        raise _Found(dict(raised=e, case="calling your builder again, with seed=0 and seed=1")) from None
    if not same:
        raise _Found(dict(headline="two calls with the same seed build different weights.",
                          hint="start the builder with `torch.manual_seed(seed)`, so runs are reproducible (and "
                               "their results can be cached)."))
    if not differ:
        raise _Found(dict(headline="seed=0 and seed=1 build the same weights: the builder ignores its seed.",
                          hint="seed with the argument (`torch.manual_seed(seed)`), not a fixed number: the runs "
                               "over several seeds measure the spread between initialisations, which is 0 if "
                               "every seed builds the same network."))
