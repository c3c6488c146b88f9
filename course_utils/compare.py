"""Comparing runs: parity with torch.optim, memory, learning-rate sweeps, grid searches and seeds.

The statistics that judge the runs (:func:`mean_ci`, :func:`paired_table`, :func:`verdict`, :func:`holm`,
:func:`welch_table` and the readers of the recorded ``full`` run) live in :mod:`course_utils.significance` and are
re-exported here, so a page reads ``compare.paired_table`` next to ``compare.lr_sweep``.

Compute first, draw second: the ``*_table``/``sweep``/``welch`` functions return pandas
DataFrames; :func:`course_utils.plotting.plot_sweep` and :func:`~course_utils.plotting.plot_seed_intervals`
draw them.
"""
from __future__ import annotations

import itertools
import math
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import optim as _optim
from .significance import *  # noqa: F401,F403  (re-exported: compare.verdict, compare.paired_table, …)
from .significance import __all__ as _significance_all
from .train import train_model

__all__ = ["track", "parity_with_torch", "parity_table", "memory_table", "lr_sweep", "sweep_means", "best_rates",
           "grid_search", *_significance_all]


# ----------------------------------------------------------------------------- toy runs
def track(optimizer_cls: type[torch.optim.Optimizer], loss_fn: Callable[[torch.Tensor, int], torch.Tensor],
          start: Sequence[float], steps: int, *, state_keys: Sequence[str] = (), **opt_kwargs
          ) -> dict[str, np.ndarray]:
    """Run an optimizer on a toy loss and record the weights (and chosen state) at every step.

    Args:
        optimizer_cls: any ``torch.optim.Optimizer`` subclass (the class, not an instance).
        loss_fn: ``(w, t) -> scalar loss`` with ``w`` of shape ``(d,)`` and ``t = 1, 2, ...`` the
            step (so a loss can feed a prescribed gradient sequence: ``loss = g[t] * w.sum()``).
        start: initial weights, length ``d``.
        steps: number of optimizer steps.
        state_keys: names in ``optimizer.state[w]`` to record after each step (e.g. ``"gain"``).
        **opt_kwargs: hyper-parameters, e.g. ``lr=0.1``.

    Returns:
        ``{"w": (steps + 1, d) weights, "step": (steps, d) the change of w at each step,
        key: (steps, d) for each state key}`` as float64 arrays.
    """
    if not (isinstance(optimizer_cls, type) and issubclass(optimizer_cls, torch.optim.Optimizer)):
        raise TypeError(f"optimizer_cls must be a torch.optim.Optimizer subclass, got {optimizer_cls!r}.")
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    w = nn.Parameter(torch.tensor([float(v) for v in start], dtype=torch.float64))  # (d,)
    opt = optimizer_cls([w], **opt_kwargs)
    ws = [w.detach().clone()]
    states = {k: [] for k in state_keys}
    for t in range(1, steps + 1):
        opt.zero_grad()
        loss_fn(w, t).backward()
        opt.step()
        ws.append(w.detach().clone())
        for k in state_keys:
            states[k].append(torch.as_tensor(opt.state[w][k], dtype=torch.float64).clone())
    W = torch.stack(ws).numpy()
    out = {"w": W, "step": np.diff(W, axis=0)}
    out.update({k: torch.stack(v).numpy() for k, v in states.items()})
    return out


# ----------------------------------------------------------------------------- parity and memory
def _tiny_regression(seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(64, 6, generator=g, dtype=dtype)  # (B, 6)
    y = torch.randn(64, 1, generator=g, dtype=dtype)  # (B, 1)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1)).to(dtype)
    return net, X, y


def parity_with_torch(ours: type[torch.optim.Optimizer], reference: Callable, steps: int = 200,
                      seed: int = 0, **kwargs) -> float:
    """Max relative difference of the parameters after ``steps`` full-batch steps, ours vs a reference.

    Both optimizers start from the same float64 network (6-16-1, tanh, mean squared error) and
    see the same data (torch's default dtype is float64 meanwhile, because torch keeps some scalar
    state, e.g. NAdam's running product of momentum coefficients, in that dtype); ``reference(params, **kwargs)`` builds the other optimizer (e.g.
    ``torch.optim.Adam``).  The relative difference is taken per parameter element.
    """
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    finals = []
    old_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps scalar state (NAdam's mu_product) in this dtype
    try:
        for make in (ours, reference):
            net, X, y = _tiny_regression(seed)
            opt = make(net.parameters(), **kwargs)
            for _ in range(steps):
                opt.zero_grad()
                ((net(X) - y) ** 2).mean().backward()
                opt.step()
            finals.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    finally:
        torch.set_default_dtype(old_dtype)
    a, b = finals
    return float(((a - b).abs() / b.abs().clamp_min(1e-12)).max())


#: Configurations checked by :func:`parity_table` (ours, torch) — several per optimizer.
PARITY_CASES: list[tuple[str, dict]] = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.05, lr_decay=1e-2, weight_decay=1e-2)),
    ("RMSprop", dict(lr=1e-2, momentum=0.5, centered=True)),
    ("Adam", dict(lr=1e-2, weight_decay=1e-2)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adamax", dict(lr=1e-2, weight_decay=1e-2)),
    ("NAdam", dict(lr=1e-2, weight_decay=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1)),
]


def parity_table(steps: int = 200, cases: Sequence[tuple[str, dict]] = PARITY_CASES) -> pd.DataFrame:
    """One row per configuration: the max relative difference to ``torch.optim`` after ``steps`` steps.

    Adds the identity ``SGDMomentum(lr=η, β) == torch.optim.SGD(lr=(1-β)η, momentum=β)``.
    """
    rows = []
    for name, kw in cases:
        ref = _optim.TORCH_EQUIVALENTS[name]
        rows.append({"optimizer": name, "settings": ", ".join(f"{k}={v}" for k, v in kw.items()),
                     "reference": f"torch.optim.{name}",
                     "max rel. difference": parity_with_torch(_optim.OPTIMIZERS[name], ref, steps, **kw)})
    beta, lr = 0.9, 0.1
    rows.append({"optimizer": "SGDMomentum", "settings": f"lr={lr}, momentum={beta}",
                 "reference": f"torch.optim.SGD(lr={(1 - beta) * lr:g}, momentum={beta})",
                 "max rel. difference": parity_with_torch(
                     lambda p, **kw: _optim.SGDMomentum(p, lr=lr, momentum=beta),
                     lambda p, **kw: torch.optim.SGD(p, lr=(1 - beta) * lr, momentum=beta), steps)})
    return pd.DataFrame(rows)


def memory_table(model: nn.Module, optimizers: Mapping[str, Callable], slides: Mapping[str, str] | None = None
                 ) -> pd.DataFrame:
    """Measured optimizer state of ``model`` after one step, per optimizer.

    Args:
        model: a float32 model (it is copied, not changed).
        optimizers: ``{label: params -> optimizer}``.
        slides: ``{label: the slides' entry}`` to print beside the measurement (e.g. ``"8n"``).

    Returns:
        DataFrame with the bytes per parameter, the total state in MB, and the slides' column.
    """
    import copy

    rows = []
    for label, make in optimizers.items():
        net = copy.deepcopy(model)
        opt = make(net.parameters())
        for p in net.parameters():
            p.grad = torch.full_like(p, 1e-3)
        opt.step()
        per = _optim.state_bytes_per_param(opt)
        n = sum(p.numel() for p in net.parameters())
        row = {"optimizer": label, "bytes / parameter": per, "state (MB)": per * n / 1e6}
        if slides is not None:
            row["slides"] = slides.get(label, "—")
        rows.append(row)
    return pd.DataFrame(rows).set_index("optimizer")


# ----------------------------------------------------------------------------- sweeps and seeds
def lr_sweep(build_model: Callable[[int], nn.Module], optimizers: Mapping[str, tuple[Callable, Sequence[float]]],
             data, *, epochs: int, seed: int = 0, seeds: Sequence[int] | None = None, progress: bool | None = None,
             **train_kwargs) -> pd.DataFrame:
    """Train once per (optimizer, learning rate[, seed]); a diverged run is kept as a row with NaN accuracy.

    Args:
        build_model: ``seed -> freshly initialised model``.
        optimizers: ``{name: (lr -> (params -> optimizer), [learning rates])}``.
        data: the data set for :func:`~course_utils.train.train_model`.
        epochs: epochs per run.
        seed: the one seed of every run (same initial weights and batches for all rates).
        seeds: several seeds instead (every rate on each): the rows get a ``seed`` column, and
            :func:`sweep_means` averages them; choose the rate on seeds that do not test it later.
        progress: a bar over the runs (and each run's over epochs); default: on unless
            ``COURSE_PROGRESS=0`` (:func:`~course_utils.config.progress_enabled`).
        **train_kwargs: passed to ``train_model`` (``batch_size``, ``device`` ...).

    Returns:
        DataFrame with columns optimizer, lr, best_val_acc, test_acc, final_train_loss, diverged
        (and seed, with ``seeds``).
    """
    if seeds is not None:
        seeds = list(seeds)
        if not seeds:
            raise ValueError("seeds is empty: pass at least one seed, or leave it out and give seed=.")
        return pd.concat([lr_sweep(build_model, optimizers, data, epochs=epochs, seed=s, progress=progress,
                                   **train_kwargs).assign(seed=s) for s in seeds], ignore_index=True)
    from tqdm.auto import tqdm

    from .config import progress_enabled

    for name, (make, lrs) in optimizers.items():
        if len(lrs) == 0:
            raise ValueError(f"no learning rates given for {name!r}.")
    grid = [(name, make, lr) for name, (make, lrs) in optimizers.items() for lr in lrs]
    show = progress_enabled(progress)
    rows = []
    for name, make, lr in tqdm(grid, desc="learning-rate sweep", unit="run", disable=not show, leave=False):
        try:
            r = train_model(build_model(seed), make(lr), data, epochs=epochs, seed=seed, progress=show,
                            desc=f"{name}, lr {lr:g}", **train_kwargs)
            rows.append({"optimizer": name, "lr": lr, "best_val_acc": r.best_val_acc,
                         "test_acc": r.test_acc, "final_train_loss": r.train_loss[-1], "diverged": False})
        except FloatingPointError:
            rows.append({"optimizer": name, "lr": lr, "best_val_acc": np.nan, "test_acc": np.nan,
                         "final_train_loss": np.nan, "diverged": True})
    return pd.DataFrame(rows)


def sweep_means(sweep: pd.DataFrame) -> pd.DataFrame:
    """A sweep over several seeds (:func:`lr_sweep` with ``seeds``) as one row per optimizer and rate: the mean
    of each accuracy over the seeds, ``diverged`` when any seed diverged (its mean is then NaN), and ``seeds``,
    how many seeds it averages.  A sweep without a ``seed`` column is returned as it is."""
    if "seed" not in sweep.columns:
        return sweep
    g = sweep.groupby(["optimizer", "lr"], sort=False)
    out = g[["best_val_acc", "test_acc", "final_train_loss"]].mean().reset_index()
    out["diverged"] = g["diverged"].any().to_numpy()
    out.loc[out["diverged"], ["best_val_acc", "test_acc", "final_train_loss"]] = np.nan
    out["seeds"] = g["seed"].nunique().to_numpy()
    return out


def best_rates(sweep: pd.DataFrame) -> dict[str, float]:
    """The learning rate with the best validation accuracy for each optimizer of a sweep (over several seeds:
    the best mean, :func:`sweep_means`)."""
    ok = sweep_means(sweep).dropna(subset=["best_val_acc"])
    missing = set(sweep["optimizer"]) - set(ok["optimizer"])
    if missing:
        raise ValueError(f"every learning rate diverged for {sorted(missing)}: sweep smaller rates.")
    idx = ok.groupby("optimizer", sort=False)["best_val_acc"].idxmax()
    return {name: float(ok.loc[i, "lr"]) for name, i in idx.items()}


def grid_search(score: Callable[..., float], grid: Mapping[str, Sequence[float]], *, widen: int = 2
                ) -> pd.DataFrame:
    """Score every point of a grid, and widen an axis wherever the best point sits at its edge.

    The grid is the product of its axes (``{"lam": [1e-5, 1e-4, 1e-3], "eta": [3e-4, 1e-3, 3e-3]}``), each a
    geometric sequence of positive values.  When the best point's value on an axis is that axis's smallest or
    largest, the next value of the sequence beyond that edge (:math:`v_0^2/v_1` or :math:`v_{-1}^2/v_{-2}`, to
    six significant digits, so that a run's hyper-parameter reads ``1e-4``, not ``9.999999999999999e-05``)
    joins the axis and the new points of the product are scored; this repeats at most ``widen`` times.  An axis
    of one value (a method without that hyper-parameter), or whose edge is not positive, is never widened.
    A best point still at an edge after that is named in ``attrs["at_edge"]``: the optimum may lie beyond.

    Args:
        score: ``score(**point) -> float``, higher is better (e.g. the best validation accuracy of a run);
            NaN (a diverged run) never wins.
        grid: ``{axis name: values}``; the names are ``score``'s keyword arguments.
        widen: the most rounds of widening.

    Returns:
        One row per point scored: the axes' values, ``score`` and ``round`` (0: the first grid).  ``attrs``:
        ``best`` (the best point, a dict of plain floats), ``at_edge`` (axes whose best value is still at an
        edge of their grid) and ``widened`` (the values added per axis).

    Raises:
        ValueError: an empty axis, a negative ``widen``, or every point scored NaN.
    """
    if isinstance(widen, bool) or not isinstance(widen, int) or widen < 0:
        raise ValueError(f"widen must be a non-negative integer (rounds of widening), got {widen!r}.")
    axes = {}
    for name, values in grid.items():
        vals = sorted(float(v) for v in values)
        if not vals:
            raise ValueError(f"grid_search: the axis {name!r} has no values.")
        axes[name] = vals
    scored: dict[tuple, tuple[float, int]] = {}

    def run(round_: int) -> None:
        for point in itertools.product(*axes.values()):
            if point not in scored:
                scored[point] = (float(score(**dict(zip(axes, point)))), round_)

    def best() -> tuple:
        ok = {p: s for p, (s, _) in scored.items() if np.isfinite(s)}
        if not ok:
            raise ValueError("grid_search: every point of the grid scored NaN (diverged?): try smaller values.")
        return max(ok, key=ok.get)

    def edges(point: tuple) -> dict[str, float]:
        out = {}
        for (name, vals), v in zip(axes.items(), point):
            if len(vals) < 2:
                continue
            if v == vals[0] and vals[0] > 0:
                out[name] = float(f"{vals[0] ** 2 / vals[1]:.6g}")  # 1e-4, not 9.999999999999999e-05
            elif v == vals[-1] and vals[-2] > 0:
                out[name] = float(f"{vals[-1] ** 2 / vals[-2]:.6g}")
        return out

    run(0)
    widened: dict[str, list[float]] = {name: [] for name in axes}
    for round_ in range(1, widen + 1):
        extra = edges(best())
        if not extra:
            break
        for name, v in extra.items():
            axes[name] = sorted(axes[name] + [v])
            widened[name].append(v)
        run(round_)
    top = best()
    at_edge = [name for (name, vals), v in zip(axes.items(), top) if len(vals) > 1 and v in (vals[0], vals[-1])]
    table = pd.DataFrame([{**dict(zip(axes, p)), "score": s, "round": r} for p, (s, r) in scored.items()])
    table.attrs.update(best=dict(zip(axes, top)), at_edge=at_edge, widened={k: v for k, v in widened.items() if v})
    return table
