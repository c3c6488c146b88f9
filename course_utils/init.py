"""Weight initialisation schemes, in the style of :mod:`torch.nn.init`.

Every ``*_`` function fills a tensor **in place**, returns it, and accepts a
``generator`` (a :class:`torch.Generator`) so that an initialisation can be
repeated exactly.  With the same generator state, the functions that
:mod:`torch.nn.init` also has draw exactly the same numbers as torch does.

The variance each scheme gives a weight of a layer with ``fan_in`` inputs
(:math:`d_x`) and ``fan_out`` outputs (:math:`d_y`), derived in Part I:

===================  ==========================================================
scheme               :math:`\\mathrm{Var}(w)`
===================  ==========================================================
LeCun                :math:`1/d_x`
Xavier / Glorot      :math:`g^2 \\cdot 2/(d_x+d_y)`
Kaiming / He         :math:`g^2/d_x` (:math:`g^2 = 2` for ReLU)
PyTorch ``Linear``   :math:`1/(3 d_x)` (uniform on :math:`\\pm 1/\\sqrt{d_x}`)
===================  ==========================================================

A uniform distribution on :math:`[-r, r]` has variance :math:`r^2/3`, so a
uniform scheme with variance :math:`\\sigma^2` uses :math:`r = \\sqrt{3\\sigma^2}`.

:func:`init_model` applies a named scheme to every ``nn.Linear`` of a model.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

__all__ = ["calculate_gain", "fan_in_and_fan_out", "constant_", "zeros_", "normal_", "uniform_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "lecun_normal_",
           "lecun_uniform_", "orthogonal_", "pytorch_default_", "scheme_std", "init_model", "SCHEMES"]

_NONLINEARITIES = ("identity", "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                   "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu")


# --------------------------------------------------------------------------------------------- checks
def _check_tensor(tensor, fn: str) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{fn} expects a torch.Tensor (e.g. layer.weight), got {type(tensor).__name__}.")


def _check_nonneg(name: str, value: float, fn: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise TypeError(f"{fn}: {name} must be a finite number, got {value!r}.")
    if value < 0:
        raise ValueError(f"{fn}: {name} must be >= 0, got {value}. A negative {name} makes no sense for a "
                         f"spread; use its absolute value.")


def fan_in_and_fan_out(tensor: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight: ``(d_x, d_y)`` for a Linear weight of shape ``(d_y, d_x)``.

    For convolution kernels ``(out, in, *k)`` both fans are multiplied by the kernel size, as in torch.

    Raises:
        ValueError: the tensor has fewer than 2 dimensions (a bias or a scalar has no fan-in).
    """
    _check_tensor(tensor, "fan_in_and_fan_out")
    if tensor.dim() < 2:
        raise ValueError(f"Fan-in and fan-out need a weight with at least 2 dimensions (out_features, in_features), "
                         f"got a tensor of shape {tuple(tensor.shape)}. Initialise biases with zeros_/constant_/"
                         f"normal_ instead.")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor :math:`g` by which a scheme's standard deviation is multiplied for a nonlinearity.

    Same values as :func:`torch.nn.init.calculate_gain`: 1 for identity/linear/conv and sigmoid,
    5/3 for tanh, :math:`\\sqrt 2` for ReLU, :math:`\\sqrt{2/(1+\\alpha^2)}` for leaky ReLU with
    slope :math:`\\alpha` (``param``, default 0.01) and 3/4 for SELU.  ``"identity"`` is accepted as
    a synonym of ``"linear"``.

    Raises:
        ValueError: unknown nonlinearity (the message lists the valid ones) or a bad ``param``.
    """
    if not isinstance(nonlinearity, str):
        raise TypeError(f"nonlinearity must be a string such as 'relu', got {type(nonlinearity).__name__}.")
    key = nonlinearity.strip().lower()
    if key not in _NONLINEARITIES:
        raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Valid: {', '.join(_NONLINEARITIES)}.")
    if key == "identity":
        key = "linear"
    return float(torch.nn.init.calculate_gain(key, param))


# ------------------------------------------------------------------------------------------- drawing
def _fill(tensor: torch.Tensor, draw: Callable[[torch.Tensor], torch.Tensor],
          generator: torch.Generator | None) -> torch.Tensor:
    """Run ``draw`` on the tensor in place; if the generator lives on another device, draw there and copy."""
    with torch.no_grad():
        if generator is not None and generator.device.type != tensor.device.type:
            tmp = torch.empty(tensor.shape, dtype=tensor.dtype, device=generator.device)
            draw(tmp)
            tensor.copy_(tmp)
        else:
            draw(tensor)
    return tensor


def constant_(tensor: torch.Tensor, val: float) -> torch.Tensor:
    """Fill with one value :math:`c` — every unit of a layer then computes the same thing (symmetry)."""
    _check_tensor(tensor, "constant_")
    with torch.no_grad():
        return tensor.fill_(val)


def zeros_(tensor: torch.Tensor) -> torch.Tensor:
    """Fill with zeros (the usual choice for biases)."""
    return constant_(tensor, 0.0)


def normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw from :math:`\\mathcal N(\\text{mean}, \\text{std}^2)`; same numbers as ``torch.nn.init.normal_``."""
    _check_tensor(tensor, "normal_")
    _check_nonneg("std", std, "normal_")
    return _fill(tensor, lambda t: t.normal_(mean, std, generator=generator), generator)


def uniform_(tensor: torch.Tensor, a: float = 0.0, b: float = 1.0, *,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw from :math:`\\mathcal U(a, b)`; same numbers as ``torch.nn.init.uniform_``."""
    _check_tensor(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}.")
    return _fill(tensor, lambda t: t.uniform_(a, b, generator=generator), generator)


def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0, *,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot & Bengio (2010): :math:`\\mathcal U(-r, r)`, :math:`r = g\\sqrt{6/(d_x+d_y)}`.

    The variance :math:`r^2/3 = g^2 \\cdot 2/(d_x+d_y)` is the compromise between the forward
    condition :math:`1/d_x` and the backward condition :math:`1/d_y`.
    """
    _check_tensor(tensor, "xavier_uniform_")
    _check_nonneg("gain", gain, "xavier_uniform_")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    r = math.sqrt(3.0) * std
    return _fill(tensor, lambda t: t.uniform_(-r, r, generator=generator), generator)


def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot & Bengio (2010): :math:`\\mathcal N(0, g^2 \\cdot 2/(d_x+d_y))`."""
    _check_tensor(tensor, "xavier_normal_")
    _check_nonneg("gain", gain, "xavier_normal_")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(tensor, lambda t: t.normal_(0.0, std, generator=generator), generator)


def _kaiming_std(tensor: torch.Tensor, a: float, mode: str, nonlinearity: str, fn: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode must be 'fan_in' (keeps the forward variance) or 'fan_out' (keeps the "
                         f"backward variance), got {mode!r}.")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_normal_(tensor: torch.Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    *, generator: torch.Generator | None = None) -> torch.Tensor:
    """He et al. (2015): :math:`\\mathcal N(0, g^2/d)`, :math:`d = d_x` (``fan_in``) or :math:`d_y`.

    For ReLU :math:`g^2 = 2` (the factor 2 undoes the half of the variance that ReLU removes); for leaky
    ReLU with negative slope ``a``, :math:`g^2 = 2/(1+a^2)`.  Defaults are torch's.
    """
    _check_tensor(tensor, "kaiming_normal_")
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return _fill(tensor, lambda t: t.normal_(0.0, std, generator=generator), generator)


def kaiming_uniform_(tensor: torch.Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     *, generator: torch.Generator | None = None) -> torch.Tensor:
    """He et al. (2015), uniform: :math:`\\mathcal U(-r, r)` with :math:`r = g\\sqrt{3/d}`."""
    _check_tensor(tensor, "kaiming_uniform_")
    r = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return _fill(tensor, lambda t: t.uniform_(-r, r, generator=generator), generator)


def lecun_normal_(tensor: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """LeCun et al. (1998): :math:`\\mathcal N(0, 1/d_x)` — the forward condition alone (used with SELU)."""
    _check_tensor(tensor, "lecun_normal_")
    fan_in, _ = fan_in_and_fan_out(tensor)
    std = 1.0 / math.sqrt(fan_in)
    return _fill(tensor, lambda t: t.normal_(0.0, std, generator=generator), generator)


def lecun_uniform_(tensor: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """LeCun, uniform: :math:`\\mathcal U(-r, r)` with :math:`r = \\sqrt{3/d_x}` (variance :math:`1/d_x`)."""
    _check_tensor(tensor, "lecun_uniform_")
    fan_in, _ = fan_in_and_fan_out(tensor)
    r = math.sqrt(3.0 / fan_in)
    return _fill(tensor, lambda t: t.uniform_(-r, r, generator=generator), generator)


def pytorch_default_(tensor: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """What ``nn.Linear.reset_parameters`` does to a weight: :math:`\\mathcal U(-1/\\sqrt{d_x}, 1/\\sqrt{d_x})`.

    (torch writes it as ``kaiming_uniform_(w, a=sqrt(5))``: :math:`g^2 = 2/(1+5) = 1/3`, so
    :math:`r = g\\sqrt{3/d_x} = 1/\\sqrt{d_x}`.)  The variance is :math:`1/(3 d_x)`: a third of LeCun's
    and a sixth of Kaiming's for ReLU.
    """
    _check_tensor(tensor, "pytorch_default_")
    fan_in, _ = fan_in_and_fan_out(tensor)
    r = 1.0 / math.sqrt(fan_in)
    return _fill(tensor, lambda t: t.uniform_(-r, r, generator=generator), generator)


def orthogonal_(tensor: torch.Tensor, gain: float = 1.0, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Saxe et al. (2014): a (semi-)orthogonal matrix times ``gain``; same numbers as ``torch.nn.init.orthogonal_``.

    A Gaussian matrix is QR-decomposed and the signs of ``diag(R)`` are folded into ``Q`` so that ``Q``
    is uniformly distributed.  Rows (or columns, whichever are fewer) are orthonormal, so an orthogonal
    layer preserves the norm of every input exactly when :math:`d_y \\ge d_x`.
    """
    _check_tensor(tensor, "orthogonal_")
    _check_nonneg("gain", gain, "orthogonal_")
    if tensor.dim() < 2:
        raise ValueError(f"orthogonal_ needs a weight with at least 2 dimensions, got shape {tuple(tensor.shape)}.")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    gdev = generator.device if generator is not None else tensor.device
    flat = torch.empty((rows, cols), dtype=tensor.dtype, device=gdev).normal_(0.0, 1.0, generator=generator)
    if rows < cols:
        flat.t_()
    q, r = torch.linalg.qr(flat)
    q *= torch.diag(r, 0).sign()
    if rows < cols:
        q.t_()
    with torch.no_grad():
        tensor.view_as(q).copy_(q)
        tensor.mul_(gain)
    return tensor


# ------------------------------------------------------------------------------------ whole models
#: Named schemes accepted by :func:`init_model`: ``name -> what it draws``.
SCHEMES: dict[str, str] = {
    "constant": "every weight = value (default 0.005)",
    "zeros": "every weight = 0",
    "normal": "N(0, std^2) with a fixed std (default 0.01)",
    "inv_sqrt_fan_in": "N(0, 1/d_x) (same as lecun_normal)",
    "lecun_normal": "N(0, 1/d_x)",
    "lecun_uniform": "U(-sqrt(3/d_x), sqrt(3/d_x))",
    "xavier_uniform": "U(-r, r), r = gain*sqrt(6/(d_x+d_y))",
    "xavier_normal": "N(0, gain^2 * 2/(d_x+d_y))",
    "kaiming_normal": "N(0, gain^2/d_x), gain from nonlinearity (default relu: 2/d_x)",
    "kaiming_uniform": "U(-r, r), r = gain*sqrt(3/d_x)",
    "orthogonal": "gain * a random (semi-)orthogonal matrix",
    "pytorch_default": "nn.Linear's own init: U(-1/sqrt(d_x), 1/sqrt(d_x)) for weight and bias",
}


def _init_weight(w: torch.Tensor, scheme: str, opts: dict, gen) -> torch.Tensor:
    if scheme == "constant":
        return constant_(w, opts["value"])
    if scheme == "zeros":
        return zeros_(w)
    if scheme == "normal":
        return normal_(w, 0.0, opts["std"], generator=gen)
    if scheme in ("inv_sqrt_fan_in", "lecun_normal"):
        return lecun_normal_(w, generator=gen)
    if scheme == "lecun_uniform":
        return lecun_uniform_(w, generator=gen)
    if scheme == "xavier_uniform":
        return xavier_uniform_(w, opts["gain"], generator=gen)
    if scheme == "xavier_normal":
        return xavier_normal_(w, opts["gain"], generator=gen)
    if scheme == "kaiming_normal":
        return kaiming_normal_(w, opts["a"], opts["mode"], opts["nonlinearity"], generator=gen)
    if scheme == "kaiming_uniform":
        return kaiming_uniform_(w, opts["a"], opts["mode"], opts["nonlinearity"], generator=gen)
    if scheme == "orthogonal":
        return orthogonal_(w, opts["gain"], generator=gen)
    if scheme == "pytorch_default":
        return pytorch_default_(w, generator=gen)
    raise AssertionError(scheme)  # unreachable: names are checked before


def scheme_std(scheme: str, fan_in: int, fan_out: int, *, value: float = 0.005, std: float = 0.01,
               gain: float = 1.0, nonlinearity: str = "relu", a: float = 0.0, mode: str = "fan_in") -> float:
    """The standard deviation a scheme gives each weight of a ``fan_in -> fan_out`` layer (0 for constants).

    For ``orthogonal`` the entries of a random orthogonal matrix have variance :math:`g^2/\\max(d_x, d_y)`.
    """
    _check_scheme(scheme)
    if scheme in ("constant", "zeros"):
        return 0.0
    if scheme == "normal":
        return float(std)
    if scheme in ("inv_sqrt_fan_in", "lecun_normal", "lecun_uniform"):
        return 1.0 / math.sqrt(fan_in)
    if scheme in ("xavier_uniform", "xavier_normal"):
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    if scheme in ("kaiming_normal", "kaiming_uniform"):
        return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)
    if scheme == "orthogonal":
        return gain / math.sqrt(max(fan_in, fan_out))
    if scheme == "pytorch_default":
        return 1.0 / math.sqrt(3.0 * fan_in)
    raise AssertionError(scheme)


def _check_scheme(scheme) -> None:
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise ValueError(f"Unknown init scheme {scheme!r}. Valid schemes: {', '.join(SCHEMES)}.")


def init_model(model: nn.Module, scheme: str, *, generator: torch.Generator | None = None,
               bias: str | float | None = None, first_layer: str | None = None,
               output_scale: float | None = None, value: float = 0.005, std: float = 0.01,
               gain: float = 1.0, nonlinearity: str = "relu", a: float = 0.0, mode: str = "fan_in") -> nn.Module:
    """Initialise every ``nn.Linear`` of ``model`` with a named scheme, in place; returns the model.

    Args:
        model: any module; its ``nn.Linear`` layers are visited in ``model.modules()`` order.
        scheme: one of :data:`SCHEMES` (e.g. ``"kaiming_normal"``).
        generator: a :class:`torch.Generator` for reproducible draws (``None``: torch's global RNG).
            Layers are drawn in order, weight before bias.
        bias: ``"zeros"``; ``"same"`` (the bias gets the weight's rule: ``value`` for ``constant``,
            ``N(0, std^2)`` for ``normal``, as in the sources); ``"pytorch_default"``
            (:math:`\\mathcal U(\\pm 1/\\sqrt{d_x})`); ``"keep"`` (leave it); or a number (fill with it).
            ``None`` picks ``"same"`` for ``constant``/``normal``, ``"pytorch_default"`` for
            ``pytorch_default`` and ``"zeros"`` otherwise.
        first_layer: another scheme for the first Linear layer only, e.g. ``"lecun_normal"``
            (Kaiming with a 1/d_x first layer, because the raw input has not passed a ReLU).
        output_scale: multiply the last Linear layer's weight (and bias) by this after initialising,
            e.g. 0.1 to start with small logits.
        value, std: parameters of ``constant`` and ``normal``.
        gain: gain of ``xavier_*`` and ``orthogonal``.
        nonlinearity, a, mode: as in :func:`kaiming_normal_`.

    Raises:
        ValueError: unknown scheme or bias rule (the message lists the valid ones), negative std/gain.
    """
    _check_scheme(scheme)
    if first_layer is not None:
        _check_scheme(first_layer)
    _check_nonneg("std", std, "init_model")
    _check_nonneg("gain", gain, "init_model")
    if output_scale is not None:
        _check_nonneg("output_scale", output_scale, "init_model")
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init_model: mode must be 'fan_in' or 'fan_out', got {mode!r}.")
    calculate_gain(nonlinearity, a)  # validates the name early
    valid_bias = ("zeros", "same", "pytorch_default", "keep")
    if bias is not None and not isinstance(bias, (int, float)) and bias not in valid_bias:
        raise ValueError(f"init_model: bias must be one of {valid_bias}, a number, or None; got {bias!r}.")
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not lins:
        raise ValueError(f"init_model: {type(model).__name__} has no nn.Linear layers to initialise.")
    opts = {"value": value, "std": std, "gain": gain, "nonlinearity": nonlinearity, "a": a, "mode": mode}
    for i, lin in enumerate(lins):
        sch = first_layer if (i == 0 and first_layer is not None) else scheme
        _init_weight(lin.weight, sch, opts, generator)
        if lin.bias is not None:
            rule = bias
            if rule is None:
                rule = {"constant": "same", "normal": "same", "pytorch_default": "pytorch_default"}.get(sch, "zeros")
            if isinstance(rule, (int, float)) and not isinstance(rule, bool):
                constant_(lin.bias, float(rule))
            elif rule == "zeros":
                zeros_(lin.bias)
            elif rule == "pytorch_default":
                r = 1.0 / math.sqrt(lin.in_features)
                uniform_(lin.bias, -r, r, generator=generator)
            elif rule == "same":
                if sch == "constant":
                    constant_(lin.bias, value)
                elif sch == "normal":
                    normal_(lin.bias, 0.0, std, generator=generator)
                else:
                    s = scheme_std(sch, lin.in_features, lin.out_features, value=value, std=std, gain=gain,
                                   nonlinearity=nonlinearity, a=a, mode=mode)
                    normal_(lin.bias, 0.0, s, generator=generator)
            # "keep": leave the bias as it is
    if output_scale is not None:
        with torch.no_grad():
            lins[-1].weight.mul_(output_scale)
            if lins[-1].bias is not None:
                lins[-1].bias.mul_(output_scale)
    return model
