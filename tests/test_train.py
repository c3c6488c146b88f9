import math

import numpy as np
import pytest
import torch

from course_utils.models import MLP
from course_utils.train import TrainResult, fit, run_seeds, train_model


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


# ----------------------------------------------------------------------------- the loop itself
def test_fit_returns_a_history_without_test_accuracy(tiny_data):
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    r = fit(model, opt, tiny_data, epochs=3, batch_size=64, generator=torch.Generator().manual_seed(0),
            start_epoch=2, on_epoch_end=lambda e, rec: seen.append((e, rec["val_acc"])), progress=False)
    assert isinstance(r, TrainResult) and r.epochs == 3 and r.start_epoch == 2 and math.isnan(r.test_acc)
    assert [e for e, _ in seen] == [3, 4, 5] and [a for _, a in seen] == r.val_acc
    assert 3 <= r.best_epoch <= 5 and r.best_val_acc == r.val_acc[r.best_epoch - 3]
    assert fit(model, opt, tiny_data, epochs=0, generator=torch.Generator(), progress=False).epochs == 0


def test_train_model_is_fit_plus_best_weights(tiny_data, cache):
    """train_model runs exactly fit's steps (same seed, same generator): the histories agree."""
    r = train_model(tiny_model(), sgd(0.1), tiny_data, epochs=3, batch_size=32, seed=3, use_cache=False)
    model = tiny_model()
    with torch.random.fork_rng():
        torch.manual_seed(3)
        h = fit(model, sgd(0.1)(model.parameters()), tiny_data, epochs=3, batch_size=32,
                generator=torch.Generator().manual_seed(3), progress=False)
    assert h.val_acc == r.val_acc and h.train_loss == r.train_loss and h.best_epoch == r.best_epoch


def test_train_loss_is_the_mean_of_the_batch_losses(tiny_data):
    """512 images in batches of 200: the last batch of 112 counts as much as the others."""
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights do not move
    r = fit(model, opt, tiny_data, epochs=1, batch_size=200, generator=torch.Generator().manual_seed(0),
            progress=False)
    X, y = tiny_data.train
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        means = [torch.nn.functional.cross_entropy(model(X[i]), y[i]) for i in idx.split(200)]
    assert r.train_loss[0] == pytest.approx(float(torch.stack(means).mean()), rel=1e-6)


def test_then_joins_histories_and_checks_the_numbering(tiny_data):
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    a = fit(model, opt, tiny_data, epochs=2, generator=g, progress=False)
    b = fit(model, opt, tiny_data, epochs=1, generator=g, start_epoch=2, progress=False)
    ab = a.then(b)
    assert ab.epochs == 3 and ab.val_acc == a.val_acc + b.val_acc and ab.seconds == a.seconds + b.seconds
    with pytest.raises(ValueError, match="start_epoch=2"):
        a.then(a)


# ----------------------------------------------------------------------------- batch-size phases
def test_phases_apply_batch_sizes_and_lr_factors(make_tiny_data, cache):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    r = train_model(model, lambda p: torch.optim.SGD(p, lr=0.2), make_tiny_data(128, 32, d=6, k=2),
                    phases=[(2, 16, 1.0), (1, 32, 0.5), (1, 64, 0.25)], use_cache=False)
    assert r.epochs == 4 and len(r.val_acc) == 4 and r.start_epoch == 0
    np.testing.assert_allclose(r.lr, [0.2, 0.2, 0.1, 0.05])
    assert r.val_acc[r.best_epoch - 1] == max(r.val_acc) and r.test_acc > 0.6  # a linearly separable toy task


def test_phases_are_part_of_the_cache_key(make_tiny_data, cache):
    data = make_tiny_data(128, 32, d=6, k=2)

    def run(phases):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        return train_model(model, lambda p: torch.optim.SGD(p, lr=0.2), data, phases=phases)

    a, b, a2 = run([(1, 16, 1.0), (1, 32, 1.0)]), run([(1, 16, 1.0), (1, 16, 0.5)]), run([(1, 16, 1.0), (1, 32, 1.0)])
    assert a.key != b.key and a2.cached and a2.key == a.key


@pytest.mark.parametrize("phases", [[], [(0, 16, 1.0)], [(1, 16)], [(1, 0, 1.0)], [(1, 16, -1.0)]])
def test_bad_phases(phases, make_tiny_data, cache):
    model = torch.nn.Linear(6, 2)
    with pytest.raises(ValueError, match="phase"):
        train_model(model, lambda p: torch.optim.SGD(p, lr=0.1), make_tiny_data(128, 32, d=6, k=2), phases=phases,
                    use_cache=False)


def test_phases_with_a_scheduler_or_other_epochs_are_refused(make_tiny_data, cache):
    data = make_tiny_data(128, 32, d=6, k=2)
    with pytest.raises(ValueError, match="not both"):
        train_model(torch.nn.Linear(6, 2), sgd(0.1), data, phases=[(1, 16, 1.0)],
                    scheduler_fn=lambda o: torch.optim.lr_scheduler.StepLR(o, 1))
    with pytest.raises(ValueError, match="add up to 1"):
        train_model(torch.nn.Linear(6, 2), sgd(0.1), data, epochs=3, phases=[(1, 16, 1.0)])


def test_early_stopping_stops_after_patience_epochs_without_improvement(tiny_data, cache):
    """patience=2 with a rate so small that nothing improves after the first epochs: the history ends
    two epochs after the best one, the weights are the best epoch's, and the key differs from a full run."""
    def make(p):
        return torch.optim.SGD(p, lr=1e-7)

    full = train_model(tiny_model(), make, tiny_data, epochs=12, seed=0)
    early = train_model(tiny_model(), make, tiny_data, epochs=12, seed=0, patience=2)
    assert len(early.val_acc) < 12 and len(early.val_acc) == early.best_epoch + 2
    assert early.val_acc == full.val_acc[:len(early.val_acc)]       # the same run, cut short
    assert early.key != full.key
    no_test = train_model(tiny_model(), make, tiny_data, epochs=3, seed=0, test=False)
    assert math.isnan(no_test.test_acc)
    with pytest.raises(ValueError, match="patience"):
        train_model(tiny_model(), make, tiny_data, epochs=3, seed=0, patience=0)


def test_fit_stops_when_the_hook_says_so(tiny_data):
    net = tiny_model()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    res = fit(net, opt, tiny_data, epochs=5, generator=torch.Generator().manual_seed(0),
              on_epoch_end=lambda epoch, record: epoch == 2, progress=False)
    assert len(res.val_acc) == 2


# ----------------------------------------------------------------------------- what the cache key hashes
def _package_imports(module_file):
    """The course_utils modules a file imports at module level (``from .x import`` / ``from . import x``)."""
    import ast
    tree = ast.parse(module_file.read_text())
    found = set()
    for node in tree.body:  # module level only: a lazy import inside a function is presentation code
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(a.name for a in node.names)
    return found


def test_training_modules_are_closed_under_module_level_imports():
    """A module a training module imports runs inside training too, so it must be hashed: the set is closed."""
    from pathlib import Path

    import course_utils
    from course_utils.train import TRAINING_MODULES
    here = Path(course_utils.__file__).parent
    for name in TRAINING_MODULES:
        missing = _package_imports(here / f"{name}.py") - set(TRAINING_MODULES)
        assert not missing, f"{name}.py imports {missing} at module level; add them to TRAINING_MODULES"


def test_closure_check_can_fail(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("from .plotting import plot_traces\nfrom . import stats\n\ndef f():\n    from .notebook import glue\n")
    assert _package_imports(bad) == {"plotting", "stats"}


def test_source_hash_covers_training_code_only():
    from course_utils.train import package_source_hash
    base = package_source_hash()
    assert package_source_hash(("stats",)) != base  # naming a module adds its source
    assert package_source_hash(("train",)) == base     # train is always in
    with pytest.raises(ValueError, match="no module 'nonesuch'"):
        package_source_hash(("nonesuch",))


# ---- the cache key of functions and NumPy values (the same run on every Python and NumPy version)
def test_numpy_scalars_key_like_python_numbers(tiny_data, cache):
    import numpy as np
    a = train_model(tiny_model(), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5), tiny_data, epochs=1,
                    batch_size=32, seed=0)
    b = train_model(tiny_model(), lambda p: torch.optim.SGD(p, lr=np.float64(0.1),
                                                            momentum=np.float32(0.5)), tiny_data, epochs=1,
                    batch_size=32, seed=0)
    assert b.cached and a.key == b.key


def test_callable_description_covers_globals_defaults_and_same_line_lambdas():
    from course_utils.train import _describe_callable
    ns = {"warmup": 3}
    exec("f = lambda s: min(1.0, (s + 1) / warmup)", ns)
    k3 = _describe_callable(ns["f"])
    ns["warmup"] = 5
    assert _describe_callable(ns["f"]) != k3  # a global the lambda reads
    g = [lambda e: 0.5 ** e, lambda e: 0.9 ** e]  # one line, one source text
    assert _describe_callable(g[0]) != _describe_callable(g[1])
    h1, h2 = (lambda e, r=0.5: r ** e), (lambda e, r=0.9: r ** e)
    assert _describe_callable(h1) != _describe_callable(h2)  # default arguments
    ns = {"factors": [4, 4, 1, 1], "np": np}
    exec("f = lambda e: factors[min(e, 3)]", ns)
    k = _describe_callable(ns["f"])
    ns["factors"] = [4, 0.01, 0.01, 0.01]  # a container it reads, changed between two runs
    assert _describe_callable(ns["f"]) != k
    ns["factors"] = np.array([4, 4, 1, 1.0])
    k_arr = _describe_callable(ns["f"])
    ns["factors"] = np.array([4, 4, 1, 0.5])
    assert _describe_callable(ns["f"]) != k_arr
    ns["factors"] = np.array([4, 4, 1, 0.5])  # the same values again: the same key (no address in it)
    assert _describe_callable(ns["f"]) == _describe_callable(ns["f"])
    # no bytecode in a function's description when its source is known (bytecode differs across Pythons)
    import torch.nn.functional as F
    assert _describe_callable(F.cross_entropy) == _describe_callable(F.cross_entropy)
    assert "0x" not in str(_describe_callable(object()))


def test_a_numpy_rate_factor_is_cached_as_a_plain_number(cache, tiny_data):
    """A LambdaLR factor written with NumPy (np.cos) makes the optimizer's rate an np.float64; the history stores
    plain floats, so the cached run is read back (weights-only load) without a warning and without retraining."""
    import warnings

    sched = lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.5 * (1 + np.cos(np.pi * e / 2)))  # noqa: E731
    opt = lambda p: torch.optim.SGD(p, lr=0.1)  # noqa: E731
    a = train_model(tiny_model(), opt, tiny_data, epochs=2, batch_size=32, seed=0, scheduler_fn=sched)
    assert all(type(v) is float for v in a.lr)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = train_model(tiny_model(), opt, tiny_data, epochs=2, batch_size=32, seed=0, scheduler_fn=sched)
    assert b.cached and b.lr == a.lr


def test_callable_description_ignores_bytecode(monkeypatch):
    """The key of a function with known source does not change when its bytecode does (another Python)."""
    from course_utils import train as T

    def f(e):
        return 0.5 ** e
    before = T._describe_callable(f)
    f.__code__ = f.__code__.replace(co_code=f.__code__.co_code + b"\x09\x00")  # NOPs: other bytecode
    assert T._describe_callable(f) == before
