"""course_utils.mup: the from-scratch μP against the ``mup`` package (Microsoft's reference implementation).

The reference network is built from ``mup``'s own pieces, ``nn.Linear`` layers and a ``MuReadout``, with
``set_base_shapes`` (which rescales the readout's initial weights) and ``MuAdam`` (which sets the per-layer
rates). Same seed, same data: the two must hold the same weights at initialisation and after every Adam step,
at several base and target widths.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import mup as M

mup = pytest.importorskip("mup")  # the reference (requirements.txt, "# Tests")


class RefMLP(nn.Module):
    """784 → n → n → 10 with mup's MuReadout, drawn from the global RNG in the same order as models.MLP."""

    def __init__(self, width: int):
        super().__init__()
        self.inp = nn.Linear(784, width)
        self.hidden = nn.Linear(width, width)
        self.out = mup.MuReadout(width, 10)

    def forward(self, x):
        return self.out(F.relu(self.hidden(F.relu(self.inp(x.flatten(1))))))


def reference(width: int, base_width: int, seed: int) -> RefMLP:
    torch.manual_seed(seed)  # the global generator: the same algorithm and draws as torch.Generator().manual_seed
    net = RefMLP(width)
    torch.manual_seed(12345)  # base and delta models must not move the draws above; their own are discarded
    mup.set_base_shapes(net, RefMLP(base_width), delta=RefMLP(base_width + 1))
    return net


def ours_vs_reference(net: nn.Module, ref: RefMLP) -> list[tuple[torch.Tensor, torch.Tensor]]:
    lin = net.linears
    return [(lin[0].weight, ref.inp.weight), (lin[0].bias, ref.inp.bias), (lin[1].weight, ref.hidden.weight),
            (lin[1].bias, ref.hidden.bias), (lin[2].weight, ref.out.weight), (lin[2].bias, ref.out.bias)]


def batch(seed: int = 0, n: int = 32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 784, generator=g, dtype=torch.float64), torch.randint(0, 10, (n,), generator=g)


CASES = [(32, 32), (32, 96), (64, 128), (64, 256), (64, 1024), (100, 700)]  # (base width, width), m from 1 to 16


@pytest.mark.parametrize("base_width,width", CASES)
def test_init_equals_mup(base_width, width):
    seed = 3
    ours = M.mlp(width, "mup", seed=seed, base_width=base_width)
    ref = reference(width, base_width, seed)
    for a, b in ours_vs_reference(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    x, _ = batch()
    torch.testing.assert_close(ours(x.float()), ref(x.float()), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("base_width,width", [(64, 64), (64, 4096), (128, 2048)])
def test_init_scales(base_width, width):
    """Per-layer scales of the table in the module docstring: U(±b) has standard deviation b/√3."""
    net = M.mlp(width, "mup", seed=0, base_width=base_width)
    inp, hidden, out = net.linears
    m = width / base_width
    for w, bound in [(inp.weight, 1 / math.sqrt(784)), (hidden.weight, 1 / math.sqrt(width)),
                     (out.weight, 1 / math.sqrt(base_width))]:
        assert w.abs().max().item() <= bound + 1e-7
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert out.mult == pytest.approx(1 / m)
    # the effective readout weight W/m has standard deviation ∝ 1/width (SP's: 1/√width)
    assert (out.weight * out.mult).std().item() == pytest.approx(base_width / width / math.sqrt(3 * base_width), rel=0.05)
    sp = M.mlp(width, "sp", seed=0)
    assert sp.linears[-1].weight.std().item() == pytest.approx(1 / math.sqrt(3 * width), rel=0.05)


@pytest.mark.parametrize("base_width,width", CASES)
def test_adam_steps_equal_muadam(base_width, width):
    seed, lr, steps = 1, 0.01, 4
    ours = M.mlp(width, "mup", seed=seed, base_width=base_width).double()
    ref = reference(width, base_width, seed).double()
    opt_ours = M.adam(ours, lr)
    opt_ref = mup.MuAdam(ref.parameters(), lr=lr)
    for t in range(steps):
        x, y = batch(t)
        for net, opt in ((ours, opt_ours), (ref, opt_ref)):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        for a, b in ours_vs_reference(ours, ref):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("width", [64, 256])
def test_per_layer_rates(width):
    net = M.mlp(width, "mup", base_width=64)
    lr_of = {id(p): g["lr"] for g in M.adam(net, 0.1).param_groups for p in g["params"]}
    m = width / 64
    inp, hidden, out = net.linears
    assert lr_of[id(hidden.weight)] == pytest.approx(0.1 / m)
    for p in (inp.weight, inp.bias, hidden.bias, out.weight, out.bias):
        assert lr_of[id(p)] == pytest.approx(0.1)
    assert len(lr_of) == len(list(net.parameters()))
    assert [g["lr"] for g in M.adam(M.mlp(width, "sp"), 0.1).param_groups] == [0.1]


def test_base_width_is_standard():
    """At the base width μP is SP: the same network, the same Adam steps."""
    sp, mu = M.mlp(64, "sp", seed=2).double(), M.mlp(64, "mup", seed=2, base_width=64).double()
    opts = [M.adam(sp, 0.01), M.adam(mu, 0.01)]
    for t in range(3):
        x, y = batch(t)
        for net, opt in zip((sp, mu), opts):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
    torch.testing.assert_close(sp(x), mu(x), rtol=1e-12, atol=1e-12)


def test_coordinate_check():
    """After one Adam step the hidden layer's and the logits' change grows with width under SP and not under μP."""
    x, y = batch(0, 64)
    cc = M.coord_check([32, 512], x.float(), y, lr=0.01, steps=1, seeds=[0, 1])
    at1 = cc[cc.step == 1].groupby(["parametrization", "layer", "width"])["change"].mean()
    # measured: SP's hidden change 2.6 times and its logits' 12 times larger at width 512 than at 32; μP's 1.0 and 0.75
    assert at1["sp", "hidden layer", 512] / at1["sp", "hidden layer", 32] > 2
    assert at1["sp", "output (logits)", 512] / at1["sp", "output (logits)", 32] > 5
    for layer in ("hidden layer", "output (logits)"):
        assert 0.6 < at1["mup", layer, 512] / at1["mup", layer, 32] < 1.5
    for par in M.PARAMETRIZATIONS:  # the input layer's fan-in is 784 at every width: flat in both
        assert 0.6 < at1[par, "input layer", 512] / at1[par, "input layer", 32] < 1.5
    assert (cc[cc.step == 0]["change"] == 0).all()


def test_best_log2_rate():
    k = np.arange(-10, -3)
    loss = np.exp((k + 6.3) ** 2)  # log loss a parabola with its vertex at -6.3
    best, inside = M.best_log2_rate(k, loss)
    assert inside and best == pytest.approx(-6.3)
    assert M.best_log2_rate(k, np.exp(k)) == (-10.0, False)  # lowest at the grid's end
    loss[k == -6] = np.inf  # a diverged run is never the best
    assert M.best_log2_rate(k, loss)[0] != -6


def test_bad_parametrization():
    with pytest.raises(ValueError, match="parametrization"):
        M.mlp(64, "ntk")
