"""Tests for course_utils.init: equal to torch.nn.init, variances as derived, clear errors."""
import math

import pytest
import torch
from torch import nn

from course_utils import init
from course_utils.models import MLP


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# (ours, torch's, kwargs): the same generator state must give the same numbers.
SAME_AS_TORCH = [
    (init.normal_, nn.init.normal_, {"mean": 0.5, "std": 0.3}),
    (init.uniform_, nn.init.uniform_, {"a": -0.2, "b": 0.7}),
    (init.xavier_uniform_, nn.init.xavier_uniform_, {}),
    (init.xavier_uniform_, nn.init.xavier_uniform_, {"gain": 5 / 3}),
    (init.xavier_normal_, nn.init.xavier_normal_, {}),
    (init.kaiming_normal_, nn.init.kaiming_normal_, {"nonlinearity": "relu"}),
    (init.kaiming_normal_, nn.init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}),
    (init.kaiming_normal_, nn.init.kaiming_normal_, {"a": 0.2, "nonlinearity": "leaky_relu"}),
    (init.kaiming_uniform_, nn.init.kaiming_uniform_, {"nonlinearity": "relu"}),
    (init.kaiming_uniform_, nn.init.kaiming_uniform_, {"a": math.sqrt(5)}),
    (init.orthogonal_, nn.init.orthogonal_, {}),
    (init.orthogonal_, nn.init.orthogonal_, {"gain": 2.0}),
]


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (16, 8, 3, 3)])
@pytest.mark.parametrize("ours,theirs,kw", SAME_AS_TORCH,
                         ids=[f"{o.__name__}-{i}" for i, (o, _, _) in enumerate(SAME_AS_TORCH)])
def test_equal_to_torch(ours, theirs, kw, shape):
    a = torch.empty(shape, dtype=torch.float64)
    b = torch.empty(shape, dtype=torch.float64)
    out = ours(a, **kw, generator=gen(3))
    theirs(b, **kw, generator=gen(3))
    assert out is a  # in place, returns the tensor
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_lecun_equals_kaiming_linear():
    a = init.lecun_normal_(torch.empty(100, 50, dtype=torch.float64), generator=gen(1))
    b = nn.init.kaiming_normal_(torch.empty(100, 50, dtype=torch.float64), nonlinearity="linear", generator=gen(1))
    torch.testing.assert_close(a, b)


def test_pytorch_default_equals_linear_reset():
    torch.manual_seed(7)
    lin = nn.Linear(300, 40)
    torch.manual_seed(7)
    w = init.pytorch_default_(torch.empty(40, 300))
    torch.testing.assert_close(w, lin.weight.detach(), rtol=1e-6, atol=1e-7)


# (function, kwargs, expected variance for a (d_y, d_x) = (400, 1000) weight)
D_Y, D_X = 400, 1000
VARIANCES = [
    (init.xavier_uniform_, {}, 2 / (D_X + D_Y)),
    (init.xavier_normal_, {}, 2 / (D_X + D_Y)),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, 2 / D_X),
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, 2 / D_X),
    (init.kaiming_normal_, {"nonlinearity": "relu", "mode": "fan_out"}, 2 / D_Y),
    (init.kaiming_normal_, {"nonlinearity": "leaky_relu", "a": 0.2}, 2 / (1 + 0.04) / D_X),
    (init.lecun_normal_, {}, 1 / D_X),
    (init.lecun_uniform_, {}, 1 / D_X),
    (init.pytorch_default_, {}, 1 / (3 * D_X)),
    (init.orthogonal_, {}, 1 / D_X),
]


@pytest.mark.parametrize("fn,kw,var", VARIANCES, ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(VARIANCES)])
def test_variance(fn, kw, var):
    # 400,000 draws: the sample variance has relative std about sqrt(2/n) ~ 0.2 %, so 2 % is > 5 sigma.
    w = fn(torch.empty(D_Y, D_X, dtype=torch.float64), **kw, generator=gen(0))
    assert abs(w.var().item() / var - 1) < 0.02
    assert abs(w.mean().item()) < 5 * math.sqrt(var / w.numel())


def test_orthogonal_is_orthogonal():
    w = init.orthogonal_(torch.empty(30, 50, dtype=torch.float64), generator=gen(0))
    torch.testing.assert_close(w @ w.T, torch.eye(30, dtype=torch.float64))


@pytest.mark.parametrize("name,param", [("linear", None), ("identity", None), ("sigmoid", None), ("tanh", None),
                                        ("relu", None), ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain(name, param):
    ref = nn.init.calculate_gain("linear" if name == "identity" else name, param)
    assert init.calculate_gain(name, param) == pytest.approx(ref)


def test_leaky_gain_formula():
    assert init.calculate_gain("leaky_relu", 0.3) ** 2 == pytest.approx(2 / (1 + 0.09))


def test_generator_makes_it_reproducible():
    a = init.init_model(MLP(hidden_sizes=(20, 20)), "kaiming_normal", generator=gen(5))
    b = init.init_model(MLP(hidden_sizes=(20, 20)), "kaiming_normal", generator=gen(5))
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)


@pytest.mark.parametrize("scheme", list(init.SCHEMES))
def test_init_model_every_scheme(scheme):
    model = init.init_model(MLP(input_size=200, hidden_sizes=(300, 100)), scheme, generator=gen(0))
    for lin in model.linears:
        expected = init.scheme_std(scheme, lin.in_features, lin.out_features)
        if scheme in ("constant", "zeros"):
            assert torch.all(lin.weight == (0.005 if scheme == "constant" else 0.0))
        else:
            assert lin.weight.std().item() == pytest.approx(expected, rel=0.1)


def test_init_model_bias_rules():
    m = init.init_model(MLP(hidden_sizes=(64,)), "constant", value=0.005)
    assert torch.all(m.linears[0].bias == 0.005)  # constant: biases get the same value by default
    m = init.init_model(MLP(hidden_sizes=(64,)), "normal", std=0.1, bias="zeros", generator=gen(0))
    assert torch.all(m.linears[0].bias == 0)
    m = init.init_model(MLP(hidden_sizes=(512,)), "normal", std=0.1, generator=gen(0))
    assert m.linears[0].bias.std().item() == pytest.approx(0.1, rel=0.2)
    m = init.init_model(MLP(hidden_sizes=(64,)), "kaiming_normal", bias=0.5)
    assert torch.all(m.linears[1].bias == 0.5)


def test_first_layer_and_output_scale():
    m = init.init_model(MLP(input_size=1000, hidden_sizes=(500, 500), num_classes=500), "kaiming_normal",
                        first_layer="lecun_normal", output_scale=0.1, generator=gen(0))
    stds = [lin.weight.std().item() for lin in m.linears]
    assert stds[0] == pytest.approx(1 / math.sqrt(1000), rel=0.02)
    assert stds[1] == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    assert stds[2] == pytest.approx(0.1 * math.sqrt(2 / 500), rel=0.02)


def test_generator_on_other_device_is_copied():
    # A CPU generator must work for tensors on any device; on CPU-only machines this is the plain path.
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    w = init.kaiming_normal_(torch.empty(10, 10, device=dev), generator=gen(0))
    assert w.device.type == dev


# ---------------------------------------------------------------------------- bad input
def test_unknown_scheme_lists_valid():
    with pytest.raises(ValueError, match="Valid schemes: .*kaiming_normal"):
        init.init_model(MLP(hidden_sizes=(8,)), "he_normal")


@pytest.mark.parametrize("fn", [init.xavier_uniform_, init.xavier_normal_, init.kaiming_normal_,
                                init.kaiming_uniform_, init.lecun_normal_, init.lecun_uniform_,
                                init.orthogonal_, init.pytorch_default_])
def test_1d_weight_rejected(fn):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fn(torch.empty(10))


@pytest.mark.parametrize("call", [
    lambda: init.xavier_uniform_(torch.empty(3, 3), gain=-1.0),
    lambda: init.xavier_normal_(torch.empty(3, 3), gain=-1.0),
    lambda: init.orthogonal_(torch.empty(3, 3), gain=-0.5),
    lambda: init.normal_(torch.empty(3, 3), std=-0.1),
    lambda: init.init_model(MLP(hidden_sizes=(8,)), "xavier_normal", gain=-2.0),
    lambda: init.init_model(MLP(hidden_sizes=(8,)), "normal", std=-0.01),
])
def test_negative_spread_rejected(call):
    with pytest.raises(ValueError, match="must be >= 0"):
        call()


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(torch.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        init.kaiming_normal_(torch.empty(3, 3), nonlinearity="swish")
    with pytest.raises(ValueError, match="bias must be one of"):
        init.init_model(MLP(hidden_sizes=(8,)), "xavier_normal", bias="random")
    with pytest.raises(ValueError, match="no nn.Linear"):
        init.init_model(nn.ReLU(), "xavier_normal")
    with pytest.raises(TypeError, match="torch.Tensor"):
        init.xavier_normal_([[1.0, 2.0]])
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(torch.empty(3), 1.0, 0.0)
