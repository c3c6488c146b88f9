"""Seconds per epoch of the reference MLP: the sources' DataLoader pipeline vs preloaded tensors.

(a) conventional: torchvision FashionMNIST with ToTensor + Normalize applied per sample, a
    DataLoader with batch 256 over a 50k/10k random_split (as in the sources);
(b) course_utils: the same 50k images preloaded once as normalised tensors on the device,
    mini-batches by index slicing (``course_utils.data.batches``).

Both run the identical model (784-512-256-256-128-10, ReLU) and optimizer (Adam, lr 1e-3), one
training epoch each after a short warm-up, and the script prints the ratio. A benchmark, not a test:
the numbers depend on the machine and on what else runs on it.

usage: python bench/train_throughput.py [--epochs 1] [--device cpu|cuda] [--max-batches N] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F


def one_epoch(model, opt, it, device, sync):
    model.train()
    t0 = time.perf_counter()
    n = 0
    for xb, yb in it:
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += len(yb)
    sync()
    return time.perf_counter() - t0, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=1, help="timed epochs per pipeline (default 1)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    ap.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    ap.add_argument("--max-batches", type=int, default=None,
                    help="cut each timed epoch to this many batches (a quick dry run; the ratio is then rough)")
    args = ap.parse_args()
    if args.epochs <= 0 or (args.max_batches is not None and args.max_batches <= 0):
        ap.error("--epochs and --max-batches must be positive")
    cut = (lambda it: it) if args.max_batches is None else (lambda it: (b for _, b in zip(range(args.max_batches), it)))

    from torch.utils.data import DataLoader, random_split
    from torchvision import transforms
    from torchvision.datasets import FashionMNIST

    from course_utils import config, data, models

    device = config.default_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fm = data.load_fashion_mnist(device=device)  # also prepares the raw files for torchvision
    root = fm.root

    # (a) the sources' pipeline
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    full = FashionMNIST(root, train=True, transform=tf, download=False)
    train_set, _ = random_split(full, [50_000, 10_000], generator=torch.Generator().manual_seed(42))
    loader = DataLoader(train_set, batch_size=256, shuffle=True, drop_last=False,
                        pin_memory=device.type == "cuda")

    def fresh():
        torch.manual_seed(0)
        m = models.MLP("relu").to(device)
        return m, torch.optim.Adam(m.parameters(), lr=1e-3)

    results = {}
    m, opt = fresh()
    one_epoch(m, opt, (b for _, b in zip(range(20), loader)), device, sync)  # warm-up
    secs = [one_epoch(m, opt, cut(loader), device, sync)[0] for _ in range(args.epochs)]
    results["dataloader_s_per_epoch"] = sum(secs) / len(secs)

    # (b) preloaded tensors
    X, y = fm.train
    g = torch.Generator().manual_seed(0)
    m, opt = fresh()
    one_epoch(m, opt, (b for _, b in zip(range(20), data.batches(X, y, 256, shuffle=True, generator=g))),
              device, sync)
    secs = [one_epoch(m, opt, cut(data.batches(X, y, 256, shuffle=True, generator=g)), device, sync)[0]
            for _ in range(args.epochs)]
    results["preloaded_s_per_epoch"] = sum(secs) / len(secs)
    results["speedup"] = results["dataloader_s_per_epoch"] / results["preloaded_s_per_epoch"]
    results.update(device=str(device), torch=torch.__version__, threads=torch.get_num_threads(),
                   cpus=os.cpu_count(), gpu=torch.cuda.get_device_name() if device.type == "cuda" else None)
    print(f"device {device} ({results['gpu'] or str(results['cpus']) + ' CPUs'}), torch {torch.__version__}")
    print(f"(a) DataLoader + ToTensor/Normalize : {results['dataloader_s_per_epoch']:7.2f} s/epoch")
    print(f"(b) preloaded tensors (course_utils): {results['preloaded_s_per_epoch']:7.2f} s/epoch")
    print(f"speed-up (a)/(b): {results['speedup']:.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
