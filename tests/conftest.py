import dataclasses

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


@pytest.fixture
def tiny_data():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, 3, generator=g)

    def split(n):
        X = torch.randn(n, 8, generator=g)
        return X, (X @ w).argmax(dim=1)

    return TinyData(split(512), split(128), split(128))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    return tmp_path / "cache"
