"""Optimizers written from scratch, speaking the ``torch.optim`` API.

Every optimizer here subclasses :class:`TemplateOptimizer`, which does the
book-keeping once (closures, ``maximize``, skipping parameters without a
gradient, creating per-parameter state) and calls one method per parameter:

.. code-block:: python

    def update(self, p, grad, state, group):   # p, grad: same shape; state: dict of tensors
        ...                                    # change p in place

So the algorithm of each class is the few lines of its ``update``, next to the
math in its docstring.  Because the classes are real ``torch.optim.Optimizer``
subclasses, ``param_groups``, ``state_dict``/``load_state_dict`` and torch's
learning-rate schedulers work unchanged.

Where ``torch.optim`` has the same optimizer, the class takes the same
arguments with the same defaults and follows the same trajectory (checked in
``tests/test_optim.py`` to a relative difference below 1e-6 in float64).

Symbols used in the docstrings (and in the book): :math:`\\theta` parameters,
:math:`g_t` the gradient at step :math:`t` (after weight decay is added, when it
is), :math:`\\eta` the learning rate, :math:`\\lambda` weight decay,
:math:`\\beta, \\beta_1, \\beta_2` decay rates of running averages,
:math:`\\epsilon` a small constant against division by zero.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import torch
from torch import Tensor

__all__ = [
    "TemplateOptimizer", "SGD", "SGDMomentum", "Adagrad", "RMSprop", "Adam", "Adamax", "NAdam",
    "AdamW", "AdaBelief", "LocalGain", "OPTIMIZERS", "TORCH_EQUIVALENTS", "state_bytes_per_param",
]


# ----------------------------------------------------------------------------- validation helpers
def _check_lr(lr: float) -> None:
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr} (expected a number >= 0, e.g. lr=1e-3).")


def _check_nonneg(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0.0:
        raise ValueError(f"Invalid {name} value: {value} (expected a number >= 0).")


def _check_unit(name: str, value: float) -> None:
    """``value`` must lie in [0, 1): a decay rate of a running average."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} value: {value} (expected 0 <= {name} < 1; "
                         f"typical values are 0.9 or 0.999).")


def _check_betas(betas) -> None:
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"Invalid betas: {betas!r} (expected a pair (beta1, beta2), e.g. (0.9, 0.999)).")
    _check_unit("beta parameter at index 0", betas[0])
    _check_unit("beta parameter at index 1", betas[1])


# ----------------------------------------------------------------------------- the template
class TemplateOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` whose ``step`` calls :meth:`update` once per parameter.

    Subclasses implement two small methods:

    * ``init_state(p, group) -> dict`` — the per-parameter state, created the first
      time the parameter has a gradient (default: ``{"step": 0}``);
    * ``update(p, grad, state, group)`` — change ``p`` in place.  ``grad`` is already
      negated when the group has ``maximize=True``; ``state["step"]`` has already
      been incremented, so it is :math:`t = 1, 2, \\dots` inside ``update``.

    The step counter is a Python ``int`` (not a tensor), so ``state_dict`` holds
    only the state tensors that the algorithm really needs.
    """

    def init_state(self, p: Tensor, group: dict) -> dict:  # pragma: no cover - overridden
        return {}

    def update(self, p: Tensor, grad: Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update(p, grad, state, group).")

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None):
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise TypeError(f"{type(self).__name__} does not support sparse gradients; "
                                    f"use dense parameters (e.g. nn.Embedding(sparse=False)).")
                grad = -p.grad if group.get("maximize", False) else p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state.update(self.init_state(p, group))
                state["step"] += 1
                self.update(p, grad, state, group)
        return loss


def _weight_decay(p: Tensor, grad: Tensor, group: dict, decoupled: bool = False) -> Tensor:
    """Add L2 decay to the gradient (coupled) or shrink ``p`` directly (decoupled)."""
    wd = group["weight_decay"]
    if wd == 0:
        return grad
    if decoupled:
        p.mul_(1 - group["lr"] * wd)
        return grad
    return grad.add(p, alpha=wd)


# ----------------------------------------------------------------------------- SGD family
class SGD(TemplateOptimizer):
    r"""Stochastic gradient descent, with optional momentum (velocity form) and Nesterov.

    .. math::

        g_t &\leftarrow \nabla_\theta L(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        v_t &\leftarrow \beta\, v_{t-1} + (1-\tau)\, g_t \qquad (v_1 = g_1) \\
        d_t &= g_t + \beta\, v_t \ \text{(Nesterov)} \quad\text{or}\quad d_t = v_t \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, d_t

    With ``momentum=0`` this is plain gradient descent, :math:`\theta_t = \theta_{t-1} - \eta g_t`.

    Args:
        params: parameters or parameter groups.
        lr: learning rate :math:`\eta` (default 1e-3, as in torch).
        momentum: :math:`\beta` (default 0).
        dampening: :math:`\tau`, scales the new gradient in the velocity (default 0).
        weight_decay: :math:`\lambda`, L2 penalty added to the gradient (default 0).
        nesterov: use Nesterov's look-ahead (needs ``momentum > 0`` and ``dampening = 0``).
        maximize: ascend instead of descend.

    Reference: Sutskever et al., "On the importance of initialization and momentum in deep
    learning", ICML 2013 (the velocity form used by ``torch.optim.SGD``).
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        _check_lr(lr)
        _check_nonneg("momentum", momentum)
        _check_nonneg("dampening", dampening)
        _check_nonneg("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={momentum}, dampening={dampening}).")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def init_state(self, p, group):
        return {"momentum_buffer": torch.zeros_like(p)} if group["momentum"] != 0 else {}

    def update(self, p, grad, state, group):
        grad = _weight_decay(p, grad, group)
        beta = group["momentum"]
        if beta != 0:
            v = state["momentum_buffer"]
            if state["step"] == 1:
                v.copy_(grad)  # the first velocity is the gradient itself (no dampening)
            else:
                v.mul_(beta).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(v, alpha=beta) if group["nesterov"] else v
        p.add_(grad, alpha=-group["lr"])


class SGDMomentum(TemplateOptimizer):
    r"""Gradient descent with momentum in the *EMA form* (an average of past gradients).

    .. math::

        m_t &\leftarrow \beta\, m_{t-1} + (1-\beta)\, g_t \qquad (m_0 = 0) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, m_t

    Unrolled, :math:`m_t = (1-\beta)\, v_t` with the velocity :math:`v_t = \beta v_{t-1} + g_t`
    of :class:`SGD`, so this optimizer with rate :math:`\eta` equals ``SGD(lr=(1-β)·η,
    momentum=β)`` exactly, and equals ``SGD(lr=η, momentum=β, dampening=β)`` except that
    torch starts its buffer at :math:`g_1` instead of :math:`(1-\beta) g_1`.

    Args:
        params: parameters or parameter groups.
        lr: learning rate :math:`\eta` (default 1e-3).
        momentum: :math:`\beta` in [0, 1) (default 0.9).
        weight_decay: L2 penalty added to the gradient (default 0).
        maximize: ascend instead of descend.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9, weight_decay: float = 0,
                 *, maximize: bool = False):
        _check_lr(lr)
        _check_unit("momentum", momentum)
        _check_nonneg("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, maximize=maximize))

    def init_state(self, p, group):
        return {"momentum": torch.zeros_like(p)}

    def update(self, p, grad, state, group):
        grad = _weight_decay(p, grad, group)
        m = state["momentum"]
        m.lerp_(grad, 1 - group["momentum"])  # m = beta*m + (1-beta)*g
        p.add_(m, alpha=-group["lr"])


# ----------------------------------------------------------------------------- adaptive rates
class Adagrad(TemplateOptimizer):
    r"""AdaGrad: divide each coordinate's step by the root of its summed squared gradients.

    .. math::

        s_t &\leftarrow s_{t-1} + g_t^2 \qquad (s_0 = \text{initial\_accumulator\_value}) \\
        \eta_t &= \eta / (1 + (t-1)\,\delta) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta_t\, \frac{g_t}{\sqrt{s_t} + \epsilon}

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta` (default 1e-2).
        lr_decay: :math:`\delta` (default 0).
        weight_decay: L2 penalty added to the gradient (default 0).
        initial_accumulator_value: :math:`s_0` (default 0).
        eps: :math:`\epsilon` (default 1e-10).
        maximize: ascend instead of descend.

    Reference: Duchi, Hazan & Singer, "Adaptive subgradient methods for online learning and
    stochastic optimization", JMLR 2011.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False):
        _check_lr(lr)
        _check_nonneg("lr_decay", lr_decay)
        _check_nonneg("weight_decay", weight_decay)
        _check_nonneg("initial_accumulator_value", initial_accumulator_value)
        _check_nonneg("epsilon", eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def init_state(self, p, group):
        return {"sum": torch.full_like(p, group["initial_accumulator_value"])}

    def update(self, p, grad, state, group):
        grad = _weight_decay(p, grad, group)
        lr_t = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"].addcmul_(grad, grad)
        p.addcdiv_(grad, state["sum"].sqrt().add_(group["eps"]), value=-lr_t)


class RMSprop(TemplateOptimizer):
    r"""RMSprop: divide the step by a running root-mean-square of the gradients.

    .. math::

        s_t &\leftarrow \alpha\, s_{t-1} + (1-\alpha)\, g_t^2 \\
        \bar g_t &\leftarrow \alpha\, \bar g_{t-1} + (1-\alpha)\, g_t,\quad
            r_t = \sqrt{s_t - \bar g_t^2} \ \text{(centered)} \quad\text{or}\quad r_t = \sqrt{s_t} \\
        b_t &\leftarrow \mu\, b_{t-1} + g_t / (r_t + \epsilon) \ \text{(if } \mu > 0) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, b_t
            \quad\text{or, without momentum,}\quad \theta_{t-1} - \eta\, g_t / (r_t + \epsilon)

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta` (default 1e-2).
        alpha: :math:`\alpha`, decay of the squared-gradient average (default 0.99).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0).
        momentum: :math:`\mu` (default 0).
        centered: subtract the squared mean gradient (an estimate of the variance).
        maximize: ascend instead of descend.

    Reference: Hinton, Srivastava & Swersky, Neural Networks for Machine Learning, lecture 6e (2012).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 *, maximize: bool = False):
        _check_lr(lr)
        _check_nonneg("epsilon", eps)
        _check_nonneg("momentum", momentum)
        _check_nonneg("weight_decay", weight_decay)
        _check_unit("alpha", alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def init_state(self, p, group):
        state = {"square_avg": torch.zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = torch.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = torch.zeros_like(p)
        return state

    def update(self, p, grad, state, group):
        grad = _weight_decay(p, grad, group)
        alpha = group["alpha"]
        s = state["square_avg"].mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            gbar = state["grad_avg"].lerp_(grad, 1 - alpha)
            rms = s.addcmul(gbar, gbar, value=-1).sqrt_()
        else:
            rms = s.sqrt()
        rms.add_(group["eps"])
        if group["momentum"] > 0:
            b = state["momentum_buffer"].mul_(group["momentum"]).addcdiv_(grad, rms)
            p.add_(b, alpha=-group["lr"])
        else:
            p.addcdiv_(grad, rms, value=-group["lr"])


class Adam(TemplateOptimizer):
    r"""Adam: momentum on the gradient plus RMSprop scaling, both bias-corrected.

    .. math::

        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2
            \qquad (\text{AMSGrad: } \hat v^{\max}_t = \max(\hat v^{\max}_{t-1}, v_t)) \\
        \hat m_t &= \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    Weight decay :math:`\lambda` is added to the gradient (L2), unless
    ``decoupled_weight_decay=True`` (then :math:`\theta \leftarrow (1-\eta\lambda)\theta`
    first, which is :class:`AdamW`).

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda` (default 0).
        amsgrad: use the running maximum of :math:`v_t` (Reddi et al., 2018).
        maximize: ascend instead of descend.
        decoupled_weight_decay: apply decay to the weights, not the gradient.

    Reference: Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False):
        _check_lr(lr)
        _check_nonneg("epsilon", eps)
        _check_betas(betas)
        _check_nonneg("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def init_state(self, p, group):
        state = {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = torch.zeros_like(p)
        return state

    def update(self, p, grad, state, group):
        grad = _weight_decay(p, grad, group, decoupled=group["decoupled_weight_decay"])
        (beta1, beta2), t = group["betas"], state["step"]
        m = state["exp_avg"].lerp_(grad, 1 - beta1)
        v = state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if group["amsgrad"]:
            v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = (v.sqrt() / math.sqrt(1 - beta2 ** t)).add_(group["eps"])
        p.addcdiv_(m, denom, value=-group["lr"] / (1 - beta1 ** t))


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, ICLR 2019).

    .. math::

        \theta_{t-1}' &\leftarrow (1 - \eta\lambda)\, \theta_{t-1} \\
        \theta_t &\leftarrow \theta_{t-1}' - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    with :math:`\hat m_t, \hat v_t` as in :class:`Adam` computed from the *undecayed* gradient.
    Same arguments as :class:`Adam`, but ``weight_decay`` defaults to 1e-2 (as in torch).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True)


class Adamax(TemplateOptimizer):
    r"""AdaMax: Adam with the infinity norm in place of the root mean square.

    .. math::

        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        u_t &\leftarrow \max(\beta_2\, u_{t-1},\ |g_t| + \epsilon) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\, \frac{m_t}{u_t}

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta` (default 2e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0).
        maximize: ascend instead of descend.

    Reference: Kingma & Ba (2015), section 7.1.
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, *, maximize: bool = False):
        _check_lr(lr)
        _check_nonneg("epsilon", eps)
        _check_betas(betas)
        _check_nonneg("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def init_state(self, p, group):
        return {"exp_avg": torch.zeros_like(p), "exp_inf": torch.zeros_like(p)}

    def update(self, p, grad, state, group):
        grad = _weight_decay(p, grad, group)
        (beta1, beta2), t = group["betas"], state["step"]
        m = state["exp_avg"].lerp_(grad, 1 - beta1)
        u = torch.maximum(state["exp_inf"].mul_(beta2), grad.abs().add_(group["eps"]), out=state["exp_inf"])
        p.addcdiv_(m, u, value=-group["lr"] / (1 - beta1 ** t))


class NAdam(TemplateOptimizer):
    r"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with torch's momentum schedule.

    .. math::

        \mu_t &= \beta_1\left(1 - \tfrac12\, 0.96^{\,t\psi}\right), \qquad
            \Pi_t = \textstyle\prod_{i\le t} \mu_i \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
            v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \eta \left(\frac{(1-\mu_t)\, g_t}{1-\Pi_t}
            + \frac{\mu_{t+1}\, m_t}{1-\Pi_{t+1}}\right) \Big/ \left(\sqrt{\frac{v_t}{1-\beta_2^t}}
            + \epsilon\right)

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta` (default 2e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda` (default 0).
        momentum_decay: :math:`\psi` (default 4e-3).
        decoupled_weight_decay: shrink the weights (NAdamW) instead of adding L2 to the gradient.
        maximize: ascend instead of descend.

    Reference: Dozat, "Incorporating Nesterov momentum into Adam", ICLR workshop 2016.
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False):
        _check_lr(lr)
        _check_nonneg("epsilon", eps)
        _check_betas(betas)
        _check_nonneg("weight_decay", weight_decay)
        _check_nonneg("momentum_decay", momentum_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def init_state(self, p, group):
        return {"mu_product": 1.0, "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}

    def update(self, p, grad, state, group):
        grad = _weight_decay(p, grad, group, decoupled=group["decoupled_weight_decay"])
        (beta1, beta2), t, psi = group["betas"], state["step"], group["momentum_decay"]
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        prod, prod_next = state["mu_product"], state["mu_product"] * mu_next
        m = state["exp_avg"].lerp_(grad, 1 - beta1)
        v = state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = v.div(1 - beta2 ** t).sqrt_().add_(group["eps"])
        p.addcdiv_(grad, denom, value=-group["lr"] * (1 - mu) / (1 - prod))
        p.addcdiv_(m, denom, value=-group["lr"] * mu_next / (1 - prod_next))


class AdaBelief(TemplateOptimizer):
    r"""AdaBelief: Adam whose denominator tracks how far the gradient is from its average.

    .. math::

        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        s_t &\leftarrow \beta_2 s_{t-1} + (1-\beta_2)\, (g_t - m_t)^2 + \epsilon \\
        \hat m_t &= \frac{m_t}{1-\beta_1^t}, \qquad \hat s_t = \frac{s_t}{1-\beta_2^t} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat s_t} + \epsilon}

    A large :math:`s_t` means "the gradient disagrees with my belief :math:`m_t`": take a small
    step; a small one means the gradient is predictable: take a large step.  Because
    :math:`\epsilon` sits inside the square root, the paper's default is 1e-16 (about 1e-8 on
    Adam's scale).

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-16).
        weight_decay: :math:`\lambda` (default 0).
        decoupled_weight_decay: shrink the weights (as in AdamW) instead of adding L2 to the gradient.
        maximize: ascend instead of descend.

    Reference: Zhuang et al., "AdaBelief optimizer: adapting stepsizes by the belief in observed
    gradients", NeurIPS 2020, Algorithm 2.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-16, weight_decay: float = 0, decoupled_weight_decay: bool = False,
                 *, maximize: bool = False):
        _check_lr(lr)
        _check_nonneg("epsilon", eps)
        _check_betas(betas)
        _check_nonneg("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def init_state(self, p, group):
        return {"exp_avg": torch.zeros_like(p), "exp_avg_var": torch.zeros_like(p)}

    def update(self, p, grad, state, group):
        grad = _weight_decay(p, grad, group, decoupled=group["decoupled_weight_decay"])
        (beta1, beta2), t, eps = group["betas"], state["step"], group["eps"]
        m = state["exp_avg"].lerp_(grad, 1 - beta1)
        diff = grad - m
        s = state["exp_avg_var"].mul_(beta2).addcmul_(diff, diff, value=1 - beta2).add_(eps)
        denom = (s.sqrt() / math.sqrt(1 - beta2 ** t)).add_(eps)
        p.addcdiv_(m, denom, value=-group["lr"] / (1 - beta1 ** t))


class LocalGain(TemplateOptimizer):
    r"""Per-weight adaptive gains: grow a weight's rate while its gradient keeps its sign.

    Each weight :math:`w_{ij}` has a gain :math:`\gamma_{ij}` (starting at 1):

    .. math::

        \gamma_t &\leftarrow \begin{cases}
            \gamma_{t-1} + \beta & \text{if } g_t\, g_{t-1} > 0 \ \text{(consistent sign)} \\
            \gamma_{t-1}\,(1-\beta) & \text{if } g_t\, g_{t-1} < 0 \ \text{(sign flipped)} \\
            \gamma_{t-1} & \text{otherwise (first step, or a zero gradient)}
        \end{cases} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, \gamma_t\, g_t

    Additive growth and multiplicative shrinkage make the gains fall fast when the updates
    oscillate.  Hinton's lecture suggests keeping gains in a range such as [0.1, 10];
    ``gain_bounds`` does that (default: no bounds, as on the slides).

    Args:
        params: parameters or parameter groups.
        lr: :math:`\eta` (default 1e-3).
        beta: :math:`\beta` in [0, 1) (default 0.05, Hinton's +0.05 / ×0.95).
        gain_bounds: ``(low, high)`` to clamp the gains, or ``None``.
        weight_decay: L2 penalty added to the gradient (default 0).
        maximize: ascend instead of descend.

    Reference: Jacobs, "Increased rates of convergence through learning rate adaptation",
    Neural Networks 1988; Hinton, Neural Networks for Machine Learning, lecture 6d (2012).
    """

    def __init__(self, params, lr: float = 1e-3, beta: float = 0.05,
                 gain_bounds: tuple[float, float] | None = None, weight_decay: float = 0,
                 *, maximize: bool = False):
        _check_lr(lr)
        _check_unit("beta", beta)
        _check_nonneg("weight_decay", weight_decay)
        if gain_bounds is not None:
            if not (isinstance(gain_bounds, (tuple, list)) and len(gain_bounds) == 2
                    and 0 <= gain_bounds[0] <= 1 <= gain_bounds[1]):
                raise ValueError(f"Invalid gain_bounds: {gain_bounds!r} (expected (low, high) with "
                                 f"0 <= low <= 1 <= high, e.g. (0.1, 10), or None).")
            gain_bounds = tuple(float(b) for b in gain_bounds)
        super().__init__(params, dict(lr=lr, beta=beta, gain_bounds=gain_bounds, weight_decay=weight_decay,
                                      maximize=maximize))

    def init_state(self, p, group):
        return {"gain": torch.ones_like(p), "prev_grad": torch.zeros_like(p)}

    def update(self, p, grad, state, group):
        grad = _weight_decay(p, grad, group)
        gain, beta = state["gain"], group["beta"]
        agree = grad * state["prev_grad"]  # > 0: same sign as last step, < 0: flipped
        gain.copy_(torch.where(agree > 0, gain + beta, torch.where(agree < 0, gain * (1 - beta), gain)))
        if group["gain_bounds"] is not None:
            gain.clamp_(*group["gain_bounds"])
        state["prev_grad"].copy_(grad)
        p.addcmul_(gain, grad, value=-group["lr"])


# ----------------------------------------------------------------------------- registry and memory
#: The optimizers of this module by name.
OPTIMIZERS: dict[str, type[TemplateOptimizer]] = {
    cls.__name__: cls for cls in (SGD, SGDMomentum, Adagrad, RMSprop, Adam, Adamax, NAdam, AdamW,
                                  AdaBelief, LocalGain)
}

#: For each optimizer that ``torch.optim`` also has, the torch class with the same arguments.
TORCH_EQUIVALENTS: dict[str, type[torch.optim.Optimizer]] = {
    name: getattr(torch.optim, name) for name in ("SGD", "Adagrad", "RMSprop", "Adam", "Adamax", "NAdam",
                                                  "AdamW")
}


def state_bytes_per_param(optimizer: torch.optim.Optimizer) -> float:
    """Bytes of optimizer state per parameter, measured from ``optimizer.state_dict()``.

    Counts every tensor in the per-parameter state (including torch's scalar ``step``
    tensors) and divides by the number of parameter elements the optimizer manages.
    State is created lazily, so take at least one ``step()`` first; before that the
    answer is 0 for every optimizer.

    Returns:
        e.g. 0 for plain SGD, 4 for momentum and 8 for Adam with float32 parameters.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"state_bytes_per_param expects a torch.optim.Optimizer, got {type(optimizer).__name__}.")
    n = sum(p.numel() for g in optimizer.param_groups for p in g["params"])
    if n == 0:
        raise ValueError("The optimizer manages no parameters, so bytes per parameter is undefined.")

    def nbytes(x: Any) -> int:
        if isinstance(x, Tensor):
            return x.numel() * x.element_size()
        if isinstance(x, dict):
            return sum(nbytes(v) for v in x.values())
        if isinstance(x, (list, tuple)):
            return sum(nbytes(v) for v in x)
        return 0

    return nbytes(optimizer.state_dict()["state"]) / n
