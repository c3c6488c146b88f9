"""Sharpness of a network's loss: Hessian-vector products, power iteration, full-batch gradient descent.

The *sharpness* of a loss :math:`L(\\theta)` at :math:`\\theta` is the largest eigenvalue
:math:`\\lambda_{\\max}` of its Hessian :math:`H = \\nabla^2 L(\\theta)`.  Forming :math:`H` for a network
with :math:`P` parameters costs :math:`P^2` numbers; a Hessian-vector product costs about two gradients
(Pearlmutter, 1994):

.. math::

    H v = \\nabla_\\theta \\big( \\nabla_\\theta L(\\theta)^\\top v \\big),

and power iteration on :math:`v \\mapsto Hv` finds :math:`\\lambda_{\\max}` from products alone.
:func:`gd_sharpness_run` runs full-batch gradient descent and measures the sharpness every few steps,
warm-starting each power iteration from the previous eigenvector, as Cohen et al. (2021) did.

Reference: J. M. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar, "Gradient descent on neural
networks typically occurs at the edge of stability", ICLR 2021.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._io import atomic_write_bytes
from .config import cache_dir

__all__ = ["hvp", "power_iteration", "mse_loss", "LOSSES", "full_batch_gd", "top_eigenvalue",
           "gd_sharpness_run", "pair_starts", "loss_increases", "alternation", "first_crossing", "edge_summary"]


def hvp(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor]) -> Callable[[list[torch.Tensor]], list[torch.Tensor]]:
    """The map :math:`v \\mapsto Hv` of the Hessian of ``loss_fn()`` with respect to ``params``.

    The gradient is computed once with ``create_graph=True``; every call of the returned function is one
    more backward pass through that graph (autograd's double backward).

    Args:
        loss_fn: returns the scalar loss (a full-batch loss: the Hessian is that loss's).
        params: the tensors to differentiate by (``requires_grad``).

    Returns:
        ``matvec(v)``, with ``v`` a list of tensors shaped like ``params``, returning :math:`Hv` as such a list.
    """
    params = list(params)
    grads = torch.autograd.grad(loss_fn(), params, create_graph=True)

    def matvec(v: list[torch.Tensor]) -> list[torch.Tensor]:
        dot = sum((g * vi).sum() for g, vi in zip(grads, v))
        return [h.detach() for h in torch.autograd.grad(dot, params, retain_graph=True)]

    return matvec


def _dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def power_iteration(matvec: Callable[[list[torch.Tensor]], list[torch.Tensor]], v0: list[torch.Tensor], *,
                    tol: float = 1e-3, max_iter: int = 100) -> tuple[float, list[torch.Tensor], int]:
    """The eigenvalue of largest magnitude of a symmetric operator, and its eigenvector.

    .. math::

        v_{k+1} = \\frac{A v_k}{\\lVert A v_k \\rVert}, \\qquad \\lambda_k = v_k^\\top A v_k ,

    stopped when :math:`|\\lambda_k - \\lambda_{k-1}| \\le \\mathrm{tol}\\,|\\lambda_k|`.  For a Hessian
    whose top eigenvalue outweighs its most negative one (the case in the book's runs) this is
    :math:`\\lambda_{\\max}`.  With the eigenvalues ordered by magnitude, :math:`|\\lambda_1| > |\\lambda_2|
    \\ge \\dots`, the eigenvector's error shrinks by :math:`|\\lambda_2| / |\\lambda_1|` per product (the
    eigenvalue estimate's, a Rayleigh quotient of a symmetric operator, by its square), where
    :math:`\\lambda_2` is the next largest *in magnitude*: for an indefinite Hessian that may be its most
    negative eigenvalue, not its second largest.  A start ``v0`` close to the answer (the previous
    eigenvector) needs few products.

    Args:
        matvec: :math:`v \\mapsto Av` on lists of tensors (e.g. from :func:`hvp`).
        v0: the start (any nonzero vector; it is normalised).
        tol: relative change of the eigenvalue estimate at which to stop.
        max_iter: at most this many products.

    Returns:
        ``(eigenvalue, eigenvector, products used)``.

    Raises:
        ValueError: for a zero start, ``tol <= 0`` or ``max_iter < 2``.
    """
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}.")
    if max_iter < 2:
        raise ValueError(f"max_iter must be at least 2 (two estimates to compare), got {max_iter!r}.")
    norm = math.sqrt(float(_dot(v0, v0)))
    if norm == 0.0:
        raise ValueError("power_iteration: the start vector v0 is zero; start from a random vector.")
    v = [x / norm for x in v0]
    lam_prev = None
    for k in range(1, max_iter + 1):
        Av = matvec(v)
        lam = float(_dot(v, Av))
        n = math.sqrt(float(_dot(Av, Av)))
        if n == 0.0:
            return 0.0, v, k
        v = [x / n for x in Av]
        if lam_prev is not None and abs(lam - lam_prev) <= tol * abs(lam):
            return lam, v, k
        lam_prev = lam
    return lam, v, max_iter


def mse_loss(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Half the squared distance to the one-hot label, summed over classes, averaged over examples.

    .. math::

        L = \\frac{1}{n} \\sum_{i=1}^{n} \\tfrac12 \\lVert f(x_i) - e_{y_i} \\rVert^2

    (Cohen et al.'s square loss; ``F.mse_loss`` would also divide by the number of classes).
    """
    target = F.one_hot(y, output.shape[1]).to(output.dtype)  # (n, C)
    return 0.5 * ((output - target) ** 2).sum(1).mean()


LOSSES = {"mse": mse_loss, "cross_entropy": F.cross_entropy}


def top_eigenvalue(model: nn.Module, loss: Callable, X: torch.Tensor, y: torch.Tensor, v0=None, *,
                   tol: float = 1e-3, max_iter: int = 100,
                   generator: torch.Generator | None = None) -> tuple[float, list[torch.Tensor], int]:
    """The sharpness :math:`\\lambda_{\\max}` of the full-batch loss of ``model`` on ``(X, y)``.

    Args:
        model: the network (its parameters are the Hessian's variables).
        loss: ``loss(output, y) -> scalar``.
        X, y: the whole training set (the Hessian of the full-batch loss).
        v0: start of the power iteration (a list shaped like the parameters); None: a random one
            drawn from ``generator``.
        tol, max_iter: as in :func:`power_iteration`.

    Returns:
        ``(eigenvalue, eigenvector, Hessian-vector products used)``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if v0 is None:
        v0 = [torch.randn(p.shape, generator=generator).to(p) for p in params]
    return power_iteration(hvp(lambda: loss(model(X), y), params), v0, tol=tol, max_iter=max_iter)


def full_batch_gd(model: nn.Module, loss: Callable, X: torch.Tensor, y: torch.Tensor, lr: float, steps: int, *,
                  callback: Callable[[int, nn.Module], None] | None = None, every: int = 1, pairs: bool = False,
                  stop_above: float = 1e6) -> list[float]:
    """Plain gradient descent on the full-batch loss: :math:`\\theta_{t+1} = \\theta_t - \\eta \\nabla L(\\theta_t)`.

    Args:
        model, loss, X, y: the network, ``loss(output, y)`` and the whole training set.
        lr: the step size :math:`\\eta`.
        steps: number of steps.
        callback: ``callback(t, model)`` is called at :math:`\\theta_t` for ``t = 0, every, 2·every, …``
            (before step ``t`` is taken) and once at the end (``t = steps``), to measure without
            the loop knowing what.
        every: call ``callback`` every this many steps.
        pairs: also call it at the step after each of those (``t = 1, every + 1, …``) and at ``steps - 1``,
            so that every measurement has a partner one step later.  At the edge of stability gradient
            descent oscillates with period two, and measurements taken only every ``every`` steps (``every``
            even) would all see the same phase of it.
        stop_above: stop early (the run diverged) once the loss is above this or not finite.

    Returns:
        The training loss :math:`L(\\theta_t)` for ``t = 0 … steps`` (shorter if the run diverged).
    """
    if not lr > 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}.")
    params = [p for p in model.parameters() if p.requires_grad]
    losses = []
    for t in range(steps + 1):
        due = t % every == 0 or t == steps or (pairs and ((t - 1) % every == 0 or t == steps - 1))
        if callback is not None and due:
            callback(t, model)
        value = loss(model(X), y)
        losses.append(float(value.detach()))
        if not math.isfinite(losses[-1]) or losses[-1] > stop_above:
            break
        if t == steps:
            break
        grads = torch.autograd.grad(value, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * g)
    return losses


def pair_starts(steps: int, every: int) -> list[int]:
    """The first steps of the measurement pairs ``(t, t + 1)`` of ``full_batch_gd(..., pairs=True)``:
    ``0, every, 2·every, …`` below ``steps``, and ``steps - 1`` (so the last pair ends at the last step)."""
    return sorted(set(range(0, steps, every)) | ({steps - 1} if steps >= 1 else set()))


def gd_sharpness_run(make_model: Callable[[], nn.Module], X: torch.Tensor, y: torch.Tensor, lr: float,
                     steps: int, *, loss: str = "mse", every: int = 10, pairs: bool = True, tol: float = 1e-3,
                     max_iter: int = 100, seed: int = 0, key: dict | None = None, use_cache: bool = True) -> dict:
    """Full-batch gradient descent with the sharpness measured every ``every`` steps (cached on disk).

    Each power iteration starts from the previous one's eigenvector, so after the first it needs only a
    few Hessian-vector products.  With ``pairs`` (the default) the sharpness is measured at each such step
    ``t`` *and* at ``t + 1`` (see :func:`pair_starts`), and the record's ``sharpness`` is the mean of the
    two: at the edge of stability the weights alternate between two phases from one step to the next, the
    sharpness with them, and a mean over both phases does not depend on which phase ``t`` falls on.

    Args:
        make_model: builds the network at its initial weights (called once).
        X, y: the training set.
        lr: the step size :math:`\\eta`.
        steps: gradient steps.
        loss: ``"mse"`` (:func:`mse_loss`) or ``"cross_entropy"``.
        every, tol, max_iter: measure :math:`\\lambda_{\\max}` every ``every`` steps to relative tolerance ``tol``.
        pairs: measure at ``t`` and ``t + 1`` and record their mean (False: at ``t`` only, and at the end).
        seed: seed of the first power iteration's random start.
        key: what else identifies the run for the cache (e.g. the model's and the data's description);
            None: no caching.
        use_cache: read and write ``<cache>/sharpness/<hash>.json``.

    Returns:
        dict with ``lr``, ``loss`` (per step, ``t = 0 … steps``), ``sharp_steps`` and ``sharpness`` (with
        ``pairs``: the first step of each pair and the pair's mean; without: each measured step and its
        value), with ``pairs`` also ``sharpness_now`` and ``sharpness_next`` (the values at ``t`` and at
        ``t + 1``), ``products`` (the Hessian-vector products each measurement used, in the order taken),
        ``diverged``, and ``final_cold``: the sharpness at the last step once more from a random start to
        ``tol=1e-6`` (a check of the warm-started estimates; absent if the run diverged).
    """
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; choose one of {sorted(LOSSES)}.")
    path = None
    if key is not None and use_cache:
        from .train import package_source_hash
        desc = {"key": key, "lr": lr, "steps": steps, "loss": loss, "every": every, "tol": tol,
                "max_iter": max_iter, "seed": seed, "n": int(len(y)), "torch": torch.__version__.split("+")[0],
                "src": package_source_hash(("sharpness",)), "pairs": bool(pairs)}
        h = hashlib.sha256(json.dumps(desc, sort_keys=True, default=repr).encode()).hexdigest()[:24]
        path = cache_dir("sharpness") / f"{h}.json"
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except (ValueError, OSError):
                pass  # corrupt or unreadable: compute again and overwrite
    model = make_model()
    loss_fn = LOSSES[loss]
    gen = torch.Generator().manual_seed(seed)
    measured: dict[int, float] = {}
    record = {"products": []}
    state = {"v": None}

    def measure(t: int, m: nn.Module) -> None:
        lam, state["v"], k = top_eigenvalue(m, loss_fn, X, y, state["v"], tol=tol, max_iter=max_iter,
                                            generator=gen)
        measured[t] = lam
        record["products"].append(k)
        if t == steps:  # the last estimate again, from a random start and to a tight tolerance: a check
            record["final_cold"] = top_eigenvalue(m, loss_fn, X, y, tol=1e-6, max_iter=2000, generator=gen)[0]

    losses = full_batch_gd(model, loss_fn, X, y, lr, steps, callback=measure, every=every, pairs=pairs)
    if pairs:
        starts = [t for t in pair_starts(steps, every) if t in measured and t + 1 in measured]
        now, nxt = [measured[t] for t in starts], [measured[t + 1] for t in starts]
        record.update(sharp_steps=starts, sharpness=[(a + b) / 2 for a, b in zip(now, nxt)],
                      sharpness_now=now, sharpness_next=nxt)
    else:
        record.update(sharp_steps=sorted(measured), sharpness=[measured[t] for t in sorted(measured)])
    out = {"lr": lr, "steps": steps, "every": every, "pairs": bool(pairs), "loss": losses, **record,
           "diverged": len(losses) < steps + 1}
    if path is not None:
        atomic_write_bytes(path, json.dumps(out).encode())
    return out


def loss_increases(losses: Sequence[float]) -> int:
    """How many steps raised the loss: the number of ``t`` with :math:`L(\\theta_{t+1}) > L(\\theta_t)`."""
    return int(sum(b > a for a, b in zip(losses[:-1], losses[1:])))


def alternation(losses: Sequence[float]) -> float:
    """The share of consecutive steps at which the loss changes direction: of the pairs of successive
    changes :math:`(L_{t+1} - L_t, L_{t+2} - L_{t+1})`, the fraction with opposite signs.

    1 for a loss that goes up and down at alternate steps (a two-step oscillation), 0 for a monotone one;
    NaN for fewer than three values."""
    d = [b - a for a, b in zip(losses[:-1], losses[1:])]
    if len(d) < 2:
        return float("nan")
    return sum((u > 0) != (v > 0) for u, v in zip(d[:-1], d[1:])) / (len(d) - 1)


def first_crossing(steps: Sequence[int], values: Sequence[float], level: float) -> int | None:
    """The first step at which ``values`` reaches ``level`` (None if it never does)."""
    for t, v in zip(steps, values):
        if v >= level:
            return int(t)
    return None


def edge_summary(run: dict, late: float = 0.25) -> dict:
    """One run of :func:`gd_sharpness_run` before and after its sharpness first reaches :math:`2/\\eta`.

    Returns a dict: the limit ``2/η``; the sharpness at step 0 and its lowest value up to the crossing; the
    first measured step at which :math:`\\lambda_{\\max} \\ge 2/\\eta` (None if never, and then "after"
    entries are NaN); from that step on, the median and highest :math:`\\lambda_{\\max}\\eta/2` and the share
    of measurements above 1; the number of loss increases before and after it; the loss there and at the
    end; the final sharpness, its cold-start check (``final_cold``) and the mean number of Hessian-vector
    products of the warm-started measurements.  For a run measured in pairs, :math:`\\lambda_{\\max}` is
    the mean of the pair, and for the last ``late`` share of the steps (and after the crossing) also: the
    median of the higher and of the lower of the two phases' :math:`\\lambda_{\\max}\\eta/2`, the median
    two-step factor :math:`|1-\\eta\\lambda_t|\\,|1-\\eta\\lambda_{t+1}|` (how much the quadratic model with
    the curvature alternating between the two measured values would grow an offset along the top
    eigenvector over two steps), and the loss's :func:`alternation`.
    """
    import numpy as np

    lr = run["lr"]
    steps, lam, loss = np.asarray(run["sharp_steps"]), np.asarray(run["sharpness"]), np.asarray(run["loss"])
    cross = first_crossing(steps, lam, 2 / lr)
    c = cross if cross is not None else len(loss) - 1
    late_r = lam[steps >= cross] * lr / 2 if cross is not None else np.array([np.nan])
    out = {"2/η": 2 / lr, "sharpness at step 0": float(lam[0]), "lowest sharpness before 2/η": float(lam[steps <= c].min()),
           "first step at 2/η": cross, "median λ·η/2 after": float(np.median(late_r)),
           "highest λ·η/2 after": float(late_r.max()), "share of measurements above 2/η": float((late_r > 1).mean()),
           "loss increases before": loss_increases(loss[:c + 1]),
           "loss increases after": loss_increases(loss[c:]) if cross is not None else float("nan"),
           "loss at 2/η": float(loss[c]), "final loss": float(loss[-1]), "final sharpness": float(lam[-1]),
           "cold-start check": float(run.get("final_cold", float("nan"))),
           "products per measurement": float(np.mean(run["products"][1:]))}
    if "sharpness_now" in run:
        t0 = max(c, int(round((1 - late) * (len(loss) - 1))))
        sel = steps >= t0
        now, nxt = np.asarray(run["sharpness_now"])[sel] * lr / 2, np.asarray(run["sharpness_next"])[sel] * lr / 2
        nan = cross is None or not sel.any()
        out.update({
            "late from step": t0,
            "late higher phase λ·η/2": float("nan") if nan else float(np.median(np.maximum(now, nxt))),
            "late lower phase λ·η/2": float("nan") if nan else float(np.median(np.minimum(now, nxt))),
            "late mean λ·η/2": float("nan") if nan else float(np.median((now + nxt) / 2)),
            "late two-step factor": float("nan") if nan else float(np.median(np.abs(1 - 2 * now) * np.abs(1 - 2 * nxt))),
            "late loss alternation": float("nan") if cross is None else alternation(loss[t0:]),
        })
    return out
