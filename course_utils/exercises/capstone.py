"""Exercises 07 — capstone: model checks for each variant, early-stopped runs over seeds, and the comparison.

The runs answer the textbook's questions ("does batch norm converge faster? what about training
speed? …") only if the differences they ask about are larger than the spread between seeds, so every
configuration is trained with several seeds (:func:`capstone_seeds`), stopped by early stopping
(``patience``), and compared as mean ± sd (:func:`capstone_table`, :func:`compare_runs`); every run is
single-threaded (so it gives the same numbers on any machine with the same torch) and cached.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._core import (CheckResult, FAIL, PASS, TODO, _describe, _not_callable, _not_yet, _one_thread, _raised,
                    _report, _say, _say_raised)
from ._core import _graded
from .regularization import mc_dropout_predict_reference


#: Sizes of the capstone per budget.  ``cpu``: 4,000 training images in batches of 200 (20 steps an
#: epoch, 0.3–0.5 s for this 20-layer net on one core), 1,500 validation images, at most 12 epochs with
#: a patience of 3, three seeds per configuration, a learning-rate search of 2 epochs over three rates
#: for each architecture, 1cycle over 10 epochs: about 160 epochs (3,200 optimizer steps) in all, about
#: 80 s on two busy CPU cores.  With fewer images or epochs the seed spread swallows the differences
#: the questions ask about.  ``full``: all 50,000 training images in batches of 128, at most 60 epochs
#: with a patience of 6, three seeds.
CAPSTONE_SIZES = {
    "cpu": dict(n_train=4000, n_val=1500, batch_size=200, epochs=12, patience=3, seeds=3,
                lr_grid=(3e-4, 1e-3, 3e-3), search_epochs=2, onecycle_epochs=10, mc_samples=20),
    "full": dict(n_train=50_000, n_val=10_000, batch_size=128, epochs=60, patience=6, seeds=3,
                 lr_grid=(1e-4, 3e-4, 1e-3, 3e-3), search_epochs=5, onecycle_epochs=20, mc_samples=50),
}


def capstone_sizes(budget=None) -> dict:
    """The capstone's sizes for ``budget`` (see :data:`CAPSTONE_SIZES`): ``n_train``, ``n_val``,
    ``batch_size``, ``epochs`` (the most a run may take), ``patience``, ``seeds``, ``lr_grid``,
    ``search_epochs``, ``onecycle_epochs``, ``mc_samples``."""
    from ..config import get_budget

    b = budget or get_budget()
    return dict(CAPSTONE_SIZES[b.name if b.name in CAPSTONE_SIZES else "cpu"])


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
    ("lecun", "he"): "that is He's 2/fan_in; SELU self-normalises with LeCun's 1/fan_in (nn.init.normal_(w, 0, "
                     "1/√fan_in) or kaiming_normal_(w, nonlinearity='linear')).",
    ("lecun", "xavier"): "that is Xavier/Glorot's 2/(fan_in + fan_out) (equal to LeCun's only for square layers); "
                         "SELU needs LeCun's 1/fan_in: nn.init.normal_(w, 0, 1/√fan_in).",
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


@_graded('check_capstone_model(build_silu_he, "silu_he")')
def check_capstone_model(build_fn: Callable, variant: str, *, verbose: bool = True) -> CheckResult:
    """Check a capstone architecture: 20 hidden Linear(·, 100) layers, activation, init variance, BN/dropout.

    ``variant`` is one of ``"silu_he"``, ``"bn"``, ``"selu_lecun"``, ``"alpha_dropout"``.  The check judges
    what the forward pass *does* (forward hooks, counted per call, and the values between consecutive
    Linear layers), so a shared ``nn.SiLU()`` instance or ``F.silu`` in a custom ``forward`` count as 20
    activations, and names the initialisation scheme it finds (He, LeCun, Xavier, PyTorch's default, …).
    """
    if variant not in _CAPSTONE_SPECS:
        return _report("capstone model", FAIL, f"there is no variant {variant!r}.",
                       hint=f"the variants are {', '.join(repr(v) for v in _CAPSTONE_SPECS)}.", verbose=verbose)
    state = torch.random.get_rng_state()  # the learner's builder seeds the global generator: give it back
    try:
        with _one_thread():
            return _check_capstone_model(build_fn, variant, verbose)
    finally:
        torch.random.set_rng_state(state)


def _check_capstone_model(build_fn, variant, verbose) -> CheckResult:
    spec = _CAPSTONE_SPECS[variant]
    name = f"capstone model ({variant})"
    if isinstance(build_fn, nn.Module):
        return _report(name, FAIL, f"expected the builder function, got {_describe(build_fn)}.",
                       hint="pass the builder function, not a model: "
                            f"`exercises.check_capstone_model(build, {variant!r})` with your builder's name and "
                            "no parentheses; the check calls it with several seeds itself.", verbose=verbose)
    if not callable(build_fn):
        return _not_callable(name, build_fn, "a function seed -> nn.Module", verbose)
    try:
        model = build_fn(0)
    except NotImplementedError:
        return _not_yet(name, getattr(build_fn, "__name__", "build"), verbose)
    except Exception as e:
        return _raised(name, e, verbose, "calling your builder with seed=0", context="init")
    if not isinstance(model, nn.Module):
        hint = ("did you forget `return`?" if model is None else
                "wrap the list in nn.Sequential: `return nn.Sequential(*layers)`." if isinstance(model, (list, tuple))
                else "return the nn.Sequential you built.")
        return _report(name, FAIL, f"the builder returned {_describe(model)}, not an nn.Module.", hint=hint,
                       verbose=verbose)
    x = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    model.eval()
    try:
        with torch.no_grad(), _Trace(model) as tr:
            out = model(x)
    except Exception as e:
        return _raised(name, e, verbose, "a forward pass of a batch of 16 images of shape (1, 28, 28)")
    lin_calls = tr.of(nn.Linear)
    shapes = [(m.in_features, m.out_features) for m, _, _ in lin_calls]
    want = [(784, 100)] + [(100, 100)] * 19 + [(100, 10)]
    if shapes != want:
        return _report(name, FAIL, "the Linear layers are not 784→100, 19 × 100→100, 100→10.",
                       got=f"{len(lin_calls)} Linear layers in the forward pass: {shapes[:3]}"
                           f"{' …' if len(shapes) > 3 else ''}",
                       hint="20 hidden layers of 100 units plus one output layer: 21 Linear layers "
                            "(start with nn.Flatten()).", verbose=verbose)
    lins = [m for m, _, _ in lin_calls]
    if len({id(m) for m in lins}) < len(lins):
        return _report(name, FAIL, "one nn.Linear instance is used for several layers, so they share their weights.",
                       got=f"{len({id(m) for m in lins})} distinct Linear modules for 21 layers",
                       hint="create a new nn.Linear inside the loop for every layer.", verbose=verbose)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (16, 10):
        return _report(name, FAIL, "the output shape is wrong.", expected="(16, 10) for a batch of 16 images",
                       got=str(tuple(out.shape)) if isinstance(out, torch.Tensor) else _describe(out),
                       hint="start with nn.Flatten() and end with Linear(100, 10).", verbose=verbose)
    # ---- the activations, by what the forward pass computes between consecutive Linear layers
    found = [_activation_name(lin_calls[i][2], lin_calls[i + 1][1]) for i in range(20)]
    if found.count(spec["act"]) != 20:
        counts = {a: found.count(a) for a in dict.fromkeys(found)}
        summary = ", ".join(f"{a} after {n} layer{'s' if n != 1 else ''}" for a, n in counts.items())
        missing = [i + 1 for i, a in enumerate(found) if a != spec["act"]]
        hint = (f"apply {spec['act']} after every hidden Linear (nn.{spec['act']}() modules, or "
                f"F.{spec['act'].lower()} in a custom forward)."
                + (f" The first layer without it: hidden layer {missing[0]}." if len(missing) < 20 else ""))
        if spec["act"] == "SiLU" and "Mish" in counts:
            hint = "Mish (x·tanh(softplus(x))) is a different function: SiLU (Swish) is x·sigmoid(x), nn.SiLU()."
        return _report(name, FAIL, f"expected {spec['act']} after each of the 20 hidden layers.",
                       got=f"your forward pass applies {summary}", hint=hint, verbose=verbose)
    if not _same(out, lin_calls[-1][2]):
        last = _activation_name(lin_calls[-1][2], out)
        if _same(F.softmax(lin_calls[-1][2], -1), out) or _same(F.log_softmax(lin_calls[-1][2], -1), out):
            last = "a softmax"
        return _report(name, FAIL, "the network should end with the output Linear(100, 10): raw logits.",
                       got=f"{last} after the last Linear",
                       hint="remove it: the cross-entropy loss applies log-softmax itself.", verbose=verbose)
    # ---- batch norm: one instance per layer, between each hidden Linear and its activation
    bn_calls = tr.of(nn.modules.batchnorm._BatchNorm)
    n_bn = len({id(m) for m, _, _ in bn_calls})
    if spec["bn"]:
        if len(bn_calls) < 20:
            return _report(name, FAIL, "batch norm is missing.", got=f"{len(bn_calls)} batch-norm calls",
                           hint="add nn.BatchNorm1d(100) after each hidden Linear (before the activation).",
                           verbose=verbose)
        if n_bn < 20:
            return _report(name, FAIL, "one BatchNorm1d instance is shared by several layers.",
                           got=f"{n_bn} distinct BatchNorm1d modules for {len(bn_calls)} calls",
                           hint="its running statistics and scale would mix the layers: create a new "
                                "nn.BatchNorm1d(100) for every hidden layer.", verbose=verbose)
        z_out = [c[2] for c in lin_calls[:20]]
        after = sum(1 for _, inp, _ in bn_calls if not any(inp is z or _same(inp, z) for z in z_out))
        if after:
            return _report(name, FAIL, "batch norm comes after the activation.",
                           got=f"{after} of {len(bn_calls)} BatchNorm1d layers do not normalise a Linear's output",
                           hint="put nn.BatchNorm1d(100) between each hidden Linear and its activation: "
                                "Linear → BatchNorm1d → SiLU.", verbose=verbose)
    elif bn_calls:
        hint = ("SELU's self-normalisation needs a plain stack of dense layers: no batch norm."
                if spec["act"] == "SELU" else "this variant comes before batch norm; leave it out here.")
        return _report(name, FAIL, "this variant should have no batch norm.", hint=hint, verbose=verbose)
    # ---- dropout, by what it does in training mode: stochastic; alpha dropout leaves no exact zeros
    model.train()
    runs = []
    try:
        for seed in (1, 2):
            torch.manual_seed(seed)
            with torch.no_grad(), _Trace(model) as tr2:
                y = model(x)
            runs.append((y, tr2.of(nn.Linear)))
    except Exception as e:
        return _raised(name, e, verbose, "a forward pass in training mode")
    finally:
        model.eval()
    stochastic = not torch.allclose(runs[0][0], runs[1][0])
    # the largest share of exact zeros entering a Linear layer: one ordinary dropout layer shows there
    zeros = max((c[1] == 0).double().mean().item() for c in runs[0][1][1:])
    n_drop = sum(isinstance(m, nn.Dropout) for m in model.modules())
    if spec["dropout"] == "alpha":
        if stochastic and (zeros > 0.01 or n_drop):
            return _report(name, FAIL, "expected alpha dropout, found ordinary dropout.",
                           got=f"up to {100 * zeros:.1f} % of a layer's inputs are exactly 0 in training mode",
                           hint="nn.Dropout breaks SELU's fixed point (it sets units to 0, not to SELU's negative "
                                "saturation); use nn.AlphaDropout(p).", verbose=verbose)
        if not stochastic:
            return _report(name, FAIL, "expected alpha dropout: in training mode the network is deterministic.",
                           hint="add nn.AlphaDropout(0.1), e.g. once before the output layer (with "
                                "F.alpha_dropout in a custom forward, pass training=self.training).",
                           verbose=verbose)
    elif stochastic:
        return _report(name, FAIL, "this variant should have no dropout: in training mode two passes differ.",
                       hint="leave dropout out here; it comes with the alpha-dropout variant.", verbose=verbose)
    if stochastic and not all(_same(y, lins_run[-1][2]) for y, lins_run in runs):
        return _report(name, FAIL, "in training mode the output is not the output Linear's: something "
                       "random comes after the last layer.",
                       hint="dropout belongs before the output layer, never after it (it would scramble the "
                            "logits themselves).", verbose=verbose)
    if spec["dropout"] == "alpha":
        bad = _alpha_dropout_problem(x, runs, spec["act"])
        if bad:
            return _report(name, FAIL, verbose=verbose, **bad)
    # ---- the initialisation of the hidden layers, named
    hidden = lins[:20]
    want_scheme = spec["var"]
    got_scheme = _identify_scheme(hidden)
    if got_scheme != want_scheme:
        rule = _SCHEMES[want_scheme][0]
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
        return _report(name, FAIL, "the initial weights have the wrong variance.", expected=rule,
                       got=f"the hidden layers look like {what}", hint=hint, verbose=verbose)
    # ---- normal, not uniform: the same variance, but the task names the normal draw
    kurt = _pooled_kurtosis(hidden)
    if kurt < _UNIFORM_KURTOSIS:
        rule = _SCHEMES[want_scheme][0]
        how = ("nn.init.kaiming_normal_(w, nonlinearity='relu')" if want_scheme == "he" else
               "nn.init.normal_(w, 0, 1/√fan_in)")
        return _report(name, FAIL, "the initial weights have the right variance but are drawn uniformly.",
                       expected=f"{rule}, drawn from a normal distribution",
                       got=f"weights with kurtosis {kurt:.2f} (a normal draw has 3, a uniform one 1.8)",
                       hint=f"the task asks for the *normal* variant: use {how}, not a uniform draw "
                            "(kaiming_uniform_ / uniform_).", verbose=verbose)
    # ---- the biases: zero, as the task says
    nonzero = [i + 1 for i, m in enumerate(hidden) if m.bias is not None and m.bias.detach().abs().max() > 0]
    if nonzero:
        return _report(name, FAIL, "the hidden layers' biases are not zero.",
                       got=f"{len(nonzero)} of 20 hidden layers have non-zero biases (the first: hidden layer "
                           f"{nonzero[0]})",
                       hint="PyTorch draws the biases at random by default; the task asks for zero biases "
                            "(`nn.init.zeros_(lin.bias)`).", verbose=verbose)
    # ---- the builder seeds itself with its argument: the same seed, the same weights; another, others
    torch.manual_seed(12345)  # so a builder that ignores its seed draws differently from the first call
    try:
        again, other = build_fn(0), build_fn(1)
        same = all(torch.equal(a.detach(), b.detach()) for a, b in zip(model.parameters(), again.parameters()))
        differ = any(not torch.equal(a.detach(), b.detach()) for a, b in zip(model.parameters(), other.parameters()))
    except Exception as e:
        return _raised(name, e, verbose, "calling your builder again, with seed=0 and seed=1")
    if not same:
        return _report(name, FAIL, "two calls with the same seed build different weights.",
                       hint="start the builder with `torch.manual_seed(seed)`, so runs are reproducible (and "
                            "their results can be cached).", verbose=verbose)
    if not differ:
        return _report(name, FAIL, "seed=0 and seed=1 build the same weights: the builder ignores its seed.",
                       hint="seed with the argument (`torch.manual_seed(seed)`), not a fixed number: the runs "
                            "over several seeds measure the spread between initialisations, which is 0 if "
                            "every seed builds the same network.", verbose=verbose)
    mean_ratio = float(np.mean([m.weight.detach().double().var().item() * m.in_features for m in hidden]))
    label = "He" if want_scheme == "he" else "LeCun"
    return _report(name, PASS, f"correct — 21 Linear layers, {spec['act']} after each of the 20 hidden layers, "
                   f"{label} init (Var·fan_in = {mean_ratio:.3f})"
                   f"{', batch norm' if spec['bn'] else ''}{', alpha dropout' if spec['dropout'] else ''}.",
                   verbose=verbose)


class _LearnerMistake(Exception):
    """A mistake found in the learner's objects before or during training (its args: a report dict)."""


def _checked_scheduler(scheduler_fn, steps, epochs, n_train, batch_size):
    """``scheduler_fn`` wrapped so that a wrong object or a too short OneCycleLR is a report, not a crash."""
    from .schedules import _scheduler_problem

    def checked(optimizer):
        sched = scheduler_fn(optimizer)
        bad = _scheduler_problem(sched, optimizer)
        if bad:
            raise _LearnerMistake(bad)
        if steps and isinstance(sched, torch.optim.lr_scheduler.OneCycleLR) and sched.total_steps < steps:
            raise _LearnerMistake(dict(
                headline=f"total steps too small: your OneCycleLR has total_steps={sched.total_steps}, but "
                         f"this run makes {steps} optimizer steps ({epochs} epochs × "
                         f"ceil({n_train} / {batch_size}) = {steps // epochs} per epoch).",
                hint="OneCycleLR is stepped after every batch: total_steps = epochs × math.ceil(n_train / "
                     "batch_size). Floor division `//` misses the last, smaller batch of each epoch."))
        return sched
    return checked


def _early_stopped(model, optimizer_fn, data, *, epochs, patience, scheduler_fn, batch_size, seed, desc,
                   progress, use_cache, test=True):
    """:func:`course_utils.train.train_model` with early stopping (``patience``), after checking that the
    learner's ``optimizer_fn`` returns an optimizer (a specific hint instead of a TypeError)."""
    from ..config import default_device
    from ..train import train_model

    model.to(default_device(None))   # the optimizer must hold the parameters where they will train
    optimizer = optimizer_fn(model.parameters())
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise _LearnerMistake(dict(headline=f"the optimizer function returned {_describe(optimizer)}, not a "
                                            "torch.optim optimizer.",
                                   hint="return the optimizer, e.g. `lambda p: torch.optim.NAdam(p, lr=1e-3)`."))
    return train_model(model, lambda params: optimizer, data, epochs=epochs, batch_size=batch_size, seed=seed,
                       scheduler_fn=scheduler_fn, patience=patience, test=test, desc=desc, progress=progress,
                       use_cache=use_cache)


def capstone_run(build_fn: Callable, optimizer_fn: Callable, data, *, epochs: int, patience: int | None = None,
                 scheduler_fn=None, desc: str = "capstone", seed: int = 0, batch_size: int = 256,
                 progress: bool | None = None, use_cache: bool = True, test: bool = True):
    """Build (``build_fn(seed)``) and train one capstone model with early stopping; cached.

    Trains at most ``epochs`` epochs and stops after ``patience`` epochs without a better validation
    accuracy (``None``: never); the model keeps the weights of its best validation epoch, evaluated on
    the test split unless ``test=False`` (then ``test_acc`` is NaN).  Runs on one
    CPU thread (restored afterwards), so the numbers do not depend on the machine's thread count.

    Returns ``(model, TrainResult)``, or ``(None, None)`` with a "not yet" note while the
    builder is still the TODO stub, or with a friendly message (the learner's line and a hint) when
    the learner's code fails: a diverging run, a scheduler function that returns the optimizer, a
    OneCycleLR whose ``total_steps`` is smaller than the run, any exception from the learner's code.
    """
    from .schedules import _data_problem

    bad = _data_problem(data)
    if bad:
        _say(FAIL, f"{desc}: {bad['headline']}\n   hint:     {bad['hint']}")
        return None, None
    try:
        n_train = len(data.train[1])
    except Exception:
        n_train = None
    steps = epochs * math.ceil(n_train / batch_size) if n_train and isinstance(batch_size, int) and \
        isinstance(epochs, int) and batch_size > 0 else None
    checked = None if scheduler_fn is None else _checked_scheduler(scheduler_fn, steps, epochs, n_train, batch_size)
    try:
        model = build_fn(seed)
        if not isinstance(model, nn.Module):
            raise _LearnerMistake(dict(headline=f"the builder returned {_describe(model)}, not an nn.Module.",
                                       hint="return the nn.Sequential you built."))
        with _one_thread():
            result = _early_stopped(model, optimizer_fn, data, epochs=epochs, patience=patience,
                                    scheduler_fn=checked, batch_size=batch_size, seed=seed, desc=desc,
                                    progress=progress, use_cache=use_cache, test=test)
    except NotImplementedError:
        _say(TODO, f"{desc}: not yet — fill in the builder/optimizer above, then run this cell again.")
        return None, None
    except FloatingPointError as e:
        _say(FAIL, f"{desc}: {e}")
        return None, None
    except _LearnerMistake as m:
        bad = m.args[0]
        _say(FAIL, f"{desc}: {bad['headline']}\n   hint:     {bad['hint']}")
        return None, None
    except Exception as e:  # the learner's code (builder, optimizer_fn, scheduler_fn): report, never raise
        _say_raised(desc, e, context="scheduler")
        return None, None
    return model, result


# ----------------------------------------------------------------------------- several seeds
@dataclasses.dataclass
class CapstoneRuns:
    """One configuration trained with several seeds: the models (best weights) and their results."""

    models: list
    results: list

    def __len__(self) -> int:
        return len(self.results)

    def values(self, metric: str, target: float | None = None) -> np.ndarray:
        """One value per seed: ``test_acc`` / ``best_val_acc`` (%), ``best_epoch``, ``epochs`` (trained,
        i.e. where early stopping stopped), ``seconds_per_epoch``, or ``epochs_to`` (the first epoch whose
        validation accuracy reaches ``target`` %, NaN when none does)."""
        if metric == "epochs_to":
            if target is None:
                raise ValueError("epochs_to needs target=, a validation accuracy in %.")
            return np.array([epochs_to(r, target) for r in self.results], dtype=float)
        scale = 100.0 if metric in ("test_acc", "best_val_acc") else 1.0
        return np.array([scale * getattr(r, metric) for r in self.results], dtype=float)

    def mean_sd(self, metric: str, target: float | None = None) -> tuple[float, float]:
        v = self.values(metric, target)
        return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def epochs_to(result, target: float) -> float:
    """The first epoch whose validation accuracy is at least ``target`` % (NaN if none is)."""
    hits = np.flatnonzero(100 * np.asarray(result.val_acc) >= target)
    return float(result.start_epoch + hits[0] + 1) if len(hits) else math.nan


def capstone_seeds(build_fn: Callable, optimizer_fn: Callable, data, *, seeds: int | Sequence[int] = 3,
                   desc: str = "capstone", **run_kw) -> CapstoneRuns | None:
    """:func:`capstone_run` for each seed (``build_fn(seed)``, the seed also orders the batches).

    Returns a :class:`CapstoneRuns`, or ``None`` (after the friendly message) while the learner's code is a
    stub or fails.
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    models, results = [], []
    for s in seeds:
        model, result = capstone_run(build_fn, optimizer_fn, data, seed=s, desc=f"{desc}, seed {s}", **run_kw)
        if result is None:
            return None
        models.append(model)
        results.append(result)
    return CapstoneRuns(models, results)


def search_lr(build_fn: Callable, make_optimizer: Callable, data, *, rates: Sequence[float], epochs: int,
              seed: int = 0, desc: str = "lr search", **run_kw) -> tuple[float | None, dict]:
    """A short learning-rate search: ``epochs`` epochs per rate (one seed, no early stopping).

    ``make_optimizer(params, lr)`` builds the optimizer.  Returns ``(best rate, {rate: TrainResult})``,
    the best rate being the one with the highest validation accuracy; ``(None, {})`` while the builder
    is a stub.  The test split is not looked at.
    """
    out = {}
    for lr in rates:
        _, r = capstone_run(build_fn, lambda p, lr=lr: make_optimizer(p, lr), data, epochs=epochs, seed=seed,
                            desc=f"{desc}, lr {lr:g}", test=False, **run_kw)
        if r is None:
            return None, {}
        out[lr] = r
    return max(out, key=lambda lr: out[lr].best_val_acc), out


def _deterministic_prefix(model: nn.Module):
    """``(prefix, rest)`` of an ``nn.Sequential`` split before its first dropout layer (``(None, model)``
    otherwise): the prefix gives the same output on every MC pass, so it need run only once."""
    if isinstance(model, nn.Sequential):
        for i, m in enumerate(model):
            if any(isinstance(c, nn.modules.dropout._DropoutNd) for c in m.modules()):
                return (model[:i] if i else None), model[i:]
    return None, model


def mc_dropout_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, n_samples: int = 10,
                        batch_size: int = 2000, seed: int = 0) -> float:
    """Accuracy of the MC-dropout prediction (mean softmax over ``n_samples`` passes, dropout on).

    The layers before the first dropout layer are computed once per batch (they are deterministic), the
    rest ``n_samples`` times; seeded, on one thread.
    """
    prefix, rest = _deterministic_prefix(model)
    was, correct = model.training, 0
    with _one_thread(), torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        model.eval()
        for i in range(0, len(y), batch_size):
            x = X[i:i + batch_size]
            mean, _ = mc_dropout_predict_reference(rest, x if prefix is None else prefix(x), n_samples)
            correct += (mean.argmax(-1) == y[i:i + batch_size]).sum().item()
    model.train(was)
    return correct / max(len(y), 1)


def step_times(builders: Mapping[str, Callable], optimizer_fn: Callable, *, batch_size: int, steps: int = 10,
               repeats: int = 5, input_shape=(1, 28, 28), classes: int = 10) -> dict:
    """Seconds per training step (forward, backward, optimizer step) of each model, on one CPU thread.

    The models take turns (``repeats`` rounds of ``steps`` steps each) and each keeps its fastest round,
    so a busy machine slows them alike instead of whichever ran during the busy moment.  Returns
    ``{label: seconds}`` (or ``None`` for a label whose builder is still the stub).
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, *input_shape, generator=g)
    y = torch.randint(0, classes, (batch_size,), generator=g)
    setups, best = {}, {}
    with _one_thread():
        for label, build in builders.items():
            try:
                model = build(0).cpu().train()
            except NotImplementedError:
                best[label] = None
                continue
            setups[label] = (model, optimizer_fn(model.parameters()))
            best[label] = math.inf
        for _ in range(repeats):
            for label, (model, opt) in setups.items():
                t0 = time.perf_counter()
                for _ in range(steps):
                    loss = F.cross_entropy(model(x), y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                best[label] = min(best[label], (time.perf_counter() - t0) / steps)
    return best


# ----------------------------------------------------------------------------- comparing configurations
def compare_values(a: Sequence[float], b: Sequence[float]) -> dict:
    """Two sets of per-seed values, as mean ± sd each.

    The difference counts as ``clear`` when the two mean ± sd intervals do not overlap
    (|mean_a − mean_b| > sd_a + sd_b); then ``sign`` is +1 (a higher) or −1, else 0.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ma, mb = float(np.mean(a)), float(np.mean(b))
    sa = float(np.std(a, ddof=1)) if len(a) > 1 else 0.0
    sb = float(np.std(b, ddof=1)) if len(b) > 1 else 0.0
    diff = ma - mb
    clear = bool(np.isfinite(diff) and abs(diff) > sa + sb)
    return dict(mean_a=ma, sd_a=sa, mean_b=mb, sd_b=sb, diff=diff, clear=clear,
                sign=int(np.sign(diff)) if clear else 0)


def compare_runs(a: CapstoneRuns, b: CapstoneRuns, metric: str, target: float | None = None) -> dict:
    """``a`` against ``b`` on ``metric`` (see :meth:`CapstoneRuns.values`) with :func:`compare_values`."""
    return compare_values(a.values(metric, target), b.values(metric, target))


def paired_difference(a: Sequence[float], b: Sequence[float], *, min_effect: float = 0.0) -> dict:
    """``a − b`` seed by seed (the same trained weights measured two ways), as mean ± sd.

    ``clear`` when the mean difference exceeds both the sd of the differences and ``min_effect`` (an
    amount too small to matter otherwise, e.g. 0.2 points of accuracy); ``sign`` as in :func:`compare_runs`.
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean, sd = float(np.mean(d)), float(np.std(d, ddof=1)) if len(d) > 1 else 0.0
    clear = bool(abs(mean) > max(sd, min_effect))
    return dict(mean=mean, sd=sd, clear=clear, sign=int(np.sign(mean)) if clear else 0)


def verdict(comparison: dict, *, higher: str, lower: str, same: str) -> str:
    """The words for a comparison's ``sign``: ``higher`` (+1), ``lower`` (−1) or ``same`` (0, not clear)."""
    return {1: higher, -1: lower, 0: same}[comparison["sign"]]


def convergence_target(*runs: CapstoneRuns, below: float = 3.0) -> float:
    """A validation accuracy (%) that every run reaches: ``below`` points under the lowest best validation
    accuracy of any seed of any configuration given, rounded down (the bar for "epochs to converge").

    Per run, not per configuration mean: a seed that stalls below its configuration's mean would otherwise
    never reach the bar and have no epoch count to compare."""
    return float(math.floor(min(float(np.min(r.values("best_val_acc"))) for r in runs) - below))


def capstone_table(runs: Mapping[str, object], *, target: float | None = None):
    """Comparison table: one row per configuration, mean ± sd over the seeds.

    ``runs`` maps a label to a :class:`CapstoneRuns`, ``None`` (not run yet) or a dict of ready-made
    cells (e.g. the MC-dropout row).  With ``target`` (a validation accuracy in %), a column gives the
    epochs each configuration took to reach it.
    """
    import pandas as pd

    def pm(m, s, digits=1):
        return "–" if not np.isfinite(m) else f"{m:.{digits}f} ± {s:.{digits}f}"

    rows = []
    for label, r in runs.items():
        if r is None:
            rows.append({"configuration": label, "note": "not run yet"})
            continue
        if isinstance(r, dict):
            rows.append({"configuration": label, **r})
            continue
        row = {"configuration": label, "seeds": len(r),
               "test acc (%)": pm(*r.mean_sd("test_acc")),
               "best val acc (%)": pm(*r.mean_sd("best_val_acc")),
               "best epoch": pm(*r.mean_sd("best_epoch")),
               "epochs trained": pm(*r.mean_sd("epochs"))}
        if target is not None:
            v = r.values("epochs_to", target)
            row[f"epochs to {target:.0f} %"] = (pm(float(np.mean(v)), float(np.std(v, ddof=1)))
                                                if np.isfinite(v).all() else f"{np.isfinite(v).sum()}/{len(v)} reach it")
        row["s / epoch"] = pm(*r.mean_sd("seconds_per_epoch"), digits=2)
        row["note"] = "cached" if all(x.cached for x in r.results) else ""
        rows.append(row)
    return pd.DataFrame(rows).set_index("configuration").astype(object).fillna("")


def plot_capstone_curves(runs: Mapping[str, CapstoneRuns | None], *, metrics=("val_acc", "train_loss"),
                         target: float | None = None, axes=None):
    """Learning curves: one panel per metric, one colour per configuration, one line per seed; a dot
    marks each seed's best epoch (the weights it keeps), the line ends where early stopping stopped."""
    import matplotlib.pyplot as plt

    names = {"val_acc": "validation accuracy (%)", "train_acc": "training accuracy (%)",
             "train_loss": "training loss (cross-entropy)", "val_loss": "validation loss (cross-entropy)"}
    if axes is None:
        _, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
        axes = axes[0]
    for ax, metric in zip(axes, metrics):
        scale = 100.0 if metric.endswith("acc") else 1.0
        for k, (label, r) in enumerate((k, v) for k, v in runs.items() if v is not None):
            for i, res in enumerate(r.results):
                ys = scale * np.asarray(getattr(res, metric), dtype=float)
                xs = np.arange(res.start_epoch + 1, res.start_epoch + len(ys) + 1)
                ax.plot(xs, ys, color=f"C{k}", lw=1.2, alpha=0.8, label=label if i == 0 else None)
                b = res.best_epoch - res.start_epoch - 1
                ax.plot(xs[b], ys[b], "o", color=f"C{k}", ms=4)
        if target is not None and metric == "val_acc":
            ax.axhline(target, color="grey", ls=":", lw=1)
        ax.set(xlabel="epoch", ylabel=names.get(metric, metric), title=names.get(metric, metric).split(" (")[0])
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(fontsize="small", loc="lower right")
    return axes
