"""The JAX appendix's helpers (skipped when the optional JAX extra is not installed)."""
import numpy as np
import pytest

from course_utils import jax_parity as J

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
optax = pytest.importorskip("optax")


def loss(p):
    w = p["w"]
    return jnp.sum(jnp.array([1.0, 10.0]) * (w - 1.0) ** 2) + 0.5 * jnp.sum(jnp.sin(3 * w))


P0 = {"w": jnp.array([3.0, -2.0])}


@pytest.mark.parametrize("ours,ref", [
    (lambda: J.sgd(0.02), lambda: optax.sgd(0.02)),
    # EMA momentum with rate lr equals optax's velocity momentum with rate (1 - beta) * lr
    (lambda: J.sgd_momentum(0.05, 0.9), lambda: optax.sgd(0.005, momentum=0.9)),
    (lambda: J.adam(0.05), lambda: optax.adam(0.05)),
    (lambda: J.adam(0.01, b1=0.5, b2=0.9, eps=1e-6), lambda: optax.adam(0.01, b1=0.5, b2=0.9, eps=1e-6)),
])
def test_transformations_equal_optax(ours, ref):
    a = J.trajectory(ours(), loss, P0, 150)
    b = J.trajectory(ref(), loss, P0, 150)
    assert a.shape == (151, 2)
    assert np.abs(a - b).max() < 2e-5  # float32 rounding over 150 steps


def test_adam_without_bias_correction_would_differ():
    # identity check of the test's power: plain EMA ratio (no correction) moves differently at the start
    a = J.trajectory(J.adam(0.05), loss, P0, 3)
    no_momentum_no_correction = optax.chain(optax.scale_by_rms(decay=0.999, eps=1e-8), optax.scale(-0.05))
    b = J.trajectory(no_momentum_no_correction, loss, P0, 3)
    assert np.abs(a - b).max() > 1e-3


def test_converges_on_the_bowl():
    traj = J.trajectory(J.adam(0.05), loss, P0, 600)
    g = jax.grad(loss)({"w": jnp.asarray(traj[-1])})["w"]
    assert float(jnp.abs(g).max()) < 1e-2


def test_activation_variances_follow_the_recurrence():
    x = np.random.default_rng(0).standard_normal((512, 784)).astype(np.float32)
    m, p = J.init_params("inv_sqrt_fan_in", "identity", x, seed=0)
    v = J.activation_variances(m, p, x)
    assert len(v) == 5 and all(0.7 < vi < 1.4 for vi in v)
    m, p = J.init_params("normal_0.1", "identity", x, seed=0)
    v = J.activation_variances(m, p, x)
    assert v[0] == pytest.approx(784 * 0.01, rel=0.1)  # d * sigma^2 * Var(x)


@pytest.mark.parametrize("call,match", [
    (lambda: J.sgd(0.0), "learning rate"), (lambda: J.sgd_momentum(0.1, 1.0), "momentum"),
    (lambda: J.adam(0.1, b2=1.5), "b2"), (lambda: J.make_mlp("gelu"), "activation"),
    (lambda: J.init_params("he", "relu", np.zeros((2, 784), np.float32)), "scheme"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_variance_table_puts_both_frameworks_beside_theory():
    import torch
    # (seed 1234: with seed 0 the rows of x would equal the first rows of the seed-0 PyTorch weights)
    x = torch.randn(256, 1, 28, 28, generator=torch.Generator().manual_seed(1234))
    cases = [c for c in J.VARIANCE_CASES if c[1] in ("relu", "tanh")]
    table = J.variance_table(x, cases=cases + list(J.FLAX_CASES), seeds=[0, 1, 2], hidden_sizes=(128, 64))
    assert list(table.columns) == ["scheme", "layer", "theory", "JAX (Flax)", "PyTorch", "JAX / PyTorch",
                                   "SE (log)", "t", "df"]
    assert len(table) == (len(cases) + 3) * 3 and list(table.layer[:3]) == [1, 2, 3]
    # same scheme, same batch: the frameworks differ by sampling noise only, and both follow the recurrence
    assert np.all(np.abs(np.log(table["JAX / PyTorch"])) < np.log(1.6)), table
    assert (table["SE (log)"] > 0).all() and np.allclose(table["t"], np.log(table["JAX / PyTorch"]) / table["SE (log)"])
    for col in ("JAX (Flax)", "PyTorch"):
        assert np.all(np.abs(np.log(table[col] / table["theory"])) < np.log(1.6)), (col, table)
    with pytest.raises(ValueError, match="seed"):
        J.variance_table(x, seeds=[])


def test_variance_table_cases_draw_independent_networks():
    import torch
    x = torch.randn(128, 1, 28, 28, generator=torch.Generator().manual_seed(1234))
    same = [("normal_0.01", "identity", dict(scheme="normal", std=0.01)),
            ("normal_0.1", "identity", dict(scheme="normal", std=0.1))]
    # one stride apart the two schemes rescale different draws; with stride 0 the same draws (ratios equal)
    apart = J.variance_table(x, cases=same, seeds=[0, 1], hidden_sizes=(64,))
    shared = J.variance_table(x, cases=same, seeds=[0, 1], hidden_sizes=(64,), seed_stride=0)
    r_apart, r_shared = apart["JAX / PyTorch"].to_numpy(), shared["JAX / PyTorch"].to_numpy()
    assert np.allclose(r_shared[:2], r_shared[2:], rtol=1e-4) and not np.allclose(r_apart[:2], r_apart[2:], rtol=1e-3)


def test_flax_default_is_lecun_normal_truncated_with_zero_bias():
    # nn.Dense's own default: variance_scaling(1, "fan_in", "truncated_normal"): |w| <= 2 sd / 0.8796, var 1/fan_in
    x = np.zeros((2, 784), np.float32)
    _, p = J.init_params("flax_default", "relu", x, seed=0)
    layer = p["params"]["Dense_0"]
    k = np.asarray(layer["kernel"], dtype=np.float64)
    assert k.shape == (784, 512) and np.all(np.asarray(layer["bias"]) == 0)
    sd = np.sqrt(1 / 784)
    assert abs(k.var() / sd ** 2 - 1) < 0.01 and np.abs(k).max() <= 2 * sd / 0.87962566103423978 * (1 + 1e-6)
    _, p_he = J.init_params("flax_he_normal", "relu", x, seed=0)
    assert abs(np.asarray(p_he["params"]["Dense_0"]["kernel"], np.float64).var() * 784 / 2 - 1) < 0.01


def test_accuracy_parity_is_welch_with_bonferroni_intervals():
    from types import SimpleNamespace as R
    from scipy import stats as st
    jx = {"a": [R(test_acc=v) for v in (0.80, 0.82, 0.81)], "b": [R(test_acc=v) for v in (0.9, 0.9, 0.91)]}
    tr = {"a": [R(test_acc=v) for v in (0.79, 0.80, 0.78, 0.81)], "b": [R(test_acc=v) for v in (0.9, 0.92, 0.91)]}
    t = J.accuracy_parity(jx, tr)
    a, b = np.array([80, 82, 81.0]), np.array([79, 80, 78, 81.0])
    assert t.loc["a", "JAX − PyTorch (pp)"] == pytest.approx(a.mean() - b.mean())
    assert t.loc["a", "p (Welch)"] == pytest.approx(st.ttest_ind(a, b, equal_var=False).pvalue)
    assert t.attrs["level"] == pytest.approx(0.975)
    lo, hi = t.loc["a", ["interval low", "interval high"]]
    assert lo < a.mean() - b.mean() < hi and (hi - lo) > 2 * 1.96 * np.sqrt(a.var(ddof=1) / 3 + b.var(ddof=1) / 4)
    with pytest.raises(ValueError, match="same configurations"):
        J.accuracy_parity(jx, {"a": tr["a"]})
