"""Tests of course_utils.transfer on a fake 10-class data set (no Fashion-MNIST needed)."""
import pytest
import torch

from course_utils import transfer as T


@pytest.fixture
def fake(fake_fmnist):
    return fake_fmnist


def test_other_classes():
    assert T.other_classes((0, 2)) == [1, 3, 4, 5, 6, 7, 8, 9]


def test_model_b_on_a_copies_layers_and_freezing_works():
    a = T.model_a(8, seed=0)
    b = T.model_b_on_a(a, 2, seed=0)
    assert b.layers[-1].out_features == 2 and len(b.layers) == len(a.layers) and b.config["num_classes"] == 2
    torch.testing.assert_close(b.linears[0].weight, a.linears[0].weight)
    assert b.linears[0].weight.data_ptr() != a.linears[0].weight.data_ptr()  # a copy, not shared
    T.freeze(b.layers[:-1])
    assert T.trainable_count(b) == 100 * 2 + 2
    T.unfreeze(b)
    assert T.trainable_count(b) == sum(p.numel() for p in b.parameters())


def test_fit_small_leaves_frozen_layers_unchanged_and_fits(fake):
    sub = fake.subset(classes=(0, 1))
    X, y = T.few_shot_sample(*sub.train, 5, seed=0)
    assert sorted(y.tolist()) == [0] * 5 + [1] * 5
    a = T.model_a(8, seed=0)
    b = T.model_b_on_a(a, 2, seed=0)
    T.freeze(b.layers[:-1])
    body = b.linears[0].weight.detach().clone()
    T.fit_small(b, X, y, steps=60, lr=1e-2)
    torch.testing.assert_close(b.linears[0].weight, body, rtol=0, atol=0)
    assert T.accuracy(b, X, y) == 1.0  # 10 points, 202 trainable parameters


def test_fit_small_errors(fake):
    b = T.freeze(T.model_a(2, seed=0))
    X, y = fake.train[0][:4], fake.train[1][:4] % 2
    with pytest.raises(ValueError, match="everything is frozen"):
        T.fit_small(b, X, y, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="n_per_class"):
        T.few_shot_sample(X, y, 0, seed=0)


def test_task_b_runs_is_cached_and_reproducible(fake, tmp_path):
    a = T.model_a(8, seed=0)
    sub = fake.subset(classes=(0, 2))
    proto = T.TransferProtocol(n_per_class=3, scratch_steps=5, frozen_steps=3, unfrozen_steps=2, probe_steps=7)
    df1 = T.task_b_runs(a, sub, seeds=range(3), protocol=proto, cache_dir=tmp_path)
    df2 = T.task_b_runs(a, sub, seeds=range(3), protocol=proto, cache_dir=tmp_path)
    assert list(df1.columns) == ["seed", "scratch", "frozen", "unfrozen", "lowest", "probe_ft"] and len(df1) == 3
    assert len(list(tmp_path.glob("*.json"))) == 1
    assert df1.equals(df2)
    df3 = T.task_b_runs(a, sub, seeds=range(3), protocol=proto, use_cache=False)
    assert (df1[["scratch", "frozen", "unfrozen"]].values == df3[["scratch", "frozen", "unfrozen"]].values).all()
    with pytest.raises(ValueError, match="unknown methods"):
        T.run_task_b(a, sub, seed=0, methods=("magic",))


def test_summarize_over_models_puts_the_interval_over_model_a_seeds():
    import pandas as pd
    from course_utils.transfer import summarize_over_models
    # two model A's: one helps by 5 points, one hurts by 1; each has 10 near-identical task-B seeds
    rows = [{"model_a_seed": a, "seed": s, "scratch": 0.80, "unfrozen": 0.80 + eff + 0.001 * (s % 2)}
            for a, eff in ((0, 0.05), (1, -0.01)) for s in range(10)]
    df = pd.DataFrame(rows)
    r = summarize_over_models(df)
    assert r["n_models"] == 2 and r["diff_mean"] == pytest.approx(0.0205, abs=1e-6)
    assert r["diff_lo"] < 0 < r["diff_hi"]            # over model A's: not distinguishable from zero
    assert r["naive_lo"] > 0                           # treating the 20 runs as independent: wrongly "sure"
    with pytest.raises(ValueError, match="at least two model A"):
        summarize_over_models(df[df.model_a_seed == 0])


def test_step_curve_at_a_checkpoint_is_the_run_task_b_makes_with_that_many_steps(fake, tmp_path):
    """The probe's (and scratch's) curve is the route of run_task_b, stopped at each checkpoint: at probe_steps
    it gives the 'frozen' column exactly, and at scratch_steps the 'scratch' column."""
    a = T.model_a(8, seed=0)
    sub = fake.subset(classes=(0, 2))
    proto = T.TransferProtocol(n_per_class=3, scratch_steps=6, frozen_steps=3, unfrozen_steps=2, probe_steps=9)
    runs = T.task_b_runs(a, sub, seeds=range(3), protocol=proto, use_cache=False)
    probe = T.step_curve(a, sub, seeds=range(3), checkpoints=[1, 3, 9], protocol=proto, cache_dir=tmp_path)
    assert list(probe.columns) == ["seed", "step", "train_loss", "train_acc", "test_acc"] and len(probe) == 9
    at = probe[probe.step == 9].set_index("seed")["test_acc"]
    assert (at.to_numpy() == runs.set_index("seed")["frozen"].to_numpy()).all()
    scratch = T.step_curve(a, sub, seeds=range(3), checkpoints=[6], method="scratch", protocol=proto, use_cache=False)
    assert (scratch["test_acc"].to_numpy() == runs["scratch"].to_numpy()).all()
    # the probe's training loss falls step by step on its convex problem (full batch, small steps)
    first, last = (probe[probe.step == k].set_index("seed")["train_loss"] for k in (1, 9))
    assert (last < first).all()
    again = T.step_curve(a, sub, seeds=range(3), checkpoints=[1, 3, 9], protocol=proto, cache_dir=tmp_path)
    assert again.equals(probe) and len(list(tmp_path.glob("*.json"))) == 1
    with pytest.raises(ValueError, match="one-phase"):
        T.step_curve(a, sub, seeds=[0], checkpoints=[1], method="unfrozen")


def test_probe_ft_fine_tunes_the_converged_probe(fake):
    """probe_ft starts from the probe that 'frozen' scores (probe_steps steps), so with no fine-tuning rate it
    is that probe; with one it moves the body."""
    a = T.model_a(8, seed=0)
    sub = fake.subset(classes=(0, 2))
    still = T.TransferProtocol(n_per_class=3, probe_steps=5, unfrozen_steps=3, lr_unfrozen=0.0)
    r = T.run_task_b(a, sub, seed=1, protocol=still, methods=("frozen", "probe_ft"))
    assert r["probe_ft"] == r["frozen"]
    moved = T.run_task_b(a, sub, seed=1, protocol=T.TransferProtocol(n_per_class=3, probe_steps=5, unfrozen_steps=3,
                                                                      lr_unfrozen=0.5), methods=("frozen", "probe_ft"))
    assert moved["frozen"] == r["frozen"] and set(moved) == {"frozen", "probe_ft"}
