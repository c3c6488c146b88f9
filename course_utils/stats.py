"""Per-layer statistics of a network as plain data (compute here, draw in :mod:`course_utils.plotting`).

Every function returns an ordered ``dict`` that maps a layer label such as
``"1: 784→512"`` to a 1-D NumPy array of values (weights, gradients or
activations), so a table or a histogram can be made from it without touching
the model again.  Forward hooks live only inside :func:`record_outputs`.

What theory predicts for these values (the variance recurrences) is in :mod:`course_utils.theory`;
statistics over runs and seeds (:func:`~course_utils.compare.mean_ci`, tests) in :mod:`course_utils.compare`.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["layer_label", "record_outputs", "activation_stats", "weight_stats", "gradient_stats",
           "variances", "dead_unit_fraction", "activation_stats_per_unit"]


def layer_label(i: int, layer: nn.Linear) -> str:
    """``"3: 256→128"`` — 1-based index and shape of a Linear layer."""
    return f"{i}: {layer.in_features}→{layer.out_features}"


def _linears(model: nn.Module) -> list[nn.Linear]:
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not lins:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layers; these statistics are per Linear layer.")
    return lins


@contextlib.contextmanager
def record_outputs(modules: Sequence[nn.Module]) -> Iterator[list[torch.Tensor | None]]:
    """Record the output of each module during forward passes inside the ``with`` block.

    Yields a list (one slot per module) that the hooks fill; the hooks are
    removed when the block ends, also on an exception.
    """
    outputs: list[torch.Tensor | None] = [None] * len(modules)
    handles = []
    for i, m in enumerate(modules):
        def hook(_m, _inp, out, i=i):
            outputs[i] = out.detach()
        handles.append(m.register_forward_hook(hook))
    try:
        yield outputs
    finally:
        for h in handles:
            h.remove()


def _as_batch(x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor batch, got {type(x).__name__}.")
    if x.dim() < 2:
        raise ValueError(f"x must be a batch with a leading batch dimension, got shape {tuple(x.shape)}.")
    p = next(model.parameters(), None)
    return x.to(p.device) if p is not None else x


@torch.no_grad()
def activation_stats(model: nn.Module, x: torch.Tensor, *, after_activation: bool = False
                     ) -> dict[str, np.ndarray]:
    """Outputs of every ``nn.Linear`` layer of ``model`` for the batch ``x``, flattened.

    Args:
        model: any module with ``nn.Linear`` layers (evaluated in ``eval`` mode).
        x: a batch, e.g. ``(1024, 1, 28, 28)``.
        after_activation: record what the *next* module (the activation) outputs
            instead of the Linear output; for the output layer the logits are kept.

    Returns:
        ``{"1: 784→512": array of B*512 values, ...}``.
    """
    x = _as_batch(x, model)
    lins = _linears(model)
    targets: list[nn.Module] = lins
    if after_activation:
        mods = list(model.modules())
        targets = []
        for lin in lins:
            i = next(k for k, m in enumerate(mods) if m is lin)
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            targets.append(nxt if nxt is not None and not isinstance(nxt, nn.Linear) else lin)
    was = model.training
    model.eval()
    try:
        with record_outputs(targets) as outs:
            model(x)
    finally:
        model.train(was)
    return {layer_label(i + 1, lin): o.reshape(-1).float().cpu().numpy() for i, (lin, o) in
            enumerate(zip(lins, outs))}


def weight_stats(model: nn.Module) -> dict[str, np.ndarray]:
    """Weight values of every ``nn.Linear`` layer (biases excluded)."""
    return {layer_label(i + 1, lin): lin.weight.detach().reshape(-1).float().cpu().numpy()
            for i, lin in enumerate(_linears(model))}


def gradient_stats(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   loss_fn: Callable = F.cross_entropy) -> dict[str, np.ndarray]:
    """Gradients of the loss on ``(x, y)`` w.r.t. every Linear layer's weight (eval mode).

    The model's existing ``.grad`` fields are left as they were.
    """
    x = _as_batch(x, model)
    y = y.to(x.device)
    lins = _linears(model)
    params = [lin.weight for lin in lins]
    was = model.training
    model.eval()
    try:
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, params)
    finally:
        model.train(was)
    return {layer_label(i + 1, lin): g.reshape(-1).float().cpu().numpy()
            for i, (lin, g) in enumerate(zip(lins, grads))}


def variances(stats: dict[str, np.ndarray]) -> dict[str, float]:
    """Population variance of each layer's values (``np.var``, as the sources print it)."""
    return {k: float(np.var(v.astype(np.float64))) for k, v in stats.items()}


@torch.no_grad()
def dead_unit_fraction(model: nn.Module, x: torch.Tensor, *, threshold: float = 0.0) -> dict[str, float]:
    """Fraction of hidden units that never output more than ``threshold`` on the batch ``x``.

    A unit is *dead* when its activation (the output of the module that follows each hidden
    ``nn.Linear``) is ``<= threshold`` for every sample: for ReLU that means it is 0 on all
    inputs, so it receives no gradient and cannot recover.  Use a large batch (e.g. 10,000
    validation images) so that "never" is meaningful.

    Returns:
        ``{layer label: fraction of dead units}`` for each hidden layer (the output layer is skipped).
    """
    acts = activation_stats_per_unit(model, x)
    return {k: float((a.max(dim=0).values <= threshold).float().mean()) for k, a in acts.items()}


@torch.no_grad()
def activation_stats_per_unit(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Post-activation outputs of each hidden layer as ``(B, units)`` CPU tensors."""
    x = _as_batch(x, model)
    lins = _linears(model)
    mods = list(model.modules())
    targets, labels = [], []
    for i, lin in enumerate(lins[:-1]):
        k = next(j for j, m in enumerate(mods) if m is lin)
        nxt = mods[k + 1] if k + 1 < len(mods) else lin
        targets.append(lin if isinstance(nxt, nn.Linear) else nxt)
        labels.append(layer_label(i + 1, lin))
    was = model.training
    model.eval()
    try:
        with record_outputs(targets) as outs:
            model(x)
    finally:
        model.train(was)
    return {lab: o.reshape(o.shape[0], -1).float().cpu() for lab, o in zip(labels, outs)}
