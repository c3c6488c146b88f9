"""Learning-rate schedules: the real ``torch.optim.lr_scheduler`` objects, built by name and traced.

Three pieces, used by Part IV of the book:

* :func:`make_scheduler` builds a real PyTorch scheduler from a short name and keyword
  arguments (``make_scheduler("exponential", opt, gamma=0.9)``), so a page or a sweep can
  name its schedule in a table.
* :func:`lr_trace` records the learning rate that the optimizer *uses* at every step of a
  run, by stepping the real scheduler on a one-parameter dummy optimizer.  OneCycleLR and
  CyclicLR are stepped once per mini-batch (they count iterations), every other scheduler
  once per epoch, and ReduceLROnPlateau is fed a recorded validation-loss curve.
* :func:`step_interval` is the one rule for *when* a scheduler is stepped, used by this tracer
  and by the training loop (:func:`course_utils.train.fit`);
* :func:`explorer` is an ipywidgets slider panel over the traces (the static figure is
  :func:`course_utils.plotting.plot_traces`).

Training with a batch size that changes between phases (the "increase the batch size instead
of decaying the rate" experiment) is ``train.train_model(..., phases=...)``.

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
from typing import Callable, Sequence

import numpy as np
import torch
from torch.optim import lr_scheduler as lrs

__all__ = ["SCHEDULERS", "PER_BATCH", "InverseDecay", "LinearWarmup", "make_scheduler", "is_per_batch",
           "step_interval", "lr_trace", "explorer"]


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


def step_interval(scheduler, interval: str | None = None) -> str | None:
    """When a training loop steps ``scheduler``: ``"step"`` (after every ``optimizer.step()``) or ``"epoch"``.

    ``interval`` forces one of the two; by default the schedulers that count mini-batches
    (:func:`is_per_batch`) are stepped per step and every other one per epoch.
    ``ReduceLROnPlateau`` is always stepped per epoch (it needs the validation loss).

    Returns:
        ``"step"``, ``"epoch"``, or ``None`` when there is no scheduler.

    Raises:
        ValueError: ``interval`` is not ``"step"``, ``"epoch"`` or ``None``.
    """
    if interval not in (None, "step", "epoch"):
        raise ValueError(f"interval must be 'step', 'epoch' or None (automatic), got {interval!r}.")
    if scheduler is None:
        return None
    if isinstance(scheduler, lrs.ReduceLROnPlateau):
        return "epoch"
    return interval or ("step" if is_per_batch(scheduler) else "epoch")


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
    step_interval(None, interval)  # checks the name
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
    per_step = step_interval(sched, interval) == "step"
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
            if per_step:
                sched.step()
        if plateau:
            sched.step(float(val_losses[epoch]))
        elif not per_step:
            sched.step()
    return out


# ----------------------------------------------------------------------------- the explorer
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

    from .plotting import plot_traces

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
