r"""What mean-field theory predicts for a random network: the variance recurrences and the Gaussian moments behind them.

Compute only, and nothing is measured here: the networks these predictions are set beside are run in
:mod:`course_utils.propagation` (random square stacks, the depth sweep, the signal explorer) and
:mod:`course_utils.init_experiments` (the reference MLP); every Gaussian expectation comes from
:mod:`course_utils.gaussian`.  The pieces, in the order of the book:

* the moments of one activation: :func:`gaussian_moments` (:math:`\mathbb E[f^2]`, :math:`\mathbb E[f'^2]`),
  :func:`input_second_moment` (:math:`q_0` of a batch);
* forward: :func:`predicted_activation_variances` (the recurrence :math:`v_l = d_{l-1}\sigma_{w,l}^2 q_{l-1}
  + \sigma_{b,l}^2`), :func:`scheme_weight_variances` / :func:`predict_for_scheme` (fed with a scheme's
  nominal variances), :func:`collapsed_constant_variances` (the exact chain of a constant initialisation)
  and :func:`variance_map_slope` (stability of a fixed point);
* backward: :func:`backward_factor` (:math:`\chi`) and :func:`predicted_gradient_norms` (both recurrences
  and the weight-gradient norms they imply);
* one finite-width network against the recurrence: :func:`log_gain_moments` and
  :func:`log_variance_drift_theory` (Hanin & Rolnick, 2018).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import init as cinit
from .gaussian import activation_moments
from .layers import ACTIVATION_SPECS, ActivationSpec, SwiGLUGate
from .models import REFERENCE_SIZES, make_activation

__all__ = ["activation_module", "gaussian_moments", "input_second_moment", "predicted_activation_variances",
           "scheme_weight_variances", "predict_for_scheme", "collapsed_constant_variances", "variance_map_slope",
           "backward_factor", "predicted_gradient_norms", "DRIFT_GAIN2", "check_drift_args", "log_gain_moments",
           "log_variance_drift_theory"]


# ----------------------------------------------------------------------------- the moments of one activation
#: E[f^2] / v and E[f'^2] in closed form for y ~ N(0, v): the identity keeps everything; ReLU keeps half of a
#: symmetric distribution and has f' = 1 on that half.
_CLOSED_MOMENTS = {"identity": (1.0, 1.0), "linear": (1.0, 1.0), "relu": (0.5, 0.5)}


def activation_module(activation) -> nn.Module:
    """The activation as a float64 module in eval mode, from a name, an ``ActivationSpec`` or a module.

    Names are those of :data:`course_utils.layers.ACTIVATION_SPECS` (looked up first) and
    :data:`course_utils.models.ACTIVATIONS`; a module is moved to float64 and put in eval mode (RReLU
    then uses its mean slope).

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    if isinstance(activation, ActivationSpec):
        module = activation.make()
    elif isinstance(activation, str) and activation in ACTIVATION_SPECS:
        module = ACTIVATION_SPECS[activation].make()
    else:
        module, _ = make_activation(activation)
    return module.to(torch.float64).eval()


def _width_factor(activation) -> int:
    """Linear outputs per unit of the activation's output: 2 for the SwiGLU gate, else 1."""
    return 2 if isinstance(activation_module(activation), SwiGLUGate) else 1


def gaussian_moments(activation, var: float, *, mean: float = 0.0) -> tuple[float, float]:
    r"""Forward and backward moments of one activation: :math:`(\mathbb E[f(y)^2],\ \mathbb E[f'(y)^2])`, :math:`y\sim\mathcal N(\text{mean}, v)`.

    The first scales the next layer's pre-activation variance, the second the error signal's variance
    on the way down:

    .. math::
        v_{l+1} = d_l\,\sigma_{w,l+1}^2\,\mathbb E[f(y_l)^2],\qquad
        \mathrm{Var}(\delta_{l}) = \underbrace{d_{l+1}\,\sigma_{w,l+1}^2\,\mathbb E[f'(y_l)^2]}_{\chi_{l+1}}\,
        \mathrm{Var}(\delta_{l+1}).

    Closed forms for the identity (:math:`v`, 1) and ReLU (:math:`v/2`, :math:`\tfrac12`) at mean 0;
    everything else by the quadrature of :mod:`course_utils.gaussian` (panels that end at the kink of the
    ReLU family, ELU and SELU, exact to about 1e-12), :math:`f'` by autograd.  For the SwiGLU gate
    :math:`h = \mathrm{Swish}(z_1)\,z_2` (two pre-activations per output) the pair is
    :math:`(v\,\mathbb E[\mathrm{Swish}(z)^2],\ \tfrac12(v\,\mathbb E[\mathrm{Swish}'(z)^2] + \mathbb E[\mathrm{Swish}(z)^2]))`:
    the second is the mean over the two halves of :math:`\mathbb E[(\partial h/\partial z_k)^2]`.

    Args:
        activation: a name of :data:`course_utils.models.ACTIVATIONS` or
            :data:`course_utils.layers.ACTIVATION_SPECS`, an ``ActivationSpec`` or an ``nn.Module``
            (e.g. ``nn.LeakyReLU(0.3)`` for another slope).
        var: the pre-activation variance :math:`v`; ``inf`` gives ``(inf, nan)``.
        mean: the pre-activation mean (0 in every recurrence of the book; not for SwiGLU).

    Raises:
        ValueError: negative or NaN variance, a mean that is not finite or not 0 for SwiGLU, unknown
            activation name.
    """
    if np.isnan(var) or var < 0:
        raise ValueError(f"var must be a number >= 0 (inf allowed), got {var}. Pass the pre-activation variance.")
    if not np.isfinite(mean):
        raise ValueError(f"mean must be a finite number, got {mean}.")
    if np.isinf(var):
        return math.inf, math.nan
    key = activation.strip().lower() if isinstance(activation, str) else None
    if mean == 0.0 and key in _CLOSED_MOMENTS:
        m_f, m_df = _CLOSED_MOMENTS[key]
        return m_f * float(var), m_df
    module = activation_module(activation)
    if isinstance(module, SwiGLUGate):
        if mean != 0.0:
            raise ValueError("The SwiGLU gate's moments are defined here for zero-mean pre-activations only.")
        m_f, m_df = activation_moments(module.swish, var)
        return var * m_f, 0.5 * (var * m_df + m_f)
    return activation_moments(lambda z: module(z[:, None]).reshape(-1), var, mean)


def input_second_moment(x: torch.Tensor) -> float:
    r""":math:`q_0 = \mathbb E[x^2]` over all entries of a batch — what the first layer's variance scales."""
    return float((x.double() ** 2).mean())


# ----------------------------------------------------------------------------- forward: the variance recurrence
def _per_layer(value, n: int, name: str) -> np.ndarray:
    """One number per Linear layer from one number or a sequence of ``n``, checked to be finite and >= 0."""
    arr = np.full(n, float(value)) if np.isscalar(value) else np.asarray(value, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be one number or {n} numbers (one per Linear layer), got {arr.size}.")
    if np.any(arr < 0) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite and >= 0, got {arr.tolist()}.")
    return arr


def _checked_sizes(sizes: Sequence[int]) -> list[int]:
    """The widths as integers, at least an input and an output width, all positive."""
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ValueError(f"sizes must list at least an input and an output width, all positive; got {sizes}.")
    return sizes


def _forward_recurrence(sizes, w, b, q0, activation):
    """``v`` (pre-activation variances), ``q`` (second moments of each layer's input, ``q[0] = q0``) and
    :math:`\\mathbb E[f'(y_l)^2]` of every layer; ``inf``/NaN from the layer whose variance overflows."""
    n = len(sizes) - 1
    q = [float(q0)]
    v, m_df = np.empty(n), np.empty(n)
    with np.errstate(over="ignore", invalid="ignore"):
        for l in range(n):
            v[l] = sizes[l] * w[l] * q[l] + b[l] if np.isfinite(q[l]) else math.inf
            m_f, m_df[l] = gaussian_moments(activation, v[l] if np.isfinite(v[l]) else math.inf)
            q.append(m_f)
    return v, np.asarray(q), m_df


def predicted_activation_variances(sizes: Sequence[int], weight_var: float | Sequence[float],
                                   bias_var: float | Sequence[float] = 0.0, *, activation="identity",
                                   input_second_moment: float = 1.0) -> np.ndarray:
    r"""Variance of each Linear layer's output that the mean-field recurrence predicts.

    With independent zero-mean weights of variance :math:`\sigma_{w,l}^2`, biases of variance
    :math:`\sigma_{b,l}^2` and :math:`d_{l-1}` inputs,

    .. math::
        v_l = d_{l-1}\,\sigma_{w,l}^2\,q_{l-1} + \sigma_{b,l}^2, \qquad
        q_l = \mathbb E_{y\sim\mathcal N(0, v_l)}[f(y)^2], \qquad q_0 = \mathbb E[x^2],

    so :math:`q_l = v_l` for the identity and :math:`v_l/2` for ReLU.  ``v_l`` is what
    :func:`course_utils.stats.variances` of :func:`~course_utils.stats.activation_stats` measures
    (pre-activations, logits last).

    Args:
        sizes: layer widths ``[d_0, d_1, ..., d_L]`` (input first, e.g. ``[784, 512, 256, 256, 128, 10]``).
        weight_var: :math:`\sigma_w^2`, one number for all layers or one per layer (``L`` values).
        bias_var: :math:`\sigma_b^2`, the same way (0: no bias noise, as in the JAX tutorial).
        activation: the hidden activation ``f`` (applied after every layer but the last), as for
            :func:`gaussian_moments`.
        input_second_moment: :math:`q_0 = \mathbb E[x^2]` of the input (see :func:`input_second_moment`).

    Returns:
        ``np.ndarray`` of ``L`` predicted variances ``[v_1, ..., v_L]`` (``inf`` from a layer that overflows).

    Raises:
        ValueError: fewer than two sizes, non-positive sizes, wrong number of per-layer values,
            negative variances.
    """
    sizes = _checked_sizes(sizes)
    n = len(sizes) - 1
    w, b = _per_layer(weight_var, n, "weight_var"), _per_layer(bias_var, n, "bias_var")
    if not input_second_moment >= 0:
        raise ValueError(f"input_second_moment must be >= 0, got {input_second_moment}.")
    return _forward_recurrence(sizes, w, b, input_second_moment, activation)[0]


def scheme_weight_variances(scheme: str, sizes: Sequence[int] = REFERENCE_SIZES, *,
                            first_layer: str | None = None, output_scale: float | None = None,
                            **scheme_kw) -> np.ndarray:
    """Nominal :math:`\\sigma_w^2` of each layer under a scheme of :func:`course_utils.init.init_model`.

    ``first_layer`` names another scheme for layer 1 (e.g. LeCun before ReLU layers); ``output_scale``
    multiplies the last layer's standard deviation (the textbook's ×0.1).
    """
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
    """Predicted per-layer activation variances of a scheme (zero-mean weights; not for ``constant``).

    Raises:
        ValueError: a constant scheme (use :func:`collapsed_constant_variances`).
    """
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


def variance_map_slope(activation, gain: float, q: float = 1.0, *, rel_step: float = 1e-4) -> float:
    r"""Slope :math:`dF/dq` of the variance map :math:`F(q) = g^2\,\mathbb E_{y\sim\mathcal N(0,q)}[f(y)^2]` at ``q``.

    At a fixed point :math:`F(q^\star) = q^\star` a slope below 1 attracts (deviations shrink by the slope
    per layer), above 1 repels; homogeneous activations (ReLU family) have slope exactly :math:`g^2\,\mathbb
    E[f(y)^2]/q` everywhere.  Central difference of :func:`gaussian_moments` with step ``rel_step * q``.

    Raises:
        ValueError: ``q <= 0`` or a non-finite gain.
    """
    if not q > 0 or not np.isfinite(q) or not np.isfinite(gain):
        raise ValueError(f"q must be a finite number > 0 and gain finite, got q={q!r}, gain={gain!r}.")
    h = rel_step * q
    hi, lo = gaussian_moments(activation, q + h)[0], gaussian_moments(activation, q - h)[0]
    return float(gain) ** 2 * (hi - lo) / (2 * h)


# ----------------------------------------------------------------------------- backward: the error signal
# The error signal delta_l = dL/dy_l of a stack y_l = W_l h_{l-1} + b_l, h_l = f(y_l) obeys
# delta_{l-1} = (W_l^T delta_l) * f'(y_{l-1}); its variance changes by chi_l per layer.
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


def predicted_gradient_norms(sizes: Sequence[int], weight_var: float | Sequence[float],
                             bias_var: float | Sequence[float] = 0.0, *, activation="identity",
                             input_second_moment: float = 1.0) -> pd.DataFrame:
    r"""Forward and backward variance recurrences of a stack, and the weight-gradient norm of each layer they predict.

    With :math:`y_l = W_l h_{l-1} + b_l`, :math:`h_l = f(y_l)` and a loss whose error at the top,
    :math:`\delta_L = \partial L/\partial y_L`, has unit variance and is independent across the batch (a
    random linear read-out),

    .. math::
        \chi_l = d_l\,\sigma_{w,l}^2\,\mathbb E[f'(y_{l-1})^2],\qquad
        \mathrm{Var}(\delta_{l-1}) = \chi_l\,\mathrm{Var}(\delta_l),\qquad
        \frac{\mathbb E\|\nabla_{W_l}L\|_F^2}{B} = d_l\,\mathrm{Var}(\delta_l)\;d_{l-1}\,q_{l-1},

    because :math:`\nabla_{W_l}L = \sum_b \delta_{l,b}\,h_{l-1,b}^\top` and the terms of different
    samples are uncorrelated.  ``d_l`` counts the Linear layer's outputs (twice the width for SwiGLU).

    Args:
        sizes, weight_var, bias_var, activation, input_second_moment: as for
            :func:`predicted_activation_variances`; ``sizes`` are the widths *after* the activation.

    Returns:
        DataFrame, one row per Linear layer ``1..L``: ``v`` (pre-activation variance), ``q_in``
        (:math:`q_{l-1}`, second moment of the layer's input), ``chi`` (:math:`\chi_l`, NaN for layer 1),
        ``delta var`` (:math:`\mathrm{Var}(\delta_l)`, 1 at the top) and ``grad norm``
        (:math:`\sqrt{d_l\,\mathrm{Var}(\delta_l)\,d_{l-1}\,q_{l-1}}`, the RMS norm per sample).
        ``df.attrs["ratio"]`` is :math:`\|\nabla W_1\|/\|\nabla W_L\|`.

    Raises:
        ValueError: as :func:`predicted_activation_variances`.
    """
    sizes = _checked_sizes(sizes)
    n = len(sizes) - 1
    w, b = _per_layer(weight_var, n, "weight_var"), _per_layer(bias_var, n, "bias_var")
    if not input_second_moment >= 0:
        raise ValueError(f"input_second_moment must be >= 0, got {input_second_moment}.")
    v, q, m_df = _forward_recurrence(sizes, w, b, input_second_moment, activation)
    d_out = np.array([_width_factor(activation) * s for s in sizes[1:]], dtype=np.float64)  # Linear outputs
    with np.errstate(over="ignore", invalid="ignore"):
        chi = np.full(n, np.nan)
        chi[1:] = d_out[1:] * w[1:] * m_df[:-1]
        dvar = np.ones(n)
        for l in range(n - 2, -1, -1):
            dvar[l] = dvar[l + 1] * chi[l + 1]
        gnorm = np.sqrt(d_out * dvar * np.array(sizes[:-1]) * q[:-1])
    df = pd.DataFrame({"v": v, "q_in": q[:-1], "chi": chi, "delta var": dvar, "grad norm": gnorm},
                      index=pd.RangeIndex(1, n + 1, name="layer"))
    with np.errstate(invalid="ignore", divide="ignore"):
        df.attrs["ratio"] = float(gnorm[0] / gnorm[-1])
    return df


# ----------------------------------------------------------------------------- one network against the average
# The exact finite-width law of the random gain of one linear or ReLU layer, which makes a single network drift
# *below* the variance recurrence (Hanin & Rolnick, 2018); measured in propagation.log_variance_drift.
#: g^2 that keeps the mean square on average: 1 for a linear layer, 2 for ReLU.
DRIFT_GAIN2 = {"identity": 1.0, "linear": 1.0, "relu": 2.0}


def check_drift_args(activation: str, width: int, depth: int) -> None:
    """Raise a ValueError unless the exact drift law is known for ``activation`` and width, depth are integers >= 1."""
    if activation not in DRIFT_GAIN2:
        raise ValueError(f"The exact drift law is known here for {sorted(DRIFT_GAIN2)} only, got {activation!r}.")
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
    check_drift_args(activation, width, 1)
    n = int(width)
    if DRIFT_GAIN2[activation] == 1.0:
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
    check_drift_args(activation, width, depth)
    m_g, v_g = log_gain_moments(activation, width)
    m_c, v_c = log_gain_moments("identity", width)
    k = np.arange(depth)  # layers below l
    return pd.DataFrame({"mean": k * m_g + m_c, "sd": np.sqrt(k * v_g + v_c)},
                        index=pd.RangeIndex(1, depth + 1, name="layer"))
