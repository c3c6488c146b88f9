"""The book's initialisation and optimizer experiments in JAX / Flax / Optax (optional).

Nothing here is imported by the rest of ``course_utils``; JAX is an optional extra
(``pip install "jax[cpu]" flax optax``, the package's ``jax`` extra).
:func:`have_jax` tells whether it is installed, and every other function raises
an ``ImportError`` that says how to install it.

The pieces mirror the PyTorch side of the book:

* :func:`make_mlp` — the reference MLP as a ``flax.linen`` module;
* :func:`init_params` — the initialisation schemes of Part I as Flax ``kernel_init`` functions;
* :func:`activation_variances` — variance of every ``Dense`` output on one batch;
* :func:`variance_table` — that variance per layer and scheme in Flax *and* PyTorch (same batch) beside
  the prediction of the variance recurrence, with the ratio of the two frameworks and its noise from the
  spread over seeds (:data:`VARIANCE_CASES`: the JAX source's hand-written initialisers;
  :data:`FLAX_CASES`: Flax's own ``nn.initializers``);
* :func:`sgd`, :func:`sgd_momentum`, :func:`adam` — optimizers written from scratch as
  Optax ``GradientTransformation`` s (``init`` / ``update`` pairs);
* :func:`trajectory` — run a transformation on a small problem, to compare with ``optax.*``;
* :func:`train_fashion_mnist` — a jitted training loop with best-validation selection,
  cached by configuration like :func:`course_utils.train.train_model`;
* :func:`accuracy_parity` — test accuracy of the two frameworks over seeds, with Welch intervals.
"""
from __future__ import annotations

import hashlib
import json
import time
from typing import Callable, NamedTuple, Sequence

import numpy as np

from ._io import atomic_write_json
from .config import cache_dir

__all__ = ["have_jax", "INSTALL_HINT", "make_mlp", "SCHEMES", "FLAX_INITIALISERS", "init_params",
           "activation_variances", "VARIANCE_CASES", "FLAX_CASES", "variance_table",
           "sgd", "sgd_momentum", "adam", "trajectory", "train_fashion_mnist", "JaxTrainResult", "accuracy_parity"]

INSTALL_HINT = ("JAX is optional for this book. Install it in this environment with "
                "`pip install \"jax[cpu]\" flax optax` (in a notebook: `%pip install \"jax[cpu]\" flax optax`), "
                "then restart the kernel. (Colab and Binder have it already.)")


def have_jax() -> bool:
    """True when ``jax``, ``flax`` and ``optax`` can all be imported."""
    try:
        import flax  # noqa: F401
        import jax  # noqa: F401
        import optax  # noqa: F401
    except ImportError:
        return False
    return True


def _require():
    if not have_jax():
        raise ImportError(INSTALL_HINT)
    import jax
    import jax.numpy as jnp
    import optax
    from flax import linen as nn

    return jax, jnp, nn, optax


ACTS = {"identity": lambda x: x, "tanh": "tanh", "relu": "relu"}


def make_mlp(act_fn: str = "relu", hidden_sizes: Sequence[int] = (512, 256, 256, 128), num_classes: int = 10,
             kernel_inits: Sequence[Callable] | None = None, bias_std: float = 0.0):
    """The reference MLP as a Flax module; ``__call__(x, return_activations=False)``.

    Args:
        act_fn: ``"identity"``, ``"tanh"`` or ``"relu"``.
        hidden_sizes: hidden widths.
        num_classes: outputs.
        kernel_inits: one Flax initialiser per Dense layer (default: ``nn.Dense``'s own, LeCun normal).
        bias_std: standard deviation of normal bias noise (0: zeros, Flax's default).
    """
    jax, jnp, nn, _ = _require()
    if act_fn not in ACTS:
        raise ValueError(f"Unknown activation {act_fn!r}; the JAX appendix supports {sorted(ACTS)}.")
    act = {"identity": lambda x: x, "tanh": jnp.tanh, "relu": jax.nn.relu}[act_fn]
    sizes = [*hidden_sizes, num_classes]
    inits = list(kernel_inits) if kernel_inits is not None else [None] * len(sizes)  # None: Dense's default
    if len(inits) != len(sizes):
        raise ValueError(f"kernel_inits needs one initialiser per Dense layer ({len(sizes)}), got {len(inits)}.")
    bias_init = nn.initializers.normal(bias_std) if bias_std > 0 else nn.initializers.zeros

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x, return_activations=False):
            x = x.reshape(x.shape[0], -1)  # (B, 784)
            outs = []
            for i, (d, k_init) in enumerate(zip(sizes, inits)):
                x = nn.Dense(d, bias_init=bias_init, **({} if k_init is None else {"kernel_init": k_init}))(x)
                outs.append(x)
                if i < len(sizes) - 1:
                    x = act(x)
            return (x, outs) if return_activations else x

    return MLP()


#: Initialisation schemes written with ``jax.random``, as the JAX source writes them (name -> how the std of
#: layer l's kernel (d_in, d_out) is chosen), and Flax's own initialisers (``flax.linen.initializers``).
SCHEMES = ("normal_0.01", "normal_0.1", "inv_sqrt_fan_in", "xavier_uniform", "kaiming_normal",
           "flax_default", "flax_he_normal", "flax_glorot_uniform")
#: Flax's initialisers by scheme name: ``None`` is ``nn.Dense``'s own default kernel initialiser,
#: ``lecun_normal()`` = ``variance_scaling(1.0, "fan_in", "truncated_normal")``.
FLAX_INITIALISERS = {"flax_default": None, "flax_he_normal": "he_normal", "flax_glorot_uniform": "glorot_uniform"}


def _scheme_init(scheme: str, layer: int):
    jax, jnp, nn, _ = _require()

    def init(key, shape, dtype=jnp.float32):
        d_in, d_out = shape  # Flax kernels are (d_in, d_out)
        if scheme.startswith("normal_"):
            return float(scheme.split("_")[1]) * jax.random.normal(key, shape, dtype)
        if scheme == "inv_sqrt_fan_in":
            return jax.random.normal(key, shape, dtype) / np.sqrt(d_in)
        if scheme == "xavier_uniform":
            bound = np.sqrt(6.0 / (d_in + d_out))
            return jax.random.uniform(key, shape, dtype, -bound, bound)
        if scheme == "kaiming_normal":  # the first layer's input is not a ReLU output: 1/d_in there
            return jax.random.normal(key, shape, dtype) * np.sqrt((1.0 if layer == 0 else 2.0) / d_in)
        raise ValueError(f"Unknown scheme {scheme!r}; choose one of {SCHEMES}.")

    return init


def init_params(scheme: str, act_fn: str, x, *, seed: int = 42, bias_std: float = 0.0,
                hidden_sizes: Sequence[int] = (512, 256, 256, 128)):
    """Build the MLP with ``scheme`` and initialise it on the example batch ``x``: ``(model, params)``."""
    jax, jnp, nn, _ = _require()
    if scheme not in SCHEMES:
        raise ValueError(f"Unknown scheme {scheme!r}; choose one of {SCHEMES}.")
    n_layers = len(hidden_sizes) + 1
    if scheme in FLAX_INITIALISERS:  # Flax's own: None leaves nn.Dense's default kernel_init in place
        name = FLAX_INITIALISERS[scheme]
        inits = None if name is None else [getattr(nn.initializers, name)()] * n_layers
    else:
        inits = [_scheme_init(scheme, i) for i in range(n_layers)]
    model = make_mlp(act_fn, hidden_sizes, kernel_inits=inits, bias_std=bias_std)
    params = model.init(jax.random.PRNGKey(seed), jnp.asarray(x))
    return model, params


def activation_variances(model, params, x) -> list[float]:
    """Variance (``np.var``) of every Dense output of ``model`` on the batch ``x``."""
    _, jnp, _, _ = _require()
    _, outs = model.apply(params, jnp.asarray(x), return_activations=True)
    return [float(np.var(np.asarray(o, dtype=np.float64))) for o in outs]


#: (scheme here, activation, the same scheme in :func:`course_utils.init.init_model`), as in Part I
VARIANCE_CASES: tuple[tuple[str, str, dict], ...] = (
    ("normal_0.01", "identity", dict(scheme="normal", std=0.01)),
    ("normal_0.1", "identity", dict(scheme="normal", std=0.1)),
    ("inv_sqrt_fan_in", "identity", dict(scheme="inv_sqrt_fan_in")),
    ("xavier_uniform", "identity", dict(scheme="xavier_uniform")),
    ("xavier_uniform", "tanh", dict(scheme="xavier_uniform")),
    ("kaiming_normal", "relu", dict(scheme="kaiming_normal", first_layer="lecun_normal")),
)


def _weight_vars(spec: dict, sizes: Sequence[int]) -> list[float]:
    """sigma_w^2 of each layer of a ``course_utils.init`` spec, from the scheme's definition."""
    from .init import scheme_std

    out = []
    for layer, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        scheme = spec["first_layer"] if layer == 0 and "first_layer" in spec else spec["scheme"]
        out.append(scheme_std(scheme, d_in, d_out, std=spec.get("std", 0.01)) ** 2)
    return out


#: Flax's own initialisers (:data:`FLAX_INITIALISERS`) beside the PyTorch scheme whose weights have the same
#: variance: ``lecun_normal`` (Dense's default) and ``he_normal`` are truncated normals rescaled to variance
#: ``1/fan_in`` and ``2/fan_in``, where PyTorch's ``normal_``-based schemes are not truncated.
FLAX_CASES: tuple[tuple[str, str, dict], ...] = (
    ("flax_default", "relu", dict(scheme="lecun_normal")),
    ("flax_he_normal", "relu", dict(scheme="kaiming_normal")),
    ("flax_glorot_uniform", "tanh", dict(scheme="xavier_uniform")),
)


def variance_table(x, *, cases: Sequence[tuple[str, str, dict]] = VARIANCE_CASES, seeds: Sequence[int] = (0, 1, 2),
                   hidden_sizes: Sequence[int] = (512, 256, 256, 128), seed_stride: int = 1000):
    r"""Per-layer activation variance in Flax and in PyTorch beside the recurrence's prediction.

    Both frameworks start with zero biases (Flax's default, as in the JAX source), so the prediction
    has no bias term. Each framework's variance is the mean over ``len(seeds)`` networks. The frameworks
    draw different random numbers, so they are compared as two samples: the ratio is that of the geometric
    means, :math:`\exp(\overline{\log v_J} - \overline{\log v_T})`, and its noise is the standard error
    :math:`\mathrm{SE} = \sqrt{s_J^2/n + s_T^2/n}` of that log-difference, from the spread :math:`s` of the
    log-variances over the :math:`n` networks of each framework (Welch).

    Args:
        x: the batch, a torch tensor ``(B, 1, 28, 28)`` or ``(B, 784)`` (on any device).
        cases: ``(scheme in this module, activation, spec for course_utils.init.init_model)``.
        seeds: seeds of the networks in both frameworks (the frameworks draw different numbers).
        seed_stride: case ``k`` uses the seeds ``s + k * seed_stride``, so that schemes that rescale the same
            normal draws (std 0.01, 0.1, :math:`1/\sqrt d`) are independent checks.

    Returns:
        DataFrame with columns scheme, layer, theory, "JAX (Flax)", PyTorch (mean variances), "JAX / PyTorch"
        (ratio of the geometric means), "SE (log)" (NaN with one seed), "t" (log ratio / SE) and "df" (Welch).
    """
    _require()
    import pandas as pd
    import torch

    from . import init, models, stats, theory

    if len(seeds) == 0:
        raise ValueError("variance_table needs at least one seed.")
    x = x.detach().to("cpu", torch.float32)
    x_np = x.reshape(len(x), -1).numpy()
    sizes = [x_np.shape[1], *hidden_sizes, 10]
    q0 = theory.input_second_moment(x)
    rows = []
    for k, (name, act, spec) in enumerate(cases):
        case_seeds = [s + k * seed_stride for s in seeds]
        jax_v = np.array([activation_variances(*init_params(name, act, x_np, seed=s, hidden_sizes=hidden_sizes),
                                               x_np) for s in case_seeds])          # (n, layers)
        torch_v = []
        for s in case_seeds:
            net = models.MLP(act, input_size=sizes[0], hidden_sizes=tuple(hidden_sizes))
            init.init_model(net, generator=torch.Generator().manual_seed(s), bias="zeros", **spec)
            torch_v.append(list(stats.variances(stats.activation_stats(net, x)).values()))
        torch_v = np.array(torch_v)                                                  # (n, layers)
        lj, lt = np.log(jax_v), np.log(torch_v)
        n = len(case_seeds)
        if n > 1:
            a, b = lj.var(axis=0, ddof=1) / n, lt.var(axis=0, ddof=1) / n
            se = np.sqrt(a + b)
            df = (a + b) ** 2 / (a ** 2 / (n - 1) + b ** 2 / (n - 1))
        else:
            se = df = np.full(lj.shape[1], np.nan)
        log_ratio = lj.mean(axis=0) - lt.mean(axis=0)
        predicted = theory.predicted_activation_variances(sizes, _weight_vars(spec, sizes), activation=act,
                                                          input_second_moment=q0)
        for layer in range(len(sizes) - 1):
            rows.append({"scheme": f"{name} / {act}", "layer": layer + 1, "theory": predicted[layer],
                         "JAX (Flax)": jax_v[:, layer].mean(), "PyTorch": torch_v[:, layer].mean(),
                         "JAX / PyTorch": float(np.exp(log_ratio[layer])), "SE (log)": float(se[layer]),
                         "t": float(log_ratio[layer] / se[layer]), "df": float(df[layer])})
    return pd.DataFrame(rows)


def accuracy_parity(jax_runs, torch_runs, *, confidence: float = 0.95):
    """Test accuracy of the same configurations trained in both frameworks over seeds, as two samples.

    The frameworks draw different initial weights and batch orders, so the seeds do not pair: Welch's
    interval of the difference of means, at the Bonferroni level ``1 - (1 - confidence) / k`` for ``k``
    configurations (so that all ``k`` intervals hold together at ``confidence``).

    Args:
        jax_runs, torch_runs: ``{configuration: [results with .test_acc]}`` with the same keys.
        confidence: joint level of the intervals.

    Returns:
        DataFrame indexed by configuration: mean and standard deviation of each framework (%), seeds per
        framework, the difference JAX − PyTorch (pp), its interval and Welch's p-value.
    """
    import pandas as pd
    from scipy import stats as st

    if set(jax_runs) != set(torch_runs) or not jax_runs:
        raise ValueError(f"accuracy_parity needs the same configurations in both frameworks, got "
                         f"{sorted(jax_runs)} and {sorted(torch_runs)}.")
    k = len(jax_runs)
    level = 1 - (1 - confidence) / k
    rows = {}
    for name in jax_runs:
        a = np.array([100 * r.test_acc for r in jax_runs[name]], dtype=float)
        b = np.array([100 * r.test_acc for r in torch_runs[name]], dtype=float)
        if min(len(a), len(b)) < 2:
            raise ValueError(f"accuracy_parity needs at least two seeds per framework ({name!r}: {len(a)}, {len(b)}).")
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se = np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if se > 0 else np.inf
        half = float(st.t.ppf(1 - (1 - level) / 2, df)) * se
        d = a.mean() - b.mean()
        rows[name] = {"JAX mean (%)": a.mean(), "JAX sd": a.std(ddof=1), "PyTorch mean (%)": b.mean(),
                      "PyTorch sd": b.std(ddof=1), "seeds": min(len(a), len(b)), "JAX − PyTorch (pp)": d,
                      "interval low": d - half, "interval high": d + half,
                      "p (Welch)": float(st.ttest_ind(a, b, equal_var=False).pvalue) if se > 0 else (0.0 if d != 0 else 1.0)}
    table = pd.DataFrame(rows).T.astype(float)
    table.attrs.update(level=level, confidence=confidence)
    return table


# ----------------------------------------------------------------------------- optimizers
class _State(NamedTuple):
    count: object
    mu: object
    nu: object


def sgd(lr: float):
    r"""Plain gradient descent as an Optax transformation: :math:`u_t = -\eta g_t`."""
    jax, _, _, optax = _require()
    if lr <= 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    return optax.GradientTransformation(
        lambda params: optax.EmptyState(),
        lambda g, state, params=None: (jax.tree_util.tree_map(lambda x: -lr * x, g), state))


def sgd_momentum(lr: float, momentum: float = 0.9):
    r"""Momentum in the EMA form of the sources: :math:`m_t=\beta m_{t-1}+(1-\beta)g_t,\ u_t=-\eta m_t`."""
    jax, jnp, _, optax = _require()
    if lr <= 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"Invalid momentum value: {momentum} (must be in [0, 1)).")
    tm = jax.tree_util.tree_map

    def init(params):
        return _State(jnp.zeros([], jnp.int32), tm(jnp.zeros_like, params), None)

    def update(g, state, params=None):
        mu = tm(lambda m, gi: momentum * m + (1 - momentum) * gi, state.mu, g)
        return tm(lambda m: -lr * m, mu), _State(state.count + 1, mu, None)

    return optax.GradientTransformation(init, update)


def adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    r"""Adam with bias correction, as an Optax transformation.

    .. math:: m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t,\quad v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2,\quad
              u_t=-\eta\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}
    """
    jax, jnp, _, optax = _require()
    if lr <= 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    for name, b in (("b1", b1), ("b2", b2)):
        if not 0 <= b < 1:
            raise ValueError(f"Invalid {name}: {b} (must be in [0, 1)).")
    tm = jax.tree_util.tree_map

    def init(params):
        return _State(jnp.zeros([], jnp.int32), tm(jnp.zeros_like, params), tm(jnp.zeros_like, params))

    def update(g, state, params=None):
        t = state.count + 1
        mu = tm(lambda m, gi: b1 * m + (1 - b1) * gi, state.mu, g)
        nu = tm(lambda v, gi: b2 * v + (1 - b2) * gi ** 2, state.nu, g)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        upd = tm(lambda m, v: -lr * (m / c1) / (jnp.sqrt(v / c2) + eps), mu, nu)
        return upd, _State(t, mu, nu)

    return optax.GradientTransformation(init, update)


def trajectory(tx, loss_fn: Callable, params, steps: int) -> np.ndarray:
    """Apply the transformation ``tx`` for ``steps`` steps to ``loss_fn(params)``; stacked flat params."""
    jax, jnp, _, optax = _require()
    from jax.flatten_util import ravel_pytree

    @jax.jit
    def step(p, st):
        upd, st = tx.update(jax.grad(loss_fn)(p), st, p)
        return optax.apply_updates(p, upd), st

    state = tx.init(params)
    out = [np.asarray(ravel_pytree(params)[0])]
    for _ in range(steps):
        params, state = step(params, state)
        out.append(np.asarray(ravel_pytree(params)[0]))
    return np.stack(out)


# ----------------------------------------------------------------------------- training
class JaxTrainResult(NamedTuple):
    test_acc: float
    val_acc: list
    train_loss: list
    best_epoch: int
    seconds: float
    cached: bool


def train_fashion_mnist(tx_name: str, tx_kwargs: dict, data, *, epochs: int, batch_size: int = 256,
                        seed: int = 42, act_fn: str = "relu", scheme: str = "kaiming_normal",
                        use_cache: bool = True) -> JaxTrainResult:
    """Train the Flax MLP on ``data`` (a FashionMNISTData) with one of this module's optimizers.

    Args:
        tx_name: ``"sgd"``, ``"sgd_momentum"`` or ``"adam"`` (the from-scratch transformations).
        tx_kwargs: their arguments, e.g. ``{"lr": 0.1}``.
        data: the book's data object (its tensors are copied to NumPy once).
        epochs, batch_size, seed: as in :func:`course_utils.train.train_model`.
        act_fn, scheme: activation and initialisation.
        use_cache: store/reuse the result in ``<cache>/jax/<key>.json``.
    """
    jax, jnp, _, optax = _require()
    makers = {"sgd": sgd, "sgd_momentum": sgd_momentum, "adam": adam}
    if tx_name not in makers:
        raise ValueError(f"Unknown optimizer {tx_name!r}; choose one of {sorted(makers)}.")
    if not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    from . import train as _train

    desc = {"tx": tx_name, "kw": tx_kwargs, "data": data.fingerprint(), "epochs": epochs, "bs": batch_size,
            "seed": seed, "act": act_fn, "scheme": scheme, "jax": jax.__version__,
            "src": _train.package_source_hash(("jax_parity", "stats", "theory"))}
    key = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:24]
    path = cache_dir("jax") / f"{key}.json"
    if use_cache and path.is_file():
        try:
            d = json.loads(path.read_text())
            return JaxTrainResult(**d, cached=True)
        except (ValueError, TypeError, OSError):
            pass  # corrupt or unreadable entry: train again and overwrite it

    to_np = lambda t: t.detach().cpu().numpy()  # noqa: E731
    Xtr, ytr = to_np(data.train[0]).reshape(len(data.train[1]), -1), to_np(data.train[1])
    Xva, yva = to_np(data.val[0]).reshape(len(data.val[1]), -1), to_np(data.val[1])
    Xte, yte = to_np(data.test[0]).reshape(len(data.test[1]), -1), to_np(data.test[1])
    model, params = init_params(scheme, act_fn, Xtr[:batch_size], seed=seed)
    tx = makers[tx_name](**tx_kwargs)
    opt_state = tx.init(params)

    def loss_fn(p, x, y):
        logits = model.apply(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(p, s, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        upd, s = tx.update(g, s, p)
        return optax.apply_updates(p, upd), s, loss

    @jax.jit
    def correct(p, x, y):
        return (model.apply(p, x).argmax(-1) == y).sum()

    def accuracy(p, X, y):
        return sum(int(correct(p, X[i:i + 5000], y[i:i + 5000])) for i in range(0, len(y), 5000)) / len(y)

    rng = np.random.default_rng(seed)
    hist_val, hist_loss, best, best_params = [], [], -1.0, params
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = rng.permutation(len(ytr))
        losses = []
        for i in range(0, len(ytr), batch_size):
            idx = perm[i:i + batch_size]
            params, opt_state, loss = step(params, opt_state, Xtr[idx], ytr[idx])
            losses.append(loss)
        hist_loss.append(float(jnp.mean(jnp.stack(losses))))
        if not np.isfinite(hist_loss[-1]):
            raise FloatingPointError(f"The JAX training loss became {hist_loss[-1]} in epoch {len(hist_loss)}; "
                                     f"lower the learning rate.")
        hist_val.append(accuracy(params, Xva, yva))
        if hist_val[-1] > best:
            best, best_params = hist_val[-1], params
    seconds = time.perf_counter() - t0
    res = {"test_acc": accuracy(best_params, Xte, yte), "val_acc": hist_val, "train_loss": hist_loss,
           "best_epoch": int(np.argmax(hist_val)) + 1, "seconds": seconds}
    if use_cache:
        atomic_write_json(res, path)
    return JaxTrainResult(**res, cached=False)
