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
    assert theory.derivative_second_moment(act, 2.0) == pytest.approx(expected, abs=1e-3)
