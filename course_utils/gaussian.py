r"""Expectations under a Gaussian, exact for every activation of the book: :func:`gaussian_nodes`, :func:`gaussian_expectation`.

Every theory line of Parts I and II needs :math:`\mathbb E[g(y)]` for :math:`y\sim\mathcal N(\mu, v)`,
with :math:`g = f^2` (forward) or :math:`g = f'^2` (backward).  A fixed Gauss–Hermite rule gets these
wrong in two ways: for a large variance its nodes are spread so wide that none of them falls inside the
narrow bump of :math:`\tanh'^2` (width about 1 around 0, whatever :math:`v` is), and for a derivative that
jumps at 0 (ELU, SELU, ReLU) the polynomial behind the rule cannot follow the jump.

The rule here is a composite Gauss–Legendre rule on :math:`[\mu - 12\sqrt v,\ \mu + 12\sqrt v]` (the
Gaussian mass outside is :math:`4\times10^{-33}`) whose panels end at every point where an activation
is not smooth (0 for all of the book's) and shrink geometrically towards it, so that every panel sees a
function that is smooth on the panel's own scale: the Gaussian (panels of width :math:`\sqrt v`), the
activation's features near 0 (panels down to :math:`2^{-50}\sqrt v`), and the kink itself (a panel end).
It is exact to about 1e-12 relative for :math:`v` from 1e-4 to 1e4 (tested against
``scipy.integrate.quad`` and closed forms in ``tests/test_gaussian.py``).
"""
from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import numpy as np

__all__ = ["gaussian_nodes", "gaussian_expectation", "activation_moments"]

_HALF_WIDTH = 12.0      # in standard deviations
_GRADING = 50           # panels shrink to 2**-50 standard deviations next to each kink
_ORDER = 16             # Gauss–Legendre nodes per panel


@functools.lru_cache(maxsize=4)
def _legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(order)


def gaussian_nodes(var: float, mean: float = 0.0, *, kinks: Sequence[float] = (0.0,)) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes :math:`y_i` and weights :math:`w_i` with :math:`\sum_i w_i\,g(y_i) \approx \mathbb E[g(y)]`, :math:`y\sim\mathcal N(\text{mean}, \text{var})`.

    The weights include the Gaussian density and sum to 1.  ``kinks`` are the points where ``g`` (or the
    activation it is made from) is not smooth; no node lies on a kink, so ``g`` may be a derivative that is
    undefined there.  ``var == 0`` gives the single node ``mean``.

    Raises:
        ValueError: a variance that is negative, NaN or infinite, or a mean that is not finite.
    """
    var, mean = float(var), float(mean)
    if not math.isfinite(var) or var < 0:
        raise ValueError(f"var must be a finite number >= 0, got {var}. Pass the pre-activation variance.")
    if not math.isfinite(mean):
        raise ValueError(f"mean must be a finite number, got {mean}.")
    if var == 0.0:
        return np.array([mean]), np.array([1.0])
    s = math.sqrt(var)
    lo, hi = mean - _HALF_WIDTH * s, mean + _HALF_WIDTH * s
    ends = [mean + s * np.arange(-_HALF_WIDTH, _HALF_WIDTH + 1)]
    steps = s * 2.0 ** -np.arange(0, _GRADING + 1)
    for c in kinks:
        if lo < c < hi:
            ends += [np.array([c]), c - steps, c + steps]
    ends = np.unique(np.clip(np.concatenate(ends), lo, hi))
    a, b = ends[:-1], ends[1:]
    t, wt = _legendre(_ORDER)
    half = 0.5 * (b - a)[:, None]
    y = (0.5 * (a + b)[:, None] + half * t).ravel()
    dens = np.exp(-0.5 * ((y - mean) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    w = (half * wt).ravel() * dens
    return y, w


def gaussian_expectation(g: Callable[[np.ndarray], np.ndarray], var: float, mean: float = 0.0, *,
                         kinks: Sequence[float] = (0.0,)) -> float:
    r""":math:`\mathbb E[g(y)]` for :math:`y\sim\mathcal N(\text{mean}, \text{var})`; ``g`` maps a float64 array to an array of the same shape.

    Example: :math:`\mathbb E[\tanh(y)^2]` at :math:`v = 2` is
    ``gaussian_expectation(lambda y: np.tanh(y) ** 2, 2.0)``.

    Raises:
        ValueError: as :func:`gaussian_nodes`, or ``g`` returning values of another shape.
    """
    y, w = gaussian_nodes(var, mean, kinks=kinks)
    vals = np.asarray(g(y), dtype=np.float64)
    if vals.shape != y.shape:
        raise ValueError(f"g must return one value per input value (shape {y.shape}), got shape {vals.shape}.")
    return float(np.dot(w, vals))


def activation_moments(f: Callable, var: float, mean: float = 0.0) -> tuple[float, float]:
    r""":math:`(\mathbb E[f(y)^2],\ \mathbb E[f'(y)^2])` for :math:`y\sim\mathcal N(\text{mean}, \text{var})`, with ``f`` a torch function.

    ``f`` maps a 1-D float64 tensor to one of the same shape (an activation module, or e.g.
    ``lambda z: module(z[:, None]).reshape(-1)`` for one that wants a batch); :math:`f'` comes from
    autograd, which is exact here because no node lies on a kink.
    """
    import torch  # the package needs torch anyway; imported here so that the quadrature above stays NumPy-only

    y, w = gaussian_nodes(var, mean)
    z = torch.tensor(y, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():  # callers may run under torch.no_grad() (e.g. theory.depth_sweep)
        fz = f(z)
        if fz.shape != z.shape:
            raise ValueError(f"f must return one value per input value (shape {tuple(z.shape)}), got {tuple(fz.shape)}.")
        (df,) = torch.autograd.grad(fz.sum(), z, allow_unused=True)
    df = torch.zeros_like(z) if df is None else df
    return float(np.dot(w, fz.detach().numpy() ** 2)), float(np.dot(w, df.numpy() ** 2))
