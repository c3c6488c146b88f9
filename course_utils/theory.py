r"""Initialisation theory: the variance recurrences, and Part I's experiments that set them beside measurement.

Compute only — nothing here draws (see :mod:`course_utils.plotting`); what is measured comes from
:mod:`course_utils.stats`.  The pieces:

* the variance recurrences: :func:`predicted_activation_variances` (forward, with
  :func:`gaussian_second_moment` and :func:`input_second_moment`; every Gaussian expectation comes
  from :mod:`course_utils.gaussian`);
* :data:`REFERENCE` — the per-layer variances the two source tutorials print (PyTorch and JAX);
* :func:`scheme_weight_variances` / :func:`predict_for_scheme` — the forward recurrence fed with a
  scheme's nominal variances;
* :func:`collapsed_constant_variances` — exact variances of a constant-initialised net, which
  collapses to one unit per layer;
* :func:`run_init_experiment` — one scheme on the reference MLP: weights, gradients, activations,
  and the per-layer table (measured | theory | theory without bias noise | references);
* :func:`depth_sweep` — variance against depth for schemes × activations;
* :func:`layer_gradient_norms`, :func:`saturation_fraction` — for the vanishing-gradient chapter;
* the backward pass: :func:`gaussian_moments` (:math:`\mathbb E[f^2]`, :math:`\mathbb E[f'^2]`),
  :func:`backward_factor` (:math:`\chi`), :func:`variance_map_slope`, :func:`predicted_gradient_norms`
  (both recurrences and the weight-gradient norms they imply) beside :func:`stack_gradient_norms`
  (measured), and the two experiments :func:`deep_stack_gradients` and :func:`depth_sweep_gradients`;
* :func:`unit_spread`, :func:`symmetry_after_sgd` — the symmetry of a constant initialisation.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import init as cinit
from . import stats
from .gaussian import activation_moments
from .models import MLP, REFERENCE_SIZES, make_activation

__all__ = ["gaussian_second_moment", "input_second_moment",
           "predicted_activation_variances", "REFERENCE", "scheme_weight_variances", "predict_for_scheme",
           "collapsed_constant_variances", "InitExperiment", "run_init_experiment", "depth_sweep",
           "layer_gradient_norms", "backward_signals", "saturation_fraction", "single_thread", "gaussian_moments",
           "predicted_gradient_norms", "stack_gradient_norms", "deep_stack_gradients", "depth_sweep_gradients",
           "unit_spread", "symmetry_after_sgd", "variance_map_slope",
           "backward_factor",
           # Part I additions (issue #27), at the end of the file
           "depth_sweep_backward", "log_gain_moments", "log_variance_drift_theory", "log_variance_drift"]


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

# ----------------------------------------------------------------------------- the variance recurrences
# What theory predicts for each layer, forward (activations) and backward (gradients), to set beside
# what stats.py measures.
_SECOND_MOMENT_CLOSED = {"identity": 1.0, "linear": 1.0, "relu": 0.5}


def gaussian_second_moment(activation: str, var: float, *, negative_slope: float = 0.01,
                           mean: float = 0.0) -> float:
    """:math:`\\mathbb E[f(y)^2]` for :math:`y \\sim \\mathcal N(\\text{mean}, \\text{var})`.

    Closed forms when ``mean == 0``: identity :math:`v`; ReLU :math:`v/2` (half of a symmetric
    distribution is cut to 0); leaky ReLU :math:`(1+\\alpha^2)\\,v/2`.  Everything else (tanh,
    sigmoid, or any name in :data:`course_utils.models.ACTIVATIONS`) by the quadrature of
    :mod:`course_utils.gaussian`, exact to about 1e-12 for every variance the book uses.

    Raises:
        ValueError: negative variance or unknown activation.
    """
    if not np.isfinite(var) or var < 0:
        raise ValueError(f"var must be a finite number >= 0, got {var}.")
    key = activation.strip().lower()
    if mean == 0.0 and key in _SECOND_MOMENT_CLOSED:
        return _SECOND_MOMENT_CLOSED[key] * float(var)
    if key in ("leaky_relu", "leakyrelu"):
        if mean == 0.0:
            return 0.5 * (1.0 + negative_slope ** 2) * float(var)
        module = nn.LeakyReLU(negative_slope)
    else:
        module, _ = make_activation(key)  # any activation of the book, evaluated with torch
    return activation_moments(module.to(torch.float64), var, mean)[0]


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
    :func:`course_utils.stats.variances` of :func:`~course_utils.stats.activation_stats` measures
    (pre-activations, logits last).

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


# ----------------------------------------------------------------------------- the experiments
#: Activation (pre-activation) variances per Linear layer that the sources print for one batch of
#: 1024 training images, and the weight-gradient variances where they print them.
#: ``pytorch``: the PyTorch tutorial (biases drawn like the weights for the constant/std runs);
#: ``jax``: its JAX/Flax translation (biases always 0).
REFERENCE: dict[str, dict[str, list[float]]] = {
    "constant_0.005": {"pytorch": [2.058, 13.49, 22.10, 36.21, 14.83],
                       "jax": [2.058, 13.49, 22.10, 36.21, 14.83]},
    "std_0.01": {"pytorch": [0.07687, 3.741e-3, 2.130e-4, 1.167e-4, 8.083e-5],
                 "jax": [0.08219, 4.155e-3, 1.047e-4, 2.833e-6, 3.755e-8]},
    "std_0.1": {"pytorch": [8.086, 41.40, 104.3, 270.6, 288.3],
                "jax": [8.219, 41.55, 104.7, 283.3, 375.5]},
    "inv_sqrt_fan_in": {"pytorch": [1.037, 1.070, 1.141, 1.096, 1.070],
                        "jax": [1.048, 1.035, 1.018, 1.077, 1.115]},
    "xavier_identity": {"pytorch": [1.169, 1.520, 1.586, 1.915, 3.287],
                        "jax": [1.281, 1.678, 1.677, 2.544, 4.413],
                        "pytorch_grad": [4.578e-4, 6.752e-4, 8.508e-4, 1.484e-3, 1.153e-2],
                        "jax_grad": [2.983e-4, 5.463e-4, 7.797e-4, 1.175e-3, 1.174e-2]},
    "xavier_tanh": {"pytorch": [1.257, 0.5787, 0.2740, 0.2201, 0.3423],
                    "jax": [1.281, 0.5610, 0.2928, 0.2838, 0.3927],
                    "pytorch_grad": [2.435e-5, 3.769e-5, 5.153e-5, 6.857e-5, 4.877e-4],
                    "jax_grad": [1.521e-5, 2.451e-5, 3.623e-5, 4.804e-5, 4.026e-4]},
    "kaiming_relu": {"pytorch": [1.037, 1.058, 1.064, 1.317, 0.6909],
                     "jax": [1.048, 1.014, 0.9988, 0.8384, 1.317],
                     "pytorch_grad": [4.738e-5, 5.931e-5, 7.344e-5, 1.647e-4, 2.967e-3],
                     "jax_grad": [3.259e-5, 4.665e-5, 6.606e-5, 1.545e-4, 2.561e-3]},
}


def scheme_weight_variances(scheme: str, sizes: Sequence[int] = REFERENCE_SIZES, *,
                            first_layer: str | None = None, output_scale: float | None = None,
                            **scheme_kw) -> np.ndarray:
    """Nominal :math:`\\sigma_w^2` of each layer under a scheme of :func:`course_utils.init.init_model`."""
    sizes = list(sizes)
    out = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        sch = first_layer if (i == 0 and first_layer is not None) else scheme
        out.append(cinit.scheme_std(sch, d_in, d_out, **scheme_kw) ** 2)
    out = np.asarray(out)
    if output_scale is not None:
        out[-1] *= output_scale ** 2
    return out


def predict_for_scheme(scheme: str, activation: str, *, q0: float, sizes: Sequence[int] = REFERENCE_SIZES,
                       bias_var: float | Sequence[float] = 0.0, first_layer: str | None = None,
                       output_scale: float | None = None, **scheme_kw) -> np.ndarray:
    """Predicted per-layer activation variances of a scheme (zero-mean weights; not for ``constant``)."""
    if scheme in ("constant", "zeros"):
        raise ValueError("The random-weight recurrence does not apply to constant weights; "
                         "use collapsed_constant_variances(x, ...) for those.")
    wv = scheme_weight_variances(scheme, sizes, first_layer=first_layer, output_scale=output_scale, **scheme_kw)
    return predicted_activation_variances(sizes, wv, bias_var, activation=activation, input_second_moment=q0)


@torch.no_grad()
def collapsed_constant_variances(x: torch.Tensor, sizes: Sequence[int] = REFERENCE_SIZES, *, value: float = 0.005,
                                 bias: float | None = None, activation: str = "identity") -> np.ndarray:
    """Exact per-layer variances of a net whose weights all equal ``value`` (biases ``bias``).

    Every unit of a layer then computes the same number, so the network is a chain of single units:
    :math:`s_1 = c\\,\\sum_j x_j + c_b`, :math:`s_{l+1} = c\\,d_l\\,f(s_l) + c_b`; for the identity the
    variance over the batch grows by :math:`(c\\,d_l)^2` per layer.
    """
    bias = value if bias is None else bias
    f, _ = make_activation(activation)
    sizes = list(sizes)
    s = value * x.reshape(x.shape[0], -1).double().sum(dim=1) + bias  # (B,)
    out = [float(s.var(unbiased=False))]
    for d in sizes[1:-1]:
        s = value * d * f(s) + bias
        out.append(float(s.var(unbiased=False)))
    return np.asarray(out)


@dataclasses.dataclass
class InitExperiment:
    """One initialisation scheme measured on one batch; ``table`` has one row per Linear layer."""

    name: str
    model: nn.Module
    weights: dict
    gradients: dict
    activations: dict
    table: pd.DataFrame
    loss: float

    @property
    def act_var(self) -> np.ndarray:
        return self.table["measured"].to_numpy()

    @property
    def grad_var(self) -> np.ndarray:
        return self.table["grad var"].to_numpy()


def run_init_experiment(name: str, scheme: str, activation: str, x: torch.Tensor, y: torch.Tensor, *,
                        seed: int = 0, sizes: Sequence[int] = REFERENCE_SIZES, reference: str | None = None,
                        with_hists: bool = True, **init_kw) -> InitExperiment:
    """Initialise the MLP with ``scheme``, measure it on ``(x, y)`` and tabulate theory beside measurement.

    Columns of ``table``: ``weight var`` (measured), ``grad var`` (measured), ``measured`` (activation
    variance), ``theory`` (recurrence with this run's bias variance), ``theory, no bias noise``, and
    ``PyTorch ref`` / ``JAX ref`` (from :data:`REFERENCE`, key ``reference``) when available.

    Args:
        name: label of the experiment.
        scheme, init_kw: passed to :func:`course_utils.init.init_model` (e.g. ``std=0.01``, ``bias="zeros"``).
        activation: hidden activation of the MLP.
        x, y: the batch (e.g. the first 1024 training images).
        seed: seed of the :class:`torch.Generator` that draws the weights.
    """
    with single_thread():
        return _run_init_experiment(name, scheme, activation, x, y, seed=seed, sizes=sizes, reference=reference,
                                    with_hists=with_hists, **init_kw)


def _run_init_experiment(name, scheme, activation, x, y, *, seed, sizes, reference, with_hists, **init_kw):
    gen = torch.Generator().manual_seed(seed)
    model = MLP.from_sizes(activation, sizes).to(x.device)
    cinit.init_model(model, scheme, generator=gen, **init_kw)
    acts = stats.activation_stats(model, x)
    grads = stats.gradient_stats(model, x, y)
    weights = stats.weight_stats(model)
    with torch.no_grad():
        loss = float(F.cross_entropy(model(x), y.to(x.device)))
    labels = list(acts)
    q0 = input_second_moment(x)
    # bias noise of this run: the biases' nominal variance (the "same" rule draws them like the weights)
    bias_rule = init_kw.get("bias")
    if scheme == "normal" and bias_rule in (None, "same"):
        bias_var = init_kw.get("std", 0.01) ** 2
    elif scheme == "pytorch_default" and bias_rule in (None, "pytorch_default"):
        bias_var = np.array([1.0 / (3 * d) for d in list(sizes)[:-1]])
    else:
        bias_var = 0.0
    if scheme in ("constant", "zeros"):
        value = init_kw.get("value", 0.005) if scheme == "constant" else 0.0
        bias = init_kw.get("bias")
        bias = value if bias in (None, "same") else (0.0 if bias == "zeros" else float(bias))
        theory = collapsed_constant_variances(x, sizes, value=value, bias=bias, activation=activation)
        theory_nb = theory
    else:
        kw = {k: v for k, v in init_kw.items() if k in ("first_layer", "output_scale", "value", "std", "gain",
                                                       "nonlinearity", "a", "mode")}
        theory = predict_for_scheme(scheme, activation, q0=q0, sizes=sizes, bias_var=bias_var, **kw)
        theory_nb = predict_for_scheme(scheme, activation, q0=q0, sizes=sizes, bias_var=0.0, **kw)
    table = pd.DataFrame({
        "weight var": list(stats.variances(weights).values()),
        "grad var": list(stats.variances(grads).values()),
        "measured": list(stats.variances(acts).values()),
        "theory": theory,
        "theory, no bias noise": theory_nb,
    }, index=pd.Index(labels, name="layer"))
    ref = REFERENCE.get(reference or "", {})
    if "pytorch" in ref:
        table["PyTorch ref"] = ref["pytorch"]
    if "jax" in ref:
        table["JAX ref"] = ref["jax"]
    if "pytorch_grad" in ref:
        table["PyTorch grad ref"] = ref["pytorch_grad"]
        table["JAX grad ref"] = ref["jax_grad"]
    if not with_hists:
        acts, grads, weights = {}, {}, {}
    return InitExperiment(name, model, weights, grads, acts, table, loss)


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
    rows = []
    for label, act, sizes, h0, q0, layers, wv, bv in _sweep_curves(x, schemes, activations, depth, width, seed, dtype):
        f, _ = make_activation(act)
        theory = predicted_activation_variances(sizes, wv, bv, activation=act, input_second_moment=q0)
        h = h0
        for l, lin in enumerate(layers):
            z = lin(h)
            rows.append({"scheme": label, "activation": act, "layer": l + 1,
                         "measured": float(z.double().var(unbiased=False)), "theory": float(theory[l])})
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
    :func:`stack_gradient_norms`, the prediction :func:`predicted_gradient_norms` fed with the drawn
    weights' and biases' variances.

    Returns:
        DataFrame, one row per (scheme, activation): ``chi (theory, layer L)`` — the backward factor
        :math:`\chi_L = d\,\sigma_w^2\,\mathbb E[f'(y_{L-1})^2]` where the forward pass has arrived —,
        ``grad ratio theory`` and ``grad ratio measured`` (:math:`\|\nabla W_1\|_F/\|\nabla W_L\|_F`).
    """
    with single_thread():
        rows = _depth_sweep_gradient_rows(x, schemes, activations, depth, width, seed, readout_seed, dtype)
    return pd.DataFrame(rows)


def _depth_sweep_gradient_rows(x, schemes, activations, depth, width, seed, readout_seed, dtype) -> list[dict]:
    rows = []
    for label, act, sizes, h0, q0, layers, wv, bv in _sweep_curves(x, schemes, activations, depth, width, seed, dtype):
        norms = stack_gradient_norms([l.weight for l in layers], act, h0, biases=[l.bias for l in layers],
                                     seed=readout_seed)["grad_norm"]
        th = predicted_gradient_norms(sizes, wv, bv, activation=act, input_second_moment=q0)
        rows.append({"scheme": label, "activation": act, "chi (theory, layer L)": float(th["chi"].iloc[-1]),
                     "grad ratio theory": th.attrs["ratio"], "grad ratio measured": float(norms[0] / norms[-1])})
    return rows


def unit_spread(model: nn.Module) -> pd.Series:
    r"""How different the units of each Linear layer are: :math:`\max_j (\max_i A_{ij} - \min_i A_{ij}) / \overline{|W|}`.

    :math:`A = [W \mid b]` holds one row per unit (its weights and bias); the spread is 0 exactly when
    all units of the layer compute the same function of the layer's input.
    """
    out = {}
    for i, lin in enumerate(m for m in model.modules() if isinstance(m, nn.Linear)):
        with torch.no_grad():
            a = lin.weight.double()
            if lin.bias is not None:
                a = torch.cat([a, lin.bias.double()[:, None]], dim=1)  # (d_out, d_in + 1)
            out[stats.layer_label(i + 1, lin)] = float((a.max(0).values - a.min(0).values).max()
                                                       / lin.weight.double().abs().mean())
    return pd.Series(out, name="unit spread")


def symmetry_after_sgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int = 3,
                       lr: float = 0.01) -> pd.DataFrame:
    """Let a copy of ``model`` take ``steps`` plain SGD steps on the cross-entropy of ``(x, y)``; does it break the symmetry?

    Returns:
        DataFrame, one row per Linear layer: ``max |grad W|, step 1``, ``max |grad W|, step <steps>``
        and ``unit spread after <steps> steps`` (:func:`unit_spread`; 0: the layer's units are still identical).

    Raises:
        ValueError: ``steps < 1`` or ``lr <= 0``.
    """
    if not isinstance(steps, int) or steps < 1 or not lr > 0:
        raise ValueError(f"steps must be an integer >= 1 and lr > 0, got steps={steps!r}, lr={lr!r}.")
    net = copy.deepcopy(model).train()
    lins = [m for m in net.modules() if isinstance(m, nn.Linear)]
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    first = last = None
    with single_thread():
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(net(x), y.to(x.device)).backward()
            last = [float(lin.weight.grad.abs().max()) for lin in lins]
            first = last if first is None else first
            opt.step()
    spread = unit_spread(net)
    return pd.DataFrame({"max |grad W|, step 1": first, f"max |grad W|, step {steps}": last,
                         f"unit spread after {steps} steps": spread.to_numpy()},
                        index=pd.Index(spread.index, name="layer"))


def layer_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> pd.Series:
    """Frobenius norm of the loss gradient w.r.t. each Linear weight (cross-entropy on ``(x, y)``)."""
    with single_thread():
        g = stats.gradient_stats(model, x, y)
    return pd.Series({k: float(np.linalg.norm(v.astype(np.float64))) for k, v in g.items()}, name="grad norm")


def backward_signals(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> pd.DataFrame:
    r"""The error signal and the weight gradient of every Linear layer for the cross-entropy loss on ``(x, y)``.

    For layer :math:`l` with output :math:`y_l = W_l h_{l-1} + b_l` and error signal
    :math:`\delta_l = \partial L/\partial y_l` (one row per sample), the weight gradient is the sum of
    per-sample outer products :math:`\nabla W_l = \sum_b \delta_{l,b}\,h_{l-1,b}^\top`.  The variance
    recurrence treats those terms as uncorrelated, so it predicts the *incoherent* norm
    :math:`\sqrt{\sum_b \lVert\delta_{l,b}\rVert^2\,\lVert h_{l-1,b}\rVert^2}`; where the samples' terms
    point the same way the true norm is larger.

    Returns:
        DataFrame indexed by layer ``1..L``: ``delta var`` (mean of :math:`\delta_l^2` over samples and
        units), ``grad norm`` (:math:`\lVert\nabla W_l\rVert_F`), ``incoherent norm`` and ``coherence``
        (their ratio: 1 for uncorrelated samples, up to :math:`\sqrt B` when all agree).  Float64 throughout.
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("backward_signals needs a model with nn.Linear layers.")
    inputs, outputs = [], []

    def hook(module, args, out):
        inputs.append(args[0].detach().reshape(args[0].shape[0], -1).double())
        out.retain_grad()
        outputs.append(out)

    handles = [m.register_forward_hook(hook) for m in linears]
    try:
        with single_thread():
            model.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
    finally:
        for h in handles:
            h.remove()
    rows = []
    for lin, h_in, out in zip(linears, inputs, outputs):
        d = out.grad.detach().double()
        grad = float(torch.linalg.norm(d.T @ h_in))
        incoherent = float(torch.sqrt(((d ** 2).sum(1) * (h_in ** 2).sum(1)).sum()))
        rows.append({"delta var": float((d ** 2).mean()), "grad norm": grad, "incoherent norm": incoherent,
                     "coherence": grad / incoherent if incoherent > 0 else float("nan")})
    model.zero_grad(set_to_none=True)
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="layer"))


def saturation_fraction(model: nn.Module, x: torch.Tensor, *, eps: float = 0.01) -> pd.Series:
    """Share of each hidden layer's sigmoid outputs within ``eps`` of 0 or 1 (derivative below ~``eps``)."""
    with single_thread():
        acts = stats.activation_stats_per_unit(model, x)
    return pd.Series({k: float(((a < eps) | (a > 1 - eps)).float().mean()) for k, a in acts.items()},
                     name="saturated share")


# ----------------------------------------------------------------------------- the backward pass
# The error signal delta_l = dL/dy_l of a stack y_l = W_l h_{l-1} + b_l, h_l = f(y_l) obeys
# delta_{l-1} = (W_l^T delta_l) * f'(y_{l-1}); its variance changes by chi_l per layer.
def _resolve_activation(activation) -> nn.Module:
    """A float64 module in eval mode from a name of models.ACTIVATIONS or layers.ACTIVATION_SPECS, a spec or a module."""
    from . import layers  # layers is below models in the import order; imported here to keep theory light
    if isinstance(activation, layers.ActivationSpec):
        module = activation.make()
    elif isinstance(activation, str) and activation in layers.ACTIVATION_SPECS:
        module = layers.ACTIVATION_SPECS[activation].make()
    else:
        module, _ = make_activation(activation)
    return module.to(torch.float64).eval()


def gaussian_moments(activation, var: float) -> tuple[float, float]:
    r"""Forward and backward moments of one activation: :math:`(\mathbb E[f(y)^2],\ \mathbb E[f'(y)^2])`, :math:`y\sim\mathcal N(0, v)`.

    The first scales the next layer's pre-activation variance (eq. recurrence), the second the error
    signal's variance on the way down:

    .. math::
        v_{l+1} = d_l\,\sigma_{w,l+1}^2\,\mathbb E[f(y_l)^2],\qquad
        \mathrm{Var}(\delta_{l}) = \underbrace{d_{l+1}\,\sigma_{w,l+1}^2\,\mathbb E[f'(y_l)^2]}_{\chi_{l+1}}\,
        \mathrm{Var}(\delta_{l+1}).

    Both by the quadrature of :mod:`course_utils.gaussian` (panels that end at the kink of the ReLU
    family, ELU and SELU), :math:`f'` by autograd.  For the SwiGLU gate
    :math:`h = \mathrm{Swish}(z_1)\,z_2` (two pre-activations per output) the pair is
    :math:`(v\,\mathbb E[\mathrm{Swish}(z)^2],\ \tfrac12(v\,\mathbb E[\mathrm{Swish}'(z)^2] + \mathbb E[\mathrm{Swish}(z)^2]))`:
    the second is the mean over the two halves of :math:`\mathbb E[(\partial h/\partial z_k)^2]`.

    Args:
        activation: a name of :data:`course_utils.models.ACTIVATIONS` or
            :data:`course_utils.layers.ACTIVATION_SPECS`, an ``ActivationSpec`` or an ``nn.Module``.
        var: the pre-activation variance :math:`v`; ``inf`` gives ``(inf, nan)``.

    Raises:
        ValueError: negative or NaN variance, unknown activation name.
    """
    if np.isnan(var) or var < 0:
        raise ValueError(f"var must be a number >= 0 (inf allowed), got {var}. Pass the pre-activation variance.")
    if np.isinf(var):
        return math.inf, math.nan
    from .layers import SwiGLUGate
    module = _resolve_activation(activation)
    f = module.swish if isinstance(module, SwiGLUGate) else (lambda z: module(z[:, None]).reshape(-1))
    m_f, m_df = activation_moments(f, var)
    if isinstance(module, SwiGLUGate):
        return var * m_f, 0.5 * (var * m_df + m_f)
    return m_f, m_df


def backward_factor(activation, gain: float, q: float = 1.0) -> float:
    r"""The backward factor :math:`\chi = g^2\,\mathbb E_{y\sim\mathcal N(0,q)}[f'(y)^2]` of a square stack with :math:`\mathrm{Var}(w) = g^2/d`.

    :math:`\mathrm{Var}(\delta_{l-1}) = \chi\,\mathrm{Var}(\delta_l)` when the pre-activations have
    variance ``q``; for the SwiGLU gate (two pre-activations per unit) :math:`\chi = g^2\,(q\,
    \mathbb E[\mathrm{Swish}'^2] + \mathbb E[\mathrm{Swish}^2])`.  ``1`` means the error signal keeps its scale.

    Raises:
        ValueError: negative ``q`` or non-finite gain (see :func:`gaussian_moments`).
    """
    if not np.isfinite(gain):
        raise ValueError(f"gain must be a finite number, got {gain!r}.")
    return _width_factor(activation) * float(gain) ** 2 * gaussian_moments(activation, q)[1]


def variance_map_slope(activation, gain: float, q: float = 1.0, *, rel_step: float = 1e-4) -> float:
    r"""Slope :math:`dF/dq` of the variance map :math:`F(q) = g^2\,\mathbb E_{y\sim\mathcal N(0,q)}[f(y)^2]` at ``q``.

    At a fixed point :math:`F(q^\star) = q^\star` a slope below 1 attracts (deviations shrink by the slope
    per layer), above 1 repels; homogeneous activations (ReLU family) have slope exactly 1 everywhere.
    Central difference of :func:`gaussian_moments` with step ``rel_step * q``.

    Raises:
        ValueError: ``q <= 0`` or a non-finite gain.
    """
    if not q > 0 or not np.isfinite(q) or not np.isfinite(gain):
        raise ValueError(f"q must be a finite number > 0 and gain finite, got q={q!r}, gain={gain!r}.")
    h = rel_step * q
    hi, lo = gaussian_moments(activation, q + h)[0], gaussian_moments(activation, q - h)[0]
    return float(gain) ** 2 * (hi - lo) / (2 * h)


def _width_factor(activation) -> int:
    from .layers import SwiGLUGate
    return 2 if isinstance(_resolve_activation(activation), SwiGLUGate) else 1


def predicted_gradient_norms(sizes: Sequence[int], weight_var: float | Sequence[float],
                             bias_var: float | Sequence[float] = 0.0, *, activation="identity",
                             input_second_moment: float = 1.0) -> pd.DataFrame:
    r"""Forward and backward variance recurrences of a stack, and the weight-gradient norm of each layer they predict.

    With :math:`y_l = W_l h_{l-1} + b_l`, :math:`h_l = f(y_l)` (also after the last layer's output is
    *not* needed) and a loss whose error at the top, :math:`\delta_L = \partial L/\partial y_L`, has unit
    variance and is independent across the batch (a random linear read-out),

    .. math::
        \chi_l = d_l\,\sigma_{w,l}^2\,\mathbb E[f'(y_{l-1})^2],\qquad
        \mathrm{Var}(\delta_{l-1}) = \chi_l\,\mathrm{Var}(\delta_l),\qquad
        \frac{\mathbb E\|\nabla_{W_l}L\|_F^2}{B} = d_l\,\mathrm{Var}(\delta_l)\;d_{l-1}\,q_{l-1},

    because :math:`\nabla_{W_l}L = \sum_b \delta_{l,b}\,h_{l-1,b}^\top` and the terms of different
    samples are uncorrelated.  ``d_l`` counts the Linear layer's outputs (twice the width for SwiGLU).

    Args:
        sizes, weight_var, bias_var, activation, input_second_moment: as for
            :func:`predicted_activation_variances` (``activation`` may also be any module or a key of
            :data:`course_utils.layers.ACTIVATION_SPECS`); ``sizes`` are the widths *after* the activation.

    Returns:
        DataFrame, one row per Linear layer ``1..L``: ``v`` (pre-activation variance), ``q_in``
        (:math:`q_{l-1}`, second moment of the layer's input), ``chi`` (:math:`\chi_l`, NaN for layer 1),
        ``delta var`` (:math:`\mathrm{Var}(\delta_l)`, 1 at the top) and ``grad norm``
        (:math:`\sqrt{d_l\,\mathrm{Var}(\delta_l)\,d_{l-1}\,q_{l-1}}`, the RMS norm per sample).
        ``df.attrs["ratio"]`` is :math:`\|\nabla W_1\|/\|\nabla W_L\|`.

    Raises:
        ValueError: as :func:`predicted_activation_variances`.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ValueError(f"sizes must list at least an input and an output width, all positive; got {sizes}.")
    n = len(sizes) - 1
    w = np.full(n, float(weight_var)) if np.isscalar(weight_var) else np.asarray(weight_var, dtype=np.float64)
    b = np.full(n, float(bias_var)) if np.isscalar(bias_var) else np.asarray(bias_var, dtype=np.float64)
    if w.shape != (n,) or b.shape != (n,):
        raise ValueError(f"weight_var and bias_var must be one number or {n} numbers (one per Linear layer).")
    if np.any(w < 0) or np.any(b < 0) or input_second_moment < 0:
        raise ValueError("variances and input_second_moment must be >= 0.")
    factor = _width_factor(activation)
    d_out = [factor * s for s in sizes[1:]]  # Linear outputs
    q = [float(input_second_moment)]
    v, m_df = np.empty(n), np.empty(n)
    with np.errstate(over="ignore", invalid="ignore"):
        for l in range(n):
            v[l] = sizes[l] * w[l] * q[l] + b[l] if np.isfinite(q[l]) else math.inf
            m_f, m_df[l] = gaussian_moments(activation, v[l] if np.isfinite(v[l]) else math.inf)
            q.append(m_f)
        chi = np.full(n, np.nan)
        chi[1:] = np.array(d_out[1:]) * w[1:] * m_df[:-1]
        dvar = np.ones(n)
        for l in range(n - 2, -1, -1):
            dvar[l] = dvar[l + 1] * chi[l + 1]
        gnorm = np.sqrt(np.array(d_out) * dvar * np.array(sizes[:-1]) * np.array(q[:-1]))
    df = pd.DataFrame({"v": v, "q_in": q[:-1], "chi": chi, "delta var": dvar, "grad norm": gnorm},
                      index=pd.RangeIndex(1, n + 1, name="layer"))
    with np.errstate(invalid="ignore", divide="ignore"):
        df.attrs["ratio"] = float(gnorm[0] / gnorm[-1])
    return df


def stack_gradient_norms(weights: Sequence[torch.Tensor], activation, x: torch.Tensor, *,
                         biases: Sequence[torch.Tensor] | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    r"""Measured :math:`\|\nabla_{W_l} L\|_F` of every layer of a stack ``[Linear -> f] x L`` for a random read-out loss.

    The loss is :math:`L = \sum_{b,i} R_{bi}\,y_{L,bi}` with :math:`R_{bi}\sim\mathcal N(0,1)` drawn from
    ``seed``: its error at the top has unit variance and is independent across samples, as
    :func:`predicted_gradient_norms` assumes, and it has no preferred class that would make the last layer
    special.  Computed in the weights' dtype; norms and variances in float64.  A stack whose forward
    pass overflows has NaN gradient norms (and ``inf`` variances from the layer that overflowed).

    Args:
        weights: ``L`` tensors ``(d_out, d_in)`` (copied; the originals are not touched).
        activation: as for :func:`gaussian_moments`.
        x: the input batch, flattened to ``(B, d_0)``.
        biases: ``L`` tensors ``(d_out,)`` or ``None`` (no biases).
        seed: seeds the read-out ``R``.

    Returns:
        ``{"grad_norm": ||dL/dW_l||_F per layer, "pre_var": variance of each Linear output,
        "delta_var": variance of the error dL/dy_l of each Linear output}``.

    Raises:
        ValueError: no weights, or shapes that do not chain.
    """
    if len(weights) == 0:
        raise ValueError("weights is empty: pass one (d_out, d_in) tensor per Linear layer.")
    module = _resolve_activation(activation).to(weights[0].dtype)
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
        if not np.isfinite(pre_var[-1]):
            nan = np.full(len(ws), np.nan)
            return {"grad_norm": nan, "pre_var": pre_var, "delta_var": nan.copy()}
        R = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed), dtype=z.dtype)
        grads = torch.autograd.grad((z * R).sum(), ws + zs)
    norms = np.array([float(torch.linalg.vector_norm(g, dtype=torch.float64)) for g in grads[:len(ws)]])
    delta_var = np.array([float(d.double().var(unbiased=False)) for d in grads[len(ws):]])
    return {"grad_norm": norms, "pre_var": pre_var, "delta_var": delta_var}


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
    """
    from . import layers
    spec = act if isinstance(act, layers.ActivationSpec) else layers.ACTIVATION_SPECS.get(act)
    if spec is None:
        raise ValueError(f"Unknown activation {act!r}. Valid names: {', '.join(layers.ACTIVATION_SPECS)}.")
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


# ============================================================================= the signal-propagation explorable
# Part I's explorable (book/part1/signal_explorer.md): per-layer activation and gradient variances of a square
# random stack, measured, beside the two recurrences above.  Built from the pieces above (_sweep_stack draws the
# layers as the depth sweep does, stack_gradient_norms measures, predicted_gradient_norms and
# collapsed_constant_variances predict); nothing here draws.

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
_TORCH_GAIN_NAME = {"identity": "linear", "tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid", "selu": "selu",
                    "gelu": "relu"}


def signal_propagation(scheme: str, activation: str, depth: int, *, sigma: float = 0.0625, width: int = 256,
                       n: int = 128, seed: int = 0, readout_seed: int = 1) -> dict:
    r"""Per-layer variances of the forward and the backward pass of a square stack ``[Linear -> f] x depth``.

    The input is ``n`` Gaussian vectors of width ``width`` (seeded with ``seed``); the weights are drawn by
    :func:`course_utils.init.init_model` with a generator seeded with ``seed + 1`` (biases 0), so that the
    Gaussian schemes share their standard-normal draws and a shorter stack is the first layers of a longer one;
    the loss is the random read-out of :func:`stack_gradient_norms` on the last layer.

    Args:
        scheme: a key of :data:`SIGNAL_SCHEMES` (``"normal"`` draws :math:`\mathcal N(0, \sigma^2)`).
        activation: a name of :data:`course_utils.models.ACTIVATIONS` (e.g. ``"tanh"``, ``"gelu"``).
        depth: number of Linear layers (>= 1).

    Returns:
        ``{"act_var", "act_theory", "grad_var", "grad_theory"}``: one value per layer 1..depth — the variance
        of each Linear output (measured; predicted by the forward recurrence, for ``constant`` by the exact
        one-unit chain :func:`collapsed_constant_variances`) and of the error :math:`\partial L/\partial y_l`
        (measured; predicted by the backward recurrence, relative to the top where it is 1; ``None`` for
        ``constant``, whose units are all equal). ``inf``/``NaN`` where float32 overflowed.

    Raises:
        ValueError: unknown scheme or activation, ``depth < 1``, ``sigma <= 0``.
    """
    if scheme not in SIGNAL_SCHEMES:
        raise ValueError(f"Unknown scheme {scheme!r}; choose one of {list(SIGNAL_SCHEMES)}.")
    if activation not in _TORCH_GAIN_NAME:
        raise ValueError(f"Unknown activation {activation!r}; choose one of {list(_TORCH_GAIN_NAME)}.")
    if not (isinstance(depth, int) and depth >= 1):
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}.")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}.")
    kw = {**SIGNAL_SCHEMES[scheme], "bias": "zeros"}
    if scheme == "normal":
        kw["std"] = float(sigma)
    if scheme == "kaiming":
        kw["nonlinearity"] = _TORCH_GAIN_NAME[activation]
    name = kw.pop("scheme")
    x = torch.randn(n, width, generator=torch.Generator().manual_seed(seed))  # (n, width), unit variance
    sizes = [width] * (depth + 1)
    denormal = torch.set_flush_denormal(True)  # tiny float32 values: flush to 0 instead of crawling
    try:
        with single_thread(), np.errstate(all="ignore"):
            layers, wv, bv = _sweep_stack(sizes, name, kw, seed + 1, torch.float32)
            meas = stack_gradient_norms([l.weight for l in layers], activation, x, seed=readout_seed)
            q0 = input_second_moment(x)
            if name == "constant":
                act_theory = collapsed_constant_variances(x, sizes, value=kw["value"], bias=0.0, activation=activation)
                grad_theory = np.full(depth, np.nan)
            else:
                th = predicted_gradient_norms(sizes, wv, bv, activation=activation, input_second_moment=q0)
                act_theory, grad_theory = th["v"].to_numpy(), th["delta var"].to_numpy()
    finally:
        if not denormal:
            torch.set_flush_denormal(False)
    return {"act_var": meas["pre_var"], "act_theory": np.asarray(act_theory, dtype=float),
            "grad_var": meas["delta_var"], "grad_theory": np.asarray(grad_theory, dtype=float)}


# ============================================================================= Part I additions (issue #27)
# The depth sweep's backward curves (book/part1/depth_sweep.md) and the exact finite-width law of the random
# gain of one linear or ReLU layer, which makes a single network drift *below* the variance recurrence
# (Hanin & Rolnick, 2018).  Appended as one block; nothing above depends on it.
_DRIFT_GAIN2 = {"identity": 1.0, "linear": 1.0, "relu": 2.0}


def depth_sweep_backward(x: torch.Tensor, schemes: dict[str, dict], activations: Sequence[str] = ("tanh",), *,
                         depth: int = 50, width: int = 256, seed: int = 0, readout_seed: int = 1,
                         dtype: torch.dtype = torch.float32) -> pd.DataFrame:
    r"""The error signal's variance :math:`\mathrm{Var}(\delta_l)` at every layer of the :func:`depth_sweep` networks, measured and predicted.

    Same networks (schemes, seed, draws) and the same random read-out loss as :func:`depth_sweep_gradients`;
    :math:`\delta_l = \partial L/\partial y_l` has unit variance at the top (layer ``depth``), and the backward
    recurrence :math:`\mathrm{Var}(\delta_{l-1}) = \chi_l\,\mathrm{Var}(\delta_l)` of
    :func:`predicted_gradient_norms` (fed with the drawn weights' and biases' variances) predicts it.

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


def _check_drift_args(activation: str, width: int, depth: int) -> None:
    if activation not in _DRIFT_GAIN2:
        raise ValueError(f"The exact drift law is known here for {sorted(_DRIFT_GAIN2)} only, got {activation!r}.")
    if not (isinstance(width, (int, np.integer)) and width >= 1 and isinstance(depth, (int, np.integer))
            and depth >= 1):
        raise ValueError(f"width and depth must be integers >= 1, got width={width!r}, depth={depth!r}.")


def log_gain_moments(activation: str, width: int) -> tuple[float, float]:
    r"""Mean and variance of :math:`\log G`, the random factor by which one layer multiplies a fixed input's mean square.

    A layer of ``width`` units with Gaussian weights :math:`w_{ij}\sim\mathcal N(0, g^2/d)` maps a fixed input
    :math:`h` (of any width :math:`d`) to :math:`h' = f(Wh)`; with the gain that keeps the mean square on
    average (:math:`g^2 = 1` for the identity, 2 for ReLU),

    .. math::
        G = \frac{\lVert h'\rVert^2/n}{\lVert h\rVert^2/d},\qquad
        G_{\text{identity}} = \frac{\chi^2_n}{n},\qquad
        G_{\text{ReLU}} = \frac{2}{n}\,\chi^2_K,\quad K\sim\mathrm{Bin}(n, \tfrac12),

    with :math:`n` = ``width``, because the :math:`n` pre-activations are i.i.d. :math:`\mathcal N(0, g^2\lVert h\rVert^2/d)`
    and a ReLU keeps the :math:`K` positive ones.  :math:`\mathbb E\,G = 1`, but :math:`\mathbb E\log G < 0`:
    :math:`\mathbb E\log\chi^2_k = \psi(k/2) + \log 2` (digamma), :math:`\mathrm{Var}\log\chi^2_k = \psi'(k/2)`,
    mixed over :math:`K` exactly.  For large :math:`n`: identity :math:`-1/n` and :math:`2/n`; ReLU
    :math:`-5/(2n)` and :math:`5/n` (Hanin & Rolnick, 2018).  ``K = 0`` (probability :math:`2^{-n}`) is left out.

    Raises:
        ValueError: an activation other than identity/linear/ReLU, or a width below 1 (ReLU: below 2).
    """
    from scipy.special import digamma, polygamma
    from scipy.stats import binom
    _check_drift_args(activation, width, 1)
    n = int(width)
    if _DRIFT_GAIN2[activation] == 1.0:
        return float(digamma(n / 2) + math.log(2 / n)), float(polygamma(1, n / 2))
    if n < 2:
        raise ValueError(f"width must be >= 2 for ReLU (a single unit is dead half of the time), got {n}.")
    k = np.arange(1, n + 1)
    p = binom.pmf(k, n, 0.5)
    p = p / p.sum()  # condition on K >= 1
    m_k = digamma(k / 2) + math.log(2) + math.log(2 / n)
    mean = float(np.dot(p, m_k))
    var = float(np.dot(p, polygamma(1, k / 2)) + np.dot(p, (m_k - mean) ** 2))
    return mean, var


def log_variance_drift_theory(activation: str, width: int, depth: int) -> pd.DataFrame:
    r"""Exact mean and standard deviation of :math:`\log(v_l/\bar v_l)` for one input: how one network strays from the recurrence.

    :math:`v_l` is the mean square of layer :math:`l`'s pre-activations for a fixed input in a stack of
    Gaussian layers of ``width`` units (biases zero, gain as in :func:`log_gain_moments`), :math:`\bar v_l` the
    recurrence's value (constant here).  Layer :math:`l`'s pre-activations are i.i.d. given the layer below, so

    .. math::
        \log\frac{v_l}{\bar v_l} = \sum_{k=1}^{l-1}\log G_k + \log\frac{\chi^2_n}{n}

    with independent terms (:math:`G` of :func:`log_gain_moments`; for the identity the two kinds coincide and
    there are :math:`l` of them).  The recurrence is the mean of :math:`v_l`; the typical network lies
    :math:`e^{\text{mean}}` below it.

    Returns:
        DataFrame indexed by layer ``1..depth``: ``mean`` and ``sd`` of :math:`\log(v_l/\bar v_l)`.
    """
    _check_drift_args(activation, width, depth)
    m_g, v_g = log_gain_moments(activation, width)
    m_c, v_c = log_gain_moments("identity", width)
    k = np.arange(depth)  # layers below l
    return pd.DataFrame({"mean": k * m_g + m_c, "sd": np.sqrt(k * v_g + v_c)},
                        index=pd.RangeIndex(1, depth + 1, name="layer"))


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
        ``{activation: array (seeds, B, depth)}``; compare with :func:`log_variance_drift_theory`.

    Raises:
        ValueError: an activation other than identity/linear/ReLU, or non-positive sizes.
    """
    for act in activations:
        _check_drift_args(act, width, depth)
    if not (isinstance(seeds, int) and seeds >= 1):
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}.")
    h0 = x.reshape(x.shape[0], -1).float().cpu()  # (B, d_0)
    ref = {a: _DRIFT_GAIN2[a] * (h0.double() ** 2).mean(1).numpy() for a in activations}  # (B,)
    out = {a: np.empty((seeds, h0.shape[0], depth)) for a in activations}
    with single_thread():
        for s in range(seeds):
            gen = torch.Generator().manual_seed(seed + s)
            hs = {a: h0 for a in activations}
            for l in range(depth):
                d_in = h0.shape[1] if l == 0 else width
                w = torch.randn(width, d_in, generator=gen)  # (width, d_in), shared by every activation
                for a in activations:
                    z = hs[a] @ w.T * math.sqrt(_DRIFT_GAIN2[a] / d_in)  # (B, width)
                    out[a][s, :, l] = np.log((z.double() ** 2).mean(1).numpy() / ref[a])
                    hs[a] = z if _DRIFT_GAIN2[a] == 1.0 else torch.relu(z)
    return out
