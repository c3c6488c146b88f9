"""Tests of course_utils.muon: equal to torch.optim.Muon, what Newton–Schulz does to singular values, the
documented form against the code's, the Muon+AdamW split, and errors a learner can act on."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import muon as M
from course_utils import train

torch_ns = pytest.importorskip("torch.optim._muon")._zeropower_via_newtonschulz

SHAPES = list(M.PARITY_SHAPES.values())  # tall, wide, square
SHAPE_IDS = list(M.PARITY_SHAPES)
SETTINGS = [
    {},
    dict(nesterov=False),
    dict(lr=2e-3, adjust_lr_fn="match_rms_adamw"),
    dict(lr=5e-3, adjust_lr_fn="spectral_unclamped", weight_decay=0.0),
    dict(adjust_lr_fn="original", momentum=0.0, ns_steps=3),
    dict(momentum=0.5, weight_decay=0.3, eps=1e-3),
]


def _spectrum_matrix(shape, sigmas, seed=0, dtype=torch.float64):
    """U diag(sigmas) V^T with random orthonormal U, V (for a known spectrum)."""
    A, B = shape
    g = torch.Generator().manual_seed(seed)
    n = min(A, B)
    U, _ = torch.linalg.qr(torch.randn(A, n, generator=g, dtype=dtype))  # (A, n)
    V, _ = torch.linalg.qr(torch.randn(B, n, generator=g, dtype=dtype))  # (B, n)
    return U @ torch.diag(torch.as_tensor(sigmas, dtype=dtype)) @ V.T, U, V


# ----------------------------------------------------------------------------- equal to torch.optim.Muon
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("kw", SETTINGS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
def test_muon_equals_torch_bit_for_bit_in_float32(shape, kw):
    ours = M.least_squares_run(lambda p: M.Muon(p, **kw), shape, steps=100)
    ref = M.least_squares_run(lambda p: torch.optim.Muon(p, **kw), shape, steps=100)
    assert torch.equal(ours, ref), (ours - ref).abs().max()
    start = M.least_squares_run(lambda p: M.Muon(p, **kw), shape, steps=0)
    assert not torch.equal(ours, start)  # it moved


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_newton_schulz_equals_torch_and_leaves_its_input_alone(shape):
    G = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    assert torch.equal(M.newton_schulz(G), torch_ns(G, M.NS_COEFFICIENTS, M.NS_STEPS, M.EPS))
    Gb = G.bfloat16()
    before = Gb.clone()
    M.newton_schulz(Gb)
    assert torch.equal(Gb, before)  # torch's divides a bfloat16 input in place (see the next test)


@pytest.mark.parametrize("shape", SHAPES[:2], ids=SHAPE_IDS[:2])
def test_bfloat16_momentum_buffer_is_not_normalized_in_place(shape):
    """With bfloat16 weights and nesterov=False, torch 2.14's Newton–Schulz divides the momentum buffer itself by
    its norm (``grad.bfloat16()`` returns the same tensor; pytorch/pytorch#194664). Ours keeps the average."""
    W = nn.Parameter(torch.zeros(*shape, dtype=torch.bfloat16))
    opt = M.Muon([W], lr=0.0, weight_decay=0.0, momentum=0.9, nesterov=False)
    W.grad = torch.full_like(W, 10.0)
    opt.step()
    assert torch.equal(opt.state[W]["momentum_buffer"], torch.zeros_like(W).lerp_(W.grad, 0.1))
    # with Nesterov the input to Newton–Schulz is a new tensor in both: equal to torch bit for bit
    ours = M.least_squares_run(lambda p: M.Muon(p), shape, steps=30, dtype=torch.bfloat16)
    ref = M.least_squares_run(lambda p: torch.optim.Muon(p), shape, steps=30, dtype=torch.bfloat16)
    assert torch.equal(ours, ref)


def test_the_parity_check_can_fail():
    """Wrong coefficients (c = 2.0 for 2.0315) are caught, by the matrix test and by the trajectory test."""
    wrong = (3.4445, -4.7750, 2.0)
    G = torch.randn(64, 32, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(M.newton_schulz(G, coefficients=wrong), torch_ns(G, M.NS_COEFFICIENTS, 5, M.EPS))
    table = M.parity_table(steps=20, settings=[dict(ns_coefficients=wrong)], shapes={"tall": (96, 40)})
    ours = M.least_squares_run(lambda p: M.Muon(p, ns_coefficients=wrong), (96, 40), steps=20)
    ref = M.least_squares_run(lambda p: torch.optim.Muon(p), (96, 40), steps=20)
    assert not torch.equal(ours, ref) and (ours - ref).abs().max() > 1e-5
    assert table["identical bits"].all()  # both sides use the wrong coefficients there: identical again


def test_parity_table_rows():
    table = M.parity_table(steps=10, settings=[{}, dict(nesterov=False)])
    assert len(table) == 2 * len(M.PARITY_SHAPES)
    assert table["identical bits"].all() and (table["max |ours − torch|"] == 0).all()


# ----------------------------------------------------------------------------- what Newton–Schulz does
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_newton_schulz_is_the_scalar_map_on_each_singular_value(shape):
    """In float64 the iteration is exactly U phi^k(Sigma / ||G||_F) V^T (an odd matrix polynomial)."""
    G = torch.randn(*shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    U, S, Vh = torch.linalg.svd(G, full_matrices=False)
    for steps in (1, 3, 5):
        want = U @ torch.diag(torch.from_numpy(M.singular_value_map((S / G.norm()).numpy(), steps))) @ Vh
        got = M.newton_schulz(G, steps, dtype=torch.float64)
        assert got.dtype == torch.float64 and got.shape == G.shape
        assert torch.allclose(got, want, atol=1e-10, rtol=0), (got - want).abs().max()


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_singular_values_land_in_the_quintic_band_near_the_polar_factor(shape):
    """bfloat16 Newton–Schulz on a matrix whose normalized singular values span [0.02, 1] x sigma_max: every output
    singular value lies where the scalar map puts it (to bfloat16 accuracy), inside the band, and the result is
    within max|phi^5 - 1| of the exact polar factor U V^T in the spectral norm."""
    n = min(shape)
    sig = np.geomspace(1.0, 0.02, n) * 7.0
    G, U, V = _spectrum_matrix(shape, sig, seed=4)
    O = M.newton_schulz(G.float()).double()                      # bfloat16 inside, as Muon runs it
    out = torch.linalg.svdvals(O).numpy()                         # descending
    pred = np.sort(M.singular_value_map(sig / np.linalg.norm(sig)))[::-1]
    lo, hi = M.quintic_band()
    assert np.abs(np.sort(out) - np.sort(pred)).max() < 0.03, np.abs(np.sort(out) - np.sort(pred)).max()
    assert lo - 0.03 < out.min() and out.max() < hi + 0.03, (out.min(), out.max(), lo, hi)
    polar = U @ V.T
    dist = torch.linalg.matrix_norm(O - polar, ord=2).item()
    assert dist < np.abs(pred - 1).max() + 0.03, (dist, np.abs(pred - 1).max())
    assert np.abs(pred - 1).max() < 0.35  # near, not equal: the quintic trades accuracy for speed


def test_quintic_band_is_invariant_and_the_cubic_converges_to_one():
    lo, hi = M.quintic_band()
    assert 0.6 < lo < 0.75 and 1.15 < hi < 1.25
    s = np.linspace(lo, hi, 5001)
    once = M.singular_value_map(s, 1)
    assert once.min() >= lo - 1e-12 and once.max() <= hi + 1e-12
    small = np.geomspace(1e-3, 1.0, 200)
    assert M.singular_value_map(small, 5).min() > 0.45  # 5 steps lift even 1e-3 of the norm to 0.47
    assert np.allclose(M.singular_value_map(np.linspace(0.1, 1, 50), 30, M.CUBIC_COEFFICIENTS), 1.0, atol=1e-9)
    assert M.singular_value_map(1e-3, 5, M.CUBIC_COEFFICIENTS) < 0.01  # the cubic is slow from small values
    with pytest.raises(ValueError, match="quintic"):
        M.quintic_band(M.CUBIC_COEFFICIENTS)


# ----------------------------------------------------------------------------- documented form vs code
@pytest.mark.parametrize("nesterov", [True, False])
def test_documented_sum_form_differs_from_the_code_by_rounding_only(nesterov):
    beta = 0.95
    g = torch.Generator().manual_seed(5)
    grads = [torch.randn(48, 80, generator=g, dtype=torch.float64) for _ in range(30)]  # (48, 80) each
    m = torch.zeros(48, 80, dtype=torch.float64)
    B = torch.zeros_like(m)
    for gt in grads:
        m.lerp_(gt, 1 - beta)
        B.mul_(beta).add_(gt)
        u = gt.lerp(m, beta) if nesterov else m
        u_doc = gt + beta * B if nesterov else B
        assert (u - (1 - beta) * u_doc).norm() < 1e-13 * u.norm()  # the average is (1 - beta) x the sum
        exact = (M.newton_schulz(u, dtype=torch.float64) - M.newton_schulz(u_doc, dtype=torch.float64)).abs().max()
        assert exact < 1e-13
    # whole trajectories, bfloat16 as in the optimizers: close, not bit-identical
    for shape in SHAPES:
        code = M.least_squares_run(lambda p: M.Muon(p, lr=2e-2, nesterov=nesterov), shape, steps=100)
        doc = M.least_squares_run(lambda p: M.DocumentedMuon(p, lr=2e-2, nesterov=nesterov), shape, steps=100)
        start = M.least_squares_run(lambda p: M.Muon(p), shape, steps=0)
        moved = (code - start).norm()
        assert (code - doc).norm() < 0.02 * moved, ((code - doc).norm(), moved)


def test_documented_form_is_not_the_code_bit_for_bit():
    """The check above can tell the two apart: the bfloat16 rounding of 0.05 x u is not 0.05 x the rounding of u."""
    shape = M.PARITY_SHAPES["square"]
    code = M.least_squares_run(lambda p: M.Muon(p), shape, steps=50)
    doc = M.least_squares_run(lambda p: M.DocumentedMuon(p), shape, steps=50)
    assert not torch.equal(code, doc)


# ----------------------------------------------------------------------------- Muon + AdamW
def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 24), nn.ReLU(),
                         nn.Linear(24, 3)).double()


def test_muon_adamw_splits_hidden_matrices_from_the_rest():
    net = _mlp()
    opt = M.muon_adamw(net.parameters(), lr=1e-3)
    muon_ids = {id(p) for g in opt.param_groups if g["use_muon"] for p in g["params"]}
    assert muon_ids == {id(net[2].weight), id(net[4].weight)}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(net.parameters()))
    everything = M.muon_adamw(net.parameters(), first_and_last="muon")
    assert {id(p) for g in everything.param_groups if g["use_muon"] for p in g["params"]} == \
        {id(net[i].weight) for i in (0, 2, 4, 6)}


def test_muon_with_adamw_equals_torch_muon_plus_torch_adamw():
    """One step of ours == torch.optim.Muon on the hidden matrices and torch.optim.AdamW on the rest (float64
    weights; Newton–Schulz in bfloat16 in both)."""
    X = torch.randn(64, 12, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(7))
    finals = []
    for kind in ("ours", "torch"):
        net = _mlp()
        hidden = [net[2].weight, net[4].weight]
        rest = [p for p in net.parameters() if all(p is not h for h in hidden)]
        if kind == "ours":
            opts = [M.muon_adamw(net.parameters(), lr=3e-3, weight_decay=0.05)]
        else:
            opts = [torch.optim.Muon(hidden, lr=3e-3, weight_decay=0.05, adjust_lr_fn="match_rms_adamw"),
                    torch.optim.AdamW(rest, lr=3e-3, weight_decay=0.05)]
        for _ in range(60):
            for o in opts:
                o.zero_grad()
            nn.functional.cross_entropy(net(X), y).backward()
            for o in opts:
                o.step()
        finals.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    a, b = finals
    assert ((a - b).abs() / b.abs().clamp_min(1e-8)).max() < 1e-6


def test_state_dict_round_trip_and_schedulers():
    def run(split: bool):
        net = _mlp()
        X = torch.randn(32, 12, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
        y = torch.randint(0, 3, (32,), generator=torch.Generator().manual_seed(9))
        opt = M.muon_adamw(net.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
        for t in range(20):
            if split and t == 10:  # rebuild everything from state dicts, as a resumed run does
                sd_net, sd_opt, sd_s = net.state_dict(), opt.state_dict(), sched.state_dict()
                net = _mlp(1)
                net.load_state_dict(sd_net)
                opt = M.muon_adamw(net.parameters(), lr=1e-2)
                opt.load_state_dict(sd_opt)
                sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
                sched.load_state_dict(sd_s)
            opt.zero_grad()
            nn.functional.cross_entropy(net(X), y).backward()
            opt.step()
            sched.step()
        return torch.cat([p.detach().flatten() for p in net.parameters()]), opt.param_groups[0]["lr"]
    (a, lr_a), (b, lr_b) = run(False), run(True)
    assert torch.equal(a, b) and math.isclose(lr_a, 1e-2 / 16) and lr_a == lr_b


def test_a_muon_run_is_keyed_by_this_module():
    opt = M.muon_adamw(_mlp().parameters())
    assert "muon" in train._defining_modules(opt)


@pytest.mark.parametrize("fn, want", [(None, 1.0), ("original", 1.0), ("match_rms_adamw", 0.2 * math.sqrt(512)),
                                      ("spectral_unclamped", math.sqrt(0.5))])
def test_adjust_lr(fn, want):
    assert math.isclose(M.adjust_lr(1.0, fn, (256, 512)), want)
    assert math.isclose(M.adjust_lr(1.0, "original", (512, 128)), 2.0)


# ----------------------------------------------------------------------------- errors a learner can act on
@pytest.mark.parametrize("kw, match", [
    (dict(lr=-1.0), "learning rate"),
    (dict(momentum=1.0), "momentum"),
    (dict(momentum=-0.1), "momentum"),
    (dict(weight_decay=-0.1), "weight_decay"),
    (dict(adjust_lr_fn="rms"), "adjust_lr_fn"),
    (dict(ns_steps=100), "ns_steps"),
    (dict(ns_steps=2.5), "ns_steps"),
    (dict(ns_coefficients=(1.0, 2.0)), "ns_coefficients"),
    (dict(nesterov="yes"), "nesterov"),
])
def test_muon_rejects_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        M.Muon([nn.Parameter(torch.zeros(3, 4))], **kw)


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="muon_adamw"):
        M.Muon(nn.Linear(4, 3).parameters())  # the bias is 1-D
    with pytest.raises(ValueError, match="2-D"):
        M.newton_schulz(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="use_muon"):
        M.MuonWithAdamW([{"params": [nn.Parameter(torch.zeros(3, 4))]}])
    with pytest.raises(ValueError, match="Unknown arguments"):
        M.MuonWithAdamW([{"params": [nn.Parameter(torch.zeros(3))], "use_muon": False, "momentum": 0.9}])
    with pytest.raises(ValueError, match="beta"):
        M.MuonWithAdamW([{"params": [nn.Parameter(torch.zeros(3))], "use_muon": False, "betas": (0.9, 1.0)}])
    with pytest.raises(ValueError, match="first_and_last='muon'"):
        M.muon_adamw(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).parameters())
    with pytest.raises(ValueError, match="first_and_last"):
        M.muon_adamw(_mlp().parameters(), first_and_last="sgd")
