"""course_utils.propagation: deep random stacks measured forward and backward, against the recurrences of theory."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_utils import propagation, theory


def test_depth_sweep_shape_and_kaiming_is_flat():
    # (a seed other than the sweep's 0: the same stream would make the input equal to the first weight rows)
    x = torch.randn(128, 1, 28, 28, generator=torch.Generator().manual_seed(123))
    df = propagation.depth_sweep(x, {"Kaiming": {"scheme": "kaiming_normal"}}, ["relu"], depth=10, width=256)
    assert len(df) == 10 and set(df.columns) == {"scheme", "activation", "layer", "measured", "theory"}
    # The sweep's theory uses each layer's *sampled* weight variance (256x256 draws: ~0.5 % noise per
    # layer), so after the first layer Kaiming's prediction is flat up to that noise (5 % over 9 layers).
    # One finite-width network's gain per layer fluctuates by ~sqrt(2/256) ~ 9 % and these compound
    # like a random walk in log-space (~27 % after 9 layers), so measured must follow within 50 %.
    th, me = df["theory"].to_numpy(), df["measured"].to_numpy()
    np.testing.assert_allclose(th[1:], th[1], rtol=0.05)
    np.testing.assert_allclose(me, th, rtol=0.5)


def test_predicted_gradient_norms_vs_measured_wide():
    # 6 layers of width 1000, 1000 Gaussian inputs: per-layer variances are averages over 1e6 values of sums
    # of 1000 terms, so measured errors and deltas agree with the recurrences to a few %; 10 % fails a wrong
    # factor (the 1/2 of ReLU's f'^2 alone would be off by 2 per layer).
    sizes = [1000] * 7
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1000, 1000, generator=g, dtype=torch.float64)
    for act, gain in [("relu", math.sqrt(2)), ("tanh", 5 / 3)]:
        ws = [torch.randn(1000, 1000, generator=g, dtype=torch.float64) * (gain / math.sqrt(1000)) for _ in range(6)]
        meas = propagation.stack_gradient_norms(ws, act, x, seed=4)
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
    a = propagation.stack_gradient_norms(ws, "relu", x)["grad_norm"]
    b = propagation.stack_gradient_norms([3.0 * w for w in ws], "relu", x)["grad_norm"]
    np.testing.assert_allclose(b, a * 3.0 ** 7, rtol=1e-10)


def test_deep_stack_gradients_matches_deep_stack_stats():
    from course_utils import layers
    r = propagation.deep_stack_gradients("tanh", depth=8, width=64, n=32, first_gain=1.0)
    ref = layers.deep_stack_stats("tanh", depth=8, width=64, n=32, first_gain=1.0)
    np.testing.assert_allclose(r["pre_var"], ref["pre_var"], rtol=1e-6)
    assert r["grad_norm"].shape == (8,) and np.all(r["grad_norm"] > 0)
    # an overflowing stack gives NaN gradients, not an exception
    assert np.isnan(propagation.deep_stack_gradients("relu2", depth=30, width=64, n=32, first_gain=1.0)["ratio"])


def test_depth_sweep_gradients_shape():
    x = torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(123))
    df = propagation.depth_sweep_gradients(x, {"LeCun": {"scheme": "lecun_normal"},
                                          "Kaiming": {"scheme": "kaiming_normal"}}, ["relu"], depth=6, width=64)
    assert list(df.columns) == ["scheme", "activation", "chi (theory, layer L)", "grad ratio theory",
                                "grad ratio measured"] and len(df) == 2
    # the same draws scaled by sqrt(2) (ReLU, zero biases): equal ratios up to float32 rounding
    assert df["grad ratio measured"].iloc[0] == pytest.approx(df["grad ratio measured"].iloc[1], rel=1e-4)


def test_depth_sweep_backward_linear_stack():
    # LeCun on the identity: chi = d * (1/d) * 1 = 1, so the recurrence is 1 at every layer and the measured
    # error variance stays within finite-width noise of it (width 64, 6 layers: a few % per layer).
    x = torch.randn(64, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    df = propagation.depth_sweep_backward(x, {"LeCun": {"scheme": "lecun_normal", "bias": "zeros"}}, ["identity"],
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
    df = propagation.depth_sweep_backward(x, {"default": {"scheme": "pytorch_default"}}, ["relu"], depth=5, width=128)
    ratio = df["theory"].to_numpy()[:-1] / df["theory"].to_numpy()[1:]
    np.testing.assert_allclose(ratio[1:], 1 / 6, rtol=0.05)
    np.testing.assert_allclose(df["measured"], df["theory"], rtol=0.5)
    with pytest.raises(ValueError):
        propagation.depth_sweep_backward(x, {"default": {"scheme": "pytorch_default"}}, ["relu"], depth=0)


# ----------------------------------------------------------------------------- log_variance_drift: real networks


def test_log_variance_drift_matches_the_exact_law():
    # 300 narrow networks on one input: the measured mean and sd of log(v_l / recurrence) at layer 6 agree with
    # the exact law within 4 standard errors (mean) and 15 % (sd; its standard error is ~ 1/sqrt(600) = 4 %).
    x = torch.randn(1, 20, generator=torch.Generator().manual_seed(3))
    out = propagation.log_variance_drift(x, ["identity", "relu"], depth=6, width=16, seeds=300)
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
        propagation.log_variance_drift(x, ["tanh"], depth=3, width=4, seeds=2)
    with pytest.raises(ValueError, match="seeds"):
        propagation.log_variance_drift(x, ["relu"], depth=3, width=4, seeds=0)


# ----------------------------------------------------------------------------- the signal explorer's backend


def test_signal_propagation_measures_and_predicts_both_passes():
    r = propagation.signal_propagation("kaiming", "relu", 6, width=64, n=64)
    assert set(r) == {"act_var", "act_theory", "grad_var", "grad_theory"}
    assert all(len(v) == 6 for v in r.values())
    assert r["grad_theory"][-1] == 1.0 and abs(r["grad_var"][-1] - 1) < 0.3  # the read-out's unit variance
    np.testing.assert_allclose(r["act_var"], r["act_theory"], rtol=0.6)  # width 64: ~18 % drift per layer
    # a shorter stack is the first layers of a longer one (one generator, drawn layer by layer)
    np.testing.assert_allclose(propagation.signal_propagation("kaiming", "relu", 3, width=64, n=64)["act_var"],
                               r["act_var"][:3], rtol=1e-6)
    c = propagation.signal_propagation("constant", "tanh", 4, width=64, n=64)
    assert np.isnan(c["grad_theory"]).all()
    np.testing.assert_allclose(c["act_var"], c["act_theory"], rtol=1e-3)  # the exact one-unit chain
    with pytest.raises(ValueError, match="Unknown scheme 'he'"):
        propagation.signal_propagation("he", "relu", 3)
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        propagation.signal_propagation("lecun", "relu", 0)


@pytest.mark.parametrize("call,match", [
    (lambda: propagation.stack_gradient_norms([], "relu", torch.zeros(2, 3)), "empty"),
    (lambda: propagation.stack_gradient_norms([torch.zeros(4, 3), torch.zeros(2, 5)], "relu", torch.zeros(2, 3)),
     "chain"),
    (lambda: propagation.deep_stack_gradients("swishy"), "Unknown activation"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_signal_propagation_samples_describe_the_last_layer_without_changing_the_curves():
    plain = propagation.signal_propagation("kaiming", "relu", 4, width=64, n=32)
    r = propagation.signal_propagation("kaiming", "relu", 4, width=64, n=32, samples=True)
    for key, values in plain.items():
        np.testing.assert_array_equal(r[key], values)
    assert r["sample_ms"].shape == (32,) and np.all(r["sample_ms"] > 0)
    # the mean square over samples is the variance plus the squared grand mean (near 0 for zero biases)
    assert r["act_var"][-1] <= r["sample_ms"].mean() < 1.1 * r["act_var"][-1]
    assert 2.0 < r["kurtosis"] < 5.0  # 4 layers of width 64: close to a Gaussian's 3
