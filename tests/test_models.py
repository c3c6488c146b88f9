import pytest
import torch
from torch import nn

from course_utils.models import ACTIVATIONS, MLP, make_activation


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
