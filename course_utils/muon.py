"""Muon: momentum, then an orthogonalized update for every weight matrix (Jordan et al., 2024).

Read top to bottom:

* :func:`newton_schulz` — the quintic Newton–Schulz iteration that replaces a matrix :math:`G = U\\Sigma V^\\top`
  by approximately :math:`UV^\\top` without an SVD (in bfloat16, as ``torch.optim.Muon`` does);
  :func:`singular_value_map` is what it does to one singular value, :func:`quintic_band` the interval the
  quintic keeps converged singular values in;
* :func:`adjust_lr` — the per-shape factor on the learning rate (``adjust_lr_fn`` of ``torch.optim.Muon``);
* :class:`Muon` — the optimizer, equal to ``torch.optim.Muon`` step for step (``tests/test_muon.py``);
  :class:`DocumentedMuon` — the algorithm as torch's *docstring* writes it (a summed momentum buffer, where
  the code keeps an average), to show what that difference changes;
* :class:`MuonWithAdamW` and :func:`muon_adamw` — one optimizer for a whole network: Muon for the hidden
  weight matrices, AdamW (:class:`course_utils.optim.AdamW`'s update) for biases and the first and last layers;
* :func:`least_squares_run` and :func:`parity_table` — ours against ``torch.optim.Muon`` on small matrix
  problems (tall, wide, square).

Symbols as in the book: :math:`\\theta` a weight matrix of shape :math:`A\\times B` (fan-out × fan-in, the
shape of ``nn.Linear.weight``), :math:`g_t` its gradient, :math:`\\eta` the learning rate, :math:`\\lambda`
weight decay, :math:`\\beta` the momentum (torch's :math:`\\mu`), :math:`(a, b, c)` the Newton–Schulz
coefficients, :math:`k` its number of steps.

References: K. Jordan et al., "Muon: an optimizer for hidden layers in neural networks" (2024);
J. Bernstein & L. Newhouse, "Old optimizer, new norm: an anthology" (arXiv:2409.20325, 2024);
J. Liu et al., "Muon is scalable for LLM training" (arXiv:2502.16982, 2025).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from . import optim as _optim

__all__ = ["NS_COEFFICIENTS", "CUBIC_COEFFICIENTS", "NS_STEPS", "EPS", "ADJUST_LR_FNS", "newton_schulz",
           "singular_value_map", "quintic_band", "adjust_lr", "Muon", "DocumentedMuon", "MuonWithAdamW",
           "muon_adamw", "least_squares_run", "parity_table", "PARITY_SHAPES"]

#: Keller Jordan's quintic coefficients (a, b, c), torch's defaults: the slope at zero, a, as large as
#: possible while every singular value in (0, 1] still ends near 1 after five steps.
NS_COEFFICIENTS: tuple[float, float, float] = (3.4445, -4.7750, 2.0315)
#: The classical cubic Newton–Schulz iteration X <- 1.5 X - 0.5 X X^T X (c = 0): converges to exactly 1, slowly.
CUBIC_COEFFICIENTS: tuple[float, float, float] = (1.5, -0.5, 0.0)
NS_STEPS = 5
EPS = 1e-7
ADJUST_LR_FNS = ("original", "match_rms_adamw", "spectral_unclamped")


# ----------------------------------------------------------------------------- Newton–Schulz
def _check_ns(steps, coefficients) -> tuple[float, float, float]:
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps < 100:
        raise ValueError(f"Invalid ns_steps: {steps!r} (expected an integer from 0 to 99; torch's default is "
                         f"{NS_STEPS}).")
    try:
        a, b, c = (float(v) for v in coefficients)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid ns_coefficients: {coefficients!r} (expected three numbers (a, b, c), e.g. "
                         f"{NS_COEFFICIENTS}).") from None
    return a, b, c


def newton_schulz(G: Tensor, steps: int = NS_STEPS, coefficients: Sequence[float] = NS_COEFFICIENTS,
                  eps: float = EPS, *, dtype: torch.dtype = torch.bfloat16) -> Tensor:
    r"""Orthogonalize a matrix approximately: :math:`G = U\Sigma V^\top \mapsto U\,\varphi^{k}(\Sigma/\lVert G\rVert_F)\,V^\top`.

    .. math::

        X_0 = \frac{G}{\max(\lVert G\rVert_F, \varepsilon)}, \qquad
        X_{j+1} = a X_j + \big(b\, X_j X_j^\top + c\, (X_j X_j^\top)^2\big) X_j ,

    on :math:`G^\top` when :math:`G` has more rows than columns (the Gram matrix :math:`X X^\top` is then the
    smaller one; the result is the same).  An odd matrix polynomial acts on each singular value alone,
    :math:`\sigma \mapsto \varphi(\sigma) = a\sigma + b\sigma^3 + c\sigma^5` (:func:`singular_value_map`), and
    the Frobenius norm puts every :math:`\sigma` in :math:`(0, 1]` first.  Operation for operation this is
    ``torch.optim._muon._zeropower_via_newtonschulz`` (bit-identical in the same ``dtype``), except that
    the input is never changed in place.

    Args:
        G: a 2-D tensor (e.g. a gradient or Muon's momentum, shape ``(A, B)``).
        steps: :math:`k`, the number of iterations (default 5; torch refuses 100 or more).
        coefficients: :math:`(a, b, c)` (default :data:`NS_COEFFICIENTS`, torch's).
        eps: :math:`\varepsilon`, the floor of the norm (default 1e-7).
        dtype: the precision of the iteration (default bfloat16, as in torch; float64 gives the exact
            polynomial, e.g. to compare with an SVD).

    Returns:
        A tensor of ``G``'s shape in ``dtype``.

    Raises:
        ValueError: ``G`` is not 2-D, or ``steps``/``coefficients`` are invalid.
    """
    if not isinstance(G, Tensor) or G.ndim != 2:
        raise ValueError(f"newton_schulz needs a 2-D tensor (a matrix), got "
                         f"{'shape ' + str(tuple(G.shape)) if isinstance(G, Tensor) else type(G).__name__}; "
                         f"reshape a convolution kernel to (out_channels, -1) first.")
    a, b, c = _check_ns(steps, coefficients)
    tall = G.size(0) > G.size(1)
    X = G.to(dtype)          # (A, B)
    if tall:
        X = X.T              # (B, A): the Gram matrix X X^T is B x B, the smaller one
    X = X / X.norm().clamp(min=eps)  # every singular value now in [0, 1]
    for _ in range(steps):
        gram = X @ X.T                                     # (n, n), n = min(A, B)
        poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # b X X^T + c (X X^T)^2
        X = torch.addmm(X, poly, X, beta=a)                # a X + poly X
    return X.T if tall else X


def singular_value_map(sigma, steps: int = NS_STEPS, coefficients: Sequence[float] = NS_COEFFICIENTS) -> np.ndarray:
    r""":math:`\varphi^{k}(\sigma)`: what :func:`newton_schulz` does to one (normalized) singular value, in float64.

    :math:`\varphi(\sigma) = a\sigma + b\sigma^3 + c\sigma^5`, applied ``steps`` times.
    """
    a, b, c = _check_ns(steps, coefficients)
    s = np.asarray(sigma, dtype=np.float64)
    for _ in range(steps):
        s = a * s + b * s ** 3 + c * s ** 5
    return s


def quintic_band(coefficients: Sequence[float] = NS_COEFFICIENTS) -> tuple[float, float]:
    r"""The interval :math:`[\varphi(s_{\min}), \varphi(s_{\max})]` that the quintic maps into itself.

    :math:`\varphi` rises to a local maximum at :math:`s_{\max}` and falls to a local minimum at
    :math:`s_{\min} > s_{\max}` (the roots of :math:`\varphi'`); a singular value that has reached the band stays
    in it at every later step, oscillating instead of converging to 1.  Keller Jordan's coefficients give
    about [0.71, 1.20].

    Raises:
        ValueError: the polynomial has no such pair of critical points (e.g. the cubic, which converges to 1),
            or the interval it gives is not mapped into itself.
    """
    a, b, c = _check_ns(1, coefficients)
    roots = np.roots([5 * c, 0.0, 3 * b, 0.0, a]) if c != 0 else np.array([])  # phi'(s) = a + 3 b s^2 + 5 c s^4
    crit = np.sort([r.real for r in roots if abs(r.imag) < 1e-12 and r.real > 0])
    if len(crit) != 2:
        raise ValueError(f"coefficients {tuple(coefficients)} do not make a quintic with a local maximum and a "
                         f"local minimum at positive s; a band is defined for Muon-style quintics only.")
    phi = lambda s: a * s + b * s ** 3 + c * s ** 5  # noqa: E731
    lo, hi = float(phi(crit[1])), float(phi(crit[0]))
    grid = np.linspace(lo, hi, 20001)
    if not (lo > 0 and phi(grid).min() >= lo - 1e-12 and phi(grid).max() <= hi + 1e-12):
        raise ValueError(f"coefficients {tuple(coefficients)}: [{lo:.3g}, {hi:.3g}] is not mapped into itself.")
    return lo, hi


def adjust_lr(lr: float, adjust_lr_fn: str | None, shape: Sequence[int]) -> float:
    r"""The rate Muon applies to a matrix of shape :math:`(A, B)`: :math:`\eta\,s(A, B)` with

    * ``None``/``"original"`` (Jordan et al.): :math:`s = \sqrt{\max(1, A/B)}`;
    * ``"match_rms_adamw"`` (Liu et al.): :math:`s = 0.2\sqrt{\max(A, B)}`, an update whose RMS is about
      :math:`0.2\,\eta`, the size of AdamW's, so AdamW's rate and weight decay can be reused;
    * ``"spectral_unclamped"`` (Bernstein): :math:`s = \sqrt{A/B}`.
    """
    A, B = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, A / B))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(A, B))
    if adjust_lr_fn == "spectral_unclamped":
        return lr * math.sqrt(A / B)
    raise ValueError(f"Invalid adjust_lr_fn: {adjust_lr_fn!r} (expected None or one of {ADJUST_LR_FNS}).")


# ----------------------------------------------------------------------------- the optimizer
_MUON_DEFAULTS = dict(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True, ns_coefficients=NS_COEFFICIENTS,
                      eps=EPS, ns_steps=NS_STEPS, adjust_lr_fn=None)
_ADAMW_DEFAULTS = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False,
                       decoupled_weight_decay=True)


def _check_muon_group(g: dict) -> None:
    _optim._check_lr(g["lr"])
    _optim._check_nonneg("weight_decay", g["weight_decay"])
    m = g["momentum"]
    if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0.0 <= m < 1.0:
        raise ValueError(f"Invalid momentum value: {m!r} (expected 0 <= momentum < 1; torch's default is 0.95).")
    if not isinstance(g["nesterov"], bool):
        raise ValueError(f"Invalid nesterov value: {g['nesterov']!r} (expected True or False).")
    g["ns_coefficients"] = _check_ns(g["ns_steps"], g["ns_coefficients"])
    _optim._check_nonneg("eps", g["eps"])
    if g["adjust_lr_fn"] is not None and g["adjust_lr_fn"] not in ADJUST_LR_FNS:
        raise ValueError(f"Invalid adjust_lr_fn: {g['adjust_lr_fn']!r} (expected None or one of {ADJUST_LR_FNS}).")
    for p in g["params"]:
        if p.ndim != 2:
            raise ValueError(f"Muon updates 2-D weight matrices only, but got a parameter of shape "
                             f"{tuple(p.shape)}; give biases (and the first and last layers) to AdamW: "
                             f"course_utils.muon.muon_adamw(model.parameters(), lr) splits them for you.")
        if torch.is_complex(p):
            raise ValueError("Muon does not support complex parameters.")


def _muon_step(p: Tensor, grad: Tensor, state: dict, group: dict) -> None:
    """One Muon step of one matrix: the operations of ``torch.optim._muon._single_tensor_muon``, in its order."""
    buf, beta = state["momentum_buffer"], group["momentum"]
    buf.lerp_(grad, 1 - beta)                                      # m_t = beta m_{t-1} + (1 - beta) g_t
    update = grad.lerp(buf, beta) if group["nesterov"] else buf    # (1 - beta) g_t + beta m_t
    update = newton_schulz(update, group["ns_steps"], group["ns_coefficients"], group["eps"])
    lr = group["lr"]
    p.mul_(1 - lr * group["weight_decay"])                         # decoupled decay, with the unadjusted rate
    p.add_(update, alpha=-adjust_lr(lr, group["adjust_lr_fn"], p.shape))


class Muon(_optim.TemplateOptimizer):
    r"""Muon: momentum, orthogonalized by Newton–Schulz, for 2-D weight matrices (Jordan et al., 2024).

    .. math::

        m_t &\leftarrow \beta\, m_{t-1} + (1-\beta)\, g_t \\
        u_t &= \begin{cases} (1-\beta)\, g_t + \beta\, m_t & \text{nesterov} \\ m_t & \text{otherwise} \end{cases} \\
        O_t &= \mathrm{NS}^{(a,b,c)}_k(u_t) \approx U V^\top \quad (u_t = U\Sigma V^\top) \\
        \theta_t &\leftarrow (1 - \eta\lambda)\,\theta_{t-1} - \eta\, s(A, B)\, O_t

    with :math:`\mathrm{NS}` :func:`newton_schulz` (bfloat16) and :math:`s` :func:`adjust_lr`.  This is what
    ``torch.optim.Muon`` computes (same arguments, same defaults, bit-identical in float32,
    ``tests/test_muon.py``).  Its docstring writes the momentum as a sum, :math:`B_t = \mu B_{t-1} + g_t`
    (Nesterov: :math:`g_t + \mu B_t`); the code keeps the average above, which is :math:`(1-\beta)` times
    that.  Newton–Schulz divides by the norm first, so the two differ only by rounding
    (:class:`DocumentedMuon` runs the documented form).

    Args:
        params: weight matrices (2-D) or parameter groups of them.
        lr: :math:`\eta` (default 1e-3).
        weight_decay: :math:`\lambda`, decoupled (default 0.1; torch's Args call it an L2 penalty, but it is
            applied to the weights, not added to the gradient).
        momentum: :math:`\beta` (default 0.95; must be below 1, torch accepts any value >= 0).
        nesterov: Nesterov momentum (default True).
        ns_coefficients: :math:`(a, b, c)` (default :data:`NS_COEFFICIENTS`).
        eps: the floor of the norm in Newton–Schulz (default 1e-7).
        ns_steps: :math:`k` (default 5).
        adjust_lr_fn: ``None``/``"original"``, ``"match_rms_adamw"`` or ``"spectral_unclamped"`` (default None).

    Raises:
        ValueError: an invalid hyper-parameter, or a parameter that is not a matrix.
    """

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
                 eps: float = EPS, ns_steps: int = NS_STEPS, adjust_lr_fn: str | None = None):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        try:
            _check_muon_group(self.param_groups[-1])
        except ValueError:
            self.param_groups.pop()
            raise

    def init_state(self, p, group):
        return {"momentum_buffer": torch.zeros_like(p, memory_format=torch.preserve_format)}

    def update(self, p, grad, state, group):
        _muon_step(p, grad, state, group)


class DocumentedMuon(Muon):
    r"""``torch.optim.Muon`` as its docstring writes it: a *summed* momentum buffer.

    .. math::

        B_t \leftarrow \beta B_{t-1} + g_t, \qquad
        \widetilde B_t = g_t + \beta B_t \ \ (\text{nesterov}) \ \text{ else } B_t, \qquad
        O_t = \mathrm{NS}^{(a,b,c)}_k(\widetilde B_t)

    and the rest as :class:`Muon`.  By induction :math:`m_t = (1-\beta) B_t` and :math:`u_t = (1-\beta)\widetilde B_t`,
    a factor that Newton–Schulz's normalization removes: the two optimizers differ by rounding only
    (the bfloat16 rounding of a number times 0.05 is not 0.05 times its rounding), unless
    :math:`\lVert u_t\rVert_F` falls below ``eps``.  Not in torch; for the comparison in the book and the tests.
    """

    def update(self, p, grad, state, group):
        buf, beta = state["momentum_buffer"], group["momentum"]
        buf.mul_(beta).add_(grad)                                       # B_t = beta B_{t-1} + g_t
        update = grad.add(buf, alpha=beta) if group["nesterov"] else buf
        update = newton_schulz(update, group["ns_steps"], group["ns_coefficients"], group["eps"])
        lr = group["lr"]
        p.mul_(1 - lr * group["weight_decay"])
        p.add_(update, alpha=-adjust_lr(lr, group["adjust_lr_fn"], p.shape))


class MuonWithAdamW(_optim.TemplateOptimizer):
    r"""One optimizer for a whole network: :class:`Muon` on the groups with ``use_muon=True``, AdamW on the rest.

    Every parameter group must say ``use_muon``.  A Muon group takes :class:`Muon`'s arguments (defaults as
    there); an AdamW group takes :class:`course_utils.optim.AdamW`'s (``lr``, ``betas``, ``eps``,
    ``weight_decay``, ``amsgrad``; defaults as ``torch.optim.AdamW``) and is updated by its code.  So one
    ``step()`` is ``torch.optim.Muon.step()`` on the first kind and ``torch.optim.AdamW.step()`` on the second
    (checked in ``tests/test_muon.py``), and the book's training loop, which takes one optimizer, can run it.
    :func:`muon_adamw` builds the groups from a model's parameters.

    Raises:
        ValueError: a group without ``use_muon``, with an argument of the other kind, or an invalid value.
    """

    def __init__(self, param_groups: Iterable[dict]):
        groups = list(param_groups)
        if not groups or not all(isinstance(g, dict) for g in groups):
            raise ValueError("MuonWithAdamW needs a list of parameter groups (dicts), each with use_muon=True or "
                             "False, e.g. muon_adamw(model.parameters(), lr=1e-3).")
        super().__init__(groups, {})

    def add_param_group(self, param_group: dict) -> None:
        use = param_group.get("use_muon")
        if not isinstance(use, bool):
            raise ValueError(f"Each parameter group of MuonWithAdamW needs use_muon=True or False, got {use!r}.")
        defaults = _MUON_DEFAULTS if use else _ADAMW_DEFAULTS
        unknown = set(param_group) - set(defaults) - {"params", "use_muon"}
        if unknown:
            raise ValueError(f"Unknown arguments {sorted(unknown)} for a {'Muon' if use else 'AdamW'} group; "
                             f"expected some of {sorted(defaults)}.")
        group = {**defaults, **param_group}
        if not use and isinstance(group["betas"], list):
            group["betas"] = tuple(group["betas"])
        super().add_param_group(group)
        g = self.param_groups[-1]
        try:
            if use:
                _check_muon_group(g)
            else:
                _optim._check_lr(g["lr"])
                _optim._check_nonneg("epsilon", g["eps"])
                _optim._check_betas(g["betas"])
                _optim._check_nonneg("weight_decay", g["weight_decay"])
        except ValueError:
            self.param_groups.pop()
            raise

    def init_state(self, p, group):
        if group["use_muon"]:
            return {"momentum_buffer": torch.zeros_like(p, memory_format=torch.preserve_format)}
        return _optim.Adam.init_state(self, p, group)

    def update(self, p, grad, state, group):
        if group["use_muon"]:
            _muon_step(p, grad, state, group)
        else:
            _optim.Adam.update(self, p, grad, state, group)  # AdamW's update (decoupled_weight_decay=True)


def muon_adamw(params: Iterable[Tensor], lr: float = 1e-3, *, weight_decay: float = 1e-2,
               adjust_lr_fn: str | None = "match_rms_adamw", muon_lr: float | None = None,
               first_and_last: str = "adamw", momentum: float = 0.95, nesterov: bool = True,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> MuonWithAdamW:
    """Muon for the hidden weight matrices, AdamW for everything else, with one rate (Liu et al.'s recipe).

    The parameters are split by shape and order: every 2-D parameter goes to Muon except the first and the
    last 2-D one in ``params``' order, which for a network listed input to output (``model.parameters()``) are
    the input layer and the classifier; biases and every other non-matrix go to AdamW.  The first and last
    layers stay with AdamW by convention (Jordan et al.): the input layer's rows are not a hidden-to-hidden
    map, and the classifier's outputs are read one by one.

    Args:
        params: the model's parameters, in order (``model.parameters()``).
        lr: :math:`\\eta` of both parts (default 1e-3, AdamW's).
        weight_decay: :math:`\\lambda` of both parts (default 1e-2, AdamW's).
        adjust_lr_fn: Muon's rate adjustment (default ``"match_rms_adamw"``, which makes sharing ``lr`` sensible).
        muon_lr: a separate rate for the Muon part (default: ``lr``).
        first_and_last: ``"adamw"`` (default) or ``"muon"``: who updates the first and last layers' weights.
        momentum, nesterov: Muon's (defaults 0.95, True); betas, eps: AdamW's (defaults (0.9, 0.999), 1e-8).

    Raises:
        ValueError: no matrix for Muon, or an invalid ``first_and_last``.
    """
    if first_and_last not in ("adamw", "muon"):
        raise ValueError(f"first_and_last must be 'adamw' or 'muon', got {first_and_last!r}.")
    params = list(params)
    mats = [i for i, p in enumerate(params) if p.ndim == 2]
    edge = {mats[0], mats[-1]} if mats and first_and_last == "adamw" else set()
    to_muon = [p for i, p in enumerate(params) if i in mats and i not in edge]
    rest = [p for i, p in enumerate(params) if i not in mats or i in edge]
    if not to_muon:
        raise ValueError("muon_adamw found no weight matrix for Muon (a network needs at least three Linear "
                         "layers when the first and last stay with AdamW); pass first_and_last='muon'.")
    groups = [dict(params=to_muon, use_muon=True, lr=lr if muon_lr is None else muon_lr, weight_decay=weight_decay,
                   momentum=momentum, nesterov=nesterov, adjust_lr_fn=adjust_lr_fn)]
    if rest:
        groups.append(dict(params=rest, use_muon=False, lr=lr, weight_decay=weight_decay, betas=betas, eps=eps))
    return MuonWithAdamW(groups)


# ----------------------------------------------------------------------------- parity with torch
#: The matrix shapes of the parity checks: tall, wide and square.
PARITY_SHAPES: dict[str, tuple[int, int]] = {"tall": (96, 40), "wide": (40, 96), "square": (64, 64)}


def least_squares_run(make_optimizer, shape: tuple[int, int], steps: int = 100, *, seed: int = 0,
                      dtype: torch.dtype = torch.float32) -> Tensor:
    """The weight matrix after ``steps`` full-batch steps on :math:`\\tfrac1n\\lVert X W^\\top - Y\\rVert^2`.

    ``W`` (shape ``(A, B)``), ``X`` (``(n, B)``) and ``Y`` (``(n, A)``) are drawn from a generator seeded with
    ``seed``, so two optimizers see the same problem; ``make_optimizer([W])`` builds the optimizer.
    """
    A, B = shape
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(2 * B, B, generator=g, dtype=dtype)      # (n, B)
    Y = torch.randn(2 * B, A, generator=g, dtype=dtype)      # (n, A)
    W = torch.nn.Parameter(torch.randn(A, B, generator=g, dtype=dtype) / math.sqrt(B))
    opt = make_optimizer([W])
    for _ in range(steps):
        opt.zero_grad()
        ((X @ W.T - Y) ** 2).mean().backward()
        opt.step()
    return W.detach()


def parity_table(steps: int = 100, settings: Sequence[dict] | None = None,
                 shapes: dict[str, tuple[int, int]] | None = None) -> pd.DataFrame:
    """:class:`Muon` against ``torch.optim.Muon``: one row per (setting, shape), after ``steps`` float32 steps.

    Columns: setting, shape, the largest absolute difference of the weights, and whether every bit agrees.

    Raises:
        RuntimeError: this torch has no ``torch.optim.Muon`` (it came with torch 2.9).
    """
    if not hasattr(torch.optim, "Muon"):
        raise RuntimeError(f"torch {torch.__version__} has no torch.optim.Muon (added in torch 2.9); upgrade torch "
                           "to compare, e.g. pip install -U torch.")
    settings = settings if settings is not None else [
        {}, dict(nesterov=False), dict(adjust_lr_fn="match_rms_adamw", lr=2e-3),
        dict(adjust_lr_fn="spectral_unclamped", weight_decay=0.0), dict(momentum=0.0, ns_steps=3)]
    rows = []
    for kw in settings:
        for name, shape in (shapes or PARITY_SHAPES).items():
            ours = least_squares_run(lambda p: Muon(p, **kw), shape, steps)
            ref = least_squares_run(lambda p: torch.optim.Muon(p, **kw), shape, steps)
            rows.append({"setting": ", ".join(f"{k}={v}" for k, v in kw.items()) or "torch's defaults",
                         "shape": f"{name} {shape[0]}×{shape[1]}",
                         "max |ours − torch|": float((ours - ref).abs().max()),
                         "identical bits": bool(torch.equal(ours, ref))})
    return pd.DataFrame(rows)
