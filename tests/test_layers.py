"""Tests of course_utils.layers: equal to torch (float64), identities, convergence, bad input."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import layers as L

torch.set_default_dtype(torch.float32)


# ----------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name, reference", [
    ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", F.relu),
    ("leaky_relu_0.01", lambda z: F.leaky_relu(z, 0.01)), ("leaky_relu_0.2", lambda z: F.leaky_relu(z, 0.2)),
    ("rrelu", lambda z: torch.where(z >= 0, z, z * (1 / 8 + 1 / 3) / 2)),
    ("prelu", lambda z: torch.where(z >= 0, z, 0.25 * z)), ("elu", F.elu), ("selu", F.selu), ("gelu", F.gelu),
    ("gelu_sigmoid", lambda z: z * torch.sigmoid(1.702 * z)), ("silu", F.silu),
    ("swish_0.6", lambda z: z * torch.sigmoid(0.6 * z)), ("mish", F.mish), ("relu2", lambda z: F.relu(z) ** 2),
    ("swiglu", lambda z: F.silu(z) * z),  # on the diagonal z1 = z2 = z
])
def test_gallery_matches_reference_and_autograd(name, reference):
    z = torch.linspace(-3, 3, 61, dtype=torch.float64)
    g = L.activation_gallery([name], z)[name]
    zz = z.clone().requires_grad_(True)
    f = reference(zz)
    (df,) = torch.autograd.grad(f.sum(), zz)
    np.testing.assert_allclose(g["f"], f.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(g["df"], df.numpy(), atol=1e-12)


def test_selu_is_about_1_05_elu_with_alpha_1_67():
    # SELU(z) = lambda * ELU_alpha(z) with lambda ~ 1.0507, alpha ~ 1.6733 (Klambauer et al.).
    z = torch.linspace(-4, 4, 81, dtype=torch.float64)
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    torch.testing.assert_close(F.selu(z), lam * F.elu(z, alpha))


def test_swish_beta_1702_is_the_gelu_sigmoid_approximation():
    z = torch.linspace(-5, 5, 101)
    torch.testing.assert_close(L.Swish(1.702)(z), L.GELUSigmoid()(z))
    torch.testing.assert_close(L.Swish(1.0)(z), F.silu(z))


def test_gelu_sigmoid_error_is_about_0_02():
    err = L.gelu_approximation_error()
    assert 0.015 < err["sigmoid"] < 0.025  # the sigmoid form is good to ~2e-2 ...
    assert err["tanh"] < 1e-3  # ... the tanh form to < 1e-3


def test_swiglu_layer_equals_manual_split():
    torch.manual_seed(0)
    layer = L.SwiGLU(6, 4, beta=0.7).double()
    x = torch.randn(5, 6, dtype=torch.float64)
    z = layer.linear(x)
    expected = z[:, :4] * torch.sigmoid(0.7 * z[:, :4]) * z[:, 4:]
    torch.testing.assert_close(layer(x), expected)
    assert layer(x).shape == (5, 4)


def test_swish_learnable_beta_gets_a_gradient():
    s = L.Swish(1.0, learnable=True)
    s(torch.randn(10)).sum().backward()
    assert s.beta.grad is not None and s.beta.grad.abs() > 0


@pytest.mark.parametrize("name, expected", [
    ("relu", math.sqrt(2)),                    # E[relu(z)^2] = 1/2
    ("selu", 1.0),                             # SELU is built so that E[selu(z)^2] = 1
    ("relu2", math.sqrt(2 / 3)),               # E[relu(z)^4] = 3/2
    ("leaky_relu_0.2", math.sqrt(2 / 1.04)),   # (1 + alpha^2)/2
])
def test_fixed_point_gain_closed_forms(name, expected):
    # Gauss-Hermite quadrature is not exact for a kinked f: 1e-4 relative is what 201 nodes give
    assert L.fixed_point_gain(name) == pytest.approx(expected, rel=1e-4)


def test_deep_stack_relu_kaiming_stays_order_one_and_selu_self_normalises():
    r = L.deep_stack_stats("relu", depth=20, width=256, first_gain=1.0)
    assert 0.9 < r["pre_var"][0] < 1.1
    assert 0.2 < r["pre_var"][-1] < 5
    s = L.deep_stack_stats("selu", depth=30, width=256, x=3 + 5 * torch.randn(256, 100))
    # convergence: even a badly scaled input is pulled to mean 0, std 1 (the attracting fixed point)
    assert abs(s["post_mean"][-1]) < 0.1 and abs(s["post_std"][-1] - 1) < 0.1


def test_deep_stack_overflow_is_inf_and_bad_args():
    r = L.deep_stack_stats("relu2", depth=15, width=64)
    assert np.isinf(r["pre_var"][-1])
    with pytest.raises(ValueError, match="dropout"):
        L.deep_stack_stats("selu", dropout="gaussian")
    with pytest.raises(ValueError, match="Unknown activation"):
        L.deep_stack_stats("swishy")


# ----------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_matches_torch_train_and_eval(momentum, affine):
    torch.manual_seed(0)
    ours = L.BatchNorm1d(7, momentum=momentum, affine=affine).double()
    ref = nn.BatchNorm1d(7, momentum=momentum, affine=affine).double()
    if affine:
        with torch.no_grad():
            for m in (ours, ref):
                m.weight.copy_(torch.linspace(0.5, 2, 7))
                m.bias.copy_(torch.linspace(-1, 1, 7))
    for step in range(5):
        x = 3 + 2 * torch.randn(16, 7, dtype=torch.float64)
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-10)
    torch.testing.assert_close(ours.running_mean, ref.running_mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(ours.running_var, ref.running_var, rtol=0, atol=1e-12)
    assert int(ours.num_batches_tracked) == int(ref.num_batches_tracked) == 5
    ours.eval(), ref.eval()
    x = torch.randn(4, 7, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-10)


def test_batchnorm_gradients_match_torch():
    torch.manual_seed(1)
    ours, ref = L.BatchNorm1d(5).double(), nn.BatchNorm1d(5).double()
    x = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(8, 5, dtype=torch.float64)
    (g1,) = torch.autograd.grad((ours(x) * w).sum(), x)
    (g2,) = torch.autograd.grad((ref(x) * w).sum(), x)
    torch.testing.assert_close(g1, g2, rtol=0, atol=1e-10)


def test_batchnorm_momentum_is_the_weight_of_the_new_batch():
    bn = L.BatchNorm1d(1, momentum=0.1)
    x = torch.tensor([[1.0], [3.0]])  # batch mean 2, unbiased variance 2
    bn(x)
    assert bn.running_mean.item() == pytest.approx(0.9 * 0 + 0.1 * 2)
    assert bn.running_var.item() == pytest.approx(0.9 * 1 + 0.1 * 2)


def test_batchnorm_converges_to_data_statistics():
    bn = L.BatchNorm1d(3, momentum=0.1)
    torch.manual_seed(0)
    for _ in range(200):
        bn(5 + 2 * torch.randn(256, 3))
    assert torch.allclose(bn.running_mean, torch.full((3,), 5.0), atol=0.1)
    assert torch.allclose(bn.running_var, torch.full((3,), 4.0), atol=0.3)


def test_batchnorm_bad_input():
    with pytest.raises(ValueError, match="momentum"):
        L.BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="num_features"):
        L.BatchNorm1d(0)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        L.BatchNorm1d(3)(torch.randn(4, 5))
    with pytest.raises(ValueError, match="more than one sample"):
        L.BatchNorm1d(3)(torch.randn(1, 3))


# ----------------------------------------------------------------------------- fold
@pytest.mark.parametrize("bn_cls", [nn.BatchNorm1d, L.BatchNorm1d])
@pytest.mark.parametrize("bias", [True, False])
def test_fold_batchnorm_equals_linear_then_bn_in_eval(bn_cls, bias):
    torch.manual_seed(0)
    lin, bn = nn.Linear(6, 4, bias=bias).double(), bn_cls(4).double()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    for _ in range(3):
        bn(lin(torch.randn(32, 6, dtype=torch.float64)))  # fill the running statistics
    bn.eval()
    fused = L.fold_batchnorm(lin, bn)
    x = torch.randn(10, 6, dtype=torch.float64)
    torch.testing.assert_close(fused(x), bn(lin(x)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("from_scratch", [False, True])
def test_fold_batchnorms_folds_a_whole_network(from_scratch):
    from course_utils.models import deep_mlp

    net = deep_mlp(0, depth=4, width=16, norm="batch", from_scratch=from_scratch)
    net.train()
    with torch.no_grad():
        for _ in range(3):  # give the running statistics something to hold
            net(torch.randn(64, 784))
    folded = L.fold_batchnorms(net)
    assert not any(isinstance(m, (nn.BatchNorm1d, L.BatchNorm1d)) for m in folded.modules())
    assert len(folded.linears) == 5 and folded.config["norm"] is None and net.config["norm"] == "batch"
    assert net.training and not folded.training  # the original is untouched
    x = torch.randn(32, 784)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), rtol=1e-4, atol=1e-5)
    seq = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    assert [type(m) for m in L.fold_batchnorms(seq)] == [nn.Linear, nn.ReLU, nn.Linear]


def test_fold_batchnorm_bad_input():
    with pytest.raises(TypeError, match="nn.Linear"):
        L.fold_batchnorm(nn.Conv1d(1, 1, 1), nn.BatchNorm1d(1))
    with pytest.raises(ValueError, match="features"):
        L.fold_batchnorm(nn.Linear(3, 4), nn.BatchNorm1d(5))
    with pytest.raises(ValueError, match="running statistics"):
        L.fold_batchnorm(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False))


# ----------------------------------------------------------------------------- layer norm
@pytest.mark.parametrize("shape, normalized", [((4, 7), 7), ((3, 5, 6), (5, 6)), ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_matches_torch(shape, normalized, affine):
    torch.manual_seed(0)
    ours = L.LayerNorm(normalized, elementwise_affine=affine).double()
    ref = nn.LayerNorm(normalized, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            for m in (ours, ref):
                m.weight.copy_(torch.linspace(0.5, 2, m.weight.numel()).reshape(m.weight.shape))
                m.bias.copy_(torch.linspace(-1, 1, m.bias.numel()).reshape(m.bias.shape))
    x = (2 + 3 * torch.randn(*shape, dtype=torch.float64)).requires_grad_(True)
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-10)
    (g1,) = torch.autograd.grad(ours(x).pow(2).sum(), x)
    (g2,) = torch.autograd.grad(ref(x).pow(2).sum(), x)
    torch.testing.assert_close(g1, g2, rtol=0, atol=1e-10)


def test_layernorm_bad_input():
    with pytest.raises(ValueError, match="last dimensions"):
        L.LayerNorm(5)(torch.randn(3, 4))
    with pytest.raises(ValueError, match="normalized_shape"):
        L.LayerNorm(0)


# ----------------------------------------------------------------------------- clipping
def test_clipping_the_sources_example():
    g = torch.tensor([0.9, 100.0], dtype=torch.float64)
    torch.testing.assert_close(L.clip_by_value(g, 1.0), torch.tensor([0.9, 1.0], dtype=torch.float64))
    np.testing.assert_allclose(L.clip_by_norm(g, 1.0).numpy(), [0.00899964, 0.9999595], atol=5e-8)


@pytest.mark.parametrize("kind, c", [("norm", 0.5), ("norm", 100.0), ("value", 0.05), ("value", 10.0)])
def test_clipping_matches_torch_utils(kind, c):
    torch.manual_seed(0)
    g = torch.randn(20, dtype=torch.float64)
    p = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    p.grad = g.clone()
    if kind == "norm":
        torch.nn.utils.clip_grad_norm_([p], c)
        torch.testing.assert_close(L.clip_by_norm(g, c), p.grad)
    else:
        torch.nn.utils.clip_grad_value_([p], c)
        torch.testing.assert_close(L.clip_by_value(g, c), p.grad)


@pytest.mark.parametrize("kw", [{"max_norm": 0.3}, {"clip_value": 0.01}])
def test_with_grad_clipping_equals_manual_clip_then_step(kw):
    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    opt_a = L.with_grad_clipping(torch.optim.SGD(a.parameters(), lr=0.5), **kw)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.5)
    x = 10 * torch.randn(8, 5)
    for m in (a, b):
        m(x).pow(2).sum().backward()
    if "max_norm" in kw:
        torch.nn.utils.clip_grad_norm_(b.parameters(), kw["max_norm"])
    else:
        torch.nn.utils.clip_grad_value_(b.parameters(), kw["clip_value"])
    opt_a.step(), opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)
    assert opt_a.param_groups[0]["clip_max_norm"] == kw.get("max_norm")


def test_with_grad_clipping_bad_input():
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="exactly one"):
        L.with_grad_clipping(opt)
    with pytest.raises(ValueError, match="positive"):
        L.with_grad_clipping(opt, max_norm=-1.0)
    L.with_grad_clipping(opt, max_norm=1.0)
    with pytest.raises(ValueError, match="already clips"):
        L.with_grad_clipping(opt, clip_value=1.0)
    with pytest.raises(ValueError, match="clip_value"):
        L.clip_by_value(torch.ones(2), 0.0)
