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


# ----------------------------------------------------------------------------- predicted probabilities
def _probs(n=200, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = 2 * torch.randn(n, c, generator=g, dtype=torch.float64)
    return logits, torch.softmax(logits, 1), torch.randint(0, c, (n,), generator=g)


def test_nll_equals_cross_entropy():
    logits, p, y = _probs()
    ref = nn.functional.cross_entropy(logits, y).item()
    assert stats.nll(p, y) == pytest.approx(ref, rel=1e-10)
    assert stats.nll(p.numpy(), y.numpy()) == pytest.approx(ref, rel=1e-10)  # arrays as well as tensors
    assert stats.nll(torch.eye(3), torch.arange(3)) == pytest.approx(0.0)  # sure and right: 0


def test_ece_by_hand_and_identities():
    # Two bins' worth of examples (B = 2): confidences 0.9, 0.9 (one right) and 0.6, 0.6 (both right).
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    y = np.array([0, 1, 1, 1])
    # bin (0.5, 1]: all four, conf 0.75, acc 0.75 -> 0; with B = 10 the bins (0.8, 0.9] and (0.5, 0.6]:
    assert stats.expected_calibration_error(p, y, n_bins=2) == pytest.approx(0.0)
    assert stats.expected_calibration_error(p, y, n_bins=10) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    b = stats.reliability_bins(p, y, n_bins=10)
    assert b["count"].sum() == 4 and b["count"][8] == 2 and b["count"][5] == 2 and np.isnan(b["accuracy"][0])
    # Always-right one-hot predictions are perfectly calibrated; uniform guesses on C classes have
    # confidence 1/C, so their ECE is |accuracy - 1/C|.
    assert stats.expected_calibration_error(torch.eye(4), torch.arange(4)) == pytest.approx(0.0)
    u = np.full((8, 4), 0.25)
    assert stats.expected_calibration_error(u, np.zeros(8, int)) == pytest.approx(abs(1.0 - 0.25))
    _, pr, yr = _probs()
    assert 0 <= stats.expected_calibration_error(pr, yr) <= 1


def test_auroc_against_pairwise_count():
    g = np.random.default_rng(0)
    s = np.round(g.normal(size=60), 1)  # rounding makes ties, which count one half
    pos = g.random(60) < 0.3
    pairs = [(a > b) + 0.5 * (a == b) for a in s[pos] for b in s[~pos]]
    assert stats.auroc(s, pos) == pytest.approx(np.mean(pairs), rel=1e-12)
    assert stats.auroc(torch.tensor(s), torch.tensor(pos)) == pytest.approx(np.mean(pairs), rel=1e-12)
    assert stats.auroc([0, 1, 2, 3], [0, 0, 1, 1]) == 1.0 and stats.auroc([3, 2, 1, 0], [0, 0, 1, 1]) == 0.0
    assert stats.auroc([1, 1, 1, 1], [0, 1, 0, 1]) == 0.5


@pytest.mark.parametrize("fn", [stats.nll, stats.expected_calibration_error])
@pytest.mark.parametrize("probs, y, match", [
    (np.array([0.5, 0.5]), np.array([0]), "shape"),                      # not (N, C)
    (np.array([[0.5, 0.5]]), np.array([0, 1]), "one label per row"),     # lengths differ
    (np.array([[0.5, 0.5]]), np.array([2]), "labels must lie"),          # label out of range
    (np.array([[2.0, -1.0]]), np.array([0]), "logits"),                  # logits, not probabilities
    (np.array([[0.3, 0.3]]), np.array([0]), "sum to 1"),                 # not normalised
    (np.array([[0.5, 0.5]]), np.array([0.5]), "integer"),                # not a class label
])
def test_probability_metrics_reject_bad_input(fn, probs, y, match):
    with pytest.raises(ValueError, match=match):
        fn(probs, y)


def test_bad_bins_and_auroc_inputs():
    with pytest.raises(ValueError, match="n_bins"):
        stats.expected_calibration_error(torch.eye(2), torch.arange(2), n_bins=0)
    with pytest.raises(ValueError, match="both groups"):
        stats.auroc([0.1, 0.2], [True, True])
    with pytest.raises(ValueError, match="same length"):
        stats.auroc([0.1, 0.2], [True])
    with pytest.raises(ValueError, match="finite"):
        stats.auroc([0.1, np.nan], [True, False])
    with pytest.raises(ValueError, match="0/1"):
        stats.auroc([0.1, 0.2], [2, 0])


def test_bootstrap_interval_of_a_mean():
    x = np.random.default_rng(1).normal(2.0, 1.0, 400)
    b = stats.bootstrap_interval(lambda i: x[i].mean(), len(x), n_boot=2000)
    assert b["estimate"] == pytest.approx(x.mean())
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))  # the normal interval of a mean, which it must approach
    assert b["lo"] == pytest.approx(x.mean() - half, abs=0.03) and b["hi"] == pytest.approx(x.mean() + half, abs=0.03)
    same = stats.bootstrap_interval(lambda i: x[i].mean() - x[i].mean(), len(x), n_boot=50)  # paired: exactly 0
    assert same["lo"] == same["hi"] == 0.0
    with pytest.raises(ValueError, match="n_boot"):
        stats.bootstrap_interval(lambda i: 0.0, 10, n_boot=5)
    with pytest.raises(ValueError, match="number of examples"):
        stats.bootstrap_interval(lambda i: 0.0, 0)
