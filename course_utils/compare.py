"""Comparing runs: parity with torch.optim, memory, learning-rate sweeps, seeds and significance.

The statistics over runs live here: :func:`mean_ci` (a t-interval of the mean over seeds),
:func:`paired_table` (the paired comparison of configurations run on the same seeds: each seed's
difference, its interval, a paired t-test, Holm's correction and the smallest difference the
experiment could have detected), :func:`verdict` (the sentence a page glues, computed from that table,
so prose can never contradict the numbers), :func:`welch_table` (Welch's test, for unpaired runs) and
:func:`holm` (the correction for several comparisons).

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
from .train import TrainResult, train_model

__all__ = ["track", "parity_with_torch", "parity_table", "memory_table", "lr_sweep", "best_rates", "mean_ci",
           "seed_table", "holm", "welch_table", "paired_table", "paired_display", "verdict"]


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
             data, *, epochs: int, seed: int = 0, progress: bool | None = None, **train_kwargs) -> pd.DataFrame:
    """Train once per (optimizer, learning rate); a diverged run is kept as a row with NaN accuracy.

    Args:
        build_model: ``seed -> freshly initialised model``.
        optimizers: ``{name: (lr -> (params -> optimizer), [learning rates])}``.
        data: the data set for :func:`~course_utils.train.train_model`.
        epochs: epochs per run.
        seed: the one seed of every run (same initial weights and batches for all rates).
        progress: a bar over the runs (and each run's over epochs); default: on unless
            ``COURSE_PROGRESS=0`` (:func:`~course_utils.config.progress_enabled`).
        **train_kwargs: passed to ``train_model`` (``batch_size``, ``device`` ...).

    Returns:
        DataFrame with columns optimizer, lr, best_val_acc, test_acc, final_train_loss, diverged.
    """
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


def best_rates(sweep: pd.DataFrame) -> dict[str, float]:
    """The learning rate with the best validation accuracy for each optimizer of a sweep."""
    ok = sweep.dropna(subset=["best_val_acc"])
    missing = set(sweep["optimizer"]) - set(ok["optimizer"])
    if missing:
        raise ValueError(f"every learning rate diverged for {sorted(missing)}: sweep smaller rates.")
    idx = ok.groupby("optimizer", sort=False)["best_val_acc"].idxmax()
    return {name: float(ok.loc[i, "lr"]) for name, i in idx.items()}


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, sample std and a Student-t confidence interval of the mean.

    Returns:
        ``{"mean", "std", "lo", "hi", "n"}``; with one value the interval is ``[mean, mean]``
        and ``std`` is 0.
    """
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    mean = float(v.mean())
    if v.size == 1:
        return {"mean": mean, "std": 0.0, "lo": mean, "hi": mean, "n": 1}
    from scipy import stats as st

    std = float(v.std(ddof=1))
    half = float(st.t.ppf(0.5 + confidence / 2, df=v.size - 1)) * std / math.sqrt(v.size)
    return {"mean": mean, "std": std, "lo": mean - half, "hi": mean + half, "n": int(v.size)}


def seed_table(results: Mapping[str, Sequence[TrainResult]], *, references: Mapping[str, Mapping[str, float]]
               | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Test accuracy (%) over seeds per optimizer: mean, std, a t-interval, and reference columns.

    Args:
        results: ``{optimizer: [TrainResult per seed]}``.
        references: ``{column name: {optimizer: accuracy in %}}``, e.g. the sources' single runs.
    """
    rows = []
    for name, runs in results.items():
        accs = [100 * r.test_acc for r in runs]
        ci = mean_ci(accs, confidence)
        row = {"optimizer": name, "seeds": ci["n"], "mean (%)": ci["mean"], "std (%)": ci["std"],
               f"{int(confidence * 100)}% CI low": ci["lo"], f"{int(confidence * 100)}% CI high": ci["hi"],
               "best epoch (mean)": float(np.mean([r.best_epoch for r in runs]))}
        for col, ref in (references or {}).items():
            row[col] = ref.get(name, np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("optimizer")


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of p-values for multiple comparisons (NaNs are kept and not counted).

    Compare the adjusted values with the level (e.g. 0.05): this controls the chance of *any* false
    "significant" among the comparisons, unlike the raw p-values of several tests read one by one.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def welch_table(results: Mapping[str, Sequence[TrainResult]]) -> pd.DataFrame:
    """Welch's t-test on test accuracy for every pair of optimizers (or of any configurations).

    Returns:
        DataFrame with the pair, the difference of means (percentage points), the two-sided p-value and
        the Holm-adjusted p-value over all the pairs of the table (read significance from that one).
        With a single seed per configuration the p-values are NaN (no variance to test against).
    """
    from scipy import stats as st

    rows = []
    for a, b in itertools.combinations(results, 2):
        xa = np.array([100 * r.test_acc for r in results[a]])
        xb = np.array([100 * r.test_acc for r in results[b]])
        p = float(st.ttest_ind(xa, xb, equal_var=False).pvalue) if min(len(xa), len(xb)) > 1 else np.nan
        rows.append({"A": a, "B": b, "mean A − mean B (pp)": xa.mean() - xb.mean(), "p-value (Welch)": p})
    table = pd.DataFrame(rows, columns=["A", "B", "mean A − mean B (pp)", "p-value (Welch)"])
    table["p (Holm)"] = holm(table["p-value (Welch)"].to_numpy())
    return table


def _accuracies(runs) -> tuple[np.ndarray, list]:
    """Test accuracies in percent of a list of TrainResults (or the numbers themselves), and their seeds."""
    runs = list(runs)
    if all(isinstance(r, TrainResult) for r in runs):
        return np.array([100 * r.test_acc for r in runs], dtype=float), [r.seed for r in runs]
    try:
        return np.array([float(v) for v in runs], dtype=float), [None] * len(runs)
    except (TypeError, ValueError) as e:
        raise TypeError("paired_table needs, per configuration, a list of TrainResults or of numbers "
                        f"(accuracies in %); got {[type(r).__name__ for r in runs][:3]}.") from e


def paired_table(results: Mapping[str, Sequence], pairs: Sequence[tuple[str, str]] | None = None, *,
                 confidence: float = 0.95, power: float = 0.8) -> pd.DataFrame:
    """Paired comparison of configurations trained on the same seeds (same initial weights, batch order).

    Seed ``i`` of configuration A is compared with seed ``i`` of B: the differences A − B remove what
    the two runs share, so a paired test sees effects that a two-sample test over the same runs misses.

    Args:
        results: ``{name: [TrainResult per seed]}`` (test accuracy) or ``{name: [value in % per seed]}``.
        pairs: the family of comparisons ``(A, B)`` tested together (Holm's correction is over these);
            default every pair, in the order of ``results``.
        confidence: level of the interval of the mean paired difference.
        power: for the *detectable* column: the true difference that this many seeds would call
            significant with probability ``power`` (at level ``1 − confidence``, uncorrected), given
            the measured spread of the differences: ``(t₁₋α/₂ + t_power) · sd / √n``.

    Returns:
        One row per pair: ``A``, ``B``, ``n`` (paired seeds), ``A − B (pp)`` (mean difference),
        ``CI low``/``CI high``, ``p (paired t)``, ``p (Holm)``, ``significant`` (Holm < 1 − confidence)
        and ``detectable (pp)``.  With one seed the test columns are NaN and nothing is significant.

    Raises:
        KeyError: a pair names a configuration that ``results`` lacks.
        ValueError: the two sides of a pair have different numbers of seeds, or different seeds.
    """
    from scipy import stats as st

    if not 0 < confidence < 1 or not 0 < power < 1:
        raise ValueError(f"confidence and power must be in (0, 1), got {confidence} and {power}.")
    names = list(results)
    pairs = list(itertools.combinations(names, 2)) if pairs is None else [tuple(p) for p in pairs]
    rows = []
    for a, b in pairs:
        for n_ in (a, b):
            if n_ not in results:
                raise KeyError(f"paired_table: no results for {n_!r}; the configurations are {names}.")
        xa, sa = _accuracies(results[a])
        xb, sb = _accuracies(results[b])
        if len(xa) != len(xb):
            raise ValueError(f"{a!r} has {len(xa)} seeds and {b!r} {len(xb)}: a paired comparison needs the same "
                             f"seeds on both sides (use welch_table for unpaired runs).")
        if any(x is not None and y is not None and x != y for x, y in zip(sa, sb)):
            raise ValueError(f"{a!r} and {b!r} were run on different seeds ({sa} vs {sb}); pair seed i with seed i.")
        d = xa - xb
        n = len(d)
        mean = float(d.mean()) if n else math.nan
        row = {"A": a, "B": b, "n": n, "A − B (pp)": mean, "CI low": math.nan, "CI high": math.nan,
               "p (paired t)": math.nan, "detectable (pp)": math.nan}
        if n > 1:
            sd = float(d.std(ddof=1))
            t_a = float(st.t.ppf(0.5 + confidence / 2, df=n - 1))
            half = t_a * sd / math.sqrt(n)
            row.update({"CI low": mean - half, "CI high": mean + half,
                        "detectable (pp)": (t_a + float(st.t.ppf(power, df=n - 1))) * sd / math.sqrt(n)})
            if sd == 0:  # every seed gives the same difference: exact, no noise to test against
                row["p (paired t)"] = 0.0 if mean != 0 else 1.0
            else:
                row["p (paired t)"] = float(st.ttest_rel(xa, xb).pvalue)
        rows.append(row)
    cols = ["A", "B", "n", "A − B (pp)", "CI low", "CI high", "p (paired t)", "p (Holm)", "significant",
            "detectable (pp)"]
    table = pd.DataFrame(rows, columns=[c for c in cols if c not in ("p (Holm)", "significant")])
    table["p (Holm)"] = holm(table["p (paired t)"].to_numpy()) if len(table) else []
    table["significant"] = (table["p (Holm)"] < 1 - confidence).fillna(False).astype(bool)
    return table[cols]


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def paired_display(paired: pd.DataFrame, *, digits: int = 2):
    """A :func:`paired_table` as a page shows it, narrow enough for the book's column: the difference,
    its interval in one column ("+0.17 to +0.43"), Holm's p, the verdict and the detectable difference
    (the raw p and the number of seeds, the same in every row, are left to the prose).

    Returns a pandas ``Styler``.
    """
    need = {"A", "B", "A − B (pp)", "CI low", "CI high", "p (Holm)", "significant", "detectable (pp)"}
    missing = need - set(paired.columns)
    if missing:
        raise ValueError(f"paired_display expects the table of compare.paired_table; missing columns {sorted(missing)}.")
    signed = lambda v: f"{v:+.{digits}f}" if round(v, digits) != 0 else f"{0:.{digits}f}"  # never "-0.00"
    show = pd.DataFrame({
        "A": paired["A"], "B": paired["B"],
        "A − B (pp)": [signed(v) for v in paired["A − B (pp)"]],
        "interval (pp)": [f"{signed(lo)} to {signed(hi)}" for lo, hi in zip(paired["CI low"], paired["CI high"])],
        "p (Holm)": [f"{p:.3f}" for p in paired["p (Holm)"]],
        "significant": ["yes" if s else "no" for s in paired["significant"]],
        "detectable (pp)": [f"{d:.{digits}f}" for d in paired["detectable (pp)"]]})
    return show.style.hide(axis="index")


def verdict(table: pd.DataFrame, *, what: str, unit: str = "points", confidence: float = 0.95) -> str:
    """The sentence a page glues about a family of paired comparisons, computed from :func:`paired_table`.

    Names every significant difference with its direction, size, interval and corrected p-value; when
    none is significant it says so, names the largest difference, and states the smallest difference
    the experiment could have detected, so "not significant" is never read as "equal".

    Args:
        table: the output of :func:`paired_table` (one family of comparisons).
        what: what the family asks, for the one-seed case (e.g. ``"the schedules beat the constant rate"``).

    Returns:
        A clause without a final full stop, e.g. ``"after Holm's correction for 3 comparisons over 5 paired
        seeds, cosine is ahead of constant by 0.62 points (95 % interval of the paired difference 0.31 to
        0.93, Holm p = 0.012); the other 2 differences are not significant"``.
    """
    need = {"A", "B", "n", "A − B (pp)", "CI low", "CI high", "p (Holm)", "significant", "detectable (pp)"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        raise TypeError("verdict needs the DataFrame of compare.paired_table(...); "
                        f"got {type(table).__name__} without the columns {sorted(need - set(getattr(table, 'columns', [])))}.")
    if len(table) == 0:
        raise ValueError("verdict: the table has no comparisons.")
    k, n = len(table), int(table["n"].min())
    if n < 2:
        return f"one seed cannot test whether {what}"
    lvl = f"{round(100 * confidence)} %"
    head = f"after Holm's correction for {k} comparison{'s' if k > 1 else ''} over {n} paired seeds, "
    sig = table[table["significant"]]
    parts = []
    for _, r in sig.iterrows():
        diff, lo, hi, ph = r["A − B (pp)"], r["CI low"], r["CI high"], r["p (Holm)"]
        a, b = (r["A"], r["B"]) if diff > 0 else (r["B"], r["A"])
        lo_, hi_ = (lo, hi) if diff > 0 else (-hi, -lo)
        parts.append(f"{a} is ahead of {b} by {abs(diff):.2f} {unit} ({lvl} interval of the paired "
                     f"difference {lo_:.2f} to {hi_:.2f}, Holm p {_p_text(ph)})")
    rest = k - len(sig)
    if parts:
        tail = "" if rest == 0 else (f"; the other difference is not significant" if rest == 1 else
                                     f"; the other {rest} differences are not significant")
        return head + "; ".join(parts) + tail
    big = table.iloc[int(np.argmax(np.abs(table["A − B (pp)"].to_numpy())))]
    det = float(np.nanmax(table["detectable (pp)"].to_numpy()))
    none = "the difference is not significant" if k == 1 else f"none of the {k} differences is significant"
    lo, hi = float(big["CI low"]), float(big["CI high"])
    # with several tests the interval is each pair's own: it may exclude zero while Holm's p is above 5 %
    iv = "interval" if k == 1 else "uncorrected interval"
    only = ", which excludes zero only before the correction" if k > 1 and (lo > 0 or hi < 0) else ""
    return (head + f"{none} (largest: {big['A']} − {big['B']} = {big['A − B (pp)']:+.2f} {unit}, "
            f"{iv} {lo:+.2f} to {hi:+.2f}{only}); with this spread between seeds only "
            f"differences of about {det:.2f} {unit} or more would have been detected reliably")
