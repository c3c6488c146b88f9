"""Save a training run mid-way and resume it exactly: model, optimizer, scheduler and RNG state.

A run can be continued as if it had never stopped only if *everything* that the next
update depends on is restored:

* the model's parameters and buffers,
* the optimizer's state (momentum buffers, Adam's moments and step counts) and its
  ``param_groups`` (the current learning rate),
* the scheduler's counters (``last_epoch``, ReduceLROnPlateau's best value and patience),
* the random number generators: the generator that shuffles the mini-batches and the
  global torch / NumPy / Python ones (dropout and any other randomness).

:func:`save_checkpoint` writes all of it atomically (``_io.atomic_torch_save``: a crash
while saving leaves the previous checkpoint intact), :func:`load_checkpoint` reads it with
``torch.load(weights_only=True)`` (no arbitrary code is unpickled), checks that it fits the
objects it is loaded into *before* changing any of them, and raises :class:`CheckpointError`
with what to do when the file is corrupt or belongs to another model.

Saving and loading is all this module does: the run itself is :func:`course_utils.train.fit`,
which keeps no state outside these objects, so loading a checkpoint and calling it again with
``start_epoch`` continues the run.  :func:`max_param_diff` checks that two runs ended equal.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._io import atomic_torch_save

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state",
           "max_param_diff"]

FORMAT = "course_utils.checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is unreadable, not ours, or does not fit the objects it is loaded into."""


def _cls(obj) -> str | None:
    return None if obj is None else f"{type(obj).__module__}.{type(obj).__qualname__}"


# ----------------------------------------------------------------------------- RNG state
def rng_state(generator: torch.Generator | None = None) -> dict:
    """The state of torch's, NumPy's and Python's global RNGs (and of ``generator``), as plain data.

    Everything is a tensor, number, string, list or tuple, so it loads with ``weights_only=True``.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
        "python": random.getstate(),
        "generator": None if generator is None else generator.get_state(),
    }
    return state


def set_rng_state(state: dict, generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` returned (``generator`` gets the saved generator state)."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if generator is not None:
        if state.get("generator") is None:
            raise CheckpointError("A generator was passed to restore, but the checkpoint saved none; "
                                  "pass generator=None or save the checkpoint with its generator.")
        generator.set_state(state["generator"])


# ----------------------------------------------------------------------------- save / load
def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler=None, *, epoch: int, generator: torch.Generator | None = None,
                    extra: dict | None = None) -> Path:
    """Write model, optimizer, scheduler and RNG state to ``path`` atomically.

    Args:
        path: the checkpoint file (its folder is created).
        model: the network; its ``state_dict()`` is saved.
        optimizer: saved with ``state_dict()`` (optional).
        scheduler: any ``torch.optim.lr_scheduler`` object, ReduceLROnPlateau included (optional).
        epoch: number of epochs completed (the resumed run starts with epoch ``epoch + 1``).
        generator: the ``torch.Generator`` that shuffles the mini-batches (optional).
        extra: anything else to keep (e.g. the history so far); plain data and tensors only.

    Returns:
        The path written.
    """
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be the number of completed epochs (an int >= 0), got {epoch!r}.")
    blob = {
        "format": FORMAT, "version": VERSION, "epoch": epoch,
        "model": model.state_dict(), "model_class": _cls(model),
        "optimizer": None if optimizer is None else optimizer.state_dict(), "optimizer_class": _cls(optimizer),
        "scheduler": None if scheduler is None else scheduler.state_dict(), "scheduler_class": _cls(scheduler),
        "rng": rng_state(generator),
        "extra": extra or {},
    }
    return atomic_torch_save(blob, path)


def _read(path: Path, map_location) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {str(path)!r}. Check the path, or train from scratch.")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch.load fails in many ways on a damaged file (zip, pickle, index errors)
        raise CheckpointError(
            f"{str(path)!r} is not a readable checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). "
            f"It is truncated, corrupt, or was not written by save_checkpoint. Delete it and save again "
            f"from a running job (or restart training).") from e
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is a torch file but not a course_utils checkpoint (no "
                              f"'format': {FORMAT!r}); write checkpoints with save_checkpoint().")
    if blob.get("version") != VERSION:
        raise CheckpointError(f"{str(path)!r} has checkpoint version {blob.get('version')!r}; this code "
                              f"reads version {VERSION}. Save it again with this version of course_utils.")
    return blob


def _check_model(saved: dict, model: nn.Module, path: Path, saved_cls) -> None:
    current = model.state_dict()
    missing = [k for k in current if k not in saved]
    unexpected = [k for k in saved if k not in current]
    shapes = [f"{k}: saved {tuple(saved[k].shape)} vs model {tuple(current[k].shape)}"
              for k in current if k in saved and tuple(saved[k].shape) != tuple(current[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing in the checkpoint: {missing[:4]}{' ...' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"not in the model: {unexpected[:4]}{' ...' if len(unexpected) > 4 else ''}")
        if shapes:
            parts.append("different shapes: " + "; ".join(shapes[:4]))
        raise CheckpointError(f"The checkpoint {str(path)!r} (saved from {saved_cls}) does not fit this "
                              f"{_cls(model)}: " + " | ".join(parts) + ". Build the model with the same "
                              f"architecture that was saved.")


def _check_optimizer(saved: dict, optimizer: torch.optim.Optimizer, path: Path, saved_cls) -> None:
    if saved is None:
        raise CheckpointError(f"An optimizer was passed, but {str(path)!r} holds no optimizer state; "
                              f"pass optimizer=None or save the checkpoint with its optimizer.")
    if saved_cls != _cls(optimizer):
        raise CheckpointError(f"The checkpoint {str(path)!r} holds the state of a {saved_cls}, but a "
                              f"{_cls(optimizer)} was passed; resume with the same optimizer class.")
    mine = [len(g["params"]) for g in optimizer.param_groups]
    theirs = [len(g["params"]) for g in saved["param_groups"]]
    if mine != theirs:
        raise CheckpointError(f"The optimizer has parameter groups of sizes {mine}, the checkpoint {theirs}; "
                              f"build the optimizer over the same parameters (and groups) as when it was saved.")
    # Each saved state tensor must match the shape of the parameter it belongs to.
    params = [p for g in optimizer.param_groups for p in g["params"]]
    ids = [i for g in saved["param_groups"] for i in g["params"]]
    for i, p in zip(ids, params):
        for name, t in saved["state"].get(i, {}).items():
            if isinstance(t, torch.Tensor) and t.dim() > 0 and tuple(t.shape) != tuple(p.shape):
                raise CheckpointError(f"Optimizer state '{name}' of parameter {i} has shape {tuple(t.shape)} "
                                      f"in {str(path)!r}, but the parameter has shape {tuple(p.shape)}; the "
                                      f"optimizer was built over different parameters.")


def load_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler=None, *, generator: torch.Generator | None = None, restore_rng: bool = True,
                    map_location=None) -> dict:
    """Load what :func:`save_checkpoint` wrote into fresh ``model``/``optimizer``/``scheduler``.

    Everything is checked first (format, model keys and shapes, optimizer class and groups,
    scheduler class); only then is anything loaded, so a mismatch leaves the objects untouched.

    Args:
        path: the checkpoint file.
        model: a model of the same architecture (any initial weights).
        optimizer: a fresh optimizer over ``model.parameters()`` of the same class (optional).
        scheduler: a fresh scheduler of the same class wrapping ``optimizer`` (optional).
        generator: the mini-batch ``torch.Generator`` to restore (optional).
        restore_rng: also restore the global torch / NumPy / Python RNGs.
        map_location: passed to ``torch.load`` (default: the device of the model's first parameter).

    Returns:
        ``{"epoch": completed epochs, "extra": the saved extra dict}``.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: unreadable/corrupt file, not a course_utils checkpoint, or a
            model/optimizer/scheduler that does not fit (the message says which and what to do).
    """
    path = Path(path)
    if map_location is None:
        first = next(iter(model.parameters()), None)
        map_location = first.device if first is not None else "cpu"
    blob = _read(path, map_location)
    _check_model(blob["model"], model, path, blob.get("model_class"))
    if optimizer is not None:
        _check_optimizer(blob["optimizer"], optimizer, path, blob.get("optimizer_class"))
    if scheduler is not None:
        if blob["scheduler"] is None:
            raise CheckpointError(f"A scheduler was passed, but {str(path)!r} holds no scheduler state; "
                                  f"pass scheduler=None or save the checkpoint with its scheduler.")
        if blob["scheduler_class"] != _cls(scheduler):
            raise CheckpointError(f"The checkpoint {str(path)!r} holds a {blob['scheduler_class']}, but a "
                                  f"{_cls(scheduler)} was passed; resume with the same scheduler class.")
    if generator is not None and blob["rng"].get("generator") is None:
        raise CheckpointError("A generator was passed to restore, but the checkpoint saved none; "
                              "pass generator=None or save the checkpoint with its generator.")
    model.load_state_dict(blob["model"])
    if optimizer is not None:
        optimizer.load_state_dict(blob["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(blob["scheduler"])
    if restore_rng:
        set_rng_state({**blob["rng"], "generator": blob["rng"].get("generator")}, generator)
    elif generator is not None:
        generator.set_state(blob["rng"]["generator"])
    return {"epoch": blob["epoch"], "extra": blob["extra"]}


# ----------------------------------------------------------------------------- comparing runs
@torch.no_grad()
def max_param_diff(a: nn.Module, b: nn.Module) -> float:
    """Largest absolute difference between corresponding entries of two models' state dicts."""
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys():
        raise ValueError("The two models have different parameter names; compare models of one architecture.")
    return max(((sa[k].double() - sb[k].double()).abs().max().item() if sa[k].numel() else 0.0) for k in sa)
