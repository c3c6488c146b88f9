"""Exercises 07 — capstone: model checks for each variant, the training run and the comparison table."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._core import (CheckResult, FAIL, PASS, TODO, _describe, _not_callable, _not_yet, _one_thread, _raised,
                    _report, _say, _say_raised)
from .regularization import mc_dropout_predict_reference


#: size of the capstone runs per budget: a smoke test on the CPU, the real thing on a GPU
CAPSTONE_SIZES = {"cpu": dict(n_train=5000, n_val=2000, epochs=1, batch_size=64, mc_samples=10),
                  "full": dict(n_train=50_000, n_val=10_000, epochs=20, batch_size=128, mc_samples=50)}


def capstone_sizes(budget=None) -> dict:
    """The capstone's ``n_train``/``n_val``/``epochs``/``batch_size``/``mc_samples`` for ``budget``."""
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
    """Forward hooks on every leaf module: the calls of one forward pass, in order (module, input, output)."""

    def __init__(self, model: nn.Module):
        self.model, self.calls, self.handles = model, [], []

    def __enter__(self):
        for m in self.model.modules():
            if not list(m.children()):
                self.handles.append(m.register_forward_hook(self._hook))
        return self

    def _hook(self, module, inputs, output):
        inp = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
        self.calls.append((module, inp, output if isinstance(output, torch.Tensor) else None))

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()

    def of(self, cls):
        return [c for c in self.calls if isinstance(c[0], cls)]


def _same(a, b) -> bool:
    return a is not None and b is not None and a.shape == b.shape and bool(
        torch.allclose(a, b, rtol=1e-3, atol=1e-4 * (1 + b.abs().max().item())))


def _activation_name(z, u) -> str:
    """Which element-wise function maps a Linear's output ``z`` to the next Linear's input ``u``."""
    if z is None or u is None or z.shape != u.shape:
        return "something that is not element-wise"
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


def check_capstone_model(build_fn: Callable, variant: str, *, verbose: bool = True) -> CheckResult:
    """Check a capstone architecture: 20 hidden Linear(·, 100) layers, activation, init variance, BN/dropout.

    ``variant`` is one of ``"silu_he"``, ``"bn"``, ``"selu_lecun"``, ``"alpha_dropout"``.  The check judges
    what the forward pass *does* (forward hooks, counted per call, and the values between consecutive
    Linear layers), so a shared ``nn.SiLU()`` instance or ``F.silu`` in a custom ``forward`` count as 20
    activations, and names the initialisation scheme it finds (He, LeCun, Xavier, PyTorch's default, …).
    """
    if variant not in _CAPSTONE_SPECS:
        raise ValueError(f"variant must be one of {sorted(_CAPSTONE_SPECS)}, got {variant!r}.")
    with _one_thread():
        return _check_capstone_model(build_fn, variant, verbose)


def _check_capstone_model(build_fn, variant, verbose) -> CheckResult:
    spec = _CAPSTONE_SPECS[variant]
    name = f"capstone model ({variant})"
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
    zeros = float(np.mean([(c[1] == 0).double().mean().item() for c in runs[0][1][1:]]))
    n_drop = sum(isinstance(m, nn.Dropout) for m in model.modules())
    if spec["dropout"] == "alpha":
        if stochastic and (zeros > 0.01 or n_drop):
            return _report(name, FAIL, "expected alpha dropout, found ordinary dropout.",
                           got=f"{100 * zeros:.1f} % of the hidden units are exactly 0 in training mode",
                           hint="nn.Dropout breaks SELU's fixed point (it sets units to 0, not to SELU's negative "
                                "saturation); use nn.AlphaDropout(p).", verbose=verbose)
        if not stochastic:
            return _report(name, FAIL, "expected alpha dropout: in training mode the network is deterministic.",
                           hint="add nn.AlphaDropout(0.1) after each SELU (with F.alpha_dropout in a custom "
                                "forward, pass training=self.training).", verbose=verbose)
    elif stochastic:
        return _report(name, FAIL, "this variant should have no dropout: in training mode two passes differ.",
                       hint="leave dropout out here; it comes with the alpha-dropout variant.", verbose=verbose)
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
    # ---- the builder seeds itself, so every run starts from the same weights
    try:
        again = build_fn(0)
        same = all(torch.equal(a.detach(), b.detach()) for a, b in zip(model.parameters(), again.parameters()))
    except Exception:
        same = True  # it built once; a second failure would have shown the first time
    if not same:
        return _report(name, FAIL, "two calls with the same seed build different weights.",
                       hint="start the builder with `torch.manual_seed(seed)`, so runs are reproducible (and "
                            "their results can be cached).", verbose=verbose)
    mean_ratio = float(np.mean([m.weight.detach().double().var().item() * m.in_features for m in hidden]))
    label = "He" if want_scheme == "he" else "LeCun"
    return _report(name, PASS, f"correct — 21 Linear layers, {spec['act']} after each of the 20 hidden layers, "
                   f"{label} init (Var·fan_in = {mean_ratio:.3f})"
                   f"{', batch norm' if spec['bn'] else ''}{', alpha dropout' if spec['dropout'] else ''}.",
                   verbose=verbose)


class _LearnerMistake(Exception):
    """A mistake found in the learner's objects before or during training (its args: a report dict)."""


def capstone_run(build_fn: Callable, optimizer_fn: Callable, data, *, epochs: int, scheduler_fn=None,
                 desc: str = "capstone", seed: int = 0, **train_kwargs):
    """Build (``build_fn(seed)``) and train a capstone model with :func:`course_utils.train.train_model`.

    Returns ``(model, TrainResult)``, or ``(None, None)`` with a "not yet" note while the
    builder is still the TODO stub, or with a friendly message (the learner's line and a hint) when
    the learner's code fails: a diverging run, a scheduler function that returns the optimizer, a
    OneCycleLR whose ``total_steps`` is smaller than the run, any exception from the learner's code.
    """
    from ..train import train_model
    from .schedules import _scheduler_problem

    batch_size = train_kwargs.get("batch_size", 256)  # train_model's default
    try:
        n_train = len(data.train[1])
    except Exception:
        n_train = None
    steps = epochs * math.ceil(n_train / batch_size) if n_train and isinstance(batch_size, int) and \
        isinstance(epochs, int) and batch_size > 0 else None

    checked = None
    if scheduler_fn is not None:
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

    try:
        model = build_fn(seed)
        if not isinstance(model, nn.Module):
            raise _LearnerMistake(dict(headline=f"the builder returned {_describe(model)}, not an nn.Module.",
                                       hint="return the nn.Sequential you built."))
        with _one_thread():
            result = train_model(model, optimizer_fn, data, epochs=epochs, seed=seed, scheduler_fn=checked,
                                 desc=desc, **train_kwargs)
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
