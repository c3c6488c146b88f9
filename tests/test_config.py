import pytest
import torch

from course_utils import config


def test_budget_by_name_and_env(monkeypatch):
    assert config.get_budget("full").epochs == 40 and config.get_budget("full").seeds >= 5
    monkeypatch.setenv("COURSE_BUDGET", "cpu")
    b = config.get_budget()
    assert b.name == "cpu" and b.epochs < 40
    assert "cpu" in b.describe()


def test_budget_unknown_name_is_explained():
    with pytest.raises(ValueError, match="COURSE_BUDGET=full"):
        config.get_budget("huge")


def test_default_device(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert config.default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert config.default_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="Invalid device"):
        config.default_device("gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda():
    with pytest.raises(ValueError, match="CUDA is not available"):
        config.default_device("cuda")


def test_cache_dir_env_and_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "c"))
    assert config.cache_dir("runs") == tmp_path / "c" / "runs"
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("COURSE_CACHE", str(blocker / "sub"))
    with pytest.raises(PermissionError, match="COURSE_CACHE"):
        config.cache_dir("runs")
