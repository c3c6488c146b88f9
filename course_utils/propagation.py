r"""Signal propagation measured: deep random stacks run forward and backward, beside what :mod:`course_utils.theory` predicts.

Part I's experiments on stacks ``[Linear -> f] x L`` drawn at random (no training): every function builds or
takes the layers, measures the variance of each layer's pre-activations and of its error signal
:math:`\delta_l = \partial L/\partial y_l`, and puts the recurrences of :mod:`course_utils.theory` (fed with
the drawn weights' and biases' variances) next to them.  Nothing here draws a figure.

* :func:`stack_gradient_norms` — the one measurement: forward and backward through given weights, with a
  random linear read-out as the loss;
* :func:`depth_sweep`, :func:`depth_sweep_gradients`, :func:`depth_sweep_backward` — the 50-layer sweep of
  schemes × activations on images (``book/part1/depth_sweep.md``), forward curves, gradient ratios and the
  error signal per layer;
* :func:`deep_stack_gradients` — the same for the random stack of :func:`course_utils.layers.deep_stack_stats`
  (Part II's activations);
* :func:`log_variance_drift` — how far single finite-width networks stray from the recurrence;
* :data:`SIGNAL_SCHEMES`, :func:`signal_propagation` — the backend of the signal-propagation explorer;
* :func:`single_thread` — the context in which all of them run on a CPU.
"""
from __future__ import annotations

import contextlib
import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import init as cinit
from .layers import ACTIVATION_SPECS, ActivationSpec
from .models import make_activation
from .theory import (DRIFT_GAIN2, activation_module, check_drift_args, collapsed_constant_variances,
                     input_second_moment, predicted_activation_variances, predicted_gradient_norms)

__all__ = ["single_thread", "stack_gradient_norms", "depth_sweep", "depth_sweep_gradients", "depth_sweep_backward",
           "deep_stack_gradients", "log_variance_drift", "SIGNAL_SCHEMES", "TORCH_GAIN_NAME", "signal_propagation"]


@contextlib.contextmanager
def single_thread():
    """Run torch on one CPU thread inside the block, then restore the previous setting.

    The matrices of these experiments are small (at most 1024 x 784 x 512); on a shared 2-core
    machine torch's default of one thread per core made them 5-10x *slower* (threads waiting for
    each other), so the experiments here run single-threaded.  No effect on GPU work.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- the measurement
def stack_gradient_norms(weights: Sequence[torch.Tensor], activation, x: torch.Tensor, *,
                         biases: Sequence[torch.Tensor] | None = None, seed: int = 0,
                         keep_last: bool = False) -> dict[str, np.ndarray]:
    r"""Measured :math:`\|\nabla_{W_l} L\|_F` of every layer of a stack ``[Linear -> f] x L`` for a random read-out loss.

    The loss is :math:`L = \sum_{b,i} R_{bi}\,y_{L,bi}` with :math:`R_{bi}\sim\mathcal N(0,1)` drawn from
    ``seed``: its error at the top has unit variance and is independent across samples, as
    :func:`course_utils.theory.predicted_gradient_norms` assumes, and it has no preferred class that would
    make the last layer special.  Computed in the weights' dtype; norms and variances in float64.  A stack
    whose forward pass overflows has NaN gradient norms (and ``inf`` variances from the layer that overflowed).

    Args:
        weights: ``L`` tensors ``(d_out, d_in)`` (copied; the originals are not touched).
        activation: as for :func:`course_utils.theory.gaussian_moments`.
        x: the input batch, flattened to ``(B, d_0)``.
        biases: ``L`` tensors ``(d_out,)`` or ``None`` (no biases).
        seed: seeds the read-out ``R``.
        keep_last: also return the last Linear layer's output.

    Returns:
        ``{"grad_norm": ||dL/dW_l||_F per layer, "pre_var": variance of each Linear output,
        "delta_var": variance of the error dL/dy_l of each Linear output}``, and with ``keep_last``
        ``"last_pre"``: the last layer's pre-activations, float64 ``(B, d_L)``.

    Raises:
        ValueError: no weights, or shapes that do not chain.
    """
    if len(weights) == 0:
        raise ValueError("weights is empty: pass one (d_out, d_in) tensor per Linear layer.")
    module = activation_module(activation).to(weights[0].dtype)
    h = x.reshape(x.shape[0], -1).to(weights[0].dtype)  # (B, d_0)
    ws = [W.detach().requires_grad_(True) for W in weights]  # new leaves sharing storage; nothing writes to them
    pre_var = np.empty(len(ws))
    zs = []
    with torch.enable_grad(), single_thread():
        for l, W in enumerate(ws):
            if W.shape[1] != h.shape[1]:
                raise ValueError(f"layer {l + 1}: weight of shape {tuple(W.shape)} cannot take inputs of width "
                                 f"{h.shape[1]}; the weights must chain (d_in of layer l+1 = output width of layer l).")
            z = h @ W.T if biases is None else h @ W.T + biases[l].detach()  # (B, d_out)
            v = float(z.detach().double().var(unbiased=False))
            pre_var[l] = v if math.isfinite(v) and (l == 0 or pre_var[l - 1] < math.inf) else math.inf
            zs.append(z)
            h = module(z)
        last = {"last_pre": z.detach().double().numpy()} if keep_last else {}
        if not np.isfinite(pre_var[-1]):
            nan = np.full(len(ws), np.nan)
            return {"grad_norm": nan, "pre_var": pre_var, "delta_var": nan.copy(), **last}
        R = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed), dtype=z.dtype)
        grads = torch.autograd.grad((z * R).sum(), ws + zs)
    norms = np.array([float(torch.linalg.vector_norm(g, dtype=torch.float64)) for g in grads[:len(ws)]])
    delta_var = np.array([float(d.double().var(unbiased=False)) for d in grads[len(ws):]])
    return {"grad_norm": norms, "pre_var": pre_var, "delta_var": delta_var, **last}


# ----------------------------------------------------------------------------- the depth sweep
@torch.no_grad()
def depth_sweep(x: torch.Tensor, schemes: dict[str, dict], activations: Sequence[str] = ("identity", "tanh", "relu"),
                *, depth: int = 50, width: int = 256, seed: int = 0, dtype: torch.dtype = torch.float32) -> pd.DataFrame:
    """Pre-activation variance of every hidden layer of a deep MLP, measured and predicted.

    The net is ``784 -> width -> ... -> width`` (``depth`` Linear layers, each followed by the
    activation); the measured value is ``np.var`` over the batch and the units of each layer.
    Layers are run one at a time in ``dtype``; float32 represents every variance between ~1e-70 and
    ~1e70 that the sweep reaches (values are squared only in float64, inside the variance).

    Args:
        x: input batch ``(B, 1, 28, 28)``.
        schemes: ``{label: init_model keyword arguments including "scheme"}``, e.g.
            ``{"Kaiming": {"scheme": "kaiming_normal"}}``.
        activations: hidden activations to sweep.

    Returns:
        Long DataFrame with columns ``scheme, activation, layer, measured, theory``.
    """
    with single_thread():
        rows = _depth_sweep_rows(x, schemes, activations, depth, width, seed, dtype)
    return pd.DataFrame(rows)


def _sweep_curves(x, schemes, activations, depth, width, seed, dtype):
    """Every (scheme, activation) stack of a depth sweep: ``label, act, sizes, h0, q0, layers, wv, bv``."""
    sizes = [x[0].numel()] + [width] * depth
    h0 = x.reshape(x.shape[0], -1).to(dtype)
    q0 = input_second_moment(h0)
    for label, kw in schemes.items():
        kw = dict(kw)
        scheme = kw.pop("scheme")
        for act in activations:
            yield (label, act, sizes, h0, q0, *_sweep_stack(sizes, scheme, kw, seed, dtype))


def _depth_sweep_rows(x, schemes, activations, depth, width, seed, dtype) -> list[dict]:
    """One row per (curve, layer) of :func:`depth_sweep`: the forward pass of each stack, layer by layer."""
    rows = []
    for label, act, sizes, h0, q0, layers, wv, bv in _sweep_curves(x, schemes, activations, depth, width, seed, dtype):
        f, _ = make_activation(act)
        pred = predicted_activation_variances(sizes, wv, bv, activation=act, input_second_moment=q0)
        h = h0
        for l, lin in enumerate(layers):
            z = lin(h)
            rows.append({"scheme": label, "activation": act, "layer": l + 1,
                         "measured": float(z.double().var(unbiased=False)), "theory": float(pred[l])})
            h = f(z)
    return rows


def _sweep_stack(sizes, scheme, kw, seed, dtype):
    """The Linear layers of one depth-sweep curve, drawn from ``seed``, with their weights' and biases' variances."""
    gen = torch.Generator().manual_seed(seed)
    # skip_init: no default draw that init_model would overwrite anyway
    layers = [nn.utils.skip_init(nn.Linear, a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    cinit.init_model(nn.Sequential(*layers), scheme, generator=gen, **kw)
    with torch.no_grad():
        wv = np.array([float((lin.weight.double() ** 2).mean()) for lin in layers])
        bv = np.array([float(lin.bias.double().var(unbiased=False)) for lin in layers])
    return layers, wv, bv


def depth_sweep_gradients(x: torch.Tensor, schemes: dict[str, dict],
                          activations: Sequence[str] = ("identity", "tanh", "relu"), *, depth: int = 50,
                          width: int = 256, seed: int = 0, readout_seed: int = 1,
                          dtype: torch.dtype = torch.float32) -> pd.DataFrame:
    r"""The backward half of :func:`depth_sweep`: :math:`\|\nabla W_1\|/\|\nabla W_L\|` of the same networks, measured and predicted.

    Same layers (same schemes, seed and draws) as :func:`depth_sweep`; the loss is the random read-out of
    :func:`stack_gradient_norms`, the prediction :func:`course_utils.theory.predicted_gradient_norms` fed
    with the drawn weights' and biases' variances.

    Returns:
        DataFrame, one row per (scheme, activation): ``chi (theory, layer L)`` — the backward factor
        :math:`\chi_L = d\,\sigma_w^2\,\mathbb E[f'(y_{L-1})^2]` where the forward pass has arrived —,
        ``grad ratio theory`` and ``grad ratio measured`` (:math:`\|\nabla W_1\|_F/\|\nabla W_L\|_F`).
    """
    rows = []
    with single_thread():
        for label, act, sizes, h0, q0, layers, wv, bv in _sweep_curves(x, schemes, activations, depth, width, seed,
                                                                       dtype):
            norms = stack_gradient_norms([l.weight for l in layers], act, h0, biases=[l.bias for l in layers],
                                         seed=readout_seed)["grad_norm"]
            th = predicted_gradient_norms(sizes, wv, bv, activation=act, input_second_moment=q0)
            rows.append({"scheme": label, "activation": act, "chi (theory, layer L)": float(th["chi"].iloc[-1]),
                         "grad ratio theory": th.attrs["ratio"], "grad ratio measured": float(norms[0] / norms[-1])})
    return pd.DataFrame(rows)


def depth_sweep_backward(x: torch.Tensor, schemes: dict[str, dict], activations: Sequence[str] = ("tanh",), *,
                         depth: int = 50, width: int = 256, seed: int = 0, readout_seed: int = 1,
                         dtype: torch.dtype = torch.float32) -> pd.DataFrame:
    r"""The error signal's variance :math:`\mathrm{Var}(\delta_l)` at every layer of the :func:`depth_sweep` networks, measured and predicted.

    Same networks (schemes, seed, draws) and the same random read-out loss as :func:`depth_sweep_gradients`;
    :math:`\delta_l = \partial L/\partial y_l` has unit variance at the top (layer ``depth``), and the backward
    recurrence :math:`\mathrm{Var}(\delta_{l-1}) = \chi_l\,\mathrm{Var}(\delta_l)` of
    :func:`course_utils.theory.predicted_gradient_norms` (fed with the drawn weights' and biases' variances)
    predicts it.

    Returns:
        Long DataFrame with columns ``scheme, activation, layer, measured, theory`` (the layout of
        :func:`depth_sweep`, so :func:`course_utils.plotting.plot_depth_sweep` draws it).  NaN where float32
        overflowed in the forward pass.
    """
    if not (isinstance(depth, int) and depth >= 1 and isinstance(width, int) and width >= 1):
        raise ValueError(f"depth and width must be integers >= 1, got depth={depth!r}, width={width!r}.")
    rows = []
    with single_thread():
        for label, act, sizes, h0, q0, layers, wv, bv in _sweep_curves(x, schemes, activations, depth, width, seed,
                                                                       dtype):
            meas = stack_gradient_norms([l.weight for l in layers], act, h0, biases=[l.bias for l in layers],
                                        seed=readout_seed)["delta_var"]
            th = predicted_gradient_norms(sizes, wv, bv, activation=act, input_second_moment=q0)["delta var"]
            rows += [{"scheme": label, "activation": act, "layer": l + 1, "measured": float(meas[l]),
                      "theory": float(th.iloc[l])} for l in range(depth)]
    return pd.DataFrame(rows)


def deep_stack_gradients(act, *, depth: int = 50, width: int = 256, gain: float | None = None,
                         first_gain: float | None = None, n: int = 256, seed: int = 0,
                         readout_seed: int = 1) -> dict:
    r"""Weight-gradient norms of the deep random stack of :func:`course_utils.layers.deep_stack_stats`, measured and predicted.

    The same draws as ``deep_stack_stats`` (same generator order: the input, then each weight
    :math:`\mathcal N(0, g^2/d_x)`), so the forward pass is the one that function measures; the loss is
    the random read-out of :func:`stack_gradient_norms`.

    Returns:
        ``{"grad_norm": measured per layer, "pre_var": measured variance of each Linear output (equal to
        ``deep_stack_stats(...)["pre_var"]``), "ratio": measured |∇W_1|/|∇W_L|, "theory":
        predicted_gradient_norms(...) table, "theory_ratio": its ratio, "chi_last": χ_L}``.

    Raises:
        ValueError: an activation that is not a key of :data:`course_utils.layers.ACTIVATION_SPECS` or a spec.
    """
    spec = act if isinstance(act, ActivationSpec) else ACTIVATION_SPECS.get(act)
    if spec is None:
        raise ValueError(f"Unknown activation {act!r}. Valid names: {', '.join(ACTIVATION_SPECS)}.")
    g = spec.gain if gain is None else float(gain)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, width, generator=gen)  # (n, width), as deep_stack_stats draws it
    weights, d_in = [], width
    for layer in range(depth):
        g_l = first_gain if (layer == 0 and first_gain is not None) else g
        weights.append(torch.randn(spec.width_factor * width, d_in, generator=gen) * (g_l / math.sqrt(d_in)))
        d_in = width
    meas = stack_gradient_norms(weights, spec, x, seed=readout_seed)
    norms = meas["grad_norm"]
    wv = [(first_gain if (l == 0 and first_gain is not None) else g) ** 2 / width for l in range(depth)]
    th = predicted_gradient_norms([width] * (depth + 1), wv, activation=spec, input_second_moment=input_second_moment(x))
    return {"grad_norm": norms, "pre_var": meas["pre_var"], "ratio": float(norms[0] / norms[-1]), "theory": th,
            "theory_ratio": th.attrs["ratio"], "chi_last": float(th["chi"].iloc[-1])}


# ----------------------------------------------------------------------------- one network against the average
@torch.no_grad()
def log_variance_drift(x: torch.Tensor, activations: Sequence[str] = ("identity", "relu"), *, depth: int = 50,
                       width: int = 256, seeds: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    r"""Measured :math:`\log(v_l(x_b)/\bar v_l)` of every input, layer and seed: the drift of real networks from the recurrence.

    For each of ``seeds`` networks (weights drawn from a generator seeded with ``seed + s``; biases zero) the
    stack ``d_0 -> width -> ... -> width`` (``depth`` Linear layers) is run on the batch ``x``; :math:`v_l(x_b)`
    is the mean square of layer :math:`l`'s pre-activations for input :math:`b`, and :math:`\bar v_l =
    g^2\lVert x_b\rVert^2/d_0` the recurrence's value for it (:math:`g^2` = 1 identity, 2 ReLU).  All activations
    share the same standard-normal draws (only the scale differs), so they are paired.  Float32 layers,
    float64 mean squares.

    Returns:
        ``{activation: array (seeds, B, depth)}``; compare with
        :func:`course_utils.theory.log_variance_drift_theory`.

    Raises:
        ValueError: an activation other than identity/linear/ReLU, or non-positive sizes.
    """
    for act in activations:
        check_drift_args(act, width, depth)
    if not (isinstance(seeds, int) and seeds >= 1):
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}.")
    h0 = x.reshape(x.shape[0], -1).float().cpu()  # (B, d_0)
    ref = {a: DRIFT_GAIN2[a] * (h0.double() ** 2).mean(1).numpy() for a in activations}  # (B,)
    out = {a: np.empty((seeds, h0.shape[0], depth)) for a in activations}
    with single_thread():
        for s in range(seeds):
            gen = torch.Generator().manual_seed(seed + s)
            hs = {a: h0 for a in activations}
            for l in range(depth):
                d_in = h0.shape[1] if l == 0 else width
                w = torch.randn(width, d_in, generator=gen)  # (width, d_in), shared by every activation
                for a in activations:
                    z = hs[a] @ w.T * math.sqrt(DRIFT_GAIN2[a] / d_in)  # (B, width)
                    out[a][s, :, l] = np.log((z.double() ** 2).mean(1).numpy() / ref[a])
                    hs[a] = z if DRIFT_GAIN2[a] == 1.0 else torch.relu(z)
    return out


# ============================================================================= the signal-propagation explorable
# Part I's explorable (book/part1/signal_explorer.md): per-layer activation and gradient variances of a square
# random stack, measured, beside the two recurrences.  Built from the pieces above (_sweep_stack draws the layers
# as the depth sweep does, stack_gradient_norms measures) and theory's predictions; nothing here draws.

#: The schemes of the explorable -> init_model keyword arguments (biases 0). "kaiming" takes torch's gain of the
#: activation (calculate_gain; GELU, which has none, gets ReLU's), as kaiming_normal_(w, nonlinearity=...) does.
SIGNAL_SCHEMES: dict[str, dict] = {
    "constant": {"scheme": "constant", "value": 0.005},
    "normal": {"scheme": "normal"},
    "lecun": {"scheme": "lecun_normal"},
    "xavier": {"scheme": "xavier_normal"},
    "kaiming": {"scheme": "kaiming_normal"},
    "orthogonal": {"scheme": "orthogonal"},
}
#: The explorable's activations -> the nonlinearity name of torch.nn.init.calculate_gain its Kaiming setting uses.
TORCH_GAIN_NAME = {"identity": "linear", "tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid", "selu": "selu",
                   "gelu": "relu"}


def signal_propagation(scheme: str, activation: str, depth: int, *, sigma: float = 0.0625, width: int = 256,
                       n: int = 128, seed: int = 0, readout_seed: int = 1, samples: bool = False) -> dict:
    r"""Per-layer variances of the forward and the backward pass of a square stack ``[Linear -> f] x depth``.

    The input is ``n`` Gaussian vectors of width ``width`` (seeded with ``seed``); the weights are drawn by
    :func:`course_utils.init.init_model` with a generator seeded with ``seed + 1`` (biases 0), so that the
    Gaussian schemes share their standard-normal draws and a shorter stack is the first layers of a longer one;
    the loss is the random read-out of :func:`stack_gradient_norms` on the last layer.

    Args:
        scheme: a key of :data:`SIGNAL_SCHEMES` (``"normal"`` draws :math:`\mathcal N(0, \sigma^2)`).
        activation: a key of :data:`TORCH_GAIN_NAME` (e.g. ``"tanh"``, ``"gelu"``).
        depth: number of Linear layers (>= 1).
        samples: also describe the last layer's pre-activations sample by sample (see Returns).

    Returns:
        ``{"act_var", "act_theory", "grad_var", "grad_theory"}``: one value per layer 1..depth — the variance
        of each Linear output (measured; predicted by the forward recurrence, for ``constant`` by the exact
        one-unit chain :func:`course_utils.theory.collapsed_constant_variances`) and of the error
        :math:`\partial L/\partial y_l` (measured; predicted by the backward recurrence, relative to the top
        where it is 1; NaN for ``constant``, whose units are all equal). ``inf``/``NaN`` where float32
        overflowed.  With ``samples``, also ``"sample_ms"`` (each sample's mean square at the last layer,
        ``n`` values) and ``"kurtosis"`` (:math:`\mathbb E[(y-\bar y)^4]/\mathrm{Var}(y)^2` of the last
        layer's pre-activations over samples and units; 3 for a Gaussian).

    Raises:
        ValueError: unknown scheme or activation, ``depth < 1``, ``sigma <= 0``.
    """
    if scheme not in SIGNAL_SCHEMES:
        raise ValueError(f"Unknown scheme {scheme!r}; choose one of {list(SIGNAL_SCHEMES)}.")
    if activation not in TORCH_GAIN_NAME:
        raise ValueError(f"Unknown activation {activation!r}; choose one of {list(TORCH_GAIN_NAME)}.")
    if not (isinstance(depth, int) and depth >= 1):
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}.")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}.")
    kw = {**SIGNAL_SCHEMES[scheme], "bias": "zeros"}
    if scheme == "normal":
        kw["std"] = float(sigma)
    if scheme == "kaiming":
        kw["nonlinearity"] = TORCH_GAIN_NAME[activation]
    name = kw.pop("scheme")
    x = torch.randn(n, width, generator=torch.Generator().manual_seed(seed))  # (n, width), unit variance
    sizes = [width] * (depth + 1)
    denormal = torch.set_flush_denormal(True)  # tiny float32 values: flush to 0 instead of crawling
    try:
        with single_thread(), np.errstate(all="ignore"):
            layers, wv, bv = _sweep_stack(sizes, name, kw, seed + 1, torch.float32)
            meas = stack_gradient_norms([l.weight for l in layers], activation, x, seed=readout_seed,
                                        keep_last=samples)
            if name == "constant":
                act_theory = collapsed_constant_variances(x, sizes, value=kw["value"], bias=0.0, activation=activation)
                grad_theory = np.full(depth, np.nan)
            else:
                th = predicted_gradient_norms(sizes, wv, bv, activation=activation,
                                              input_second_moment=input_second_moment(x))
                act_theory, grad_theory = th["v"].to_numpy(), th["delta var"].to_numpy()
    finally:
        if not denormal:
            torch.set_flush_denormal(False)
    out = {"act_var": meas["pre_var"], "act_theory": np.asarray(act_theory, dtype=float),
           "grad_var": meas["delta_var"], "grad_theory": np.asarray(grad_theory, dtype=float)}
    if samples:
        y = meas["last_pre"]  # (n, width), float64
        c = y - y.mean()
        out.update(sample_ms=(y ** 2).mean(1), kurtosis=float((c ** 4).mean() / (c ** 2).mean() ** 2))
    return out
