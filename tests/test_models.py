import pytest
import torch
from torch import nn

from course_utils import init
from course_utils.models import (ACTIVATIONS, MLP, REFERENCE_SIZES, DeepMLP, deep_mlp, dropout_mlp, make_activation,
                                 reference_mlp, small_mlp)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(act):
    m = MLP(act_fn=act, hidden_sizes=(16, 8))
    out = m(torch.randn(4, 1, 28, 28))
    assert out.shape == (4, 10)
    assert m.config["act_fn"] == act


def test_reference_architecture():
    m = MLP()
    assert [(l.in_features, l.out_features) for l in m.linears] == [
        (784, 512), (512, 256), (256, 256), (256, 128), (128, 10)]
    # one activation module between consecutive Linear layers, none after the last
    assert len(m.layers) == 9 and isinstance(m.layers[-1], nn.Linear)


def test_module_activation_is_copied_per_layer():
    m = MLP(act_fn=nn.PReLU(), hidden_sizes=(8, 8))
    prelus = [x for x in m.layers if isinstance(x, nn.PReLU)]
    assert len(prelus) == 2 and prelus[0] is not prelus[1]


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="relu") as e:
        MLP(act_fn="relux")
    assert "tanh" in str(e.value)
    with pytest.raises(TypeError):
        make_activation(3)


def test_bad_sizes_and_inputs():
    with pytest.raises(ValueError, match="positive integers"):
        MLP(hidden_sizes=(0, 4))
    with pytest.raises(ValueError, match="784 input features"):
        MLP()(torch.randn(2, 100))


def test_from_sizes():
    m = MLP.from_sizes("tanh", [6, 5, 4, 3])
    assert [(l.in_features, l.out_features) for l in m.linears] == [(6, 5), (5, 4), (4, 3)]
    assert [(l.in_features, l.out_features) for l in MLP.from_sizes("relu", REFERENCE_SIZES).linears] == \
        [(l.in_features, l.out_features) for l in MLP().linears]
    with pytest.raises(ValueError, match="at least"):
        MLP.from_sizes("relu", [784])


# ----------------------------------------------------------------------------- seeded builders
def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return [v.shape for v in sa.values()] == [v.shape for v in sb.values()] and all(
        torch.equal(x, y) for x, y in zip(sa.values(), sb.values()))


def test_reference_mlp_is_kaiming_from_a_seeded_generator():
    a, b = reference_mlp(3), reference_mlp(3)
    assert _same(a, b) and not _same(a, reference_mlp(4))
    ref = init.init_model(MLP("relu"), "kaiming_normal", generator=torch.Generator().manual_seed(3))
    assert _same(a, ref)
    assert all(lin.bias.abs().max() == 0 for lin in a.linears)
    assert a.linears[1].weight.var().item() == pytest.approx(2 / 512, rel=0.05)
    lecun = reference_mlp(3, first_layer="lecun_normal")
    assert lecun.linears[0].weight.var().item() == pytest.approx(1 / 784, rel=0.05)


def test_builders_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    dropout_mlp({"hidden_sizes": (16,)}, seed=0)
    small_mlp(0, (8,))
    MLP(hidden_sizes=(4,), generator=torch.Generator(), init="kaiming_normal")
    MLP(hidden_sizes=(4,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.rand(3), expected)


def test_dropout_mlp_draws_what_torch_manual_seed_gave_the_sources():
    """Part V's numbers: seed, build (default draw), then He-normal weights and zero biases."""
    for config in ({"p_hidden": 0.0}, {"hidden_sizes": (64,), "p_hidden": 0.2},
                   {"act_fn": "selu", "init": "lecun", "dropout": "alpha"}):
        with torch.random.fork_rng():
            torch.manual_seed(7)
            cfg = {"hidden_sizes": (512, 256, 256, 128), "p_hidden": 0.2, "init": "kaiming", **config}
            old = MLP(cfg.get("act_fn", "relu"), hidden_sizes=cfg["hidden_sizes"], p_hidden=cfg["p_hidden"],
                      dropout=cfg.get("dropout", "standard"))
            for lin in old.linears:
                if cfg["init"] == "kaiming":
                    nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
                else:
                    nn.init.normal_(lin.weight, 0.0, lin.in_features ** -0.5)
                nn.init.zeros_(lin.bias)
        assert _same(dropout_mlp(config, seed=7), old), config


def test_init_draws_layer_by_layer_as_the_source():
    """MLP(generator=, init=): each Linear is built and re-initialised in turn (transfer learning's models)."""
    with torch.random.fork_rng():
        torch.manual_seed(42)
        layers = []
        for d_in, d_out in [(784, 100), (100, 100), (100, 100), (100, 8)]:
            lin = nn.Linear(d_in, d_out)
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
            layers.append(lin)
    new = MLP("relu", 784, (100, 100, 100), 8, generator=torch.Generator().manual_seed(42), init="kaiming_normal")
    assert all(torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias) for a, b in zip(layers, new.linears))


def test_small_mlp_is_dropout_mlp_without_dropout():
    a = small_mlp(3, (32,), act_fn="tanh")
    assert _same(a, dropout_mlp({"hidden_sizes": (32,), "act_fn": "tanh", "p_hidden": 0.0}, seed=3))
    assert [lin.out_features for lin in small_mlp().linears] == [128, 10]


def test_mlp_with_dropout_layers():
    m = MLP(hidden_sizes=(16, 8), p_input=0.1, p_hidden=0.3, dropout="alpha")
    assert [type(d) for d in m.layers if isinstance(d, (nn.Dropout, nn.AlphaDropout))] == [nn.AlphaDropout] * 3
    assert m.config["p_hidden"] == 0.3 and "p_hidden" not in MLP().config
    with pytest.raises(ValueError, match="dropout rate"):
        MLP(p_hidden=1.0)


def test_deep_mlp_is_seeded():
    a, b = deep_mlp(1, depth=3, width=8, norm="batch"), deep_mlp(1, depth=3, width=8, norm="batch")
    assert _same(a, b) and isinstance(a, DeepMLP) and a.linears[0].bias is None


@pytest.mark.parametrize("norm", [None, "batch", "layer"])
def test_deep_mlp_scratch_equals_torch_norm(norm):
    torch.manual_seed(0)
    a = DeepMLP(depth=4, width=16, norm=norm)
    b = DeepMLP(depth=4, width=16, norm=norm, from_scratch=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(32, 1, 28, 28)
    torch.testing.assert_close(a(x), b(x), rtol=1e-5, atol=1e-5)
    assert a(x).shape == (32, 10) and a.config["norm"] == norm
    assert len(a.linears) == 5


def test_deep_mlp_bad_norm():
    with pytest.raises(ValueError, match="norm"):
        DeepMLP(norm="group")


def test_dropout_mlp_config_and_layers():
    m = dropout_mlp({"hidden_sizes": (16, 8), "p_input": 0.1, "p_hidden": 0.3}, seed=0)
    drops = [mod for mod in m.layers if isinstance(mod, nn.Dropout)]
    assert [d.p for d in drops] == [0.1, 0.3, 0.3]
    assert m.config["hidden_sizes"] == [16, 8] and len(m.linears) == 3
    assert m(torch.randn(4, 1, 28, 28)).shape == (4, 10)
    plain = dropout_mlp({"hidden_sizes": (16,), "p_hidden": 0.0})
    assert not any(isinstance(mod, nn.Dropout) for mod in plain.modules())


@pytest.mark.parametrize("init,expected_var", [("kaiming", 2 / 784), ("lecun", 1 / 784)])
def test_dropout_mlp_init_variance(init, expected_var):
    m = dropout_mlp({"hidden_sizes": (2000,), "init": init}, seed=0)
    assert m.linears[0].weight.var().item() == pytest.approx(expected_var, rel=0.02)
    assert m.linears[0].bias.abs().max().item() == 0


@pytest.mark.parametrize("config,match", [({"p_hidden": 1.0}, "dropout rate"), ({"dropout": "gauss"}, "dropout"),
                                          ({"colour": 1}, "Unknown dropout_mlp config"), ({"init": "he"}, "init")])
def test_dropout_mlp_bad_config(config, match):
    with pytest.raises(ValueError, match=match):
        dropout_mlp(config)


