"""Tests of course_utils.schedules: traces of the real torch schedulers against their formulas."""
import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as lrs

from course_utils import schedules as S


def _opt(lr=0.1):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)


# ----------------------------------------------------------------------------- equal to a formula
def test_exponential_gamma_09_after_10_and_20_epochs():
    tr = S.lr_trace("exponential", 21, lr=1.0, gamma=0.9)
    assert tr[10] == pytest.approx(0.9 ** 10, rel=1e-12)  # the textbook's "about 35 %"
    assert tr[20] == pytest.approx(0.9 ** 20, rel=1e-12)  # ... and "about 12 %"
    assert round(tr[10], 3) == 0.349 and round(tr[20], 3) == 0.122


@pytest.mark.parametrize("name, kw, formula", [
    ("exponential", {"gamma": 0.8}, lambda t: 0.8 ** t),
    ("inverse", {"k": 0.5}, lambda t: 1 / (1 + 0.5 * t)),
    ("halving", {}, lambda t: 0.5 ** t),
    ("step", {"step_size": 3, "gamma": 0.1}, lambda t: 0.1 ** (t // 3)),
    ("cosine", {"T_max": 10}, lambda t: 0.5 * (1 + math.cos(math.pi * t / 10))),
    ("constant", {}, lambda t: 1.0),
])
def test_per_epoch_schedules_match_their_formula(name, kw, formula):
    tr = S.lr_trace(name, 11, lr=1.0, **kw)
    np.testing.assert_allclose(tr, [formula(t) for t in range(11)], rtol=1e-9, atol=1e-12)


def test_per_epoch_schedule_is_constant_within_an_epoch():
    tr = S.lr_trace("exponential", 4, steps_per_epoch=5, lr=1.0, gamma=0.5).reshape(4, 5)
    assert (tr == tr[:, :1]).all()
    np.testing.assert_allclose(tr[:, 0], [1, 0.5, 0.25, 0.125])


# ----------------------------------------------------------------------------- identities
@pytest.mark.parametrize("start, end, iters", [(0.1, 1.0, 3), (0.25, 1.0, 5), (0.5, 0.8, 2)])
def test_linear_warmup_equals_lambda_warmup_at_every_step(start, end, iters):
    kw = dict(start_factor=start, end_factor=end, total_iters=iters)
    a = S.lr_trace("linear_warmup", 12, steps_per_epoch=3, **kw)
    b = S.lr_trace("lambda_warmup", 12, steps_per_epoch=3, **kw)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert a[0] == pytest.approx(0.1 * start) and a[-1] == pytest.approx(0.1 * end)


def test_factory_and_name_give_the_same_trace():
    by_name = S.lr_trace("cosine", 8, T_max=8)
    by_factory = S.lr_trace(lambda o: lrs.CosineAnnealingLR(o, T_max=8), 8)
    np.testing.assert_array_equal(by_name, by_factory)


def test_cosine_warm_restarts_t0_2_tmult_2_restart_at_2_6_14():
    tr = S.lr_trace("cosine_restarts", 30, lr=1.0, T_0=2, T_mult=2)
    restarts = [t for t in range(1, 30) if tr[t] > tr[t - 1]]
    assert restarts == [2, 6, 14]  # cycles of 2, 4, 8, 16 epochs
    assert all(tr[t] == pytest.approx(1.0) for t in [0, 2, 6, 14])


# ----------------------------------------------------------------------------- per-batch schedules
@pytest.mark.parametrize("epochs, spe, pct", [(10, 10, 0.3), (5, 40, 0.25), (3, 100, 0.5)])
def test_onecycle_per_batch_peak_at_pct_start_minimum_at_last_step(epochs, spe, pct):
    max_lr, div, final_div = 1.0, 25.0, 1e4
    tr = S.lr_trace("onecycle", epochs, steps_per_epoch=spe, max_lr=max_lr, pct_start=pct,
                    div_factor=div, final_div_factor=final_div)
    T = epochs * spe
    assert len(tr) == T
    assert tr[0] == pytest.approx(max_lr / div)
    assert abs(int(tr.argmax()) - (pct * T - 1)) <= 1  # torch's warm-up phase ends at step pct*T - 1
    assert tr.max() == pytest.approx(max_lr)
    assert int(tr.argmin()) == T - 1  # the last step has the smallest rate of the run
    assert tr[-1] == pytest.approx(max_lr / div / final_div)
    # increasing, then decreasing
    peak = int(tr.argmax())
    assert (np.diff(tr[:peak + 1]) > 0).all() and (np.diff(tr[peak:]) < 0).all()


def test_onecycle_stepped_per_epoch_is_the_bug():
    good = S.lr_trace("onecycle", 10, steps_per_epoch=50, max_lr=1.0)
    bad = S.lr_trace("onecycle", 10, steps_per_epoch=50, max_lr=1.0, interval="epoch")
    assert good.max() == pytest.approx(1.0) and good[-1] < 1e-4
    assert bad.max() < 0.05  # never gets past the first few per cent of its warm-up


def test_onecycle_momentum_cycles_inversely():
    mom = S.lr_trace("onecycle", 4, steps_per_epoch=25, max_lr=1.0, record="momentum")
    lr = S.lr_trace("onecycle", 4, steps_per_epoch=25, max_lr=1.0)
    assert mom[0] == pytest.approx(0.95) and mom.min() == pytest.approx(0.85)
    assert int(mom.argmin()) == int(lr.argmax())


@pytest.mark.parametrize("s, cycles", [(5, 3), (20, 2), (7, 4)])
def test_cyclic_triangular_per_batch(s, cycles):
    base, top = 0.01, 0.1
    T = 2 * s * cycles + 1  # a run that ends exactly at the end of its last cycle
    tr = S.lr_trace("cyclic", 1, steps_per_epoch=T, base_lr=base, max_lr=top, step_size_up=s)
    peaks = [t for t in range(1, T - 1) if tr[t] > tr[t - 1] and tr[t] > tr[t + 1]]
    assert peaks == [s * (2 * k + 1) for k in range(cycles)]
    np.testing.assert_allclose(tr[peaks], top)
    np.testing.assert_allclose(tr[::2 * s], base)  # back at the bottom after every cycle
    assert int(np.argmin(tr[::-1])) == 0 and tr[-1] == pytest.approx(base)  # last step: minimum
    np.testing.assert_allclose(np.abs(np.diff(tr)), (top - base) / s)  # straight lines


def test_plateau_follows_recorded_val_curve():
    val = [1.0, 0.8, 0.7, 0.7, 0.7, 0.65, 0.66, 0.67, 0.68, 0.69]
    tr = S.lr_trace("plateau", 10, lr=1.0, val_losses=val, factor=0.5, patience=1, threshold=0)
    # epoch index 4 is the 2nd without improvement (> patience 1): the rate halves for epoch 5
    np.testing.assert_allclose(tr, [1, 1, 1, 1, 1, .5, .5, .5, .25, .25])


# ----------------------------------------------------------------------------- bad input
def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="Valid names: .*cosine.*onecycle"):
        S.make_scheduler("cosin", _opt())


@pytest.mark.parametrize("name, kw", [
    ("exponential", {"gama": 0.9}),         # misspelt argument
    ("cosine_restarts", {"T_0": 0}),        # T_0 must be positive
    ("onecycle", {"max_lr": 1.0}),          # no total_steps / epochs
    ("plateau", {"mode": "middle"}),        # invalid mode
])
def test_bad_scheduler_arguments_raise_value_error(name, kw):
    with pytest.raises(ValueError, match=f"Could not build the '{name}' schedule"):
        S.make_scheduler(name, _opt(), **kw)


def test_bad_trace_arguments():
    with pytest.raises(ValueError, match="positive integer"):
        S.lr_trace("cosine", 0, T_max=3)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        S.lr_trace("cosine", 3, steps_per_epoch=1.5, T_max=3)
    with pytest.raises(ValueError, match="one validation loss per epoch"):
        S.lr_trace("plateau", 5, val_losses=[1.0, 0.9])
    with pytest.raises(ValueError, match="interval"):
        S.lr_trace("cosine", 3, interval="batch", T_max=3)
    with pytest.raises(TypeError, match="optimizer"):
        S.make_scheduler("cosine", object(), T_max=3)
    with pytest.raises(TypeError, match="schedule must be"):
        S.lr_trace(3.0, 3)


def test_is_per_batch():
    o = _opt()
    assert S.is_per_batch(S.make_scheduler("onecycle", o, max_lr=1.0, total_steps=10))
    assert S.is_per_batch(S.make_scheduler("cyclic", _opt(), base_lr=0.01, max_lr=0.1))
    assert not S.is_per_batch(S.make_scheduler("cosine", _opt(), T_max=5))


@pytest.mark.parametrize("name,kw,interval,expected", [
    ("onecycle", dict(max_lr=1.0, total_steps=10), None, "step"),
    ("cyclic", dict(base_lr=0.01, max_lr=0.1), None, "step"),
    ("cosine", dict(T_max=5), None, "epoch"),
    ("onecycle", dict(max_lr=1.0, total_steps=10), "epoch", "epoch"),  # the common bug, on purpose
    ("cosine", dict(T_max=5), "step", "step"),
    ("plateau", dict(), "step", "epoch"),  # needs the validation loss: always per epoch
])
def test_step_interval(name, kw, interval, expected):
    assert S.step_interval(S.make_scheduler(name, _opt(), **kw), interval) == expected


def test_step_interval_without_scheduler_and_bad_name():
    assert S.step_interval(None) is None and S.step_interval(None, "step") is None
    with pytest.raises(ValueError, match="interval"):
        S.step_interval(None, "batch")


def test_inverse_decay_state_survives_state_dict():
    o = _opt()
    s = S.make_scheduler("inverse", o, k=0.25)
    sd = s.state_dict()
    s2 = S.make_scheduler("inverse", _opt(), k=99.0)
    s2.load_state_dict(sd)
    assert s2.lr_lambdas[0].k == 0.25
