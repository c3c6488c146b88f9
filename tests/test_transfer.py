"""Tests of course_utils.transfer on a fake 10-class data set (no Fashion-MNIST needed)."""
import dataclasses

import pytest
import torch

from course_utils import transfer as T


@dataclasses.dataclass
class FakeData:
    train: tuple
    val: tuple
    test: tuple
    classes: tuple = tuple(f"c{i}" for i in range(10))

    @property
    def device(self):
        return self.train[0].device

    def fingerprint(self):
        return {"dataset": "fake"}


@pytest.fixture
def fake():
    g = torch.Generator().manual_seed(0)
    protos = torch.randn(10, 1, 28, 28, generator=g)

    def split(n):
        y = torch.arange(n) % 10
        return protos[y] + 0.5 * torch.randn(n, 1, 28, 28, generator=g), y

    return FakeData(split(400), split(100), split(200))


def test_class_subset_relabels_and_keeps_only_those_classes(fake):
    sub = T.class_subset(fake, (2, 0))
    assert sub.classes == ("c2", "c0")
    assert set(sub.train[1].tolist()) == {0, 1} and len(sub.train[1]) == 80
    # relabel follows the order given: class 2 -> 0, class 0 -> 1
    torch.testing.assert_close(sub.train[0][sub.train[1] == 0], fake.train[0][fake.train[1] == 2])
    assert sub.fingerprint()["class_ids"] == [2, 0] and sub.fingerprint()["parent"] == {"dataset": "fake"}


def test_class_subset_n_train_is_seeded(fake):
    a = T.class_subset(fake, None, n_train=50, seed=1)
    b = T.class_subset(fake, None, n_train=50, seed=1)
    c = T.class_subset(fake, None, n_train=50, seed=2)
    assert len(a.train[1]) == 50 and len(a.test[1]) == 200
    torch.testing.assert_close(a.train[0], b.train[0])
    assert not torch.equal(a.train[0], c.train[0])
    assert a.fingerprint() != c.fingerprint()


@pytest.mark.parametrize("classes,n_train,match", [((0, 0), None, "distinct"), ((11,), None, "distinct"),
                                                   ((0, 1), 1000, "n_train")])
def test_class_subset_bad_input(fake, classes, n_train, match):
    with pytest.raises(ValueError, match=match):
        T.class_subset(fake, classes, n_train=n_train)


def test_other_classes():
    assert T.other_classes((0, 2)) == [1, 3, 4, 5, 6, 7, 8, 9]


def test_model_b_on_a_copies_layers_and_freezing_works():
    a = T.model_a(8, seed=0)
    b = T.model_b_on_a(a, 2, seed=0)
    assert b[-1].out_features == 2 and len(b) == len(a)
    torch.testing.assert_close(b[1].weight, a[1].weight)
    assert b[1].weight.data_ptr() != a[1].weight.data_ptr()  # a copy, not shared
    T.freeze(b[:-1])
    assert T.trainable_count(b) == 100 * 2 + 2
    T.unfreeze(b)
    assert T.trainable_count(b) == sum(p.numel() for p in b.parameters())


def test_fit_small_leaves_frozen_layers_unchanged_and_fits(fake):
    sub = T.class_subset(fake, (0, 1))
    X, y = T.few_shot_sample(*sub.train, 5, seed=0)
    assert sorted(y.tolist()) == [0] * 5 + [1] * 5
    a = T.model_a(8, seed=0)
    b = T.model_b_on_a(a, 2, seed=0)
    T.freeze(b[:-1])
    body = b[1].weight.detach().clone()
    T.fit_small(b, X, y, steps=60, lr=1e-2)
    torch.testing.assert_close(b[1].weight, body, rtol=0, atol=0)
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
    sub = T.class_subset(fake, (0, 2))
    proto = T.TransferProtocol(n_per_class=3, scratch_steps=5, frozen_steps=3, unfrozen_steps=2)
    df1 = T.task_b_runs(a, sub, seeds=range(3), protocol=proto, cache_dir=tmp_path)
    df2 = T.task_b_runs(a, sub, seeds=range(3), protocol=proto, cache_dir=tmp_path)
    assert list(df1.columns) == ["seed", "scratch", "frozen", "unfrozen"] and len(df1) == 3
    assert len(list(tmp_path.glob("*.json"))) == 1
    assert df1.equals(df2)
    df3 = T.task_b_runs(a, sub, seeds=range(3), protocol=proto, use_cache=False)
    assert (df1[["scratch", "frozen", "unfrozen"]].values == df3[["scratch", "frozen", "unfrozen"]].values).all()
    with pytest.raises(ValueError, match="unknown methods"):
        T.run_task_b(a, sub, seed=0, methods=("magic",))
