"""Fashion-MNIST, loaded once into tensors on the device.

The sources push every image through ``ToTensor`` and ``Normalize`` inside a
``DataLoader`` on every epoch.  For 28x28 images that costs more than the
network itself, so here the whole data set is decoded once by torchvision's
real ``FashionMNIST`` class, normalised once, and moved to the device; a
training epoch is then nothing but index slicing (:func:`batches`).

Where the files come from, in order:

1. ``root=`` (a folder that holds ``FashionMNIST/raw/*-ubyte``),
2. ``$COURSE_DATA``,
3. Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``),
   decompressed once into the project's cache folder,
4. torchvision's download (needs internet; this is what Colab uses).
"""
from __future__ import annotations

import dataclasses
import gzip
import os
from pathlib import Path
from typing import Iterator, Sequence

import torch

from ._io import atomic_write_bytes, sha256_file
from .config import cache_dir, default_device

__all__ = ["FashionMNISTData", "load_fashion_mnist", "batches", "CLASSES", "DataNotFoundError",
           "TRAIN_MEAN", "TRAIN_STD"]

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

#: Pixel statistics of the 60k training images scaled to [0, 1] (computed in book/setup.md).
TRAIN_MEAN, TRAIN_STD = 0.2860, 0.3530

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

#: SHA-256 of the *decompressed* original files (the .gz wrappers differ between mirrors).
RAW_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

FIX_HINT = ("To fix it: on Debian/Ubuntu run `sudo apt-get install dataset-fashion-mnist` "
            "(or `make data`); online, call load_fashion_mnist(download=True); or set "
            "COURSE_DATA to a folder that holds FashionMNIST/raw/ with the four *-ubyte files.")


class DataNotFoundError(FileNotFoundError):
    """Fashion-MNIST could not be found (or was corrupt) in any of the places we look."""


@dataclasses.dataclass
class FashionMNISTData:
    """The three splits as tensors on one device.

    ``train``, ``val`` and ``test`` are ``(X, y)`` pairs with ``X`` of shape
    ``(N, 1, 28, 28)`` (float32, normalised with the training mean/std unless
    ``normalize=False``, then in [0, 1]) and ``y`` of shape ``(N,)`` (int64).
    :meth:`subset` cuts a smaller data set out of it (fewer training images, some classes);
    ``selection`` records how, for :meth:`fingerprint`.
    """

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    mean: float
    std: float
    classes: tuple[str, ...]
    source: str
    split_seed: int
    normalize: bool
    root: str = ""  # folder that holds FashionMNIST/raw/ (for torchvision's own loader)
    selection: tuple[dict, ...] = ()  # the subset() calls that cut this out of the full splits

    @property
    def device(self) -> torch.device:
        return self.train[0].device

    def fingerprint(self) -> dict:
        """What determines the split, for cache keys."""
        fp = {"dataset": "FashionMNIST", "n_train": len(self.train[1]), "n_val": len(self.val[1]),
              "n_test": len(self.test[1]), "split_seed": self.split_seed,
              "normalize": self.normalize, "mean": round(self.mean, 6), "std": round(self.std, 6)}
        if self.selection:
            fp["selection"] = [dict(s) for s in self.selection]
        return fp

    def to(self, device) -> "FashionMNISTData":
        dev = default_device(device)
        mv = lambda p: (p[0].to(dev), p[1].to(dev))  # noqa: E731
        return dataclasses.replace(self, train=mv(self.train), val=mv(self.val), test=mv(self.test))

    def subset(self, n_train: int | None = None, *, classes: Sequence[int] | None = None, seed: int | None = None,
               n_val: int | None = None) -> "FashionMNISTData":
        """A smaller data set: only ``classes`` (relabelled ``0..k-1``) and/or only ``n_train`` training images.

        Args:
            n_train: keep ``n_train`` training images (of the kept classes): the first ones (the
                training split is already a seeded shuffle), or with ``seed`` a seeded random
                choice, kept in their original order.
            classes: keep only these class indices in every split, relabelled ``0..k-1`` in this
                order (a k-output network needs labels ``0..k-1``); ``classes`` then names them.
            seed: seed of the random choice of the ``n_train`` images (None: the first ones).
            n_val: keep the first ``n_val`` validation images.

        Returns:
            A :class:`FashionMNISTData` on the same device; the splits not asked about are shared.

        Raises:
            ValueError: unknown or repeated class ids; ``n_train``/``n_val`` not in ``1..`` what is there.
        """
        train, val, test, names = self.train, self.val, self.test, self.classes
        if classes is not None:
            ids = [int(c) for c in classes]
            if len(set(ids)) != len(ids) or not ids or any(not 0 <= c < len(self.classes) for c in ids):
                raise ValueError(f"classes must be distinct indices in 0..{len(self.classes) - 1}, got {list(classes)}.")
            keep = torch.tensor(ids, device=self.device)
            train, val, test = (_only_classes(split, keep) for split in (train, val, test))
            names = tuple(self.classes[c] for c in ids)
        if n_train is not None:
            if isinstance(n_train, bool) or not isinstance(n_train, int) or not 0 < n_train <= len(train[1]):
                raise ValueError(f"n_train must be an integer in 1..{len(train[1])} (the training images there), "
                                 f"got {n_train!r}.")
            if seed is None:
                train = (train[0][:n_train], train[1][:n_train])
            else:
                idx = torch.randperm(len(train[1]), generator=torch.Generator().manual_seed(seed))[:n_train]
                idx = idx.sort().values.to(self.device)
                train = (train[0][idx], train[1][idx])
        if n_val is not None:
            if isinstance(n_val, bool) or not isinstance(n_val, int) or not 0 < n_val <= len(val[1]):
                raise ValueError(f"n_val must be an integer in 1..{len(val[1])}, got {n_val!r}.")
            val = (val[0][:n_val], val[1][:n_val])
        step = {"classes": None if classes is None else [int(c) for c in classes], "n_train": n_train,
                "seed": seed, "n_val": n_val}
        return dataclasses.replace(self, train=train, val=val, test=test, classes=names,
                                   selection=(*self.selection, step))

    def __repr__(self) -> str:
        kept = f", classes={list(self.classes)}" if len(self.classes) != len(CLASSES) else ""
        return (f"FashionMNISTData(train={tuple(self.train[0].shape)}, val={tuple(self.val[0].shape)}, "
                f"test={tuple(self.test[0].shape)}{kept}, device={self.device}, source={self.source!r})")


def _only_classes(split: tuple[torch.Tensor, torch.Tensor], ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The samples of ``split`` whose label is in ``ids``, relabelled by their position in ``ids``."""
    X, y = split
    mask = torch.isin(y, ids)
    lut = torch.full((max(int(y.max()), int(ids.max())) + 1,), -1, dtype=torch.long, device=y.device)
    lut[ids] = torch.arange(len(ids), device=y.device)
    return X[mask], lut[y[mask]]


def _raw_ok(raw: Path) -> bool:
    return all((raw / name).is_file() for name in RAW_SHA256)


def _verify(raw: Path) -> None:
    """Check the four decompressed files against the known SHA-256 sums (cached per file size+mtime)."""
    bad = []
    for name, digest in RAW_SHA256.items():
        f = raw / name
        stamp = f.with_name(f".{name}.sha256ok")
        sig = f"{f.stat().st_size}:{f.stat().st_mtime_ns}:{digest}"
        if stamp.is_file() and stamp.read_text() == sig:
            continue
        if sha256_file(f) != digest:
            bad.append(str(f))
        else:
            stamp.write_text(sig)
    if bad:
        raise DataNotFoundError(f"Fashion-MNIST files are corrupt (checksum mismatch): {bad}. "
                                f"Delete them and load again. " + FIX_HINT)


def _decompress_debian(dest_root: Path) -> None:
    raw = dest_root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, digest in RAW_SHA256.items():
        target = raw / name
        if target.is_file() and sha256_file(target) == digest:
            continue
        with gzip.open(DEBIAN_DIR / f"{name}.gz", "rb") as f:
            payload = f.read()
        atomic_write_bytes(target, payload)


def _locate(root: str | os.PathLike | None, download: bool) -> tuple[Path, str, bool]:
    """Return (root folder for torchvision, description, whether torchvision should download)."""
    looked = []
    candidates = []
    if root is not None:
        candidates.append((Path(root).expanduser(), "root argument"))
    if os.environ.get("COURSE_DATA"):
        candidates.append((Path(os.environ["COURSE_DATA"]).expanduser(), "$COURSE_DATA"))
    for path, what in candidates:
        raw = path / "FashionMNIST" / "raw"
        looked.append(f"{raw} ({what})")
        if _raw_ok(raw):
            return path, f"{what}: {path}", False
    data_cache = cache_dir("data", create=False)
    raw = data_cache / "FashionMNIST" / "raw"
    looked.append(f"{raw} (project cache)")
    if _raw_ok(raw):
        return data_cache, f"project cache: {data_cache}", False
    looked.append(f"{DEBIAN_DIR} (Debian package dataset-fashion-mnist)")
    if all((DEBIAN_DIR / f"{n}.gz").is_file() for n in RAW_SHA256):
        data_cache = cache_dir("data")
        _decompress_debian(data_cache)
        return data_cache, f"Debian package, decompressed into {data_cache}", False
    if download:
        target = Path(root).expanduser() if root is not None else cache_dir("data")
        return target, f"torchvision download into {target}", True
    raise DataNotFoundError("Fashion-MNIST was not found. Looked in:\n  - " + "\n  - ".join(looked)
                            + "\n" + FIX_HINT)


def _load_split(root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import FashionMNIST

    ds = FashionMNIST(str(root), train=train, download=download)
    return ds.data, ds.targets  # (N, 28, 28) uint8, (N,) int64


def load_fashion_mnist(root: str | os.PathLike | None = None, *, device=None, val_size: int = 10_000,
                       seed: int = 42, normalize: bool = True, download: bool | None = None
                       ) -> FashionMNISTData:
    """Load Fashion-MNIST once into tensors on ``device``, split 50k/10k/10k.

    The training images are split into ``60_000 - val_size`` training and
    ``val_size`` validation images by a seeded permutation.  Pixels are scaled
    to [0, 1] and, if ``normalize``, standardised with the *training* mean and
    standard deviation (0.2860 / 0.3530), so that a batch has mean ~0, std ~1.

    Args:
        root: folder holding ``FashionMNIST/raw/`` (optional, see module docstring).
        device: where the tensors live (default: CUDA if available, else CPU).
        val_size: validation images taken from the 60k training images.
        seed: seed of the train/validation split.
        normalize: standardise with the training mean/std.
        download: let torchvision download the files if nothing local is found
            (default: only when ``root`` is None and we are online-capable, i.e. True).

    Returns:
        :class:`FashionMNISTData` with ``X`` of shape ``(N, 1, 28, 28)``.

    Raises:
        DataNotFoundError: nothing found (the message lists where we looked and how to fix it).
        ValueError: ``val_size`` outside ``[0, 60000)``.
    """
    if not isinstance(val_size, int) or not 0 <= val_size < 60_000:
        raise ValueError(f"val_size must be an integer in [0, 60000), got {val_size!r}.")
    dev = default_device(device)
    folder, source, dl = _locate(root, download=True if download is None else download)
    if dl:
        try:
            _load_split(folder, True, True)
            _load_split(folder, False, True)
        except Exception as e:  # network errors come in many types
            raise DataNotFoundError(f"Fashion-MNIST is not available locally and the download failed "
                                    f"({type(e).__name__}: {e}). " + FIX_HINT) from e
    else:
        _verify(folder / "FashionMNIST" / "raw")
    try:
        x_all, y_all = _load_split(folder, True, False)
        x_test, y_test = _load_split(folder, False, False)
    except Exception as e:
        raise DataNotFoundError(f"Fashion-MNIST in {folder} could not be read ({e}). " + FIX_HINT) from e

    x_all = x_all.float().div_(255.0)
    x_test = x_test.float().div_(255.0)
    mean, std = x_all.mean().item(), x_all.std().item()
    if normalize:
        x_all = (x_all - mean) / std
        x_test = (x_test - mean) / std
    x_all, x_test = x_all.unsqueeze(1), x_test.unsqueeze(1)  # (N, 1, 28, 28)

    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y_all), generator=g)
    tr, va = perm[val_size:], perm[:val_size]
    mv = lambda t: t.to(dev)  # noqa: E731
    return FashionMNISTData(
        train=(mv(x_all[tr]), mv(y_all[tr])), val=(mv(x_all[va]), mv(y_all[va])),
        test=(mv(x_test), mv(y_test)), mean=mean, std=std, classes=CLASSES, source=source,
        split_seed=seed, normalize=normalize, root=str(folder))


def batches(X: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool,
            generator: torch.Generator | None = None, drop_last: bool = False
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(X[idx], y[idx])`` mini-batches by index slicing of preloaded tensors.

    Args:
        X: inputs, first dimension is the sample index.
        y: targets with ``len(y) == len(X)``.
        batch_size: positive integer.
        shuffle: draw a random permutation (from ``generator``) each time the iterator starts.
        generator: a ``torch.Generator`` on the CPU for reproducible shuffling.
        drop_last: skip a final incomplete batch.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if len(X) != len(y):
        raise ValueError(f"X and y have different lengths ({len(X)} vs {len(y)}); "
                         f"pass inputs and targets of the same split.")
    n = len(X)
    if shuffle:
        idx = torch.randperm(n, generator=generator).to(X.device)
    else:
        idx = None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if idx is None:
            yield X[start:start + batch_size], y[start:start + batch_size]
        else:
            sel = idx[start:start + batch_size]
            yield X[sel], y[sel]
