"""Regularisation: penalties, weight decay, dropout (and MC dropout), max-norm, pruning.

Compute first, draw second: every function here returns tensors, arrays or
plain dicts; the book's pages draw them.  The pieces:

* :func:`l1_penalty`, :func:`l2_penalty` and :class:`PenalizedLoss` — a loss
  with :math:`\\lambda_1\\lVert w\\rVert_1 + \\tfrac{\\lambda_2}{2}\\lVert w\\rVert_2^2` added, usable
  as ``train_model(..., loss_fn=PenalizedLoss(model, l1=...))``;
* :func:`decay_split` / :func:`param_groups_no_decay` — parameter groups that
  exempt biases and normalisation layers from weight decay;
* :func:`l2_vs_decay_trajectory` — the same run with an ℓ2 penalty and with
  decoupled weight decay, step by step, to show where they agree;
* :func:`mc_sample_probs`, :func:`mc_predict`, :func:`mc_accuracy_curve` — MC dropout (the
  networks with dropout are :func:`course_utils.models.dropout_mlp`);
* :func:`max_norm_`, :func:`add_max_norm_hook` — the max-norm constraint;
* :func:`prune_global`, :func:`sparsity`, :func:`pruning_curve` — magnitude pruning
  with :mod:`torch.nn.utils.prune`.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

__all__ = ["NORM_LAYERS", "l1_penalty", "l2_penalty", "PenalizedLoss", "decay_split", "param_groups_no_decay",
           "l2_vs_decay_trajectory", "enable_mc_dropout",
           "mc_sample_probs", "MCPrediction", "mc_predict", "mc_summary", "mc_accuracy_curve", "max_norm_",
           "add_max_norm_hook", "row_norms", "prune_global", "sparsity", "pruning_curve",
           "dropout_signal_stats"]

#: Module types whose parameters are never decayed by :func:`param_groups_no_decay`.
NORM_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm,
               nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LocalResponseNorm)


# ----------------------------------------------------------------------------- penalties
def _check_lambda(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (the regularisation strength), got {value!r}.")
    return float(value)


def _param_list(params) -> list[torch.Tensor]:
    if isinstance(params, nn.Module):
        raise TypeError("Pass parameters, not a module: e.g. decay_split(model)[0] for the weights only, "
                        "or model.parameters() for all of them.")
    params = list(params)
    if not all(isinstance(p, torch.Tensor) for p in params):
        raise TypeError("params must be an iterable of tensors (e.g. model.parameters()).")
    return params


def l1_penalty(params: Iterable[torch.Tensor]) -> torch.Tensor:
    r"""The ℓ1 norm of all ``params`` together, :math:`\lVert w\rVert_1 = \sum_i |w_i|`.

    Its (sub)gradient is :math:`\operatorname{sign}(w)`: a constant pull towards zero that does
    not shrink with the weight, which is why ℓ1 drives weights to exactly zero.
    """
    params = _param_list(params)
    if not params:
        raise ValueError("l1_penalty got no parameters; pass e.g. decay_split(model)[0].")
    return sum(p.abs().sum() for p in params)


def l2_penalty(params: Iterable[torch.Tensor]) -> torch.Tensor:
    r"""Half the squared ℓ2 norm, :math:`\tfrac12\lVert w\rVert_2^2`, so that its gradient is :math:`w`.

    With this convention ``loss + lam * l2_penalty(params)`` has gradient ``g + lam * w``,
    exactly what ``torch.optim.SGD(..., weight_decay=lam)`` adds to the gradient.
    """
    params = _param_list(params)
    if not params:
        raise ValueError("l2_penalty got no parameters; pass e.g. decay_split(model)[0].")
    return 0.5 * sum(p.pow(2).sum() for p in params)


class PenalizedLoss:
    r"""Cross-entropy plus :math:`\lambda_1\lVert w\rVert_1 + \tfrac{\lambda_2}{2}\lVert w\rVert_2^2`.

    .. math::
        \mathcal{L}(\theta) = \mathrm{CE}(f_\theta(x), y) + \lambda_1 \sum_{w \in W} |w|
        + \frac{\lambda_2}{2} \sum_{w \in W} w^2

    where :math:`W` are the weights that :func:`decay_split` selects (biases and
    normalisation parameters are exempt unless ``all_params=True``).  Use it as
    ``train_model(model, opt_fn, data, loss_fn=PenalizedLoss(model, l1=1e-5))``; its ``repr``
    names the strengths, so the results cache separates runs with different penalties.

    Args:
        model: the network whose weights are penalised.
        l1: :math:`\lambda_1 \ge 0`.
        l2: :math:`\lambda_2 \ge 0`.
        all_params: penalise every parameter (as ``weight_decay=`` in torch does).
        base: the data loss ``(logits, y) -> loss`` (default: cross-entropy).
    """

    def __init__(self, model: nn.Module, *, l1: float = 0.0, l2: float = 0.0, all_params: bool = False,
                 base: Callable | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"PenalizedLoss needs the model (an nn.Module), got {type(model).__name__}.")
        self.l1 = _check_lambda("l1", l1)
        self.l2 = _check_lambda("l2", l2)
        self.all_params = bool(all_params)
        self.params = list(model.parameters()) if all_params else decay_split(model)[0]
        self.base = base or F.cross_entropy

    def penalty(self) -> torch.Tensor:
        out = torch.zeros((), device=self.params[0].device)
        if self.l1:
            out = out + self.l1 * l1_penalty(self.params)
        if self.l2:
            out = out + self.l2 * l2_penalty(self.params)
        return out

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.base(logits, y) + self.penalty()

    def __repr__(self) -> str:
        base = getattr(self.base, "__name__", repr(self.base))
        return (f"PenalizedLoss(l1={self.l1!r}, l2={self.l2!r}, all_params={self.all_params}, "
                f"n_penalised={sum(p.numel() for p in self.params)}, base={base})")


# ----------------------------------------------------------------------------- weight decay
def decay_split(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter], list[str], list[str]]:
    """Split a model's trainable parameters into (decay, no_decay, decay_names, no_decay_names).

    A parameter is *not* decayed when it belongs to a normalisation layer
    (:data:`NORM_LAYERS`) or is one-dimensional (biases, PReLU slopes, norm gains).
    Everything else (the weight matrices of ``Linear`` / ``Conv`` layers) is decayed.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"decay_split needs an nn.Module, got {type(model).__name__}.")
    decay, no_decay, d_names, n_names = [], [], [], []
    seen: set[int] = set()
    for mod_name, module in model.named_modules():
        for p_name, p in module.named_parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if isinstance(module, NORM_LAYERS) or p.ndim <= 1:
                no_decay.append(p)
                n_names.append(full)
            else:
                decay.append(p)
                d_names.append(full)
    return decay, no_decay, d_names, n_names


def param_groups_no_decay(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimizer parameter groups: weights with ``weight_decay``, biases and norm layers with 0.

    Example::

        opt = torch.optim.AdamW(param_groups_no_decay(model, 1e-2), lr=1e-3)

    Raises:
        ValueError: negative or non-finite ``weight_decay``; a model without trainable parameters.
    """
    wd = _check_lambda("weight_decay", weight_decay)
    decay, no_decay, _, _ = decay_split(model)
    if not decay and not no_decay:
        raise ValueError(f"{type(model).__name__} has no trainable parameters (all requires_grad=False?).")
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": wd})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def l2_vs_decay_trajectory(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                           optimizer_fn: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer], *,
                           lam: float, steps: int, batch_size: int | None = None, seed: int = 0,
                           dtype: torch.dtype = torch.float64) -> dict[str, np.ndarray]:
    r"""Train two copies of ``model`` with an ℓ2 penalty and with decoupled weight decay; compare.

    Copy A minimises :math:`\mathcal{L} + \tfrac{\lambda}{2}\lVert\theta\rVert^2` with the optimizer;
    copy B minimises :math:`\mathcal{L}` and, before each optimizer step, shrinks every parameter,
    :math:`\theta \leftarrow (1-\eta\lambda)\,\theta` (decoupled decay, Loshchilov & Hutter 2019; with
    Adam this *is* ``torch.optim.AdamW``).  Both see the same mini-batches.  For plain SGD the two
    updates are algebraically identical, :math:`\theta - \eta(g + \lambda\theta)`; with momentum or
    Adam they are not.  All parameters are penalised/decayed, as torch's ``weight_decay`` does.

    Args:
        model: the network to copy (not modified).
        X, y: training data; batches are drawn from them with a seeded generator.
        optimizer_fn: ``params -> optimizer`` *without* weight decay (its first group's ``lr`` is η).
        lam: :math:`\lambda \ge 0`.
        steps: number of optimizer steps.
        batch_size: mini-batch size (default: all of ``X``).
        seed: seed of the batch order.
        dtype: precision of both copies (float64 so that round-off is ~1e-16).

    Returns:
        ``{"step": 1..steps, "max_abs_diff": max_i |θ_A - θ_B| after each step,
        "norm_l2": ‖θ_A‖, "norm_decay": ‖θ_B‖, "loss_l2", "loss_decay"}`` as NumPy arrays.
    """
    lam = _check_lambda("lam", lam)
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X and y have different lengths ({n} vs {len(y)}).")
    bs = n if batch_size is None else int(batch_size)
    if bs <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}.")
    a = copy.deepcopy(model).to(dtype)
    b = copy.deepcopy(model).to(dtype)
    opt_a, opt_b = optimizer_fn(a.parameters()), optimizer_fn(b.parameters())
    for opt in (opt_a, opt_b):
        if any(g.get("weight_decay", 0) for g in opt.param_groups):
            raise ValueError("optimizer_fn must build an optimizer with weight_decay=0: this function adds "
                             "the ℓ2 penalty and the decoupled decay itself.")
    Xd = X.to(dtype)
    gen = torch.Generator().manual_seed(seed)
    out = {k: [] for k in ("max_abs_diff", "norm_l2", "norm_decay", "loss_l2", "loss_decay")}
    for _ in range(steps):
        idx = torch.randperm(n, generator=gen)[:bs].to(X.device)
        xb, yb = Xd[idx], y[idx]
        # A: ℓ2 penalty in the loss
        opt_a.zero_grad()
        loss_a = F.cross_entropy(a(xb), yb)
        (loss_a + lam * l2_penalty(a.parameters())).backward()
        opt_a.step()
        # B: plain loss, then shrink the weights by (1 - lr * lam) and step
        opt_b.zero_grad()
        loss_b = F.cross_entropy(b(xb), yb)
        loss_b.backward()
        with torch.no_grad():
            for group in opt_b.param_groups:
                for p in group["params"]:
                    p.mul_(1.0 - group["lr"] * lam)
        opt_b.step()
        with torch.no_grad():
            diff = max((pa - pb).abs().max().item() for pa, pb in zip(a.parameters(), b.parameters()))
            out["max_abs_diff"].append(diff)
            out["norm_l2"].append(torch.sqrt(sum(p.pow(2).sum() for p in a.parameters())).item())
            out["norm_decay"].append(torch.sqrt(sum(p.pow(2).sum() for p in b.parameters())).item())
        out["loss_l2"].append(loss_a.item())
        out["loss_decay"].append(loss_b.item())
    res = {k: np.asarray(v) for k, v in out.items()}
    res["step"] = np.arange(1, steps + 1)
    return res


# ----------------------------------------------------------------------------- dropout
def enable_mc_dropout(model: nn.Module) -> int:
    """Put ``model`` in eval mode but its dropout layers in train mode; return how many there are.

    Raises:
        ValueError: the model has no dropout layer (MC dropout would return identical samples).
    """
    model.eval()
    n = 0
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):  # every dropout kind: Dropout1d/2d/3d, AlphaDropout, ...
            m.train()
            n += 1
    if n == 0:
        raise ValueError(f"{type(model).__name__} has no dropout layer, so MC dropout would give the same "
                         f"prediction every time; build it with models.dropout_mlp({{'p_hidden': 0.2}}).")
    return n


def _mc_cache_path(model: nn.Module, X: torch.Tensor, n_samples: int, batch_size: int, seed: int):
    """Where :func:`mc_sample_probs` keeps its result: a hash of everything that decides it (the network's
    architecture and every weight, the inputs, S, the seed, the chunking, torch, the package's code)."""
    import hashlib

    from .config import cache_dir
    from .train import package_source_hash

    h = hashlib.sha256()
    for part in (repr(model), X.dtype, tuple(X.shape), n_samples, batch_size, seed, X.device.type,
                 torch.__version__.split("+")[0], package_source_hash()):
        h.update(repr(part).encode() + b"\0")
    for name, t in [*model.state_dict().items(), ("X", X)]:
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name} {t.dtype} {t.numel()}".encode())
        h.update((t.view(torch.uint8) if t.dtype != torch.bool else t.to(torch.uint8)).numpy().tobytes())
    return cache_dir("mc_dropout") / f"{h.hexdigest()[:24]}.pt"


def _cacheable(model: nn.Module) -> bool:
    """Whether the weights and the architecture's repr decide what ``model`` computes: every module is
    torch's or this package's, and no hook is registered (a learner's own class or hook could compute
    anything, so its passes are never cached)."""
    from torch.nn.modules import module as _m

    if any(getattr(_m, g, None) for g in ("_global_forward_hooks", "_global_forward_pre_hooks")):
        return False
    for m in model.modules():
        if not type(m).__module__.startswith(("torch.", "course_utils.")):
            return False
        if m._forward_hooks or m._forward_pre_hooks:
            return False
    return True


@torch.no_grad()
def mc_sample_probs(model: nn.Module, X: torch.Tensor, n_samples: int, *, batch_size: int = 4096,
                    seed: int = 0, use_cache: bool = True) -> torch.Tensor:
    """Class probabilities from ``n_samples`` stochastic forward passes (dropout on): ``(S, N, C)``.

    The model's train/eval state is restored afterwards; the global RNG is untouched
    (the passes run under ``torch.random.fork_rng`` seeded with ``seed``).  The passes are
    deterministic given the weights, the inputs, ``n_samples`` and ``seed``, so the result is kept in
    the project's cache (``<cache>/mc_dropout/``, keyed by all of them) and read back the next time;
    ``use_cache=False`` always computes.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples <= 0:
        raise ValueError(f"n_samples must be a positive integer (number of MC passes), got {n_samples!r}.")
    path = _mc_cache_path(model, X, n_samples, batch_size, seed) if use_cache and _cacheable(model) else None
    if path is not None and path.is_file():
        try:
            return torch.load(path, map_location=X.device, weights_only=True)
        except (OSError, RuntimeError, ValueError, EOFError):
            pass  # corrupt or unreadable: compute again and overwrite
    states = {m: m.training for m in model.modules()}
    devices = [X.device] if X.device.type == "cuda" else []
    try:
        enable_mc_dropout(model)
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            out = []
            for _ in range(n_samples):
                chunks = [F.softmax(model(X[i:i + batch_size]), dim=-1) for i in range(0, len(X), batch_size)]
                out.append(torch.cat(chunks))
    finally:
        for m, t in states.items():
            m.train(t)
    out = torch.stack(out)  # (S, N, C)
    if path is not None:
        from ._io import atomic_torch_save
        try:
            atomic_torch_save(out.cpu(), path)
        except OSError:
            pass  # a read-only cache: the result is still returned
    return out


class MCPrediction(NamedTuple):
    """What :func:`mc_predict` returns."""

    probs: torch.Tensor  # (N, C) mean of the sampled probabilities
    uncertainty: torch.Tensor  # (N,) predictive entropy of ``probs`` in nats (0 = certain, ln C = uniform)
    std: torch.Tensor  # (N, C) standard deviation of each class probability over the samples


def mc_predict(model: nn.Module, X: torch.Tensor, n_samples: int = 100, *, batch_size: int = 4096,
               seed: int = 0) -> MCPrediction:
    r"""MC dropout (Gal & Ghahramani 2016): average the softmax of ``n_samples`` dropout passes.

    .. math::
        \bar p(y\mid x) = \frac1S\sum_{s=1}^S \mathrm{softmax}(f_{\theta,m_s}(x)), \qquad
        H(x) = -\sum_c \bar p_c \ln \bar p_c

    Probabilities are averaged, not logits (averaging logits first is overconfident).

    Returns:
        :class:`MCPrediction` ``(probs (N, C), uncertainty (N,), std (N, C))``.
    """
    return mc_summary(mc_sample_probs(model, X, n_samples, batch_size=batch_size, seed=seed))


def mc_summary(samples: torch.Tensor) -> MCPrediction:
    """:class:`MCPrediction` from sampled probabilities ``(S, N, C)`` (see :func:`mc_sample_probs`)."""
    if samples.dim() != 3:
        raise ValueError(f"samples must have shape (S, N, C), got {tuple(samples.shape)}.")
    n_samples = samples.shape[0]
    probs = samples.mean(0)
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1)
    std = samples.std(0, unbiased=False) if n_samples > 1 else torch.zeros_like(probs)
    return MCPrediction(probs, entropy, std)


def mc_accuracy_curve(sample_probs: torch.Tensor, y: torch.Tensor, ks: Sequence[int]) -> np.ndarray:
    """Accuracy of the MC average over the first ``k`` samples, for each ``k`` in ``ks``.

    Args:
        sample_probs: ``(S, N, C)`` from :func:`mc_sample_probs`.
        y: ``(N,)`` labels.
        ks: numbers of samples, each in ``1..S``.
    """
    if sample_probs.dim() != 3:
        raise ValueError(f"sample_probs must have shape (S, N, C), got {tuple(sample_probs.shape)}.")
    S = sample_probs.shape[0]
    bad = [k for k in ks if not 1 <= int(k) <= S]
    if bad:
        raise ValueError(f"every k must be between 1 and the number of samples {S}; got {bad}.")
    csum = sample_probs.cumsum(0)  # (S, N, C)
    return np.array([(csum[int(k) - 1].argmax(-1) == y).float().mean().item() for k in ks])


@torch.no_grad()
def dropout_signal_stats(depth: int = 20, width: int = 256, *, p: float = 0.1, n: int = 2048,
                         seed: int = 0) -> dict[str, np.ndarray]:
    """Mean and std of the activations of a deep SELU stack (LeCun init) with no / standard / alpha dropout.

    Dropout layers are in training mode (that is when the question arises). Returns
    ``{"layer": 1..depth, "<kind>_mean": ..., "<kind>_std": ...}`` for kind in none/standard/alpha.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must be a dropout rate in (0, 1), got {p!r}.")
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n, width, generator=g)  # standardised input, (n, width)
    weights = [torch.randn(width, width, generator=g) / width ** 0.5 for _ in range(depth)]  # LeCun normal
    out: dict[str, np.ndarray] = {"layer": np.arange(1, depth + 1)}
    for kind, layer in (("none", None), ("standard", nn.Dropout(p)), ("alpha", nn.AlphaDropout(p))):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            x, means, stds = x0, [], []
            for W in weights:
                if layer is not None:
                    x = layer.train()(x)
                x = F.selu(x @ W.T)
                means.append(x.mean().item())
                stds.append(x.std().item())
        out[f"{kind}_mean"], out[f"{kind}_std"] = np.array(means), np.array(stds)
    return out


# ----------------------------------------------------------------------------- max-norm
def _weights_of(target) -> list[torch.Tensor]:
    if isinstance(target, nn.Module):
        return decay_split(target)[0]
    if isinstance(target, torch.optim.Optimizer):
        return [p for g in target.param_groups for p in g["params"] if p.ndim >= 2]
    raise TypeError(f"Expected an nn.Module or a torch.optim.Optimizer, got {type(target).__name__}.")


@torch.no_grad()
def max_norm_(target, r: float = 2.0, *, dim: int | Sequence[int] = 1, eps: float = 1e-8) -> int:
    r"""Rescale every unit's incoming weight vector to norm at most ``r``, in place.

    .. math:: w \leftarrow w\,\frac{\min(\lVert w\rVert_2, r)}{\lVert w\rVert_2 + \epsilon}

    For ``nn.Linear`` (weight shape ``(out, in)``) ``dim=1`` gives one norm per output unit.
    ``target`` is a model (its weight matrices, see :func:`decay_split`) or an optimizer (its
    parameters with 2+ dimensions).  Returns the number of units that were rescaled.

    Raises:
        ValueError: ``r`` not positive.
    """
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not r > 0:
        raise ValueError(f"max-norm radius r must be a positive number, got {r!r}.")
    clipped = 0
    for w in _weights_of(target):
        norm = w.norm(p=2, dim=dim, keepdim=True)
        clipped += int((norm > r).sum())
        w.mul_(norm.clamp(max=r) / (norm + eps))
    return clipped


def add_max_norm_hook(optimizer: torch.optim.Optimizer, r: float = 2.0, *, dim: int | Sequence[int] = 1
                      ) -> torch.optim.Optimizer:
    """Apply :func:`max_norm_` after every ``optimizer.step()`` (a step post-hook); return the optimizer.

    Use inside an ``optimizer_fn``::

        train_model(model, lambda p: add_max_norm_hook(torch.optim.Adam(p, 1e-3), r=2), data,
                    extra_key={"max_norm": 2}, ...)

    (the hook is not part of the optimizer's settings, so give the cache an ``extra_key``).
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"add_max_norm_hook needs a torch.optim.Optimizer, got {type(optimizer).__name__}.")
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not r > 0:
        raise ValueError(f"max-norm radius r must be a positive number, got {r!r}.")
    optimizer.register_step_post_hook(lambda opt, args, kwargs: max_norm_(opt, r, dim=dim))
    return optimizer


@torch.no_grad()
def row_norms(model: nn.Module) -> dict[str, np.ndarray]:
    """ℓ2 norm of each unit's incoming weights, per ``Linear`` layer: ``{"1: 784→512": (512,), ...}``."""
    from .stats import layer_label

    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return {layer_label(i + 1, m): m.weight.norm(dim=1).cpu().numpy() for i, m in enumerate(lins)}


# ----------------------------------------------------------------------------- pruning
def _prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    pairs = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]
    if not pairs:
        raise ValueError(f"{type(model).__name__} has no Linear/Conv layers to prune.")
    return pairs


def prune_global(model: nn.Module, amount: float, *, make_permanent: bool = True) -> nn.Module:
    """Zero the fraction ``amount`` of all Linear/Conv weights with the smallest magnitude, in place.

    A thin wrapper of ``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured``
    (one threshold for the whole network, so layers lose different fractions).  With
    ``make_permanent`` the masks are folded into the weights (``prune.remove``).

    Raises:
        ValueError: ``amount`` outside ``[0, 1]``.
    """
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be the fraction of weights to prune, in [0, 1]; got {amount!r}.")
    pairs = _prunable(model)
    prune.global_unstructured(pairs, pruning_method=prune.L1Unstructured, amount=float(amount))
    if make_permanent:
        for m, name in pairs:
            prune.remove(m, name)
    return model


@torch.no_grad()
def sparsity(model: nn.Module) -> float:
    """Fraction of Linear/Conv weights that are exactly zero."""
    ws = [getattr(m, n) for m, n in _prunable(model)]
    return sum(int((w == 0).sum()) for w in ws) / sum(w.numel() for w in ws)


@torch.no_grad()
def pruning_curve(model: nn.Module, X: torch.Tensor, y: torch.Tensor, amounts: Sequence[float]
                  ) -> dict[str, np.ndarray]:
    """Prune copies of ``model`` to each fraction in ``amounts``; return sparsity and accuracy on ``(X, y)``.

    Returns ``{"amount", "sparsity", "accuracy"}`` (NumPy arrays); ``model`` itself is untouched.
    """
    from .train import evaluate

    amounts = list(amounts)
    if not amounts:
        raise ValueError("amounts is empty: pass fractions such as [0.5, 0.9, 0.99].")
    sp, acc = [], []
    for a in amounts:
        m = prune_global(copy.deepcopy(model), a)
        sp.append(sparsity(m))
        acc.append(evaluate(m, X, y)[0])
    return {"amount": np.asarray(amounts, dtype=float), "sparsity": np.asarray(sp), "accuracy": np.asarray(acc)}
