"""Activation functions, normalisation layers and gradient clipping, written out (Part II).

Everything here is small and is tested against its PyTorch counterpart in
``tests/test_layers.py``:

* activations that PyTorch lacks as modules: :class:`Swish` (with :math:`\\beta`),
  :class:`GELUSigmoid` (:math:`z\\,\\sigma(1.702 z)`), :class:`ReLUSquared`, :class:`SwiGLU`;
* :data:`ACTIVATION_SPECS`: every activation of the gallery with the initialisation that goes with it;
* data for the chapters: :func:`activation_gallery` (:math:`f` and :math:`f'` by autograd),
  :func:`fixed_point_gain`, :func:`deep_stack_stats` (signal propagation through a deep random stack);
* :class:`BatchNorm1d` and :class:`LayerNorm` from scratch, :func:`fold_batchnorm` (one layer) and
  :func:`fold_batchnorms` (a whole network);
* :class:`McDropout`: dropout that stays on in eval mode (Monte Carlo dropout, Part V);
* :func:`clip_by_value`, :func:`clip_by_norm` and :func:`with_grad_clipping` (an optimizer step pre-hook,
  so that :func:`course_utils.train.train_model` trains with clipping unchanged).

The networks built from these layers (:class:`~course_utils.models.DeepMLP`, ...) are in
:mod:`course_utils.models`; the figures are drawn by :mod:`course_utils.plotting`.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .gaussian import activation_moments

__all__ = ["Swish", "GELUSigmoid", "ReLUSquared", "SwiGLU", "SwiGLUGate", "ActivationSpec", "ACTIVATION_SPECS",
           "activation_gallery", "gelu_approximation_error", "fixed_point_gain", "deep_stack_stats",
           "standardize_features", "BatchNorm1d", "LayerNorm", "fold_batchnorm", "fold_batchnorms", "McDropout",
           "clip_by_value", "clip_by_norm", "with_grad_clipping"]


# =============================================================================== activations
class Swish(nn.Module):
    r"""Swish / SiLU with a slope parameter: :math:`\mathrm{Swish}_\beta(z) = z\,\sigma(\beta z)`.

    :math:`\beta = 1` is :class:`torch.nn.SiLU`; :math:`\beta = 1.702` approximates GELU.

    Args:
        beta: the slope :math:`\beta` of the sigmoid gate (any finite number).
        learnable: make :math:`\beta` a trainable parameter (one per module).
    """

    def __init__(self, beta: float = 1.0, learnable: bool = False):
        super().__init__()
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not math.isfinite(beta):
            raise TypeError(f"Swish: beta must be a finite number, got {beta!r}.")
        # a plain float when fixed (exact in any dtype), a parameter when learnable
        self.beta = nn.Parameter(torch.tensor(float(beta))) if learnable else float(beta)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.sigmoid(self.beta * z)

    def extra_repr(self) -> str:
        return f"beta={float(self.beta):g}"


class GELUSigmoid(nn.Module):
    r"""The sigmoid approximation of GELU: :math:`z\,\sigma(1.702\,z)` (Hendrycks & Gimpel, 2016)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.sigmoid(1.702 * z)


class ReLUSquared(nn.Module):
    r""":math:`\mathrm{ReLU}^2(z) = \max(0, z)^2` (So et al., 2021, "Primer")."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.relu(z).square()


class SwiGLUGate(nn.Module):
    r"""The SwiGLU gate alone: split the last dimension in halves :math:`(z_1, z_2)` and return
    :math:`\mathrm{Swish}_\beta(z_1) \otimes z_2`.  The output has half as many features as the input.

    Used after a Linear layer that produces twice the width; :class:`SwiGLU` is that pair.
    """

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.swish = Swish(beta)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] % 2:
            raise ValueError(f"SwiGLUGate needs an even number of features in the last dimension to split "
                             f"into two halves, got shape {tuple(z.shape)}; double the previous layer's width.")
        z1, z2 = z.chunk(2, dim=-1)  # (..., d) each
        return self.swish(z1) * z2


class SwiGLU(nn.Module):
    r"""A SwiGLU layer (Shazeer, 2020): :math:`\mathrm{Swish}_\beta(x W_1 + b_1) \otimes (x W_2 + b_2)`.

    Implemented as one ``Linear(in_features, 2 * out_features)`` whose output is split in two.

    Args:
        in_features: input width.
        out_features: output width (the Linear layer inside has twice as many outputs).
        beta: Swish slope.
        bias: use biases in the Linear layer.
    """

    def __init__(self, in_features: int, out_features: int, beta: float = 1.0, bias: bool = True):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"SwiGLU: {name} must be a positive integer, got {v!r}.")
        self.linear = nn.Linear(in_features, 2 * out_features, bias=bias)
        self.gate = SwiGLUGate(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.linear(x))  # (B, 2*out) -> (B, out)


@dataclasses.dataclass(frozen=True)
class ActivationSpec:
    """One activation of the gallery and the initialisation that goes with it.

    Attributes:
        name: key in :data:`ACTIVATION_SPECS`.
        label: how figures and tables name it.
        factory: builds a fresh module.
        init: the recipe the sources recommend ("Xavier", "Kaiming", "LeCun").
        gain: the gain :math:`g` of that recipe, weights drawn with :math:`\\mathrm{Var}(w) = g^2/d_x`.
        gain_note: where the gain comes from.
        width_factor: 2 for gates that halve the width (SwiGLU), else 1.
    """

    name: str
    label: str
    factory: Callable[[], nn.Module]
    init: str
    gain: float
    gain_note: str
    width_factor: int = 1

    def make(self) -> nn.Module:
        return self.factory()


def _leaky_gain(a: float) -> float:
    return math.sqrt(2.0 / (1.0 + a * a))


_RRELU_MEAN = (1 / 8 + 1 / 3) / 2  # nn.RReLU's default slopes are U(1/8, 1/3); eval mode uses the mean

#: The gallery, in the order the chapter discusses them.
ACTIVATION_SPECS: dict[str, ActivationSpec] = {s.name: s for s in [
    ActivationSpec("sigmoid", "sigmoid", nn.Sigmoid, "Xavier", 1.0, "calculate_gain('sigmoid') = 1"),
    ActivationSpec("tanh", "tanh", nn.Tanh, "Xavier", 5 / 3, "calculate_gain('tanh') = 5/3"),
    ActivationSpec("relu", "ReLU", nn.ReLU, "Kaiming", math.sqrt(2), "√2 (the ReLU factor ½)"),
    ActivationSpec("leaky_relu_0.01", "leaky ReLU α=0.01", lambda: nn.LeakyReLU(0.01), "Kaiming",
                   _leaky_gain(0.01), "√(2/(1+α²))"),
    ActivationSpec("leaky_relu_0.2", "leaky ReLU α=0.2", lambda: nn.LeakyReLU(0.2), "Kaiming",
                   _leaky_gain(0.2), "√(2/(1+α²))"),
    ActivationSpec("rrelu", "RReLU", nn.RReLU, "Kaiming", _leaky_gain(_RRELU_MEAN), "√(2/(1+ᾱ²)), ᾱ = 0.229"),
    ActivationSpec("prelu", "PReLU", nn.PReLU, "Kaiming", _leaky_gain(0.25), "√(2/(1+α²)), α₀ = 0.25"),
    ActivationSpec("elu", "ELU", nn.ELU, "Kaiming", math.sqrt(2), "√2 (ReLU's)"),
    ActivationSpec("selu", "SELU", nn.SELU, "LeCun", 1.0, "1 (not calculate_gain('selu') = 3/4)"),
    ActivationSpec("gelu", "GELU", nn.GELU, "Kaiming", math.sqrt(2), "√2 (ReLU's)"),
    ActivationSpec("gelu_sigmoid", "z·σ(1.702z)", GELUSigmoid, "Kaiming", math.sqrt(2), "√2 (ReLU's)"),
    ActivationSpec("silu", "SiLU / Swish β=1", nn.SiLU, "Kaiming", math.sqrt(2), "√2 (ReLU's)"),
    ActivationSpec("swish_0.6", "Swish β=0.6", lambda: Swish(0.6), "Kaiming", math.sqrt(2), "√2 (ReLU's)"),
    ActivationSpec("mish", "Mish", nn.Mish, "Kaiming", math.sqrt(2), "√2 (ReLU's)"),
    ActivationSpec("relu2", "ReLU²", ReLUSquared, "Kaiming", math.sqrt(2), "√2 (ReLU's)"),
    ActivationSpec("swiglu", "SwiGLU", SwiGLUGate, "Kaiming", math.sqrt(2), "√2 (ReLU's)", width_factor=2),
]}


def _spec(act: str | ActivationSpec) -> ActivationSpec:
    if isinstance(act, ActivationSpec):
        return act
    if isinstance(act, str) and act in ACTIVATION_SPECS:
        return ACTIVATION_SPECS[act]
    raise ValueError(f"Unknown activation {act!r}. Valid names: {', '.join(ACTIVATION_SPECS)}.")


def activation_gallery(names: Sequence[str] | None = None, z: torch.Tensor | None = None
                       ) -> dict[str, dict[str, np.ndarray]]:
    """Each activation :math:`f` and its derivative :math:`f'` on a grid, the derivative by autograd.

    Modules are evaluated in ``eval`` mode (RReLU then uses its mean slope).  SwiGLU is a function of
    two inputs; the gallery shows it on the diagonal :math:`z_1 = z_2 = z`, i.e. :math:`z\\,\\mathrm{Swish}(z)`.

    Args:
        names: keys of :data:`ACTIVATION_SPECS` (default: all).
        z: 1-D grid (default: 401 points on :math:`[-4, 4]`, float64).

    Returns:
        ``{name: {"z": grid, "f": f(z), "df": f'(z)}}`` as NumPy arrays.
    """
    names = list(ACTIVATION_SPECS) if names is None else list(names)
    if z is None:
        z = torch.linspace(-4, 4, 401, dtype=torch.float64)
    if not isinstance(z, torch.Tensor) or z.dim() != 1:
        raise ValueError("z must be a 1-D tensor grid, e.g. torch.linspace(-4, 4, 401).")
    out = {}
    for name in names:
        spec = _spec(name)
        act = spec.make().to(z.dtype).eval()
        zz = z.detach().clone().requires_grad_(True)
        inp = torch.stack([zz, zz], dim=-1) if spec.width_factor == 2 else zz[:, None]  # (N, 1 or 2)
        f = act(inp).reshape(-1)  # (N,)
        (df,) = torch.autograd.grad(f.sum(), zz)
        out[spec.name] = {"z": z.numpy().copy(), "f": f.detach().numpy(), "df": df.numpy()}
    return out


def gelu_approximation_error(z: torch.Tensor | None = None) -> dict[str, float]:
    r"""Largest absolute errors of the two usual GELU approximations on a grid (float64).

    Returns:
        ``{"sigmoid": max|GELU - z σ(1.702 z)|, "sigmoid_at": where it occurs,
        "tanh": max|GELU - GELU_tanh|, "tanh_at": ...}``.
    """
    if z is None:
        z = torch.linspace(-8, 8, 16001, dtype=torch.float64)
    exact = F.gelu(z)
    out = {}
    for name, approx in (("sigmoid", GELUSigmoid()(z)), ("tanh", F.gelu(z, approximate="tanh"))):
        err = (exact - approx).abs()
        i = int(err.argmax())
        out[name], out[f"{name}_at"] = float(err[i]), float(z[i])
    return out


def fixed_point_gain(act: str | ActivationSpec) -> float:
    r"""The gain that makes :math:`q = 1` a fixed point of the variance recurrence.

    With weights :math:`\mathrm{Var}(w) = g^2/d_x`, zero biases and pre-activations
    :math:`z \sim \mathcal N(0, q)`, the next layer's pre-activation variance is
    :math:`q' = g^2\,\mathbb E[f(\sqrt q\,z)^2]`.  So :math:`q' = q = 1` needs
    :math:`g^* = 1/\sqrt{\mathbb E_{z\sim\mathcal N(0,1)}[f(z)^2]}`, computed by the quadrature of
    :mod:`course_utils.gaussian`.  For SwiGLU (two independent halves) :math:`\mathbb E[(\mathrm{Swish}(z_1) z_2)^2]
    = \mathbb E[\mathrm{Swish}(z)^2]`.
    """
    spec = _spec(act)
    mod = spec.make().to(torch.float64).eval()
    # E[(swish(z1) z2)^2] = E[swish(z1)^2] E[z2^2] for SwiGLU's two halves
    f = mod.swish if spec.width_factor == 2 else (lambda z: mod(z[:, None]).reshape(-1))
    second_moment, _ = activation_moments(f, 1.0)
    return 1.0 / math.sqrt(second_moment)


def standardize_features(X: torch.Tensor, reference: torch.Tensor | None = None, eps: float = 1e-2
                         ) -> torch.Tensor:
    """Standardise every feature (column) of ``X`` with the mean and std of ``reference`` (default ``X``).

    Inputs are flattened to ``(N, features)``.  Features that are (almost) constant in ``reference``,
    such as the corner pixels of Fashion-MNIST, are divided by ``std + eps`` so nothing blows up.
    """
    X2 = X.reshape(X.shape[0], -1)
    ref = X2 if reference is None else reference.reshape(reference.shape[0], -1)
    if ref.shape[1] != X2.shape[1]:
        raise ValueError(f"X has {X2.shape[1]} features but reference has {ref.shape[1]}; pass the same kind of data.")
    return (X2 - ref.mean(0)) / (ref.std(0) + eps)


@torch.no_grad()
def deep_stack_stats(act: str | ActivationSpec | nn.Module, *, depth: int = 50, width: int = 256,
                     gain: float | None = None, first_gain: float | None = None, x: torch.Tensor | None = None,
                     n: int = 512, dropout: str | None = None, p: float = 0.1, seed: int = 0,
                     dtype: torch.dtype = torch.float32) -> dict[str, np.ndarray]:
    r"""Push a batch through a deep random stack ``[Linear -> f (-> dropout)] x depth`` and measure it.

    Weights are drawn from :math:`\mathcal N(0, g^2/d_x)` (biases zero), with a seeded generator.
    Dropout, when asked for, is applied in training mode after every activation.  Once a variance
    overflows, it and all later ones are reported as ``inf``.

    Args:
        act: a key of :data:`ACTIVATION_SPECS`, a spec, or a module (then ``width_factor`` is 1).
        depth: number of Linear layers.
        width: units per layer (after the activation).
        gain: :math:`g`; default: the spec's gain (1 for a plain module).
        first_gain: gain of the first layer (default ``gain``); 1 gives the first layer LeCun's
            :math:`1/d_x`, right for a raw input that has not passed an activation (as in Part I).
        x: the input batch ``(n, d)`` (flattened if needed); default: standard normal ``(n, width)``.
        n: batch size when ``x`` is not given.
        dtype: precision of the computation.
        dropout: ``None``, ``"dropout"`` (ordinary) or ``"alpha"`` (alpha dropout).
        p: dropout probability.
        seed: seeds the weights, the default input and the dropout masks.

    Returns:
        ``{"pre_var": Var of each Linear output, "post_mean": mean of each layer's output (after
        activation and dropout), "post_std": its std, "unit_mean_abs": mean over units of
        |per-unit mean over the batch|}`` — arrays of length ``depth``.
    """
    if dropout not in (None, "dropout", "alpha"):
        raise ValueError(f"dropout must be None, 'dropout' or 'alpha', got {dropout!r}.")
    if not isinstance(depth, int) or depth <= 0 or not isinstance(width, int) or width <= 0:
        raise ValueError(f"depth and width must be positive integers, got depth={depth!r}, width={width!r}.")
    if isinstance(act, nn.Module):
        module, factor, g = act, 1, 1.0 if gain is None else gain
    else:
        spec = _spec(act)
        module, factor, g = spec.make(), spec.width_factor, spec.gain if gain is None else gain
    module.eval()
    gen = torch.Generator().manual_seed(seed)
    if x is None:
        x = torch.randn(n, width, generator=gen)
    h = x.reshape(x.shape[0], -1).to(dtype)  # (n, d)
    module = module.to(dtype)
    res = {k: np.zeros(depth) for k in ("pre_var", "post_mean", "post_std", "unit_mean_abs")}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for layer in range(depth):
            d_in = h.shape[1]
            g_l = first_gain if (layer == 0 and first_gain is not None) else g
            W = torch.randn(factor * width, d_in, generator=gen, dtype=dtype) * (g_l / math.sqrt(d_in))
            z = h @ W.T  # (n, factor*width)
            v = z.double().var(unbiased=False).item()
            res["pre_var"][layer] = v if math.isfinite(v) and (layer == 0 or res["pre_var"][layer - 1] < math.inf) \
                else math.inf
            h = module(z)  # (n, width)
            if dropout == "dropout":
                h = F.dropout(h, p, training=True)
            elif dropout == "alpha":
                h = F.alpha_dropout(h, p, training=True)
            res["post_mean"][layer] = h.mean().item()
            res["post_std"][layer] = h.std(unbiased=False).item()
            res["unit_mean_abs"][layer] = h.mean(0).abs().mean().item()
    return res


# =============================================================================== normalisation
class BatchNorm1d(nn.Module):
    r"""Batch normalisation (Ioffe & Szegedy, 2015) for inputs of shape ``(B, C)``, from scratch.

    Training mode, over the mini-batch :math:`B`:

    .. math::
        \mu_B = \frac1{m_B}\sum_i x^{(i)},\quad \sigma_B^2 = \frac1{m_B}\sum_i (x^{(i)}-\mu_B)^2,\quad
        \hat x^{(i)} = \frac{x^{(i)}-\mu_B}{\sqrt{\sigma_B^2+\epsilon}},\quad z^{(i)} = \gamma\otimes\hat x^{(i)}+\beta

    and the running statistics are updated with PyTorch's convention for ``momentum`` (the weight of
    the *new* value, not of the old average):

    .. math::
        \hat\mu \leftarrow (1-\text{momentum})\,\hat\mu + \text{momentum}\,\mu_B,\qquad
        \hat\sigma^2 \leftarrow (1-\text{momentum})\,\hat\sigma^2 + \text{momentum}\,\tfrac{m_B}{m_B-1}\sigma_B^2

    (the running variance uses the unbiased batch variance).  ``momentum=None`` gives the plain
    cumulative average.  Evaluation mode uses :math:`\hat\mu, \hat\sigma^2` in place of
    :math:`\mu_B, \sigma_B^2`.  Same arguments and defaults as :class:`torch.nn.BatchNorm1d`.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True):
        super().__init__()
        if not isinstance(num_features, int) or isinstance(num_features, bool) or num_features <= 0:
            raise ValueError(f"BatchNorm1d: num_features must be a positive integer, got {num_features!r}.")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1] (the weight of the new batch statistic) "
                             f"or None (cumulative average), got {momentum!r}.")
        if eps <= 0:
            raise ValueError(f"BatchNorm1d: eps must be > 0, got {eps!r}.")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))  # gamma
            self.bias = nn.Parameter(torch.zeros(num_features))  # beta
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d expects input of shape (batch, {self.num_features}), got "
                             f"{tuple(x.shape)}; flatten the input or check num_features.")
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            m = x.shape[0]
            if self.training and m < 2:
                raise ValueError("BatchNorm1d needs more than one sample per batch in training mode "
                                 f"(got input of shape {tuple(x.shape)}); use a bigger batch or model.eval().")
            mean = x.mean(dim=0)  # (C,)
            var = x.var(dim=0, unbiased=False)  # (C,)
            if self.training and self.track_running_stats:
                with torch.no_grad():
                    self.num_batches_tracked += 1
                    f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                    self.running_mean.mul_(1 - f).add_(f * mean)
                    self.running_var.mul_(1 - f).add_(f * var * m / (m - 1))
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean) / torch.sqrt(var + self.eps)  # (B, C)
        if self.affine:
            x_hat = x_hat * self.weight + self.bias
        return x_hat

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class LayerNorm(nn.Module):
    r"""Layer normalisation (Ba et al., 2016), from scratch: normalise each sample over its last dimensions.

    .. math::
        \mu = \frac1H\sum_{j} x_j,\quad \sigma^2 = \frac1H\sum_j (x_j-\mu)^2,\quad
        y = \gamma\otimes\frac{x-\mu}{\sqrt{\sigma^2+\epsilon}} + \beta

    where the sums run over the ``normalized_shape`` trailing dimensions (:math:`H` entries).
    The same in training and evaluation mode; no running statistics.
    Same arguments and defaults as :class:`torch.nn.LayerNorm`.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any((not isinstance(s, int)) or s <= 0 for s in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a tuple of them, "
                             f"got {normalized_shape!r}.")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(shape))
            self.bias = nn.Parameter(torch.zeros(shape)) if bias else None
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = len(self.normalized_shape)
        if tuple(x.shape[-k:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm({self.normalized_shape}) needs input whose last dimensions are "
                             f"{self.normalized_shape}, got shape {tuple(x.shape)}.")
        dims = tuple(range(-k, 0))
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, unbiased=False, keepdim=True)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


@torch.no_grad()
def fold_batchnorm(linear: nn.Linear, bn: nn.Module) -> nn.Linear:
    r"""A new ``nn.Linear`` equal to ``bn(linear(x))`` with ``bn`` in evaluation mode.

    With :math:`s = \gamma / \sqrt{\hat\sigma^2 + \epsilon}` (one scale per output unit):

    .. math::
        W' = \mathrm{diag}(s)\,W, \qquad b' = s \otimes (b - \hat\mu) + \beta .

    Works for :class:`torch.nn.BatchNorm1d` and :class:`BatchNorm1d`.  The computation is done in
    float64 and cast back to the Linear layer's dtype.  The inputs are not modified.

    Raises:
        TypeError: ``linear`` is not an ``nn.Linear``.
        ValueError: ``bn`` has no running statistics or its size does not match ``linear.out_features``.
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"fold_batchnorm: linear must be an nn.Linear, got {type(linear).__name__}.")
    mean, var = getattr(bn, "running_mean", None), getattr(bn, "running_var", None)
    if mean is None or var is None:
        raise ValueError("fold_batchnorm needs a batch-norm layer with running statistics "
                         "(track_running_stats=True); a layer that always uses batch statistics cannot be folded.")
    if mean.numel() != linear.out_features:
        raise ValueError(f"fold_batchnorm: the batch-norm layer has {mean.numel()} features but the Linear layer "
                         f"has {linear.out_features} outputs; pass the BN layer that directly follows this Linear.")
    dt = linear.weight.dtype
    gamma = bn.weight.double() if getattr(bn, "weight", None) is not None else torch.ones_like(mean, dtype=torch.float64)
    beta = bn.bias.double() if getattr(bn, "bias", None) is not None else torch.zeros_like(mean, dtype=torch.float64)
    s = gamma / torch.sqrt(var.double() + bn.eps)  # (out,)
    b = linear.bias.double() if linear.bias is not None else torch.zeros_like(s)
    fused = nn.Linear(linear.in_features, linear.out_features, bias=True,
                      device=linear.weight.device, dtype=dt)
    fused.weight.copy_((s[:, None] * linear.weight.double()).to(dt))
    fused.bias.copy_((s * (b - mean.double()) + beta).to(dt))
    return fused


@torch.no_grad()
def fold_batchnorms(model: nn.Module) -> nn.Module:
    """A copy of ``model`` for inference in which every ``Linear`` followed by batch norm is one ``Linear``.

    Every ``nn.Sequential`` inside ``model`` (or ``model`` itself) is rebuilt with each pair of a
    ``nn.Linear`` and the batch-norm layer right after it (:class:`torch.nn.BatchNorm1d` or
    :class:`BatchNorm1d`) replaced by :func:`fold_batchnorm` of the two; every other module is
    kept.  The copy is in eval mode (a folded network only computes what ``model.eval()`` does), a
    ``config`` with ``"norm": "batch"`` says ``None`` afterwards, and ``model`` is not modified.
    """
    def fold(module: nn.Module) -> nn.Module:
        for name, child in module.named_children():
            setattr(module, name, fold(child))
        if not isinstance(module, nn.Sequential):
            return module
        mods, out, i = list(module), [], 0
        while i < len(mods):
            if (isinstance(mods[i], nn.Linear) and i + 1 < len(mods)
                    and isinstance(mods[i + 1], (nn.BatchNorm1d, BatchNorm1d))):
                out.append(fold_batchnorm(mods[i], mods[i + 1]))
                i += 2
            else:
                out.append(mods[i])
                i += 1
        return nn.Sequential(*out)

    folded = fold(copy.deepcopy(model)).eval()
    if isinstance(getattr(folded, "config", None), dict) and folded.config.get("norm") == "batch":
        folded.config = {**folded.config, "norm": None}
    return folded


# =============================================================================== dropout
class McDropout(nn.Dropout):
    """Dropout that stays on in ``eval()`` mode: every forward pass is a Monte Carlo sample."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, training=True)


# =============================================================================== gradient clipping
def clip_by_value(g: torch.Tensor, clip_value: float) -> torch.Tensor:
    r"""Clip every component into :math:`[-c, c]`: :math:`g_i \leftarrow \min(\max(g_i, -c), c)` (a copy).

    Same result as :func:`torch.nn.utils.clip_grad_value_`; the direction of ``g`` can change.
    """
    if not clip_value > 0:
        raise ValueError(f"clip_value must be > 0, got {clip_value!r}.")
    return g.clamp(-clip_value, clip_value)


def clip_by_norm(g: torch.Tensor, max_norm: float, eps: float = 1e-6) -> torch.Tensor:
    r"""Rescale ``g`` so its Euclidean norm is at most ``max_norm`` (a copy); the direction is kept.

    .. math:: g \leftarrow g\cdot\min\!\Big(1, \frac{c}{\lVert g\rVert_2 + \epsilon}\Big)

    with :math:`\epsilon = 10^{-6}` as in :func:`torch.nn.utils.clip_grad_norm_`.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm!r}.")
    norm = torch.linalg.vector_norm(g)
    return g * torch.clamp(max_norm / (norm + eps), max=1.0)


def with_grad_clipping(optimizer: torch.optim.Optimizer, *, max_norm: float | None = None,
                       clip_value: float | None = None) -> torch.optim.Optimizer:
    """Make ``optimizer`` clip the gradients of all its parameters right before every ``step()``.

    Clipping by norm uses one global norm over all parameters, like
    ``torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)`` after ``loss.backward()``.
    The settings are stored in every param group (``"clip_max_norm"``, ``"clip_value"``), so they
    show up in ``state_dict()`` and in :func:`course_utils.train.train_model`'s cache key.

    Usage: ``train_model(model, lambda p: with_grad_clipping(torch.optim.SGD(p, lr=0.5), max_norm=1.0), ...)``.

    Returns:
        the same optimizer (with a step pre-hook registered).

    Raises:
        ValueError: neither or both of ``max_norm``/``clip_value`` given, a non-positive value, or an
            optimizer that already clips.
    """
    if (max_norm is None) == (clip_value is None):
        raise ValueError("with_grad_clipping: give exactly one of max_norm= (clip by norm) or clip_value= "
                         "(clip by value).")
    value = max_norm if max_norm is not None else clip_value
    if not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"with_grad_clipping: the threshold must be a positive number, got {value!r}.")
    if any("clip_max_norm" in g for g in optimizer.param_groups):
        raise ValueError("with_grad_clipping: this optimizer already clips its gradients; wrap it only once.")
    for g in optimizer.param_groups:
        g["clip_max_norm"], g["clip_value"] = max_norm, clip_value

    def hook(opt, _args, _kwargs):
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if not params:
            return
        g0 = opt.param_groups[0]
        if g0["clip_max_norm"] is not None:
            torch.nn.utils.clip_grad_norm_(params, g0["clip_max_norm"])
        else:
            torch.nn.utils.clip_grad_value_(params, g0["clip_value"])

    optimizer.register_step_pre_hook(hook)
    return optimizer
