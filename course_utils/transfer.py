"""Transfer learning on Fashion-MNIST: model A / model B, freezing, task B's few-shot runs.

The experiment of the textbook, made repeatable:

* the data are subsets of Fashion-MNIST (:meth:`course_utils.data.FashionMNISTData.subset`:
  task A's eight classes, task B's two); :func:`other_classes` names task A's;
* :func:`model_a` (the source's 784-100-100-100 ReLU net, a :class:`course_utils.models.MLP`),
  :func:`model_b_from_scratch`, :func:`model_b_on_a` (reused hidden layers, new output layer);
* :func:`freeze`, :func:`unfreeze`, :func:`trainable_count`;
* :func:`few_shot_sample` and :func:`fit_small` — task B has 20 images, so it is trained with
  full-batch steps (no mini-batches, no validation set: with 20 labels there is none to spare),
  not with :func:`course_utils.train.fit`;
* :func:`task_b_runs` — scratch vs. the linear probe vs. frozen-then-unfrozen (and more) over many seeds, as
  a DataFrame, cached on disk; :func:`summarize_runs` compares two of them seed by seed; :func:`step_curve`
  — how the probe (or the run from scratch) converges, step by step;
* :func:`summarize_crossed` — the same comparison when several model A's share the task-B seeds
  (model A × sample, a crossed design): an interval that counts both the draw of model A and the draw
  of the 20 images; :func:`per_sample` — a column that does not depend on model A (from scratch), once
  per sample.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._io import atomic_write_bytes
from .significance import mean_ci
from .config import cache_dir as _cache_dir
from .models import MLP
from .train import _state_hash, evaluate, package_source_hash

__all__ = ["other_classes", "model_a", "model_b_from_scratch", "model_b_on_a",
           "freeze", "unfreeze", "trainable_count", "few_shot_sample", "fit_small", "accuracy",
           "TransferProtocol", "run_task_b", "task_b_runs", "step_curve", "summarize_runs", "summarize_over_models",
           "summarize_crossed", "per_sample", "METHODS"]


# ----------------------------------------------------------------------------- classes and models
def other_classes(pair: Sequence[int], n_classes: int = 10) -> list[int]:
    """The classes that are not in ``pair`` (task A's classes when task B is ``pair``)."""
    return [c for c in range(n_classes) if c not in set(pair)]


def _he_mlp(seed: int | None, input_size: int, hidden_sizes: Sequence[int], n_classes: int) -> MLP:
    """A ReLU MLP whose every Linear is drawn and then He-initialised in turn, from a generator seeded
    with ``seed`` (the source's ``torch.manual_seed(seed)`` and layer-by-layer build; None: the global RNG)."""
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    return MLP("relu", input_size, tuple(hidden_sizes), n_classes, generator=gen, init="kaiming_normal")


def model_a(n_classes: int = 8, *, hidden_sizes: Sequence[int] = (100, 100, 100), seed: int | None = 42) -> MLP:
    """The source's model A: ``[Linear(·,100) → ReLU] × 3 → Linear(100, n_classes)``, He-initialised."""
    if not hidden_sizes:
        raise ValueError("model A needs at least one hidden layer to reuse.")
    return _he_mlp(seed, 784, hidden_sizes, n_classes)


def model_b_from_scratch(n_classes: int = 2, *, hidden_sizes: Sequence[int] = (100, 100, 100),
                         seed: int | None = None) -> MLP:
    """Model B with model A's architecture, freshly initialised."""
    return _he_mlp(seed, 784, hidden_sizes, n_classes)


def model_b_on_a(model_a: MLP, n_classes: int = 2, *, seed: int | None = None) -> MLP:
    """A deep copy of model A with a new He-initialised output layer for ``n_classes`` classes."""
    if not isinstance(model_a, MLP):
        raise TypeError(f"model_b_on_a expects model A, an MLP (e.g. from model_a()), got {type(model_a).__name__}.")
    model_b = copy.deepcopy(model_a)
    old = model_b.layers[-1]
    head = _he_mlp(seed, old.in_features, (), n_classes).layers[0]  # one new Linear
    model_b.layers[-1] = head.to(old.weight.device)
    model_b.config["num_classes"] = n_classes
    return model_b


def freeze(module: nn.Module) -> nn.Module:
    """Set ``requires_grad=False`` on every parameter of ``module``; return it."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Set ``requires_grad=True`` on every parameter of ``module``; return it."""
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def trainable_count(module: nn.Module) -> int:
    """Number of parameter entries with ``requires_grad=True``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------- tiny-data training
def few_shot_sample(X: torch.Tensor, y: torch.Tensor, n_per_class: int, *, seed: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_per_class`` random examples of each label in ``y`` (seeded), e.g. 10 + 10 = task B's 20 images."""
    if not isinstance(n_per_class, int) or n_per_class <= 0:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}.")
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero().flatten().cpu()
        if len(idx) < n_per_class:
            raise ValueError(f"class {c} has only {len(idx)} examples, fewer than n_per_class={n_per_class}.")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:n_per_class]])
    idx = torch.cat(picks).to(X.device)
    return X[idx], y[idx]


def fit_small(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float,
              optimizer: str = "adam", on_step: Callable[[int, float], Any] | None = None) -> nn.Module:
    """Full-batch training of the trainable parameters for ``steps`` steps (for tiny data sets).

    Only parameters with ``requires_grad=True`` are given to the optimizer, so a frozen
    body stays exactly as it was.  ``on_step(t, loss)`` is called after step ``t = 1..steps`` with the
    training loss before that step (to record a curve).  Returns the model (trained in place).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("fit_small: no trainable parameters (everything is frozen); unfreeze() something.")
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}.")
    model.train()
    for t in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(t, loss.item())
    return model


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of ``model`` on ``(X, y)`` in eval mode."""
    return evaluate(model, X, y)[0]


@dataclasses.dataclass(frozen=True)
class TransferProtocol:
    """How task B is trained (fixed before looking at any result).

    From scratch: ``scratch_steps`` full-batch Adam steps at ``lr_scratch`` (Adam's default rate).
    Reused layers (``"unfrozen"``, the source's route): ``frozen_steps`` steps of the new output layer
    alone at ``lr_head`` (a new layer may learn faster), then ``unfrozen_steps`` steps of the whole network
    at the ten times smaller ``lr_unfrozen`` (so the reused weights are not wrecked); both routes take the
    same number of steps.  ``"frozen"`` is the linear probe: the new output layer alone on model A's frozen
    features, trained for ``probe_steps`` steps at ``lr_head``, enough for its test accuracy to stop
    changing (:func:`step_curve` measures that); ``"probe_ft"`` fine-tunes that converged probe like the
    second phase of ``"unfrozen"`` (linear probing, then fine-tuning: Kumar et al. 2022).  ``"lowest"`` reuses
    only model A's first hidden layer (after the textbook's remark that lower layers are the more likely to be
    useful; its own recipe for little data freezes the kept layers instead): the network from scratch with that
    layer copied in, trained like ``"scratch"``.
    ``n_per_class`` labelled images per class (10 + 10 = 20).
    """

    n_per_class: int = 10
    lr_scratch: float = 1e-3
    lr_head: float = 1e-2
    lr_unfrozen: float = 1e-3
    scratch_steps: int = 50
    frozen_steps: int = 25
    unfrozen_steps: int = 25
    probe_steps: int = 1000


METHODS = ("scratch", "frozen", "unfrozen", "lowest", "probe_ft")


def run_task_b(model_a: MLP, data_b, *, seed: int, protocol: TransferProtocol = TransferProtocol(),
               methods: Sequence[str] = METHODS) -> dict[str, float]:
    """One seed of task B: the same ``n_per_class``-per-class sample for every method; test accuracies.

    ``seed`` picks the few labelled images and seeds the new layers' initialisation.
    """
    bad = set(methods) - set(METHODS)
    if bad:
        raise ValueError(f"unknown methods {sorted(bad)}; choose from {METHODS}.")
    Xb, yb = few_shot_sample(*data_b.train, protocol.n_per_class, seed=seed)  # (2k, 1, 28, 28)
    X_test, y_test = data_b.test
    n_out = len(data_b.classes)
    out: dict[str, float] = {}
    hidden = [lin.out_features for lin in model_a.linears][:-1]
    with torch.random.fork_rng():
        if "scratch" in methods:
            m = model_b_from_scratch(n_out, hidden_sizes=hidden, seed=10_000 + seed).to(X_test.device)
            fit_small(m, Xb, yb, steps=protocol.scratch_steps, lr=protocol.lr_scratch)
            out["scratch"] = accuracy(m, X_test, y_test)
        if "lowest" in methods:
            m = model_b_from_scratch(n_out, hidden_sizes=hidden, seed=10_000 + seed).to(X_test.device)
            with torch.no_grad():  # the same fresh network as "scratch", with model A's first layer copied in
                m.linears[0].weight.copy_(model_a.linears[0].weight)
                m.linears[0].bias.copy_(model_a.linears[0].bias)
            fit_small(m, Xb, yb, steps=protocol.scratch_steps, lr=protocol.lr_scratch)
            out["lowest"] = accuracy(m, X_test, y_test)
        if "unfrozen" in methods:  # the source's route: a short head phase, then everything
            m = model_b_on_a(model_a, n_out, seed=20_000 + seed)
            freeze(m.layers[:-1])
            fit_small(m, Xb, yb, steps=protocol.frozen_steps, lr=protocol.lr_head)
            unfreeze(m)
            fit_small(m, Xb, yb, steps=protocol.unfrozen_steps, lr=protocol.lr_unfrozen)
            out["unfrozen"] = accuracy(m, X_test, y_test)
        if "frozen" in methods or "probe_ft" in methods:  # the same new layer, probed to convergence
            m = model_b_on_a(model_a, n_out, seed=20_000 + seed)
            freeze(m.layers[:-1])
            fit_small(m, Xb, yb, steps=protocol.probe_steps, lr=protocol.lr_head)
            if "frozen" in methods:
                out["frozen"] = accuracy(m, X_test, y_test)
            if "probe_ft" in methods:
                unfreeze(m)
                fit_small(m, Xb, yb, steps=protocol.unfrozen_steps, lr=protocol.lr_unfrozen)
                out["probe_ft"] = accuracy(m, X_test, y_test)
    return {k: out[k] for k in METHODS if k in out}


def _cached_frame(desc: dict, compute: Callable[[], list[dict]], *, use_cache: bool, cache_dir, threads_of):
    """The DataFrame of ``compute()``'s rows, cached on disk under a hash of ``desc`` (and the package's source)."""
    import pandas as pd

    desc = {**desc, "src": package_source_hash(("transfer", "significance", "stats")), "torch": torch.__version__}
    key = hashlib.sha256(json.dumps(desc, sort_keys=True, default=repr).encode()).hexdigest()[:24]
    path = None
    if use_cache:
        folder = Path(cache_dir) if cache_dir is not None else _cache_dir("transfer")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key}.json"
        if path.is_file():
            try:
                return pd.DataFrame(json.loads(path.read_text()))
            except (ValueError, OSError):
                pass  # corrupt or not readable by this user: compute again (and overwrite)
    # Task B's tensors are tiny: one CPU thread is faster than several (no synchronisation per op).
    threads = torch.get_num_threads()
    if threads_of.device.type == "cpu":
        torch.set_num_threads(1)
    try:
        text = pd.DataFrame(compute()).to_json(orient="records", double_precision=15)
    finally:
        torch.set_num_threads(threads)
    if path is not None:
        atomic_write_bytes(path, text.encode())
    return pd.DataFrame(json.loads(text))  # as a later call reads it back: the same numbers cold and cached


def task_b_runs(model_a: MLP, data_b, *, seeds: Sequence[int],
                protocol: TransferProtocol = TransferProtocol(), methods: Sequence[str] = METHODS,
                use_cache: bool = True, cache_dir: str | Path | None = None):
    """:func:`run_task_b` for every seed, as a DataFrame with one row per seed (cached on disk).

    The cache key covers model A's weights, task B's data, the protocol, the seeds, the
    methods and the source of ``course_utils``.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty: pass e.g. seeds=range(50).")
    desc = {"model_a": _state_hash(model_a), "data": data_b.fingerprint(), "protocol": dataclasses.asdict(protocol),
            "seeds": seeds, "methods": list(methods)}
    return _cached_frame(desc, lambda: [{"seed": s, **run_task_b(model_a, data_b, seed=s, protocol=protocol,
                                                                 methods=methods)} for s in seeds],
                         use_cache=use_cache, cache_dir=cache_dir, threads_of=data_b)


def step_curve(model_a: MLP, data_b, *, seeds: Sequence[int], checkpoints: Sequence[int], method: str = "frozen",
               protocol: TransferProtocol = TransferProtocol(), use_cache: bool = True,
               cache_dir: str | Path | None = None):
    """How a one-phase route of task B converges: its training loss and test accuracy after each checkpoint.

    ``method`` is ``"frozen"`` (the linear probe: model A's body frozen, the new output layer trained at
    ``lr_head``) or ``"scratch"`` (the whole fresh network at ``lr_scratch``), built and seeded exactly as
    :func:`run_task_b` builds them, and trained in one run of ``max(checkpoints)`` full-batch steps: the row
    of a checkpoint is the run :func:`run_task_b` makes with that many steps.

    Returns:
        A DataFrame, one row per (seed, checkpoint): ``seed``, ``step``, ``train_loss`` (the cross-entropy on
        the 20 images after that step), ``train_acc`` and ``test_acc`` (fractions); cached on disk.
    """
    if method not in ("frozen", "scratch"):
        raise ValueError(f"step_curve follows a one-phase route, 'frozen' (the linear probe) or 'scratch'; "
                         f"got {method!r}.")
    seeds = [int(s) for s in seeds]
    marks = sorted({int(c) for c in checkpoints})
    if not seeds or not marks or marks[0] < 1:
        raise ValueError(f"step_curve needs seeds and positive checkpoints, got {seeds} and {marks}.")
    X_test, y_test = data_b.test
    n_out = len(data_b.classes)
    hidden = [lin.out_features for lin in model_a.linears][:-1]

    def one(seed: int) -> list[dict]:
        Xb, yb = few_shot_sample(*data_b.train, protocol.n_per_class, seed=seed)
        if method == "scratch":
            m = model_b_from_scratch(n_out, hidden_sizes=hidden, seed=10_000 + seed).to(X_test.device)
            lr = protocol.lr_scratch
        else:
            m = model_b_on_a(model_a, n_out, seed=20_000 + seed)
            freeze(m.layers[:-1])
            lr = protocol.lr_head
        rows = []

        def record(t, _loss):
            if t in marks:
                with torch.no_grad():
                    was = m.training
                    m.eval()
                    loss = F.cross_entropy(m(Xb), yb).item()
                    m.train(was)
                rows.append({"seed": seed, "step": t, "train_loss": loss, "train_acc": accuracy(m, Xb, yb),
                             "test_acc": accuracy(m, X_test, y_test)})

        fit_small(m, Xb, yb, steps=marks[-1], lr=lr, on_step=record)
        return rows

    def compute():
        with torch.random.fork_rng():
            return [row for s in seeds for row in one(s)]

    desc = {"curve": method, "model_a": _state_hash(model_a), "data": data_b.fingerprint(),
            "protocol": dataclasses.asdict(protocol), "seeds": seeds, "checkpoints": marks}
    return _cached_frame(desc, compute, use_cache=use_cache, cache_dir=cache_dir, threads_of=data_b)


def summarize_runs(df, *, method: str = "unfrozen", baseline: str = "scratch") -> dict[str, float]:
    """Paired comparison of two columns of :func:`task_b_runs` (accuracies as fractions).

    Returns the mean and std of each, the mean paired difference ``method - baseline`` with a
    95 % t-interval, the fraction of seeds where ``method`` wins, and the largest and smallest
    single-seed differences (what a cherry-picker would report).
    """
    for col in (method, baseline):
        if col not in df.columns:
            raise ValueError(f"column {col!r} is not in the runs table (columns: {list(df.columns)}).")
    diff = (df[method] - df[baseline]).to_numpy()
    ci = mean_ci(diff)
    return {f"{baseline}_mean": float(df[baseline].mean()), f"{baseline}_std": float(df[baseline].std()),
            f"{method}_mean": float(df[method].mean()), f"{method}_std": float(df[method].std()),
            "diff_mean": ci["mean"], "diff_lo": ci["lo"], "diff_hi": ci["hi"],
            "win_fraction": float(np.mean(diff > 0)), "diff_max": float(diff.max()), "diff_min": float(diff.min()),
            "n_seeds": int(len(diff))}


def summarize_over_models(df, *, method: str = "unfrozen", baseline: str = "scratch", by: str = "model_a_seed",
                          confidence: float = 0.95) -> dict[str, float]:
    """The paired effect of ``method`` over ``baseline`` when several model A's were trained (column ``by``).

    The task-B seeds of one model A share that model: their differences are not independent draws of
    the effect of *reuse*, only of reusing *that* model A.  This averages the differences per model A
    and puts a t-interval over the model A's (``n_models − 1`` degrees of freedom), which includes the
    variance of model A's training; ``naive_lo``/``naive_hi`` is the interval that treats every task-B
    run as independent, for comparison.
    """
    for col in (method, baseline, by):
        if col not in df.columns:
            raise ValueError(f"column {col!r} is not in the runs table (columns: {list(df.columns)}).")
    per_model = (df[method] - df[baseline]).groupby(df[by]).mean().to_numpy()
    if len(per_model) < 2:
        raise ValueError(f"summarize_over_models needs runs of at least two model A's (column {by!r}); "
                         f"got {len(per_model)}. Use summarize_runs for one model A.")
    ci = mean_ci(per_model, confidence)
    naive = mean_ci((df[method] - df[baseline]).to_numpy(), confidence)
    return {"diff_mean": ci["mean"], "diff_lo": ci["lo"], "diff_hi": ci["hi"], "n_models": int(len(per_model)),
            "per_model_min": float(per_model.min()), "per_model_max": float(per_model.max()),
            "naive_lo": naive["lo"], "naive_hi": naive["hi"], "n_runs": int(len(df))}


def per_sample(df, column: str, *, by: str = "model_a_seed", sample: str = "seed"):
    """``column`` once per task-B sample (a Series indexed by ``sample``), for a method that does not use model A.

    Every model A reuses the same task-B seeds, and a run from scratch depends on the seed only, so the
    runs table repeats that column once per model A: counting every row would count each sample as many
    times.  Raises ``ValueError`` when the column differs between model A's for one seed (it does depend
    on model A: use the full table).
    """
    for col in (column, by, sample):
        if col not in df.columns:
            raise ValueError(f"column {col!r} is not in the runs table (columns: {list(df.columns)}).")
    spread = df.groupby(sample)[column].agg(lambda v: float(v.max() - v.min()))
    if (spread > 1e-12).any():
        bad = spread[spread > 1e-12]
        raise ValueError(f"{column!r} differs between the model A's for sample(s) {list(bad.index[:5])}: it "
                         f"depends on model A, so it is not one value per sample.")
    return df.groupby(sample)[column].first()


def summarize_crossed(df, *, method: str = "unfrozen", baseline: str = "scratch", rows: str = "model_a_seed",
                      cols: str = "seed", confidence: float = 0.95) -> dict[str, float]:
    r"""The paired effect ``method − baseline`` when every model A ran the same task-B samples (a crossed design).

    The difference :math:`d_{ij}` of model A :math:`i` (of :math:`a`) on sample :math:`j` (of :math:`s`: the
    20 images and the new layers' initialisation) is modelled as two-way random effects without
    replication, :math:`d_{ij} = \mu + \alpha_i + \beta_j + \varepsilon_{ij}`, with variances
    :math:`\sigma_A^2` (model A), :math:`\sigma_S^2` (sample) and :math:`\sigma_{AS}^2` (interaction). The
    grand mean then has

    .. math::
        \operatorname{Var}(\bar d) = \frac{\sigma_A^2}{a} + \frac{\sigma_S^2}{s} + \frac{\sigma_{AS}^2}{a s},

    estimated from the ANOVA mean squares (:math:`E\,MS_A = \sigma_{AS}^2 + s\sigma_A^2`,
    :math:`E\,MS_S = \sigma_{AS}^2 + a\sigma_S^2`, :math:`E\,MS_{AS} = \sigma_{AS}^2`; a negative component is
    set to 0), with Satterthwaite's degrees of freedom for the t-interval. Treating all :math:`a s` runs as
    independent leaves out :math:`\sigma_A^2` and :math:`\sigma_S^2`'s sharing; an interval over the per-model-A
    means (:func:`summarize_over_models`) leaves out :math:`\sigma_S^2/s`, because every model A averages the
    same samples. Both are returned for comparison (``naive_*``, ``over_models_*``).

    Returns:
        ``diff_mean``, ``diff_lo``, ``diff_hi``, ``se``, ``dof``, the components ``var_model_a``,
        ``var_sample``, ``var_interaction`` (accuracy fractions squared), ``se_naive``, ``naive_lo/hi``,
        ``se_over_models``, ``over_models_lo/hi``, ``per_model_min/max``, ``n_models``, ``n_samples``, ``n_runs``.

    Raises:
        ValueError: a column is missing, fewer than two model A's or samples, or not every model A ran
            every sample once (the design is not crossed and balanced).
    """
    from scipy import stats as st

    for col in (method, baseline, rows, cols):
        if col not in df.columns:
            raise ValueError(f"column {col!r} is not in the runs table (columns: {list(df.columns)}).")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
    d = (df[method] - df[baseline]).groupby([df[rows], df[cols]]).agg(["mean", "size"])
    if (d["size"] != 1).any():
        raise ValueError(f"each ({rows}, {cols}) pair must appear once; some appear "
                         f"{int(d['size'].max())} times.")
    table = d["mean"].unstack(cols)  # (a, s)
    if table.isna().any().any():
        raise ValueError(f"not every {rows} ran every {cols}: the design is not crossed (use "
                         f"summarize_over_models for samples nested in model A's).")
    D = table.to_numpy(dtype=np.float64)
    a, s = D.shape
    if a < 2 or s < 2:
        raise ValueError(f"summarize_crossed needs at least 2 model A's and 2 samples, got {a} and {s}.")
    mu = D.mean()
    ra, cs = D.mean(1), D.mean(0)
    ms_a = s * np.sum((ra - mu) ** 2) / (a - 1)
    ms_s = a * np.sum((cs - mu) ** 2) / (s - 1)
    ms_e = np.sum((D - ra[:, None] - cs[None, :] + mu) ** 2) / ((a - 1) * (s - 1))
    var_a, var_s = max(0.0, (ms_a - ms_e) / s), max(0.0, (ms_s - ms_e) / a)
    c_a = 1.0 / (a * s) if var_a > 0 else 0.0
    c_s = 1.0 / (a * s) if var_s > 0 else 0.0
    c_e = 1.0 / (a * s) - c_a - c_s
    var = c_a * ms_a + c_s * ms_s + c_e * ms_e  # = var_a/a + var_s/s + ms_e/(a s)
    terms = [(c_a * ms_a) ** 2 / (a - 1), (c_s * ms_s) ** 2 / (s - 1), (c_e * ms_e) ** 2 / ((a - 1) * (s - 1))]
    dof = var ** 2 / sum(terms) if sum(terms) > 0 else float((a - 1) * (s - 1))
    se = float(np.sqrt(var))
    q = st.t.ppf((1 + confidence) / 2, dof)
    naive = mean_ci(D.ravel(), confidence)
    over = mean_ci(ra, confidence)
    return {"diff_mean": float(mu), "diff_lo": float(mu - q * se), "diff_hi": float(mu + q * se), "se": se,
            "dof": float(dof), "var_model_a": float(var_a), "var_sample": float(var_s),
            "var_interaction": float(ms_e),
            "se_naive": float(D.std(ddof=1) / np.sqrt(a * s)), "naive_lo": naive["lo"], "naive_hi": naive["hi"],
            "se_over_models": float(ra.std(ddof=1) / np.sqrt(a)), "over_models_lo": over["lo"],
            "over_models_hi": over["hi"], "per_model_min": float(ra.min()), "per_model_max": float(ra.max()),
            "n_models": int(a), "n_samples": int(s), "n_runs": int(a * s)}
