"""The reference network of the book: a plain MLP for 28x28 images."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "make_activation", "MLP", "Identity"]


class Identity(nn.Module):
    """``f(x) = x``; named so that it shows up in a model's printout."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


#: Activation names accepted by :class:`MLP` (lower case) and the module each one builds.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "identity": Identity,
    "linear": Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "leakyrelu": lambda: nn.LeakyReLU(0.01),
    "leaky_relu_0.2": lambda: nn.LeakyReLU(0.2),
    "rrelu": nn.RReLU,
    "prelu": nn.PReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "mish": nn.Mish,
    "softplus": nn.Softplus,
}


def make_activation(act_fn: str | nn.Module | type) -> tuple[nn.Module, str]:
    """Build an activation module from a name, a module instance or a module class.

    Returns:
        ``(module, name)`` where ``name`` is what goes into the model's ``config``.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        TypeError: something that is neither a string nor an ``nn.Module``.
    """
    if isinstance(act_fn, str):
        key = act_fn.strip().lower()
        if key not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {act_fn!r}. Valid names: {', '.join(sorted(ACTIVATIONS))}; "
                             f"or pass an nn.Module such as nn.LeakyReLU(0.1).")
        return ACTIVATIONS[key](), key
    if isinstance(act_fn, type) and issubclass(act_fn, nn.Module):
        return act_fn(), act_fn.__name__.lower()
    if isinstance(act_fn, nn.Module):
        return act_fn, repr(act_fn)
    raise TypeError(f"act_fn must be a name (one of {sorted(ACTIVATIONS)}) or an nn.Module, "
                    f"got {type(act_fn).__name__}.")


class MLP(nn.Module):
    """Fully connected network ``784 -> hidden_sizes... -> num_classes``.

    The input is flattened, so ``(B, 1, 28, 28)`` and ``(B, 784)`` both work.
    Every hidden layer is ``Linear`` followed by the activation; the last layer is
    a plain ``Linear`` that outputs logits.  Weights keep PyTorch's default
    initialisation; use :mod:`course_utils.init` to change it.

    Args:
        act_fn: activation, by name (see :data:`ACTIVATIONS`) or as an ``nn.Module``
            (a fresh copy is made for each layer by deep-copying).
        input_size: number of input features.
        hidden_sizes: widths of the hidden layers (may be empty: logistic regression).
        num_classes: number of outputs.
    """

    def __init__(self, act_fn: str | nn.Module = "relu", input_size: int = 784,
                 hidden_sizes: Sequence[int] = (512, 256, 256, 128), num_classes: int = 10):
        super().__init__()
        sizes = [input_size, *hidden_sizes, num_classes]
        if any((not isinstance(s, int)) or s <= 0 for s in sizes):
            raise ValueError(f"All layer sizes must be positive integers, got input_size={input_size}, "
                             f"hidden_sizes={tuple(hidden_sizes)}, num_classes={num_classes}.")
        first, act_name = make_activation(act_fn)
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(d_in, d_out))
            if i < len(sizes) - 2:
                layers.append(first if i == 0 else _fresh_copy(first))
        self.layers = nn.Sequential(*layers)
        self.input_size = input_size
        self.config = {"act_fn": act_name, "input_size": input_size,
                       "hidden_sizes": list(hidden_sizes), "num_classes": num_classes}

    @property
    def linears(self) -> list[nn.Linear]:
        """The ``Linear`` layers in order (input layer first, output layer last)."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)  # (B, 784)
        if x.shape[1] != self.input_size:
            raise ValueError(f"MLP expects {self.input_size} input features per sample, got input of shape "
                             f"{tuple(x.shape)} after flattening; check the image size or input_size.")
        return self.layers(x)  # (B, num_classes)


def _fresh_copy(module: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(module)
