"""course_utils.compare: toy trajectories, parity with torch.optim, memory, sweeps, seed tables, Welch tests."""
from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as st
from torch import nn

from course_utils import compare as C
from course_utils import optim as O


def _quadratic(w, t):
    return (w ** 2).sum()


# ----------------------------------------------------------------------------- track
def test_track_records_the_closed_form_gd_trajectory():
    out = C.track(torch.optim.SGD, _quadratic, start=[1.0, -2.0], steps=5, lr=0.1)
    # w_{t+1} = w_t - lr * 2 w_t = 0.8 w_t
    expected = np.array([[1.0, -2.0]]) * 0.8 ** np.arange(6)[:, None]
    np.testing.assert_allclose(out["w"], expected, rtol=1e-12)
    np.testing.assert_allclose(out["step"], np.diff(expected, axis=0), rtol=1e-12)
    assert out["w"].dtype == np.float64


def test_track_records_optimizer_state_and_uses_the_step_number():
    # a prescribed gradient sequence g_t = t through loss = t * w.sum(); momentum buffer = sum of β^k g
    out = C.track(torch.optim.SGD, lambda w, t: t * w.sum(), start=[0.0], steps=3, lr=1.0, momentum=0.5,
                  state_keys=["momentum_buffer"])
    np.testing.assert_allclose(out["momentum_buffer"][:, 0], [1.0, 2.5, 4.25])
    np.testing.assert_allclose(out["w"][:, 0], [0.0, -1.0, -3.5, -7.75])


@pytest.mark.parametrize("bad, match", [(dict(optimizer_cls=torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1)),
                                         "subclass"),
                                        (dict(steps=0), "positive integer"), (dict(steps=2.5), "positive integer")])
def test_track_rejects_bad_arguments(bad, match):
    kw = dict(optimizer_cls=torch.optim.SGD, loss_fn=_quadratic, start=[1.0], steps=3, lr=0.1) | bad
    with pytest.raises((TypeError, ValueError), match=match):
        C.track(**kw)


# ----------------------------------------------------------------------------- parity
def test_parity_is_zero_for_the_same_optimizer_and_restores_the_default_dtype():
    before = torch.get_default_dtype()
    assert C.parity_with_torch(torch.optim.Adam, torch.optim.Adam, steps=20, lr=1e-2) == 0.0
    assert torch.get_default_dtype() == before


def test_parity_detects_a_different_trajectory():
    ours_adam = C.parity_with_torch(O.Adam, torch.optim.Adam, steps=50, lr=1e-2)
    assert ours_adam <= 1e-6
    # a 10 % larger learning rate is a different optimizer: the measure must see it
    off = C.parity_with_torch(lambda p, **kw: torch.optim.Adam(p, lr=1.1e-2), torch.optim.Adam, steps=50, lr=1e-2)
    assert off > 1e-3


def test_parity_table_covers_every_case_and_the_momentum_identity():
    cases = [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)), ("Adam", dict(lr=1e-2, amsgrad=True))]
    table = C.parity_table(steps=30, cases=cases)
    assert list(table["optimizer"]) == ["SGD", "Adam", "SGDMomentum"]
    assert (table["max rel. difference"] <= 1e-6).all(), table


# ----------------------------------------------------------------------------- memory
def test_memory_table_matches_the_slides_counts():
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
    before = [p.detach().clone() for p in model.parameters()]
    table = C.memory_table(model, {
        "SGD": lambda p: torch.optim.SGD(p, lr=0.1),
        "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        "Adam": lambda p: torch.optim.Adam(p, lr=1e-3),
    }, slides={"SGD": "0", "Adam": "8n"})
    per = table["bytes / parameter"]
    assert per["SGD"] == 0 and per["momentum"] == 4
    n = sum(p.numel() for p in model.parameters())
    assert 8 <= per["Adam"] <= 8 + 4 * 8 / n  # m and v, plus one scalar `step` per parameter tensor
    assert table.loc["momentum", "slides"] == "—" and table.loc["Adam", "slides"] == "8n"
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "the model must not change"


# ----------------------------------------------------------------------------- sweeps
def _build(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def test_lr_sweep_keeps_diverged_runs_and_best_rates_picks_the_best(tiny_data, cache):
    sgd = lambda lr: (lambda p: torch.optim.SGD(p, lr=lr))  # noqa: E731
    sweep = C.lr_sweep(_build, {"SGD": (sgd, [1e-3, 0.5, 1e6])}, tiny_data, epochs=2, batch_size=64)
    assert list(sweep["lr"]) == [1e-3, 0.5, 1e6]
    assert list(sweep["diverged"]) == [False, False, True]
    assert math.isnan(sweep["best_val_acc"].iloc[2])
    assert C.best_rates(sweep) == {"SGD": 0.5}  # lr 1e-3 barely moves in 2 epochs
    with pytest.raises(ValueError, match="no learning rates"):
        C.lr_sweep(_build, {"SGD": (sgd, [])}, tiny_data, epochs=1, batch_size=64)


def test_a_sweep_over_several_seeds_is_chosen_on_its_mean(tiny_data, cache):
    sgd = lambda lr: (lambda p: torch.optim.SGD(p, lr=lr))  # noqa: E731
    sweep = C.lr_sweep(_build, {"SGD": (sgd, [1e-3, 0.5])}, tiny_data, epochs=1, seeds=[3, 4], batch_size=64)
    assert list(sweep["seed"]) == [3, 3, 4, 4] and list(sweep["lr"]) == [1e-3, 0.5, 1e-3, 0.5]
    one = C.lr_sweep(_build, {"SGD": (sgd, [0.5])}, tiny_data, epochs=1, seed=4, batch_size=64)
    assert sweep["best_val_acc"].iloc[3] == one["best_val_acc"].iloc[0]  # seed 4's rows are seed 4's runs
    # the mean decides, not one seed: rate 1.0 wins on seed 0 but loses on average; a rate that diverged on
    # one seed counts as diverged
    rows = pd.DataFrame({"optimizer": ["A"] * 6, "lr": [0.1, 1.0, 10.0] * 2, "seed": [0] * 3 + [1] * 3,
                         "best_val_acc": [0.80, 0.82, 0.9, 0.84, 0.70, np.nan], "test_acc": [0.8] * 6,
                         "final_train_loss": [1.0] * 6, "diverged": [False] * 5 + [True]})
    means = C.sweep_means(rows)
    assert means["best_val_acc"].round(3).tolist()[:2] == [0.82, 0.76] and means["diverged"].tolist() == [False, False, True]
    assert np.isnan(means["best_val_acc"].iloc[2]) and (means["seeds"] == 2).all()
    assert C.best_rates(rows) == {"A": 0.1} and C.best_rates(rows[rows.seed == 0]) == {"A": 10.0}
    with pytest.raises(ValueError, match="seeds is empty"):
        C.lr_sweep(_build, {"SGD": (sgd, [0.5])}, tiny_data, epochs=1, seeds=[], batch_size=64)


def test_best_rates_names_the_optimizer_whose_every_rate_diverged():
    sweep = pd.DataFrame({"optimizer": ["A", "A", "B"], "lr": [0.1, 1.0, 0.1],
                          "best_val_acc": [0.8, 0.9, np.nan]})
    with pytest.raises(ValueError, match=r"\['B'\]"):
        C.best_rates(sweep)
    assert C.best_rates(sweep.iloc[:2]) == {"A": 1.0}


# ----------------------------------------------------------------------------- seeds and significance
def _runs(accs, best_epoch=3):
    return [SimpleNamespace(test_acc=a / 100, best_epoch=best_epoch) for a in accs]


def test_seed_table_mean_std_and_t_interval():
    accs = [85.0, 86.0, 87.5, 86.5]
    table = C.seed_table({"SGD": _runs(accs)}, references={"PyTorch tutorial": {"SGD": 89.09}})
    row = table.loc["SGD"]
    assert row["seeds"] == 4
    assert row["mean (%)"] == pytest.approx(np.mean(accs))
    assert row["std (%)"] == pytest.approx(np.std(accs, ddof=1))
    lo, hi = st.t.interval(0.95, df=3, loc=np.mean(accs), scale=st.sem(accs))
    assert (row["95% CI low"], row["95% CI high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert row["PyTorch tutorial"] == 89.09 and row["best epoch (mean)"] == 3


def test_welch_table_matches_scipy_and_is_nan_for_single_runs():
    a, b = [85.0, 86.0, 85.5], [87.0, 87.5, 86.8, 87.2]
    table = C.welch_table({"SGD": _runs(a), "Adam": _runs(b), "one": _runs([90.0])})
    assert list(zip(table["A"], table["B"])) == [("SGD", "Adam"), ("SGD", "one"), ("Adam", "one")]
    row = table.iloc[0]
    assert row["mean A − mean B (pp)"] == pytest.approx(np.mean(a) - np.mean(b))
    assert row["p-value (Welch)"] == pytest.approx(st.ttest_ind(a, b, equal_var=False).pvalue)
    assert table["p-value (Welch)"].iloc[1:].isna().all()


def test_holm_adjustment():
    np.testing.assert_allclose(C.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])  # step-down, kept monotone
    np.testing.assert_allclose(C.holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    out = C.holm([np.nan, 0.02])
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.02)  # NaNs are not counted as comparisons


def test_welch_table_holm_column_counts_every_pair():
    a, b, c = [85.0, 86.0, 85.5], [87.0, 87.5, 86.8], [85.2, 86.1, 85.9]
    table = C.welch_table({"A": _runs(a), "B": _runs(b), "C": _runs(c)})
    np.testing.assert_allclose(table["p (Holm)"], C.holm(table["p-value (Welch)"]))
    assert (table["p (Holm)"] >= table["p-value (Welch)"]).all()


def test_mean_ci():
    r = C.mean_ci([1.0, 2.0, 3.0])
    assert r["mean"] == 2.0 and r["std"] == pytest.approx(1.0)
    # t_{0.975, 2} = 4.303: half-width = 4.303 * 1 / sqrt(3)
    assert r["hi"] - r["mean"] == pytest.approx(4.3027 / 3 ** 0.5, rel=1e-3)
    assert C.mean_ci([5.0])["lo"] == 5.0
    with pytest.raises(ValueError):
        C.mean_ci([])


# ----------------------------------------------------------------------------- paired comparisons and verdicts
import itertools  # noqa: E402

from course_utils.compare import paired_table, verdict  # noqa: E402

M = 0.5  # the minimum effect of these tests, in points


def _family(shift_b, noise=0.05, n=5, base=88.0, seed=0):
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 0.6, n)  # what a seed's weights and batch order do to every configuration
    return {"A": list(base + shared + rng.normal(0, noise, n)),
            "B": list(base + shift_b + shared + rng.normal(0, noise, n))}


def test_paired_test_sees_what_the_shared_seed_noise_hides_from_welch():
    res = _family(shift_b=0.2)
    t = paired_table(res)
    assert t.loc[0, "significant"] and t.loc[0, "A − B (pp)"] < 0
    assert t.loc[0, "CI low"] < t.loc[0, "A − B (pp)"] < t.loc[0, "CI high"] < 0
    assert st.ttest_ind(res["A"], res["B"], equal_var=False).pvalue > 0.05  # unpaired: lost in the seed noise


def test_verdict_follows_the_data_when_it_flips():
    ahead = verdict(paired_table(_family(shift_b=-0.7)), what="they differ", min_effect=M)
    behind = verdict(paired_table(_family(shift_b=+0.7)), what="they differ", min_effect=M)
    tie = verdict(paired_table(_family(shift_b=0.0, noise=0.3)), what="they differ", min_effect=M)
    # one comparison: nothing to correct, so the sentence names neither Holm nor a joint interval
    assert "A is ahead of B by 0.7" in ahead and "(95 % interval " in ahead and ", p " in ahead, ahead
    assert "Holm" not in ahead and "joint" not in ahead and "Holm" not in tie and "joint" not in tie, (ahead, tie)
    assert "B is ahead of A by 0.6" in behind
    assert "not significant" in tie and "would have been detected" in tie and "ahead" not in tie
    one = verdict(paired_table({"A": [88.0], "B": [87.0]}), what="A beats B", min_effect=M)
    assert one.startswith("one seed cannot decide whether A beats B")


def test_fewer_than_five_seeds_is_never_significant_and_says_what_full_found():
    # three seeds, every one +0.11 +- 0.02 points: the t-test says p ~ 0.01, but 3 pairs cannot decide
    res = {"decay": [88.11, 87.13, 88.59], "plain": [88.0, 87.0, 88.5]}
    t = paired_table(res)
    assert t.loc[0, "p (paired t)"] < 0.05          # what the old verdict called significant ...
    assert not t.loc[0, "significant"]              # ... and this edition does not
    v = verdict(t, what="decay helps", min_effect=M, full="decay is not ahead")
    assert v.startswith("3 paired seeds cannot decide whether decay helps (a verdict needs at least 5")
    assert v.endswith("the recorded `full` run found: decay is not ahead") and "ahead of" not in v
    assert verdict(t, what="decay helps", min_effect=M).endswith("no `full` run of this comparison is recorded")
    assert "too few seeds (3)" in C.paired_display(t).to_html()
    # five seeds of the same kind are decided
    five = {"decay": [88.11, 87.13, 88.59, 86.1, 87.62], "plain": [88.0, 87.0, 88.5, 86.0, 87.5]}
    assert paired_table(five).loc[0, "significant"]


def test_sign_flip_test_is_exact_and_floored_by_the_number_of_pairs():
    assert C.sign_flip_p([0.11, 0.13, 0.09]) == 0.25     # 3 pairs: 2 of the 8 patterns are as extreme
    assert C.sign_flip_p([0.3, 0.2, 0.1, 0.4, 0.5]) == 2 / 32
    assert C.sign_flip_p([1.0] * 6) == pytest.approx(2 / 64)
    rng = np.random.default_rng(3)
    for n in (3, 4, 7):
        d = rng.normal(0.2, 1.0, n)
        brute = np.mean([abs(np.mean(np.array(s) * d)) >= abs(d.mean()) - 1e-12
                         for s in itertools.product([-1, 1], repeat=n)])
        assert C.sign_flip_p(d) == pytest.approx(brute)
    assert C.sign_flip_p([0.0, 0.0, 0.0]) == 1.0
    with pytest.raises(ValueError, match="at least one finite"):
        C.sign_flip_p([])
    t = paired_table({"a": [1.0, 2.0, 3.5], "b": [0.9, 1.8, 3.4]})
    assert t.loc[0, "p (sign-flip)"] == 0.25


def test_intervals_have_bonferroni_width():
    rng = np.random.default_rng(4)
    shared = rng.normal(0, 0.5, 6)
    res = {k: list(88 + d + shared + rng.normal(0, .2, 6)) for k, d in (("a", 0.0), ("b", 0.3), ("c", 0.6))}
    pairs = [("b", "a"), ("c", "a"), ("c", "b")]
    t = paired_table(res, pairs)
    for (x, y), (_, r) in zip(pairs, t.iterrows()):
        d = np.array(res[x]) - np.array(res[y])
        lo, hi = st.t.interval(1 - 0.05 / 3, df=5, loc=d.mean(), scale=st.sem(d))  # level 1 - alpha/k
        assert (r["CI low"], r["CI high"]) == (pytest.approx(lo), pytest.approx(hi))
        assert r["level"] == pytest.approx(1 - 0.05 / 3)
    one = paired_table(res, [("c", "a")]).iloc[0]  # a family of one: the ordinary 95 % t-interval
    d = np.array(res["c"]) - np.array(res["a"])
    assert one["CI low"] == pytest.approx(st.t.interval(0.95, df=5, loc=d.mean(), scale=st.sem(d))[0])
    assert "joint 95 % interval (pp)" in C.paired_display(t).to_html()
    single = C.paired_display(paired_table(res, [("c", "a")])).to_html()
    assert "joint" not in single and "Holm" not in single and "95 % interval (pp)" in single, single
    # p prints as the sentence prints it: below 0.001 as "< 0.001", never a rounded "0.001" or "0.000"
    tiny = t.copy()
    tiny["p (Holm)"] = [0.0004, 0.0009, 0.012][: len(tiny)]
    html = C.paired_display(tiny).to_html()
    assert html.count("&lt; 0.001") == min(2, len(tiny)) and ">0.001<" not in html and "0.000" not in html, html


def test_detectable_difference_is_at_holms_level_and_has_the_stated_power():
    sd, n, k, power = 0.4, 5, 3, 0.8
    det = C.detectable_difference(sd, n, 0.05 / k, power)
    try:  # an independent computation: statsmodels' power of the one-sample t-test ...
        from statsmodels.stats.power import TTestPower
        es = TTestPower().solve_power(nobs=n, alpha=0.05 / k, power=power, alternative="two-sided")
        assert det == pytest.approx(es * sd, rel=1e-3)
    except ImportError:  # ... or a simulation: paired t-tests on differences whose true mean is `det`
        rng = np.random.default_rng(0)
        d = rng.normal(det, sd, size=(40_000, n))
        p = st.ttest_1samp(d, 0.0, axis=1).pvalue
        assert np.mean(p < 0.05 / k) == pytest.approx(power, abs=0.012)  # 4 standard errors of 40,000 draws
    # the table's column is this, at Holm's first level alpha/k, from the observed spread of the differences
    rng = np.random.default_rng(5)
    res = {c: list(88 + rng.normal(0, .3, n)) for c in "abc"}
    t = paired_table(res)
    for _, r in t.iterrows():
        assert r["detectable (pp)"] == pytest.approx(C.detectable_difference(r["sd (pp)"], n, 0.05 / 3))
        assert r["detectable (pp)"] > C.detectable_difference(r["sd (pp)"], n, 0.05)  # stricter than uncorrected
    assert C.detectable_difference(0.0, 5, 0.05) == 0.0 and math.isnan(C.detectable_difference(1.0, 1, 0.05))


def test_detectable_difference_shrinks_with_more_seeds():
    small = paired_table(_family(0.0, noise=0.2, n=3))["detectable (pp)"].iloc[0]
    large = paired_table(_family(0.0, noise=0.2, n=30))["detectable (pp)"].iloc[0]
    assert large < small


def test_verdict_keeps_significant_apart_from_large_enough_to_matter():
    t = paired_table(_family(shift_b=-0.2))     # a real but small difference
    assert t.loc[0, "significant"]
    small = verdict(t, what="they differ", min_effect=0.5)
    assert "significant but below the minimum effect of 0.50 points" in small
    assert "significant and larger than the minimum effect of 0.10 points" in verdict(t, what="x", min_effect=0.1)
    assert "yes, &lt; 0.5" in C.paired_display(t, min_effect=0.5).to_html()
    # the mean's side of the minimum effect is qualified where the interval crosses it
    d = t.loc[0, "A − B (pp)"]
    lo, hi = (t.loc[0, "CI low"], t.loc[0, "CI high"]) if d > 0 else (-t.loc[0, "CI high"], -t.loc[0, "CI low"])
    assert 0 < lo < abs(d) < hi                                                    # the winner's advantage
    near = verdict(t, what="x", min_effect=(lo + abs(t.loc[0, "A − B (pp)"])) / 2)  # between lo and the mean
    assert "larger than the minimum effect" in near and "on average only: its interval reaches below it (" in near
    above = verdict(t, what="x", min_effect=(hi + abs(t.loc[0, "A − B (pp)"])) / 2)  # between the mean and hi
    assert "significant but below" in above and "on average, though its interval reaches it" in above
    assert "on average" not in small and hi < 0.5                                  # the whole interval below 0.5
    for bad in (0, -1, "0.5", None, True):
        with pytest.raises(ValueError, match="min_effect must be a positive number"):
            verdict(t, what="x", min_effect=bad)
    with pytest.raises(TypeError):
        verdict(t, what="x")  # every use states its minimum effect


def test_a_verdict_of_no_difference_says_whether_one_that_matters_could_be_missed():
    noisy = verdict(paired_table(_family(0.0, noise=0.5)), what="x", min_effect=0.2)
    quiet = verdict(paired_table(_family(0.0, noise=0.02)), what="x", min_effect=0.2)
    assert "estimated from the observed spread" in noisy and "could have been missed" in noisy
    assert "could have been missed" not in quiet and "is ruled out" in quiet   # its interval lies within +-0.2


def test_a_null_whose_interval_lies_within_the_minimum_effect_rules_a_difference_that_matters_out():
    # A tight family: every joint interval lies well inside +-0.5, so the data exclude a difference that matters.
    t = paired_table(_family(0.0, noise=0.1, n=8, seed=1))             # interval about -0.08 to +0.07
    assert not t["significant"].any() and (t["CI high"] < 0.5).all() and (t["CI low"] > -0.5).all()
    v = verdict(t, what="x", min_effect=0.5)
    assert "lies within ±0.50 points" in v and "a difference that matters is ruled out" in v, v
    assert "could have been missed" not in v and "probably have been seen" not in v
    assert "no, within ±0.5" in C.paired_display(t, min_effect=0.5).to_html()
    # The same family against a minimum effect its intervals reach is not ruled out.
    assert "ruled out" not in verdict(t, what="x", min_effect=0.01)
    # Muon's case: the detectable difference (0.10) exceeds the minimum effect, the interval does not: ruled out.
    assert t.loc[0, "detectable (pp)"] > 0.09 and "is ruled out" in verdict(t, what="x", min_effect=0.09)
    # The three readings, at their boundaries: the interval must lie strictly inside +-m.
    # a family that holds only some of its k pairs (an older record) cannot rule the missing ones out
    part = t.copy()
    part["k"] = 3
    assert "ruled out" not in verdict(part, what="x", min_effect=0.5)
    assert C.null_reading(-0.38, 0.38, 0.55, 0.5) == "ruled out"      # muon's full run: det > m, interval inside
    assert C.null_reading(-0.5, 0.3, 0.4, 0.5) == "seen"
    assert C.null_reading(-0.6, 0.3, 0.7, 0.5) == "missed"
    assert C.null_reading(float("nan"), 0.1, 0.1, 0.5) == "missed"
    with pytest.raises(ValueError, match="min_effect"):
        C.null_reading(-0.1, 0.1, 0.1, 0)


def _row(diff, lo, hi, det, sig=False, n=5, p=0.6):
    t = pd.DataFrame([{"A": "SELU", "B": "SiLU + BN", "n": n, "k": 3, "A − B (pp)": diff, "CI low": lo, "CI high": hi,
                       "p (Holm)": p, "significant": sig, "detectable (pp)": det}])
    t.attrs["min_seeds"] = 5
    return t


def test_row_sentences_read_a_null_row_as_the_display_does():
    """The capstone's speed row (s6 review, finding 2): +0.20 epochs, joint interval -0.59 to +0.99, detectable 1.02,
    minimum effect 1 epoch. The display says "no, within ±1" (the interval rules a difference of 1 epoch out); the
    page's own re-implementation, reading only the detectable size, said "one could have been missed"."""
    t = _row(0.20, -0.59, 0.99, 1.02)
    (said,) = C.row_sentences(t, min_effect=1, unit="epochs", digits=1)
    assert "within ±1 epoch" in said and "ruled out" in said and "could have been missed" not in said, said
    assert said.startswith("SELU against SiLU + BN, +0.2 epochs (joint interval -0.6 to +1.0, Holm p = 0.600;")
    assert "no, within ±1" in C.paired_display(t, min_effect=1).to_html()
    # the same spread with an interval that reaches the minimum effect: missed / seen by the detectable size
    assert "could have been missed" in C.row_sentences(_row(0.5, -0.3, 1.3, 1.2), min_effect=1, unit="epochs")[0]
    assert "would probably have been seen" in C.row_sentences(_row(0.5, -0.3, 1.3, 0.8), min_effect=1,
                                                              unit="epochs")[0]
    sig = C.row_sentences(_row(-2.0, -3.0, -1.0, 0.8, sig=True, p=0.001), min_effect=1, unit="epochs")[0]
    assert "significant and at least the minimum effect of 1 epoch" in sig and "Holm p = 0.001" in sig
    assert "too few seeds (3)" in C.row_sentences(_row(0.1, -1, 1, 1, n=3), min_effect=0.5)[0]
    assert "on average only" not in sig
    # (s6 r3, capstone) a mean beyond the minimum effect whose joint interval reaches below it: on average only
    for row in (_row(-2.0, -4.17, 0.17, 0.8, sig=True, p=0.01), _row(1.5, 0.4, 2.6, 0.8, sig=True, p=0.01)):
        said = C.row_sentences(row, min_effect=1, unit="epochs")[0]
        assert "at least the minimum effect of 1 epoch on average only: its joint interval reaches below it" in said


@pytest.mark.parametrize("noise,shift,m", [(0.05, 0.0, 0.5), (0.5, 0.0, 0.2), (0.3, 0.1, 0.4), (0.02, 0.3, 0.2),
                                           (0.2, 0.0, 0.3), (1.0, 0.5, 0.5)])
def test_row_sentences_and_the_display_agree_row_by_row(noise, shift, m):
    t = paired_table({**_family(shift, noise=noise), "C": _family(shift / 2, noise=noise, seed=3)["B"]})
    shown = C.paired_display(t, min_effect=m).data["significant"].tolist()
    for said, col in zip(C.row_sentences(t, min_effect=m), shown):
        assert ("ruled out" in said) == (col == f"no, within ±{m:g}"), (said, col)
        assert ("; not significant" in said) == col.startswith("no"), (said, col)


def test_a_single_comparison_is_not_called_the_largest_and_zero_has_no_sign():
    rng = np.random.default_rng(3)
    shared = rng.normal(0, 0.3, 6)
    res = {"a": list(88 + shared + rng.normal(0, .2, 6)), "b": list(88 + shared + rng.normal(0, .2, 6))}
    t = paired_table(res, pairs=[("a", "b")])
    t.loc[0, "A − B (pp)"] = 0.001                                     # rounds to zero at two decimals
    v = verdict(t, what="x", min_effect=0.5)
    assert "largest" not in v and "+0.00" not in v and "-0.00" not in v and "= 0.00 points" in v, v
    few = verdict(paired_table({k: x[:3] for k, x in res.items()}, pairs=[("a", "b")]), what="x", min_effect=0.5)
    assert "cannot decide" in few and "the difference here, a − b" in few and "largest" not in few, few


def test_verdict_names_each_significant_pair_and_counts_the_rest():
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 0.3, 5)
    res = {"c": list(88 + shared + rng.normal(0, .05, 5)), "x": list(88.6 + shared + rng.normal(0, .05, 5)),
           "y": list(88.02 + shared + rng.normal(0, .05, 5))}
    t = paired_table(res, [("x", "c"), ("y", "c")])
    v = verdict(t, what="they beat c", min_effect=M)
    assert v.startswith("after Holm's correction for 2 comparisons over 5 paired seeds, x is ahead of c")
    assert v.endswith("the other difference is not significant")
    assert list(t["significant"]) == [True, False]
    with pytest.raises(ValueError, match="several Holm families"):
        verdict(pd.concat([t, paired_table(res, [("x", "y")])], ignore_index=True), what="x", min_effect=M)


def test_a_loss_names_the_side_with_the_lower_value_as_better():
    rng = np.random.default_rng(2)
    shared = rng.normal(0, 0.03, 5)
    nll = {"mc": list(0.43 + shared + rng.normal(0, .002, 5)), "ts": list(0.45 + shared + rng.normal(0, .002, 5))}
    for pair in ([("mc", "ts")], [("ts", "mc")]):  # the same finding whichever way the pair is written
        v = verdict(paired_table(nll, pair), what="mc beats ts", min_effect=0.01, unit="nats", lower_is_better=True,
                    digits=3)
        assert "mc is better than ts by 0.0" in v and "nats (lower is better)" in v and "ts is better" not in v, v
        lo, hi = (float(x) for x in re.search(r"advantage (\S+) to (\S+),", v).groups())
        assert 0 < lo < 0.02 < hi, v  # the interval of mc's advantage, positive
    assert "ts is ahead of mc" in verdict(paired_table(nll, [("mc", "ts")]), what="x", min_effect=0.01)


def test_paired_table_refuses_unpaired_input():
    with pytest.raises(ValueError, match="same seeds"):
        paired_table({"A": [1.0, 2.0], "B": [1.0]})
    with pytest.raises(KeyError, match="no results for 'C'"):
        paired_table({"A": [1.0], "B": [1.0]}, [("A", "C")])
    with pytest.raises(TypeError, match="TrainResults or of numbers"):
        paired_table({"A": ["x"], "B": [1.0]})
    with pytest.raises(TypeError, match="paired_table"):
        verdict({"A": 1}, what="x", min_effect=M)
    with pytest.raises(ValueError, match="min_seeds"):
        paired_table({"A": [1.0], "B": [1.0]}, min_seeds=1)


def test_pairing_table_against_scipy_and_the_variance_identity():
    """pairing_table: the correlation is scipy's Pearson r; the paired sd obeys
    var(A − B) = var A + var B − 2 rho sd_A sd_B; pairing removes noise for rho > 0 and costs it for rho < 0."""
    rng = np.random.default_rng(0)
    base = rng.normal(85, 1.0, size=7)
    runs = {"A": base + rng.normal(0, 0.2, 7), "B": base + 0.3 + rng.normal(0, 0.2, 7),
            "C": 170 - base + rng.normal(0, 0.2, 7), "D": rng.normal(85, 1.0, 7)}
    t = C.pairing_table(runs, [("A", "B"), ("A", "C"), ("A", "D")], unit="pp")
    assert list(t.index) == ["A − B", "A − C", "A − D"]
    for (a, b), row in zip([("A", "B"), ("A", "C"), ("A", "D")], t.itertuples()):
        xa, xb = runs[a], runs[b]
        rho = st.pearsonr(xa, xb)[0]
        assert row[1] == pytest.approx(rho, rel=1e-12)
        va, vb = xa.var(ddof=1), xb.var(ddof=1)
        assert row[2] ** 2 == pytest.approx(va + vb - 2 * rho * np.sqrt(va * vb), rel=1e-9)
        assert row[3] == pytest.approx(np.sqrt(va + vb), rel=1e-12)
        assert row[4] == pytest.approx(100 * (1 - row[2] / row[3]), rel=1e-12)
    assert t.loc["A − B", "noise removed (%)"] > 50 and t.loc["A − C", "noise removed (%)"] < -30
    # too few seeds, or a side that never varies: no correlation to report
    assert math.isnan(C.pairing_table({"A": [1.0, 2.0], "B": [1.5, 2.5]}).iloc[0, 0])
    assert math.isnan(C.pairing_table({"A": [1.0, 2.0, 3.0], "B": [1.0, 1.0, 1.0]}).iloc[0, 0])
    with pytest.raises(ValueError, match="same seeds"):
        C.pairing_table({"A": [1.0, 2.0, 3.0], "B": [1.0, 2.0]})


def test_paired_table_checks_the_seeds_of_train_results():
    from course_utils.train import TrainResult
    mk = lambda seed, acc: TrainResult(train_acc=[], val_acc=[], train_loss=[], val_loss=[],  # noqa: E731
                                       lr=[], seconds=0.0, device="cpu", test_acc=acc, seed=seed)
    t = paired_table({"A": [mk(0, .88), mk(1, .89)], "B": [mk(0, .87), mk(1, .88)]})
    assert t.loc[0, "A − B (pp)"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="different seeds"):
        paired_table({"A": [mk(0, .88), mk(1, .89)], "B": [mk(1, .87), mk(0, .88)]})


def test_paired_display_is_narrow_and_never_prints_negative_zero():
    runs = {"A": [90.0, 91.0, 92.0, 93.0], "B": [90.0, 91.004, 91.996, 93.0]}
    sty = C.paired_display(C.paired_table(runs))
    html = sty.to_html()
    assert "interval (pp)" in html and "p (paired t)" not in html and "-0.00" not in html
    nats = C.paired_display(C.paired_table(runs), unit="nats", digits=3).to_html()
    assert "A − B (nats)" in nats and "detectable (nats)" in nats and "(pp)" not in nats
    with pytest.raises(ValueError, match="paired_table"):
        C.paired_display(pd.DataFrame({"A": ["x"]}))


# ----------------------------------------------------------------------------- the recorded `full` run
OLD_SIG = ("after Holm's correction for 3 comparisons over 5 paired seeds, Adam is ahead of SGD+momentum by 0.30 "
           "points (95 % interval of the paired difference 0.17 to 0.43, Holm p = 0.009); the other 2 differences "
           "are not significant")
OLD_NONE = ("after Holm's correction for 3 comparisons over 5 paired seeds, none of the 3 differences is significant "
            "(largest: AdamW, biases exempt − Adam = +0.27 points, uncorrected interval -0.44 to +0.98); with this "
            "spread between seeds only differences of about 0.95 points or more would have been detected reliably")


def _record(glued):
    return {"budget": "full", "chapters": {"p.md": {"passed": True, "glued": glued}}}


def test_an_old_recorded_verdict_is_rejudged_with_this_editions_rules():
    t = C.recorded_family("p.md", "v", record=_record({"v": repr(OLD_SIG)}))
    assert t.attrs["partial"] and len(t) == 1 and t.loc[0, "significant"]
    se = (0.43 - 0.17) / 2 / st.t.ppf(0.975, 4)                # the spread, from the recorded 95 % interval
    assert t.loc[0, "CI high"] - 0.30 == pytest.approx(st.t.ppf(1 - 0.05 / 6, 4) * se)  # joint width
    v = C.recorded_verdict("p.md", "v", record=_record({"v": repr(OLD_SIG)}), what="x", min_effect=0.5)
    assert "significant but below the minimum effect of 0.50 points" in v and v.endswith("are not significant")
    none = C.recorded_verdict("p.md", "v", record=_record({"v": OLD_NONE}), what="x", min_effect=0.5)
    # the old 0.95 was (t_0.975 + t_0.8) * sd / sqrt(5); at Holm's level 0.05/3, exactly:
    sd = 0.95 * 5 ** 0.5 / (st.t.ppf(0.975, 4) + st.t.ppf(0.8, 4))
    assert f"about {C.detectable_difference(sd, 5, 0.05 / 3):.2f} points" in none and "could have been missed" in none
    assert C.recorded_verdict("p.md", "other", record=_record({}), what="x", min_effect=0.5) is None
    with pytest.raises(ValueError, match="not a verdict sentence"):
        C.recorded_family("p.md", "v", record=_record({"v": "three seeds"}))


def test_a_family_glued_with_its_seeds_is_retested_exactly():
    t = paired_table(_family(shift_b=-0.7, n=5))
    rec = _record({"v": "ignored when the seeds are there", "v_seeds": repr(C.family_record(t))})
    back = C.recorded_family("p.md", "v", record=rec)
    assert "partial" not in back.attrs
    np.testing.assert_allclose(back["CI low"], t["CI low"], atol=1e-3)
    assert verdict(back, what="x", min_effect=M)[:60] == verdict(t, what="x", min_effect=M)[:60]


# ----------------------------------------------------------------------------- grid search with widening
def _bowl(lam_star, eta_star, calls=None):
    """A score peaked at (lam_star, eta_star) on log scales; records the points it is asked for."""
    def score(lam, eta):
        if calls is not None:
            calls.append((lam, eta))
        return -(np.log10(lam / lam_star)) ** 2 - (np.log10(eta / eta_star)) ** 2
    return score


def test_grid_search_keeps_an_interior_best_and_scores_each_point_once():
    calls = []
    t = C.grid_search(_bowl(1e-4, 1e-3, calls), {"lam": [1e-5, 1e-4, 1e-3], "eta": [3e-4, 1e-3, 3e-3]})
    assert len(t) == 9 and len(calls) == 9 and (t["round"] == 0).all()
    assert t.attrs["best"] == {"lam": 1e-4, "eta": 1e-3} and t.attrs["at_edge"] == [] and t.attrs["widened"] == {}


def test_grid_search_widens_the_axis_whose_best_sits_at_an_edge_until_it_is_inside():
    calls = []
    t = C.grid_search(_bowl(1e-2, 1e-3, calls), {"lam": [1e-5, 1e-4, 1e-3], "eta": [3e-4, 1e-3, 3e-3]})
    # 1e-3 is the upper edge: 1e-2 is added (3 new points), and 1e-2 is then the upper edge: 1e-1 (3 more)
    assert np.allclose(t.attrs["widened"]["lam"], [1e-2, 1e-1]) and "eta" not in t.attrs["widened"]
    assert len(t) == 15 and len(calls) == len(set(calls)) == 15
    assert np.isclose(t.attrs["best"]["lam"], 1e-2) and t.attrs["at_edge"] == []
    assert sorted(t["round"].unique()) == [0, 1, 2]


def test_grid_search_stops_after_widen_rounds_and_names_the_edge_it_could_not_leave():
    t = C.grid_search(_bowl(1e-8, 1e-3), {"lam": [1e-5, 1e-4, 1e-3], "eta": [1e-3]}, widen=2)
    assert np.allclose(t.attrs["widened"]["lam"], [1e-6, 1e-7]) and t.attrs["at_edge"] == ["lam"]
    assert C.grid_search(_bowl(1e-8, 1e-3), {"lam": [1e-5, 1e-4], "eta": [1e-3]}, widen=0).attrs["at_edge"] == ["lam"]


def test_grid_search_never_widens_a_single_value_or_past_zero_and_skips_nan():
    t = C.grid_search(lambda lam, eta: -eta, {"lam": [0.0], "eta": [1e-3, 1e-2]})  # best eta at the low edge
    assert t.attrs["widened"] == {"eta": [1e-4, 1e-5]} and "lam" not in t.attrs["at_edge"]
    t = C.grid_search(lambda lam: -lam, {"lam": [0.0, 1e-4]})  # 0 is an edge with no geometric step
    assert t.attrs["widened"] == {} and t.attrs["best"] == {"lam": 0.0}
    t = C.grid_search(lambda eta: np.nan if eta > 1e-2 else eta, {"eta": [1e-3, 1e-2, 1e-1]})
    assert t.attrs["best"] == {"eta": 1e-2} and t.attrs["widened"] == {}  # a diverged 1e-1 never wins
    with pytest.raises(ValueError, match="NaN"):
        C.grid_search(lambda eta: np.nan, {"eta": [1e-3, 1e-2]})
    with pytest.raises(ValueError, match="no values"):
        C.grid_search(lambda eta: 0.0, {"eta": []})


def test_the_statistics_have_one_home():
    """`significance` holds the rule for "A beats B"; `compare` re-exports it (pages read `compare.verdict`)."""
    from course_utils import compare, significance

    for name in significance.__all__:
        assert getattr(compare, name) is getattr(significance, name), name
        obj = getattr(significance, name)
        assert not callable(obj) or obj.__module__ == "course_utils.significance", name
    assert set(significance.__all__) <= set(compare.__all__)
    assert not any(n in vars(compare) for n in ("_family_table", "_OLD_HEAD"))  # no second copy left in compare
