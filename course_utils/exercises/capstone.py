"""Exercises 07 — capstone: model checks for each variant, the training run and the comparison table."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from ._core import CheckResult, FAIL, PASS, _not_callable, _not_yet, _one_thread, _raised, _report
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
    from ..train import train_model

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
