"""One training loop for the whole book, with a results cache keyed by configuration.

``train_model`` trains a classifier on preloaded tensors, keeps the weights of
the epoch with the best validation accuracy, and returns a :class:`TrainResult`.
The result *and* the best weights are stored in the cache folder under a hash
of everything that determines them, so rebuilding the book (or re-running a
notebook under nbval) reuses a run instead of training again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._io import atomic_torch_save
from .config import cache_dir as _default_cache_dir, default_device, ensure_writable, progress_enabled
from .data import batches

__all__ = ["TrainResult", "train_model", "evaluate", "run_seeds", "config_key", "package_source_hash"]

CACHE_FORMAT = 1


@dataclasses.dataclass
class TrainResult:
    """What a training run produced (one entry per epoch in the lists)."""

    test_acc: float
    train_acc: list[float]
    val_acc: list[float]
    train_loss: list[float]
    val_loss: list[float]
    lr: list[float]  # learning rate at the start of each epoch (first parameter group)
    best_epoch: int  # 1-based epoch whose weights were kept
    seconds: float  # wall-clock training time of the run that produced this result
    device: str
    epochs: int
    seed: int
    key: str = ""
    cached: bool = False

    @property
    def best_val_acc(self) -> float:
        return self.val_acc[self.best_epoch - 1]

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / max(self.epochs, 1)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("cached")
        return d


# ----------------------------------------------------------------------------- cache key
def package_source_hash() -> str:
    """SHA-256 over the source files of ``course_utils`` (a code change invalidates cached runs)."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(f.name.encode())
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


def _describe_callable(fn) -> str:
    """A stable description of a function (used for LambdaLR lambdas and the like)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn)
    closure = [repr(c.cell_contents) for c in (fn.__closure__ or ())]
    return hashlib.sha256(repr((code.co_code, code.co_consts, code.co_names, closure)).encode()).hexdigest()[:16]


def _jsonable(x):
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items() if k != "params"}
    if isinstance(x, torch.Tensor):
        return x.tolist() if x.numel() <= 16 else f"tensor{tuple(x.shape)}"
    if callable(x):
        return _describe_callable(x)
    return repr(x)


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
        "course_utils": package_source_hash(),
        "extra": _jsonable(extra or {}),
    }
    blob = json.dumps(desc, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:24], desc


# ----------------------------------------------------------------------------- training
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


def train_model(model: nn.Module, optimizer_fn: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
                data, *, epochs: int, batch_size: int = 256, seed: int = 42, device=None,
                scheduler_fn: Callable | None = None, scheduler_interval: str | None = None,
                cache_dir: str | Path | None = None, use_cache: bool = True, progress: bool | None = None,
                loss_fn: Callable | None = None, desc: str | None = None, extra_key: dict | None = None
                ) -> TrainResult:
    """Train ``model`` on ``data.train``, keep the best-validation weights, report test accuracy.

    The model must already be initialised: its initial weights are part of the
    cache key, so two initialisations never share a cached result.  On return the
    model holds the weights of the best validation epoch (also on a cache hit).

    Args:
        model: a classifier returning logits of shape ``(B, num_classes)``.
        optimizer_fn: ``params -> optimizer``, e.g. ``lambda p: torch.optim.Adam(p, lr=1e-3)``.
        data: a :class:`~course_utils.data.FashionMNISTData` (or anything with ``train``,
            ``val``, ``test`` ``(X, y)`` pairs and a ``fingerprint()``).
        epochs: number of passes over the training set.
        batch_size: mini-batch size.
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

    Raises:
        FloatingPointError: the loss became NaN or infinite (names the epoch and step).
        ValueError / TypeError: invalid arguments, with what was expected.
    """
    _check_args(epochs, batch_size, seed, optimizer_fn, scheduler_interval)
    dev = default_device(device)
    if data.device != dev:
        data = data.to(dev)
    model.to(dev)
    optimizer = optimizer_fn(model.parameters())
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer_fn returned {type(optimizer).__name__}, not a torch.optim.Optimizer.")
    scheduler = scheduler_fn(optimizer) if scheduler_fn is not None else None
    sched = torch.optim.lr_scheduler
    if scheduler_interval is None:
        scheduler_interval = "step" if isinstance(scheduler, (sched.OneCycleLR, sched.CyclicLR)) else "epoch"
    loss_fn = loss_fn or F.cross_entropy
    key, _ = config_key(model, optimizer, data, epochs=epochs, batch_size=batch_size, seed=seed,
                        device=dev, scheduler=scheduler, scheduler_interval=scheduler_interval,
                        extra={"loss_fn": _describe_callable(loss_fn), **(extra_key or {})})
    path = None
    if use_cache:
        folder = Path(cache_dir) if cache_dir is not None else _default_cache_dir("runs", create=False)
        ensure_writable(folder)
        path = folder / f"{key}.pt"
        hit = _load_cached(path, model, dev)
        if hit is not None:
            return hit

    from tqdm.auto import tqdm

    show = progress_enabled(progress)
    X_tr, y_tr = data.train
    gen = torch.Generator().manual_seed(seed)
    hist = {k: [] for k in ("train_acc", "val_acc", "train_loss", "val_loss", "lr")}
    best_acc, best_epoch, best_state = -1.0, 0, None
    n_steps = math.ceil(len(y_tr) / batch_size)
    fork_devices = [dev] if dev.type == "cuda" else []
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        bar = tqdm(range(1, epochs + 1), desc=desc or "training", unit="epoch", disable=not show, leave=False)
        for epoch in bar:
            model.train()
            hist["lr"].append(optimizer.param_groups[0]["lr"])  # the rate the epoch starts with
            losses = torch.zeros(n_steps, device=dev)
            correct = torch.zeros((), device=dev)
            for step, (xb, yb) in enumerate(batches(X_tr, y_tr, batch_size, shuffle=True, generator=gen)):
                logits = model(xb)
                loss = loss_fn(logits, yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None and scheduler_interval == "step":
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
            hist["train_loss"].append(losses.mean().item())
            hist["train_acc"].append(correct.item() / len(y_tr))
            hist["val_acc"].append(val_acc)
            hist["val_loss"].append(val_loss)
            if val_acc > best_acc:
                best_acc, best_epoch = val_acc, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if scheduler is not None and scheduler_interval == "epoch":
                if isinstance(scheduler, sched.ReduceLROnPlateau):
                    scheduler.step(val_loss)
                else:
                    scheduler.step()
            bar.set_postfix(val_acc=f"{val_acc:.3f}")
        bar.close()
    seconds = time.perf_counter() - t0
    model.load_state_dict(best_state)
    test_acc, _ = evaluate(model, *data.test)
    result = TrainResult(test_acc=test_acc, best_epoch=best_epoch, seconds=seconds,
                         device=str(dev), epochs=epochs, seed=seed, key=key, **hist)
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
