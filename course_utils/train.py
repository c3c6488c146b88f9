"""The one training loop of the book (:func:`fit`), and the cached runs built on it (:func:`train_model`).

Two layers, read top to bottom:

* :func:`fit` is the loop.  Given a model, an optimizer, an optional scheduler and the
  generator that shuffles the mini-batches, it trains ``epochs`` epochs after ``start_epoch`` and
  returns their history as a :class:`TrainResult`.  It keeps no state of its own, so a run saved
  with :func:`course_utils.checkpoint.save_checkpoint` and loaded into fresh objects continues
  exactly where it stopped.
* :func:`train_model` is what the chapters call.  It seeds the run, builds the optimizer and the
  scheduler, runs :func:`fit` (in phases of batch size and learning rate, if asked), keeps the
  weights of the epoch with the best validation accuracy, evaluates them on the test set, and
  stores result *and* weights in the cache folder under a hash of everything that determines
  them, so rebuilding the book (or re-running a notebook under nbval) reuses a run instead of
  training again.  :func:`run_seeds` repeats it over seeds.

One epoch of :func:`fit`: per mini-batch forward, ``zero_grad``, backward, ``optimizer.step()``
and, for a scheduler that counts mini-batches, ``scheduler.step()``
(:func:`course_utils.schedules.step_interval` says which); then the validation loss and accuracy,
``on_epoch_end(epoch, record)``, and the per-epoch ``scheduler.step()`` (with the validation loss
for ``ReduceLROnPlateau``).  The epoch's training loss is the mean of its mini-batch losses.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._io import atomic_torch_save
from .config import cache_dir as _default_cache_dir, default_device, ensure_writable, progress_enabled
from .data import batches
from .schedules import step_interval

__all__ = ["TrainResult", "fit", "train_model", "evaluate", "run_seeds", "config_key", "package_source_hash"]

CACHE_FORMAT = 2

_HISTORY = ("train_acc", "val_acc", "train_loss", "val_loss", "lr")


@dataclasses.dataclass
class TrainResult:
    """What a training run produced: one entry per epoch in the lists, epoch ``start_epoch + 1`` first."""

    train_acc: list[float]
    val_acc: list[float]
    train_loss: list[float]  # mean of the epoch's mini-batch losses
    val_loss: list[float]
    lr: list[float]  # learning rate at the start of each epoch (first parameter group)
    seconds: float  # wall-clock training time of the run that produced this result
    device: str
    start_epoch: int = 0  # epochs completed before the first one listed (a resumed run)
    test_acc: float = math.nan  # the kept weights on the test split (train_model; fit leaves it NaN)
    seed: int | None = None
    key: str = ""
    cached: bool = False

    @property
    def epochs(self) -> int:
        """Number of epochs in the history."""
        return len(self.val_acc)

    @property
    def best_epoch(self) -> int:
        """Epoch (numbered as in the run) with the best validation accuracy: the weights ``train_model`` keeps."""
        return self.start_epoch + int(np.argmax(self.val_acc)) + 1 if self.val_acc else 0

    @property
    def best_val_acc(self) -> float:
        return max(self.val_acc)

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / max(self.epochs, 1)

    def then(self, later: "TrainResult") -> "TrainResult":
        """This run continued by ``later`` (e.g. the run resumed from its checkpoint): histories joined, times added.

        Raises:
            ValueError: ``later`` does not start with the epoch after this run's last one.
        """
        if later.start_epoch != self.start_epoch + self.epochs:
            raise ValueError(f"The later run starts after epoch {later.start_epoch}, but this one ends with epoch "
                             f"{self.start_epoch + self.epochs}; pass start_epoch={self.start_epoch + self.epochs} "
                             f"to fit() when resuming.")
        return dataclasses.replace(later, start_epoch=self.start_epoch, seconds=self.seconds + later.seconds,
                                   **{k: getattr(self, k) + getattr(later, k) for k in _HISTORY})

    def to_dict(self) -> dict:
        """Plain data (lists, numbers, strings): for the cache, or a checkpoint's ``extra``."""
        d = dataclasses.asdict(self)
        d.pop("cached")
        return d


# ----------------------------------------------------------------------------- cache key
#: The modules whose code runs inside a training run: the loop, the data, the models and their layers
#: and initialisers, the optimizers, regularisation hooks and schedulers (with what they import at
#: module level; ``tests/test_train.py`` checks that closure).  A change to any of them invalidates
#: every cached run.  Presentation and analysis code (plots, statistics, verdicts, glue, provenance,
#: graders) is left out, so editing a figure does not retrain the book.
TRAINING_MODULES = ("_io", "config", "data", "gaussian", "init", "layers", "models", "optim", "regularization",
                    "schedules", "train")


def package_source_hash(extra: tuple[str, ...] = ()) -> str:
    """SHA-256 over the source of :data:`TRAINING_MODULES` (plus ``extra`` modules of the package).

    A cached result whose computation also runs other code of the package names that code in
    ``extra`` (the transfer study passes ``("transfer",)``), so a change there invalidates it too.
    """
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in sorted(set(TRAINING_MODULES) | set(extra)):
        f = here / (name.replace(".", "/") + ".py")
        if not f.is_file():
            raise ValueError(f"package_source_hash: course_utils has no module {name!r} ({f} is missing).")
        h.update(name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _state_hash(module: nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(str(t.dtype).encode())
        h.update(t.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy().tobytes()
                 if t.numel() else b"")
    return h.hexdigest()[:16]


def _describe_callable(fn, _depth: int = 0) -> str:
    """A description of a function that is the same on every Python version and in every process.

    Used for LambdaLR lambdas, loss functions and the like: its dotted name and its source text
    where Python has it (a notebook cell's too), else its code object.  Its constants, default
    arguments, closure and the values of the globals it reads (numbers, strings, and lists, tuples, dicts,
    arrays and tensors of them) are part of the description, so ``lambda s: min(1, s / warmup)`` changes key
    when ``warmup`` does, and ``lambda e: factors[e]`` when ``factors`` does.  Bytecode is avoided where possible: it differs between Python versions, and a
    key made of it would make a learner on another version retrain every run.
    """
    import inspect

    if isinstance(fn, functools.partial):
        return "partial(" + json.dumps([_describe_callable(fn.func, _depth + 1), _jsonable(fn.args, _depth + 1),
                                        _jsonable(fn.keywords, _depth + 1)], sort_keys=True) + ")"
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn) if "0x" not in repr(fn) else f"{type(fn).__module__}.{type(fn).__qualname__}"
    module = getattr(fn, "__module__", None) or ""
    parts: dict[str, Any] = {"name": f"{module}.{getattr(fn, '__qualname__', code.co_name)}"}
    # two lambdas on one line share their source text, not their constants
    parts["consts"] = sorted({repr(c) for c in code.co_consts
                              if isinstance(c, (int, float, str, bytes)) and not isinstance(c, bool)})
    try:
        parts["source"] = inspect.getsource(fn).strip()
    except (OSError, TypeError):
        parts["code"] = repr((code.co_code, code.co_consts, code.co_names))
    if _depth < 4:
        if fn.__defaults__:
            parts["defaults"] = _jsonable(list(fn.__defaults__), _depth + 1)
        if fn.__kwdefaults__:
            parts["kwdefaults"] = _jsonable(fn.__kwdefaults__, _depth + 1)
        cells = []
        for c in fn.__closure__ or ():
            try:
                cells.append(_jsonable(c.cell_contents, _depth + 1))
            except ValueError:  # an empty cell
                cells.append(None)
        if cells:
            parts["closure"] = cells
        g = getattr(fn, "__globals__", {})
        plain = {n: _plain(g[n]) for n in code.co_names if n in g and _plain(g[n]) is not None}
        for n in code.co_names:  # containers of values it reads (a list of factors, an array): their contents
            if n in g and n not in plain and isinstance(g[n], (list, tuple, dict, np.ndarray, torch.Tensor)):
                described = json.dumps(_jsonable(g[n], _depth + 1), sort_keys=True, default=repr)
                if "0x" not in described:  # an object's address would change the key in every process
                    plain[n] = described
        plain.update({n: _describe_callable(g[n], _depth + 1) for n in code.co_names  # notebook helpers
                      if n in g and callable(g[n]) and getattr(g[n], "__module__", None) == module
                      and module == "__main__"})
        if plain:
            parts["globals"] = plain
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def _plain(v):
    """``v`` as a plain number, string or bool (NumPy scalars included), else ``None``."""
    if isinstance(v, np.generic) and v.ndim == 0:
        v = v.item()
    return v if isinstance(v, (str, int, float, bool)) else None


def _jsonable(x, _depth: int = 0):
    """``x`` as JSON-able data for a cache key: NumPy and 0-d torch scalars become Python numbers,
    so ``lr=np.float32(0.1)`` and ``lr=0.1`` are one run (as torch trains them), on any NumPy."""
    if isinstance(x, np.generic) and x.ndim == 0:
        x = x.item()
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if isinstance(x, (list, tuple)):
        return [_jsonable(v, _depth) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v, _depth) for k, v in x.items() if k != "params"}
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if isinstance(x, torch.Tensor):
        return x.tolist() if x.numel() <= 16 else f"tensor{tuple(x.shape)}:{_tensor_digest(x)}"
    if callable(x):
        return _describe_callable(x, _depth)
    return repr(x)


def _tensor_digest(t: torch.Tensor) -> str:
    t = t.detach().to("cpu").contiguous()
    return hashlib.sha256(str(t.dtype).encode() + t.view(-1).view(torch.uint8).numpy().tobytes()).hexdigest()[:12]


def _describe_optimizer(opt: torch.optim.Optimizer) -> dict:
    groups = []
    for g in opt.param_groups:
        groups.append({"n_params": sum(p.numel() for p in g["params"]),
                       **{k: _jsonable(v) for k, v in g.items() if k != "params"}})
    return {"class": f"{type(opt).__module__}.{type(opt).__qualname__}", "groups": groups}


def _describe_scheduler(sched) -> dict | None:
    if sched is None:
        return None
    state = {k: _jsonable(v) for k, v in sched.__dict__.items()
             if k not in ("optimizer", "_get_lr_called_within_step", "_step_count", "verbose",
                          "last_epoch", "_last_lr", "_initial_step")}
    for attr in ("lr_lambdas", "lr_lambda"):
        if hasattr(sched, attr):
            fns = getattr(sched, attr)
            fns = fns if isinstance(fns, (list, tuple)) else [fns]
            state[attr] = [_describe_callable(f) for f in fns]
    return {"class": f"{type(sched).__module__}.{type(sched).__qualname__}", "state": state}


def _defining_modules(*objs) -> tuple[str, ...]:
    """The package's modules outside :data:`TRAINING_MODULES` that define a class the run uses (the
    model's layers, the optimizer, the scheduler): a chapter's own optimizer module keys its runs
    without every other run's key depending on it."""
    found = set()
    for obj in objs:
        members = obj.modules() if isinstance(obj, nn.Module) else [obj]
        for m in members:
            mod = type(m).__module__
            if mod.startswith("course_utils."):
                name = mod.split(".", 1)[1]
                if name not in TRAINING_MODULES:
                    found.add(name)
    return tuple(sorted(found))


def config_key(model: nn.Module, optimizer: torch.optim.Optimizer, data, *, epochs: int, batch_size: int,
               seed: int, device: torch.device, scheduler=None, scheduler_interval: str = "epoch",
               extra: dict | None = None) -> tuple[str, dict]:
    """Hash of everything that determines a training run; returns ``(hex key, description)``."""
    desc = {
        "format": CACHE_FORMAT,
        "model": {"class": type(model).__qualname__, "config": _jsonable(getattr(model, "config", None)),
                  "repr": repr(model), "init_state": _state_hash(model)},
        "optimizer": _describe_optimizer(optimizer),
        "scheduler": _describe_scheduler(scheduler),
        "scheduler_interval": scheduler_interval,
        "data": data.fingerprint() if hasattr(data, "fingerprint") else repr(data),
        "epochs": epochs, "batch_size": batch_size, "seed": seed,
        "device": device.type, "torch": torch.__version__.split("+")[0],
        "course_utils": package_source_hash(_defining_modules(model, optimizer, scheduler)),
        "extra": _jsonable(extra or {}),
    }
    blob = json.dumps(desc, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:24], desc


# ----------------------------------------------------------------------------- the loop
@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, batch_size: int = 4096
             ) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``(X, y)`` in eval mode."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), device=X.device)
    loss = torch.zeros((), device=X.device)
    for xb, yb in batches(X, y, batch_size, shuffle=False):
        logits = model(xb)
        loss += F.cross_entropy(logits, yb, reduction="sum")
        correct += (logits.argmax(dim=1) == yb).sum()
    model.train(was_training)
    n = max(len(y), 1)
    return correct.item() / n, loss.item() / n


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, data, *, epochs: int, generator: torch.Generator,
        batch_size: int = 256, scheduler=None, scheduler_interval: str | None = None, start_epoch: int = 0,
        loss_fn: Callable | None = None, on_epoch_end: Callable[[int, dict], Any] | None = None,
        progress: bool | None = None, desc: str | None = None) -> TrainResult:
    """Train ``epochs`` more epochs, numbered from ``start_epoch + 1``, and return their history.

    The loop of the whole book (:func:`train_model` runs it too).  It changes only the objects it
    is given, so to resume a run, load a checkpoint into fresh ones
    (:func:`course_utils.checkpoint.load_checkpoint`) and call it again with ``start_epoch``.

    Args:
        model: a classifier returning logits ``(B, classes)``, on the device of ``data``.
        optimizer: the optimizer over ``model``'s parameters.
        data: ``train`` and ``val`` ``(X, y)`` pairs (a :class:`~course_utils.data.FashionMNISTData`).
        epochs: how many epochs to run now (0 returns an empty history).
        generator: the CPU ``torch.Generator`` that shuffles the mini-batches (save it to resume).
        batch_size: mini-batch size.
        scheduler: a ``torch.optim.lr_scheduler`` object (optional).
        scheduler_interval: ``"step"``, ``"epoch"`` or ``None`` (automatic, see
            :func:`course_utils.schedules.step_interval`).
        start_epoch: epochs already done (for the numbering and :attr:`TrainResult.start_epoch`).
        loss_fn: ``(logits, y) -> loss`` (default: cross-entropy).
        on_epoch_end: called with the epoch number and its record (``train_loss``, ``train_acc``,
            ``val_loss``, ``val_acc``, ``lr``) before the per-epoch scheduler step; when it returns
            True, training stops after this epoch (early stopping).
        progress: a ``tqdm`` bar over the epochs (default: on unless ``COURSE_PROGRESS=0``).
        desc: label of the bar.

    Returns:
        A :class:`TrainResult` without a test accuracy (``test_acc`` is NaN).

    Raises:
        FloatingPointError: the loss became NaN or infinite (names the epoch and step).
    """
    from tqdm.auto import tqdm

    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}.")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    interval = step_interval(scheduler, scheduler_interval)
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    loss_fn = loss_fn or F.cross_entropy
    X, y = data.train
    n_steps = math.ceil(len(y) / batch_size)
    hist = {k: [] for k in _HISTORY}
    t0 = time.perf_counter()
    bar = tqdm(range(start_epoch + 1, start_epoch + epochs + 1), desc=desc or "training", unit="epoch",
               disable=not progress_enabled(progress), leave=False)
    for epoch in bar:
        model.train()
        lr_used = float(optimizer.param_groups[0]["lr"])  # the rate the epoch starts with (a plain number:
        # a LambdaLR factor written with NumPy makes it np.float64, which the cache's weights-only load refuses)
        losses = torch.zeros(n_steps, device=X.device)
        correct = torch.zeros((), device=X.device)
        for step, (xb, yb) in enumerate(batches(X, y, batch_size, shuffle=True, generator=generator)):
            logits = model(xb)  # (B, classes)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if interval == "step":
                scheduler.step()
            losses[step] = loss.detach()
            correct += (logits.detach().argmax(dim=1) == yb).sum()
        finite = torch.isfinite(losses)
        if not bool(finite.all()):
            bad = int((~finite).nonzero()[0])
            raise FloatingPointError(
                f"The training loss became {losses[bad].item()} at epoch {epoch}, step {bad + 1} of "
                f"{n_steps}. The run diverged: lower the learning rate, use a better initialisation, "
                f"or clip gradients.")
        val_acc, val_loss = evaluate(model, *data.val)
        record = {"train_loss": losses.mean().item(), "train_acc": correct.item() / len(y),
                  "val_loss": val_loss, "val_acc": val_acc, "lr": lr_used}
        for k, v in record.items():
            hist[k].append(v)
        stop = bool(on_epoch_end(epoch, record)) if on_epoch_end is not None else False
        if interval == "epoch":
            if plateau:
                scheduler.step(val_loss)
            else:
                scheduler.step()
        bar.set_postfix(val_acc=f"{val_acc:.3f}")
        if stop:
            break
    bar.close()
    return TrainResult(**hist, seconds=time.perf_counter() - t0, device=str(X.device), start_epoch=start_epoch)


# ----------------------------------------------------------------------------- cached runs
class _BestWeights:
    """``on_epoch_end`` hook that copies the weights of the best validation epoch (the first of equal ones).

    With ``patience`` it also asks ``fit`` to stop once that many epochs have passed without a better
    validation accuracy (early stopping).
    """

    def __init__(self, model: nn.Module, patience: int | None = None):
        self.model, self.acc, self.state, self.epoch, self.patience = model, -1.0, None, 0, patience

    def __call__(self, epoch: int, record: dict) -> bool:
        if record["val_acc"] > self.acc:
            self.acc, self.epoch = record["val_acc"], epoch
            self.state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return self.patience is not None and epoch - self.epoch >= self.patience


def _check_args(epochs, batch_size, seed, optimizer_fn, scheduler_interval):
    if not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}.")
    if not callable(optimizer_fn):
        raise TypeError("optimizer_fn must be a callable that takes model.parameters() and returns an "
                        "optimizer, e.g. `lambda p: torch.optim.SGD(p, lr=0.1)`; got "
                        f"{type(optimizer_fn).__name__}.")
    if scheduler_interval not in (None, "epoch", "step"):
        raise ValueError(f"scheduler_interval must be 'epoch', 'step' or None (automatic), "
                         f"got {scheduler_interval!r}.")


def _check_phases(phases) -> list[tuple[int, int, float]]:
    phases = [tuple(p) for p in phases]
    if not phases:
        raise ValueError("phases is empty: pass e.g. [(2, 128, 1.0), (2, 256, 1.0)].")
    for p in phases:
        if (len(p) != 3 or not isinstance(p[0], int) or p[0] <= 0 or not isinstance(p[1], int) or p[1] <= 0
                or not isinstance(p[2], (int, float)) or p[2] <= 0):
            raise ValueError(f"Each phase must be (epochs: positive int, batch_size: positive int, "
                             f"lr_factor: positive number); got {p!r}.")
    return phases


def _load_cached(path: Path, model: nn.Module, device: torch.device) -> TrainResult | None:
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
        result = TrainResult(**blob["result"], cached=True)
        model.load_state_dict(blob["state_dict"])
        return result
    except Exception as e:  # corrupt, truncated, or from an older format: rebuild it
        warnings.warn(f"Cached training result {path.name} is unreadable ({type(e).__name__}: {e}); "
                      f"training again and overwriting it.", RuntimeWarning, stacklevel=3)
        return None


def _train_phases(model, optimizer, scheduler, data, phases, *, seed, device, interval, loss_fn, patience,
                  progress, desc) -> tuple[list[TrainResult], dict]:
    """The training itself: :func:`fit` once per phase ``(epochs, batch_size, lr_factor)`` (factor ``None``:
    the rates as built), seeded, with early stopping; returns each phase's history and the best weights."""
    best = _BestWeights(model, patience)
    gen = torch.Generator().manual_seed(seed)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    parts, done = [], 0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for n_epochs, bs, factor in phases:
            if factor is not None:
                for g, base in zip(optimizer.param_groups, base_lrs):
                    g["lr"] = base * factor
            parts.append(fit(model, optimizer, data, epochs=n_epochs, batch_size=bs, generator=gen,
                             scheduler=scheduler, scheduler_interval=interval, start_epoch=done,
                             loss_fn=loss_fn, on_epoch_end=best, progress=progress, desc=desc))
            done += len(parts[-1].val_acc)
            if len(parts[-1].val_acc) < n_epochs:  # stopped early
                break
    return parts, best.state


def train_model(model: nn.Module, optimizer_fn: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
                data, *, epochs: int | None = None, batch_size: int = 256,
                phases: Sequence[tuple[int, int, float]] | None = None, seed: int = 42, device=None,
                scheduler_fn: Callable | None = None, scheduler_interval: str | None = None,
                cache_dir: str | Path | None = None, use_cache: bool = True, progress: bool | None = None,
                loss_fn: Callable | None = None, desc: str | None = None, extra_key: dict | None = None,
                patience: int | None = None, test: bool = True) -> TrainResult:
    """Train ``model`` on ``data.train``, keep the best-validation weights, report test accuracy.

    The model must already be initialised: its initial weights are part of the
    cache key, so two initialisations never share a cached result.  On return the
    model holds the weights of the best validation epoch (also on a cache hit).

    Args:
        model: a classifier returning logits of shape ``(B, num_classes)``.
        optimizer_fn: ``params -> optimizer``, e.g. ``lambda p: torch.optim.Adam(p, lr=1e-3)``.
        data: a :class:`~course_utils.data.FashionMNISTData` (or anything with ``train``,
            ``val``, ``test`` ``(X, y)`` pairs, ``device``, ``to()`` and a ``fingerprint()``).
        epochs: number of passes over the training set.
        batch_size: mini-batch size.
        phases: instead of ``epochs`` x ``batch_size``, train in phases of ``(epochs, batch_size,
            lr_factor)``: phase ``i`` runs its epochs with its batch size and the rate of every
            parameter group set to ``lr_factor`` times its initial value.  Decaying the rate is
            ``[(2, 128, 1), (2, 128, .5)]``; increasing the batch size instead is
            ``[(2, 128, 1), (2, 256, 1)]``.  Not combined with ``scheduler_fn``.
        seed: seeds the shuffling and any randomness inside the model (dropout).
        device: where to train (default: CUDA if available, else CPU).
        scheduler_fn: ``optimizer -> LR scheduler`` (optional).
        scheduler_interval: ``"epoch"`` or ``"step"``; default is ``"step"`` for
            ``OneCycleLR``/``CyclicLR`` and ``"epoch"`` otherwise.  ``ReduceLROnPlateau``
            is stepped with the validation loss once per epoch.
        cache_dir: folder of the results cache (default: ``<project>/.cache/runs``).
        use_cache: read and write the cache.
        progress: show a ``tqdm`` bar over epochs (default: on unless ``COURSE_PROGRESS=0``;
            see :func:`~course_utils.config.progress_enabled`).
        loss_fn: ``(logits, y) -> loss`` (default: cross-entropy).
        desc: label of the progress bar.
        extra_key: anything else that should separate cache entries (e.g. a regulariser's settings).
        patience: early stopping: stop once ``patience`` epochs have passed without a better
            validation accuracy (``None``: run all ``epochs``); the history ends there.
        test: evaluate the best weights on the test split (``False``: ``test_acc`` is NaN, e.g. for
            a learning-rate search that must not look at the test set).

    Raises:
        FloatingPointError: the loss became NaN or infinite (names the epoch and step).
        ValueError / TypeError: invalid arguments, with what was expected.
    """
    if phases is not None:
        phases = _check_phases(phases)
        total = sum(p[0] for p in phases)
        if epochs is not None and epochs != total:
            raise ValueError(f"epochs={epochs} but the phases add up to {total} epochs; leave epochs out.")
        if scheduler_fn is not None:
            raise ValueError("phases set the learning rate of each phase themselves; pass phases or "
                             "scheduler_fn, not both.")
        epochs, batch_size = total, phases[0][1]
    _check_args(epochs, batch_size, seed, optimizer_fn, scheduler_interval)
    if patience is not None and (not isinstance(patience, int) or patience <= 0):
        raise ValueError(f"patience must be a positive integer (or None), got {patience!r}.")
    dev = default_device(device)
    if data.device != dev:
        data = data.to(dev)
    model.to(dev)
    optimizer = optimizer_fn(model.parameters())
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer_fn returned {type(optimizer).__name__}, not a torch.optim.Optimizer.")
    scheduler = scheduler_fn(optimizer) if scheduler_fn is not None else None
    interval = step_interval(scheduler, scheduler_interval) or "epoch"
    loss_fn = loss_fn or F.cross_entropy
    extra = {"loss_fn": _describe_callable(loss_fn), **(extra_key or {})}
    if phases is not None:
        extra["phases"] = [list(p) for p in phases]
    if patience is not None:
        extra["early_stopping_patience"] = patience
    if not test:
        extra["test"] = False
    key, _ = config_key(model, optimizer, data, epochs=epochs, batch_size=batch_size, seed=seed,
                        device=dev, scheduler=scheduler, scheduler_interval=interval, extra=extra)
    path = None
    if use_cache:
        folder = Path(cache_dir) if cache_dir is not None else _default_cache_dir("runs", create=False)
        ensure_writable(folder)
        path = folder / f"{key}.pt"
        hit = _load_cached(path, model, dev)
        if hit is not None:
            return hit

    parts, best_state = _train_phases(model, optimizer, scheduler, data, phases or [(epochs, batch_size, None)],
                                      seed=seed, device=dev, interval=interval, loss_fn=loss_fn,
                                      patience=patience, progress=progress, desc=desc)
    model.load_state_dict(best_state)
    test_acc = evaluate(model, *data.test)[0] if test else math.nan
    result = dataclasses.replace(functools.reduce(TrainResult.then, parts), test_acc=test_acc,
                                 device=str(dev), seed=seed, key=key)
    if path is not None:
        atomic_torch_save({"result": result.to_dict(), "state_dict": best_state}, path)
    return result


def run_seeds(build_model: Callable[[int], nn.Module], optimizer_fn, data, *, seeds: Sequence[int],
              progress: bool | None = None, desc: str | None = None, **train_kwargs) -> list[TrainResult]:
    """Train one fresh model per seed (``build_model(seed)`` must seed its own init) and return the results.

    Shows a bar over the seeds (and each run's bar over epochs) unless ``progress=False`` or
    ``COURSE_PROGRESS=0``.
    """
    from tqdm.auto import tqdm

    if len(seeds) == 0:
        raise ValueError("seeds is empty: pass at least one seed, e.g. seeds=range(3).")
    out = []
    show = progress_enabled(progress)
    for s in tqdm(list(seeds), desc=desc or "seeds", unit="seed", disable=not show, leave=False):
        out.append(train_model(build_model(s), optimizer_fn, data, seed=s, progress=show,
                               desc=f"seed {s}", **train_kwargs))
    return out
