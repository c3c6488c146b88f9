"""course_utils.sharpness against an independent reference: the exact Hessian from
``torch.autograd.functional.hessian`` and its eigenvalues from ``torch.linalg.eigvalsh`` (float64)."""
import math

import pytest
import torch
from torch import nn

from course_utils import sharpness as S



@pytest.fixture(autouse=True)
def _float64():
    """Every test here in float64 (the reference's precision); the default dtype is restored after."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _tiny_problem(seed: int, loss: str):
    """A 3-4-3 tanh network on 12 random points: its parameters, a loss of the flat parameter vector."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(12, 3, generator=g)
    y = torch.randint(0, 3, (12,), generator=g)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    params = list(net.parameters())
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def flat_loss(theta):
        chunks = torch.split(theta, sizes)
        W1, b1, W2, b2 = (c.reshape(s) for c, s in zip(chunks, shapes))
        return S.LOSSES[loss](torch.tanh(X @ W1.T + b1) @ W2.T + b2, y)

    theta0 = torch.cat([p.detach().reshape(-1) for p in params])
    return net, X, y, flat_loss, theta0


def _exact_top(flat_loss, theta0):
    H = torch.autograd.functional.hessian(flat_loss, theta0)  # (P, P)
    ev = torch.linalg.eigvalsh((H + H.T) / 2)
    return H, ev


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_hvp_equals_exact_hessian_times_vector(seed, loss):
    net, X, y, flat_loss, theta0 = _tiny_problem(seed, loss)
    H, _ = _exact_top(flat_loss, theta0)
    params = list(net.parameters())
    g = torch.Generator().manual_seed(100 + seed)
    v = [torch.randn(p.shape, generator=g) for p in params]
    Hv = S.hvp(lambda: S.LOSSES[loss](net(X), y), params)(v)
    flat_v = torch.cat([x.reshape(-1) for x in v])
    torch.testing.assert_close(torch.cat([x.reshape(-1) for x in Hv]), H @ flat_v, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_top_eigenvalue_of_tiny_net_equals_exact(seed, loss):
    net, X, y, flat_loss, theta0 = _tiny_problem(seed, loss)
    _, ev = _exact_top(flat_loss, theta0)
    lam, vec, k = S.top_eigenvalue(net, S.LOSSES[loss], X, y, tol=1e-12, max_iter=5000,
                                   generator=torch.Generator().manual_seed(seed))
    dominant = ev[ev.abs().argmax()]  # power iteration finds the eigenvalue of largest magnitude
    assert lam == pytest.approx(float(dominant), rel=1e-5)
    assert k < 5000


@pytest.mark.parametrize("seed", range(8))
def test_power_iteration_on_random_symmetric_matrices(seed):
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(30, 30, generator=g))
    eig = torch.rand(30, generator=g) * 10 - 3          # some negative, the top one positive
    eig[0] = 12.0                                       # a gap: |λ2/λ1| ≤ 7/12
    A = Q @ torch.diag(eig) @ Q.T
    for tol in (1e-3, 1e-6, 1e-10):
        lam, v, k = S.power_iteration(lambda u: [A @ u[0]], [torch.randn(30, generator=g)], tol=tol, max_iter=10_000)
        # the tolerance is on the change of the estimate; the error is about that size
        assert abs(lam - 12.0) <= max(200 * tol * 12.0, 1e-9)
    v = v[0]
    assert torch.linalg.norm(A @ v - 12.0 * v) < 1e-3


@pytest.mark.parametrize("second", [2.0, -2.0, -2.7])
def test_power_iteration_rate_is_set_by_the_next_largest_magnitude(second):
    """The docstring's rate: the eigenvalue estimate's error shrinks by (|λ2|/|λ1|)² per product, λ2 the next
    largest in magnitude, which a negative eigenvalue can be (second = -2.7 is slower than +2.0)."""
    A = torch.diag(torch.tensor([3.0, second, 1.0, 0.5], dtype=torch.float64))
    v = torch.ones(4, dtype=torch.float64)
    errs = []
    for _ in range(12):
        v = A @ v / torch.linalg.norm(A @ v)
        errs.append(abs(float(v @ A @ v) - 3.0))
    rate = (errs[-1] / errs[-2])
    assert rate == pytest.approx((abs(second) / 3.0) ** 2, rel=0.02)
    _, _, k = S.power_iteration(lambda u: [A @ u[0]], [torch.ones(4, dtype=torch.float64)], tol=1e-10,
                                max_iter=10_000)
    # products needed to reach tol grow like 1/log(|λ1|/|λ2|)
    assert k == pytest.approx(math.log(1e-10) / (2 * math.log(abs(second) / 3.0)), abs=6)


def test_warm_start_needs_fewer_products():
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(40, 40, generator=g))
    A = Q @ torch.diag(torch.linspace(0.0, 10.0, 40)) @ Q.T
    matvec = lambda u: [A @ u[0]]  # noqa: E731
    _, cold_v, cold_k = S.power_iteration(matvec, [torch.randn(40, generator=g)], tol=1e-8, max_iter=10_000)
    _, _, warm_k = S.power_iteration(matvec, cold_v, tol=1e-8, max_iter=10_000)
    assert warm_k < cold_k / 5


def test_power_iteration_rejects_bad_arguments():
    with pytest.raises(ValueError, match="zero"):
        S.power_iteration(lambda u: u, [torch.zeros(3)])
    with pytest.raises(ValueError, match="tol"):
        S.power_iteration(lambda u: u, [torch.ones(3)], tol=0.0)


def test_gd_on_a_quadratic_is_stable_below_two_over_lambda_and_diverges_above():
    """The quadratic model's prediction: on L = ½ λ w², GD contracts by |1 - ηλ|."""
    lam = 4.0

    class Quad(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return self.w

    loss = lambda out, y: 0.5 * lam * (out ** 2).sum()  # noqa: E731
    for lr, grows in ((0.9 * 2 / lam, False), (1.1 * 2 / lam, True)):
        losses = S.full_batch_gd(Quad(), loss, torch.zeros(1), torch.zeros(1), lr, 50)
        assert (losses[-1] > losses[0]) == grows
        ratio = losses[1] / losses[0]
        assert ratio == pytest.approx((1 - lr * lam) ** 2)
    lam_hat, _, _ = S.top_eigenvalue(Quad(), loss, torch.zeros(1), torch.zeros(1), [torch.ones(1)])
    assert lam_hat == pytest.approx(lam)


def test_gd_sharpness_run_records_and_callback_schedule(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(20, 5, generator=g), torch.randint(0, 3, (20,), generator=g)

    def make():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3))

    single = S.gd_sharpness_run(make, X, y, 0.1, 25, every=10, pairs=False, key={"test": 1})
    assert single["sharp_steps"] == [0, 10, 20, 25] and len(single["loss"]) == 26 and not single["diverged"]
    assert len(single["products"]) == 4 and "sharpness_now" not in single
    r = S.gd_sharpness_run(make, X, y, 0.1, 25, every=10, key={"test": 1})  # pairs: t and t + 1
    assert r["sharp_steps"] == [0, 10, 20, 24] and len(r["products"]) == 8  # 0,1 10,11 20,21 24,25
    assert r["sharpness"] == pytest.approx([(a + b) / 2 for a, b in zip(r["sharpness_now"], r["sharpness_next"])])
    assert r["sharpness_now"][:3] == pytest.approx(single["sharpness"][:3], rel=1e-2)  # the same steps
    assert r["sharpness_next"][-1] == pytest.approx(single["sharpness"][-1], rel=1e-2)  # both at step 25
    assert len(list((tmp_path / "sharpness").glob("*.json"))) == 2
    again = S.gd_sharpness_run(make, X, y, 0.1, 25, every=10, key={"test": 1})
    assert again == r
    # the first measurement equals the exact top eigenvalue at the initial weights
    net = make()
    params = list(net.parameters())
    sizes, shapes = [p.numel() for p in params], [p.shape for p in params]

    def flat_loss(theta):
        W1, b1, W2, b2 = (c.reshape(s) for c, s in zip(torch.split(theta, sizes), shapes))
        return S.mse_loss(torch.tanh(X @ W1.T + b1) @ W2.T + b2, y)

    ev = torch.linalg.eigvalsh(torch.autograd.functional.hessian(flat_loss, torch.cat([p.detach().reshape(-1) for p in params])))
    assert r["sharpness_now"][0] == pytest.approx(float(ev[-1]), rel=1e-2)


def test_pair_schedule_calls_back_at_t_and_t_plus_one():
    """With pairs=True the callback runs at every k-th step, at the step after it, and at the last two steps."""
    for steps, every, want in ((25, 10, [0, 1, 10, 11, 20, 21, 24, 25]), (21, 10, [0, 1, 10, 11, 20, 21]),
                               (6, 2, [0, 1, 2, 3, 4, 5, 6]), (3, 1, [0, 1, 2, 3])):
        seen = []
        S.full_batch_gd(nn.Linear(2, 1), lambda o, y: (o ** 2).mean(), torch.ones(4, 2), torch.zeros(4), 0.01, steps,
                        callback=lambda t, m: seen.append(t), every=every, pairs=True)
        assert seen == want, (steps, every, seen)
        starts = S.pair_starts(steps, every)
        assert all(t in want and t + 1 in want for t in starts) and starts[-1] == steps - 1
    seen = []
    S.full_batch_gd(nn.Linear(2, 1), lambda o, y: (o ** 2).mean(), torch.ones(4, 2), torch.zeros(4), 0.01, 25,
                    callback=lambda t, m: seen.append(t), every=10)
    assert seen == [0, 10, 20, 25]


def test_pair_mean_removes_the_phase_of_a_two_step_oscillation():
    """GD on a quadratic whose curvature depends on the sign of the offset (ηλ = 2 ± ε by side) settles in
    a period-2 orbit: the curvature seen at even steps differs from the one at odd steps, their mean does not
    depend on which step a measurement starts on."""

    class Kink(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor([0.3]))

        def forward(self, x):  # with the square loss against the one-hot label 1: L = ½ λ(w) w²
            lam = torch.where(self.w > 0, torch.tensor(21.0), torch.tensor(19.0))  # 2/η·(1 ± 0.05), η = 0.1
            return (lam.sqrt() * self.w + 1).reshape(1, 1)

    r = S.gd_sharpness_run(Kink, torch.zeros(1, 1), torch.zeros(1, dtype=torch.long), 0.1, 40, every=10, tol=1e-8)
    now, nxt = torch.tensor(r["sharpness_now"]), torch.tensor(r["sharpness_next"])
    assert r["sharp_steps"] == [0, 10, 20, 30, 39]
    assert now[:4].tolist() == pytest.approx([21.0] * 4) and nxt[:4].tolist() == pytest.approx([19.0] * 4)  # even steps:
    assert now[4] == pytest.approx(19.0) and nxt[4] == pytest.approx(21.0)  # one phase; the last pair starts odd
    assert r["sharpness"] == pytest.approx([20.0] * len(r["sharpness"]))   # the pair mean: the limit 2/η
    s = S.edge_summary(r)
    assert s["late higher phase λ·η/2"] == pytest.approx(1.05) and s["late lower phase λ·η/2"] == pytest.approx(0.95)
    assert s["late mean λ·η/2"] == pytest.approx(1.0) and s["late loss alternation"] == pytest.approx(1.0)
    assert s["late two-step factor"] == pytest.approx(1.1 * 0.9)  # the orbit shrinks slowly: |1-2.1|·|1-1.9|


def test_alternation():
    assert S.alternation([1.0, 2.0, 1.5, 1.9, 1.2]) == 1.0
    assert S.alternation([4.0, 3.0, 2.0, 1.0]) == 0.0
    assert S.alternation([4.0, 3.0, 3.5, 3.0, 2.0]) == pytest.approx(2 / 3)
    assert math.isnan(S.alternation([1.0, 2.0]))


def test_counters():
    assert S.loss_increases([3, 2, 2.5, 1, 1.5, 1.4]) == 2
    assert S.first_crossing([0, 10, 20], [1.0, 5.0, 9.0], 5.0) == 10
    assert S.first_crossing([0, 10], [1.0, 2.0], 5.0) is None


def test_edge_summary_on_a_hand_made_run():
    run = {"lr": 0.1, "sharp_steps": [0, 2, 4, 6], "sharpness": [15.0, 12.0, 21.0, 19.0],
           "loss": [1.0, 0.9, 0.8, 0.7, 0.75, 0.6, 0.65], "products": [20, 3, 3, 3], "final_cold": 19.1}
    s = S.edge_summary(run)
    assert s["2/η"] == pytest.approx(20.0)
    assert s["first step at 2/η"] == 4 and s["lowest sharpness before 2/η"] == 12.0
    assert s["median λ·η/2 after"] == pytest.approx(1.0) and s["highest λ·η/2 after"] == pytest.approx(1.05)
    assert s["share of measurements above 2/η"] == pytest.approx(0.5)
    assert s["loss increases before"] == 1 and s["loss increases after"] == 1  # 0.7→0.75 ends at step 4
    assert s["loss at 2/η"] == 0.75 and s["final loss"] == 0.65 and s["products per measurement"] == 3.0
    never = S.edge_summary({**run, "sharpness": [1.0, 2.0, 3.0, 4.0]})
    assert never["first step at 2/η"] is None and never["loss increases before"] == 2
