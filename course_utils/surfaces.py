"""Two-dimensional loss surfaces and optimizer trajectories on them.

Compute first, draw second: the surface functions and :func:`train_curve` return tensors and
arrays; :func:`evaluate_grid` samples a surface for :mod:`course_utils.plotting`
(``plot_contour``, ``plot_surface_3d``, ``plot_trajectories``), which only draws.  The explorer
(:mod:`course_utils.explorer`) and the chapters use these same surfaces.

Every surface function accepts either one tensor ``w`` of shape ``(..., 2)`` or two tensors
``w1, w2`` of the same shape, and returns the loss with the leading shape ``(...)``
(``tests/test_docs.py`` runs these examples):

>>> import torch
>>> pathological_curvature(torch.tensor([5.0, 5.0]))  # one point
tensor(2.0431)
>>> W1, W2 = torch.meshgrid(torch.linspace(-5, 5, 3), torch.linspace(-5, 5, 4), indexing="xy")
>>> pathological_curvature(W1, W2).shape  # a grid: 4 rows (w2) by 3 columns (w1)
torch.Size([4, 3])

:func:`train_curve` runs **any** ``torch.optim.Optimizer`` class (the book's own from
:mod:`course_utils.optim`, or torch's) on a surface and returns the visited points.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "Surface", "SURFACES", "get_surface",
    "pathological_curvature", "bivariate_gaussian", "steep_optima", "elongated_bowl", "rosenbrock",
    "sharp_flat_1d", "SHARP_FLAT_WELLS",
    "train_curve", "train_curves", "evaluate_grid", "losses_along", "nearest_minimum",
]


# ----------------------------------------------------------------------------- input handling
def _split(w1: torch.Tensor, w2: torch.Tensor | None, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Accept ``f(w)`` with ``w`` of shape (..., 2) or ``f(w1, w2)``; return the two coordinates."""
    if not isinstance(w1, torch.Tensor) or (w2 is not None and not isinstance(w2, torch.Tensor)):
        raise TypeError(f"{name} takes torch tensors (so that autograd can differentiate it), got "
                        f"{type(w1).__name__}{'' if w2 is None else ', ' + type(w2).__name__}; "
                        f"wrap your values with torch.tensor(...).")
    if w2 is None:
        if w1.ndim == 0 or w1.shape[-1] != 2:
            raise ValueError(f"{name}(w) needs w of shape (..., 2) (the two weights w1, w2 in the last "
                             f"dimension), got shape {tuple(w1.shape)}; or call {name}(w1, w2).")
        return w1[..., 0], w1[..., 1]
    if w1.shape != w2.shape:
        raise ValueError(f"{name}(w1, w2) needs w1 and w2 of the same shape, got {tuple(w1.shape)} and "
                         f"{tuple(w2.shape)}; use torch.meshgrid(..., indexing='xy') for a grid.")
    return w1, w2


# ----------------------------------------------------------------------------- the surfaces
def pathological_curvature(w1: torch.Tensor, w2: torch.Tensor | None = None) -> torch.Tensor:
    r"""A ravine: steep across :math:`w_1`, a gentle slope along :math:`w_2` (the tutorial's surface).

    .. math::
        L(w_1, w_2) = \tanh(w_1)^2 + 0.01\,|w_1| + \sigma(w_2)

    The ravine's floor is :math:`w_1 = 0`; along it the loss falls towards
    :math:`w_2 \to -\infty` (there is no finite minimum, only an infimum of 0).
    """
    w1, w2 = _split(w1, w2, "pathological_curvature")
    return torch.tanh(w1) ** 2 + 0.01 * torch.abs(w1) + torch.sigmoid(w2)


def bivariate_gaussian(w1: torch.Tensor, w2: torch.Tensor | None = None, *, mean: Sequence[float] = (0.0, 0.0),
                       sigma: Sequence[float] = (1.0, 1.0)) -> torch.Tensor:
    r"""Density of an axis-aligned 2-D normal distribution.

    .. math::
        \mathcal N(w; \mu, \sigma) = \frac{1}{2\pi\sigma_1\sigma_2}
        \exp\!\Big(-\frac{(w_1-\mu_1)^2}{2\sigma_1^2} - \frac{(w_2-\mu_2)^2}{2\sigma_2^2}\Big)
    """
    w1, w2 = _split(w1, w2, "bivariate_gaussian")
    if len(mean) != 2 or len(sigma) != 2:
        raise ValueError(f"mean and sigma need two entries each (one per weight), got {mean!r} and {sigma!r}.")
    if min(sigma) <= 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}.")
    (m1, m2), (s1, s2) = mean, sigma
    norm = 1.0 / (2 * math.pi * s1 * s2)
    return norm * torch.exp(-(w1 - m1) ** 2 / (2 * s1 ** 2) - (w2 - m2) ** 2 / (2 * s2 ** 2))


#: The three narrow wells of :func:`steep_optima` (centres; all have sigma 0.2, as in the tutorial).
STEEP_CENTRES = ((1.0, -0.5), (-1.0, 0.5), (-0.5, -0.8))


def steep_optima(w1: torch.Tensor, w2: torch.Tensor | None = None) -> torch.Tensor:
    r"""Three narrow, deep wells on a flat plain (the tutorial's "steep optima").

    .. math::
        L(w) = -\sum_{k=1}^{3} \mathcal N\big(w;\ \mu_k,\ (0.2, 0.2)\big),\quad
        \mu \in \{(1, -0.5),\ (-1, 0.5),\ (-0.5, -0.8)\}

    Each well reaches about :math:`-1/(2\pi\cdot 0.04) \approx -3.98`; a few :math:`\sigma` away the
    gradient is practically zero.
    """
    w1, w2 = _split(w1, w2, "steep_optima")
    z = torch.zeros_like(w1)
    for c in STEEP_CENTRES:
        z = z - bivariate_gaussian(w1, w2, mean=c, sigma=(0.2, 0.2))
    return z


def elongated_bowl(w1: torch.Tensor, w2: torch.Tensor | None = None, *, a: float = 0.05,
                   b: float = 2.0) -> torch.Tensor:
    r"""A quadratic bowl whose curvature differs by a factor :math:`b/a` between the two axes.

    .. math::
        L(w_1, w_2) = \tfrac12\,(a\,w_1^2 + b\,w_2^2),\qquad \nabla^2 L = \mathrm{diag}(a, b)

    The minimum is :math:`(0, 0)`; gradient descent is stable for :math:`\eta < 2/b` and
    contracts the flat direction only by a factor :math:`1 - \eta a` per step.
    """
    w1, w2 = _split(w1, w2, "elongated_bowl")
    if a <= 0 or b <= 0:
        raise ValueError(f"a and b are curvatures and must be positive, got a={a}, b={b}.")
    return 0.5 * (a * w1 ** 2 + b * w2 ** 2)


def rosenbrock(w1: torch.Tensor, w2: torch.Tensor | None = None, *, a: float = 1.0,
               b: float = 100.0) -> torch.Tensor:
    r"""Rosenbrock's banana valley.

    .. math::
        L(w_1, w_2) = (a - w_1)^2 + b\,(w_2 - w_1^2)^2

    The only minimum is :math:`(a, a^2)` with :math:`L = 0`, at the end of a long, curved, flat valley.
    """
    w1, w2 = _split(w1, w2, "rosenbrock")
    return (a - w1) ** 2 + b * (w2 - w1 ** 2) ** 2


#: ``(centre, width, depth)`` of the sharp and the flat well of :func:`sharp_flat_1d`.
SHARP_FLAT_WELLS = {"sharp": (-1.0, 0.1, 1.0), "flat": (1.5, 0.6, 0.9)}


def sharp_flat_1d(w: torch.Tensor, shift: float = 0.0) -> torch.Tensor:
    r"""A 1-D loss with a deep *sharp* well and a slightly shallower *flat* one.

    .. math::
        L(w) = -\sum_{k\in\{\text{sharp},\text{flat}\}} d_k
               \exp\!\Big(-\frac{(w - c_k - s)^2}{2 s_k^2}\Big)

    with :data:`SHARP_FLAT_WELLS` giving centre :math:`c_k`, width :math:`s_k` and depth :math:`d_k`.
    ``shift`` (:math:`s`) moves the whole curve sideways: a stand-in for the test loss, whose
    surface is the training loss slightly displaced. The curvature at a well's bottom is
    :math:`d_k/s_k^2` (100 for the sharp one, 2.5 for the flat one). Elementwise in ``w``.
    """
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"sharp_flat_1d takes a torch tensor, got {type(w).__name__}; use torch.tensor(...).")
    z = torch.zeros_like(w)
    for c, s, d in SHARP_FLAT_WELLS.values():
        z = z - d * torch.exp(-(w - c - shift) ** 2 / (2 * s ** 2))
    return z


# ----------------------------------------------------------------------------- registry
@dataclasses.dataclass(frozen=True)
class Surface:
    """A named loss surface with the window and start point the book uses for it.

    Attributes:
        name: registry key.
        fn: the loss, ``fn(w)`` with ``w`` of shape ``(..., dim)`` (or ``fn(w1, w2)`` in 2-D).
        title: for figures.
        xlim, ylim: plotting window.
        start: default starting point.
        minima: known minima (local or global), for checks and for :func:`nearest_minimum`.
        log_levels: draw contours of ``log(1 + L - min)`` (for surfaces with a huge range).
        dim: number of weights (2, or 1 for the sharp/flat toy).
    """

    name: str
    fn: Callable[..., torch.Tensor]
    title: str
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, ...]
    minima: tuple[tuple[float, ...], ...] = ()
    log_levels: bool = False
    dim: int = 2

    def __call__(self, *args, **kwargs) -> torch.Tensor:
        return self.fn(*args, **kwargs)


def _sharp_flat_vec(w: torch.Tensor) -> torch.Tensor:
    if w.ndim == 0 or w.shape[-1] != 1:
        raise ValueError(f"the sharp/flat toy is 1-D: pass w of shape (..., 1), got {tuple(w.shape)}.")
    return sharp_flat_1d(w[..., 0])


SURFACES: dict[str, Surface] = {
    s.name: s for s in (
        Surface("pathological", pathological_curvature, "Pathological curvature", (-5.0, 5.0), (-5.0, 5.0),
                start=(5.0, 5.0)),
        Surface("steep", steep_optima, "Steep optima", (-2.0, 2.0), (-2.0, 2.0), start=(0.0, 0.0),
                minima=STEEP_CENTRES),
        Surface("bowl", elongated_bowl, "Elongated bowl", (-10.0, 10.0), (-3.0, 3.0), start=(-9.0, 2.5),
                minima=((0.0, 0.0),)),
        Surface("rosenbrock", rosenbrock, "Rosenbrock valley", (-2.0, 2.0), (-1.0, 3.0), start=(-1.5, 2.0),
                minima=((1.0, 1.0),), log_levels=True),
        Surface("sharp_flat", _sharp_flat_vec, "Sharp and flat minima (1-D)", (-2.5, 3.5), (-1.1, 0.1),
                start=(0.0,), minima=((SHARP_FLAT_WELLS["sharp"][0],), (SHARP_FLAT_WELLS["flat"][0],)), dim=1),
    )
}


def get_surface(surface: str | Surface | Callable) -> Surface:
    """Look up a surface by name (see :data:`SURFACES`); a :class:`Surface` passes through; a bare
    callable ``fn(w)`` is wrapped as a 2-D surface on the window [-2, 2]²."""
    if isinstance(surface, Surface):
        return surface
    if isinstance(surface, str):
        if surface not in SURFACES:
            raise ValueError(f"Unknown surface {surface!r}; choose one of {sorted(SURFACES)} or pass a "
                             f"callable fn(w) with w of shape (..., 2).")
        return SURFACES[surface]
    if callable(surface):
        name = getattr(surface, "__name__", "custom")
        return Surface(name, surface, name, (-2.0, 2.0), (-2.0, 2.0), start=(0.0, 0.0))
    raise TypeError(f"surface must be a name, a Surface or a callable, got {type(surface).__name__}.")


# ----------------------------------------------------------------------------- optimisation
def train_curve(surface: str | Surface | Callable, optimizer_cls: type[torch.optim.Optimizer],
                start: Sequence[float] | None = None, steps: int = 100, *, dtype: torch.dtype = torch.float64,
                **opt_kwargs) -> np.ndarray:
    """Run ``optimizer_cls(params, **opt_kwargs)`` for ``steps`` steps on a surface.

    The weights are one tensor ``w`` of shape ``(dim,)``; each step computes ``L(w)``,
    back-propagates, and calls ``optimizer.step()``.

    Args:
        surface: a name from :data:`SURFACES`, a :class:`Surface`, or a callable ``fn(w)``.
        optimizer_cls: any ``torch.optim.Optimizer`` subclass (``torch.optim.Adam``,
            ``course_utils.optim.Adam``, ...).  Pass the *class*, not an instance.
        start: initial weights (default: the surface's ``start``).
        steps: number of optimizer steps.
        dtype: computation dtype (float64 makes trajectories reproducible across machines).
        **opt_kwargs: hyper-parameters of the optimizer, e.g. ``lr=1, momentum=0.9``.

    Returns:
        ``(steps + 1, dim)`` array: row 0 is ``start``, row ``t`` the weights after ``t`` steps.
        A run that diverges keeps going with ``inf``/``nan`` entries (no exception), so callers can
        show divergence.
    """
    surf = get_surface(surface)
    if not (isinstance(optimizer_cls, type) and issubclass(optimizer_cls, torch.optim.Optimizer)):
        raise TypeError(f"optimizer_cls must be a torch.optim.Optimizer subclass such as torch.optim.SGD "
                        f"(the class itself, not an instance), got {optimizer_cls!r}.")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}.")
    start = surf.start if start is None else tuple(float(v) for v in start)
    if len(start) != surf.dim:
        raise ValueError(f"start must have {surf.dim} coordinates for surface {surf.name!r}, got {start!r}.")
    w = torch.nn.Parameter(torch.tensor(start, dtype=dtype))
    opt = optimizer_cls([w], **opt_kwargs)
    path = torch.empty(steps + 1, surf.dim, dtype=dtype)  # (T+1, dim)
    path[0] = w.detach()
    for t in range(1, steps + 1):
        loss = surf.fn(w)
        if loss.numel() != 1:
            raise ValueError(f"surface {surf.name!r} returned {loss.numel()} values for one point; it must "
                             f"return a scalar for w of shape ({surf.dim},).")
        opt.zero_grad(set_to_none=True)
        loss.reshape(()).backward()
        opt.step()
        path[t] = w.detach()
    return path.numpy()


def train_curves(surface: str | Surface | Callable, optimizer_cls: type[torch.optim.Optimizer],
                 starts: Sequence[Sequence[float]], configs: Sequence[Mapping], steps: int = 100, *,
                 dtype: torch.dtype = torch.float64) -> np.ndarray:
    """Many runs at once: every start point under every hyper-parameter setting, in one optimizer.

    Each setting in ``configs`` becomes one *parameter group* whose tensor holds all ``starts``
    (shape ``(N, dim)``).  The loss summed over all points has, for each point, exactly the
    gradient of that point's own loss, and the optimizers of this book (and torch's SGD, Adam,
    RMSprop, Adagrad, ...) update element by element, so every row is the trajectory that
    :func:`train_curve` would give for it alone -- only much faster.  Do not use it with an
    optimizer that couples elements (e.g. L-BFGS, or gradient clipping by a global norm).

    Args:
        surface, optimizer_cls, steps, dtype: as in :func:`train_curve`.
        starts: ``N`` start points.
        configs: ``G`` dicts of hyper-parameters, e.g. ``[{"lr": 0.1}, {"lr": 1.0}]``.

    Returns:
        ``(G, steps + 1, N, dim)`` array of positions.
    """
    surf = get_surface(surface)
    if not (isinstance(optimizer_cls, type) and issubclass(optimizer_cls, torch.optim.Optimizer)):
        raise TypeError(f"optimizer_cls must be a torch.optim.Optimizer subclass, got {optimizer_cls!r}.")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}.")
    x0 = torch.tensor(np.asarray(starts, dtype=np.float64), dtype=dtype)
    if x0.ndim != 2 or x0.shape[1] != surf.dim:
        raise ValueError(f"starts must have shape (N, {surf.dim}) for surface {surf.name!r}, got {tuple(x0.shape)}.")
    if len(configs) == 0:
        raise ValueError("configs is empty: pass at least one dict of hyper-parameters, e.g. [{'lr': 0.1}].")
    ws = [torch.nn.Parameter(x0.clone()) for _ in configs]
    # the first setting doubles as the defaults (some optimizers have no default learning rate)
    opt = optimizer_cls([{"params": [w], **dict(c)} for w, c in zip(ws, configs)], **dict(configs[0]))
    out = torch.empty(len(ws), steps + 1, *x0.shape, dtype=dtype)  # (G, T+1, N, dim)
    out[:, 0] = x0
    for t in range(1, steps + 1):
        loss = surf.fn(torch.stack(ws)).sum()  # points are independent: d loss / d w_i = dL(w_i)/dw_i
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        out[:, t] = torch.stack([w.detach() for w in ws])
    return out.numpy()


@torch.no_grad()
def losses_along(surface: str | Surface | Callable, path: np.ndarray) -> np.ndarray:
    """The loss at every point of a trajectory ``(T, dim)`` -> ``(T,)``."""
    surf = get_surface(surface)
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != surf.dim:
        raise ValueError(f"path must have shape (T, {surf.dim}), got {path.shape}.")
    return surf.fn(torch.from_numpy(path)).reshape(len(path)).numpy()


def nearest_minimum(surface: str | Surface, point: Sequence[float]) -> tuple[int, float]:
    """Index of the surface's known minimum closest to ``point`` and the distance to it."""
    surf = get_surface(surface)
    if not surf.minima:
        raise ValueError(f"surface {surf.name!r} has no known minima to compare with.")
    d = [float(np.linalg.norm(np.asarray(point, float) - np.asarray(m, float))) for m in surf.minima]
    i = int(np.argmin(d))
    return i, d[i]


@torch.no_grad()
def evaluate_grid(surface: str | Surface | Callable, xlim: Sequence[float] | None = None,
                  ylim: Sequence[float] | None = None, n: int = 121) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample a 2-D surface on an ``n × n`` grid.

    Returns:
        ``(W1, W2, Z)``, each of shape ``(n, n)``, with ``W1`` varying along columns (``xy`` indexing,
        as ``matplotlib.contour`` expects).
    """
    surf = get_surface(surface)
    if surf.dim != 2:
        raise ValueError(f"evaluate_grid draws 2-D surfaces; {surf.name!r} has dim {surf.dim}.")
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}.")
    xlim = surf.xlim if xlim is None else xlim
    ylim = surf.ylim if ylim is None else ylim
    x = torch.linspace(float(xlim[0]), float(xlim[1]), n, dtype=torch.float64)
    y = torch.linspace(float(ylim[0]), float(ylim[1]), n, dtype=torch.float64)
    W1, W2 = torch.meshgrid(x, y, indexing="xy")
    Z = surf.fn(torch.stack([W1, W2], dim=-1))
    return W1.numpy(), W2.numpy(), Z.numpy()
