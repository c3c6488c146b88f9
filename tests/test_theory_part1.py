"""Tests of the Part I additions to course_utils.theory (depth sweep backward curves, ReLU log drift)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_utils import theory


def test_gaussian_moments_work_under_no_grad():
    # theory.depth_sweep runs under torch.no_grad(); the exact moments take f' from autograd.
    with torch.no_grad():
        m_f, m_df = theory.gaussian_moments("tanh", 1.0)
    assert m_f == pytest.approx(theory.gaussian_moments("tanh", 1.0)[0], rel=1e-12)
    assert 0.4 < m_df < 0.7


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


# ----------------------------------------------------------------------------- log_variance_drift: real networks
def test_log_variance_drift_matches_the_exact_law():
    # 300 narrow networks on one input: the measured mean and sd of log(v_l / recurrence) at layer 6 agree with
    # the exact law within 4 standard errors (mean) and 15 % (sd; its standard error is ~ 1/sqrt(600) = 4 %).
    x = torch.randn(1, 20, generator=torch.Generator().manual_seed(3))
    out = theory.log_variance_drift(x, ["identity", "relu"], depth=6, width=16, seeds=300)
    for act, logs in out.items():
        assert logs.shape == (300, 1, 6)
        exact = theory.log_variance_drift_theory(act, 16, 6)
        last = logs[:, 0, -1]
        assert abs(last.mean() - exact["mean"].iloc[-1]) < 4 * last.std(ddof=1) / np.sqrt(len(last)), act
        assert abs(last.std(ddof=1) / exact["sd"].iloc[-1] - 1) < 0.15, act
    # the drift is real: ReLU's typical variance at layer 6 is below the recurrence
    assert out["relu"][:, 0, -1].mean() < 0


def test_log_variance_drift_rejects_bad_input():
    x = torch.randn(2, 5)
    with pytest.raises(ValueError, match="exact drift law"):
        theory.log_variance_drift(x, ["tanh"], depth=3, width=4, seeds=2)
    with pytest.raises(ValueError, match="seeds"):
        theory.log_variance_drift(x, ["relu"], depth=3, width=4, seeds=0)


# ----------------------------------------------------------------------------- depth_sweep_backward
def test_depth_sweep_backward_linear_stack():
    # LeCun on the identity: chi = d * (1/d) * 1 = 1, so the recurrence is 1 at every layer and the measured
    # error variance stays within finite-width noise of it (width 64, 6 layers: a few % per layer).
    x = torch.randn(64, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    df = theory.depth_sweep_backward(x, {"LeCun": {"scheme": "lecun_normal", "bias": "zeros"}}, ["identity"],
                                     depth=6, width=64)
    assert list(df.columns) == ["scheme", "activation", "layer", "measured", "theory"]
    assert list(df["layer"]) == list(range(1, 7))
    # fed with the drawn weights' variances: each layer's chi is off by ~sqrt(2/4096) = 2.2 %, five of them ~5 %
    np.testing.assert_allclose(df["theory"], 1.0, rtol=0.15)
    np.testing.assert_allclose(df["measured"], df["theory"], rtol=0.5)
    assert df["measured"].iloc[-1] == pytest.approx(1.0, rel=0.2)  # the random read-out has unit variance


def test_depth_sweep_backward_follows_chi_for_relu_default():
    # PyTorch's default on ReLU: chi = d * 1/(3d) * 1/2 = 1/6 per layer, measured and predicted.
    x = torch.randn(128, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    df = theory.depth_sweep_backward(x, {"default": {"scheme": "pytorch_default"}}, ["relu"], depth=5, width=128)
    ratio = df["theory"].to_numpy()[:-1] / df["theory"].to_numpy()[1:]
    np.testing.assert_allclose(ratio[1:], 1 / 6, rtol=0.05)
    np.testing.assert_allclose(df["measured"], df["theory"], rtol=0.5)
    with pytest.raises(ValueError):
        theory.depth_sweep_backward(x, {"default": {"scheme": "pytorch_default"}}, ["relu"], depth=0)
