"""Tests of course_utils.regularization: references (torch, float64), identities, convergence, errors."""
import copy
import os

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import regularization as R
from course_utils.models import dropout_mlp
from course_utils.train import train_model


def tiny_net(seed=0, norm=False):
    torch.manual_seed(seed)
    layers = [nn.Linear(6, 5)]
    if norm:
        layers += [nn.LayerNorm(5), nn.BatchNorm1d(5)]
    layers += [nn.ReLU(), nn.Linear(5, 3)]
    return nn.Sequential(*layers).double()


def toy_xy(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 6, generator=g, dtype=torch.float64)
    return X, (X[:, :3]).argmax(1)


# ----------------------------------------------------------------------------- penalties
def test_penalties_match_closed_form():
    a = torch.tensor([[1.0, -2.0], [0.5, 0.0]], dtype=torch.float64)
    b = torch.tensor([-3.0], dtype=torch.float64)
    assert R.l1_penalty([a, b]).item() == pytest.approx(6.5)
    assert R.l2_penalty([a, b]).item() == pytest.approx(0.5 * (1 + 4 + 0.25 + 9))


def test_l2_penalty_gradient_is_weight():
    w = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    R.l2_penalty([w]).backward()
    torch.testing.assert_close(w.grad, w.detach(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("opt_cls,kw", [(torch.optim.SGD, {"lr": 0.1}),
                                         (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
                                         (torch.optim.Adam, {"lr": 1e-2})])
def test_penalized_loss_all_params_equals_torch_weight_decay(opt_cls, kw):
    """torch's weight_decay= adds lam*w to the gradient: the same as our l2 penalty on all parameters."""
    lam = 0.05
    X, y = toy_xy()
    a, b = tiny_net(), tiny_net()
    loss_a = R.PenalizedLoss(a, l2=lam, all_params=True)
    opt_a, opt_b = opt_cls(a.parameters(), **kw), opt_cls(b.parameters(), weight_decay=lam, **kw)
    for _ in range(5):
        for m, opt, lf in ((a, opt_a, loss_a), (b, opt_b, torch.nn.functional.cross_entropy)):
            opt.zero_grad()
            lf(m(X), y).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=1e-12)


def test_penalized_loss_repr_names_strengths_and_skips_biases():
    m = tiny_net()
    f = R.PenalizedLoss(m, l1=1e-4)
    assert "l1=0.0001" in repr(f) and f"n_penalised={6 * 5 + 5 * 3}" in repr(f)
    X, y = toy_xy()
    expected = torch.nn.functional.cross_entropy(m(X), y) + 1e-4 * (m[0].weight.abs().sum() + m[2].weight.abs().sum())
    torch.testing.assert_close(f(m(X), y), expected)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "0.1", True])
def test_bad_strengths_raise(bad):
    with pytest.raises(ValueError, match="finite number >= 0"):
        R.PenalizedLoss(tiny_net(), l1=bad)
    with pytest.raises(ValueError, match="weight_decay"):
        R.param_groups_no_decay(tiny_net(), bad)


def test_penalty_of_module_is_type_error():
    with pytest.raises(TypeError, match="parameters, not a module"):
        R.l1_penalty(tiny_net())


# ----------------------------------------------------------------------------- parameter groups
def test_param_groups_exempt_biases_and_norm_layers():
    m = tiny_net(norm=True)
    groups = R.param_groups_no_decay(m, 1e-2)
    decay_names, no_decay_names = R.decay_split(m)[2:]
    assert decay_names == ["0.weight", "4.weight"]
    assert set(no_decay_names) == {"0.bias", "1.weight", "1.bias", "2.weight", "2.bias", "4.bias"}
    assert [g["weight_decay"] for g in groups] == [1e-2, 0.0]
    n_all = sum(p.numel() for p in m.parameters())
    assert sum(p.numel() for g in groups for p in g["params"]) == n_all
    opt = torch.optim.AdamW(groups, lr=1e-3)  # torch accepts the groups
    assert len(opt.param_groups) == 2


def test_frozen_parameters_are_left_out():
    m = tiny_net()
    m[0].weight.requires_grad_(False)
    assert "0.weight" not in R.decay_split(m)[2]


# ----------------------------------------------------------------------------- l2 vs decoupled decay
def sgd(**kw):
    return lambda p: torch.optim.SGD(p, lr=0.1, **kw)


def test_l2_equals_decay_under_sgd_and_not_under_adam():
    X, y = toy_xy(64)
    m = tiny_net()
    r_sgd = R.l2_vs_decay_trajectory(m, X, y, sgd(), lam=0.1, steps=30, batch_size=16)
    r_mom = R.l2_vs_decay_trajectory(m, X, y, sgd(momentum=0.9), lam=0.1, steps=30, batch_size=16)
    r_adam = R.l2_vs_decay_trajectory(m, X, y, lambda p: torch.optim.Adam(p, lr=1e-2), lam=0.1, steps=30,
                                      batch_size=16)
    assert r_sgd["max_abs_diff"].max() < 1e-13  # identical up to float64 round-off
    assert r_mom["max_abs_diff"].max() > 1e-4
    assert r_adam["max_abs_diff"].max() > 1e-3
    assert list(r_sgd["step"]) == list(range(1, 31))


def test_decoupled_decay_with_adam_is_adamw():
    """The 'decay' arm of l2_vs_decay_trajectory must reproduce torch.optim.AdamW exactly."""
    X, y = toy_xy(32)
    lam, lr = 0.1, 1e-2
    m = tiny_net()
    r = R.l2_vs_decay_trajectory(m, X, y, lambda p: torch.optim.Adam(p, lr=lr), lam=lam, steps=10)
    ref = copy.deepcopy(m)
    opt = torch.optim.AdamW(ref.parameters(), lr=lr, weight_decay=lam)
    for _ in range(10):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(X), y).backward()
        opt.step()
    norm = torch.sqrt(sum(p.pow(2).sum() for p in ref.parameters())).item()
    assert r["norm_decay"][-1] == pytest.approx(norm, rel=1e-12)


def test_trajectory_rejects_optimizer_with_weight_decay():
    X, y = toy_xy()
    with pytest.raises(ValueError, match="weight_decay=0"):
        R.l2_vs_decay_trajectory(tiny_net(), X, y, sgd(weight_decay=0.1), lam=0.1, steps=2)


# ----------------------------------------------------------------------------- dropout and MC dropout
def test_mc_dropout_stays_on_in_eval_and_restores_modes(cache):
    m = dropout_mlp({"hidden_sizes": (32,), "p_hidden": 0.5}, seed=0)
    m.eval()
    X = torch.randn(50, 784)
    s = R.mc_sample_probs(m, X, 4, seed=1)
    assert s.shape == (4, 50, 10)
    assert not torch.allclose(s[0], s[1])  # the passes differ
    assert not any(mod.training for mod in m.modules())  # eval mode restored
    torch.testing.assert_close(s, R.mc_sample_probs(m, X, 4, seed=1, use_cache=False))  # seeded, not read back
    torch.testing.assert_close(s.sum(-1), torch.ones(4, 50))


def test_mc_passes_are_cached_by_everything_that_decides_them(cache):
    """A second call reads the passes back (the same tensor as computing them); a change of any weight, input,
    S or seed computes anew; a learner's own module class or a hook is never cached; a cache that cannot be
    written still returns the passes."""
    m = dropout_mlp({"hidden_sizes": (32,), "p_hidden": 0.5}, seed=0)
    X = torch.randn(50, 784)
    first = R.mc_sample_probs(m, X, 4, seed=1)
    files = list((cache / "mc_dropout").glob("*.pt"))
    assert len(files) == 1
    torch.save(torch.zeros_like(first), files[0])  # what is read back is what the file holds
    assert torch.equal(R.mc_sample_probs(m, X, 4, seed=1), torch.zeros_like(first))
    torch.testing.assert_close(R.mc_sample_probs(m, X, 4, seed=1, use_cache=False), first)
    files[0].unlink()
    assert torch.equal(R.mc_sample_probs(m, X, 4, seed=1), first)
    m2 = copy.deepcopy(m)
    with torch.no_grad():
        next(m2.parameters())[0, 0] += 1e-3
    X2 = X.clone()
    X2[0, 0] += 1e-3
    for other in (lambda: R.mc_sample_probs(m2, X, 4, seed=1), lambda: R.mc_sample_probs(m, X2, 4, seed=1),
                  lambda: R.mc_sample_probs(m, X, 5, seed=1), lambda: R.mc_sample_probs(m, X, 4, seed=2)):
        assert not torch.equal(other(), first)
    assert len(list((cache / "mc_dropout").glob("*.pt"))) == 5

    class Own(nn.Module):  # a learner's class: its forward is not in the key, so it is never cached
        def __init__(self):
            super().__init__()
            self.inner = m

        def forward(self, x):
            return self.inner(x) * 2

    R.mc_sample_probs(Own(), X, 4, seed=1)
    hook = m.register_forward_hook(lambda mod, i, o: o * 0)
    assert not torch.equal(R.mc_sample_probs(m, X, 4, seed=1), first)  # the hook runs; not the cached passes
    hook.remove()
    assert len(list((cache / "mc_dropout").glob("*.pt"))) == 5
    for f in (cache / "mc_dropout").glob("*.pt"):
        f.unlink()
    (cache / "mc_dropout").chmod(0o500)
    try:
        if not os.access(cache / "mc_dropout", os.W_OK):  # (root can write anyway)
            assert torch.equal(R.mc_sample_probs(m, X, 4, seed=1), first)
    finally:
        (cache / "mc_dropout").chmod(0o700)


def test_mc_predict_identities(cache):
    m = dropout_mlp({"hidden_sizes": (32,), "p_hidden": 0.5}, seed=0)
    X = torch.randn(30, 784)
    pred = R.mc_predict(m, X, 20, seed=3)
    samples = R.mc_sample_probs(m, X, 20, seed=3)
    torch.testing.assert_close(pred.probs, samples.mean(0))
    torch.testing.assert_close(pred.std, samples.std(0, unbiased=False))
    assert pred.uncertainty.shape == (30,)
    assert (pred.uncertainty >= 0).all() and (pred.uncertainty <= np.log(10) + 1e-6).all()
    curve = R.mc_accuracy_curve(samples, pred.probs.argmax(1), [20])
    assert curve[0] == 1.0  # the average of all 20 samples *is* pred.probs


def test_mc_needs_dropout_and_positive_samples():
    plain = nn.Sequential(nn.Linear(4, 2))
    with pytest.raises(ValueError, match="no dropout layer"):
        R.mc_predict(plain, torch.randn(3, 4), 5)
    with pytest.raises(ValueError, match="n_samples"):
        R.mc_predict(dropout_mlp({"hidden_sizes": (4,)}), torch.randn(3, 784), 0)
    with pytest.raises(ValueError, match="between 1 and"):
        R.mc_accuracy_curve(torch.rand(3, 5, 2), torch.zeros(5, dtype=torch.long), [4])


def test_alpha_dropout_keeps_selu_self_normalised_and_dropout_does_not():
    s = R.dropout_signal_stats(depth=10, width=128, p=0.1, n=1024)
    assert np.all(np.abs(s["alpha_std"] - 1) < 0.05) and np.all(np.abs(s["alpha_mean"]) < 0.05)
    assert s["standard_std"][-1] > 1.08  # ordinary dropout inflates the variance layer after layer


# ----------------------------------------------------------------------------- max-norm
def test_max_norm_clips_rows_and_leaves_short_rows():
    lin = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 4.0, 0.0], [0.3, 0.4, 0.0]]))
    n = R.max_norm_(nn.Sequential(lin), r=2.0)
    assert n == 1
    torch.testing.assert_close(lin.weight.norm(dim=1), torch.tensor([2.0, 0.5]), atol=1e-6, rtol=0)
    torch.testing.assert_close(lin.weight[0] / lin.weight[0].norm(), torch.tensor([0.6, 0.8, 0.0]))


def test_max_norm_hook_runs_after_each_step(tiny_data, cache):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad():
        m[0].weight.mul_(20)  # rows far longer than r
    train_model(m, lambda p: R.add_max_norm_hook(torch.optim.SGD(p, lr=0.1), r=0.5), tiny_data,
                epochs=2, batch_size=64, extra_key={"max_norm": 0.5})
    for norms in R.row_norms(m).values():
        assert norms.max() <= 0.5 + 1e-5


@pytest.mark.parametrize("r", [0, -1.0, "2"])
def test_max_norm_bad_radius(r):
    with pytest.raises(ValueError, match="positive"):
        R.max_norm_(tiny_net(), r=r)


# ----------------------------------------------------------------------------- pruning
@pytest.mark.parametrize("amount", [0.0, 0.3, 0.75, 0.95])
def test_prune_global_reaches_requested_sparsity(amount):
    m = tiny_net().float()
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    R.prune_global(m, amount)
    assert R.sparsity(m) == pytest.approx(amount, abs=1 / 45)  # 45 weights: one weight of rounding
    assert not any(hasattr(mod, "weight_orig") for mod in m.modules())  # masks folded in
    # the kept weights are unchanged and the zeroed ones were the smallest in magnitude
    w_all = torch.cat([before["0.weight"].flatten(), before["2.weight"].flatten()])
    w_now = torch.cat([m[0].weight.flatten(), m[2].weight.flatten()])
    kept = w_now != 0
    torch.testing.assert_close(w_now[kept], w_all[kept])
    if 0 < amount and kept.any() and (~kept).any():
        assert w_all[~kept].abs().max() <= w_all[kept].abs().min()


def test_pruning_curve_leaves_model_untouched(tiny_data):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    w = m[0].weight.detach().clone()
    c = R.pruning_curve(m, *tiny_data.test, [0.0, 0.5, 1.0])
    torch.testing.assert_close(m[0].weight, w)
    assert list(c["sparsity"]) == pytest.approx([0.0, 0.5, 1.0], abs=0.01)
    with pytest.raises(ValueError, match="fraction"):
        R.prune_global(m, 1.5)


def test_enable_mc_dropout_switches_on_every_dropout_kind_and_nothing_else():
    """(s9 review 05) the lecture's helper matches every dropout kind through torch's base class, as exercise 5
    asks of learners: Dropout, Dropout2d, AlphaDropout and FeatureAlphaDropout, nested; batch norm stays in eval."""
    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.1),
                        nn.Sequential(nn.AlphaDropout(0.1), nn.Sequential(nn.Dropout2d(0.1))),
                        nn.FeatureAlphaDropout(0.1))
    assert R.enable_mc_dropout(net) == 4
    assert [type(m).__name__ for m in net.modules() if m.training] == ["Dropout", "AlphaDropout", "Dropout2d",
                                                                       "FeatureAlphaDropout"]
    with pytest.raises(ValueError, match="no dropout layer"):
        R.enable_mc_dropout(nn.Sequential(nn.Linear(2, 2)))
