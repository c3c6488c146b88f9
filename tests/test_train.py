import math

import pytest
import torch

from course_utils.models import MLP
from course_utils.train import TrainResult, run_seeds, train_model


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return MLP(act_fn="relu", input_size=8, hidden_sizes=(16,), num_classes=3)


def sgd(lr):
    return lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9)


def test_trains_and_keeps_best_epoch(tiny_data, cache):
    r = train_model(tiny_model(), sgd(0.1), tiny_data, epochs=5, batch_size=32, seed=0)
    assert isinstance(r, TrainResult) and not r.cached
    assert len(r.val_acc) == len(r.train_loss) == len(r.lr) == 5
    assert r.best_epoch == max(range(1, 6), key=lambda e: (r.val_acc[e - 1], -e))
    assert r.test_acc > 0.8  # linearly separable toy problem
    assert r.train_loss[-1] < r.train_loss[0]


def test_cache_hit_returns_same_result_and_weights(tiny_data, cache):
    m1 = tiny_model()
    r1 = train_model(m1, sgd(0.1), tiny_data, epochs=3, batch_size=32, seed=1)
    m2 = tiny_model()
    r2 = train_model(m2, sgd(0.1), tiny_data, epochs=3, batch_size=32, seed=1)
    assert r2.cached and r2.val_acc == r1.val_acc and r2.test_acc == r1.test_acc and r2.key == r1.key
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    assert len(list(cache.glob("runs/*.pt"))) == 1


@pytest.mark.parametrize("change", ["lr", "seed", "epochs", "init", "scheduler"])
def test_anything_that_matters_changes_the_key(tiny_data, cache, change):
    base = dict(epochs=2, batch_size=32, seed=0)
    r0 = train_model(tiny_model(), sgd(0.1), tiny_data, **base)
    kw, model, opt = dict(base), tiny_model(), sgd(0.1)
    if change == "lr":
        opt = sgd(0.05)
    elif change == "seed":
        kw["seed"] = 1
    elif change == "epochs":
        kw["epochs"] = 3
    elif change == "init":
        model = tiny_model(seed=5)
    elif change == "scheduler":
        kw["scheduler_fn"] = lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.5 ** e)
    r1 = train_model(model, opt, tiny_data, **kw)
    assert r1.key != r0.key and not r1.cached


def test_two_lambda_schedules_do_not_share_a_cache_entry(tiny_data, cache):
    a = train_model(tiny_model(), sgd(0.1), tiny_data, epochs=2, batch_size=32, seed=0,
                    scheduler_fn=lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.5 ** e))
    b = train_model(tiny_model(), sgd(0.1), tiny_data, epochs=2, batch_size=32, seed=0,
                    scheduler_fn=lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.9 ** e))
    assert a.key != b.key and a.lr != b.lr


def test_corrupt_cache_entry_is_rebuilt(tiny_data, cache):
    r1 = train_model(tiny_model(), sgd(0.1), tiny_data, epochs=2, batch_size=32, seed=0)
    path = cache / "runs" / f"{r1.key}.pt"
    path.write_bytes(path.read_bytes()[:100])  # truncated, as after a crash of a non-atomic writer
    with pytest.warns(RuntimeWarning, match="unreadable"):
        r2 = train_model(tiny_model(), sgd(0.1), tiny_data, epochs=2, batch_size=32, seed=0)
    assert not r2.cached and r2.val_acc == r1.val_acc
    r3 = train_model(tiny_model(), sgd(0.1), tiny_data, epochs=2, batch_size=32, seed=0)
    assert r3.cached  # the rebuilt entry is valid again


def test_diverging_run_names_epoch_and_step(tiny_data, cache):
    with pytest.raises(FloatingPointError, match=r"epoch 1, step \d+"):
        train_model(tiny_model(), lambda p: torch.optim.SGD(p, lr=1e30), tiny_data, epochs=2, batch_size=32,
                    seed=0)


def test_step_scheduler_is_stepped_per_batch(tiny_data, cache):
    steps = math.ceil(512 / 64) * 3
    r = train_model(tiny_model(), lambda p: torch.optim.SGD(p, lr=0.1), tiny_data, epochs=3, batch_size=64, seed=0,
                    scheduler_fn=lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.2, total_steps=steps))
    # Stepped per batch: epoch 1 starts at max_lr/25; after its 8 of 24 steps (past the 30 % warm-up)
    # the rate is near its peak; by the start of epoch 3 it is annealing again.
    assert r.lr[0] == pytest.approx(0.2 / 25) and r.lr[1] > 0.15 and r.lr[2] < r.lr[1]


@pytest.mark.parametrize("kw,match", [
    (dict(epochs=0), "epochs"), (dict(epochs=2, batch_size=0), "batch_size"),
    (dict(epochs=2, seed=1.5), "seed"), (dict(epochs=2, scheduler_interval="batch"), "scheduler_interval"),
])
def test_bad_arguments(tiny_data, cache, kw, match):
    with pytest.raises(ValueError, match=match):
        train_model(tiny_model(), sgd(0.1), tiny_data, **kw)


def test_optimizer_fn_must_be_callable_and_return_optimizer(tiny_data, cache):
    with pytest.raises(TypeError, match="optimizer_fn"):
        train_model(tiny_model(), "sgd", tiny_data, epochs=1)
    with pytest.raises(TypeError, match="not a torch.optim.Optimizer"):
        train_model(tiny_model(), lambda p: None, tiny_data, epochs=1)


def test_unwritable_cache_dir(tiny_data, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="COURSE_CACHE"):
        train_model(tiny_model(), sgd(0.1), tiny_data, epochs=1, cache_dir=blocker / "runs")


def test_run_seeds(tiny_data, cache):
    rs = run_seeds(tiny_model, sgd(0.1), tiny_data, seeds=[0, 1], epochs=2, batch_size=32, progress=False)
    assert [r.seed for r in rs] == [0, 1] and rs[0].key != rs[1].key
    with pytest.raises(ValueError, match="seeds"):
        run_seeds(tiny_model, sgd(0.1), tiny_data, seeds=[], epochs=1)
