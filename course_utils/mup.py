"""The maximal-update parametrization (μP) of an MLP, from scratch, against the standard one.

A network of width :math:`n` is compared with a *base* network of width :math:`n_0`; write
:math:`m = n / n_0` for the width multiplier.  Under the **standard parametrization** (SP) every
``nn.Linear`` keeps PyTorch's default initialisation and Adam uses one rate :math:`\\eta` for all
parameters.  Under **μP** for Adam (Yang et al., 2022, Table 8, the form of the ``mup`` package):

=================  ===========================================  ==========================
layer              initialisation                               Adam learning rate
=================  ===========================================  ==========================
input (784 → n)    PyTorch default, :math:`\\mathcal U(\\pm 1/\\sqrt{784})`    :math:`\\eta`
hidden (n → n)     weight PyTorch default, :math:`\\mathcal U(\\pm 1/\\sqrt{n})`;  weight :math:`\\eta/m`, bias :math:`\\eta`
                   bias as at the base width, :math:`\\mathcal U(\\pm 1/\\sqrt{n_0})`
readout (n → 10)   as at the base width, :math:`\\mathcal U(\\pm 1/\\sqrt{n_0})`  :math:`\\eta`
=================  ===========================================  ==========================

and the readout multiplies its input by :math:`1/m` (:class:`Readout`).  At :math:`n = n_0` both
parametrizations are the same network with the same optimizer, so a rate tuned on the base width is
the same rate for both.

Reference: G. Yang, E. J. Hu, I. Babuschkin, S. Sidor, X. Liu, D. Farhi, N. Ryder, J. Pachocki, W. Chen,
J. Gao, "Tensor Programs V: Tuning large neural networks via zero-shot hyperparameter transfer",
arXiv:2203.03466, 2022; G. Yang, E. J. Hu, "Feature learning in infinite-width neural networks", ICML 2021.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import models, train
from ._io import atomic_write_bytes
from .config import cache_dir, progress_enabled

__all__ = ["PARAMETRIZATIONS", "Readout", "mlp", "param_groups", "adam", "layer_outputs", "rms", "LAYER_NAMES",
           "coord_check",
           "sweep_run", "sweep", "best_log2_rate", "optima"]

PARAMETRIZATIONS = ("sp", "mup")


class Readout(nn.Linear):
    """The μP output layer: ``nn.Linear`` applied to ``mult * x`` (``mult`` = :math:`1/m`).

    .. math::  y = W\\,(x / m) + b
    """

    def __init__(self, in_features: int, out_features: int, mult: float):
        super().__init__(in_features, out_features)
        self.mult = float(mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x * self.mult, self.weight, self.bias)


def mlp(width: int, parametrization: str = "sp", *, seed: int = 0, base_width: int = 64,
        zero_readout: bool = False) -> models.MLP:
    """The MLP ``784 → width → width → 10`` (ReLU) in the standard parametrization or in μP.

    Both start from the same default draw (PyTorch's, from ``torch.Generator().manual_seed(seed)``); μP
    then replaces the last layer by a :class:`Readout` with multiplier :math:`1/m` whose weight and bias
    are the default draw times :math:`\\sqrt m`, i.e. :math:`\\mathcal U(\\pm 1/\\sqrt{n_0})`, the readout of
    the base network (or zero, with ``zero_readout``), and scales the hidden layer's bias by :math:`\\sqrt m`
    too, to its size at the base width (a bias is a vector of width-many numbers, each Θ(1) in μP).
    """
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"parametrization must be one of {PARAMETRIZATIONS}, got {parametrization!r}.")
    net = models.MLP("relu", hidden_sizes=(width, width), generator=torch.Generator().manual_seed(seed))
    net.config.update(parametrization=parametrization, seed=seed)
    if parametrization == "mup":
        m = width / base_width
        last = net.layers[-1]
        readout = Readout(width, last.out_features, mult=1 / m)
        with torch.no_grad():
            readout.weight.copy_(0 if zero_readout else last.weight * math.sqrt(m))
            readout.bias.copy_(0 if zero_readout else last.bias * math.sqrt(m))
        net.layers[-1] = readout
        with torch.no_grad():
            net.linears[1].bias.mul_(math.sqrt(m))  # the n → n layer's bias, U(±1/√n₀)
        net.config.update(base_width=base_width, zero_readout=zero_readout)
    return net


def param_groups(net: models.MLP, lr: float) -> list[dict]:
    """Adam's parameter groups: one rate for SP; for μP the hidden weights at :math:`\\eta/m`, the rest at :math:`\\eta`."""
    if net.config["parametrization"] == "sp":
        return [{"params": list(net.parameters()), "lr": lr}]
    m = net.config["hidden_sizes"][0] / net.config["base_width"]
    hidden = [lin.weight for lin in net.linears[1:-1]]  # the n × n matrices
    rest = [p for p in net.parameters() if all(p is not h for h in hidden)]
    return [{"params": rest, "lr": lr}, {"params": hidden, "lr": lr / m}]


def adam(net: models.MLP, lr: float) -> torch.optim.Adam:
    """``torch.optim.Adam`` with the per-layer rates of :func:`param_groups` (torch's defaults otherwise)."""
    return torch.optim.Adam(param_groups(net, lr))


@torch.no_grad()
def layer_outputs(net: models.MLP, x: torch.Tensor) -> list[torch.Tensor]:
    """Every Linear layer's output on ``x``: its pre-activations, for the last layer the logits."""
    out, h = [], x.flatten(1)
    for layer in net.layers:
        h = layer(h)
        if isinstance(layer, nn.Linear):
            out.append(h)
    return out


def rms(t: torch.Tensor) -> float:
    """Root mean square of the entries: the typical size of one coordinate."""
    return t.pow(2).mean().sqrt().item()


LAYER_NAMES = ("input layer", "hidden layer", "output (logits)")


def coord_check(widths: Sequence[int], X: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int,
                seeds: Sequence[int], base_width: int = 64) -> pd.DataFrame:
    r"""The coordinate check: train each width for ``steps`` Adam steps on the batch ``(X, y)`` and measure
    every layer's output on it (:func:`layer_outputs`) before every step and after the last.

    Returns:
        One row per parametrization, width, seed, step ``t = 0 … steps`` and layer, with ``rms`` (the size
        of the output's coordinates, :func:`rms`) and ``change`` (the size of its change since step 0,
        :math:`\mathrm{rms}(h_t - h_0)`).
    """
    rows = []
    for par in PARAMETRIZATIONS:
        for width in widths:
            for seed in seeds:
                net = mlp(width, par, seed=seed, base_width=base_width).to(X.device)
                opt = adam(net, lr)
                start = layer_outputs(net, X)
                for t in range(steps + 1):
                    for layer, h0, h in zip(LAYER_NAMES, start, layer_outputs(net, X)):
                        rows.append({"parametrization": par, "width": width, "seed": seed, "step": t,
                                     "layer": layer, "rms": rms(h), "change": rms(h - h0)})
                    if t < steps:
                        opt.zero_grad(set_to_none=True)
                        F.cross_entropy(net(X), y).backward()
                        opt.step()
    return pd.DataFrame(rows)


def sweep_run(data, width: int, parametrization: str, lr: float, *, seed: int, epochs: int,
              batch_size: int = 128, base_width: int = 64, use_cache: bool = True) -> dict:
    """One run of a learning-rate sweep: Adam at ``lr`` for ``epochs`` epochs (:func:`course_utils.train.fit`),
    cached under ``<cache>/mup/`` by everything that decides it.

    Returns:
        ``{"train_loss", "val_loss", "val_acc"}`` after the last epoch (the training loss measured on the
        whole training set with the final weights; ``inf`` when the run diverged) and ``seconds``.
    """
    if width == base_width:  # μP at its base width is SP (the same network and steps, tests/test_mup.py)
        parametrization = "sp"
    desc = {"width": width, "par": parametrization, "lr": lr, "seed": seed, "epochs": epochs, "bs": batch_size,
            "base": base_width, "data": data.fingerprint(), "torch": torch.__version__.split("+")[0],
            "src": train.package_source_hash(("mup",))}
    path = cache_dir("mup") / (hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:24] + ".json")
    if use_cache and path.is_file():
        try:
            return json.loads(path.read_text())
        except (ValueError, OSError):
            pass  # unreadable: run again and overwrite
    device = data.train[0].device
    net = mlp(width, parametrization, seed=seed, base_width=base_width).to(device)
    try:
        res = train.fit(net, adam(net, lr), data, epochs=epochs, batch_size=batch_size, progress=False,
                        generator=torch.Generator().manual_seed(seed))
        _, train_loss = train.evaluate(net, *data.train)
        out = {"train_loss": train_loss if math.isfinite(train_loss) else math.inf,
               "val_loss": res.val_loss[-1], "val_acc": res.val_acc[-1], "seconds": res.seconds}
    except FloatingPointError:
        out = {"train_loss": math.inf, "val_loss": math.inf, "val_acc": math.nan, "seconds": math.nan}
    if use_cache:
        atomic_write_bytes(path, json.dumps(out).encode())
    return out


def sweep(data, widths: Sequence[int], log2_rates: Sequence[int], *, seeds: Sequence[int], epochs: int,
          batch_size: int = 128, base_width: int = 64) -> pd.DataFrame:
    """:func:`sweep_run` for every parametrization, width, rate :math:`2^k` and seed (one row each)."""
    from tqdm.auto import tqdm

    grid = [(p, w, k, s) for p in PARAMETRIZATIONS for w in widths for k in log2_rates for s in seeds]
    rows = []
    for par, width, k, seed in tqdm(grid, desc="learning-rate sweep", leave=False,
                                    disable=not progress_enabled(None)):
        r = sweep_run(data, width, par, 2.0 ** k, seed=seed, epochs=epochs, batch_size=batch_size,
                      base_width=base_width)
        rows.append({"parametrization": par, "width": width, "log2 lr": k, "seed": seed, **r})
    return pd.DataFrame(rows)


def best_log2_rate(log2_rates: Sequence[float], losses: Sequence[float]) -> tuple[float, bool]:
    """The log2 rate of lowest loss, refined by the parabola through the best grid point and its two
    neighbours (in log2 rate and log loss).

    Returns:
        ``(log2 rate, inside)``: ``inside`` is False when the best grid point is an end of the grid (then
        that end is returned: the optimum may lie beyond it).
    """
    k, loss = np.asarray(log2_rates, float), np.log(np.asarray(losses, float))
    loss = np.where(np.isfinite(loss), loss, np.inf)
    i = int(np.argmin(loss))
    if i == 0 or i == len(k) - 1 or not np.isfinite(loss[[i - 1, i + 1]]).all():
        return float(k[i]), False
    a, b, _ = np.polyfit(k[i - 1:i + 2], loss[i - 1:i + 2], 2)
    return float(np.clip(-b / (2 * a), k[i - 1], k[i + 1])), True


def optima(table: pd.DataFrame, loss: str = "train_loss") -> pd.DataFrame:
    """Per parametrization, width and seed: the best log2 rate (:func:`best_log2_rate`), whether it is inside
    the grid, and the loss at the best grid rate."""
    rows = []
    for (par, width, seed), g in table.groupby(["parametrization", "width", "seed"], sort=False):
        g = g.sort_values("log2 lr")
        k, inside = best_log2_rate(g["log2 lr"], g[loss])
        rows.append({"parametrization": par, "width": width, "seed": seed, "best log2 lr": k, "inside": inside,
                     "best loss": float(g[loss].min())})
    return pd.DataFrame(rows)
