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
    table = J.variance_table(x, cases=cases, seeds=[0, 1], hidden_sizes=(128, 64))
    assert list(table.columns) == ["scheme", "layer", "theory", "JAX (Flax)", "PyTorch", "JAX / PyTorch"]
    assert len(table) == len(cases) * 3 and list(table.layer[:3]) == [1, 2, 3]
    # same scheme, same batch: the frameworks differ by sampling noise only, and both follow the recurrence
    assert np.all(np.abs(np.log(table["JAX / PyTorch"])) < np.log(1.6)), table
    for col in ("JAX (Flax)", "PyTorch"):
        assert np.all(np.abs(np.log(table[col] / table["theory"])) < np.log(1.6)), (col, table)
    with pytest.raises(ValueError, match="seed"):
        J.variance_table(x, seeds=[])
