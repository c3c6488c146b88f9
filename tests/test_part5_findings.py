"""Part V findings of issue #27: temperature scaling and mutual information (stats), the crossed
model A × sample analysis of transfer learning (transfer), and the device/torch of the budget record
(provenance). Each test has a case that a wrong implementation fails."""
import numpy as np
import pandas as pd
import pytest
import torch

from course_utils import provenance, stats, transfer


# ----------------------------------------------------------------------------- temperature scaling
@pytest.mark.parametrize("true_t", [0.7, 1.0, 2.5])
def test_fit_temperature_recovers_the_temperature_that_generated_the_labels(true_t):
    rng = np.random.default_rng(0)
    z = 3 * rng.normal(size=(20_000, 10))
    p = stats.softmax_t(z, true_t)
    y = (p.cumsum(1) > rng.random((len(z), 1))).argmax(1)  # labels drawn from softmax(z / T)
    t = stats.fit_temperature(z, y)
    assert abs(np.log(t / true_t)) < 0.05, (t, true_t)


def test_fit_temperature_is_the_minimum_and_keeps_the_argmax():
    rng = np.random.default_rng(1)
    z = 4 * rng.normal(size=(500, 5))
    y = (z + 4 * rng.normal(size=z.shape)).argmax(1)  # informative but noisy labels: 1 < T < 20
    t = stats.fit_temperature(z, y)
    nll = lambda tt: stats.nll(stats.softmax_t(z, tt), y)  # noqa: E731
    assert nll(t) <= min(nll(t * 1.02), nll(t / 1.02), nll(1.0)) + 1e-12
    assert (stats.softmax_t(z, t).argmax(1) == z.argmax(1)).all()
    assert torch.allclose(torch.as_tensor(stats.softmax_t(z, 2.0)), torch.softmax(torch.as_tensor(z) / 2, -1))


@pytest.mark.parametrize("bad", [dict(logits=np.zeros((3, 1)), y=np.zeros(3, int)),
                                 dict(logits=np.zeros((3, 4)), y=np.zeros(2, int)),
                                 dict(logits=np.full((2, 3), np.nan), y=np.zeros(2, int)),
                                 dict(logits=np.zeros((2, 3)), y=np.array([0, 3]))])
def test_fit_temperature_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="fit_temperature"):
        stats.fit_temperature(**bad)
    with pytest.raises(ValueError, match="positive"):
        stats.softmax_t(np.zeros((2, 3)), 0.0)


# ----------------------------------------------------------------------------- mutual information
def test_mutual_information_is_zero_for_agreeing_passes_and_log2_for_opposite_certain_ones():
    p = torch.softmax(torch.randn(7, 4), -1)
    assert np.allclose(stats.mutual_information(p.expand(5, 7, 4)), 0, atol=1e-12)
    two = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # two certain passes that disagree: I = H = ln 2
    assert np.isclose(stats.mutual_information(two)[0], np.log(2))


def test_mutual_information_is_at_most_the_entropy_of_the_mean():
    s = torch.softmax(3 * torch.randn(20, 50, 10, generator=torch.Generator().manual_seed(0)), -1)
    m = s.double().mean(0)
    h = -(m * m.log()).sum(-1).numpy()
    mi = stats.mutual_information(s)
    assert (mi >= 0).all() and (mi <= h + 1e-9).all() and mi.max() > 0.1


def test_mutual_information_rejects_one_pass_and_logits():
    with pytest.raises(ValueError, match="at least 2"):
        stats.mutual_information(torch.softmax(torch.randn(1, 3, 4), -1))
    with pytest.raises(ValueError, match="probabilities"):
        stats.mutual_information(torch.randn(3, 3, 4))


# ----------------------------------------------------------------------------- scoring several predictors
def test_score_predictions_agrees_with_the_single_scores_and_takes_an_uncertainty():
    rng = np.random.default_rng(3)
    z = 3 * rng.normal(size=(400, 5))
    y = (z + 3 * rng.normal(size=z.shape)).argmax(1)
    p, q = stats.softmax_t(z, 1.0), stats.softmax_t(z, 2.0)
    u = rng.random(400)
    s = stats.score_predictions({"p": p, "q": q}, y, uncertainty={"q": u})
    assert s["p"]["NLL (nats)"] == stats.nll(p, y) and s["q"]["ECE (%)"] == 100 * stats.expected_calibration_error(q, y)
    assert s["p"]["accuracy (%)"] == s["q"]["accuracy (%)"] == 100 * np.mean(z.argmax(1) == y)
    assert s["p"]["AUROC"] == stats.auroc(stats.entropy(p), p.argmax(1) != y)
    assert s["q"]["AUROC"] == stats.auroc(u, q.argmax(1) != y)  # the given uncertainty, not the entropy


def test_entropy_and_log_probs():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert np.allclose(stats.entropy(p), [0.0, np.log(2)])
    lp = stats.log_probs(p)
    assert np.isfinite(lp).all() and np.allclose(stats.softmax_t(lp, 1.0), p)
    # temperature scaling of an averaged prediction through its log-probabilities keeps the argmax
    q = stats.softmax_t(np.random.default_rng(0).normal(size=(50, 4)), 1.0)
    assert (stats.softmax_t(stats.log_probs(q), 1.7).argmax(1) == q.argmax(1)).all()
    with pytest.raises(ValueError, match="log_probs"):
        stats.log_probs(np.array([[2.0, -1.0]]))


def test_temperature_scaled_matches_fitting_the_logits_and_predict_probs_restores_the_mode():
    rng = np.random.default_rng(4)
    z_val, z_test = 4 * rng.normal(size=(3000, 6)), 4 * rng.normal(size=(500, 6))
    y_val = (z_val / 2.5 + rng.gumbel(size=z_val.shape)).argmax(1)  # labels from softmax(z / 2.5)
    p, t = stats.temperature_scaled(stats.softmax_t(z_val, 1.0), y_val, stats.softmax_t(z_test, 1.0))
    assert np.isclose(t, stats.fit_temperature(z_val, y_val), rtol=1e-5) and abs(np.log(t / 2.5)) < 0.1
    assert np.allclose(p, stats.softmax_t(z_test, t), atol=1e-9) and (p.argmax(1) == z_test.argmax(1)).all()
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 2)).train()
    x = torch.randn(10, 3)
    probs = stats.predict_probs(net, x, batch_size=3)
    assert net.training and probs.shape == (10, 2) and probs.dtype == np.float64
    assert np.allclose(probs, stats.predict_probs(net, x))  # dropout off: the same every time
    assert np.allclose(probs, torch.softmax(net.eval()(x), -1).detach().numpy(), atol=1e-6)


# ----------------------------------------------------------------------------- transfer: crossed design
def _crossed(a, s, sd_a, sd_s, sd_e, seed, mu=0.01):
    rng = np.random.default_rng(seed)
    alpha, beta = rng.normal(0, sd_a, a), rng.normal(0, sd_s, s)
    scratch = 0.9 + rng.normal(0, 0.02, s)  # depends on the sample only, as in the book
    rows = [{"model_a_seed": i, "seed": j, "scratch": scratch[j],
             "unfrozen": scratch[j] + mu + alpha[i] + beta[j] + rng.normal(0, sd_e)} for i in range(a) for j in range(s)]
    return pd.DataFrame(rows)


def test_summarize_crossed_recovers_components_and_has_the_identity():
    df = _crossed(40, 60, 0.01, 0.02, 0.015, seed=0)
    c = transfer.summarize_crossed(df)
    assert abs(np.sqrt(c["var_model_a"]) - 0.01) < 0.004
    assert abs(np.sqrt(c["var_sample"]) - 0.02) < 0.005
    assert abs(np.sqrt(c["var_interaction"]) - 0.015) < 0.002
    a, s = c["n_models"], c["n_samples"]
    assert np.isclose(c["se"] ** 2, c["var_model_a"] / a + c["var_sample"] / s + c["var_interaction"] / (a * s))


def test_summarize_crossed_interval_covers_the_mean_where_the_naive_one_does_not():
    """Over repeated experiments (3 model A's x 30 samples, as the cpu page) the two-way 95 % interval covers
    the true effect about 95 % of the time; treating the runs as independent covers it far less often."""
    hit_cx = hit_naive = 0
    n = 300
    for k in range(n):
        c = transfer.summarize_crossed(_crossed(3, 30, 0.006, 0.017, 0.014, seed=k))
        hit_cx += c["diff_lo"] <= 0.01 <= c["diff_hi"]
        hit_naive += c["naive_lo"] <= 0.01 <= c["naive_hi"]
    assert hit_cx / n > 0.88, hit_cx / n
    assert hit_naive / n < 0.85, hit_naive / n


def test_summarize_crossed_rejects_designs_that_are_not_crossed():
    df = _crossed(3, 5, 0.01, 0.01, 0.01, seed=0)
    with pytest.raises(ValueError, match="not crossed"):
        transfer.summarize_crossed(df[~((df.model_a_seed == 0) & (df.seed == 4))])
    with pytest.raises(ValueError, match="at least 2"):
        transfer.summarize_crossed(df[df.model_a_seed == 0])
    with pytest.raises(ValueError, match="once"):
        transfer.summarize_crossed(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(ValueError, match="column"):
        transfer.summarize_crossed(df, method="lowest")


def test_per_sample_counts_scratch_once_and_refuses_a_column_that_uses_model_a():
    df = _crossed(3, 5, 0.01, 0.01, 0.01, seed=0)
    once = transfer.per_sample(df, "scratch")
    assert len(once) == 5 and np.allclose(once.to_numpy(), df[df.model_a_seed == 0].scratch.to_numpy())
    with pytest.raises(ValueError, match="depends on model A"):
        transfer.per_sample(df, "unfrozen")


# ----------------------------------------------------------------------------- the record's device and torch
def _record(**extra):
    return {"budget": "full", "chapters": {"book/x.md": {"passed": True, "commit": "abc1234567", "finished":
                                                         "2026-01-01 00:00:00", "glued": {"v": "1.5"}, **extra}}}


def test_record_environment_names_device_and_torch():
    env = provenance.record_environment("cpu")
    assert env["torch"] == torch.__version__ and env["device"].endswith("(cpu)") and env["python"]


def test_at_other_budget_shows_the_stored_device_or_says_it_is_missing():
    old = provenance.at_other_budget("book/x.md", lambda v: f"v = {v('v'):.1f}.", record=_record(), current="cpu")
    assert "device and torch version not stored" in old.body
    new = provenance.at_other_budget("book/x.md", lambda v: f"v = {v('v'):.1f}.", current="cpu",
                                     record=_record(device="NVIDIA H100 (cuda)", torch="2.14.1"))
    assert "NVIDIA H100 (cuda), torch 2.14.1" in new.body and "not stored" not in new.body
    assert provenance.recorded_environment(_record(), "book/x.md") == {"device": None, "torch": None}
    with pytest.raises(KeyError, match="not in the recorded"):
        provenance.recorded_environment(_record(), "book/y.md")


def test_budget_export_carries_device_and_torch(monkeypatch):
    import importlib.util
    import pathlib
    import sys
    root = pathlib.Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "scripts"))
    spec = importlib.util.spec_from_file_location("run_budget", root / "scripts" / "run_budget.py")
    rb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rb)
    report = {"budget": "full", "chapters": {"book/intro.md": {
        "seconds": 1.0, "passed": True, "errors": [], "glued": {}, "commit": "x", "finished": "t",
        "device": "NVIDIA H100 (cuda)", "torch": "2.14.1"}}}
    out = rb.export(report)["chapters"]["book/intro.md"]
    assert out["device"] == "NVIDIA H100 (cuda)" and out["torch"] == "2.14.1"
