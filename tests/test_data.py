import gzip
import shutil

import pytest
import torch

from course_utils import data as D

HAVE_DATA = all((D.DEBIAN_DIR / f"{n}.gz").is_file() for n in D.RAW_SHA256)
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="Fashion-MNIST (Debian dataset-fashion-mnist) not installed")


def test_batches_cover_every_sample_once():
    X, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    got = torch.cat([yb for _, yb in D.batches(X, y, 3, shuffle=True, generator=torch.Generator().manual_seed(1))])
    assert sorted(got.tolist()) == list(range(10))
    sizes = [len(yb) for _, yb in D.batches(X, y, 3, shuffle=False)]
    assert sizes == [3, 3, 3, 1]
    assert [len(yb) for _, yb in D.batches(X, y, 3, shuffle=False, drop_last=True)] == [3, 3, 3]


def test_batches_reproducible_with_generator():
    X, y = torch.randn(50, 2), torch.arange(50)
    a = [yb for _, yb in D.batches(X, y, 7, shuffle=True, generator=torch.Generator().manual_seed(3))]
    b = [yb for _, yb in D.batches(X, y, 7, shuffle=True, generator=torch.Generator().manual_seed(3))]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    for xb, yb in D.batches(X, y, 7, shuffle=True, generator=torch.Generator().manual_seed(3)):
        assert torch.equal(xb, X[yb])  # inputs stay paired with their targets


@pytest.mark.parametrize("bs", [0, -1, 2.5])
def test_batches_bad_batch_size(bs):
    with pytest.raises(ValueError, match="batch_size"):
        list(D.batches(torch.zeros(4, 1), torch.zeros(4), bs, shuffle=False))


def test_batches_length_mismatch():
    with pytest.raises(ValueError, match="different lengths"):
        list(D.batches(torch.zeros(4, 1), torch.zeros(3), 2, shuffle=False))


def test_missing_data_lists_places_and_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA", raising=False)
    with pytest.raises(D.DataNotFoundError) as e:
        D.load_fashion_mnist(root=tmp_path / "r", download=False)
    msg = str(e.value)
    assert "Looked in" in msg and str(tmp_path / "r") in msg and "apt-get install dataset-fashion-mnist" in msg


@needs_data
def test_corrupt_file_is_detected(tmp_path, monkeypatch):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in D.RAW_SHA256:
        with gzip.open(D.DEBIAN_DIR / f"{name}.gz", "rb") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    with open(raw / "train-labels-idx1-ubyte", "r+b") as f:
        f.seek(100)
        f.write(b"\x07")
    with pytest.raises(D.DataNotFoundError, match="checksum"):
        D.load_fashion_mnist(root=tmp_path, device="cpu", download=False)


def test_val_size_checked():
    with pytest.raises(ValueError, match="val_size"):
        D.load_fashion_mnist(val_size=60_000)


@needs_data
def test_loaded_splits(monkeypatch):
    d = D.load_fashion_mnist(device="cpu")
    assert d.train[0].shape == (50_000, 1, 28, 28) and d.train[0].dtype == torch.float32
    assert d.val[0].shape == (10_000, 1, 28, 28) and d.test[0].shape == (10_000, 1, 28, 28)
    assert d.train[1].dtype == torch.int64 and set(d.train[1].unique().tolist()) == set(range(10))
    # training mean/std of the sources, and standardised training pixels
    assert abs(d.mean - 0.2860) < 5e-4 and abs(d.std - 0.3530) < 5e-4
    allx = torch.cat([d.train[0], d.val[0]])
    assert abs(allx.mean().item()) < 1e-3 and abs(allx.std().item() - 1) < 1e-3
    # the split is a seeded permutation: reproducible, and a different seed gives a different split
    d2 = D.load_fashion_mnist(device="cpu", seed=42)
    assert torch.equal(d.val[1], d2.val[1])
    d3 = D.load_fashion_mnist(device="cpu", seed=1)
    assert not torch.equal(d.val[1], d3.val[1])
    assert d.fingerprint() != d3.fingerprint()


# ----------------------------------------------------------------------------- subsets
def test_subset_first_n_train(fake_fmnist):
    sub = fake_fmnist.subset(50)
    assert len(sub.train[1]) == 50 and len(sub.val[1]) == 100 and len(sub.test[1]) == 200
    assert torch.equal(sub.train[0], fake_fmnist.train[0][:50]) and sub.classes == fake_fmnist.classes
    assert sub.fingerprint()["n_train"] == 50 and sub.fingerprint() != fake_fmnist.fingerprint()
    assert len(fake_fmnist.subset(50, n_val=10).val[1]) == 10


def test_subset_classes_relabels_in_the_order_given(fake_fmnist):
    sub = fake_fmnist.subset(classes=(2, 0))
    assert sub.classes == (fake_fmnist.classes[2], fake_fmnist.classes[0])
    assert set(sub.train[1].tolist()) == {0, 1} and len(sub.train[1]) == 80
    # class 2 -> 0, class 0 -> 1
    torch.testing.assert_close(sub.train[0][sub.train[1] == 0], fake_fmnist.train[0][fake_fmnist.train[1] == 2])
    assert sub.fingerprint()["selection"][0]["classes"] == [2, 0]
    assert "classes=" in repr(sub)


def test_subset_n_train_with_seed_is_a_seeded_random_choice(fake_fmnist):
    a, b, c = (fake_fmnist.subset(50, seed=s) for s in (1, 1, 2))
    assert len(a.train[1]) == 50 and len(a.test[1]) == 200
    torch.testing.assert_close(a.train[0], b.train[0])
    assert not torch.equal(a.train[0], c.train[0]) and a.fingerprint() != c.fingerprint()
    # the images keep their order in the split: the chosen indices, sorted
    idx = torch.randperm(400, generator=torch.Generator().manual_seed(1))[:50].sort().values
    assert torch.equal(a.train[1], fake_fmnist.train[1][idx])


def test_subset_of_a_subset(fake_fmnist):
    sub = fake_fmnist.subset(classes=(3, 4, 5)).subset(20, seed=0)
    assert len(sub.train[1]) == 20 and set(sub.train[1].tolist()) <= {0, 1, 2}
    assert len(sub.fingerprint()["selection"]) == 2


@pytest.mark.parametrize("kw,match", [(dict(classes=(0, 0)), "distinct"), (dict(classes=(11,)), "distinct"),
                                      (dict(n_train=1000), "n_train"), (dict(n_train=0), "n_train"),
                                      (dict(n_val=0), "n_val")])
def test_subset_bad_input(fake_fmnist, kw, match):
    with pytest.raises(ValueError, match=match):
        fake_fmnist.subset(**kw)
