"""Per-layer statistics of a network as plain data (compute here, draw in :mod:`course_utils.plotting`).

Every function returns an ordered ``dict`` that maps a layer label such as
``"1: 784→512"`` to a 1-D NumPy array of values (weights, gradients or
activations), so a table or a histogram can be made from it without touching
the model again.  Forward hooks live only inside :func:`record_outputs`.

What theory predicts for these values (the variance recurrences) is in :mod:`course_utils.theory`;
statistics over runs and seeds (:func:`~course_utils.significance.mean_ci`, tests) in :mod:`course_utils.significance`.

The last section scores *predicted probabilities* against labels: :func:`nll` (the mean negative
log-likelihood), :func:`expected_calibration_error` (how far confidence is from accuracy) and
:func:`auroc` (how well a score, e.g. the predictive entropy, separates two groups such as errors from
correct predictions).  They take tensors or arrays and return plain floats.  :func:`bootstrap_interval`
resamples the examples to put an interval on any of them, or on the difference of two predictors
scored on the same examples.  :func:`fit_temperature` (with :func:`softmax_t`) is temperature scaling,
the one-parameter recalibration that any other uncertainty method has to beat, and
:func:`mutual_information` the disagreement part of MC dropout's uncertainty; :func:`score_predictions`
scores several predictors of the same examples at once.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["layer_label", "record_outputs", "activation_stats", "weight_stats", "gradient_stats",
           "variances", "dead_unit_fraction", "activation_stats_per_unit",
           "nll", "expected_calibration_error", "reliability_bins", "auroc", "bootstrap_interval",
           "mutual_information", "fit_temperature", "softmax_t", "entropy", "log_probs", "score_predictions", "predict_probs",
           "temperature_scaled"]


def layer_label(i: int, layer: nn.Linear) -> str:
    """``"3: 256→128"`` — 1-based index and shape of a Linear layer."""
    return f"{i}: {layer.in_features}→{layer.out_features}"


def _linears(model: nn.Module) -> list[nn.Linear]:
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not lins:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layers; these statistics are per Linear layer.")
    return lins


@contextlib.contextmanager
def record_outputs(modules: Sequence[nn.Module]) -> Iterator[list[torch.Tensor | None]]:
    """Record the output of each module during forward passes inside the ``with`` block.

    Yields a list (one slot per module) that the hooks fill; the hooks are
    removed when the block ends, also on an exception.
    """
    outputs: list[torch.Tensor | None] = [None] * len(modules)
    handles = []
    for i, m in enumerate(modules):
        def hook(_m, _inp, out, i=i):
            outputs[i] = out.detach()
        handles.append(m.register_forward_hook(hook))
    try:
        yield outputs
    finally:
        for h in handles:
            h.remove()


def _as_batch(x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor batch, got {type(x).__name__}.")
    if x.dim() < 2:
        raise ValueError(f"x must be a batch with a leading batch dimension, got shape {tuple(x.shape)}.")
    p = next(model.parameters(), None)
    return x.to(p.device) if p is not None else x


@torch.no_grad()
def activation_stats(model: nn.Module, x: torch.Tensor, *, after_activation: bool = False
                     ) -> dict[str, np.ndarray]:
    """Outputs of every ``nn.Linear`` layer of ``model`` for the batch ``x``, flattened.

    Args:
        model: any module with ``nn.Linear`` layers (evaluated in ``eval`` mode).
        x: a batch, e.g. ``(1024, 1, 28, 28)``.
        after_activation: record what the *next* module (the activation) outputs
            instead of the Linear output; for the output layer the logits are kept.

    Returns:
        ``{"1: 784→512": array of B*512 values, ...}``.
    """
    x = _as_batch(x, model)
    lins = _linears(model)
    targets: list[nn.Module] = lins
    if after_activation:
        mods = list(model.modules())
        targets = []
        for lin in lins:
            i = next(k for k, m in enumerate(mods) if m is lin)
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            targets.append(nxt if nxt is not None and not isinstance(nxt, nn.Linear) else lin)
    was = model.training
    model.eval()
    try:
        with record_outputs(targets) as outs:
            model(x)
    finally:
        model.train(was)
    return {layer_label(i + 1, lin): o.reshape(-1).float().cpu().numpy() for i, (lin, o) in
            enumerate(zip(lins, outs))}


def weight_stats(model: nn.Module) -> dict[str, np.ndarray]:
    """Weight values of every ``nn.Linear`` layer (biases excluded)."""
    return {layer_label(i + 1, lin): lin.weight.detach().reshape(-1).float().cpu().numpy()
            for i, lin in enumerate(_linears(model))}


def gradient_stats(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   loss_fn: Callable = F.cross_entropy) -> dict[str, np.ndarray]:
    """Gradients of the loss on ``(x, y)`` w.r.t. every Linear layer's weight (eval mode).

    The model's existing ``.grad`` fields are left as they were.
    """
    x = _as_batch(x, model)
    y = y.to(x.device)
    lins = _linears(model)
    params = [lin.weight for lin in lins]
    was = model.training
    model.eval()
    try:
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, params)
    finally:
        model.train(was)
    return {layer_label(i + 1, lin): g.reshape(-1).float().cpu().numpy()
            for i, (lin, g) in enumerate(zip(lins, grads))}


def variances(stats: dict[str, np.ndarray]) -> dict[str, float]:
    """Population variance of each layer's values (``np.var``, as the sources print it)."""
    return {k: float(np.var(v.astype(np.float64))) for k, v in stats.items()}


@torch.no_grad()
def dead_unit_fraction(model: nn.Module, x: torch.Tensor, *, threshold: float = 0.0) -> dict[str, float]:
    """Fraction of hidden units that never output more than ``threshold`` on the batch ``x``.

    A unit is *dead* when its activation (the output of the module that follows each hidden
    ``nn.Linear``) is ``<= threshold`` for every sample: for ReLU that means it is 0 on all
    inputs, so it receives no gradient and cannot recover.  Use a large batch (e.g. 10,000
    validation images) so that "never" is meaningful.

    Returns:
        ``{layer label: fraction of dead units}`` for each hidden layer (the output layer is skipped).
    """
    acts = activation_stats_per_unit(model, x)
    return {k: float((a.max(dim=0).values <= threshold).float().mean()) for k, a in acts.items()}


@torch.no_grad()
def activation_stats_per_unit(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Post-activation outputs of each hidden layer as ``(B, units)`` CPU tensors."""
    x = _as_batch(x, model)
    lins = _linears(model)
    mods = list(model.modules())
    targets, labels = [], []
    for i, lin in enumerate(lins[:-1]):
        k = next(j for j, m in enumerate(mods) if m is lin)
        nxt = mods[k + 1] if k + 1 < len(mods) else lin
        targets.append(lin if isinstance(nxt, nn.Linear) else nxt)
        labels.append(layer_label(i + 1, lin))
    was = model.training
    model.eval()
    try:
        with record_outputs(targets) as outs:
            model(x)
    finally:
        model.train(was)
    return {lab: o.reshape(o.shape[0], -1).float().cpu() for lab, o in zip(labels, outs)}


# ----------------------------------------------------------------------------- predicted probabilities
def _probs_labels(probs, y, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """``probs`` (N, C) rows on the simplex and integer labels ``y`` (N,) in ``0..C-1``, as float64/int64 arrays."""
    p = (probs.detach().cpu().numpy() if isinstance(probs, torch.Tensor) else np.asarray(probs)).astype(np.float64)
    t = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(f"{fn}: probs must have shape (N, C) with N >= 1 examples and C >= 2 classes, "
                         f"got {p.shape}. Pass softmax probabilities, one row per example.")
    if t.shape != (p.shape[0],):
        raise ValueError(f"{fn}: y must have shape ({p.shape[0]},), one label per row of probs; got {t.shape}.")
    if not np.issubdtype(t.dtype, np.integer) and not np.all(np.mod(t, 1) == 0):
        raise ValueError(f"{fn}: y must hold integer class labels, got values such as {t[:3]}.")
    t = t.astype(np.int64)
    if t.min() < 0 or t.max() >= p.shape[1]:
        raise ValueError(f"{fn}: labels must lie in 0..{p.shape[1] - 1} (C = {p.shape[1]} columns of probs), "
                         f"got {t.min()}..{t.max()}.")
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1 + 1e-6:
        raise ValueError(f"{fn}: probs must be finite and in [0, 1]; got {np.nanmin(p):.3g}..{np.nanmax(p):.3g}. "
                         "Did you pass logits? Apply softmax first.")
    worst = float(np.abs(p.sum(1) - 1).max())
    if worst > 1e-3:
        raise ValueError(f"{fn}: each row of probs must sum to 1 (largest deviation {worst:.3g}). "
                         "Did you pass logits or unnormalised scores? Apply softmax first.")
    return p, t


def nll(probs, y, *, eps: float = 1e-12) -> float:
    r"""Mean negative log-likelihood of the labels under the predicted probabilities (nats).

    .. math::
        \mathrm{NLL} = -\frac1N\sum_{i=1}^{N} \ln \hat p_{i, y_i}

    For softmax outputs it equals ``F.cross_entropy`` on the logits; probabilities below ``eps``
    are raised to ``eps`` so that one confident error gives a large but finite value.

    Args:
        probs: ``(N, C)`` probabilities (rows sum to 1), tensor or array.
        y: ``(N,)`` integer labels.
        eps: floor applied to the probability of the true class.
    """
    p, t = _probs_labels(probs, y, "nll")
    return float(-np.log(np.maximum(p[np.arange(len(t)), t], eps)).mean())


def reliability_bins(probs, y, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Confidence (the top probability) against accuracy in ``n_bins`` equal-width bins of confidence.

    Bin ``b`` holds the examples with confidence in ``(b/n_bins, (b+1)/n_bins]`` (the first bin also
    takes 0).  Empty bins have count 0 and NaN confidence and accuracy.

    Returns:
        ``{"lower", "upper", "count", "confidence", "accuracy"}``, one entry per bin.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    p, t = _probs_labels(probs, y, "reliability_bins")
    conf = p.max(1)
    hit = (p.argmax(1) == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)  # (b/n, (b+1)/n] -> b
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        acc = np.bincount(idx, weights=hit, minlength=n_bins) / count
    return {"lower": edges[:-1], "upper": edges[1:], "count": count, "confidence": mean_conf, "accuracy": acc}


def expected_calibration_error(probs, y, n_bins: int = 15) -> float:
    r"""Expected calibration error: the count-weighted gap between confidence and accuracy per bin.

    .. math::
        \mathrm{ECE} = \sum_{b=1}^{B} \frac{|S_b|}{N}\,\bigl|\operatorname{acc}(S_b) - \operatorname{conf}(S_b)\bigr|

    with :math:`S_b` the examples whose top probability falls into the :math:`b`-th of :math:`B`
    equal-width bins (:func:`reliability_bins`; Guo et al. 2017, "On calibration of modern neural
    networks", use :math:`B = 15`).  A fraction in ``[0, 1]``: 0 when, in every bin, the share of
    correct predictions equals their mean confidence.
    """
    b = reliability_bins(probs, y, n_bins)
    full = b["count"] > 0
    n = b["count"].sum()
    return float(np.sum(b["count"][full] / n * np.abs(b["accuracy"][full] - b["confidence"][full])))


def auroc(scores, positive) -> float:
    """Area under the ROC curve: the chance that a random positive example scores above a random negative one.

    Ties count one half (the Mann-Whitney statistic divided by ``n_pos * n_neg``), so ``0.5`` means
    the score does not separate the groups and ``1.0`` that it separates them perfectly.  To ask
    whether an uncertainty flags errors, pass the uncertainty as ``scores`` and ``positive = prediction
    is wrong``.

    Args:
        scores: ``(N,)`` real numbers, higher meaning "more likely positive".
        positive: ``(N,)`` booleans (or 0/1), the group each example belongs to.

    Raises:
        ValueError: shapes differ, scores are not finite, labels are not 0/1, or one group is empty.
    """
    from scipy.stats import rankdata

    s = (scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)).astype(np.float64)
    pos = positive.detach().cpu().numpy() if isinstance(positive, torch.Tensor) else np.asarray(positive)
    if s.ndim != 1 or pos.shape != s.shape:
        raise ValueError(f"auroc: scores and positive must be 1-D of the same length, got {s.shape} and {pos.shape}.")
    if not np.isfinite(s).all():
        raise ValueError("auroc: scores must be finite (found NaN or inf).")
    if not np.isin(pos, (0, 1)).all():
        raise ValueError(f"auroc: positive must be booleans or 0/1, got values such as {np.unique(pos)[:5]}.")
    pos = pos.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"auroc needs examples of both groups, got {n_pos} positive and {n_neg} negative; "
                         "with no errors (or no correct predictions) there is nothing to separate.")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n: int, *, n_boot: int = 1000,
                       confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Percentile bootstrap over ``n`` examples: the statistic, and an interval for it.

    ``statistic(idx)`` computes the number from the examples ``idx`` (an integer array, with
    repeats).  It is called once on ``arange(n)`` for the estimate and ``n_boot`` times on indices
    drawn with replacement.  For two predictors scored on the same test images, let it return the
    *difference* of their metrics on ``idx``: the resampling is then paired, image by image.

    Returns:
        ``{"estimate", "lo", "hi", "n_boot"}``; ``lo``/``hi`` are the ``(1 ± confidence)/2`` quantiles.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be the number of examples (a positive integer), got {n!r}.")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 10:
        raise ValueError(f"n_boot must be an integer >= 10 (resamples; 1000 is usual), got {n_boot!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    rng = np.random.default_rng(seed)
    est = float(statistic(np.arange(n)))
    reps = np.array([float(statistic(rng.integers(0, n, n))) for _ in range(n_boot)])
    lo, hi = np.quantile(reps, [(1 - confidence) / 2, (1 + confidence) / 2])
    return {"estimate": est, "lo": float(lo), "hi": float(hi), "n_boot": int(n_boot)}


# ----------------------------------------------------------------------------- calibration baselines
def mutual_information(samples) -> np.ndarray:
    r"""Mutual information between the prediction and the sampled sub-network (BALD), per example, in nats.

    .. math::
        I(x) = H\Bigl(\frac1S\sum_{s} p_s(x)\Bigr) - \frac1S\sum_{s} H\bigl(p_s(x)\bigr), \qquad 0 \le I \le H

    the entropy of the averaged prediction minus the mean entropy of the single passes: the part of
    MC dropout's uncertainty that comes from the passes *disagreeing* (Houlsby et al. 2011, "BALD";
    Gal, Islam & Ghahramani 2017).  A pass that is unsure on its own adds to :math:`H` but not to
    :math:`I`.

    Args:
        samples: ``(S, N, C)`` sampled probabilities (``regularization.mc_sample_probs``), ``S >= 2``.

    Returns:
        ``(N,)`` float64 array.
    """
    p = (samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples))
    p = p.astype(np.float64)
    if p.ndim != 3:
        raise ValueError(f"mutual_information: samples must have shape (S, N, C), got {p.shape}.")
    if p.shape[0] < 2:
        raise ValueError(f"mutual_information needs at least 2 sampled passes (one pass cannot disagree with "
                         f"itself); got S = {p.shape[0]}.")
    if not np.isfinite(p).all() or p.min() < 0 or np.abs(p.sum(-1) - 1).max() > 1e-3:
        raise ValueError("mutual_information: samples must be probabilities (finite, >= 0, rows summing to 1); "
                         "apply softmax to logits first.")

    def ent(q):
        return -(q * np.log(np.maximum(q, 1e-300))).sum(-1)

    return np.maximum(ent(p.mean(0)) - ent(p).mean(0), 0.0)


def fit_temperature(logits, y, *, t_min: float = 0.05, t_max: float = 20.0, tol: float = 1e-6) -> float:
    r"""Temperature scaling (Guo et al. 2017): the one :math:`T > 0` minimising the NLL of ``softmax(z / T)``.

    .. math::
        T^\star = \arg\min_{T > 0}\; -\frac1N \sum_{i} \ln \operatorname{softmax}(z_i / T)_{y_i}

    Fit it on held-out logits (the validation set), never on the test set.  The NLL is convex in
    :math:`\beta = 1/T` (a log-sum-exp minus a linear function of :math:`\beta`), so a golden-section search
    on :math:`\ln T` finds the minimum.  Dividing by :math:`T` keeps the argmax: accuracy does not change.

    Args:
        logits: ``(N, C)`` logits (tensor or array).
        y: ``(N,)`` integer labels.
        t_min, t_max: the interval searched.
        tol: stop when the interval of :math:`\ln T` is shorter than this.

    Returns:
        ``T`` (``> 1``: the network was overconfident on these data, ``< 1``: underconfident).
    """
    z = (logits.detach().cpu().numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits)).astype(np.float64)
    t = (y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y))
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] < 2 or t.shape != (z.shape[0],):
        raise ValueError(f"fit_temperature: logits must be (N, C) with N >= 1, C >= 2 and y (N,); got {z.shape} "
                         f"and {t.shape}.")
    if not np.isfinite(z).all():
        raise ValueError("fit_temperature: logits must be finite.")
    if not 0 < t_min < t_max:
        raise ValueError(f"fit_temperature: need 0 < t_min < t_max, got {t_min!r} and {t_max!r}.")
    t = t.astype(np.int64)
    if t.min() < 0 or t.max() >= z.shape[1]:
        raise ValueError(f"fit_temperature: labels must lie in 0..{z.shape[1] - 1}, got {t.min()}..{t.max()}.")
    zy = z[np.arange(len(t)), t]

    def nll(log_t: float) -> float:
        b = np.exp(-log_t)
        m = (b * z).max(1)
        return float(np.mean(m + np.log(np.exp(b * z - m[:, None]).sum(1)) - b * zy))

    a, c_ = np.log(t_min), np.log(t_max)
    g = (np.sqrt(5.0) - 1) / 2
    lo, hi = c_ - g * (c_ - a), a + g * (c_ - a)
    f_lo, f_hi = nll(lo), nll(hi)
    while c_ - a > tol:
        if f_lo < f_hi:
            c_, hi, f_hi = hi, lo, f_lo
            lo = c_ - g * (c_ - a)
            f_lo = nll(lo)
        else:
            a, lo, f_lo = lo, hi, f_hi
            hi = a + g * (c_ - a)
            f_hi = nll(hi)
    return float(np.exp((a + c_) / 2))


def softmax_t(logits, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` as a float64 array ``(N, C)`` (for :func:`fit_temperature`'s ``T``)."""
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}.")
    z = (logits.detach().cpu().numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits)).astype(np.float64)
    z = z / temperature
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def entropy(probs) -> np.ndarray:
    r"""Predictive entropy of each row, :math:`H = -\sum_c p_c \ln p_c`, in nats (``(N, C)`` -> ``(N,)``, float64)."""
    p, _ = _probs_labels(probs, np.zeros(len(probs), dtype=np.int64), "entropy")
    return -(p * np.log(np.maximum(p, 1e-300))).sum(1)


def log_probs(probs, *, floor: float = 1e-300) -> np.ndarray:
    """``ln p`` of probabilities ``(N, C)`` as float64, floored at ``floor``: logits of any probabilistic
    prediction (``softmax(ln p) = p``), e.g. MC dropout's averaged probabilities, to temperature-scale it
    (:func:`fit_temperature`; "pool, then calibrate")."""
    p, _ = _probs_labels(probs, np.zeros(len(probs), dtype=np.int64), "log_probs")
    return np.log(np.maximum(p, floor))


def score_predictions(probs: Mapping[str, Any], y, *, uncertainty: Mapping[str, Any] | None = None,
                      n_bins: int = 15) -> dict[str, dict[str, float]]:
    """Accuracy, NLL, ECE and how well an uncertainty flags the errors, for several predictors of the same examples.

    Args:
        probs: ``{predictor: (N, C) probabilities}``.
        y: ``(N,)`` labels.
        uncertainty: ``{predictor: (N,) score}`` to rank the errors by (higher: less sure); a predictor
            without one is ranked by its :func:`entropy`.
        n_bins: bins of :func:`expected_calibration_error`.

    Returns:
        ``{predictor: {"accuracy (%)", "NLL (nats)", "ECE (%)", "AUROC"}}`` (AUROC: :func:`auroc` of the
        uncertainty for "the prediction is wrong").
    """
    out = {}
    for name, p in probs.items():
        p, t = _probs_labels(p, y, "score_predictions")
        wrong = p.argmax(1) != t
        u = (uncertainty or {}).get(name)
        u = entropy(p) if u is None else (u.detach().cpu().numpy() if isinstance(u, torch.Tensor) else np.asarray(u))
        out[name] = {"accuracy (%)": 100 * float((~wrong).mean()), "NLL (nats)": nll(p, t),
                     "ECE (%)": 100 * expected_calibration_error(p, t, n_bins), "AUROC": auroc(u, wrong)}
    return out


@torch.no_grad()
def predict_probs(model: nn.Module, X: torch.Tensor, *, batch_size: int = 4096) -> np.ndarray:
    """Softmax probabilities ``(N, C)`` of ``model`` on ``X`` in eval mode (dropout off), as float64.

    The model's train/eval state is restored afterwards.
    """
    was = model.training
    model.eval()
    try:
        out = torch.cat([torch.softmax(model(X[i:i + batch_size]).double(), -1) for i in range(0, len(X), batch_size)])
    finally:
        model.train(was)
    return out.cpu().numpy()


def temperature_scaled(probs_val, y_val, probs_test) -> tuple[np.ndarray, float]:
    r"""Temperature scaling of any probabilistic predictor: :math:`T` fitted on validation, applied to the test set.

    The log-probabilities serve as logits (:func:`log_probs`; for a softmax they differ from the logits by a
    constant per row, which the softmax ignores), so the same call recalibrates a single network, MC dropout's
    averaged prediction or an ensemble's ("pool, then calibrate": Rahaman & Thiery 2021).  The argmax, and with
    it the accuracy, is unchanged.

    Returns:
        ``(softmax(ln p_test / T), T)`` with ``T`` from :func:`fit_temperature` on ``(ln p_val, y_val)``.
    """
    t = fit_temperature(log_probs(probs_val), y_val)
    return softmax_t(log_probs(probs_test), t), t
