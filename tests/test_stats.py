"""course_utils.stats: per-layer statistics of a network, against the layers' own outputs."""
import numpy as np
import pytest
import torch
from torch import nn

from course_utils import stats
from course_utils.models import MLP


def small():
    torch.manual_seed(0)
    return MLP(act_fn="tanh", input_size=6, hidden_sizes=(5, 4), num_classes=3)


def test_activation_stats_are_linear_outputs():
    m, x = small(), torch.randn(7, 6)
    acts = stats.activation_stats(m, x)
    assert list(acts) == ["1: 6→5", "2: 5→4", "3: 4→3"]
    first = m.linears[0](x)
    np.testing.assert_allclose(acts["1: 6→5"], first.detach().reshape(-1).numpy(), rtol=1e-6)
    post = stats.activation_stats(m, x, after_activation=True)
    np.testing.assert_allclose(post["1: 6→5"], torch.tanh(first).detach().reshape(-1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(post["3: 4→3"], m(x).detach().reshape(-1).numpy(), rtol=1e-6)


def test_hooks_are_removed_even_on_error():
    m = small()
    with pytest.raises(ValueError, match="input features"):
        stats.activation_stats(m, torch.randn(2, 7))  # wrong width: fails inside the forward pass
    assert all(len(l._forward_hooks) == 0 for l in m.linears)


def test_gradient_stats_match_autograd_and_leave_grads_alone():
    m, x, y = small(), torch.randn(9, 6), torch.randint(0, 3, (9,))
    g = stats.gradient_stats(m, x, y)
    loss = nn.functional.cross_entropy(m(x), y)
    loss.backward()
    np.testing.assert_allclose(g["2: 5→4"], m.linears[1].weight.grad.reshape(-1).numpy(), rtol=1e-5)
    m.zero_grad(set_to_none=True)
    stats.gradient_stats(m, x, y)
    assert m.linears[0].weight.grad is None


def test_weight_stats_and_variances():
    m = small()
    w = stats.weight_stats(m)
    assert w["1: 6→5"].size == 30
    v = stats.variances({"a": np.array([1.0, -1.0, 1.0, -1.0])})
    assert v["a"] == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(TypeError, match="torch.Tensor"):
        stats.activation_stats(small(), [1, 2, 3])
    with pytest.raises(ValueError, match="nn.Linear"):
        stats.weight_stats(nn.ReLU())


def test_dead_unit_fraction():
    m = MLP(act_fn="relu", input_size=4, hidden_sizes=(6,), num_classes=2)
    with torch.no_grad():
        m.linears[0].weight.zero_()
        m.linears[0].bias.copy_(torch.tensor([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]))
    assert stats.dead_unit_fraction(m, torch.randn(32, 4)) == {"1: 4→6": 0.5}
