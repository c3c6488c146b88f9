import dataclasses
import os
from pathlib import Path

import pytest
import torch


@dataclasses.dataclass
class TinyData:
    """A stand-in for FashionMNISTData: a linearly separable toy problem on the CPU."""

    train: tuple
    val: tuple
    test: tuple

    @property
    def device(self):
        return self.train[0].device

    def fingerprint(self):
        return {"dataset": "tiny", "n": len(self.train[1])}

    def to(self, device):
        mv = lambda p: (p[0].to(device), p[1].to(device))  # noqa: E731
        return TinyData(mv(self.train), mv(self.val), mv(self.test))

    def subset(self, n_train=None, *, n_val=None):
        """The first images, like ``FashionMNISTData.subset`` without its class selection."""
        cut = lambda p, n: p if n is None else (p[0][:n], p[1][:n])  # noqa: E731
        return TinyData(cut(self.train, n_train), cut(self.val, n_val), self.test)


def make_tiny_data(n_train: int = 512, n_eval: int = 128, d: int = 8, k: int = 3, seed: int = 0) -> TinyData:
    """A linearly separable toy problem: ``d`` features, ``k`` classes (argmax of a fixed projection)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, k, generator=g)

    def split(n):
        X = torch.randn(n, d, generator=g)
        return X, (X @ w).argmax(dim=1)

    return TinyData(split(n_train), split(n_eval), split(n_eval))


def make_fake_fmnist(n_train: int = 400, n_val: int = 100, n_test: int = 200, seed: int = 0):
    """A real :class:`FashionMNISTData` of noisy class prototypes (10 classes, 28x28), no files needed."""
    from course_utils.data import CLASSES, FashionMNISTData

    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(10, 1, 28, 28, generator=g)

    def split(n):
        y = torch.arange(n) % 10
        return protos[y] + 0.5 * torch.randn(n, 1, 28, 28, generator=g), y

    return FashionMNISTData(split(n_train), split(n_val), split(n_test), mean=0.0, std=1.0, classes=CLASSES,
                            source="fake", split_seed=seed, normalize=False)


@pytest.fixture
def fake_fmnist():
    return make_fake_fmnist()


@pytest.fixture
def tiny_data():
    return make_tiny_data()


@pytest.fixture(name="make_tiny_data")
def _make_tiny_data_fixture():
    """The factory itself, for tests that need another size (``make_tiny_data(96, 32)``)."""
    return make_tiny_data


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    return tmp_path / "cache"


# ----------------------------------------------------------------------------- the browser tests
# One headless Chromium for the whole session (tests/test_site.py, tests/test_explorables_browser.py),
# launched with the flags this machine needs (no sandbox, GPU, QUIC or background networking).
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements.txt)")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/ensure_chromium.sh "
                    f"(apt-get install chromium) or set COURSE_CHROMIUM")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()
