r"""The edge of chaos and dynamical isometry: mean-field theory of deep random tanh stacks, and the measurements beside it.

A stack ``[Linear -> tanh] x L`` of width :math:`N` with weights :math:`w_{ij}\sim(0, \sigma_w^2/N)` and biases
:math:`b_i\sim(0, \sigma_b^2)` carries two maps from layer to layer (Poole et al., 2016; Schoenholz et al., 2017):
the length map of the pre-activations' second moment and the correlation map of two inputs' pre-activations,

.. math::
    q_{l+1} = \sigma_w^2\,\mathbb E\big[\tanh(\sqrt{q_l}\,z)^2\big] + \sigma_b^2,\qquad
    c_{l+1} = \frac{\sigma_w^2\,\mathbb E[\tanh(u_1)\tanh(u_2)] + \sigma_b^2}{q^\star},

with :math:`u_1 = \sqrt{q^\star} z_1`, :math:`u_2 = \sqrt{q^\star}(c_l z_1 + \sqrt{1-c_l^2}\,z_2)` at the fixed
point :math:`q^\star`.  The slope of the correlation map at :math:`c = 1` is
:math:`\chi_1 = \sigma_w^2\,\mathbb E[\tanh'(\sqrt{q^\star} z)^2]`, the factor by which the error signal's
variance changes per layer (:func:`course_utils.theory.backward_factor` at :math:`q^\star`): below 1 the
*ordered* phase, above 1 the *chaotic* one, 1 the edge of chaos.

Theory (NumPy, on the nodes of :func:`course_utils.gaussian.gaussian_nodes`: tanh is smooth, so the rule needs
no kink, and its 384 nodes agree with ``scipy.integrate.quad`` to 1e-10 for :math:`q \le 25`):

* :func:`length_map`, :func:`fixed_point_q`, :func:`chi1` — vectorised over grids of :math:`(\sigma_w^2, \sigma_b^2)`;
* :func:`phase_diagram`, :func:`critical_weight_var` — the diagram and its :math:`\chi_1 = 1` line;
* :func:`correlation_map`, :func:`correlation_slope`, :func:`correlation_fixed_point`, :func:`depth_scales`,
  :func:`correlation_curve` — the correlation map, its fixed point :math:`c^\star` and the depth scales;
* :func:`scheme_point` — where an initialisation scheme of :mod:`course_utils.init` sits in the diagram.

Measurement (torch, float64, single-threaded; random stacks, no training):

* :func:`random_stack` — Gaussian or orthogonal weights at a point of the diagram;
* :func:`measured_chi` — the per-layer ratio of the error signal's variance, through
  :func:`course_utils.propagation.stack_gradient_norms`;
* :func:`measured_correlations` — the correlation of two inputs layer by layer;
* :func:`jacobian_singular_values` — the input–output Jacobian's singular values at several depths
  (Pennington, Schoenholz & Ganguli, 2017).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from . import init as cinit
from .gaussian import gaussian_nodes
from .propagation import single_thread, stack_gradient_norms

__all__ = ["length_map", "fixed_point_q", "chi1", "phase_diagram", "critical_weight_var", "correlation_map",
           "correlation_slope", "correlation_fixed_point", "depth_scales", "correlation_curve", "scheme_point",
           "random_stack", "fixed_point_inputs", "measured_chi", "measured_correlations", "jacobian_singular_values",
           "log_spread"]

# Standard-normal nodes and weights; tanh is smooth, so no panel has to end at 0.
_Z, _W = gaussian_nodes(1.0, kinks=())
_BISECT = 64  # halvings: the bracket shrinks by 2**-64, below float64's resolution


def _sech2(y):
    return 1.0 / np.cosh(np.clip(y, -350.0, 350.0)) ** 2


def _checked(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}.")
    return arr


def length_map(q, weight_var, bias_var=0.0) -> np.ndarray:
    r"""One step of the length map :math:`q \mapsto \sigma_w^2\,\mathbb E[\tanh(\sqrt q\,z)^2] + \sigma_b^2`, :math:`z\sim\mathcal N(0,1)`.

    Arguments broadcast against each other (grids welcome).

    Raises:
        ValueError: a negative or non-finite argument.
    """
    q, sw2, sb2 = (_checked(n, v) for n, v in (("q", q), ("weight_var", weight_var), ("bias_var", bias_var)))
    m = np.tanh(np.sqrt(q)[..., None] * _Z) ** 2 @ _W
    return sw2 * m + sb2


def fixed_point_q(weight_var, bias_var=0.0) -> np.ndarray:
    r"""The fixed point :math:`q^\star` of :func:`length_map`, by bisection, vectorised over the arguments.

    :math:`G(q) = \sigma_w^2\,\mathbb E[\tanh(\sqrt q z)^2] + \sigma_b^2 - q` is concave (tanh² of a Gaussian
    grows ever more slowly with the variance), :math:`G(0) = \sigma_b^2 \ge 0` and :math:`G(q) < 0` for
    :math:`q > \sigma_w^2 + \sigma_b^2` (because :math:`\tanh^2 < 1`), so there is one root with :math:`q > 0`,
    bracketed by :math:`[0, \sigma_w^2 + \sigma_b^2]`.  With :math:`\sigma_b^2 = 0` and :math:`\sigma_w^2 \le 1`
    the only fixed point is :math:`q^\star = 0` (then :math:`\tanh(y)^2 < y^2` makes :math:`G < 0` for all
    :math:`q > 0`), and the bisection returns 0.

    Raises:
        ValueError: a negative or non-finite variance.
    """
    sw2, sb2 = np.broadcast_arrays(_checked("weight_var", weight_var), _checked("bias_var", bias_var))
    lo, hi = np.zeros(sw2.shape), sw2 + sb2
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        up = length_map(mid, sw2, sb2) - mid > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return 0.5 * (lo + hi)


def chi1(weight_var, bias_var=0.0, q_star=None) -> np.ndarray:
    r""":math:`\chi_1 = \sigma_w^2\,\mathbb E[\tanh'(\sqrt{q^\star} z)^2]`: the error signal's variance ratio per layer at the fixed point.

    It is :func:`course_utils.theory.backward_factor` with gain :math:`\sigma_w` at :math:`q^\star`, vectorised;
    ``q_star`` defaults to :func:`fixed_point_q`.
    """
    sw2 = _checked("weight_var", weight_var)
    q = fixed_point_q(weight_var, bias_var) if q_star is None else _checked("q_star", q_star)
    return sw2 * (_sech2(np.sqrt(q)[..., None] * _Z) ** 2 @ _W)


def phase_diagram(weight_vars: Sequence[float], bias_vars: Sequence[float]) -> dict[str, np.ndarray]:
    r""":math:`q^\star` and :math:`\chi_1` on the grid ``bias_vars`` × ``weight_vars`` (rows: :math:`\sigma_b^2`).

    Returns:
        ``{"weight_var": (n_w,), "bias_var": (n_b,), "q_star": (n_b, n_w), "chi1": (n_b, n_w)}``.
    """
    sw2 = _checked("weight_vars", weight_vars)
    sb2 = _checked("bias_vars", bias_vars)
    W, B = np.meshgrid(sw2, sb2)
    q = fixed_point_q(W, B)
    return {"weight_var": sw2, "bias_var": sb2, "q_star": q, "chi1": chi1(W, B, q)}


def critical_weight_var(bias_var, *, upper: float = 16.0) -> np.ndarray:
    r"""The :math:`\sigma_w^2` at which :math:`\chi_1 = 1` for each :math:`\sigma_b^2`: the edge of chaos.

    :math:`\chi_1` grows with :math:`\sigma_w^2` at fixed :math:`\sigma_b^2`; at :math:`\sigma_w^2 = 1` it is at
    most 1 (exactly 1 only for :math:`\sigma_b^2 = 0`, where :math:`q^\star = 0`), so the root lies in
    :math:`[1, \text{upper}]`.

    Raises:
        ValueError: a negative bias variance, or one whose edge lies beyond ``upper``.
    """
    sb2 = _checked("bias_var", bias_var)
    if np.any(chi1(upper, sb2) < 1):
        raise ValueError(f"chi1 stays below 1 up to weight_var={upper} for some bias_var in {bias_var!r}; "
                         f"pass a larger upper.")
    lo, hi = np.ones(sb2.shape), np.full(sb2.shape, float(upper))
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        up = chi1(mid, sb2) < 1
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- two inputs: the correlation map
def _pair(c: float, q: float):
    """Pre-activations u1, u2 of two inputs with second moment q and correlation c, on the tensor nodes."""
    s = math.sqrt(q)
    u1 = s * _Z[:, None]
    u2 = s * (c * _Z[:, None] + math.sqrt(max(0.0, 1.0 - c * c)) * _Z[None, :])
    return u1, u2, _W[:, None] * _W[None, :]


def correlation_map(c: float, weight_var: float, bias_var: float = 0.0, q_star: float | None = None) -> float:
    r"""One step of the correlation map at the fixed point :math:`q^\star`: :math:`(\sigma_w^2\,\mathbb E[\tanh u_1\tanh u_2] + \sigma_b^2)/q^\star`.

    Two-dimensional expectation on the tensor product of the one-dimensional nodes.  :math:`c = 1` maps to 1.

    Raises:
        ValueError: ``c`` outside [-1, 1], or :math:`q^\star = 0` (no signal to correlate).
    """
    if not -1.0 <= c <= 1.0:
        raise ValueError(f"c must lie in [-1, 1], got {c!r}.")
    q = float(fixed_point_q(weight_var, bias_var)) if q_star is None else float(q_star)
    if not q > 0:
        raise ValueError(f"q* = {q} for weight_var={weight_var}, bias_var={bias_var}: the signal vanishes and has no "
                         f"correlation; pick a point with bias_var > 0 or weight_var > 1.")
    u1, u2, w = _pair(c, q)
    return float((weight_var * np.sum(w * np.tanh(u1) * np.tanh(u2)) + bias_var) / q)


def correlation_slope(c: float, weight_var: float, bias_var: float = 0.0, q_star: float | None = None) -> float:
    r""":math:`\chi_c = \partial c_{l+1}/\partial c_l = \sigma_w^2\,\mathbb E[\tanh'(u_1)\tanh'(u_2)]`; at :math:`c = 1` it is :func:`chi1`."""
    q = float(fixed_point_q(weight_var, bias_var)) if q_star is None else float(q_star)
    u1, u2, w = _pair(c, q)
    return float(weight_var * np.sum(w * _sech2(u1) * _sech2(u2)))


def correlation_fixed_point(weight_var: float, bias_var: float = 0.0) -> float:
    r"""The stable fixed point :math:`c^\star` of :func:`correlation_map` in :math:`[0, 1]`.

    In the ordered phase (:math:`\chi_1 \le 1`) it is 1.  In the chaotic phase :math:`c = 1` repels (slope
    :math:`\chi_1 > 1`) and the map, which starts at :math:`\sigma_b^2/q^\star \ge 0` for :math:`c = 0`, crosses
    the diagonal once below 1; bisection on :math:`[0, 1)`.
    """
    q = float(fixed_point_q(weight_var, bias_var))
    if float(chi1(weight_var, bias_var, q)) <= 1.0:
        return 1.0
    lo, hi = 0.0, 1.0 - 1e-12
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if correlation_map(mid, weight_var, bias_var, q) > mid:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def depth_scales(weight_var: float, bias_var: float = 0.0) -> dict[str, float]:
    r"""The fixed points and depth scales of one point of the diagram.

    .. math::
        \xi_\nabla = \frac{1}{\lvert\ln\chi_1\rvert},\qquad
        \xi_c = -\frac{1}{\ln\chi_c(c^\star)}

    :math:`\xi_\nabla`: layers over which the error signal's variance changes by a factor :math:`e`;
    :math:`\xi_c`: layers over which a deviation of the correlation from :math:`c^\star` shrinks by :math:`e`
    (in the ordered phase :math:`c^\star = 1` and :math:`\chi_c(1) = \chi_1`, so the two agree).  Both are
    infinite at :math:`\chi_1 = 1`.

    Where :math:`q^\star = 0` (no biases, :math:`\sigma_w^2 \le 1`) the signal fades to zero and the
    correlation map is undefined there: ``c_star``, ``chi_c`` and ``xi_c`` are NaN.

    Returns:
        ``{"q_star", "chi1", "c_star", "chi_c", "xi_grad", "xi_c"}``.
    """
    q = float(fixed_point_q(weight_var, bias_var))
    x1 = float(chi1(weight_var, bias_var, q))
    if q < 1e-12:
        xi_grad = math.inf if x1 == 1.0 else 1.0 / abs(math.log(x1))
        return {"q_star": q, "chi1": x1, "c_star": math.nan, "chi_c": math.nan, "xi_grad": xi_grad,
                "xi_c": math.nan}
    c_star = correlation_fixed_point(weight_var, bias_var)
    chi_c = x1 if c_star == 1.0 else correlation_slope(c_star, weight_var, bias_var, q)
    with np.errstate(divide="ignore"):
        xi_grad = math.inf if x1 == 1.0 else 1.0 / abs(math.log(x1))
        xi_c = math.inf if chi_c >= 1.0 else -1.0 / math.log(chi_c)
    return {"q_star": q, "chi1": x1, "c_star": c_star, "chi_c": chi_c, "xi_grad": xi_grad, "xi_c": xi_c}


def correlation_curve(c0: float, depth: int, weight_var: float, bias_var: float = 0.0) -> np.ndarray:
    r"""The correlation map iterated from :math:`c_0` at the fixed point: :math:`c_1, \dots, c_{\text{depth}}`."""
    q = float(fixed_point_q(weight_var, bias_var))
    out, c = np.empty(depth), float(c0)
    for l in range(depth):
        c = min(1.0, correlation_map(c, weight_var, bias_var, q))
        out[l] = c
    return out


def scheme_point(scheme: str, fan_in: int, fan_out: int, *, bias: str = "zeros", **scheme_kw) -> tuple[float, float]:
    r"""Where a layer initialised by ``scheme`` sits in the diagram: :math:`(\sigma_w^2, \sigma_b^2) = (d_x\,\mathrm{Var}(w), \mathrm{Var}(b))`.

    Args:
        scheme, scheme_kw: as for :func:`course_utils.init.scheme_std` (e.g. ``gain=5/3``).
        bias: ``"zeros"`` or ``"pytorch_default"`` (:math:`\mathcal U(\pm 1/\sqrt{d_x})`, variance :math:`1/(3d_x)`),
            the two bias rules the book uses with these schemes.
    """
    if bias not in ("zeros", "pytorch_default"):
        raise ValueError(f"bias must be 'zeros' or 'pytorch_default', got {bias!r}.")
    sw2 = fan_in * cinit.scheme_std(scheme, fan_in, fan_out, **scheme_kw) ** 2
    return float(sw2), (1.0 / (3.0 * fan_in) if bias == "pytorch_default" else 0.0)


# ----------------------------------------------------------------------------- measured on random stacks
def random_stack(width: int, depth: int, weight_var: float, bias_var: float = 0.0, *, weights: str = "gaussian",
                 seed: int = 0, dtype: torch.dtype = torch.float64) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    r"""Weights and biases of a square random stack at :math:`(\sigma_w^2, \sigma_b^2)`.

    ``weights="gaussian"``: :func:`torch.nn.init.normal_` with std :math:`\sigma_w/\sqrt N`;
    ``"orthogonal"``: :func:`torch.nn.init.orthogonal_` with gain :math:`\sigma_w` (every singular value
    :math:`\sigma_w`; the entries then have the same variance :math:`\sigma_w^2/N`).  Biases
    :math:`\mathcal N(0, \sigma_b^2)`.  One generator seeded with ``seed``, layer by layer, weight before bias.

    Returns:
        ``(Ws, bs)``: ``depth`` tensors ``(width, width)`` and ``depth`` tensors ``(width,)``.
    """
    if weights not in ("gaussian", "orthogonal"):
        raise ValueError(f"weights must be 'gaussian' or 'orthogonal', got {weights!r}.")
    if not (isinstance(width, int) and width >= 1 and isinstance(depth, int) and depth >= 1):
        raise ValueError(f"width and depth must be integers >= 1, got width={width!r}, depth={depth!r}.")
    _checked("weight_var", weight_var), _checked("bias_var", bias_var)
    gen = torch.Generator().manual_seed(seed)
    sw, sb = math.sqrt(weight_var), math.sqrt(bias_var)
    Ws, bs = [], []
    for _ in range(depth):
        W = torch.empty(width, width, dtype=dtype)
        if weights == "gaussian":
            torch.nn.init.normal_(W, 0.0, sw / math.sqrt(width), generator=gen)
        else:
            torch.nn.init.orthogonal_(W, gain=sw, generator=gen)
        b = torch.empty(width, dtype=dtype).normal_(0.0, sb, generator=gen) if sb > 0 else torch.zeros(width, dtype=dtype)
        Ws.append(W)
        bs.append(b)
    return Ws, bs


def fixed_point_inputs(n: int, width: int, q: float, *, c: float | None = None, seed: int = 0,
                       dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""Inputs :math:`h_0 = \tanh(u)`, :math:`u\sim\mathcal N(0, q)`: the first layer's pre-activations then have second moment :math:`q^\star` when ``q`` is :math:`q^\star`.

    They are what a tanh layer at the fixed point would hand on, so every layer of the stack starts there.
    With ``c``, the ``n`` rows come in pairs (rows ``2k`` and ``2k+1``) whose :math:`u` have correlation ``c``.

    Returns:
        ``(n, width)`` tensor (``n`` even when ``c`` is given).
    """
    gen = torch.Generator().manual_seed(seed)
    if c is None:
        u = torch.randn(n, width, generator=gen, dtype=dtype)
    else:
        if n % 2:
            raise ValueError(f"n must be even when c is given (the rows come in pairs), got {n}.")
        z1, z2 = torch.randn(2, n // 2, width, generator=gen, dtype=dtype)
        u = torch.stack([z1, c * z1 + math.sqrt(1 - c * c) * z2], dim=1).reshape(n, width)
    return torch.tanh(math.sqrt(q) * u)


def measured_chi(weight_var: float, bias_var: float = 0.0, *, width: int = 256, depth: int = 50, batch: int = 64,
                 seed: int = 0) -> dict[str, float]:
    r"""The error signal's per-layer variance ratio of one random tanh stack started at its fixed point.

    :math:`\delta_l = \partial L/\partial y_l` for the random read-out loss of
    :func:`course_utils.propagation.stack_gradient_norms`; the measured ratio is the geometric mean
    :math:`\big(\mathrm{Var}(\delta_1)/\mathrm{Var}(\delta_L)\big)^{1/(L-1)}`, which the theory says is
    :math:`\chi_1`.  ``q_last`` is the last layer's measured second moment (:math:`q^\star` in theory).
    """
    q = float(fixed_point_q(weight_var, bias_var))
    Ws, bs = random_stack(width, depth, weight_var, bias_var, seed=seed)
    x = fixed_point_inputs(batch, width, q, seed=10_000 + seed)
    out = stack_gradient_norms(Ws, "tanh", x, biases=bs, seed=20_000 + seed)
    dv = out["delta_var"]
    return {"chi_measured": float((dv[0] / dv[-1]) ** (1.0 / (depth - 1))), "q_last": float(out["pre_var"][-1])}


@torch.no_grad()
def measured_correlations(weight_var: float, bias_var: float = 0.0, *, c0: float = 0.5, width: int = 256,
                          depth: int = 50, pairs: int = 16, seed: int = 0) -> np.ndarray:
    r"""The correlation :math:`\langle y^a, y^b\rangle/(\lVert y^a\rVert\lVert y^b\rVert)` of two inputs' pre-activations at layers 1..depth, averaged over pairs.

    The pairs start at the fixed point with correlation ``c0`` (:func:`fixed_point_inputs`), i.e. as layer 0
    of the iteration :func:`correlation_curve`.

    Returns:
        ``(depth,)`` array.
    """
    q = float(fixed_point_q(weight_var, bias_var))
    Ws, bs = random_stack(width, depth, weight_var, bias_var, seed=seed)
    h = fixed_point_inputs(2 * pairs, width, q, c=c0, seed=30_000 + seed)
    out = np.empty(depth)
    with single_thread():
        for l, (W, b) in enumerate(zip(Ws, bs)):
            y = h @ W.T + b  # (2P, N)
            ya, yb = y[0::2], y[1::2]
            c = (ya * yb).sum(1) / (ya.norm(dim=1) * yb.norm(dim=1))
            out[l] = float(c.mean())
            h = torch.tanh(y)
    return out


@torch.no_grad()
def jacobian_singular_values(weight_var: float, bias_var: float = 0.0, *, depths: Sequence[int],
                             weights: str = "gaussian", activation: str = "tanh", width: int = 256,
                             seed: int = 0) -> dict[int, np.ndarray]:
    r"""Singular values of the input–output Jacobian :math:`J_L = \prod_{l=L}^{1} D_l W_l` of a random stack, at each depth in ``depths``.

    :math:`D_l = \mathrm{diag}\,f'(y_l)` at one input that starts at the fixed point (tanh: :math:`\tanh(u)`,
    :math:`u\sim\mathcal N(0, q^\star)`; ReLU: a standard normal vector).  The mean of :math:`s^2` is
    :math:`\chi_1^L` on average; dynamical isometry means that all :math:`s` stay near 1 as :math:`L` grows
    (Pennington, Schoenholz & Ganguli, 2017).  float64 throughout.

    Args:
        weight_var, bias_var: the point of the diagram (for ReLU the critical point is (2, 0)).
        depths: the depths at which to take the spectrum (one pass to the largest).
        weights: ``"gaussian"`` or ``"orthogonal"`` (:func:`random_stack`).
        activation: ``"tanh"`` or ``"relu"``.

    For ReLU the rank of :math:`J_L` is at most the fewest units active in any of its layers (each
    :math:`D_l` is a 0/1 mask); the singular values beyond that rank are exactly zero and are returned as 0
    (SVD in float64 gives them as rounding noise, ~1e-16 of the largest).

    Returns:
        ``{depth: singular values, descending, (width,)}``.
    """
    if activation not in ("tanh", "relu"):
        raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}.")
    depths = sorted({int(d) for d in depths})
    if not depths or depths[0] < 1:
        raise ValueError(f"depths must be integers >= 1, got {depths!r}.")
    Ws, bs = random_stack(width, depths[-1], weight_var, bias_var, weights=weights, seed=seed)
    gen = torch.Generator().manual_seed(40_000 + seed)
    u = torch.randn(width, generator=gen, dtype=torch.float64)
    if activation == "tanh":
        h = torch.tanh(math.sqrt(float(fixed_point_q(weight_var, bias_var))) * u)
    else:
        h = u
    J = torch.eye(width, dtype=torch.float64)
    out, rank = {}, width
    with single_thread():
        for l, (W, b) in enumerate(zip(Ws, bs), start=1):
            y = W @ h + b
            d = 1.0 - torch.tanh(y) ** 2 if activation == "tanh" else (y > 0).to(y.dtype)
            rank = min(rank, int(torch.count_nonzero(d)))  # rank(J_l) <= fewest non-zero derivatives so far
            J = d[:, None] * (W @ J)  # (N, N)
            h = torch.tanh(y) if activation == "tanh" else torch.relu(y)
            if l in depths:
                s = torch.linalg.svdvals(J).numpy()
                s[rank:] = 0.0  # exact zeros (rank bound); tanh' > 0 everywhere, so nothing changes for tanh
                out[l] = s
    return out


def log_spread(s: np.ndarray, *, lo: float = 5.0, hi: float = 95.0) -> float:
    r"""Width of the middle of a spectrum on a log scale: :math:`\log_{10}` of the ratio of its ``hi`` and ``lo`` percentiles (decades)."""
    s = np.asarray(s, dtype=np.float64)
    s = s[s > 0]
    return float(np.log10(np.percentile(s, hi) / np.percentile(s, lo)))
