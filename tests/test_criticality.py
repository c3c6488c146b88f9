"""course_utils.criticality against independent references: scipy.integrate.quad / brentq, Monte Carlo with a
tolerance from its standard error, autograd's Jacobian, and course_utils.theory's exact moments."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize

from course_utils import criticality as cr
from course_utils import theory

PHI = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def quad_gauss(g):
    """E[g(z)], z ~ N(0, 1), by scipy's adaptive quadrature on the whole line."""
    return integrate.quad(lambda z: g(z) * PHI(z), -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


def ref_fixed_point(sw2, sb2):
    f = lambda q: sw2 * quad_gauss(lambda z: math.tanh(math.sqrt(q) * z) ** 2) + sb2 - q
    return optimize.brentq(f, 1e-9 if sb2 == 0 else 0.0, sw2 + sb2 + 1e-9, xtol=1e-14, rtol=1e-13)


def ref_chi1(sw2, sb2):
    q = ref_fixed_point(sw2, sb2)
    sech2 = lambda y: 0.0 if abs(y) > 300 else 1 / math.cosh(y) ** 2
    return sw2 * quad_gauss(lambda z: sech2(math.sqrt(q) * z) ** 2)


POINTS = [(1 / 3, 1 / 768), (0.8, 0.05), (1.5, 0.0), (25 / 9, 0.0), (4.0, 0.05), (2.0, 0.3)]


@pytest.mark.parametrize("q, sw2, sb2", [(0.01, 1.0, 0.0), (0.5, 2.0, 0.1), (1.0, 1.0, 0.0), (4.0, 3.0, 0.2),
                                         (25.0, 1.0, 0.0)])
def test_length_map_equals_quad(q, sw2, sb2):
    ref = sw2 * quad_gauss(lambda z: math.tanh(math.sqrt(q) * z) ** 2) + sb2
    assert abs(float(cr.length_map(q, sw2, sb2)) - ref) < 1e-9


@pytest.mark.parametrize("sw2, sb2", POINTS)
def test_fixed_point_and_chi1_equal_quad_and_brentq(sw2, sb2):
    q = float(cr.fixed_point_q(sw2, sb2))
    assert abs(q - ref_fixed_point(sw2, sb2)) < 1e-9 * max(1.0, q)
    assert abs(float(cr.chi1(sw2, sb2)) - ref_chi1(sw2, sb2)) < 1e-9
    # the same factor as the book's backward recurrence (theory.backward_factor, gain sigma_w, at q*)
    assert abs(float(cr.chi1(sw2, sb2)) - theory.backward_factor("tanh", math.sqrt(sw2), q)) < 1e-9


@pytest.mark.parametrize("sw2", [0.3, 0.9, 1.0])
def test_without_biases_the_signal_fades_for_gain_at_most_one(sw2):
    assert float(cr.fixed_point_q(sw2, 0.0)) < 1e-12
    assert abs(float(cr.chi1(sw2, 0.0)) - sw2) < 1e-9  # tanh'(0) = 1


def test_phase_diagram_is_the_pointwise_functions():
    d = cr.phase_diagram([0.5, 1.5, 3.0], [0.0, 0.1])
    assert d["chi1"].shape == (2, 3)
    for i, sb2 in enumerate([0.0, 0.1]):
        for j, sw2 in enumerate([0.5, 1.5, 3.0]):
            assert d["chi1"][i, j] == pytest.approx(float(cr.chi1(sw2, sb2)), abs=1e-13)
    assert d["chi1"][0, 0] < 1 < d["chi1"][0, 2]  # ordered at small weights, chaotic at large


@pytest.mark.parametrize("sb2", [1e-4, 0.05, 0.3])
def test_critical_line_equals_brentq(sb2):
    w = float(cr.critical_weight_var(sb2))
    ref = optimize.brentq(lambda s: ref_chi1(s, sb2) - 1, 1.0 + 1e-9, 8.0, xtol=1e-12)
    assert abs(w - ref) < 1e-8
    assert abs(float(cr.chi1(w, sb2)) - 1) < 1e-10


def test_critical_line_rejects_a_too_small_upper_bound():
    with pytest.raises(ValueError, match="larger upper"):
        cr.critical_weight_var(0.3, upper=1.5)


@pytest.mark.parametrize("c, sw2, sb2", [(0.5, 25 / 9, 0.0), (0.9, 1.2, 0.05), (0.2, 4.0, 0.05)])
def test_correlation_map_equals_dblquad(c, sw2, sb2):
    q = ref_fixed_point(sw2, sb2)
    s, r = math.sqrt(q), math.sqrt(1 - c * c)
    e = integrate.dblquad(lambda z2, z1: math.tanh(s * z1) * math.tanh(s * (c * z1 + r * z2)) * PHI(z1) * PHI(z2),
                          -12, 12, -12, 12, epsabs=1e-12, epsrel=1e-10)[0]
    assert abs(cr.correlation_map(c, sw2, sb2) - (sw2 * e + sb2) / q) < 1e-8


def test_correlation_map_against_monte_carlo():
    """4 standard errors of a 2e6-sample Monte Carlo estimate."""
    sw2, sb2, c = 4.0, 0.05, 0.3
    q = float(cr.fixed_point_q(sw2, sb2))
    rng = np.random.default_rng(0)
    z1, z2 = rng.standard_normal((2, 2_000_000))
    v = (sw2 * np.tanh(math.sqrt(q) * z1) * np.tanh(math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)) + sb2) / q
    assert abs(cr.correlation_map(c, sw2, sb2) - v.mean()) < 4 * v.std() / math.sqrt(v.size)


@pytest.mark.parametrize("sw2, sb2", POINTS)
def test_correlation_identities(sw2, sb2):
    assert cr.correlation_map(1.0, sw2, sb2) == pytest.approx(1.0, abs=1e-12)
    assert cr.correlation_slope(1.0, sw2, sb2) == pytest.approx(float(cr.chi1(sw2, sb2)), abs=1e-12)
    sc = cr.depth_scales(sw2, sb2)
    assert cr.correlation_map(sc["c_star"], sw2, sb2) == pytest.approx(sc["c_star"], abs=1e-9)
    if sc["chi1"] < 1:  # ordered: c* = 1 and the two depth scales agree
        assert sc["c_star"] == 1.0 and sc["xi_c"] == pytest.approx(sc["xi_grad"])
    else:  # chaotic: c* < 1 attracts (slope below 1); without biases tanh is odd, so c* = 0
        assert sc["c_star"] < 1 and sc["chi_c"] < 1
        if sb2 == 0:
            assert sc["c_star"] < 1e-9


def test_correlation_slope_is_the_derivative_of_the_map():
    sw2, sb2, c, h = 2.0, 0.1, 0.4, 1e-5
    num = (cr.correlation_map(c + h, sw2, sb2) - cr.correlation_map(c - h, sw2, sb2)) / (2 * h)
    assert cr.correlation_slope(c, sw2, sb2) == pytest.approx(num, rel=1e-6)


def test_scheme_points():
    assert cr.scheme_point("pytorch_default", 256, 256, bias="pytorch_default") == pytest.approx((1 / 3, 1 / 768))
    assert cr.scheme_point("xavier_uniform", 256, 256, gain=5 / 3) == pytest.approx((25 / 9, 0.0))
    assert cr.scheme_point("lecun_normal", 784, 512) == pytest.approx((1.0, 0.0))
    with pytest.raises(ValueError, match="bias"):
        cr.scheme_point("lecun_normal", 10, 10, bias="same")


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
def test_random_stack_has_the_requested_variances(weights):
    Ws, bs = cr.random_stack(128, 4, 2.0, 0.1, weights=weights, seed=0)
    w = torch.stack(Ws)
    assert float(w.var() * 128) == pytest.approx(2.0, rel=0.02)  # 65536 entries: sd of the estimate 0.6 %
    assert float(torch.stack(bs).var()) == pytest.approx(0.1, rel=0.25)  # 512 entries: sd 6 %
    if weights == "orthogonal":
        s = torch.linalg.svdvals(Ws[0])
        assert torch.allclose(s, torch.full_like(s, math.sqrt(2.0)), atol=1e-12)


def test_measured_chi_converges_to_theory():
    """Per-layer ratio of a 40-layer stack of width 256 (3 seeds) within 3 % of chi1 in each phase."""
    for sw2, sb2 in [(0.8, 0.05), (25 / 9, 0.0)]:
        m = np.mean([cr.measured_chi(sw2, sb2, width=256, depth=40, seed=s)["chi_measured"] for s in range(3)])
        assert m == pytest.approx(float(cr.chi1(sw2, sb2)), rel=0.03)


def test_measured_correlations_follow_the_map():
    th = cr.correlation_curve(0.5, 20, 4.0, 0.05)
    m = np.mean([cr.measured_correlations(4.0, 0.05, width=512, depth=20, seed=s) for s in range(3)], axis=0)
    assert np.max(np.abs(m - th)) < 0.06


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_jacobian_equals_autograd(activation):
    sw2, sb2 = (1.2, 0.01) if activation == "tanh" else (2.0, 0.0)
    width, depth = 24, 5
    s = cr.jacobian_singular_values(sw2, sb2, depths=[depth], width=width, seed=3, activation=activation)[depth]
    Ws, bs = cr.random_stack(width, depth, sw2, sb2, seed=3)
    u = torch.randn(width, generator=torch.Generator().manual_seed(40_003), dtype=torch.float64)
    x = torch.tanh(math.sqrt(float(cr.fixed_point_q(sw2, sb2))) * u) if activation == "tanh" else u
    f = torch.tanh if activation == "tanh" else torch.relu

    def net(h):
        for W, b in zip(Ws, bs):
            h = f(W @ h + b)
        return h

    J = torch.autograd.functional.jacobian(net, x)
    # the last layer's f is applied too: the Jacobian of the stack's output h_L
    np.testing.assert_allclose(s, torch.linalg.svdvals(J).numpy(), rtol=1e-10, atol=1e-12)


def test_relu_jacobian_exact_zeros_are_its_rank_loss():
    """ReLU: the zeros returned are the rank loss from switched-off units; the rest are clearly non-zero at small depth."""
    width, depths = 48, [1, 3]
    out = cr.jacobian_singular_values(2.0, 0.0, depths=depths, weights="orthogonal", activation="relu", width=width,
                                      seed=1)
    Ws, bs = cr.random_stack(width, max(depths), 2.0, 0.0, weights="orthogonal", seed=1)
    h = torch.randn(width, generator=torch.Generator().manual_seed(40_001), dtype=torch.float64)
    J, fewest = torch.eye(width, dtype=torch.float64), width
    for l, (W, b) in enumerate(zip(Ws, bs), start=1):
        y = W @ h + b
        d = (y > 0).to(y.dtype)
        fewest = min(fewest, int(d.sum()))
        J, h = d[:, None] * (W @ J), torch.relu(y)
        if l in depths:
            s = out[l]
            assert int(np.sum(s == 0)) == width - fewest == width - int(torch.linalg.matrix_rank(J))
            assert s[s > 0].min() > 1e-6 * s.max()
            np.testing.assert_allclose(s[s > 0], torch.linalg.svdvals(J).numpy()[:fewest], rtol=1e-12)


def test_depth_scales_without_a_fixed_point_signal():
    """No biases and sigma_w^2 <= 1: q* = 0, the correlation map is undefined, c* and xi_c are NaN."""
    sc = cr.depth_scales(1.0, 0.0)
    assert sc["q_star"] < 1e-12 and sc["chi1"] == pytest.approx(1.0) and sc["xi_grad"] == math.inf
    assert math.isnan(sc["c_star"]) and math.isnan(sc["xi_c"])


def test_orthogonal_linear_regime_is_an_isometry():
    """Tiny weights' scale times exact orthogonality: with q* ~ 0 every tanh' is ~1, so s ~ sigma_w^L."""
    s = cr.jacobian_singular_values(1.0, 0.0, depths=[10], weights="orthogonal", width=32, seed=0)[10]
    np.testing.assert_allclose(s, 1.0, atol=1e-12)


def test_log_spread():
    assert cr.log_spread(np.array([1.0] * 10)) == 0.0
    assert cr.log_spread(10.0 ** np.linspace(-2, 2, 101), lo=0, hi=100) == pytest.approx(4.0)


@pytest.mark.parametrize("bad", [dict(weight_var=-1.0), dict(weight_var=float("nan")), dict(bias_var=-0.1)])
def test_bad_variances_raise(bad):
    kw = {"weight_var": 1.0, "bias_var": 0.0, **bad}
    with pytest.raises(ValueError, match=">= 0"):
        cr.fixed_point_q(**kw)


def test_length_map_is_concave_so_the_positive_fixed_point_is_unique():
    """What fixed_point_q's bisection relies on: second differences of E[tanh(sqrt(q) z)^2] are negative."""
    q = np.linspace(1e-4, 30.0, 6001)
    assert np.all(np.diff(cr.length_map(q, 1.0, 0.0), 2) < 0)
