"""Exercises 04 — learning-rate schedules: curves of the real torch schedulers, the slider, the short-run check."""
from __future__ import annotations

import hashlib
import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..schedules import step_interval
from ._core import (CheckResult, FAIL, PASS, TODO, _as_number, _blank, _cached_note, _num_text, _describe,
                    _not_a_function, _not_callable, _not_yet,
                    _one_thread, _raised, _report, _say, _short_exc, _show)
from ._core import _graded


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
        out.append(float(opt.param_groups[0]["lr"]))  # a value: torch may keep the rate as a tensor
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
        if not schedules:
            _say(TODO, "no schedule selected: pick one or more in the list (ctrl/cmd-click for several).")
            return
        from .. import plotting

        fig, ax = plt.subplots(figsize=(6.2, 3.6))
        styles = plotting.series_styles(list(SCHEDULES), n_points=T)  # one style per schedule, whatever is chosen
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in schedules:
                ax.plot(np.arange(T), schedule_lrs(lambda o: SCHEDULES[name](o, P), epochs=T, lr=lr), label=name,
                        **{"lw": 1.4, **styles[name]})
        ax.set(xlabel="epoch", ylabel="learning rate", title="Learning rate per epoch")
        plotting.legend_outside(ax)  # under the panel, off the curves
        plt.show()

    s = dict(continuous_update=False)
    _show(widgets.interactive(
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
        pct_start=widgets.FloatSlider(value=0.3, min=0.05, max=0.5, step=0.05, description="pct_start", **s)))


def _data_problem(data) -> dict | None:
    """A report (headline, hint) when ``data`` is not the data set ``data.load_fashion_mnist()`` returns."""
    import types

    if hasattr(data, "subset") and callable(data.subset) and hasattr(data, "train") and hasattr(data, "val"):
        return None
    what = (f"the module {data.__name__}" if isinstance(data, types.ModuleType) else
            "one split (a pair of tensors)" if isinstance(data, (tuple, list)) else _describe(data))
    return dict(headline=f"expected the data set, got {what}.",
                hint="pass the object that `data.load_fashion_mnist()` returns (`fmnist` above), with its "
                     "train and validation splits, not a module, one split or a tensor.")


#: the initial rates of the notebook's runs (the plot cell's 0.1, the short run's 0.02, 1cycle's max_lr 0.5),
#: from which a learner may have read a learning rate where the fraction was asked for
_START_RATES = (0.1, 0.02, 0.5)


def _fraction_mistake(v: float, gamma: float, epochs: int, rel: float = 1e-6) -> str | None:
    """The hint for a known wrong fraction ``v`` of the rate ExponentialLR(gamma) leaves after ``epochs``."""
    candidates = [
        (gamma ** (epochs + 1), "off by one epoch: count how many times the rate has been multiplied by γ "
                                "after the given number of epochs."),
        (gamma ** (epochs - 1), "off by one epoch: count how many times the rate has been multiplied by γ "
                                "after the given number of epochs."),
        (max(1 - (1 - gamma) * epochs, 0.0), "the decay is multiplicative, not subtractive: each epoch keeps a "
                                             "fraction γ of the current rate."),
        ((1 - gamma) ** epochs, "γ is the fraction that is *kept* each epoch, not the part removed."),
        (1 - gamma ** epochs, "that is the fraction that was removed; the question asks what is left."),
        (gamma * epochs, "the factors multiply (γ times γ times …); you multiplied γ by the number of epochs."),
    ] + [(gamma ** -n, "that is upside down: you divided by γ once per epoch, and the rate grew. Each epoch "
                       "*multiplies* the rate by γ < 1, so what is left is less than the start.")
         for n in (epochs, epochs - 1, epochs + 1)]
    # the learning rate itself, of a run that started at a rate other than 1 (the plot cell's 0.1, 04B's 0.02):
    # the power is right, the value is not a fraction of the start
    candidates += [(lr0 * gamma ** n, f"that is the learning rate itself after {n} epochs of a run that started "
                                      f"at lr={lr0:g} (e.g. read from the scheduler or the plotted curve), not the "
                                      "fraction of the initial rate that is left: a fraction is the same whatever "
                                      "rate the run starts from.", 2e-3)  # (read off a plot: 3 digits)
                   for lr0 in _START_RATES for n in (epochs, epochs - 1, epochs + 1)]
    return next((c[1] for c in candidates
                 if math.isclose(v, c[0], rel_tol=max((rel, *c[2:])), abs_tol=1e-15)), None)


@_graded('check_exponential_fraction(fraction_after_10)', name=lambda a: f"fraction after {a['epochs']} epochs")
def check_exponential_fraction(answer, *, gamma: float = 0.9, epochs: int = 10, verbose: bool = True) -> CheckResult:
    """Grade the fraction of the initial rate that ``ExponentialLR(gamma)`` leaves after ``epochs`` epochs.

    The value (measured with torch's scheduler) is shown only once the answer is right; a wrong type
    (``"35%"``, a percentage, None) gets a plain message instead of a numpy error.
    """
    name = f"fraction after {epochs} epochs"
    if _blank(answer):
        return _report(name, TODO, f"not yet — set `fraction_after_{epochs}` to a number and run the cell again.",
                       verbose=verbose)
    measured = float(schedule_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma), epochs=epochs + 1,
                                  lr=1.0)[epochs])
    v, why = _as_number(answer)
    if why is not None:  # not a number at all: say what is expected
        v, why = _as_number(answer, low=0, high=1)
    known = _fraction_mistake(v, gamma, epochs) if why is None else None
    if known:
        return _report(name, FAIL, "not the fraction torch's scheduler leaves.", got=f"{v:.6g}", hint=known,
                       verbose=verbose)
    if why is None and 1 < v <= 100 and (abs(v / 100 / measured - 1) < 0.1
                                         or _fraction_mistake(v / 100, gamma, epochs, rel=2e-3) is not None):
        return _report(name, FAIL, "that looks like a percentage.", got=f"{v:g}",
                       hint="give the fraction of the initial rate, a number between 0 and 1 (25 % is 0.25).",
                       verbose=verbose)
    if why is None and v > 1:
        return _report(name, FAIL, "more than 1: a rate that decays cannot grow beyond where it started.",
                       got=f"{v:g}", hint="the fraction of the initial rate that is left is a number between 0 "
                       "and 1: write how the rate changes in one epoch, then over all of them.", verbose=verbose)
    if why is None:
        v, why = _as_number(answer, low=0, high=1)
    if why:
        return _report(name, FAIL, why, hint="a fraction of the initial learning rate is a number between 0 and "
                       "1; let Python compute it from γ rather than typing a rounded value.", verbose=verbose)
    if abs(v - measured) <= 5e-4 * measured:  # 4 significant digits or more (0.3487, 0.34868) are the value
        return _report(name, PASS, f"correct — torch's ExponentialLR(gamma={gamma}) leaves {measured:.6g} of the "
                       f"initial rate after {epochs} epochs (γ^{epochs}).", verbose=verbose)
    hint = None
    if abs(v - measured) < 0.01:
        hint = ("close, but rounded too far: compute the value in Python, or give at least four significant "
                "digits.")
    if hint is None:
        hint = (f"ExponentialLR multiplies the rate by γ = {gamma} once per epoch; write the rate after "
                f"{epochs} epochs as a power.")
    direction = "too large" if v > measured else "too small"
    return _report(name, FAIL, f"not the fraction torch's scheduler leaves (yours is {direction}).",
                   got=f"{v:.6g}", hint=hint, verbose=verbose)


#: settings of the short run in check_schedule_beats_constant
SCHEDULE_RUN = dict(n_train=4000, epochs=4, batch_size=128, lr=0.02, margin=0.5, seeds=3)

def _scheduler_problem(sched, optimizer) -> dict | None:
    """A report (headline, hint) when ``sched`` is not a scheduler of ``optimizer``, else None."""
    lrs = torch.optim.lr_scheduler
    base = getattr(lrs, "LRScheduler", getattr(lrs, "_LRScheduler", object))
    if isinstance(sched, torch.optim.Optimizer):
        return dict(headline="you returned the optimizer, return a scheduler.",
                    hint="wrap the optimizer in a scheduler and return that, e.g. "
                         "`return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=...)`. "
                         "(Training would call its `.step()` as the scheduler's and silently take an extra "
                         "optimizer step.)")
    if sched is None:
        return dict(headline="your function returned None.",
                    hint="add `return` in front of the scheduler you build.")
    if not isinstance(sched, (base, lrs.ReduceLROnPlateau)):
        return dict(headline=f"your function returned {_describe(sched)}, not a torch.optim.lr_scheduler object.",
                    hint="return a scheduler object such as `torch.optim.lr_scheduler.OneCycleLR(optimizer, …)` "
                         "(the object, not its learning rates or a function).")
    if getattr(sched, "optimizer", optimizer) is not optimizer:
        return dict(headline="the scheduler drives another optimizer, not the one your function was given.",
                    hint="build the scheduler on the `optimizer` argument; a new optimizer made inside the "
                         "function is never used for training.")
    return None


def _simulate_lrs(scheduler_fn, lr: float, epochs: int, steps_per_epoch: int):
    """The learning rate of every optimizer step of a run, stepping the scheduler as ``train_model`` does.

    Returns ``(lrs, sched)``; ``lrs`` is None for ReduceLROnPlateau (it needs the validation loss).
    Exceptions from the learner's function or from torch (e.g. OneCycleLR's total_steps) propagate.
    """
    import warnings

    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    hyper = [{k: v for k, v in g.items() if k not in ("params", "lr")} for g in opt.param_groups]
    try:
        sched = scheduler_fn(opt)
    except NotImplementedError:
        raise
    except Exception as e:
        e._grader_building = True  # told as "calling your function", not as stepping the scheduler
        raise
    bad = _scheduler_problem(sched, opt)
    if bad:
        return bad, sched
    if not p.requires_grad or p.detach().ne(0).any():
        return _MODEL_CHANGED("froze the parameters it was given (requires_grad off)" if not p.requires_grad
                              else "changed the values of the parameters it was given"), sched
    built = _hyper_changed(opt, hyper, sched, "when it was built")  # (told after the run's own errors)
    if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return built, sched
    per_batch = step_interval(sched) == "step"   # the rule train_model uses
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(epochs):
            for _ in range(steps_per_epoch):
                # the value, not the object: with a tensor rate (a lambda returning a tensor, max_lr=tensor)
                # torch updates one tensor in place, and a list of references would read only its last value
                out.append(float(opt.param_groups[0]["lr"]))
                opt.step()
                if per_batch:
                    sched.step()
            if not per_batch:
                sched.step()
            built = built or _hyper_changed(opt, hyper, sched, "during the run")
    if built:
        return built, sched
    return np.array(out), sched


_SAME_SCHEDULE_HINT = ("the check calls your function once to trace the schedule and once for each training run, "
                       "each time on a fresh optimizer: build the scheduler from the `optimizer` it is given and keep "
                       "no state between calls (no counter, no list or global the function changes, no scheduler "
                       "built once and returned again).")


def _rates_differ(want, got, unit: str = "step") -> str | None:
    """Where the rates ``got`` first differ from ``want`` (one per ``unit``), in words; None when they agree."""
    if got is None or isinstance(got, dict):  # (raised, or a problem the first call did not have)
        return "it did not give a schedule the check could step"
    want, got = np.asarray(want, dtype=float), np.asarray(got, dtype=float)
    if want.shape != got.shape:
        return f"it gave {got.size} rates, not {want.size}"
    bad = ~np.isclose(got, want, rtol=1e-6, atol=0, equal_nan=True)
    if not bad.any():
        return None
    k = int(np.argmax(bad))
    return (f"the rate at the start of {unit} {k + 1} is {got[k]:.3g} where the traced schedule has "
            f"{want[k]:.3g}") if unit == "epoch" else f"its rate at step {k + 1} is {got[k]:.3g}, not {want[k]:.3g}"


def _stepped_before_hint(e: BaseException, total: int) -> str | None:
    """The hint for OneCycleLR running out of steps although it was built for the run's ``total`` steps: the
    learner's function stepped it before training (None for any other error: the generic hint applies)."""
    from ._core import _ONECYCLE

    m = _ONECYCLE.search(str(e))
    if not m or int(m.group(2)) < total:  # (built too short: the total-steps hint says so)
        return None
    extra = int(m.group(1)) - total
    return (f"your OneCycleLR was built with total_steps={m.group(2)}, as many as the run takes ({total}), yet it "
            f"ran out: it had already been stepped {extra} time{'s' if extra != 1 else ''} before training began "
            "(a `.step()` in your function?). The training loop steps the scheduler itself, after every batch: "
            "return it as built, unstepped.")


def _inner_schedulers(sched) -> list:
    """``sched`` and the schedulers it wraps (SequentialLR, ChainedScheduler), depth first."""
    out = [sched]
    for inner in getattr(sched, "_schedulers", None) or []:
        out += _inner_schedulers(inner)
    return out


def _losing_schedule_hint(lrs, sched, runs_, bases, data, P: dict, total: int, fallback: str | None = None) -> str:
    """The hint for a schedule that lost, from what the check saw: a diverged run, a OneCycleLR built for
    another number of steps, a per-batch scheduler stepped per epoch inside a wrapper, a schedule that never
    rises above the constant rate or never anneals; else ``fallback`` (or a neutral hint)."""
    from ..schedules import is_per_batch

    lrs = np.asarray(lrs, dtype=float)
    peak, end = float(lrs.max()), float(lrs[-1])
    try:
        n_classes = int(data.train[1].max()) + 1
    except Exception:
        n_classes = 10
    chance = math.log(max(n_classes, 2))  # the loss of a network that predicts every class alike
    final = [float(r.train_loss[-1]) for r in runs_]
    base = max(float(r.train_loss[-1]) for r in bases)
    # diverged: a final loss above that of guessing (and well above the constant rate's, which on data that cannot
    # be learned stays near guessing too)
    if any(not math.isfinite(f) or f > max(1.2 * chance, 2 * base) for f in final):
        worst = max(final, key=lambda f: f if math.isfinite(f) else math.inf)
        return (f"training with your schedule diverged: its final train loss, {worst:.3g}, is above the "
                f"{chance:.2f} (ln {n_classes}) of a network that guesses every class alike. Its peak rate, "
                f"{peak:.3g}, {peak / P['lr']:.3g} times the constant {P['lr']:g}, is too high for this network: "
                "lower the peak until the loss falls steadily.")
    inner = _inner_schedulers(sched) if sched is not None else []
    wrapped = [s for s in inner[1:] if is_per_batch(s)]
    if wrapped and not is_per_batch(sched):
        kind = type(wrapped[0]).__name__
        return (f"your {kind} sits inside a {type(sched).__name__}, and the training loop steps the outer "
                f"scheduler once per epoch: the {kind}, which counts batches, advanced at most {P['epochs']} "
                f"steps in the run (its rate stayed between {float(lrs.min()):.3g} and {peak:.3g}). Return the "
                f"{kind} itself, so that it is stepped after every batch.")
    for s in inner:
        t = getattr(s, "total_steps", None)
        if type(s).__name__ == "OneCycleLR" and isinstance(t, int) and t > total:
            phase = ("while still warming up" if np.argmax(lrs) == len(lrs) - 1 else "before its annealing was done")
            mx = s.optimizer.param_groups[0].get("max_lr", peak)
            return (f"your OneCycleLR was built with total_steps={t}, but the run takes {total} steps: it stopped "
                    f"{phase}, at a rate of {end:.3g} (its max_lr is {float(mx):.3g}). Build it for the steps this "
                    "run takes, so that it reaches its peak and anneals to near 0 by the end.")
    if peak <= P["lr"] * (1 + 1e-6):
        return (f"your schedule never rises above the constant rate {P['lr']:g} (its peak is {peak:.3g}): in a "
                "short run the constant rate is too small to get far, and a schedule that only goes lower covers "
                "less ground. A schedule that starts or peaks higher (a warm-up to a peak several times the "
                "constant rate) and then decays covers more ground early and settles at the end.")
    if end > 0.5 * peak:
        return (f"your schedule peaks at {peak:.3g} but still runs at {end:.3g} at the end of the run: it does not "
                "anneal, so the last steps cannot settle. Let it decay towards 0 by the last step.")
    return fallback or (f"your schedule peaks at {peak:.3g} and ends at {end:.3g}; the runs above show how far each "
                        "got. Try another peak (a few times the constant rate) or another shape (warm up, then "
                        "anneal towards 0 by the end of the run).")


def _MODEL_CHANGED(what: str) -> dict:
    return dict(headline=f"your scheduler function {what}: a schedule changes only the learning rate.",
                hint="leave the model's parameters as they are (no `requires_grad_(False)`, none taken out of "
                     "`optimizer.param_groups`, no writes to the weights, in the function or in the scheduler's "
                     "`step`) and only build and return the scheduler; freezing layers or changing weights is "
                     "another experiment, and the gain or loss would be credited to your schedule.")


class _ModelChanged(Exception):
    pass


def _dropped(when: str = "") -> str:
    return (f"removed some of the model's parameters from the optimizer (`optimizer.param_groups`){when}: they no "
            "longer train, as frozen layers")


def _watched(scheduler_fn, model, key: dict):
    """``scheduler_fn`` for the real run: refuses a function that changes the model (frozen parameters, new
    values, parameters taken out of the optimizer), also while the run steps its scheduler (weights written
    between two optimizer steps, by the scheduler's ``step``), and puts the learner's scheduler class (when not
    torch's) into the run's cache key ``key``."""
    from ._core import _code_fingerprint, _is_torch_class

    before = [(p.requires_grad, p.detach().clone()) for p in model.parameters()]

    def fn(opt):
        members = sorted(id(p) for g in opt.param_groups for p in g["params"])
        sched = scheduler_fn(opt)
        after = list(model.parameters())
        if len(after) != len(before) or any(not p.requires_grad for p in after):
            raise _ModelChanged("froze some of the model's parameters (requires_grad off)")
        if any(not torch.equal(p.detach(), b) for p, (_, b) in zip(after, before)):
            raise _ModelChanged("changed the values of the model's parameters")
        if sorted(id(p) for g in opt.param_groups for p in g["params"]) != members:
            raise _ModelChanged(_dropped())
        for k in [k for k in key if k != "rates"]:  # the simulated rates the grader put in stay in the key
            del key[k]
        # "checked": runs the cache held from before the model was watched (possibly trained with frozen layers
        # under the very key of the right answer, or before the steps were watched, 3) are never read again;
        # the scheduled run retrains once
        key.update({"checked": 3, **_code_fingerprint(model, opt, *(() if _is_torch_class(type(sched))
                                                                     else (type(sched),)))})
        # between two optimizer steps only the scheduler runs (and the forward and backward pass, which change
        # no weight): weights that moved there, or parameters gone from the optimizer, are the scheduler's doing
        last = {}

        def pre(o, args, kwargs):
            if sorted(id(p) for g in o.param_groups for p in g["params"]) != members:
                raise _ModelChanged(_dropped(" when its scheduler stepped"))
            if "w" in last and any(not torch.equal(p.detach(), w) for p, w in zip(model.parameters(), last["w"])):
                raise _ModelChanged("changed the values of the model's parameters when its scheduler stepped "
                                    "(between two optimizer steps)")

        def post(o, args, kwargs):
            last["w"] = [p.detach().clone() for p in model.parameters()]

        opt.register_step_pre_hook(pre)
        opt.register_step_post_hook(post)
        return sched
    return fn


def _hyper_changed(opt, hyper, sched, when: str) -> dict | None:
    """A report when the optimizer's settings other than the learning rate (momentum, nesterov, weight decay,
    dampening, …) differ from ``hyper``, what they were before the learner's function ran: the comparison is
    with plain SGD at constant rates, so a gain from momentum or decay would be credited to the schedule."""
    changes = [(k, old, g.get(k)) for g, h in zip(opt.param_groups, hyper) for k, old in h.items()
               if g.get(k) != old]
    if not changes:
        return None
    key, old, new = changes[0]
    cycles = (type(sched).__name__ in ("OneCycleLR", "CyclicLR") and key == "momentum"
              and getattr(sched, "cycle_momentum", False))
    hint = (f"{type(sched).__name__} also cycles the momentum by default (`cycle_momentum=True`), which turns "
            "the plain SGD of this comparison into SGD with momentum: build it with `cycle_momentum=False`, so "
            "that only the learning rate follows your schedule." if cycles else
            "a learning-rate schedule changes only the learning rate: leave the optimizer's other settings as "
            "they are (the constant-rate runs use plain SGD, so a gain from them would be credited to your "
            "schedule).")
    return dict(headline=f"your scheduler changes the optimizer's {key} ({old!r} → {new!r}) {when}, not only "
                         "its learning rate.", hint=hint)


@_graded('check_schedule_beats_constant(my_scheduler, fmnist)', name="schedule vs constant LR")
def check_schedule_beats_constant(scheduler_fn: Callable, data, *, verbose: bool = True, **overrides) -> CheckResult:
    """Train a small MLP with SGD (lr 0.02) with ``scheduler_fn(optimizer)`` and compare with constant rates.

    Passes when the scheduled runs' best validation accuracy, averaged over ``seeds`` paired seeds (each seed's
    runs share the initial weights and the batches), beats by at least ``margin`` percentage points both the
    constant rate ``lr`` *and* a constant rate equal to the schedule's own mean learning rate (a schedule must
    win by its shape, not by a higher average rate; one seed's difference varies from seed to seed by more
    than the margin).  A schedule whose rate never
    changes — the optimizer itself, or ``LambdaLR(o, lambda e: 5.0)`` — is rejected before any training.
    All runs go through :func:`course_utils.train.train_model` (cached), on ``n_train`` images.
    """
    from ..models import small_mlp
    from ..train import train_model

    name = "schedule vs constant LR"
    if _not_a_function(scheduler_fn) and _data_problem(scheduler_fn) is None and not _not_a_function(data):
        return _report(name, FAIL, "the two arguments look swapped: the first is the data set, the second a "
                       "function.", hint="pass your scheduler function first and the data set second, as in the "
                       "notebook: `exercises.check_schedule_beats_constant(my_scheduler, fmnist)`.", verbose=verbose)
    if _not_a_function(scheduler_fn):
        return _not_callable(name, scheduler_fn, "a function optimizer -> scheduler", verbose)
    P = {**SCHEDULE_RUN, **overrides}
    steps_per_epoch = math.ceil(P["n_train"] / P["batch_size"])
    total = P["epochs"] * steps_per_epoch
    plan = (f"SGD, {P['epochs']} epochs of {P['n_train']} images, batch {P['batch_size']}: {steps_per_epoch} "
            f"steps per epoch, {total} in all")
    try:  # a stub or a broken function is reported before any training
        lrs, sched = _simulate_lrs(scheduler_fn, P["lr"], P["epochs"], steps_per_epoch)
    except NotImplementedError:
        return _not_yet(name, getattr(scheduler_fn, "__name__", "scheduler_fn"), verbose)
    except Exception as e:
        if getattr(e, "_grader_building", False):
            hint = None
            if "initial_lr" in str(e) or "last_epoch" in str(e):
                hint = ("`last_epoch` is for resuming a run from a checkpoint: leave it out (its default starts the "
                        "schedule at the first epoch).")
            return _raised(name, e, verbose, "calling your function on an SGD optimizer", context="scheduler",
                           hint=hint)
        return _raised(name, e, verbose, f"stepping your scheduler through the run ({plan})", context="scheduler",
                       hint=_stepped_before_hint(e, total))
    if isinstance(lrs, dict):
        return _report(name, FAIL, lrs.pop("headline"), case="calling your function on an SGD optimizer",
                       verbose=verbose, **lrs)
    if lrs is not None and not np.isfinite(np.asarray(lrs, dtype=float)).all():
        first = int(np.argmax(~np.isfinite(np.asarray(lrs, dtype=float))))
        return _report(name, FAIL, f"your schedule sets the learning rate to {lrs[first]:g} at step {first + 1} "
                       f"(epoch {first // steps_per_epoch + 1}): no run can train at a rate that is not a number.",
                       case=plan, hint="check the factor your lambda returns (e.g. a division by zero, or "
                       "0/0 from numpy, gives nan or inf): it must be a finite number ≥ 0 at every step.",
                       verbose=verbose)
    if lrs is not None and (np.asarray(lrs) < 0).any():
        first = int(np.argmax(np.asarray(lrs) < 0))
        return _report(name, FAIL, f"your schedule makes the learning rate negative ({lrs[first]:.3g} at step "
                       f"{first + 1}): a negative rate steps *up* the gradient, so training climbs the loss.",
                       case=plan, hint="a schedule's factor multiplies the base rate and must stay positive (≥ 0): "
                       "check the sign of your lambda or of the factors you combine.", verbose=verbose)
    if lrs is not None and np.allclose(lrs, lrs[0], rtol=1e-9, atol=0):
        factor = lrs[0] / P["lr"]
        if abs(factor - 1) < 1e-9:
            return _report(name, FAIL, "your schedule never changes the learning rate: it is the constant rate.",
                           case=plan, hint="a schedule changes the rate during the run, e.g. warm up and then "
                           "anneal (OneCycleLR, stepped per batch), or decay per epoch.", verbose=verbose)
        return _report(name, FAIL, f"your schedule keeps the learning rate constant at {factor:.3g}× the base "
                       f"rate for the whole run: a constant factor is another constant learning rate, not a "
                       f"schedule.", case=plan,
                       hint="the schedule must change the rate during the run (e.g. warm up, then anneal "
                            "towards 0); it is also compared with a constant rate at its own mean, so a "
                            "constant multiple cannot win.", verbose=verbose)
    if lrs is not None:  # the schedule is traced on one call and trained on others: each call must give the same
        try:
            again, _ = _simulate_lrs(scheduler_fn, P["lr"], P["epochs"], steps_per_epoch)
        except Exception:
            again = None
        differs = _rates_differ(lrs, again)
        if differs:
            return _report(name, FAIL, "your function builds a different schedule each time it is called: "
                           f"called a second time, {differs}.", case=f"calling your function twice ({plan})",
                           hint=_SAME_SCHEDULE_HINT, verbose=verbose)
    bad = _data_problem(data)
    if bad:
        return _report(name, FAIL, bad.pop("headline"), case="the data argument", verbose=verbose, **bad)
    try:
        n_have = len(data.train[1])
    except Exception:
        n_have = None
    if isinstance(n_have, int) and n_have < P["n_train"]:
        return _report(name, FAIL, f"the data set you passed has {n_have} training images; the check trains on "
                       f"the first {P['n_train']}.", case="the data argument",
                       hint="pass the full data set, `exercises.check_schedule_beats_constant(my_scheduler, fmnist)` "
                            "with `fmnist = data.load_fashion_mnist()`; the check takes its own subset.",
                       verbose=verbose)
    try:
        sub = data.subset(P["n_train"])
    except Exception as e:
        return _raised(name, e, verbose, "taking the first images of your data set")
    opt_at = lambda lr: (lambda p: torch.optim.SGD(p, lr=lr))  # noqa: E731
    seeds = list(range(int(P["seeds"])))  # paired: each seed's three runs share the network's start and batches
    kws = [dict(epochs=P["epochs"], batch_size=P["batch_size"], seed=s, progress=False) for s in seeds]
    bases, runs_ = [], []
    try:
        with _one_thread():
            for s, kw in zip(seeds, kws):
                bases.append(train_model(small_mlp(s, (128,), act_fn="relu"), opt_at(P["lr"]), sub, desc="constant",
                                         **kw))
                # the run is keyed by the rates it steps through too: a lambda reading a list the learner changed
                # between two checks is a new run, whatever the function's description catches
                net = small_mlp(s, (128,), act_fn="relu")
                key = {} if lrs is None else {"rates": hashlib.sha256(np.asarray(lrs, dtype=np.float64).tobytes())
                                                                .hexdigest()[:16]}
                runs_.append(train_model(net, opt_at(P["lr"]), sub, scheduler_fn=_watched(scheduler_fn, net, key),
                                         desc="scheduled", extra_key=key, **kw))
    except _ModelChanged as e:
        bad = _MODEL_CHANGED(str(e))
        return _report(name, FAIL, bad.pop("headline"), case=f"training with your scheduler ({plan})",
                       verbose=verbose, **bad)
    except NotImplementedError:
        return _not_yet(name, getattr(scheduler_fn, "__name__", "scheduler_fn"), verbose)
    except FloatingPointError as e:
        return _report(name, FAIL, "the run with your schedule diverged.", details=[_short_exc(e)],
                       hint="the peak learning rate is too high; lower it.", verbose=verbose)
    except Exception as e:
        return _raised(name, e, verbose, f"training with your scheduler ({plan})", context="scheduler")
    base, run = bases[0], runs_[0]
    if lrs is not None:  # the rates each run trained with (one per epoch, at its start) are the traced ones
        for s, r in zip(seeds, runs_):
            differs = _rates_differ(np.asarray(lrs, dtype=float)[::steps_per_epoch][:len(r.lr)], r.lr, "epoch")
            if differs:
                return _report(name, FAIL, "your function gave the training run a different schedule from the one "
                               f"the check traced: in the run of seed {s}, {differs}.",
                               case=f"training with your scheduler ({plan})", hint=_SAME_SCHEDULE_HINT,
                               verbose=verbose)
    if lrs is None:  # ReduceLROnPlateau: the rates it used, one per epoch
        lrs = np.repeat(np.array(run.lr, dtype=float), steps_per_epoch)
        if np.allclose(lrs, lrs[0], rtol=1e-9, atol=0):
            return _report(name, FAIL, "your schedule never changed the learning rate during the run.", case=plan,
                           hint="ReduceLROnPlateau only acts after `patience` epochs without progress; in a run "
                                "this short use a schedule that changes the rate by itself (e.g. OneCycleLR).",
                           verbose=verbose)
    mean_lr = float(np.mean(lrs))
    acc = lambda rs: np.array([100 * r.best_val_acc for r in rs])  # noqa: E731
    loss = lambda rs: float(np.mean([r.train_loss[-1] for r in rs]))  # noqa: E731
    a0, a1 = float(acc(bases).mean()), float(acc(runs_).mean())
    over = f"mean of {len(seeds)} paired seeds" if len(seeds) > 1 else "one seed"
    details = [f"constant lr {P['lr']:g}: best val acc {a0:.2f} %, final train loss {loss(bases):.3f} ({over})"]
    a_mean = None
    at_means = []
    if abs(mean_lr / P["lr"] - 1) > 1e-3:
        try:
            with _one_thread():
                for s, kw in zip(seeds, kws):
                    at_means.append(train_model(small_mlp(s, (128,), act_fn="relu"), opt_at(mean_lr), sub,
                                                desc="constant at the mean rate", **kw))
            a_mean = float(acc(at_means).mean())
            details.append(f"constant lr {mean_lr:.3g} (your schedule's mean rate): best val acc {a_mean:.2f} %, "
                           f"final train loss {loss(at_means):.3f}")
        except FloatingPointError:  # the constant diverges at that rate: the schedule's shape is what saves it
            at_means = []
            details.append(f"constant lr {mean_lr:.3g} (your schedule's mean rate): diverges")
    if len(seeds) > 1:
        diffs = acc(runs_) - (acc(at_means) if a_mean is not None else acc(bases))
        against = "the constant at its mean rate" if a_mean is not None else f"the constant lr {P['lr']:g}"
        details.append(f"your schedule − {against}, seed by seed: "
                       + ", ".join(f"{d:+.2f}" for d in diffs) + " points (the verdict uses their mean)")
    details += [f"your schedule:   best val acc {a1:.2f} %, final train loss {loss(runs_):.3f}", f"({plan})"]
    per = "runs" if len(seeds) > 1 else "run"
    runs = [(f"the constant-rate baseline {per}", b) for b in bases] + [(f"your schedule's {per}", r) for r in runs_]
    runs += [(f"the {per} at your schedule's mean rate", r) for r in at_means] if a_mean is not None else []
    from_cache = list(dict.fromkeys(label for label, r in runs if getattr(r, "cached", False)))
    note = _cached_note(*(r for _, r in runs))
    if 0 < sum(getattr(r, "cached", False) for _, r in runs) < len(runs):  # say which: "this run was read" would read as "your edit
        trained = list(dict.fromkeys(label for label, r in runs if not getattr(r, "cached", False)))  # was ignored"
        note = (f"{' and '.join(from_cache)} {'was' if len(from_cache) == 1 and per == 'run' else 'were'} read from the results "
                f"cache (trained earlier with exactly the same settings); {' and '.join(trained)} "
                f"{'was' if len(trained) == 1 and per == 'run' else 'were'} trained now.")
    if any(getattr(r, "cached", False) for r in runs_):
        note = (note + " Your schedule's run is keyed by what your function builds (scheduler class, its "
                "settings and lambdas), so a changed function gets a new run.")
    details += [note] if note else []
    if a1 >= a0 + P["margin"] and (a_mean is None or a1 >= a_mean + P["margin"]):
        vs = f" and a constant rate at its mean ({mean_lr:.3g}) by {a1 - a_mean:.2f}" if a_mean is not None else ""
        return _report(name, PASS, f"your schedule beats the constant learning rate by {a1 - a0:.2f} points{vs} "
                       f"({over}).",
                       details=details, verbose=verbose)
    if a1 >= a0 + P["margin"]:
        return _report(name, FAIL, f"your schedule beats lr {P['lr']:g}, but not a constant learning rate at its "
                       f"own mean rate ({mean_lr:.3g}) by {P['margin']} points ({over}): the gain comes from the higher "
                       "average rate, not from the schedule. (The task's rule: beat both the constant rate "
                       f"{P['lr']:g} and a constant rate equal to your schedule's mean, each by {P['margin']} "
                       "points.)", details=details,
                       hint=_losing_schedule_hint(lrs, sched, runs_, bases, data, P, total, fallback=(
                           "let the shape do the work: warm up to a peak and anneal towards 0 by the end of the "
                           "run (1cycle, cosine), so the last steps settle with a small rate.")), verbose=verbose)
    also = (f" (It must also beat a constant rate equal to its own mean, {mean_lr:.3g}, by {P['margin']} points.)"
            if a_mean is not None else "")
    return _report(name, FAIL, f"your schedule does not beat the constant learning rate {P['lr']:g} by "
                   f"{P['margin']} points ({over}).{also}",
                   details=details, hint=_losing_schedule_hint(lrs, sched, runs_, bases, data, P, total),
                   verbose=verbose)


@_graded('check_epochs_below(epochs_below)', name=lambda a: f"predict: epochs until below {100 * a['below']:g} %")
def check_epochs_below(answer, *, gamma: float = 0.9, below: float = 0.01, verbose: bool = True) -> CheckResult:
    """Grade a *prediction*: after how many epochs does ``ExponentialLR(gamma)`` first leave less than
    ``below`` of the initial rate?  Checked against a run of torch's scheduler (never shown before a right
    answer)."""
    name = f"predict: epochs until below {100 * below:g} %"
    if _blank(answer):
        return _report(name, TODO, "not yet — set `epochs_below` to your prediction and run the cell again.",
                       verbose=verbose)
    v, why = _as_number(answer, low=0)
    if why or v != int(v):
        return _report(name, FAIL, why or f"expected a whole number of epochs, got {_num_text(v)} (not a whole "
                       "number).",
                       hint="count epochs: a whole number (round the way the question asks: *first* below).",
                       verbose=verbose)
    lrs = schedule_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma), epochs=2000, lr=1.0)
    hits = np.flatnonzero(lrs < below)
    measured = int(hits[0])
    n = int(v)
    if n == measured:
        return _report(name, PASS, f"correct — the run of torch's ExponentialLR(gamma={gamma}) first falls below "
                       f"{100 * below:g} % after {measured} epochs ({lrs[measured - 1]:.4f} → "
                       f"{lrs[measured]:.4f} of the initial rate).", verbose=verbose)
    if n == measured - 1:
        hint = (f"one epoch short: after {n} epochs the rate is still at or above {100 * below:g} % — round the "
                "logarithm up, not down.")
    elif n == measured + 1:
        hint = "one epoch too many: the rate is already below the threshold an epoch earlier."
    elif n == round(1 / (1 - gamma)):
        hint = ("1/(1 − γ) is about the time constant of the decay (after that many epochs the rate has fallen by "
                "about a factor e), not the time to 1 %.")
    else:
        hint = f"solve γⁿ < {below} for the smallest whole n (take logarithms)."
    side = "too small" if n < measured else "too large"
    return _report(name, FAIL, f"the run disagrees: {n} is {side}.", hint=hint, verbose=verbose)
