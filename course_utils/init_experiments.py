r"""The reference MLP at initialisation: Part I's experiments on a real network, measured beside the recurrences.

Each function initialises or takes an MLP, pushes one batch through it (and back), and returns plain data; the
predictions come from :mod:`course_utils.theory`, the per-layer measurements from :mod:`course_utils.stats`,
and nothing here draws (see :mod:`course_utils.plotting`).

* :data:`REFERENCE` — the per-layer variances the two source tutorials print (PyTorch and JAX);
* :func:`run_init_experiment` (an :class:`InitExperiment`) — one scheme on the reference MLP: weights,
  gradients, activations and the table measured | theory | theory without bias noise | references
  (``book/part1/init_experiments.md``);
* :func:`unit_spread`, :func:`symmetry_after_sgd` — the symmetry of a constant initialisation, before and
  after a few SGD steps;
* :func:`backward_signals`, :func:`saturation_fraction` — the error signal per layer and the saturated
  sigmoid units of a deep MLP (``book/part1/vanishing_gradients.md``).
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import init as cinit
from . import stats
from .models import MLP, REFERENCE_SIZES
from .propagation import single_thread
from .theory import collapsed_constant_variances, input_second_moment, predict_for_scheme

__all__ = ["REFERENCE", "InitExperiment", "run_init_experiment", "unit_spread", "symmetry_after_sgd",
           "backward_signals", "saturation_fraction"]


# ----------------------------------------------------------------------------- one scheme on the reference MLP
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
        """Measured variance of each Linear layer's output (the ``measured`` column)."""
        return self.table["measured"].to_numpy()

    @property
    def grad_var(self) -> np.ndarray:
        """Measured variance of each Linear layer's weight gradient (the ``grad var`` column)."""
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
    """:func:`run_init_experiment` without the thread setting: draw, measure, tabulate."""
    gen = torch.Generator().manual_seed(seed)
    model = MLP.from_sizes(activation, sizes).to(x.device)
    cinit.init_model(model, scheme, generator=gen, **init_kw)
    acts = stats.activation_stats(model, x)
    grads = stats.gradient_stats(model, x, y)
    weights = stats.weight_stats(model)
    with torch.no_grad():
        loss = float(F.cross_entropy(model(x), y.to(x.device)))
    theory, theory_nb = _predicted_variances(scheme, activation, x, sizes, init_kw)
    table = pd.DataFrame({
        "weight var": list(stats.variances(weights).values()),
        "grad var": list(stats.variances(grads).values()),
        "measured": list(stats.variances(acts).values()),
        "theory": theory,
        "theory, no bias noise": theory_nb,
    }, index=pd.Index(list(acts), name="layer"))
    ref = REFERENCE.get(reference or "", {})
    for key, column in (("pytorch", "PyTorch ref"), ("jax", "JAX ref"), ("pytorch_grad", "PyTorch grad ref"),
                        ("jax_grad", "JAX grad ref")):
        if key in ref:
            table[column] = ref[key]
    if not with_hists:
        acts, grads, weights = {}, {}, {}
    return InitExperiment(name, model, weights, grads, acts, table, loss)


def _predicted_variances(scheme, activation, x, sizes, init_kw) -> tuple[np.ndarray, np.ndarray]:
    """The ``theory`` and ``theory, no bias noise`` columns: the recurrence with and without this run's bias noise
    (the exact one-unit chain for a constant scheme, where the two coincide)."""
    if scheme in ("constant", "zeros"):
        value = init_kw.get("value", 0.005) if scheme == "constant" else 0.0
        bias = init_kw.get("bias")
        bias = value if bias in (None, "same") else (0.0 if bias == "zeros" else float(bias))
        exact = collapsed_constant_variances(x, sizes, value=value, bias=bias, activation=activation)
        return exact, exact
    # bias noise of this run: the biases' nominal variance (the "same" rule draws them like the weights)
    bias_rule = init_kw.get("bias")
    if scheme == "normal" and bias_rule in (None, "same"):
        bias_var = init_kw.get("std", 0.01) ** 2
    elif scheme == "pytorch_default" and bias_rule in (None, "pytorch_default"):
        bias_var = np.array([1.0 / (3 * d) for d in list(sizes)[:-1]])
    else:
        bias_var = 0.0
    kw = {k: v for k, v in init_kw.items() if k in ("first_layer", "output_scale", "value", "std", "gain",
                                                   "nonlinearity", "a", "mode")}
    q0 = input_second_moment(x)
    return (predict_for_scheme(scheme, activation, q0=q0, sizes=sizes, bias_var=bias_var, **kw),
            predict_for_scheme(scheme, activation, q0=q0, sizes=sizes, bias_var=0.0, **kw))


# ----------------------------------------------------------------------------- symmetry
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


# ----------------------------------------------------------------------------- a deep MLP, forward and backward
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
