"""Exercises 04 — learning-rate schedules: curves of the real torch schedulers, the slider, the short-run check."""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ._core import CheckResult, FAIL, PASS, _not_callable, _not_yet, _one_thread, _raised, _report, _short_exc


#: schedule name -> optimizer, params -> torch scheduler (the real torch classes)
SCHEDULES = {
    "constant": lambda opt, P: torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0),
    "step (StepLR)": lambda opt, P: torch.optim.lr_scheduler.StepLR(opt, step_size=P["step_size"], gamma=P["gamma"]),
    "exponential": lambda opt, P: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=P["gamma"]),
    "cosine": lambda opt, P: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=P["T"]),
    "cosine warm restarts": lambda opt, P: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=P["T0"], T_mult=P["T_mult"]),
    "warm-up + cosine": lambda opt, P: torch.optim.lr_scheduler.SequentialLR(
        opt, [torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=max(P["warmup"], 1)),
              torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(P["T"] - P["warmup"], 1))],
        milestones=[max(P["warmup"], 1)]),
    "1cycle": lambda opt, P: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=P["max_lr"], total_steps=P["T"] + 1,
                                                                 pct_start=P["pct_start"]),
}

_SCHED_DEFAULTS = dict(step_size=10, gamma=0.9, T=50, T0=2, T_mult=2, warmup=5, max_lr=0.5, pct_start=0.3)


def schedule_lrs(make_scheduler: Callable, *, epochs: int = 50, lr: float = 0.1) -> np.ndarray:
    """Learning rate at each of ``epochs`` steps of ``make_scheduler(optimizer)`` (a real torch scheduler)."""
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def schedule_explorer():
    """Sliders over the parameters of torch's schedulers; redraws the learning-rate curves of the chosen ones."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import warnings

    def draw(schedules=("constant", "exponential", "1cycle"), lr=0.1, gamma=0.9, step_size=10, T=50, T0=2, T_mult=2,
             warmup=5, max_lr=0.5, pct_start=0.3):
        P = dict(gamma=gamma, step_size=step_size, T=T, T0=T0, T_mult=T_mult, warmup=min(warmup, T - 1),
                 max_lr=max_lr, pct_start=pct_start)
        fig, ax = plt.subplots(figsize=(7, 3.8))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in schedules:
                ax.plot(np.arange(T), schedule_lrs(lambda o: SCHEDULES[name](o, P), epochs=T, lr=lr), label=name)
        ax.set(xlabel="epoch", ylabel="learning rate", title="Learning rate per epoch")
        ax.legend(fontsize="small")
        plt.show()

    s = dict(continuous_update=False)
    return widgets.interact(
        draw,
        schedules=widgets.SelectMultiple(options=list(SCHEDULES), value=("constant", "exponential", "1cycle"),
                                         description="schedules", rows=len(SCHEDULES)),
        lr=widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=0, step=0.1, description="initial lr", **s),
        gamma=widgets.FloatSlider(value=0.9, min=0.5, max=0.99, step=0.01, description="γ (step/exp)", **s),
        step_size=widgets.IntSlider(value=10, min=1, max=30, description="step size", **s),
        T=widgets.IntSlider(value=50, min=10, max=100, description="epochs T", **s),
        T0=widgets.IntSlider(value=2, min=1, max=20, description="T₀ (restarts)", **s),
        T_mult=widgets.IntSlider(value=2, min=1, max=3, description="T_mult", **s),
        warmup=widgets.IntSlider(value=5, min=1, max=30, description="warm-up", **s),
        max_lr=widgets.FloatLogSlider(value=0.5, base=10, min=-2, max=0.5, step=0.1, description="max lr (1cycle)", **s),
        pct_start=widgets.FloatSlider(value=0.3, min=0.05, max=0.5, step=0.05, description="pct_start", **s))


def small_subset(data, n_train: int, *, n_val: int | None = None):
    """The same data object with only the first ``n_train`` training (and ``n_val`` validation) images."""
    if not (isinstance(n_train, int) and n_train > 0):
        raise ValueError(f"n_train must be a positive integer, got {n_train!r}.")
    X, y = data.train
    out = dataclasses.replace(data, train=(X[:n_train], y[:n_train]))
    if n_val is not None:
        Xv, yv = data.val
        out = dataclasses.replace(out, val=(Xv[:n_val], yv[:n_val]))
    return out


def small_mlp(seed: int = 0, hidden: Sequence[int] = (128,), act: str = "relu") -> nn.Module:
    """A small Kaiming-initialised MLP 784-hidden-10 (seeded), for the short runs of the exercises."""
    from ..models import MLP

    torch.manual_seed(seed)
    net = MLP(act_fn=act, hidden_sizes=tuple(hidden))
    for lin in net.linears:
        nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        nn.init.zeros_(lin.bias)
    return net


#: settings of the short run in check_schedule_beats_constant
SCHEDULE_RUN = dict(n_train=4000, epochs=4, batch_size=128, lr=0.02, margin=0.5)


def check_schedule_beats_constant(scheduler_fn: Callable, data, *, verbose: bool = True, **overrides) -> CheckResult:
    """Train a small MLP with SGD (lr 0.02) twice — constant LR and ``scheduler_fn(optimizer)`` — and compare.

    Passes when the scheduled run's best validation accuracy beats the constant
    run's by at least ``margin`` percentage points.  Both runs go through
    :func:`course_utils.train.train_model` (cached), on ``n_train`` images.
    """
    from ..train import train_model

    name = "schedule vs constant LR"
    if not callable(scheduler_fn):
        return _not_callable(name, scheduler_fn, "a function optimizer -> scheduler", verbose)
    P = {**SCHEDULE_RUN, **overrides}
    try:  # a stub or a broken function is reported before any training
        probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=P["lr"])
        scheduler_fn(probe)
    except NotImplementedError:
        return _not_yet(name, getattr(scheduler_fn, "__name__", "scheduler_fn"), verbose)
    except Exception as e:
        return _raised(name, e, verbose, "calling your function on an SGD optimizer")
    sub = small_subset(data, P["n_train"])
    opt_fn = lambda p: torch.optim.SGD(p, lr=P["lr"])  # noqa: E731
    kw = dict(epochs=P["epochs"], batch_size=P["batch_size"], seed=0, progress=False)
    try:
        with _one_thread():
            base = train_model(small_mlp(0), opt_fn, sub, desc="constant", **kw)
            run = train_model(small_mlp(0), opt_fn, sub, scheduler_fn=scheduler_fn, desc="scheduled", **kw)
    except NotImplementedError:
        return _not_yet(name, getattr(scheduler_fn, "__name__", "scheduler_fn"), verbose)
    except FloatingPointError as e:
        return _report(name, FAIL, "the run with your schedule diverged.", details=[_short_exc(e)],
                       hint="the peak learning rate is too high; lower it.", verbose=verbose)
    except Exception as e:
        return _raised(name, e, verbose)
    a0, a1 = 100 * base.best_val_acc, 100 * run.best_val_acc
    details = [f"constant lr {P['lr']}: best val acc {a0:.2f} %, final train loss {base.train_loss[-1]:.3f}",
               f"your schedule:   best val acc {a1:.2f} %, final train loss {run.train_loss[-1]:.3f}",
               f"(SGD, {P['epochs']} epochs of {P['n_train']} images, batch {P['batch_size']}, "
               f"{math.ceil(P['n_train'] / P['batch_size'])} steps per epoch)"]
    if a1 >= a0 + P["margin"]:
        return _report(name, PASS, f"your schedule beats the constant learning rate by {a1 - a0:.2f} points.",
                       details=details, verbose=verbose)
    return _report(name, FAIL, f"your schedule does not beat the constant learning rate by {P['margin']} points.",
                   details=details, hint="in a short run the constant lr is too small to get far: a schedule that "
                   "starts or peaks higher (warm-up, 1cycle with a max_lr several times 0.02) and then decays "
                   "covers more ground early and settles at the end. Steps are per epoch unless the scheduler is "
                   "OneCycleLR/CyclicLR (then per batch).", verbose=verbose)
