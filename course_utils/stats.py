"""Per-layer statistics as plain data (compute here, draw in :mod:`course_utils.plotting`).

Every function returns an ordered ``dict`` that maps a layer label such as
``"1: 784→512"`` to a 1-D NumPy array of values (weights, gradients or
activations), so a table or a histogram can be made from it without touching
the model again.  Forward hooks live only inside :func:`record_outputs`.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["layer_label", "record_outputs", "activation_stats", "weight_stats", "gradient_stats",
           "variances", "mean_ci", "dead_unit_fraction", "activation_stats_per_unit"]


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


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, sample std and a Student-t confidence interval of the mean.

    Returns:
        ``{"mean", "std", "lo", "hi", "n"}``; with one value the interval is ``[mean, mean]``
        and ``std`` is 0.
    """
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    mean = float(v.mean())
    if v.size == 1:
        return {"mean": mean, "std": 0.0, "lo": mean, "hi": mean, "n": 1}
    from scipy import stats as st

    std = float(v.std(ddof=1))
    half = float(st.t.ppf(0.5 + confidence / 2, df=v.size - 1)) * std / math.sqrt(v.size)
    return {"mean": mean, "std": std, "lo": mean - half, "hi": mean + half, "n": int(v.size)}


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


# ------------------------------------------------------------------ theory: the variance recurrence
# (Part I) What the forward-variance recurrence predicts for each layer, to print beside measured values.
__all__ += ["gaussian_second_moment", "predicted_activation_variances", "input_second_moment"]

import functools  # noqa: E402  (Part I additions below)

_SECOND_MOMENT_CLOSED = {"identity": 1.0, "linear": 1.0, "relu": 0.5}


def gaussian_second_moment(activation: str, var: float, *, negative_slope: float = 0.01,
                           mean: float = 0.0, n_points: int = 96) -> float:
    """:math:`\\mathbb E[f(y)^2]` for :math:`y \\sim \\mathcal N(\\text{mean}, \\text{var})`.

    Closed forms when ``mean == 0``: identity :math:`v`; ReLU :math:`v/2` (half of a symmetric
    distribution is cut to 0); leaky ReLU :math:`(1+\\alpha^2)\\,v/2`.  Everything else (tanh,
    sigmoid, or any name in :data:`course_utils.models.ACTIVATIONS`) by Gauss–Hermite quadrature
    with ``n_points`` nodes, exact to ~1e-10 for these smooth functions of moderate variance.

    Raises:
        ValueError: negative variance or unknown activation.
    """
    if not np.isfinite(var) or var < 0:
        raise ValueError(f"var must be a finite number >= 0, got {var}.")
    key = activation.strip().lower()
    if mean == 0.0 and key in _SECOND_MOMENT_CLOSED:
        return _SECOND_MOMENT_CLOSED[key] * float(var)
    if mean == 0.0 and key in ("leaky_relu", "leakyrelu"):
        return 0.5 * (1.0 + negative_slope ** 2) * float(var)
    funcs = {"identity": lambda z: z, "linear": lambda z: z, "relu": lambda z: np.maximum(z, 0.0),
             "leaky_relu": lambda z: np.where(z > 0, z, negative_slope * z),
             "tanh": np.tanh, "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z))}
    funcs["leakyrelu"] = funcs["leaky_relu"]
    if key in funcs:
        f = funcs[key]
    else:
        from .models import make_activation  # any activation of the book, evaluated with torch

        module, _ = make_activation(key)

        def f(z):
            with torch.no_grad():
                return module(torch.as_tensor(z, dtype=torch.float64)).numpy()
    nodes, weights = _hermegauss(n_points)  # weight exp(-z^2/2)
    vals = np.asarray(f(mean + math.sqrt(var) * nodes), dtype=np.float64)
    return float(np.sum(weights * vals ** 2) / math.sqrt(2 * math.pi))


@functools.lru_cache(maxsize=8)
def _hermegauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.hermite_e.hermegauss(n)


def input_second_moment(x: torch.Tensor) -> float:
    """:math:`\\mathbb E[x^2]` over all entries of a batch — what the first layer's variance scales."""
    return float((x.double() ** 2).mean())


def predicted_activation_variances(sizes: Sequence[int], weight_var: float | Sequence[float],
                                   bias_var: float | Sequence[float] = 0.0, *, activation: str = "identity",
                                   input_second_moment: float = 1.0, negative_slope: float = 0.01) -> np.ndarray:
    """Variance of each Linear layer's output that the mean-field recurrence predicts.

    With independent zero-mean weights of variance :math:`\\sigma_{w,l}^2`, biases of variance
    :math:`\\sigma_{b,l}^2` and :math:`d_{l-1}` inputs,

    .. math::
        v_l = d_{l-1}\\,\\sigma_{w,l}^2\\,q_{l-1} + \\sigma_{b,l}^2, \\qquad
        q_l = \\mathbb E_{y\\sim\\mathcal N(0, v_l)}[f(y)^2], \\qquad q_0 = \\mathbb E[x^2],

    so :math:`q_l = v_l` for the identity and :math:`v_l/2` for ReLU.  ``v_l`` is what
    :func:`variances` of :func:`activation_stats` measures (pre-activations, logits last).

    Args:
        sizes: layer widths ``[d_0, d_1, ..., d_L]`` (input first, e.g. ``[784, 512, 256, 256, 128, 10]``).
        weight_var: :math:`\\sigma_w^2`, one number for all layers or one per layer (``L`` values).
        bias_var: :math:`\\sigma_b^2`, the same way (0: no bias noise, as in the JAX tutorial).
        activation: the hidden activation ``f`` (applied after every layer but the last).
        input_second_moment: :math:`q_0 = \\mathbb E[x^2]` of the input (see :func:`input_second_moment`).

    Returns:
        ``np.ndarray`` of ``L`` predicted variances ``[v_1, ..., v_L]``.

    Raises:
        ValueError: fewer than two sizes, non-positive sizes, wrong number of per-layer values,
            negative variances.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ValueError(f"sizes must list at least an input and an output width, all positive; got {sizes}.")
    n = len(sizes) - 1

    def per_layer(v, name):
        arr = np.full(n, float(v)) if np.isscalar(v) else np.asarray(v, dtype=np.float64)
        if arr.shape != (n,):
            raise ValueError(f"{name} must be one number or {n} numbers (one per Linear layer), got {len(arr)}.")
        if np.any(arr < 0) or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite and >= 0, got {arr.tolist()}.")
        return arr

    w = per_layer(weight_var, "weight_var")
    b = per_layer(bias_var, "bias_var")
    if input_second_moment < 0:
        raise ValueError(f"input_second_moment must be >= 0, got {input_second_moment}.")
    q = float(input_second_moment)
    out = np.empty(n)
    for l in range(n):
        out[l] = sizes[l] * w[l] * q + b[l]
        if not np.isfinite(out[l]):
            out[l:] = np.inf
            break
        q = gaussian_second_moment(activation, out[l], negative_slope=negative_slope)
    return out
