"""course_utils.theory: the variance recurrences (against Monte Carlo and wide networks) and Part I's experiments."""
import math

import numpy as np
import pytest
import torch

from course_utils import init, stats, theory
from course_utils.models import MLP


@pytest.mark.parametrize("act,var,expected", [
    ("identity", 2.0, 2.0), ("relu", 2.0, 1.0), ("leaky_relu", 2.0, 1.0001),
])
def test_second_moment_closed_forms(act, var, expected):
    assert theory.gaussian_second_moment(act, var) == pytest.approx(expected)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "gelu", "selu"])
@pytest.mark.parametrize("var", [0.1, 1.0, 5.0])
def test_second_moment_vs_monte_carlo(act, var):
    # 1e6 samples: Monte-Carlo relative error ~ sqrt(Var(f^2)/n)/E[f^2] < 0.5 %, so 2.5 % is > 5 sigma.
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1_000_000, generator=g, dtype=torch.float64) * math.sqrt(var)
    f = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
         "gelu": torch.nn.functional.gelu, "selu": torch.selu}[act]
    mc = float((f(z) ** 2).mean())
    assert theory.gaussian_second_moment(act, var) == pytest.approx(mc, rel=0.025)


def test_recurrence_identities():
    sizes = [100, 50, 50, 20]
    # Var(w) = 1/d_x on an identity net keeps q0 in every layer (the LeCun condition).
    v = theory.predicted_activation_variances(sizes, [1 / d for d in sizes[:-1]], input_second_moment=1.7)
    np.testing.assert_allclose(v, 1.7)
    # Kaiming (2/d_x) on ReLU keeps q0 after the first layer (the factor 1/2 cancels the 2).
    wv = [1 / sizes[0]] + [2 / d for d in sizes[1:-1]]
    np.testing.assert_allclose(theory.predicted_activation_variances(sizes, wv, activation="relu"), 1.0)
    # A bias variance adds sigma_b^2 after each layer.
    v = theory.predicted_activation_variances([10, 10, 10], 0.0, 0.3)
    np.testing.assert_allclose(v, [0.3, 0.3])
    # std 0.01 without bias noise: each layer multiplies by d * 1e-4.
    v = theory.predicted_activation_variances([784, 512, 256], 1e-4, input_second_moment=1.0)
    np.testing.assert_allclose(v, [0.0784, 0.0784 * 0.0512])


@pytest.mark.parametrize("scheme,act,kw", [
    ("lecun_normal", "identity", {}),
    ("xavier_normal", "tanh", {}),
    ("kaiming_normal", "relu", {}),
    ("normal", "sigmoid", {"std": 0.1}),
    ("orthogonal", "identity", {}),
])
def test_predicted_vs_measured_wide(scheme, act, kw):
    # Wide layers (1000 units) and 2000 Gaussian inputs: the measured variance of each layer is an
    # average over 2e6 values of a sum of 1000 terms, so finite-width/sampling error is a few %;
    # 10 % is a band the recurrence must hit and a wrong factor (1/2, 2, 5/3) cannot.
    sizes = [1000, 1000, 1000, 1000]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 1000, generator=g, dtype=torch.float64)
    model = MLP.from_sizes(act, sizes).double()
    init.init_model(model, scheme, generator=g, bias="zeros", **kw)
    measured = np.array(list(stats.variances(stats.activation_stats(model, x)).values()))
    wv = theory.scheme_weight_variances(scheme, sizes, **kw)
    pred = theory.predicted_activation_variances(sizes, wv, activation=act, input_second_moment=theory.input_second_moment(x))
    np.testing.assert_allclose(measured, pred, rtol=0.1)


def test_constant_collapse_is_exact():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 1, 28, 28, generator=g)
    sizes = [784, 64, 32, 10]
    model = MLP.from_sizes("identity", sizes)
    init.init_model(model, "constant", value=0.005)
    measured = np.array(list(stats.variances(stats.activation_stats(model, x)).values()))
    np.testing.assert_allclose(theory.collapsed_constant_variances(x, sizes, value=0.005), measured, rtol=1e-4)


def test_depth_sweep_shape_and_kaiming_is_flat():
    # (a seed other than the sweep's 0: the same stream would make the input equal to the first weight rows)
    x = torch.randn(128, 1, 28, 28, generator=torch.Generator().manual_seed(123))
    df = theory.depth_sweep(x, {"Kaiming": {"scheme": "kaiming_normal"}}, ["relu"], depth=10, width=256)
    assert len(df) == 10 and set(df.columns) == {"scheme", "activation", "layer", "measured", "theory"}
    # The sweep's theory uses each layer's *sampled* weight variance (256x256 draws: ~0.5 % noise per
    # layer), so after the first layer Kaiming's prediction is flat up to that noise (5 % over 9 layers).
    # One finite-width network's gain per layer fluctuates by ~sqrt(2/256) ~ 9 % and these compound
    # like a random walk in log-space (~27 % after 9 layers), so measured must follow within 50 %.
    th, me = df["theory"].to_numpy(), df["measured"].to_numpy()
    np.testing.assert_allclose(th[1:], th[1], rtol=0.05)
    np.testing.assert_allclose(me, th, rtol=0.5)


@pytest.mark.parametrize("call,match", [
    (lambda: theory.predicted_activation_variances([10], 0.1), "at least"),
    (lambda: theory.predicted_activation_variances([10, 5, 2], [0.1]), "one per Linear layer"),
    (lambda: theory.predicted_activation_variances([10, 5], -0.1), ">= 0"),
    (lambda: theory.gaussian_second_moment("relu", -1.0), ">= 0"),
    (lambda: theory.gaussian_second_moment("swishy", 1.0), "Unknown activation"),
    (lambda: theory.predict_for_scheme("constant", "identity", q0=1.0), "collapsed_constant"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("act,expected", [("identity", 1.0), ("relu", 0.5)])
def test_derivative_second_moment_closed_forms(act, expected):
    # f' is 1 everywhere (identity) or on half of a symmetric distribution (ReLU)
    assert theory.gaussian_moments(act, 2.0)[1] == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------- the backward pass
@pytest.mark.parametrize("act,var,expected", [
    ("identity", 2.0, (2.0, 1.0)), ("relu", 2.0, (1.0, 0.5)), ("leaky_relu_0.2", 2.0, (1.04, 0.52)),
])
def test_gaussian_moments_closed_forms(act, var, expected):
    # E[f^2] and E[f'^2]: v and 1 (identity), v/2 and 1/2 (ReLU), (1+a^2) v/2 and (1+a^2)/2 (leaky)
    assert theory.gaussian_moments(act, var) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("act", ["tanh", "gelu", "mish", "swiglu"])
def test_gaussian_moments_vs_monte_carlo(act):
    # 1e6 samples: Monte-Carlo relative error < 0.5 % (as above), so 2.5 % is > 5 sigma.
    from course_utils import layers
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1_000_000, generator=g, dtype=torch.float64, requires_grad=True) * math.sqrt(1.5)
    z.retain_grad()
    if act == "swiglu":  # h = swish(z1) z2 with independent halves: per output (1.5 E[s^2], mean of both halves)
        s = torch.nn.functional.silu(z)
        (ds,) = torch.autograd.grad(s.sum(), z)
        s = s.detach()
        m_f, m_df = 1.5 * float((s ** 2).mean()), 0.5 * (1.5 * float((ds ** 2).mean()) + float((s ** 2).mean()))
    else:
        f = layers.ACTIVATION_SPECS[act].make().double()(z)
        (df,) = torch.autograd.grad(f.sum(), z)
        m_f, m_df = float((f.detach() ** 2).mean()), float((df ** 2).mean())
    assert theory.gaussian_moments(act, 1.5) == pytest.approx((m_f, m_df), rel=0.025)


def test_backward_factor_values():
    # Homogeneous activations with their Kaiming gain: chi = g^2 (1 + a^2)/2 = 1 exactly, at any q.
    assert theory.backward_factor("relu", math.sqrt(2), 3.0) == pytest.approx(1.0, abs=1e-12)
    assert theory.backward_factor("leaky_relu_0.2", math.sqrt(2 / 1.04)) == pytest.approx(1.0, abs=1e-12)
    # tanh with 5/3 at its forward fixed point q* = 1.1785 (iterating the map): chi = 1.2098 (quadrature).
    q = 1.0
    for _ in range(500):
        q = (5 / 3) ** 2 * theory.gaussian_second_moment("tanh", q)
    assert q == pytest.approx(1.1785, abs=1e-3)
    assert theory.backward_factor("tanh", 5 / 3, q) == pytest.approx(1.2098, abs=1e-3)


def test_variance_map_slope():
    # linear map for homogeneous activations: slope g^2/2 for ReLU, g^2 for identity
    assert theory.variance_map_slope("relu", math.sqrt(2), 0.7) == pytest.approx(1.0, rel=1e-6)
    assert theory.variance_map_slope("identity", 1.3) == pytest.approx(1.69, rel=1e-6)
    # tanh saturates: concave map, slope below its value F(q)/q at q = 1
    assert theory.variance_map_slope("tanh", 5 / 3) < (5 / 3) ** 2 * theory.gaussian_second_moment("tanh", 1.0)


def test_predicted_gradient_norms_vs_measured_wide():
    # 6 layers of width 1000, 1000 Gaussian inputs: per-layer variances are averages over 1e6 values of sums
    # of 1000 terms, so measured errors and deltas agree with the recurrences to a few %; 10 % fails a wrong
    # factor (the 1/2 of ReLU's f'^2 alone would be off by 2 per layer).
    sizes = [1000] * 7
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1000, 1000, generator=g, dtype=torch.float64)
    for act, gain in [("relu", math.sqrt(2)), ("tanh", 5 / 3)]:
        ws = [torch.randn(1000, 1000, generator=g, dtype=torch.float64) * (gain / math.sqrt(1000)) for _ in range(6)]
        meas = theory.stack_gradient_norms(ws, act, x, seed=4)
        th = theory.predicted_gradient_norms(sizes, gain ** 2 / 1000, activation=act, input_second_moment=1.0)
        np.testing.assert_allclose(meas["pre_var"], th["v"], rtol=0.1)
        np.testing.assert_allclose(meas["delta_var"], th["delta var"], rtol=0.1)
        # ||grad W||_F^2 = B * (per-sample RMS norm)^2: the batch adds up uncorrelated per-sample gradients
        np.testing.assert_allclose(meas["grad_norm"], math.sqrt(1000) * th["grad norm"], rtol=0.1)


def test_gradient_ratio_is_scale_invariant_for_homogeneous_nets():
    # Identity: scaling every weight by c scales every gradient by c^(L-1): the ratio is unchanged (exact).
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 50, generator=g, dtype=torch.float64)
    ws = [torch.randn(50, 50, generator=g, dtype=torch.float64) / math.sqrt(50) for _ in range(8)]
    a = theory.stack_gradient_norms(ws, "relu", x)["grad_norm"]
    b = theory.stack_gradient_norms([3.0 * w for w in ws], "relu", x)["grad_norm"]
    np.testing.assert_allclose(b, a * 3.0 ** 7, rtol=1e-10)


def test_deep_stack_gradients_matches_deep_stack_stats():
    from course_utils import layers
    r = theory.deep_stack_gradients("tanh", depth=8, width=64, n=32, first_gain=1.0)
    ref = layers.deep_stack_stats("tanh", depth=8, width=64, n=32, first_gain=1.0)
    np.testing.assert_allclose(r["pre_var"], ref["pre_var"], rtol=1e-6)
    assert r["grad_norm"].shape == (8,) and np.all(r["grad_norm"] > 0)
    # an overflowing stack gives NaN gradients, not an exception
    assert np.isnan(theory.deep_stack_gradients("relu2", depth=30, width=64, n=32, first_gain=1.0)["ratio"])


def test_depth_sweep_gradients_shape():
    x = torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(123))
    df = theory.depth_sweep_gradients(x, {"LeCun": {"scheme": "lecun_normal"},
                                          "Kaiming": {"scheme": "kaiming_normal"}}, ["relu"], depth=6, width=64)
    assert list(df.columns) == ["scheme", "activation", "chi (theory, layer L)", "grad ratio theory",
                                "grad ratio measured"] and len(df) == 2
    # the same draws scaled by sqrt(2) (ReLU, zero biases): equal ratios up to float32 rounding
    assert df["grad ratio measured"].iloc[0] == pytest.approx(df["grad ratio measured"].iloc[1], rel=1e-4)


def test_constant_init_stays_symmetric():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)
    model = MLP.from_sizes("identity", [784, 32, 16, 10])
    init.init_model(model, "constant", value=0.005)
    sym = theory.symmetry_after_sgd(model, x, y, steps=3, lr=0.01)
    # step 1: W_last^T delta = c * sum_k delta_k = 0, so the hidden layers get (rounding-level) zero gradients
    assert sym["max |grad W|, step 1"].iloc[:2].max() < 1e-6 * sym["max |grad W|, step 1"].iloc[-1]
    assert np.all(sym["unit spread after 3 steps"].iloc[:2] == 0.0) and sym["unit spread after 3 steps"].iloc[-1] > 0
    assert np.all(theory.unit_spread(model) == 0.0)  # the original is untouched


@pytest.mark.parametrize("call,match", [
    (lambda: theory.gaussian_moments("relu", -1.0), ">= 0"),
    (lambda: theory.gaussian_moments("swishy", 1.0), "Unknown activation"),
    (lambda: theory.stack_gradient_norms([], "relu", torch.zeros(2, 3)), "empty"),
    (lambda: theory.stack_gradient_norms([torch.zeros(4, 3), torch.zeros(2, 5)], "relu", torch.zeros(2, 3)), "chain"),
    (lambda: theory.predicted_gradient_norms([10, 5, 2], [0.1]), "one per Linear layer"),
    (lambda: theory.variance_map_slope("tanh", 1.0, q=0.0), "q must be"),
    (lambda: theory.backward_factor("tanh", float("nan")), "gain must be"),
    (lambda: theory.deep_stack_gradients("swishy"), "Unknown activation"),
    (lambda: theory.symmetry_after_sgd(MLP.from_sizes("identity", [4, 2]), torch.zeros(1, 4), torch.zeros(1).long(),
                                       steps=0), "steps must be"),
])
def test_backward_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
