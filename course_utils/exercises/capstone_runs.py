"""Exercises 07 — capstone, the runs: every configuration trained with several seeds, stopped early, and tabled.

The textbook's questions ("does batch norm converge faster? what about training speed? …") can be answered
only when a difference is larger than the spread between seeds, so every configuration is trained with
several seeds (:func:`capstone_seeds`; seed ``s`` of two configurations shares the batch order, so they pair),
each run stopped by early stopping (``patience``) at a learning rate searched on a seed the comparison does
not report (:func:`search_lr`); a run ends at its epoch cap when early stopping has not ended it before.
Every run is single-threaded (so running it again on the same machine with the same torch version gives the
same numbers; another processor or torch version may round differently) and cached.  The comparison itself
is :func:`course_utils.compare.paired_table`; the answers read from it are graded in :mod:`.capstone_answers`.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._core import (FAIL, TODO, _SettingsKept, _builder_problem, _cached_note, _code_fingerprint, _describe, _exception_hint, _is_torch_class, _label,
                    _one_thread, _say, _say_raised, _short_exc, _where, _wrap)
from .capstone import _model_problem
from .regularization import mc_dropout_predict_reference


#: Sizes of the capstone per budget.  ``cpu``: 4,000 training images in batches of 200 (20 steps an
#: epoch, 0.2–0.3 s for this 20-layer net on one core), 1,500 validation images, at most 12 epochs with
#: a patience of 3, five seeds per configuration (the fewest from which the book calls a paired difference
#: significant, ``compare.MIN_SEEDS``), a learning-rate search per architecture over ``lr_grid`` on
#: ``search_seed`` (not one of the five), 1cycle over 10 epochs with its peak searched on ``onecycle_grid``.
#: With fewer images or epochs the seed spread swallows the differences the questions ask about.
#: ``full``: all 50,000 training images in batches of 128, at most 60 epochs with a patience of 6.
CAPSTONE_SIZES = {
    "cpu": dict(n_train=4000, n_val=1500, batch_size=200, epochs=12, patience=3, seeds=5,
                lr_grid=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2), search_epochs=4, search_seed=100,
                onecycle_epochs=10, onecycle_grid=(1e-3, 3e-3, 1e-2, 3e-2), mc_samples=20),
    "full": dict(n_train=50_000, n_val=10_000, batch_size=128, epochs=60, patience=6, seeds=5,
                 lr_grid=(3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2), search_epochs=5, search_seed=100,
                 onecycle_epochs=20, onecycle_grid=(1e-3, 3e-3, 1e-2, 3e-2), mc_samples=50),
}


def capstone_sizes(budget=None) -> dict:
    """The capstone's sizes for ``budget`` (see :data:`CAPSTONE_SIZES`): ``n_train``, ``n_val``,
    ``batch_size``, ``epochs`` (the most a run may take), ``patience``, ``seeds``, ``lr_grid``,
    ``search_epochs``, ``search_seed``, ``onecycle_epochs``, ``onecycle_grid``, ``mc_samples``."""
    from ..config import get_budget

    b = budget or get_budget()
    return dict(CAPSTONE_SIZES[b.name if b.name in CAPSTONE_SIZES else "cpu"])


def capstone_workload(sizes: Mapping) -> dict:
    """The most training the capstone can take at ``sizes`` (:func:`capstone_sizes`), counted in epochs over
    ``n_train`` examples: ``search_epochs`` (the three rate searches of SiLU, SiLU + BN and SELU over ``lr_grid``,
    and 1cycle's over ``onecycle_grid``), ``run_epochs`` (five configurations × ``seeds``, each at its cap:
    early stopping usually ends them sooner), ``epochs`` (their sum) and ``examples`` (``epochs × n_train``)."""
    search = (3 * len(sizes["lr_grid"]) * sizes["search_epochs"]
              + len(sizes["onecycle_grid"]) * sizes["onecycle_epochs"])
    runs = sizes["seeds"] * (4 * sizes["epochs"] + sizes["onecycle_epochs"])
    return {"search_epochs": search, "run_epochs": runs, "epochs": search + runs,
            "examples": (search + runs) * sizes["n_train"]}


class _LearnerMistake(Exception):
    """A mistake found in the learner's objects before or during training (its args: a report dict)."""


def _not_one_cycle(scheduler_fn, optimizer, steps) -> dict | None:
    """A report when the schedule handed to a 1cycle run does not trace a 1cycle: the rate must rise from well
    below its peak, reach the peak inside the run, and end below where it started.  The trace is taken on a
    stand-in optimizer of the same kind (the run's own is left untouched); None when it fits or cannot be
    traced (the run itself then reports)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dummy = type(optimizer)([torch.zeros(1, requires_grad=True)], **optimizer.defaults)
            sched = scheduler_fn(dummy)
            n = steps or getattr(sched, "total_steps", None)
            if not n or n < 3:
                return None
            lrs = []
            for _ in range(n):
                lrs.append(float(dummy.param_groups[0]["lr"]))
                dummy.step()
                sched.step()
    except Exception:
        return None
    peak = max(lrs)
    top = lrs.index(peak)
    if lrs[0] < peak / 2 and 0 < top < n - 1 and lrs[-1] < lrs[0]:
        return None
    if top == 0 or lrs[0] >= peak / 2:
        what = (f"its rate starts at {lrs[0]:.3g}, {'its peak' if top == 0 else 'already near its peak'} "
                f"{peak:.3g}: there is no warm-up")
    elif top == n - 1:
        what = f"its rate rises for the whole run ({lrs[0]:.3g} to {peak:.3g}) and never anneals"
    else:
        what = (f"its rate rises to {peak:.3g} and falls back only to {lrs[-1]:.3g}, not below where it started "
                f"({lrs[0]:.3g})")
    kind = type(sched).__name__
    return dict(headline=f"the schedule of this 1cycle run is not a 1cycle: {what} (traced over the run's {n} "
                         f"steps; your function returned a {kind}).",
                hint="1cycle warms the rate up from a fraction of max_lr to max_lr, then anneals it far below "
                     "the start, within one run: `torch.optim.lr_scheduler.OneCycleLR(optimizer, "
                     "max_lr=max_lr, total_steps=...)`, stepped once per batch.")


def _checked_scheduler(scheduler_fn, steps, epochs, n_train, batch_size, one_cycle=False):
    """``scheduler_fn`` wrapped so that a wrong object, or a OneCycleLR shorter or longer than the run (too
    short raises inside torch; too long never finishes its annealing), is a report, not a crash.  With
    ``one_cycle`` (a run described as 1cycle), a schedule whose rate trace is not a 1cycle is one too."""
    from .schedules import _scheduler_problem

    def checked(optimizer):
        sched = scheduler_fn(optimizer)
        bad = _scheduler_problem(sched, optimizer)
        if bad:
            raise _LearnerMistake(bad)
        if steps and isinstance(sched, torch.optim.lr_scheduler.OneCycleLR) and sched.total_steps < steps:
            t, per_epoch = sched.total_steps, steps // epochs
            if n_train % batch_size and t == epochs * (n_train // batch_size):
                hint = ("OneCycleLR is stepped after every batch: total_steps = epochs × math.ceil(n_train / "
                        "batch_size). Floor division `//` misses the last, smaller batch of each epoch.")
            elif t % per_epoch == 0:
                hint = (f"your total covers {t // per_epoch} epoch{'s' if t // per_epoch != 1 else ''} of "
                        f"{per_epoch} batches, but the run has {epochs}: take the epoch count from the run "
                        "you schedule (its `epochs`), times the batches per epoch.")
            else:
                hint = ("OneCycleLR is stepped once per batch of the run: total_steps = epochs × batches per "
                        f"epoch, for the run's {epochs} epochs of {n_train} images in batches of {batch_size}.")
            raise _LearnerMistake(dict(
                headline=f"total steps too small: your OneCycleLR has total_steps={t}, but "
                         f"this run makes {steps} optimizer steps ({epochs} epochs × "
                         f"ceil({n_train} / {batch_size}) = {per_epoch} per epoch).", hint=hint))
        if steps and isinstance(sched, torch.optim.lr_scheduler.OneCycleLR) and sched.total_steps > steps:
            t = sched.total_steps
            counted = ("images instead of batches" if t % max(n_train or 1, 1) == 0 and t >= n_train else
                       "more batches than the run makes")
            raise _LearnerMistake(dict(
                headline=f"total steps too large: your OneCycleLR has total_steps={t}, but this run makes "
                         f"only {steps} optimizer steps, so the rate never finishes its annealing (the run ends "
                         f"{100 * steps / t:.0f} % of the way through the cycle).",
                hint=f"your count has {counted}: OneCycleLR is stepped once per batch of the run, and the run "
                     f"has {epochs} epochs of {n_train} images in batches of {batch_size}."))
        if one_cycle:
            bad = _not_one_cycle(scheduler_fn, optimizer, steps)
            if bad:
                raise _LearnerMistake(bad)
        return sched
    return checked


def _early_stopped(model, optimizer_fn, data, *, epochs, patience, scheduler_fn, batch_size, seed, desc,
                   progress, use_cache, test=True):
    """:func:`course_utils.train.train_model` with early stopping (``patience``), after checking that the
    learner's ``optimizer_fn`` returns an optimizer (a specific hint instead of a TypeError)."""
    from ..config import default_device
    from ..train import train_model

    model.to(default_device(None))   # the optimizer must hold the parameters where they will train
    optimizer = optimizer_fn(model.parameters())
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise _LearnerMistake(dict(headline=f"the optimizer function returned {_describe(optimizer)}, not a "
                                            "torch.optim optimizer.",
                                   hint="return the optimizer, e.g. `lambda p: torch.optim.NAdam(p, lr=1e-3)`."))
    # the training module's key sees the weights, the modules' repr and torch's classes; the learner's own code
    # (a module or optimizer class fixed under the same name, a function held by a module) and frozen parameters
    # are added here, so a changed answer never gets the run of the old one
    key = _code_fingerprint(model, optimizer)
    sched_fn = None
    if scheduler_fn is not None:
        def sched_fn(opt):
            sched = scheduler_fn(opt)
            key.clear()   # what the scheduler function left (frozen parameters), and its own class if not torch's
            key.update(_code_fingerprint(model, optimizer, *(() if _is_torch_class(type(sched)) else (type(sched),))))
            return sched
    return train_model(model, lambda params: optimizer, data, epochs=epochs, batch_size=batch_size, seed=seed,
                       scheduler_fn=sched_fn, patience=patience, test=test, desc=desc, progress=progress,
                       use_cache=use_cache, extra_key=key)


def capstone_run(build_fn: Callable, optimizer_fn: Callable, data, *, epochs: int, patience: int | None = None,
                 scheduler_fn=None, desc: str = "capstone", seed: int = 0, batch_size: int = 256,
                 progress: bool | None = None, use_cache: bool = True, test: bool = True):
    """Build (``build_fn(seed)``) and train one capstone model with early stopping; cached.

    Trains at most ``epochs`` epochs and stops after ``patience`` epochs without a better validation
    accuracy (``None``: never); the model keeps the weights of its best validation epoch, evaluated on
    the test split unless ``test=False`` (then ``test_acc`` is NaN).  Runs on one
    CPU thread (restored afterwards), so the numbers do not depend on the machine's thread count (they are
    repeatable on one machine and torch version, not across processors or versions).

    Returns ``(model, TrainResult)``, or ``(None, None)`` with a "not yet" note while the
    builder is still the TODO stub, or with a friendly message (the learner's line and a hint) when
    the learner's code fails: a diverging run, a scheduler function that returns the optimizer, a
    OneCycleLR whose ``total_steps`` is smaller than the run, any exception from the learner's code.
    """
    model, result, status, message = _run(build_fn, optimizer_fn, data, epochs=epochs, patience=patience,
                                          scheduler_fn=scheduler_fn, desc=desc, seed=seed, batch_size=batch_size,
                                          progress=progress, use_cache=use_cache, test=test)
    if message:
        print(message)
    return model, result


def _run(build_fn, optimizer_fn, data, *, epochs, patience, scheduler_fn, desc, seed, batch_size, progress,
         use_cache, test):
    """:func:`capstone_run`'s work: ``(model, result, status, message)``, status ``"ok"``, ``"todo"``,
    ``"diverged"`` or ``"failed"``, the message (wrapped, with its symbol) to print or ``""``."""
    from .schedules import _data_problem

    def fail(text, status="failed"):
        return None, None, status, _wrap(f"{_label(FAIL)} — {desc}: {text}")

    bad = _data_problem(data)
    if bad:
        return fail(f"{bad['headline']}\n   hint:     {bad['hint']}")
    try:
        n_train = len(data.train[1])
    except Exception:
        n_train = None
    steps = epochs * math.ceil(n_train / batch_size) if n_train and isinstance(batch_size, int) and \
        isinstance(epochs, int) and batch_size > 0 else None
    one_cycle = any(w in str(desc).lower().replace(" ", "").replace("-", "") for w in ("1cycle", "onecycle"))
    checked = None if scheduler_fn is None else _checked_scheduler(scheduler_fn, steps, epochs, n_train, batch_size,
                                                                   one_cycle=one_cycle)
    bad = _builder_problem(build_fn, "the first argument, as in the notebook's call")
    if bad:
        return fail(f"{bad['headline']}\n   hint:     {bad['hint']}")
    kept = _SettingsKept().__enter__()   # (given back in the finally below)
    try:
        model = build_fn(seed)
        bad = kept.changed("your builder") or _model_problem(model)
        if bad:
            raise _LearnerMistake(bad)
        with _one_thread():
            result = _early_stopped(model, optimizer_fn, data, epochs=epochs, patience=patience,
                                    scheduler_fn=checked, batch_size=batch_size, seed=seed, desc=desc,
                                    progress=progress, use_cache=use_cache, test=test)
        bad = kept.changed()
        if bad:
            raise _LearnerMistake(bad)
    except NotImplementedError:
        return None, None, "todo", _wrap(f"{_label(TODO)} — {desc}: not yet — fill in the builder/optimizer above, "
                                         "then run this cell again.")
    except FloatingPointError as e:
        return fail(str(e), "diverged")
    except _LearnerMistake as m:
        bad = m.args[0]
        return fail(f"{bad['headline']}\n   hint:     {bad['hint']}")
    except Exception as e:  # the learner's code (builder, optimizer_fn, scheduler_fn): report, never raise
        bad = kept.changed()  # (a setting the learner's code changed, the error only its consequence)
        if bad:
            return fail(f"{bad['headline']}\n   hint:     {bad['hint']}")
        where = _where(e)
        text = f"your code raised {_short_exc(e)}" + (f"\n   {where}" if where else "")
        return fail(f"{text}\n   hint:     {_exception_hint(e, 'scheduler')}")
    finally:
        kept.__exit__()
    return model, result, "ok", ""


# ----------------------------------------------------------------------------- several seeds
@dataclasses.dataclass
class CapstoneRuns:
    """One configuration trained with several seeds: the models (best weights) and their results."""

    models: list
    results: list
    #: the most epochs a run could take and the early-stopping patience it ran with (None: never stopped early)
    max_epochs: int | None = None
    patience: int | None = None

    def __len__(self) -> int:
        return len(self.results)

    def ended_by(self) -> dict:
        """What ended each run, counted over the seeds: ``early`` (early stopping, before ``max_epochs``),
        ``cap`` (it ran all ``max_epochs``), and ``improving`` (of those at the cap, the runs whose best epoch
        lies within the last ``patience`` epochs: still improving when the cap ended them)."""
        cap = self.max_epochs
        at_cap = [r for r in self.results if cap is None or r.epochs >= cap]
        improving = [r for r in at_cap if self.patience is None or r.epochs - (r.best_epoch - r.start_epoch)
                     < self.patience]
        return {"early": len(self.results) - len(at_cap), "cap": len(at_cap), "improving": len(improving)}

    def values(self, metric: str, target: float | None = None) -> np.ndarray:
        """One value per seed: ``test_acc`` / ``best_val_acc`` (%), ``best_epoch``, ``epochs`` (trained,
        i.e. where early stopping stopped), ``seconds_per_epoch``, or ``epochs_to`` (the first epoch whose
        validation accuracy reaches ``target`` %, NaN when none does)."""
        if metric == "epochs_to":
            if target is None:
                raise ValueError("epochs_to needs target=, a validation accuracy in %.")
            return np.array([epochs_to(r, target) for r in self.results], dtype=float)
        scale = 100.0 if metric in ("test_acc", "best_val_acc") else 1.0
        return np.array([scale * getattr(r, metric) for r in self.results], dtype=float)

    def mean_sd(self, metric: str, target: float | None = None) -> tuple[float, float]:
        v = self.values(metric, target)
        return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def epochs_to(result, target: float) -> float:
    """The first epoch whose validation accuracy is at least ``target`` % (NaN if none is)."""
    hits = np.flatnonzero(100 * np.asarray(result.val_acc) >= target)
    return float(result.start_epoch + hits[0] + 1) if len(hits) else math.nan


def _rate_not_found(optimizer_fn) -> str | None:
    """The name of a learning rate the optimizer factory closes over that is None (`nadam(lr.get("SELU"))` while
    the SELU search has no rate yet), else None."""
    import inspect

    try:
        bound = inspect.getclosurevars(optimizer_fn).nonlocals
    except Exception:
        return None
    return next((k for k, v in bound.items() if v is None and "lr" in k.lower()), None)


def capstone_seeds(build_fn: Callable, optimizer_fn: Callable, data, *, seeds: int | Sequence[int] = 5,
                   desc: str = "capstone", **run_kw) -> CapstoneRuns | None:
    """:func:`capstone_run` for each seed (``build_fn(seed)``, the seed also orders the batches).

    Seed ``s`` of two configurations shares the batch order, and the initial draws when the builders draw
    alike: the configurations can be compared seed by seed (:func:`course_utils.compare.paired_table`).
    Returns a :class:`CapstoneRuns`, or ``None`` (after the friendly message) while the learner's code is a
    stub or fails.
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    missing = _rate_not_found(optimizer_fn)
    if missing:
        _say(FAIL, f"{desc}: no learning rate yet: the optimizer was made with `{missing}` = None, the rate the "
             "search cell above returns while its configuration is not finished (or its search did not run).\n"
             "   hint:     finish the builder that configuration uses and run its search cell first "
             "(`lr[...] = exercises.search_lr(...)`), then run this cell again; the optimizer helper itself is "
             "fine.")
        return None
    models, results = [], []
    for s in seeds:
        model, result = capstone_run(build_fn, optimizer_fn, data, seed=s, desc=f"{desc}, seed {s}", **run_kw)
        if result is None:
            return None
        models.append(model)
        results.append(result)
    note = _cached_note(*results)
    if note:
        print(_wrap(f"ℹ️ note — {desc}: {note}"))
    return CapstoneRuns(models, results, max_epochs=run_kw.get("epochs"), patience=run_kw.get("patience"))


def search_lr(build_fn: Callable, make_optimizer: Callable, data, *, rates: Sequence[float], epochs: int,
              patience: int | None = None, seed: int = 100, scheduler_fn: Callable | None = None,
              desc: str = "lr search", **run_kw) -> tuple[float | None, dict]:
    """A learning-rate search: one run per rate, on one seed, the test split unseen.

    Each run takes at most ``epochs`` epochs, stopped early after ``patience`` epochs without a better
    validation accuracy (``None``: never), as the runs it tunes for.

    ``make_optimizer(params, lr)`` builds the optimizer; with ``scheduler_fn(optimizer, lr)`` the rate is
    also handed to the schedule (1cycle: its peak).  ``seed`` should be none of the seeds the comparison
    reports (the default, 100, is not among ``range(seeds)``): a rate tuned on the test seeds would favour
    them.  A rate whose run diverges counts as the worst; a note says so, and another when the best rate is
    the lowest or the highest of the grid (a rate beyond it might be better still: widen the grid).

    Returns ``(best rate, {rate: TrainResult or None if it diverged})``, the best rate being the one with
    the highest validation accuracy; ``(None, {})`` while the learner's code is a stub or fails.
    """
    ignored = _ignores_its_rate(make_optimizer, scheduler_fn, rates)
    if ignored:
        _say(FAIL, f"{desc}: {ignored}")
        return None, {}
    out = {}
    for lr in rates:
        sched = None if scheduler_fn is None else (lambda o, lr=lr: scheduler_fn(o, lr))
        _, r, status, message = _run(build_fn, lambda p, lr=lr: make_optimizer(p, lr), data, epochs=epochs,
                                     patience=patience, scheduler_fn=sched, desc=f"{desc}, lr {lr:g}", seed=seed,
                                     test=False, **{"batch_size": 256, "progress": None, "use_cache": True,
                                                    **run_kw})
        if status == "diverged":
            print(_wrap(f"ℹ️ note — {desc}: the run with lr {lr:g} diverged; it counts as the worst rate."))
            out[lr] = None
            continue
        if status != "ok":
            print(message)
            return None, {}
        out[lr] = r
    done = [lr for lr in out if out[lr] is not None]
    if not done:
        _say(FAIL, f"{desc}: every rate of the grid diverged.\n   hint:     try smaller rates.")
        return None, {}
    note = _cached_note(*(out[lr] for lr in done))
    if note:
        print(_wrap(f"ℹ️ note — {desc}: {note}"))
    best = max(done, key=lambda lr: out[lr].best_val_acc)
    grid = sorted(rates)
    if len(grid) >= 3 and best in (grid[0], grid[-1]):
        side = "lowest" if best == grid[0] else "highest"
        print(_wrap(f"ℹ️ note — {desc}: the best rate, {best:g}, is the {side} of the grid: a rate beyond it might "
                    "be better still; widen the grid before trusting the comparison."))
    return best, out


def _ignores_its_rate(make_optimizer, scheduler_fn, rates, steps: int = 40) -> str | None:
    """A report line when ``scheduler_fn(optimizer, lr)`` gives the same learning rates whatever ``lr`` it is
    handed (e.g. a OneCycleLR with its own max_lr): every run of the search would then be the same, and the
    grid would decide nothing.  None when it follows the rate, or when it cannot be probed (the runs report)."""
    import warnings

    if scheduler_fn is None or len(set(rates)) < 2:
        return None
    lo, hi = min(rates), max(rates)
    seqs = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for lr in (lo, hi):
                opt = make_optimizer([torch.zeros(1, requires_grad=True)], lr)
                sched = scheduler_fn(opt, lr)
                seq = []
                for _ in range(min(steps, getattr(sched, "total_steps", steps) or steps)):
                    seq.append(float(opt.param_groups[0]["lr"]))
                    opt.step()
                    sched.step()
                seqs.append(seq)
    except Exception:  # the runs themselves report what is wrong
        return None
    if seqs[0] and np.allclose(seqs[0], seqs[1], rtol=1e-9, atol=0):
        return (f"your scheduler_fn ignores the rate it is handed: with lr {lo:g} and with lr {hi:g} it drives "
                "the optimizer through the same learning rates, so every run of the search would be the same."
                "\n   hint:     build the schedule from the `lr` argument (for 1cycle, it is the peak rate, "
                "`max_lr`), not from a number written into the function.")
    return None


def _deterministic_prefix(model: nn.Module):
    """``(prefix, rest)`` of an ``nn.Sequential`` split before its first dropout layer (``(None, model)``
    otherwise): the prefix gives the same output on every MC pass, so it need run only once."""
    if isinstance(model, nn.Sequential):
        for i, m in enumerate(model):
            if any(isinstance(c, nn.modules.dropout._DropoutNd) for c in m.modules()):
                return (model[:i] if i else None), model[i:]
    return None, model


def mc_dropout_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, n_samples: int = 10,
                        batch_size: int = 2000, seed: int = 0) -> float:
    """Accuracy of the MC-dropout prediction (mean softmax over ``n_samples`` passes, dropout on).

    The layers before the first dropout layer are computed once per batch (they are deterministic), the
    rest ``n_samples`` times; seeded, on one thread.
    """
    prefix, rest = _deterministic_prefix(model)
    was, correct = model.training, 0
    with _one_thread(), torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        model.eval()
        for i in range(0, len(y), batch_size):
            x = X[i:i + batch_size]
            mean, _ = mc_dropout_predict_reference(rest, x if prefix is None else prefix(x), n_samples)
            correct += (mean.argmax(-1) == y[i:i + batch_size]).sum().item()
    model.train(was)
    return correct / max(len(y), 1)


def step_times(builders: Mapping[str, Callable], optimizer_fn: Callable, *, batch_size: int, steps: int = 10,
               repeats: int = 5, input_shape=(1, 28, 28), classes: int = 10) -> dict:
    """Seconds per training step (forward, backward, optimizer step) of each model, on one CPU thread.

    The models take turns (``repeats`` rounds of ``steps`` steps each) and each keeps its fastest round,
    so a busy machine slows them alike instead of whichever ran during the busy moment.  Returns
    ``{label: seconds}``, with ``None`` for a label whose builder is still the stub, or whose model cannot
    train (a message says why: a float64 model, an nn.ModuleList, an exception from the learner's code).
    """
    if not isinstance(builders, Mapping):
        _say(FAIL, f"step_times: expected a dict of builders, {{label: builder}}, got {_describe(builders)}.\n"
             "   hint:     pass the dict of the notebook's call, each builder's name without parentheses.")
        return {}
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, *input_shape, generator=g)
    y = torch.randint(0, classes, (batch_size,), generator=g)
    setups, best = {}, {}

    def refuse(label, bad):
        _say(FAIL, f"step_times, {label} (no time for it): {bad['headline']}\n   hint:     {bad['hint']}")

    with _one_thread(), _SettingsKept() as kept:
        for label, build in builders.items():
            best[label] = None
            bad = _builder_problem(build, "in the dict, " + repr(label) + ": the builder")
            if bad:
                refuse(label, bad)
                continue
            try:
                model = build(0)
            except NotImplementedError:
                kept.changed()
                continue
            except Exception as e:  # the learner's builder: report, never raise
                bad = kept.changed("your builder")
                if bad:
                    refuse(label, bad)
                else:
                    _say_raised(f"step_times, {label} (no time for it)", e, context="init")
                continue
            bad = kept.changed("your builder") or _model_problem(model)
            if bad:
                refuse(label, bad)
                continue
            model = model.cpu().train()
            try:
                setups[label] = (model, optimizer_fn(model.parameters()))
            except Exception as e:
                bad = kept.changed()
                if bad:
                    refuse(label, bad)
                else:
                    _say_raised(f"step_times, {label} (no time for it)", e, context="optimizer")
                continue
            bad = kept.changed("your optimizer function")
            if bad:
                refuse(label, bad)
                del setups[label]
                continue
            best[label] = math.inf
        for _ in range(repeats):
            for label, (model, opt) in list(setups.items()):
                t0 = time.perf_counter()
                try:
                    for _ in range(steps):
                        loss = F.cross_entropy(model(x), y)
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        opt.step()
                    bad = kept.changed()
                except Exception as e:  # the learner's model: report once, leave it out
                    bad = kept.changed()
                    if not bad:
                        _say_raised(f"step_times, {label} (no time for it)", e)
                        del setups[label]
                        best[label] = None
                        continue
                if bad:
                    refuse(label, bad)
                    del setups[label]
                    best[label] = None
                    continue
                best[label] = min(best[label], (time.perf_counter() - t0) / steps)
    return best


# ----------------------------------------------------------------------------- the table and the curves
def convergence_target(*runs: CapstoneRuns, below: float = 3.0) -> float:
    """A validation accuracy (%) that every run reaches: ``below`` points under the lowest best validation
    accuracy of any seed of any configuration given, rounded down (the bar for "epochs to converge").

    Per run, not per configuration mean: a seed that stalls below its configuration's mean would otherwise
    never reach the bar and have no epoch count to compare."""
    return float(math.floor(min(float(np.min(r.values("best_val_acc"))) for r in runs) - below))


def capstone_table(runs: Mapping[str, object], *, target: float | None = None):
    """Comparison table: one row per configuration, mean ± sd over the seeds.

    ``runs`` maps a label to a :class:`CapstoneRuns` (columns: test accuracy of the kept weights, epochs to
    ``target`` % validation accuracy when given, best epoch, epochs trained, and how many seeds early stopping
    stopped before the epoch cap: the others ran to the cap), ``None`` (not run yet) or a
    list of per-seed test accuracies in % (e.g. the same weights predicting with MC dropout).
    """
    import pandas as pd

    def pm(v, digits=1):
        v = np.asarray(v, dtype=float)
        if not np.isfinite(v).all():
            return f"{np.isfinite(v).sum()}/{len(v)} reach it"
        return f"{np.mean(v):.{digits}f} ± {np.std(v, ddof=1) if len(v) > 1 else 0.0:.{digits}f}"

    acc, to = "test acc (%)", None if target is None else f"epochs to {target:.0f} %"
    rows = []
    for label, r in runs.items():
        if r is None:
            rows.append({"configuration": label, acc: "not run yet"})
        elif isinstance(r, CapstoneRuns):
            row = {"configuration": label, acc: pm(r.values("test_acc"))}
            if to:
                row[to] = pm(r.values("epochs_to", target))
            row.update({"best epoch": pm(r.values("best_epoch")), "epochs trained": pm(r.values("epochs"))})
            if r.max_epochs is not None:
                e = r.ended_by()
                row["stopped early"] = ("none (fixed length)" if r.patience is None else
                                        f"{e['early']} of {len(r)} (cap {r.max_epochs})")
            rows.append(row)
        else:
            rows.append({"configuration": label, acc: pm(list(r))})
    return pd.DataFrame(rows).set_index("configuration").astype(object).fillna("")


def _curves_description(r: CapstoneRuns, metric: str, name: str, scale: float, target: float | None) -> str:
    """One panel of :func:`plot_capstone_curves` in words, for the figure's alt text (``_ext/figure_describe.py``
    reads ``ax.course_description``): the quantity, the best value of the seeds and where it was kept, when
    the runs reached the bar, and how many early stopping ended."""
    n = len(r.results)
    best = [scale * max(getattr(res, metric)) if metric.endswith("acc") else scale * min(getattr(res, metric))
            for res in r.results if len(getattr(res, metric))]
    kept = [res.best_epoch for res in r.results]
    parts = [f"{name} of {n} seed{'s' * (n != 1)}"]
    if best:
        parts.append(f"best {min(best):.1f} to {max(best):.1f}, kept at epochs {min(kept)} to {max(kept)}")
    if target is not None and metric == "val_acc":
        hit = [e for e in (epochs_to(res, target) for res in r.results) if not math.isnan(e)]
        parts.append(f"none reaches the bar of {target:.0f} %" if not hit else
                     f"{len(hit)} of {n} reach the bar of {target:.0f} %, at epochs {min(hit):.0f} to {max(hit):.0f}")
    if r.max_epochs is not None:
        early = sum(res.epochs < r.max_epochs for res in r.results)
        parts.append(f"{early} of {n} stopped early, before epoch {r.max_epochs}" if early else
                     f"every run trained all {r.max_epochs} epochs")
    return "; ".join(parts)


def plot_capstone_curves(runs: Mapping[str, CapstoneRuns | None], *, target: float | None = None,
                         metric: str = "val_acc", y_from: float | None = None):
    """The learning curves as small multiples: one panel per configuration, one line per seed.

    Seed ``k`` has the same colour and dash in every panel (the seeds pair across configurations), a dot
    marks the epoch whose weights each run keeps, a line ends where its run stopped (early stopping, marked ×,
    or the epoch cap), and the dotted line is ``target`` (the common bar).  The last panel holds the legend.  ``y_from``
    starts the shared y axis there (e.g. some points under the bar, where the comparisons live; the first epochs
    below it enter from the bottom).  Returns the figure.
    """
    import matplotlib.pyplot as plt

    from ..plotting import figsize, integer_epochs, series_styles

    runs = {k: v for k, v in runs.items() if v is not None}
    names = {"val_acc": "validation accuracy (%)", "train_acc": "training accuracy (%)",
             "train_loss": "training loss", "val_loss": "validation loss"}
    n_seeds = max((len(r) for r in runs.values()), default=1)
    seeds = [f"seed {s.seed}" for s in max(runs.values(), key=len).results] if runs else ["seed 0"]
    styles = series_styles(seeds, markers=False)
    ncols = 3
    nrows = math.ceil((len(runs) + 1) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize(ncols, nrows, aspect=0.85, extra_height=0.6),
                             sharex=True, sharey=True, squeeze=False)
    axes = axes.ravel()
    scale = 100.0 if metric.endswith("acc") else 1.0
    for ax, (label, r) in zip(axes, runs.items()):
        for res in r.results:
            st = styles[f"seed {res.seed}"] if f"seed {res.seed}" in styles else styles[seeds[0]]
            ys = scale * np.asarray(getattr(res, metric), dtype=float)
            xs = np.arange(res.start_epoch + 1, res.start_epoch + len(ys) + 1)
            # labelled by series (the alt text names them; the legend is drawn in its own panel)
            ax.plot(xs, ys, lw=1.3, **{**st, "label": f"seed {res.seed}"})
            b = res.best_epoch - res.start_epoch - 1
            if 0 <= b < len(ys):
                ax.plot(xs[b], ys[b], "o", color=st["color"], ms=4.5, mec="white", mew=0.6, label="_kept")
            if r.max_epochs is not None and res.epochs < r.max_epochs and len(ys):  # early stopping ended it here
                ax.plot(xs[-1], ys[-1], "x", color=st["color"], ms=5.5, mew=1.4, label="_stopped")
        if target is not None and metric == "val_acc":
            ax.axhline(target, color="#555555", ls=":", lw=1, label="_bar")  # in the legend panel
        ax.set_title(label)
        integer_epochs(ax)
        ax.course_description = _curves_description(r, metric, names.get(metric, metric), scale, target)
    for i, ax in enumerate(axes[:len(runs)]):
        if i + ncols >= len(runs):  # no panel of runs below: this one shows and names the epochs
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("epoch")
    for ax in axes[len(runs):]:
        ax.axis("off")
    if y_from is not None:
        axes[0].set_ylim(bottom=y_from)   # the axes share y
    fig.supylabel(names.get(metric, metric))
    handles = [plt.Line2D([], [], lw=1.3, **styles[s]) for s in seeds[:n_seeds]]
    labels = list(seeds[:n_seeds])
    handles.append(plt.Line2D([], [], ls="none", marker="o", color="#333333", ms=4.5))
    labels.append("kept epoch")
    if any(r.max_epochs is not None and any(res.epochs < r.max_epochs for res in r.results) for r in runs.values()):
        handles.append(plt.Line2D([], [], ls="none", marker="x", color="#333333", ms=5.5, mew=1.4))
        labels.append("stopped early")
    if target is not None and metric == "val_acc":
        handles.append(plt.Line2D([], [], color="#555555", ls=":", lw=1))
        labels.append(f"the bar, {target:.0f} %")
    axes[len(runs)].legend(handles, labels, loc="center", ncol=2, frameon=False, fontsize="small",
                           handlelength=1.8, columnspacing=1.0)
    return fig
