"""The Gaussian quadrature behind every theory line (course_utils.gaussian), against independent references.

References: ``scipy.integrate.quad`` (adaptive, split at the kink, with the activations and their
derivatives written out in NumPy/SciPy here, not taken from torch), closed forms where they exist, and
``mpmath`` at 30 digits at the extremes where ``quad`` itself loses digits.  Over the whole range of
variances the book visits (1e-2 ... 1e3) and every activation it uses.
"""
import math

import mpmath
import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from course_utils import gaussian, init_experiments, layers, models, theory

SELU_L, SELU_A = 1.0507009873554805, 1.6732632423543772


def _sig(y):
    return special.expit(y)


def _gelu(y):
    return y * special.ndtr(y)


def _gelu_d(y):
    return special.ndtr(y) + y * stats.norm.pdf(y)


def _silu_d(y, b=1.0):
    s = _sig(b * y)
    return s + b * y * s * (1 - s)


def _softplus(y):
    return np.logaddexp(0.0, y)


def _mish(y):
    return y * np.tanh(_softplus(y))


def _mish_d(y):
    t = np.tanh(_softplus(y))
    return t + y * (1 - t ** 2) * _sig(y)


def _leaky(a):
    return (lambda y: np.where(y > 0, y, a * y)), (lambda y: np.where(y > 0, 1.0, a))


#: name -> (f, f') written independently of torch
REFERENCE = {
    "tanh": (np.tanh, lambda y: 1 - np.tanh(y) ** 2),
    "sigmoid": (_sig, lambda y: _sig(y) * (1 - _sig(y))),
    "relu": (lambda y: np.maximum(y, 0.0), lambda y: (y > 0).astype(float)),
    "leaky_relu": _leaky(0.01),
    "leaky_relu_0.2": _leaky(0.2),
    "elu": (lambda y: np.where(y > 0, y, np.expm1(np.minimum(y, 0))), lambda y: np.where(y > 0, 1.0, np.exp(np.minimum(y, 0)))),
    "selu": (lambda y: SELU_L * np.where(y > 0, y, SELU_A * np.expm1(np.minimum(y, 0))),
             lambda y: SELU_L * np.where(y > 0, 1.0, SELU_A * np.exp(np.minimum(y, 0)))),
    "gelu": (_gelu, _gelu_d),
    "silu": (lambda y: y * _sig(y), _silu_d),
    "softplus": (_softplus, _sig),
    "mish": (_mish, _mish_d),
}
VARIANCES = np.logspace(-2, 3, 11)


def _quad(g, v):
    """E[g(y)], y ~ N(0, v), by adaptive quadrature on each side of the kink at 0."""
    s = math.sqrt(v)
    h = lambda y: g(np.asarray(y)) * stats.norm.pdf(y, scale=s)  # noqa: E731
    total = 0.0
    for a, b in ((-40 * s, -1.0), (-1.0, 0.0), (0.0, 1.0), (1.0, 40 * s)):
        if a < b:
            total += integrate.quad(h, a, b, limit=400, epsabs=0.0, epsrel=1e-12)[0]
    return total


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_moments_match_adaptive_quadrature_over_the_books_variances(name):
    f, df = REFERENCE[name]
    for v in VARIANCES:
        m_f, m_df = theory.gaussian_moments(name, float(v))
        ref_f, ref_df = _quad(lambda y: f(y) ** 2, v), _quad(lambda y: df(y) ** 2, v)
        assert m_f == pytest.approx(ref_f, rel=1e-7), (name, v)
        assert m_df == pytest.approx(ref_df, rel=1e-7), (name, v)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_forward_moment_and_fixed_point_gain_agree_with_the_reference(name):
    f, _ = REFERENCE[name]
    for v in (0.01, 1.0, 112.0, 1000.0):
        assert theory.gaussian_moments(name, v)[0] == pytest.approx(_quad(lambda y: f(y) ** 2, v), rel=1e-7)
    if name in layers.ACTIVATION_SPECS:
        assert layers.fixed_point_gain(name) == pytest.approx(1 / math.sqrt(_quad(lambda y: f(y) ** 2, 1.0)), rel=1e-9)


def test_the_values_a_fixed_hermite_rule_got_wrong():
    # SELU's backward factor at q = 1 in closed form: lambda^2 (1/2 + alpha^2 e^2 Phi(-2)) = 1.0716 (was printed 1.061)
    chi = SELU_L ** 2 * (0.5 + SELU_A ** 2 * math.e ** 2 * stats.norm.cdf(-2))
    assert theory.gaussian_moments("selu", 1.0)[1] == pytest.approx(chi, rel=1e-12)
    assert round(chi, 4) == 1.0716
    # tanh' and sigmoid' at v = 112: the true values (a 96-node rule gave 0.00405 for tanh)
    mpmath.mp.dps = 30
    s = mpmath.sqrt(112)
    tanh_ref = mpmath.quad(lambda y: mpmath.sech(y) ** 4 * mpmath.npdf(y, 0, s), [-12 * s, -5, 0, 5, 12 * s])
    assert theory.gaussian_moments("tanh", 112.0)[1] == pytest.approx(float(tanh_ref), rel=1e-12)
    assert float(tanh_ref) == pytest.approx(0.0502, abs=1e-4)
    sig_ref = mpmath.quad(lambda y: (mpmath.exp(-y) / (1 + mpmath.exp(-y)) ** 2) ** 2 * mpmath.npdf(y, 0, s),
                          [-12 * s, -5, 0, 5, 12 * s])
    assert theory.gaussian_moments("sigmoid", 112.0)[1] == pytest.approx(float(sig_ref), rel=1e-12)
    assert float(sig_ref) == pytest.approx(0.00624, abs=1e-5)


@pytest.mark.parametrize("v", [1e-4, 1e-2, 1.0, 100.0, 1e4])
def test_closed_forms_at_extreme_variances(v):
    assert theory.gaussian_moments("relu", v) == pytest.approx((v / 2, 0.5), rel=1e-12)
    assert theory.gaussian_moments("identity", v) == pytest.approx((v, 1.0), rel=1e-12)
    # ELU: E[f'^2] = 1/2 + E[e^{2y}; y<0] = 1/2 + e^{2v} Phi(-2 sqrt v)
    elu = 0.5 + float(mpmath.exp(2 * v) * mpmath.ncdf(-2 * mpmath.sqrt(v)))
    assert theory.gaussian_moments("elu", v)[1] == pytest.approx(elu, rel=1e-10)
    # sigmoid^2 has mean 1/2 ... its square: E[sigmoid(y)^2] -> 1/4 as v -> 0 and 1/2 as v -> inf
    assert 0.25 <= theory.gaussian_moments("sigmoid", v)[0] <= 0.5


def test_nonzero_mean_and_weights():
    y, w = gaussian.gaussian_nodes(2.0, 0.7)
    assert w.sum() == pytest.approx(1.0, rel=1e-13)
    assert np.dot(w, y) == pytest.approx(0.7, rel=1e-12)
    assert np.dot(w, (y - 0.7) ** 2) == pytest.approx(2.0, rel=1e-12)
    assert not np.any(y == 0.0)  # no node on the kink: derivatives that jump there are safe
    # E[relu(y)^2] for y ~ N(mu, v): (mu^2 + v) Phi(mu/s) + mu s phi(mu/s)
    mu, v = 0.7, 2.0
    s = math.sqrt(v)
    closed = (mu ** 2 + v) * stats.norm.cdf(mu / s) + mu * s * stats.norm.pdf(mu / s)
    assert theory.gaussian_moments("relu", v, mean=mu)[0] == pytest.approx(closed, rel=1e-12)
    assert theory.gaussian_moments(torch.nn.LeakyReLU(0.3), v, mean=mu)[0] == pytest.approx(
        _quad(lambda z: np.where(z + mu > 0, z + mu, 0.3 * (z + mu)) ** 2, v), rel=1e-9)
    assert gaussian.gaussian_nodes(0.0, 1.5)[0].tolist() == [1.5]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_variances_get_a_clear_message(bad):
    with pytest.raises(ValueError, match="var must be a finite number >= 0"):
        gaussian.gaussian_nodes(bad)


def test_g_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="one value per input value"):
        gaussian.gaussian_expectation(lambda y: np.sum(y), 1.0)


def test_a_fixed_hermite_rule_would_fail_these_tests():
    """The check above can fail: the 96-node Gauss–Hermite rule the book used before misses tanh' at v = 112."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(96)
    z = math.sqrt(112.0) * nodes
    old = float(np.sum(weights * (1 - np.tanh(z) ** 2) ** 2) / math.sqrt(2 * math.pi))
    assert old != pytest.approx(theory.gaussian_moments("tanh", 112.0)[1], rel=0.5)


def test_every_activation_name_of_the_book_is_covered():
    names = set(models.ACTIVATIONS) | set(layers.ACTIVATION_SPECS)
    for name in sorted(names):
        m_f, m_df = theory.gaussian_moments(name, 1.0)
        assert np.isfinite(m_f) and np.isfinite(m_df) and m_f > 0, name
        # against a plain Monte Carlo estimate of E[f^2] (independent of the quadrature)
        g = torch.Generator().manual_seed(0)
        z = torch.randn(400_000, generator=g, dtype=torch.float64)
        mod = theory.activation_module(name)
        with torch.no_grad():
            fz = mod.swish(z) if isinstance(mod, layers.SwiGLUGate) else mod(z[:, None]).reshape(-1)
        mc = float((fz ** 2).mean())
        assert m_f == pytest.approx(mc, rel=0.02), name


# ----------------------------------------------------------------------------- init_experiments.backward_signals
def test_backward_signals_against_autograd_and_definitions():
    from course_utils import models
    torch.manual_seed(0)
    net = models.MLP.from_sizes("tanh", [20, 16, 12, 5]).double()
    x, y = torch.randn(32, 20, dtype=torch.float64), torch.randint(0, 5, (32,))
    sig = init_experiments.backward_signals(net, x, y)
    # the weight gradient norm is what autograd puts into .grad
    loss = torch.nn.functional.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, [m.weight for m in net.linears])
    assert np.allclose(sig["grad norm"], [float(g.norm()) for g in grads], rtol=1e-10)
    assert list(sig.index) == [1, 2, 3]
    # the error signal at the logits of the mean cross-entropy is (softmax - onehot) / B
    p = torch.softmax(net(x), 1).detach()
    delta = (p - torch.nn.functional.one_hot(y, 5)) / 32
    assert sig["delta var"].iloc[-1] == pytest.approx(float((delta ** 2).mean()), rel=1e-10)
    # coherence lies between 1/sqrt(B)-ish and sqrt(B) and is exactly 1 for a batch of one sample
    assert (sig["coherence"] <= np.sqrt(32) + 1e-9).all()
    one = init_experiments.backward_signals(net, x[:1], y[:1])
    assert np.allclose(one["coherence"], 1.0, rtol=1e-10)
    assert all(p.grad is None for p in net.parameters())  # leaves the model as it found it


def test_backward_signals_needs_linear_layers():
    with pytest.raises(ValueError, match="nn.Linear"):
        init_experiments.backward_signals(torch.nn.Tanh(), torch.randn(2, 3), torch.tensor([0, 1]))
