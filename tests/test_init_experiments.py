"""course_utils.init_experiments: the reference MLP at initialisation (backward_signals is tested in test_gaussian)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_utils import init, init_experiments, theory
from course_utils.models import MLP


def test_constant_init_stays_symmetric():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)
    model = MLP.from_sizes("identity", [784, 32, 16, 10])
    init.init_model(model, "constant", value=0.005)
    sym = init_experiments.symmetry_after_sgd(model, x, y, steps=3, lr=0.01)
    # step 1: W_last^T delta = c * sum_k delta_k = 0, so the hidden layers get (rounding-level) zero gradients
    assert sym["max |grad W|, step 1"].iloc[:2].max() < 1e-6 * sym["max |grad W|, step 1"].iloc[-1]
    assert np.all(sym["unit spread after 3 steps"].iloc[:2] == 0.0) and sym["unit spread after 3 steps"].iloc[-1] > 0
    assert np.all(init_experiments.unit_spread(model) == 0.0)  # the original is untouched


def test_run_init_experiment_tabulates_theory_beside_measurement():
    # (not seed 0, which draws the weights: the same stream would make the input equal to the first weight rows)
    g = torch.Generator().manual_seed(123)
    x, y = torch.randn(256, 1, 28, 28, generator=g), torch.randint(0, 10, (256,), generator=g)
    exp = init_experiments.run_init_experiment("LeCun", "lecun_normal", "identity", x, y, reference="inv_sqrt_fan_in",
                                               with_hists=False)
    assert list(exp.table.columns) == ["weight var", "grad var", "measured", "theory", "theory, no bias noise",
                                       "PyTorch ref", "JAX ref"]
    assert exp.activations == {} and len(exp.table) == 5
    # Var(w) = 1/d_x on the identity keeps q0 in every layer; the biases are zero, so both theory columns agree.
    q0 = theory.input_second_moment(x)
    np.testing.assert_allclose(exp.table["theory"], q0, rtol=1e-12)
    np.testing.assert_allclose(exp.table["theory, no bias noise"], exp.table["theory"], rtol=0)
    # one draw of 784x512 ... 128x10 weights on 256 images: each layer within 25 % of the recurrence
    np.testing.assert_allclose(exp.act_var, exp.table["theory"], rtol=0.25)
    # the "same" rule draws the biases like the weights: theory adds sigma_b^2 = std^2 at every layer, and on the
    # identity the bias part of the variance follows its own recurrence e_l = d_{l-1} sigma^2 e_{l-1} + sigma_b^2
    std = init_experiments.run_init_experiment("std", "normal", "identity", x, y, std=0.01, with_hists=False)
    e, extra = 0.0, []
    for d in (784, 512, 256, 256, 128):
        e = d * 1e-4 * e + 1e-4
        extra.append(e)
    np.testing.assert_allclose(std.table["theory"] - std.table["theory, no bias noise"], extra, rtol=1e-9)
    # logits of variance ~1 against random labels: a little above ln 10, the loss of a uniform guess
    assert math.log(10) < exp.loss < 4 and math.isfinite(std.loss)


def test_saturation_fraction_counts_both_ends():
    net = MLP.from_sizes("sigmoid", [4, 3, 2])
    with torch.no_grad():
        net.linears[0].weight.zero_()
        net.linears[0].bias.copy_(torch.tensor([10.0, -10.0, 0.0]))  # saturated high, saturated low, at 1/2
    share = init_experiments.saturation_fraction(net, torch.randn(5, 4))
    assert list(share.index) == ["1: 4→3"] and share.iloc[0] == pytest.approx(2 / 3)


@pytest.mark.parametrize("call,match", [
    (lambda: init_experiments.symmetry_after_sgd(MLP.from_sizes("identity", [4, 2]), torch.zeros(1, 4),
                                                 torch.zeros(1).long(), steps=0), "steps must be"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
