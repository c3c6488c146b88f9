"""Learning-rate schedules: the real ``torch.optim.lr_scheduler`` objects, built by name and traced.

Three pieces, used by Part IV of the book:

* :func:`make_scheduler` builds a real PyTorch scheduler from a short name and keyword
  arguments (``make_scheduler("exponential", opt, gamma=0.9)``), so a page or a sweep can
  name its schedule in a table.
* :func:`lr_trace` records the learning rate that the optimizer *uses* at every step of a
  run, by stepping the real scheduler on a one-parameter dummy optimizer.  OneCycleLR and
  CyclicLR are stepped once per mini-batch (they count iterations), every other scheduler
  once per epoch, and ReduceLROnPlateau is fed a recorded validation-loss curve.
* :func:`plot_traces` and :func:`explorer` draw them (a static figure and an ipywidgets
  slider panel).

:func:`train_batch_schedule` trains with a batch size that changes between phases (the
"increase the batch size instead of decaying the rate" experiment); it keeps the
conventions of :func:`course_utils.train.train_model` (best-validation weights, cached result).

The learning rate of epoch :math:`t` for the classic schedules (:math:`\\eta_0` the base rate):

.. math::

    \\text{exponential: } \\eta_t = \\eta_0\\,\\gamma^t, \\qquad
    \\text{inverse: } \\eta_t = \\frac{\\eta_0}{1 + k t}, \\qquad
    \\text{cosine: } \\eta_t = \\eta_{\\min} + \\tfrac12(\\eta_0-\\eta_{\\min})\\bigl(1+\\cos\\tfrac{\\pi t}{T_{\\max}}\\bigr).

References: Smith (2017) *Cyclical learning rates*; Smith & Topin (2018) *Super-convergence*;
Loshchilov & Hutter (2016) *SGDR*; Smith et al. (2017) *Don't decay the learning rate, increase
the batch size*.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch.optim import lr_scheduler as lrs

__all__ = ["SCHEDULERS", "PER_BATCH", "InverseDecay", "LinearWarmup", "make_scheduler", "is_per_batch",
           "lr_trace", "plot_traces", "explorer", "train_batch_schedule"]


# ----------------------------------------------------------------------------- picklable lambdas
@dataclasses.dataclass(frozen=True)
class InverseDecay:
    """Multiplier :math:`1/(1+k t)` for ``LambdaLR``: :math:`\\eta_t = \\eta_0/(1+kt)`.

    A small class instead of a ``lambda`` so that it has a readable ``repr`` (cache keys)
    and its parameters travel in ``LambdaLR.state_dict()`` (checkpoints).
    """

    k: float

    def __call__(self, t: int) -> float:
        return 1.0 / (1.0 + self.k * t)


@dataclasses.dataclass(frozen=True)
class LinearWarmup:
    """Multiplier of a linear warm-up for ``LambdaLR``, the same curve as ``LinearLR``.

    .. math::  f(t) = s + (e - s)\\,\\frac{\\min(t, T)}{T}

    with :math:`s` = ``start_factor``, :math:`e` = ``end_factor``, :math:`T` = ``total_iters``.
    """

    start_factor: float = 1.0 / 3
    end_factor: float = 1.0
    total_iters: int = 5

    def __call__(self, t: int) -> float:
        return self.start_factor + (self.end_factor - self.start_factor) * min(t, self.total_iters) / self.total_iters


# ----------------------------------------------------------------------------- registry
def _constant(opt, **kw):
    return lrs.ConstantLR(opt, factor=1.0, total_iters=0, **kw)


def _halving(opt, step_size: int = 1, **kw):
    return lrs.StepLR(opt, step_size=step_size, gamma=0.5, **kw)


def _inverse(opt, k: float = 0.1, **kw):
    return lrs.LambdaLR(opt, InverseDecay(float(k)), **kw)


def _lambda_warmup(opt, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5, **kw):
    return lrs.LambdaLR(opt, LinearWarmup(float(start_factor), float(end_factor), int(total_iters)), **kw)


#: Names accepted by :func:`make_scheduler` and the constructor each one calls.
SCHEDULERS: dict[str, Callable] = {
    "constant": _constant,
    "step": lrs.StepLR,
    "multistep": lrs.MultiStepLR,
    "halving": _halving,
    "exponential": lrs.ExponentialLR,
    "inverse": _inverse,
    "lambda": lrs.LambdaLR,
    "cosine": lrs.CosineAnnealingLR,
    "linear_warmup": lrs.LinearLR,
    "lambda_warmup": _lambda_warmup,
    "polynomial": lrs.PolynomialLR,
    "cosine_restarts": lrs.CosineAnnealingWarmRestarts,
    "onecycle": lrs.OneCycleLR,
    "cyclic": lrs.CyclicLR,
    "plateau": lrs.ReduceLROnPlateau,
}

#: Schedulers that count mini-batches, not epochs: call ``step()`` after every ``optimizer.step()``.
PER_BATCH = (lrs.OneCycleLR, lrs.CyclicLR)


def is_per_batch(scheduler) -> bool:
    """True for schedulers that must be stepped once per mini-batch (OneCycleLR, CyclicLR)."""
    return isinstance(scheduler, PER_BATCH)


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, **kw):
    """Build the real ``torch.optim.lr_scheduler`` object called ``name``.

    Args:
        name: one of :data:`SCHEDULERS` (case and ``-`` vs ``_`` do not matter), e.g.
            ``"exponential"`` (``gamma``), ``"step"`` (``step_size``, ``gamma``), ``"halving"``
            (``step_size``), ``"inverse"`` (``k``), ``"cosine"`` (``T_max``, ``eta_min``),
            ``"linear_warmup"`` / ``"lambda_warmup"`` (``start_factor``, ``end_factor``,
            ``total_iters``), ``"cosine_restarts"`` (``T_0``, ``T_mult``), ``"onecycle"``
            (``max_lr``, ``total_steps``), ``"cyclic"`` (``base_lr``, ``max_lr``,
            ``step_size_up``), ``"plateau"`` (``factor``, ``patience``).
        optimizer: the optimizer whose ``lr`` the scheduler drives.
        **kw: the scheduler's own keyword arguments (see the PyTorch documentation).

    Returns:
        The scheduler instance.

    Raises:
        ValueError: unknown name (the message lists the valid ones) or arguments the
            scheduler rejects (the message names the scheduler and its error).
        TypeError: ``optimizer`` is not a ``torch.optim.Optimizer``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string such as 'cosine', got {type(name).__name__}.")
    key = name.strip().lower().replace("-", "_")
    if key not in SCHEDULERS:
        raise ValueError(f"Unknown schedule {name!r}. Valid names: {', '.join(SCHEDULERS)}.")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}; "
                        f"build it first, e.g. torch.optim.SGD(model.parameters(), lr=0.1).")
    try:
        return SCHEDULERS[key](optimizer, **kw)
    except (TypeError, ValueError, ZeroDivisionError) as e:
        raise ValueError(f"Could not build the {key!r} schedule with arguments {kw}: {e}") from e


# ----------------------------------------------------------------------------- tracing
def _dummy_optimizer(lr: float, optimizer: str) -> torch.optim.Optimizer:
    p = torch.nn.Parameter(torch.zeros(1))
    if optimizer == "sgd":
        return torch.optim.SGD([p], lr=lr, momentum=0.9)
    if optimizer == "adam":
        return torch.optim.Adam([p], lr=lr)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")


def lr_trace(schedule: str | Callable, epochs: int, *, steps_per_epoch: int = 1, lr: float = 0.1,
             val_losses: Sequence[float] | None = None, interval: str | None = None,
             record: str = "lr", optimizer: str = "sgd", **kw) -> np.ndarray:
    """Learning rate used at every step of a run, from the real scheduler.

    A one-parameter SGD (momentum 0.9) or Adam optimizer with learning rate ``lr`` is
    wrapped by the scheduler; at each of ``epochs * steps_per_epoch`` steps we record the
    rate in ``param_groups[0]`` (the rate that step's update uses), call ``optimizer.step()``
    and then ``scheduler.step()`` -- after every step for OneCycleLR/CyclicLR, after the
    last step of each epoch otherwise.  ReduceLROnPlateau is stepped with ``val_losses[e]``
    at the end of epoch ``e``.

    Args:
        schedule: a name for :func:`make_scheduler` or a callable ``optimizer -> scheduler``.
        epochs: number of epochs to trace.
        steps_per_epoch: mini-batches per epoch.
        lr: the optimizer's initial learning rate (the schedules' :math:`\\eta_0`).
        val_losses: one validation loss per epoch (required for ``"plateau"``).
        interval: force ``"step"`` or ``"epoch"`` stepping (default: automatic, see above).
            ``interval="epoch"`` with OneCycleLR reproduces the common bug of stepping it per epoch.
        record: ``"lr"`` or ``"momentum"`` (SGD's momentum, or Adam's :math:`\\beta_1`).
        optimizer: ``"sgd"`` or ``"adam"`` for the dummy optimizer.
        **kw: the scheduler's arguments.  For ``"onecycle"`` by name, ``total_steps``
            defaults to ``epochs * steps_per_epoch``.

    Returns:
        ``np.ndarray`` of shape ``(epochs * steps_per_epoch,)``.

    Raises:
        ValueError: non-positive ``epochs``/``steps_per_epoch``, a missing or too short
            ``val_losses`` for ReduceLROnPlateau, an unknown ``interval``/``record``, or
            the errors of :func:`make_scheduler`.
    """
    for arg, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{arg} must be a positive integer, got {v!r}.")
    if interval not in (None, "step", "epoch"):
        raise ValueError(f"interval must be 'step', 'epoch' or None (automatic), got {interval!r}.")
    if record not in ("lr", "momentum"):
        raise ValueError(f"record must be 'lr' or 'momentum', got {record!r}.")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    opt = _dummy_optimizer(float(lr), optimizer)
    total = int(epochs) * int(steps_per_epoch)
    if isinstance(schedule, str):
        if schedule.strip().lower() == "onecycle" and not {"total_steps", "epochs"} & kw.keys():
            kw = {**kw, "total_steps": total}
        sched = make_scheduler(schedule, opt, **kw)
    elif callable(schedule):
        if kw:
            raise ValueError(f"Keyword arguments {sorted(kw)} are only used with a schedule name; "
                             f"put them inside your factory instead.")
        sched = schedule(opt)
    else:
        raise TypeError(f"schedule must be a name ({', '.join(SCHEDULERS)}) or a callable "
                        f"optimizer -> scheduler, got {type(schedule).__name__}.")
    plateau = isinstance(sched, lrs.ReduceLROnPlateau)
    if plateau:
        if val_losses is None or len(val_losses) < epochs:
            n = 0 if val_losses is None else len(val_losses)
            raise ValueError(f"ReduceLROnPlateau needs one validation loss per epoch: got {n} values for "
                             f"{epochs} epochs. Pass val_losses=result.val_loss from a training run.")
    per_step = (interval or ("step" if is_per_batch(sched) else "epoch")) == "step"
    group = opt.param_groups[0]
    out = np.empty(total)
    i = 0
    for epoch in range(int(epochs)):
        for _ in range(int(steps_per_epoch)):
            if record == "lr":
                out[i] = group["lr"]
            else:
                out[i] = group["momentum"] if "momentum" in group else group["betas"][0]
            i += 1
            opt.step()  # no gradient: changes nothing, but keeps torch's call-order check happy
            if per_step and not plateau:
                sched.step()
        if plateau:
            sched.step(float(val_losses[epoch]))
        elif not per_step:
            sched.step()
    return out


# ----------------------------------------------------------------------------- drawing
def plot_traces(traces: Mapping[str, np.ndarray], *, ax=None, steps_per_epoch: int = 1, title: str = "",
                ylabel: str = "learning rate", logy: bool = False, drawstyle: str = "steps-post"):
    """Draw learning-rate traces against epochs (a trace of ``E * steps_per_epoch`` values).

    Args:
        traces: ``{label: trace}`` as returned by :func:`lr_trace`.
        ax: matplotlib axes (default: a new figure).
        steps_per_epoch: to put the x axis in epochs (fractional within an epoch).
        title, ylabel: labels.
        logy: logarithmic y axis.
        drawstyle: matplotlib draw style (``"steps-post"`` shows that a rate holds for a whole step).

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for label, tr in traces.items():
        tr = np.asarray(tr)
        x = np.arange(len(tr)) / steps_per_epoch
        ax.plot(x, tr, label=label, drawstyle=drawstyle)
    ax.set(xlabel="epoch" if steps_per_epoch == 1 else f"epoch ({steps_per_epoch} steps each)",
           ylabel=ylabel, title=title)
    if logy:
        ax.set_yscale("log")
    if len(traces) > 1:
        ax.legend(fontsize=8)
    return ax


#: Slider ranges of :func:`explorer`: name -> {argument: (min, max, step, default)}.
EXPLORER_PARAMS: dict[str, dict[str, tuple]] = {
    "exponential": {"gamma": (0.5, 0.99, 0.01, 0.9)},
    "step": {"step_size": (1, 10, 1, 5), "gamma": (0.1, 0.9, 0.05, 0.5)},
    "inverse": {"k": (0.0, 1.0, 0.02, 0.2)},
    "cosine": {"T_max": (2, 30, 1, 20), "eta_min": (0.0, 0.05, 0.005, 0.0)},
    "linear_warmup": {"start_factor": (0.01, 1.0, 0.01, 0.1), "total_iters": (1, 10, 1, 3)},
    "cosine_restarts": {"T_0": (1, 10, 1, 2), "T_mult": (1, 3, 1, 2)},
    "onecycle": {"max_lr": (0.05, 1.0, 0.05, 0.1), "pct_start": (0.05, 0.95, 0.05, 0.3),
                 "div_factor": (2.0, 50.0, 1.0, 25.0)},
    "cyclic": {"max_lr": (0.05, 1.0, 0.05, 0.1), "step_size_up": (10, 200, 10, 100)},
    "plateau": {"factor": (0.1, 0.9, 0.1, 0.5), "patience": (0, 5, 1, 1)},
}


def explorer(epochs: int = 20, steps_per_epoch: int = 50, lr: float = 0.1,
             val_losses: Sequence[float] | None = None):
    """An ipywidgets panel: pick a schedule, move its sliders, see the real scheduler's curve.

    Needs a live kernel to redraw; in the static book the widgets are shown with the state
    they were saved in.  ``val_losses`` (one per epoch) drives ``"plateau"``; by default a
    synthetic curve that stops improving after a third of the run.

    Returns:
        The ``ipywidgets.VBox`` (display it, or end a notebook cell with it).
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    if val_losses is None:
        t = np.arange(epochs)
        val_losses = 0.3 + 0.5 * np.exp(-t / 2) + 0.01 * np.maximum(0, t - epochs / 3)
    choice = w.Dropdown(options=list(EXPLORER_PARAMS), value="onecycle", description="schedule")
    box = w.VBox()
    out = w.Output()

    def sliders_for(name):
        ss = {}
        for arg, (lo, hi, step, default) in EXPLORER_PARAMS[name].items():
            cls = w.IntSlider if isinstance(default, int) else w.FloatSlider
            ss[arg] = cls(value=default, min=lo, max=hi, step=step, description=arg, continuous_update=False)
        return ss

    def draw(*_):
        sliders = box.children[1:-1]
        kw = {s.description: s.value for s in sliders}
        name = choice.value
        extra = {}
        if name == "cyclic":
            extra["base_lr"] = lr / 10
        with out:
            out.clear_output(wait=True)
            try:
                tr = lr_trace(name, epochs, steps_per_epoch=steps_per_epoch, lr=lr, val_losses=val_losses,
                              **kw, **extra)
            except ValueError as e:
                print(e)
                return
            fig, ax = plt.subplots(figsize=(6, 3))
            plot_traces({name: tr}, ax=ax, steps_per_epoch=steps_per_epoch,
                        title=f"{name}: " + ", ".join(f"{k}={v:g}" for k, v in kw.items()))
            plt.show()

    def rebuild(*_):
        ss = sliders_for(choice.value)
        for s in ss.values():
            s.observe(draw, names="value")
        box.children = [choice, *ss.values(), out]
        draw()

    choice.observe(rebuild, names="value")
    rebuild()
    return box


# ----------------------------------------------------------------------------- batch-size schedules
def train_batch_schedule(model: torch.nn.Module, optimizer_fn, data, *, phases: Sequence[tuple[int, int, float]],
                         seed: int = 42, device=None, cache_dir: str | Path | None = None, use_cache: bool = True):
    """Train through ``phases`` of ``(epochs, batch_size, lr_factor)``; return a ``TrainResult``.

    Phase ``i`` runs ``epochs`` epochs with mini-batches of ``batch_size`` and the learning
    rate of every parameter group set to ``lr_factor`` times its initial value.  Decaying
    the rate is ``[(2, 128, 1), (2, 128, .5)]``; increasing the batch size instead is
    ``[(2, 128, 1), (2, 256, 1)]``.  Like :func:`~course_utils.train.train_model` it keeps the
    weights of the best validation epoch, evaluates them on the test set, and caches the
    result on disk (``TrainResult.lr`` holds each epoch's rate; the batch sizes are in the phases).

    Raises:
        ValueError: empty ``phases`` or a phase that is not ``(positive int, positive int, positive number)``.
    """
    from . import train as _train
    from ._io import atomic_torch_save
    from .checkpoint import train_epochs
    from .config import cache_dir as _cache_dir, default_device, ensure_writable

    phases = [tuple(p) for p in phases]
    if not phases:
        raise ValueError("phases is empty: pass e.g. [(2, 128, 1.0), (2, 256, 1.0)].")
    for p in phases:
        if (len(p) != 3 or not isinstance(p[0], int) or p[0] <= 0 or not isinstance(p[1], int) or p[1] <= 0
                or not isinstance(p[2], (int, float)) or p[2] <= 0):
            raise ValueError(f"Each phase must be (epochs: positive int, batch_size: positive int, "
                             f"lr_factor: positive number); got {p!r}.")
    dev = default_device(device)
    data = data.to(dev) if data.device != dev else data
    model.to(dev)
    optimizer = optimizer_fn(model.parameters())
    epochs = sum(p[0] for p in phases)
    key, _ = _train.config_key(model, optimizer, data, epochs=epochs, batch_size=phases[0][1], seed=seed,
                               device=dev, extra={"phases": [list(p) for p in phases]})
    path = None
    if use_cache:
        folder = Path(cache_dir) if cache_dir is not None else _cache_dir("runs", create=False)
        ensure_writable(folder)
        path = folder / f"phases-{key}.pt"
        hit = _train._load_cached(path, model, dev)
        if hit is not None:
            return hit
    base = [g["lr"] for g in optimizer.param_groups]
    gen = torch.Generator().manual_seed(seed)
    hist: dict[str, list] = {}
    best = {"acc": -1.0, "epoch": 0, "state": None}

    def keep_best(epoch, record):
        if record["val_acc"] > best["acc"]:
            best.update(acc=record["val_acc"], epoch=epoch,
                        state={k: v.detach().clone() for k, v in model.state_dict().items()})

    import time

    t0 = time.perf_counter()
    done = 0
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        for n_ep, bs, factor in phases:
            for g, b in zip(optimizer.param_groups, base):
                g["lr"] = b * factor
            h = train_epochs(model, optimizer, data, epochs=n_ep, batch_size=bs, generator=gen,
                             start_epoch=done, on_epoch_end=keep_best)
            for k, v in h.items():
                hist.setdefault(k, []).extend(v)
            done += n_ep
    seconds = time.perf_counter() - t0
    model.load_state_dict(best["state"])
    test_acc, _ = _train.evaluate(model, *data.test)
    result = _train.TrainResult(test_acc=test_acc, train_acc=hist["train_acc"], val_acc=hist["val_acc"],
                                train_loss=hist["train_loss"], val_loss=hist["val_loss"], lr=hist["lr"],
                                best_epoch=best["epoch"], seconds=seconds, device=str(dev), epochs=epochs,
                                seed=seed, key=key)
    if path is not None:
        atomic_torch_save({"result": result.to_dict(), "state_dict": best["state"]}, path)
    return result
