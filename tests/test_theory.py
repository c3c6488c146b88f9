"""course_utils.theory: the moments, the variance recurrences (against Monte Carlo, closed forms and wide networks)
and the exact law of one finite-width network's drift."""
from __future__ import annotations

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
    assert theory.gaussian_moments(act, var)[0] == pytest.approx(expected)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "gelu", "selu"])
@pytest.mark.parametrize("var", [0.1, 1.0, 5.0])
def test_second_moment_vs_monte_carlo(act, var):
    # 1e6 samples: Monte-Carlo relative error ~ sqrt(Var(f^2)/n)/E[f^2] < 0.5 %, so 2.5 % is > 5 sigma.
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1_000_000, generator=g, dtype=torch.float64) * math.sqrt(var)
    f = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
         "gelu": torch.nn.functional.gelu, "selu": torch.selu}[act]
    mc = float((f(z) ** 2).mean())
    assert theory.gaussian_moments(act, var)[0] == pytest.approx(mc, rel=0.025)


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


@pytest.mark.parametrize("call,match", [
    (lambda: theory.predicted_activation_variances([10], 0.1), "at least"),
    (lambda: theory.predicted_activation_variances([10, 5, 2], [0.1]), "one per Linear layer"),
    (lambda: theory.predicted_activation_variances([10, 5], -0.1), ">= 0"),
    (lambda: theory.gaussian_moments("relu", -1.0), ">= 0"),
    (lambda: theory.gaussian_moments("swishy", 1.0), "Unknown activation"),
    (lambda: theory.gaussian_moments("swiglu", 1.0, mean=0.5), "zero-mean"),
    (lambda: theory.predicted_gradient_norms([10, 5, 2], [0.1]), "one per Linear layer"),
    (lambda: theory.variance_map_slope("tanh", 1.0, q=0.0), "q must be"),
    (lambda: theory.backward_factor("tanh", float("nan")), "gain must be"),
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


def test_gaussian_moments_work_under_no_grad():
    # propagation.depth_sweep runs under torch.no_grad(); the exact moments take f' from autograd.
    with torch.no_grad():
        m_f, m_df = theory.gaussian_moments("tanh", 1.0)
    assert m_f == pytest.approx(theory.gaussian_moments("tanh", 1.0)[0], rel=1e-12)
    assert 0.4 < m_df < 0.7


def test_backward_factor_values():
    # Homogeneous activations with their Kaiming gain: chi = g^2 (1 + a^2)/2 = 1 exactly, at any q.
    assert theory.backward_factor("relu", math.sqrt(2), 3.0) == pytest.approx(1.0, abs=1e-12)
    assert theory.backward_factor("leaky_relu_0.2", math.sqrt(2 / 1.04)) == pytest.approx(1.0, abs=1e-12)
    # tanh with 5/3 at its forward fixed point q* = 1.1785 (iterating the map): chi = 1.2098 (quadrature).
    q = 1.0
    for _ in range(500):
        q = (5 / 3) ** 2 * theory.gaussian_moments("tanh", q)[0]
    assert q == pytest.approx(1.1785, abs=1e-3)
    assert theory.backward_factor("tanh", 5 / 3, q) == pytest.approx(1.2098, abs=1e-3)


def test_variance_map_slope():
    # linear map for homogeneous activations: slope g^2/2 for ReLU, g^2 for identity
    assert theory.variance_map_slope("relu", math.sqrt(2), 0.7) == pytest.approx(1.0, rel=1e-6)
    assert theory.variance_map_slope("identity", 1.3) == pytest.approx(1.69, rel=1e-6)
    # tanh saturates: concave map, slope below its value F(q)/q at q = 1
    assert theory.variance_map_slope("tanh", 5 / 3) < (5 / 3) ** 2 * theory.gaussian_moments("tanh", 1.0)[0]


# ----------------------------------------------------------------------------- log_gain_moments: the exact law


@pytest.mark.parametrize("activation, n", [("identity", 8), ("relu", 8), ("relu", 64), ("identity", 64)])
def test_log_gain_moments_match_monte_carlo(activation, n):
    # Sample G exactly as defined: n i.i.d. N(0, 1) pre-activations, mean square after f, times g^2.
    rng = np.random.default_rng(0)
    z = rng.standard_normal((200_000, n))
    g = (z ** 2).mean(1) if activation == "identity" else 2 * (np.maximum(z, 0) ** 2).mean(1)
    g = g[g > 0]
    logs = np.log(g)
    mean, var = theory.log_gain_moments(activation, n)
    se = logs.std() / np.sqrt(len(logs))
    assert abs(logs.mean() - mean) < 5 * se
    assert abs(logs.var() / var - 1) < 0.03


@pytest.mark.parametrize("activation, drift, spread", [("identity", -1.0, 2.0), ("relu", -2.5, 5.0)])
def test_log_gain_moments_large_width_limit(activation, drift, spread):
    # Hanin & Rolnick (2018): E log G ~ -c/(2n) and Var log G ~ c/n with c = 2 (linear), 5 (ReLU).
    n = 4096
    mean, var = theory.log_gain_moments(activation, n)
    assert mean * n == pytest.approx(drift, rel=2e-3)
    assert var * n == pytest.approx(spread, rel=2e-3)


def test_log_gain_moments_identity_closed_form():
    from scipy.special import digamma, polygamma
    mean, var = theory.log_gain_moments("linear", 10)
    assert mean == pytest.approx(digamma(5) + math.log(2 / 10), rel=1e-12)
    assert var == pytest.approx(polygamma(1, 5), rel=1e-12)


@pytest.mark.parametrize("args", [("tanh", 16), ("relu", 0), ("relu", 1), ("identity", 2.5)])
def test_log_gain_moments_reject_bad_input(args):
    with pytest.raises(ValueError):
        theory.log_gain_moments(*args)


def test_log_variance_drift_theory_adds_independent_layers():
    df = theory.log_variance_drift_theory("relu", 32, 5)
    m_g, v_g = theory.log_gain_moments("relu", 32)
    m_c, v_c = theory.log_gain_moments("identity", 32)
    np.testing.assert_allclose(df["mean"], m_c + m_g * np.arange(5), rtol=1e-12)
    np.testing.assert_allclose(df["sd"] ** 2, v_c + v_g * np.arange(5), rtol=1e-12)
    lin = theory.log_variance_drift_theory("identity", 32, 5)
    np.testing.assert_allclose(lin["mean"], m_c * np.arange(1, 6), rtol=1e-12)
    with pytest.raises(ValueError):
        theory.log_variance_drift_theory("relu", 32, 0)
