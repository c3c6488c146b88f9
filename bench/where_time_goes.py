"""Where the time of a training run goes, and whether training the seeds of one configuration together pays.

Measured on the reference MLP (784-512-256-256-128-10, ReLU) with preloaded tensors, batch 256:

(b)  one training epoch with ``torch.optim.Adam`` (the book's training step);
(d)  one evaluation pass over the 10,000 validation images (``train.evaluate``, done after every epoch);
(e)  one training epoch with the book's from-scratch ``course_utils.optim.Adam`` (Part III's optimizers);
(c)  S seeds trained *together*: the S networks' weights stacked into (S, out, in) tensors, one batched
     matmul per layer, each seed with its own initial weights (the same as ``models.reference_mlp(seed)``)
     and its own batch order, and one ``torch.optim.Adam`` over the stacked tensors (Adam is elementwise,
     so this is S independent Adam runs).  It is compared with S epochs of (b) run one after the other,
     and checked to give the same weights as the single-seed run (to float rounding) after a few steps.

A benchmark, not a test: the numbers depend on the machine and on what else runs on it (each part is
timed after a warm-up; the parts run interleaved ``--repeats`` times and the median is reported).

usage: python bench/where_time_goes.py [--device cpu|cuda] [--seeds 5] [--repeats 3] [--max-batches N] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F


def _timed(fn, sync):
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


class StackedMLP:
    """S copies of one MLP architecture as stacked weight tensors (a plain container, not a Module)."""

    def __init__(self, nets, device):
        self.W, self.b = [], []
        linears = [[m for m in net.modules() if isinstance(m, torch.nn.Linear)] for net in nets]
        for layer in zip(*linears):
            self.W.append(torch.stack([lin.weight.detach() for lin in layer]).to(device).requires_grad_())
            self.b.append(torch.stack([lin.bias.detach() for lin in layer]).unsqueeze(1).to(device).requires_grad_())

    def params(self):
        return [*self.W, *self.b]

    def __call__(self, x):  # x: (S, B, 784)
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            x = torch.baddbmm(b, x, W.transpose(1, 2))
            if i < len(self.W) - 1:
                x = torch.relu(x)
        return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds trained together in (c) (default 5)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repetitions of every part (default 3)")
    ap.add_argument("--max-batches", type=int, default=None, help="cut each epoch to this many batches (a quick dry run)")
    ap.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = ap.parse_args()
    if args.seeds <= 0 or args.repeats <= 0 or (args.max_batches is not None and args.max_batches <= 0):
        ap.error("--seeds, --repeats and --max-batches must be positive")

    from course_utils import config, data, models, optim, train

    device = config.default_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fm = data.load_fashion_mnist(device=device)
    X, y = fm.train
    Xv, yv = fm.val
    n_batches = -(-len(X) // 256) if args.max_batches is None else min(args.max_batches, -(-len(X) // 256))
    S = args.seeds

    def batches(gen):
        return (b for _, b in zip(range(n_batches), data.batches(X, y, 256, shuffle=True, generator=gen)))

    def epoch(net, opt, gen):
        for xb, yb in batches(gen):
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def stacked_epoch(snet, opt, gens):
        perms = [torch.randperm(len(X), generator=g).to(device) for g in gens]
        for i in range(n_batches):
            idx = torch.stack([p[i * 256:(i + 1) * 256] for p in perms])  # (S, B): each seed its own order
            logits = snet(X[idx].reshape(idx.shape[0], idx.shape[1], -1))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[idx].reshape(-1)) * S  # sum of S means
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    # Same meaning: after a few steps the stacked seed s has the weights of the single run of seed s.
    k = 5
    single = models.reference_mlp(1).to(device)
    opt1 = torch.optim.Adam(single.parameters(), lr=1e-3)
    snet = StackedMLP([models.reference_mlp(s) for s in range(S)], device)
    opt_s = torch.optim.Adam(snet.params(), lr=1e-3)
    g1 = torch.Generator().manual_seed(1)
    gens = [torch.Generator().manual_seed(s) for s in range(S)]
    perm1 = torch.randperm(len(X), generator=g1).to(device)
    perms = [torch.randperm(len(X), generator=g).to(device) for g in gens]
    for i in range(k):
        sl = perm1[i * 256:(i + 1) * 256]
        loss = F.cross_entropy(single(X[sl]), y[sl])
        opt1.zero_grad()
        loss.backward()
        opt1.step()
        idx = torch.stack([p[i * 256:(i + 1) * 256] for p in perms])
        logits = snet(X[idx].reshape(idx.shape[0], idx.shape[1], -1))
        loss = F.cross_entropy(logits.reshape(-1, 10), y[idx].reshape(-1)) * S
        opt_s.zero_grad()
        loss.backward()
        opt_s.step()
    w_single = [m.weight for m in single.modules() if isinstance(m, torch.nn.Linear)][0]
    same = (snet.W[0][1 % S] - w_single).abs().max().item() if S > 1 else (snet.W[0][0] - w_single).abs().max().item()

    times = {"b": [], "d": [], "e": [], "c": [], "b_times_S": []}
    for _ in range(args.repeats):
        net = models.reference_mlp(0).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        epoch(net, opt, torch.Generator().manual_seed(0)) if not times["b"] else None  # warm-up once
        times["b"].append(_timed(lambda: epoch(net, opt, torch.Generator().manual_seed(0)), sync))
        times["d"].append(_timed(lambda: train.evaluate(net, Xv, yv), sync))
        net_e = models.reference_mlp(0).to(device)
        opt_e = optim.Adam(net_e.parameters(), lr=1e-3)
        times["e"].append(_timed(lambda: epoch(net_e, opt_e, torch.Generator().manual_seed(0)), sync))
        nets = [models.reference_mlp(s).to(device) for s in range(S)]
        opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in nets]
        times["b_times_S"].append(_timed(lambda: [epoch(m, o, torch.Generator().manual_seed(s))
                                                  for s, (m, o) in enumerate(zip(nets, opts))], sync))
        snet = StackedMLP([models.reference_mlp(s) for s in range(S)], device)
        opt_s = torch.optim.Adam(snet.params(), lr=1e-3)
        times["c"].append(_timed(lambda: stacked_epoch(snet, opt_s, [torch.Generator().manual_seed(s)
                                                                       for s in range(S)]), sync))
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {
        "device": str(device), "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
        "batches_per_epoch": n_batches, "seeds": S, "repeats": args.repeats,
        "train_epoch_s": med["b"], "evaluate_val_s": med["d"], "evaluate_share_of_epoch": med["d"] / med["b"],
        "from_scratch_adam_epoch_s": med["e"], "from_scratch_over_torch": med["e"] / med["b"],
        "seeds_one_after_another_s": med["b_times_S"], "seeds_stacked_s": med["c"],
        "stacked_speedup": med["b_times_S"] / med["c"], "stacked_max_weight_difference": same,
    }
    print(f"device {device} ({res['gpu'] or str(res['cpus']) + ' CPUs'}), {n_batches} batches per epoch, "
          f"median of {args.repeats}")
    print(f"(b) training epoch, torch Adam          : {med['b']:7.3f} s")
    print(f"(d) evaluation of 10k validation images  : {med['d']:7.3f} s ({100 * res['evaluate_share_of_epoch']:.0f} % of an epoch)")
    print(f"(e) training epoch, from-scratch Adam    : {med['e']:7.3f} s ({res['from_scratch_over_torch']:.2f}x torch's)")
    print(f"(c) {S} seeds one after another / stacked : {med['b_times_S']:7.3f} s / {med['c']:.3f} s "
          f"= {res['stacked_speedup']:.2f}x (max weight difference to the single run after {k} steps: {same:.1e})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
