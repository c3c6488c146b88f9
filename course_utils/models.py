"""The book's networks: every architecture, and the seeded builders the chapters call.

* :class:`MLP` — ``784 -> hidden_sizes... -> num_classes``: Linear + activation, optionally a
  dropout layer before every Linear (Part V);
* :class:`DeepMLP` and :func:`deep_mlp` — a deep, narrow MLP with batch or layer norm between
  Linear and activation (Part II), Kaiming-initialised from a seed;
* :func:`reference_mlp` — **the** network of the book, 784-512-256-256-128-10 with ReLU,
  Kaiming-normal weights drawn from a generator seeded with ``seed`` (Parts I-IV, appendix);
* :func:`dropout_mlp` and :func:`small_mlp` — the networks of Part V and of the exercises' short
  runs, built the sources' way: PyTorch's default draw, then He-normal weights, from one generator
  seeded with ``seed`` (the numbers ``torch.manual_seed(seed)`` gave the sources, without
  touching the global RNG; transfer learning's models are :class:`MLP` with ``init=``, drawn
  layer by layer);
* :data:`ACTIVATIONS` and :func:`make_activation` — activations by name.

The building blocks written out by hand (batch and layer norm, MC dropout, SwiGLU, ...) live in
:mod:`course_utils.layers`; the initialisation schemes in :mod:`course_utils.init`.
"""
from __future__ import annotations

import copy
import math
from typing import Callable, Sequence

import torch
from torch import nn

from . import init as _init
from .layers import BatchNorm1d, LayerNorm, McDropout

__all__ = ["ACTIVATIONS", "make_activation", "Identity", "MLP", "DeepMLP", "reference_mlp", "deep_mlp",
           "dropout_mlp", "small_mlp", "REFERENCE_SIZES", "DROPOUT_KINDS"]

#: The reference network's widths, input first: 784-512-256-256-128-10.
REFERENCE_SIZES: tuple[int, ...] = (784, 512, 256, 256, 128, 10)


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

#: Dropout layers by name (``dropout=`` of :class:`MLP`).
DROPOUT_KINDS: dict[str, type[nn.Module]] = {"standard": nn.Dropout, "alpha": nn.AlphaDropout, "mc": McDropout}


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


def _linear(d_in: int, d_out: int, generator: torch.Generator | None, init: str | None = None) -> nn.Linear:
    """``nn.Linear(d_in, d_out)`` with PyTorch's default initialisation drawn from ``generator``.

    Without a generator this is plain ``nn.Linear`` (the global RNG).  With one, the layer is made
    without a draw and then initialised as ``nn.Linear.reset_parameters`` does:
    :math:`\\mathcal U(\\pm 1/\\sqrt{d_x})` for weight and bias.  ``init`` (a scheme of
    :func:`course_utils.init.init_model`) is then drawn at once, from the same generator.
    """
    if generator is None:
        lin = nn.Linear(d_in, d_out)
    else:
        lin = nn.utils.skip_init(nn.Linear, d_in, d_out)
        nn.init.kaiming_uniform_(lin.weight, a=math.sqrt(5), generator=generator)
        nn.init.uniform_(lin.bias, -1 / math.sqrt(d_in), 1 / math.sqrt(d_in), generator=generator)
    if init is not None:
        _init.init_model(lin, init, generator=generator)
    return lin


class MLP(nn.Module):
    """Fully connected network ``784 -> hidden_sizes... -> num_classes``.

    The input is flattened, so ``(B, 1, 28, 28)`` and ``(B, 784)`` both work.  Every hidden layer
    is ``Linear`` followed by the activation; the last layer is a plain ``Linear`` that outputs
    logits.  With ``p_input``/``p_hidden`` a dropout layer comes before the first / every other
    ``Linear`` (a rate of 0 adds no layer).  Weights keep PyTorch's default initialisation; use
    :mod:`course_utils.init` (or :func:`reference_mlp`) to change it.

    Args:
        act_fn: activation, by name (see :data:`ACTIVATIONS`) or as an ``nn.Module``
            (a fresh copy is made for each layer by deep-copying).
        input_size: number of input features.
        hidden_sizes: widths of the hidden layers (may be empty: logistic regression).
        num_classes: number of outputs.
        p_input: dropout rate on the input pixels.
        p_hidden: dropout rate before every hidden-to-next Linear layer.
        dropout: ``"standard"``, ``"alpha"`` (for SELU) or ``"mc"`` (stays on in eval mode).
        generator: draw the default initialisation from this generator instead of the global RNG.
        init: re-initialise each Linear with this scheme of :func:`course_utils.init.init_model`
            right after its default draw (from ``generator``), layer by layer.
    """

    def __init__(self, act_fn: str | nn.Module = "relu", input_size: int = 784,
                 hidden_sizes: Sequence[int] = (512, 256, 256, 128), num_classes: int = 10, *,
                 p_input: float = 0.0, p_hidden: float = 0.0, dropout: str = "standard",
                 generator: torch.Generator | None = None, init: str | None = None):
        super().__init__()
        sizes = [input_size, *hidden_sizes, num_classes]
        if any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in sizes):
            raise ValueError(f"All layer sizes must be positive integers, got input_size={input_size}, "
                             f"hidden_sizes={tuple(hidden_sizes)}, num_classes={num_classes}.")
        for name, p in (("p_input", p_input), ("p_hidden", p_hidden)):
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be a dropout rate in [0, 1), got {p!r}.")
        if dropout not in DROPOUT_KINDS:
            raise ValueError(f"dropout must be one of {sorted(DROPOUT_KINDS)}, got {dropout!r}.")
        first, act_name = make_activation(act_fn)
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            p = p_input if i == 0 else p_hidden
            if p > 0:
                layers.append(DROPOUT_KINDS[dropout](p))
            layers.append(_linear(d_in, d_out, generator, init))
            if i < len(sizes) - 2:
                layers.append(first if i == 0 else copy.deepcopy(first))
        self.layers = nn.Sequential(*layers)
        self.input_size = input_size
        self.config = {"act_fn": act_name, "input_size": input_size,
                       "hidden_sizes": list(hidden_sizes), "num_classes": num_classes}
        if p_input or p_hidden:
            self.config.update(p_input=p_input, p_hidden=p_hidden, dropout=dropout)
        if init is not None:
            self.config["init"] = init

    @classmethod
    def from_sizes(cls, act_fn: str | nn.Module, sizes: Sequence[int]) -> "MLP":
        """The MLP with widths ``[d_0, ..., d_L]``, input first (e.g. :data:`REFERENCE_SIZES`)."""
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output width, got {sizes}.")
        return cls(act_fn, input_size=sizes[0], hidden_sizes=tuple(sizes[1:-1]), num_classes=sizes[-1])

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


class DeepMLP(nn.Module):
    """A deep, narrow MLP: ``784 -> [Linear -> (norm) -> act] x depth -> 10``.

    The normalisation layer sits between each hidden Linear layer and its activation (as in the
    batch-norm paper); with batch norm the hidden Linear layers have no bias (BN's β replaces it).

    Args:
        depth: number of hidden layers.
        width: units per hidden layer.
        act_fn: activation name (see :data:`ACTIVATIONS`).
        norm: ``None``, ``"batch"`` or ``"layer"``.
        from_scratch: use :class:`course_utils.layers.BatchNorm1d` / :class:`~course_utils.layers.LayerNorm`
            instead of torch's.
        input_size, num_classes: as in :class:`MLP`.
    """

    def __init__(self, depth: int = 15, width: int = 128, act_fn: str = "relu", norm: str | None = None,
                 from_scratch: bool = False, input_size: int = 784, num_classes: int = 10):
        super().__init__()
        if norm not in (None, "batch", "layer"):
            raise ValueError(f"DeepMLP: norm must be None, 'batch' or 'layer', got {norm!r}.")
        if not isinstance(depth, int) or depth <= 0 or not isinstance(width, int) or width <= 0:
            raise ValueError(f"DeepMLP: depth and width must be positive integers, got {depth!r}, {width!r}.")
        bn_cls = BatchNorm1d if from_scratch else nn.BatchNorm1d
        ln_cls = LayerNorm if from_scratch else nn.LayerNorm
        layers: list[nn.Module] = []
        d = input_size
        for _ in range(depth):
            layers.append(nn.Linear(d, width, bias=norm != "batch"))
            if norm == "batch":
                layers.append(bn_cls(width))
            elif norm == "layer":
                layers.append(ln_cls(width))
            layers.append(make_activation(act_fn)[0])
            d = width
        layers.append(nn.Linear(d, num_classes))
        self.layers = nn.Sequential(*layers)
        self.input_size = input_size
        self.config = {"depth": depth, "width": width, "act_fn": act_fn, "norm": norm,
                       "from_scratch": from_scratch, "input_size": input_size, "num_classes": num_classes}

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.reshape(x.shape[0], -1))  # (B, 784) -> (B, 10)


# ----------------------------------------------------------------------------- seeded builders
def reference_mlp(seed: int = 0, act_fn: str | nn.Module = "relu", *, first_layer: str | None = None) -> MLP:
    """The reference network 784-512-256-256-128-10, Kaiming-normal initialised from ``seed``.

    Weights :math:`\\mathcal N(0, 2/d_x)`, biases zero, drawn layer by layer from
    ``torch.Generator().manual_seed(seed)`` (:func:`course_utils.init.init_model`), so the same
    seed gives the same network in every chapter; the global RNG is not seeded.

    Args:
        seed: seed of the initialisation.
        act_fn: hidden activation (the Kaiming gain stays ReLU's, as in the sources).
        first_layer: another scheme for the first layer, e.g. ``"lecun_normal"``: :math:`1/d_x`
            there, because the raw input has not passed a ReLU (Part III's comparison, the appendix).
    """
    net = MLP(act_fn)  # REFERENCE_SIZES; the default draw (global RNG) is overwritten below
    return _init.init_model(net, "kaiming_normal", first_layer=first_layer,
                            generator=torch.Generator().manual_seed(seed))


def deep_mlp(seed: int = 0, *, depth: int = 15, width: int = 128, act_fn: str = "relu", norm: str | None = None,
             from_scratch: bool = False) -> DeepMLP:
    """A :class:`DeepMLP`, Kaiming-normal initialised from ``seed`` like :func:`reference_mlp` (Part II)."""
    net = DeepMLP(depth, width, act_fn, norm, from_scratch)
    return _init.init_model(net, "kaiming_normal", generator=torch.Generator().manual_seed(seed))


_DROPOUT_DEFAULTS = {"hidden_sizes": REFERENCE_SIZES[1:-1], "act_fn": "relu", "p_input": 0.0, "p_hidden": 0.2,
                     "dropout": "standard", "init": "kaiming", "input_size": 784, "num_classes": 10}
_INITS = {"kaiming": "kaiming_normal", "lecun": "lecun_normal", "default": None}


def dropout_mlp(config: dict | None = None, *, seed: int | None = None) -> MLP:
    """The reference MLP with dropout before every ``Linear`` layer, initialised (Part V).

    ``config`` keys (defaults in brackets): ``hidden_sizes`` [(512, 256, 256, 128)], ``act_fn``
    ["relu"], ``p_input`` [0.0] (dropout on the pixels), ``p_hidden`` [0.2] (before every other
    Linear), ``dropout`` ["standard" | "alpha" | "mc"], ``init`` ["kaiming" (He normal, for ReLU) |
    "lecun" (normal, std 1/√fan_in, for SELU) | "default"], ``input_size`` [784], ``num_classes`` [10].
    Biases start at zero. A rate of 0 adds no layer, so ``p_hidden=0`` gives the plain MLP.

    The network is built (PyTorch's default draw) and then re-initialised, both from one generator
    seeded with ``seed``: the numbers the sources get from ``torch.manual_seed(seed)`` before
    building, without touching the global RNG.  (So ``p_hidden=0`` is the reference architecture,
    but not the draw of :func:`reference_mlp` for the same seed.)

    Args:
        config: the settings above (a plain dict; kept in ``model.config``).
        seed: seeds the initialisation (None: the global RNG, unseeded).
    """
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config must be a dict such as {{'p_hidden': 0.2}}, got {type(config).__name__}.")
    config = config or {}
    unknown = set(config) - set(_DROPOUT_DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown dropout_mlp config keys {sorted(unknown)}; valid keys: {sorted(_DROPOUT_DEFAULTS)}.")
    cfg = {**_DROPOUT_DEFAULTS, **config}
    if cfg["init"] not in _INITS:
        raise ValueError(f"config['init'] must be 'kaiming', 'lecun' or 'default', got {cfg['init']!r}.")
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    model = MLP(cfg["act_fn"], cfg["input_size"], tuple(cfg["hidden_sizes"]), cfg["num_classes"],
                p_input=cfg["p_input"], p_hidden=cfg["p_hidden"], dropout=cfg["dropout"], generator=gen)
    if _INITS[cfg["init"]] is not None:
        _init.init_model(model, _INITS[cfg["init"]], generator=gen)
    model.config = {**cfg, "hidden_sizes": list(cfg["hidden_sizes"])}
    return model


def small_mlp(seed: int | None = 0, hidden_sizes: Sequence[int] = (128,), *, act_fn: str = "relu",
              num_classes: int = 10) -> MLP:
    """A small He-initialised MLP ``784 -> hidden_sizes -> num_classes`` for short runs (the exercises).

    :func:`dropout_mlp` without dropout: the same draws as ``torch.manual_seed(seed)``, building
    the MLP and re-initialising it with ``kaiming_normal_`` and zero biases.
    """
    return dropout_mlp({"hidden_sizes": tuple(hidden_sizes), "act_fn": act_fn, "p_hidden": 0.0,
                        "num_classes": num_classes}, seed=seed)
