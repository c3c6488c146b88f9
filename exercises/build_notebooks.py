"""Write the exercise notebooks, their worked solutions and the book pages from one source.

Run from the repository root after editing this file::

    .venv/bin/python exercises/build_notebooks.py

It writes ``exercises/NN_name.ipynb`` (the learner's version: TODO stubs, no outputs),
``exercises/solutions/NN_name.ipynb`` (the same notebook with worked solutions and a
final cell that asserts every check passes) and ``book/exercises/NN_name.md`` (a MyST
page: the exercise text, the solutions collapsed behind toggles, the checks executed).

Cell kinds used below:

* ``md(text)``                 — markdown everywhere;
* ``code(src, book=...)``      — the same code everywhere (``book="run"`` executes it in the
  book, ``"static"`` shows it as a listing, ``"skip"`` leaves it out);
* ``task(stub, solution)``     — the learner gets ``stub`` (which raises NotImplementedError),
  the solutions and the book get ``solution`` (collapsed behind a toggle in the book);
* ``answer(stub, solution)``   — a markdown answer cell (conceptual questions);
* ``final(src)``               — solutions only: asserts that every check passes (hidden in the book).
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import book_config  # noqa: E402  (the one place the repository URL is written: _config.yml)

REPO = book_config.owner_repo()
BRANCH = book_config.repository()["branch"]


def md(text):
    return ("md", textwrap.dedent(text).strip("\n"))


def code(src, book="run"):
    return ("code", textwrap.dedent(src).strip("\n"), book)


def task(stub, solution, book="run"):
    return ("task", textwrap.dedent(stub).strip("\n"), textwrap.dedent(solution).strip("\n"), book)


def answer(stub, solution):
    return ("answer", textwrap.dedent(stub).strip("\n"), textwrap.dedent(solution).strip("\n"))


def final(src):
    return ("final", textwrap.dedent(src).strip("\n"))


INSTALL = ("code", book_config.install_cell(), "hidden")  # from repository.url of _config.yml

IMPORTS = code('''
import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from course_utils import config, exercises, plotting

plotting.set_style()
budget = config.get_budget()
print(budget.describe())
''')

NOTEBOOKS: dict[str, dict] = {}

# ============================================================================ 01 initialization
NOTEBOOKS["01_initialization"] = dict(title="Exercise 1 — Initialization", cells=[
    md('''
    In this notebook you derive the backward-pass condition on the weight variance, implement
    Xavier (Glorot) and Kaiming (He) initialisation, and watch with sliders how the weight scale and the
    depth decide whether a signal survives a deep network. Every `exercises.check_*` call grades your
    code on the spot: ✅ passed, ❌ not quite (what your code produced and a hint), ⏳ to do.
    '''),
    INSTALL, IMPORTS,
    md('''
    ## A. The backward-pass condition

    Take one linear layer $y = W x$ with $d_x$ inputs, $d_y$ outputs and independent weights of mean 0
    and variance $\\sigma^2$. Backpropagation sends the gradient of the loss through the transposed
    matrix:

    $$\\frac{\\partial L}{\\partial x_j} = \\sum_{i=1}^{d_y} W_{ij} \\frac{\\partial L}{\\partial y_i}.$$

    Assume the incoming gradients $\\partial L/\\partial y_i$ are independent of the weights, with mean 0
    and a common variance. Work it out on paper:

    1. The variance of a product of two independent zero-mean variables is the product of their variances.
    2. The variance of a sum of independent terms is the sum of their variances — how many terms are there?
    3. Which $\\sigma^2$ makes $\\mathrm{Var}(\\partial L/\\partial x_j) = \\mathrm{Var}(\\partial L/\\partial y_i)$?

    Write your answer as a function of `d_x` and `d_y`.
    '''),
    task('''
    def backward_var(d_x, d_y):
        """Var(W) that keeps the gradient variance constant through y = W x (backward pass)."""
        # TODO: return the variance as a formula in d_x and d_y
        raise NotImplementedError
    ''', '''
    def backward_var(d_x, d_y):
        """Var(W) that keeps the gradient variance constant through y = W x (backward pass)."""
        # Var(dL/dx_j) = sum over the d_y outputs of Var(W_ij) Var(dL/dy_i) = d_y * Var(W) * Var(dL/dy)
        return 1 / d_y
    '''),
    code("exercises.check_backward_condition(backward_var)"),
    md('''
    The check also *measures* your answer: it pushes unit-variance gradients backwards through a random
    layer drawn with your variance. Compare the forward rule $1/d_x$ with the backward rule $1/d_y$ on a
    layer that narrows from 512 to 128 units:
    '''),
    code('''
    import pandas as pd

    rows = [{"Var(W)": label, "value": v, "Var(dL/dx) / Var(dL/dy)": exercises.measure_backward_ratio(v, 512, 128)}
            for label, v in [("1/d_x (forward rule)", 1 / 512), ("1/d_y (backward rule)", 1 / 128),
                             ("2/(d_x + d_y) (Glorot)", 2 / 640)]]
    pd.DataFrame(rows).style.format({"value": "{:.5f}", "Var(dL/dx) / Var(dL/dy)": "{:.3f}"})
    '''),
    md('''
    Unless $d_x = d_y$ the two rules cannot both hold. Glorot and Bengio take the compromise
    $\\sigma^2 = 2/(d_x + d_y)$, the harmonic mean of the two.

    ## B. Xavier (Glorot) uniform initialisation

    PyTorch stores a `Linear` weight as a matrix of shape `(out_features, in_features)`, so
    `fan_out = w.shape[0]` and `fan_in = w.shape[1]`. Xavier uniform draws from $U(-a, a)$ with

    $$a = \\text{gain}\\cdot\\sqrt{\\frac{6}{\\text{fan\\_in} + \\text{fan\\_out}}},$$

    because a uniform distribution on $[-a, a]$ has variance $a^2/3$. Fill the tensor **in place**
    (inside `torch.no_grad()`) and return it, like `torch.nn.init` does.
    '''),
    task('''
    def xavier_uniform_(w, gain=1.0):
        """Fill w (shape (fan_out, fan_in)) from U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
        # TODO: compute a, then fill w in place with w.uniform_(-a, a) under torch.no_grad(); return w
        raise NotImplementedError
    ''', '''
    def xavier_uniform_(w, gain=1.0):
        """Fill w (shape (fan_out, fan_in)) from U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
        fan_out, fan_in = w.shape
        a = gain * math.sqrt(6.0 / (fan_in + fan_out))  # U(-a, a) has variance a^2 / 3 = 2 / (fan_in + fan_out)
        with torch.no_grad():
            w.uniform_(-a, a)
        return w
    '''),
    code("exercises.check_xavier_uniform(xavier_uniform_)"),
    md('''
    ## C. Kaiming (He) normal initialisation

    ReLU sets half of its inputs to zero, so $E[\\mathrm{ReLU}(y)^2] = \\tfrac12 \\mathrm{Var}(y)$ and the
    forward rule becomes $\\sigma^2 = 2/\\text{fan\\_in}$. For a leaky ReLU with negative slope $a$ the
    factor 2 becomes $2/(1 + a^2)$. Draw from $N(0, \\sigma^2)$ with

    $$\\sigma^2 = \\frac{2}{(1 + a^2)\\,\\text{fan\\_in}}.$$

    Careful: `w.normal_(mean, std)` takes the **standard deviation**.
    '''),
    task('''
    def kaiming_normal_(w, a=0.0):
        """Fill w (shape (fan_out, fan_in)) from N(0, 2 / ((1 + a^2) * fan_in)); a is the leaky-ReLU slope."""
        # TODO: fan_in is w.shape[1]; fill w in place with w.normal_(0, std); return w
        raise NotImplementedError
    ''', '''
    def kaiming_normal_(w, a=0.0):
        """Fill w (shape (fan_out, fan_in)) from N(0, 2 / ((1 + a^2) * fan_in)); a is the leaky-ReLU slope."""
        fan_in = w.shape[1]  # torch stores (out_features, in_features)
        std = math.sqrt(2.0 / ((1 + a * a) * fan_in))
        with torch.no_grad():
            w.normal_(0.0, std)
        return w
    '''),
    code("exercises.check_kaiming_normal(kaiming_normal_)"),
    md('''
    ## D. Slider: weight scale, depth and the fate of the signal

    The slider builds a stack of square layers (256 units, biases 0), feeds it unit-variance inputs and
    draws the variance of each layer's output. Your two initialisations are drawn as extra lines.
    Things to try:

    * With `identity`, which std keeps the variance flat? Compare with $1/\\sqrt{256} = 0.0625$.
    * With `tanh`, move the std up to 0.2 and down to 0.02 at depth 50: what happens to the variance?
    * With `relu`, why does your Kaiming line stay level while Xavier's decays?
    '''),
    code('''
    exercises.variance_slider({"your Xavier": xavier_uniform_, "your Kaiming": kaiming_normal_})
    ''', book="static"),
    md('''
    A snapshot of the same sweep with fixed settings (a figure, so it also shows in the book):
    '''),
    code('''
    depth = 30
    curves = {f"std {s:.3g}": exercises.activation_variances(s, depth, act="tanh") for s in (0.03, 1 / 16, 0.12)}
    exercises.plot_activation_variances(curves, title="tanh, width 256: activation variance per layer")
    plt.show()
    '''),
    final('''
    # Every check of this notebook passes with the worked solutions.
    assert exercises.check_backward_condition(backward_var, verbose=False)
    assert exercises.check_xavier_uniform(xavier_uniform_, verbose=False)
    assert exercises.check_kaiming_normal(kaiming_normal_, verbose=False)
    print("all checks passed")
    '''),
])

# ============================================================================ 02 activations & normalization
NOTEBOOKS["02_activations_normalization"] = dict(title="Exercise 2 — Activations and batch norm", cells=[
    md('''
    You implement two building blocks from scratch and compare them with PyTorch: the leaky ReLU and the
    forward pass of batch normalisation, in training and in evaluation mode.
    '''),
    INSTALL, IMPORTS,
    md('''
    ## A. Leaky ReLU

    $$\\mathrm{LeakyReLU}_\\alpha(x) = \\begin{cases} x & x > 0 \\\\ \\alpha x & x \\le 0 \\end{cases}$$

    Return a new tensor of the same shape (do not modify `x`); `torch.where` does it in one line.
    '''),
    task('''
    def leaky_relu(x, negative_slope=0.01):
        """x for x > 0, negative_slope * x otherwise (element-wise, not in place)."""
        # TODO
        raise NotImplementedError
    ''', '''
    def leaky_relu(x, negative_slope=0.01):
        """x for x > 0, negative_slope * x otherwise (element-wise, not in place)."""
        return torch.where(x > 0, x, negative_slope * x)
    '''),
    code("exercises.check_leaky_relu(leaky_relu)"),
    code('''
    z = torch.linspace(-3, 3, 301)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for slope in (0.01, 0.2):
        y = exercises.attempt(leaky_relu, z, slope)
        if y is not None:
            ax.plot(z, y, label=f"your leaky ReLU, α = {slope}")
    ax.plot(z, nn.LeakyReLU(0.2)(z), "k:", label="nn.LeakyReLU(0.2)")
    ax.set(xlabel="input z", ylabel="output", title="Leaky ReLU")
    ax.legend()
    plt.show()
    '''),
    md('''
    ## B. Batch normalisation, forward pass

    For a batch $x$ of shape `(N, D)`, batch norm treats every feature (column) separately.

    **Training mode.** With the batch mean $\\mu_B$ and the *biased* batch variance $\\sigma_B^2$
    (divide by $N$):

    $$\\hat x = \\frac{x - \\mu_B}{\\sqrt{\\sigma_B^2 + \\varepsilon}}, \\qquad y = \\gamma \\hat x + \\beta,$$

    and the running statistics move towards the batch's, where PyTorch's `momentum` is the weight of the
    **new** value and the running variance uses the *unbiased* batch variance ($N-1$):

    $$\\text{running} \\leftarrow (1 - \\text{momentum})\\cdot\\text{running} + \\text{momentum}\\cdot\\text{batch}.$$

    **Evaluation mode.** Normalise with the running mean and variance; leave them unchanged.

    Return the triple `(y, running_mean, running_var)` (new tensors; the grader compares them with
    `nn.BatchNorm1d` over two training steps and one evaluation step).
    '''),
    task('''
    def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        """Batch norm of x (N, D); returns (y, new_running_mean, new_running_var)."""
        # TODO: training -> batch statistics (biased variance) + update the running statistics
        #       evaluation -> running statistics, unchanged
        raise NotImplementedError
    ''', '''
    def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        """Batch norm of x (N, D); returns (y, new_running_mean, new_running_var)."""
        if training:
            mean = x.mean(dim=0)                        # (D,)
            var = x.var(dim=0, unbiased=False)          # (D,) biased: used to normalise
            running_mean = (1 - momentum) * running_mean + momentum * mean
            running_var = (1 - momentum) * running_var + momentum * x.var(dim=0, unbiased=True)
        else:
            mean, var = running_mean, running_var
        x_hat = (x - mean) / torch.sqrt(var + eps)      # (N, D)
        return gamma * x_hat + beta, running_mean, running_var
    '''),
    code("exercises.check_batch_norm(batch_norm)"),
    md('''
    Your batch norm at work on a badly scaled batch: every feature comes out with mean 0 and standard
    deviation 1 (before $\\gamma$ and $\\beta$ act).
    '''),
    code('''
    import pandas as pd

    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 4, generator=g) * torch.tensor([0.1, 1.0, 5.0, 20.0]) + torch.tensor([3.0, -1.0, 0.0, 50.0])
    out = exercises.attempt(batch_norm, x, torch.ones(4), torch.zeros(4), torch.zeros(4), torch.ones(4), True)
    if out is not None:
        y = out[0]
        display(pd.DataFrame({"mean before": x.mean(0), "std before": x.std(0),
                              "mean after": y.mean(0), "std after": y.std(0)}).round(3))
    '''),
    md('''
    Questions to think about: why does evaluation mode need running statistics at all? Why would a
    batch of one image break training-mode batch norm?
    '''),
    final('''
    assert exercises.check_leaky_relu(leaky_relu, verbose=False)
    assert exercises.check_batch_norm(batch_norm, verbose=False)
    print("all checks passed")
    '''),
])

# ============================================================================ 03 optimizers
OPT_TEMPLATE = '''
Every optimizer below follows the `torch.optim.Optimizer` template:

* `__init__` passes the hyper-parameters as `defaults` to `super().__init__(params, defaults)`; PyTorch
  then stores them in `self.param_groups` (one dict per group, each with its own `lr`);
* `step()` loops over `self.param_groups` and their `"params"`, skips parameters whose `.grad` is
  `None`, keeps per-parameter buffers in `self.state[p]`, and updates `p` in place — under
  `@torch.no_grad()` so that autograd does not record the update.
'''

NOTEBOOKS["03_optimizers"] = dict(title="Exercise 3 — Optimizers", cells=[
    md('''
    You implement SGD with momentum, RMSProp and Adam as real `torch.optim.Optimizer` subclasses; the
    graders compare them step by step with `torch.optim` in double precision. Then you watch them (and
    PyTorch's own) on two loss surfaces with sliders.
    '''),
    INSTALL, IMPORTS,
    md("## The template\n" + textwrap.dedent(OPT_TEMPLATE)),
    md('''
    ## A. SGD with momentum

    The velocity form that `torch.optim.SGD(momentum=β)` uses (velocity $v$ starts at 0):

    $$v \\leftarrow \\beta v + g, \\qquad p \\leftarrow p - \\eta\\, v.$$
    '''),
    task('''
    class Momentum(torch.optim.Optimizer):
        def __init__(self, params, lr=0.01, momentum=0.9):
            super().__init__(params, dict(lr=lr, momentum=momentum))

        @torch.no_grad()
        def step(self, closure=None):
            # TODO: for each group and each parameter p with a gradient:
            #       v = self.state[p] buffer (zeros at first), v <- momentum * v + grad, p <- p - lr * v
            raise NotImplementedError
    ''', '''
    class Momentum(torch.optim.Optimizer):
        def __init__(self, params, lr=0.01, momentum=0.9):
            super().__init__(params, dict(lr=lr, momentum=momentum))

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    v = self.state[p].setdefault("velocity", torch.zeros_like(p))
                    v.mul_(group["momentum"]).add_(p.grad)   # v <- beta v + g
                    p.add_(v, alpha=-group["lr"])            # p <- p - lr v
    '''),
    code("exercises.check_momentum(Momentum)"),
    md('''
    ## B. RMSProp

    A running average of the squared gradient scales each coordinate's step (as in `torch.optim.RMSprop`):

    $$v \\leftarrow \\alpha v + (1-\\alpha) g^2, \\qquad p \\leftarrow p - \\eta\\,\\frac{g}{\\sqrt{v} + \\varepsilon}.$$
    '''),
    task('''
    class RMSProp(torch.optim.Optimizer):
        def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
            super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps))

        @torch.no_grad()
        def step(self, closure=None):
            # TODO
            raise NotImplementedError
    ''', '''
    class RMSProp(torch.optim.Optimizer):
        def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
            super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps))

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    v = self.state[p].setdefault("square_avg", torch.zeros_like(p))
                    v.mul_(group["alpha"]).addcmul_(p.grad, p.grad, value=1 - group["alpha"])
                    p.addcdiv_(p.grad, v.sqrt().add_(group["eps"]), value=-group["lr"])
    '''),
    code("exercises.check_rmsprop(RMSProp)"),
    md('''
    ## C. Adam

    Momentum on the gradient plus RMSProp's scaling, both with **bias correction** because $m$ and $v$
    start at zero ($t$ counts the steps of this parameter from 1):

    $$m \\leftarrow \\beta_1 m + (1-\\beta_1) g,\\quad v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2,\\quad
    \\hat m = \\frac{m}{1-\\beta_1^t},\\quad \\hat v = \\frac{v}{1-\\beta_2^t},\\quad
    p \\leftarrow p - \\eta\\,\\frac{\\hat m}{\\sqrt{\\hat v} + \\varepsilon}.$$
    '''),
    task('''
    class Adam(torch.optim.Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
            super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

        @torch.no_grad()
        def step(self, closure=None):
            # TODO
            raise NotImplementedError
    ''', '''
    class Adam(torch.optim.Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
            super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["t"] = 0
                        state["m"] = torch.zeros_like(p)
                        state["v"] = torch.zeros_like(p)
                    state["t"] += 1
                    m, v, t = state["m"], state["v"], state["t"]
                    m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                    v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                    m_hat = m / (1 - beta1 ** t)
                    v_hat = v / (1 - beta2 ** t)
                    p.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-group["lr"])
    '''),
    code("exercises.check_adam(Adam)"),
    md('''
    ## D. Loss surfaces with sliders

    Two surfaces from the optimizer chapter: *pathological curvature*
    $\\tanh(w_1)^2 + 0.01|w_1| + \\sigma(w_2)$, started at $(5, 5)$, and *steep optima* — three narrow
    Gaussian wells — started at $(0, 0)$. Each optimizer starts from the learning rate the sources use on
    that surface (SGD 10 / momentum 10 / Adam 1, and 0.5 / 1 / 0.2); the `lr ×` slider scales all of
    them. Things to try: why does plain SGD barely move along $w_2$ on the first surface? What does
    $\\beta_1 = 0$ turn Adam into? Which start points trap each optimizer in the nearest well of the
    second surface?
    '''),
    code("exercises.surface_explorer()", book="static"),
    md("Your own optimizers on the same surfaces (each line appears once its check passes):"),
    code('''
    exercises.surface_explorer({
        "SGD + momentum (yours)": lambda p, lr, b1, b2: Momentum(p, lr=lr, momentum=b1),
        "Adam (yours)": lambda p, lr, b1, b2: Adam(p, lr=lr, betas=(b1, b2)),
    })
    ''', book="static"),
    md("A snapshot with the sources' settings, as a figure:"),
    code('''
    spec = exercises.SURFACES["pathological curvature"]
    makers = {"SGD": lambda p: torch.optim.SGD(p, lr=10), "SGD + momentum": lambda p: torch.optim.SGD(p, lr=10, momentum=0.9),
              "Adam": lambda p: torch.optim.Adam(p, lr=1)}
    paths = {k: exercises.surface_trajectory(spec["fn"], m, spec["start"], 100) for k, m in makers.items()}
    exercises.plot_surface(spec["fn"], paths, x_range=spec["x_range"], y_range=spec["y_range"],
                           title="Pathological curvature: 100 steps from (5, 5)")
    plt.show()
    '''),
    final('''
    assert exercises.check_momentum(Momentum, verbose=False)
    assert exercises.check_rmsprop(RMSProp, verbose=False)
    assert exercises.check_adam(Adam, verbose=False)
    print("all checks passed")
    '''),
])

# ============================================================================ 04 schedules
NOTEBOOKS["04_schedules"] = dict(title="Exercise 4 — Learning-rate schedules", cells=[
    md('''
    First you explore PyTorch's schedulers with sliders; then you pick a schedule that trains a small
    network better than a constant learning rate in a short, fixed budget of steps.
    '''),
    INSTALL, IMPORTS,
    md('''
    ## A. Sliders over the schedules

    Every curve is drawn by the real `torch.optim.lr_scheduler` class, stepped once per epoch. Things to
    try: with exponential decay and $\\gamma = 0.9$, what fraction of the initial rate is left after 10 and
    after 20 epochs? How does `pct_start` shape 1cycle? What does `T_mult = 2` do to the warm restarts?
    '''),
    code("exercises.schedule_explorer()", book="static"),
    code('''
    P = dict(step_size=10, gamma=0.9, T=50, T0=2, T_mult=2, warmup=5, max_lr=0.5, pct_start=0.3)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name in ("constant", "step (StepLR)", "exponential", "cosine", "cosine warm restarts", "1cycle"):
        ax.plot(exercises.schedule_lrs(lambda o: exercises.SCHEDULES[name](o, P), epochs=50, lr=0.1), label=name)
    ax.set(xlabel="epoch", ylabel="learning rate", title="Six torch schedulers, initial lr 0.1")
    ax.legend(fontsize="small")
    plt.show()
    '''),
    task('''
    # What fraction of the initial learning rate does ExponentialLR(gamma=0.9) leave after 10 epochs?
    fraction_after_10 = None  # TODO: a number (compute it, don't read it off the plot)
    ''', '''
    # What fraction of the initial learning rate does ExponentialLR(gamma=0.9) leave after 10 epochs?
    fraction_after_10 = 0.9 ** 10  # each epoch multiplies the rate by gamma: about 35 %
    '''),
    code('''
    exercises.check_exponential_fraction(fraction_after_10)
    '''),
    md('''
    ## B. Beat the constant learning rate

    The grader trains a small ReLU network (784-128-10, Kaiming init) with plain SGD at learning rate
    0.02 for 4 epochs on 4,000 Fashion-MNIST images (batch 128, so 32 steps per epoch) — once with the
    constant rate, once with your scheduler — and compares the best validation accuracy. Your schedule
    must win by at least half a percentage point. Write a function that takes the optimizer and returns a
    `torch.optim.lr_scheduler` object. (`OneCycleLR` and `CyclicLR` are stepped after every batch, all
    others once per epoch.) Both runs are cached, so re-running the cell is instant.
    '''),
    code('''
    from course_utils import data

    fmnist = data.load_fashion_mnist(device="cpu")  # downloads Fashion-MNIST the first time (Colab)
    print(exercises.SCHEDULE_RUN)
    '''),
    task('''
    def my_scheduler(optimizer):
        """Return a torch.optim.lr_scheduler for this optimizer (SGD, lr 0.02, 4 epochs x 32 steps)."""
        # TODO, e.g. torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=..., total_steps=...)
        raise NotImplementedError
    ''', '''
    def my_scheduler(optimizer):
        """Return a torch.optim.lr_scheduler for this optimizer (SGD, lr 0.02, 4 epochs x 32 steps)."""
        # 1cycle: warm up to a peak 5x the constant rate, then anneal to almost 0 by the last batch.
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=4 * 32)
    '''),
    code("schedule_result = exercises.check_schedule_beats_constant(my_scheduler, fmnist)"),
    final('''
    assert abs(fraction_after_10 - 0.9 ** 10) < 1e-9
    assert schedule_result
    print("all checks passed")
    '''),
])

# ============================================================================ 05 regularization
NOTEBOOKS["05_regularization"] = dict(title="Exercise 5 — Regularization", cells=[
    md('''
    Two exercises: Monte-Carlo dropout, which turns a dropout network into an ensemble with an
    uncertainty estimate; and the difference between an $\\ell_2$ penalty and weight decay, which
    vanishes under SGD but not under Adam.
    '''),
    INSTALL, IMPORTS,
    md('''
    ## A. MC dropout

    Keep dropout **on** at prediction time, run $S$ stochastic forward passes, and average the softmax
    probabilities; their standard deviation across the passes measures how unsure the network is.
    Only the dropout layers may be in training mode: `model.train()` would also switch batch norm to
    batch statistics and overwrite its running averages. Use `torch.no_grad()` and leave the model in
    eval mode when you are done.
    '''),
    task('''
    def mc_dropout_predict(model, x, n_samples=50):
        """Mean and std over n_samples passes (dropout on) of softmax(model(x)); both of shape (N, classes)."""
        # TODO
        raise NotImplementedError
    ''', '''
    def mc_dropout_predict(model, x, n_samples=50):
        """Mean and std over n_samples passes (dropout on) of softmax(model(x)); both of shape (N, classes)."""
        model.eval()
        for m in model.modules():
            if isinstance(m, (nn.Dropout, nn.AlphaDropout)):
                m.train()                                  # dropout on, everything else in eval mode
        with torch.no_grad():
            probs = torch.stack([torch.softmax(model(x), dim=-1) for _ in range(n_samples)])  # (S, N, C)
        model.eval()
        return probs.mean(0), probs.std(0)
    '''),
    code("exercises.check_mc_dropout(mc_dropout_predict)"),
    md('''
    Now on Fashion-MNIST: a small dropout network trained briefly (the run is cached). Are the MC
    predictions more uncertain — higher entropy — on the test images the network gets wrong?
    '''),
    code('''
    import pandas as pd
    from course_utils import data, train

    fmnist = data.load_fashion_mnist(device="cpu")  # downloads Fashion-MNIST the first time (Colab)
    small = exercises.small_subset(fmnist, 5000)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.3),
                        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    torch.set_num_threads(1)  # a tiny network: one CPU thread is as fast, and robust on a busy machine
    run = train.train_model(net, lambda p: torch.optim.Adam(p, lr=1e-3), small, epochs=2, seed=0, progress=False)
    X_test, y_test = fmnist.test[0][:2000], fmnist.test[1][:2000]
    mc = exercises.attempt(mc_dropout_predict, net, X_test, 30)
    if mc is not None:
        mean, std = mc
        with torch.no_grad():
            det = torch.softmax(net.eval()(X_test), -1)
        right = mean.argmax(-1) == y_test
        H = exercises.predictive_entropy(mean)
        display(pd.DataFrame({
            "accuracy (%)": [100 * (det.argmax(-1) == y_test).float().mean().item(), 100 * right.float().mean().item()],
        }, index=["one deterministic pass", "MC dropout, 30 passes"]).round(2))
        display(pd.DataFrame({"mean entropy (nats)": [H[right].mean().item(), H[~right].mean().item()],
                              "images": [int(right.sum()), int((~right).sum())]},
                             index=["correct predictions", "wrong predictions"]).round(3))
    '''),
    md('''
    ## B. $\\ell_2$ penalty versus weight decay

    Write the penalty $\\frac{\\lambda}{2}\\sum_w \\lVert w\\rVert^2$, whose gradient is exactly $\\lambda w$ —
    the term `weight_decay=λ` adds to the gradient in `torch.optim.SGD` and `torch.optim.Adam`.
    '''),
    task('''
    def l2_penalty(params, lam):
        """lam / 2 times the sum of squares of all entries of all tensors in params (a scalar tensor)."""
        # TODO
        raise NotImplementedError
    ''', '''
    def l2_penalty(params, lam):
        """lam / 2 times the sum of squares of all entries of all tensors in params (a scalar tensor)."""
        return lam / 2 * sum((w ** 2).sum() for w in params)
    '''),
    code("exercises.check_l2_penalty(l2_penalty)"),
    md('''
    The table trains a small least-squares model (features on very different scales) for 200 steps in
    five ways and measures how far each final weight vector lies from "penalty in the loss" with the same
    optimizer. A distance of 0 means the two procedures are the same algorithm.
    '''),
    code('''
    table = exercises.attempt(exercises.compare_l2_and_decay, l2_penalty)
    table
    '''),
    md('''
    **Question.** Under Adam, adding $\\frac{\\lambda}{2}\\lVert w\\rVert^2$ to the loss is the same as
    (a) `torch.optim.Adam(weight_decay=λ)`, (b) `torch.optim.AdamW(weight_decay=λ)`, (c) both, (d) neither?
    Set `answer` to a letter.
    '''),
    task('''
    answer = None  # TODO: "a", "b", "c" or "d"
    ''', '''
    answer = "a"  # Adam's weight_decay is coupled (added to g before the adaptive scaling); AdamW decouples it
    '''),
    code('exercises.check_choice("adam_l2", answer)'),
    md('''
    Why it matters: with the penalty inside Adam, the decay of each weight is divided by $\\sqrt{\\hat v}$,
    so weights with large or noisy gradients are hardly regularised at all. AdamW shrinks every weight by
    the same factor $1 - \\eta\\lambda$ per step, which is what "weight decay" was meant to be.
    '''),
    final('''
    assert exercises.check_mc_dropout(mc_dropout_predict, verbose=False)
    assert exercises.check_l2_penalty(l2_penalty, verbose=False)
    assert exercises.check_choice("adam_l2", answer, verbose=False)
    # The short dropout run: 2 epochs on 5k images reach well above chance (10 %); about 80 % is typical.
    assert run.test_acc > 0.6, run.test_acc
    # Misclassified images are more uncertain than correctly classified ones (the point of MC dropout).
    assert H[~right].mean() > H[right].mean()
    print("all checks passed")
    '''),
])

# ============================================================================ 06 conceptual questions
def _questions_cells():
    from course_utils.exercises import QUESTIONS

    cells = [md('''
    The eight exercises at the end of the textbook chapter on training deep networks, in our own words.
    Write your answer in the cell under each question (double-click it), then reveal the model answer with
    the button — or with `exercises.show_answer(n)` where widgets do not display.
    '''), INSTALL, code('''
    from course_utils import exercises
    '''), md('''
    The last question refers to the practical exercise, which is notebook 07 (the capstone).
    ''')]
    for n, (q, a) in enumerate(QUESTIONS, start=1):
        cells.append(md(f"## Question {n}\n\n{q}"))
        cells.append(answer("*Your answer:* …", f"*Answer.* {a}"))
        cells.append(code(f"exercises.answer_button({n})", book="skip"))
    cells.append(code('''
    # No widgets? Reveal a model answer as text:
    exercises.show_answer(1)
    ''', book="skip"))
    cells.append(final('''
    assert len(exercises.QUESTIONS) == 8
    for n in range(1, 9):
        exercises.show_answer(n)
    '''))
    return cells


NOTEBOOKS["06_conceptual_questions"] = dict(title="Exercise 6 — Conceptual questions", cells=_questions_cells())

# ============================================================================ 07 capstone
def _builder(name, doc, stub_hint, body):
    return task(f'''
    def {name}(seed=0):
        """{doc}"""
        # TODO: {stub_hint}
        raise NotImplementedError
    ''', f'''
    def {name}(seed=0):
        """{doc}"""
{textwrap.indent(textwrap.dedent(body).strip(), "        ")}
    ''')


NOTEBOOKS["07_capstone"] = dict(title="Exercise 7 — Capstone: a 20-layer network, five ways", cells=[
    md('''
    The practical exercise of the textbook chapter, on Fashion-MNIST: a deliberately deep network with
    20 hidden layers of 100 units, trained

    1. with SiLU (Swish), He initialisation, NAdam and early stopping;
    2. with batch normalisation added;
    3. with SELU, LeCun initialisation and standardised inputs (self-normalising);
    4. with alpha dropout — and then with MC dropout at prediction time, without retraining;
    5. with a 1cycle learning-rate schedule.

    The comparison table at the end fills itself as you run the cells. By default the runs are tiny (the
    `cpu` budget: 1 epoch on 5,000 images, batch 64) so that the notebook executes in seconds; on a GPU (or after
    changing `sizes` below) they use all 50,000 training images for 20 epochs. `train_model` keeps the
    weights of the epoch with the best validation accuracy — the "restore best weights" half of early
    stopping — and caches every run.
    '''),
    INSTALL, IMPORTS,
    code('''
    from course_utils import data

    sizes = exercises.capstone_sizes(budget)   # {"n_train": ..., "epochs": ..., "batch_size": ..., ...}
    fmnist = data.load_fashion_mnist()         # standardised with the training mean/std; downloads if missing
    small = exercises.small_subset(fmnist, sizes["n_train"], n_val=sizes["n_val"])
    run_kw = dict(epochs=sizes["epochs"], batch_size=sizes["batch_size"])
    results = {}
    print(sizes)
    '''),
    md('''
    *Online and curious?* The textbook uses CIFAR-10 (32×32 colour images). The same code works with
    `torchvision.datasets.CIFAR10` once you flatten 3·32·32 = 3,072 inputs instead of 784.

    ## 1. SiLU, He initialisation, NAdam

    Build `nn.Sequential(nn.Flatten(), Linear(784, 100), SiLU, …, Linear(100, 100), SiLU, Linear(100, 10))`
    with 20 hidden layers. Initialise every `Linear` with He (Kaiming) normal, $\\mathrm{Var}(W) =
    2/\\text{fan\\_in}$, and zero biases. Seed with `torch.manual_seed(seed)` first.
    '''),
    _builder("build_silu_he", "20 x 100 SiLU net, He init.", "nn.Flatten, 20 x (Linear + SiLU), Linear(100, 10)", '''
    torch.manual_seed(seed)
    layers, d = [nn.Flatten()], 784
    for _ in range(20):
        lin = nn.Linear(d, 100)
        nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")  # Var = 2 / fan_in
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.SiLU()]
        d = 100
    layers.append(nn.Linear(100, 10))
    return nn.Sequential(*layers)
    '''),
    code('exercises.check_capstone_model(build_silu_he, "silu_he")'),
    code('''
    nadam = lambda p: torch.optim.NAdam(p, lr=1e-3)   # search the learning rate when you have time
    _, results["SiLU + He + NAdam"] = exercises.capstone_run(build_silu_he, nadam, small, **run_kw,
                                                             desc="SiLU + He")
    '''),
    md('''
    ## 2. Add batch normalisation

    Put `nn.BatchNorm1d(100)` after every hidden `Linear` (before the activation). Does it converge in
    fewer epochs? Is each epoch slower?
    '''),
    _builder("build_bn", "20 x 100 SiLU net, He init, batch norm after every hidden Linear.",
             "like build_silu_he, plus nn.BatchNorm1d(100) between each hidden Linear and its SiLU", '''
    torch.manual_seed(seed)
    layers, d = [nn.Flatten()], 784
    for _ in range(20):
        lin = nn.Linear(d, 100)
        nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.BatchNorm1d(100), nn.SiLU()]
        d = 100
    layers.append(nn.Linear(100, 10))
    return nn.Sequential(*layers)
    '''),
    code('exercises.check_capstone_model(build_bn, "bn")'),
    code('''
    _, results["SiLU + He + BN + NAdam"] = exercises.capstone_run(build_bn, nadam, small, **run_kw,
                                                                  desc="SiLU + BN")
    '''),
    md('''
    ## 3. SELU, self-normalising

    Replace batch norm: SELU activations, LeCun normal initialisation ($\\mathrm{Var}(W) = 1/\\text{fan\\_in}$),
    a plain stack of dense layers (no batch norm, no skip connections), standardised inputs (our loader
    already standardises the pixels with the training mean and standard deviation).
    '''),
    _builder("build_selu", "20 x 100 SELU net, LeCun normal init, no batch norm.",
             "nn.Flatten, 20 x (Linear + SELU) with Var(W) = 1/fan_in, Linear(100, 10)", '''
    torch.manual_seed(seed)
    layers, d = [nn.Flatten()], 784
    for _ in range(20):
        lin = nn.Linear(d, 100)
        nn.init.normal_(lin.weight, 0.0, 1 / math.sqrt(d))  # LeCun: Var = 1 / fan_in
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.SELU()]
        d = 100
    layers.append(nn.Linear(100, 10))
    return nn.Sequential(*layers)
    '''),
    code('exercises.check_capstone_model(build_selu, "selu_lecun")'),
    code('''
    _, results["SELU + LeCun + NAdam"] = exercises.capstone_run(build_selu, nadam, small, **run_kw,
                                                                desc="SELU")
    '''),
    md('''
    ## 4. Alpha dropout, then MC dropout

    Ordinary dropout would break SELU's fixed point; `nn.AlphaDropout(p)` keeps mean and variance. Add it
    after the activations (the textbook uses $p = 0.1$). Then, **without retraining**, predict with MC
    dropout: average the softmax of many passes with dropout on.
    '''),
    _builder("build_selu_alpha", "The SELU net with nn.AlphaDropout(0.1) after every hidden activation.",
             "like build_selu, plus nn.AlphaDropout(0.1) after each SELU", '''
    torch.manual_seed(seed)
    layers, d = [nn.Flatten()], 784
    for _ in range(20):
        lin = nn.Linear(d, 100)
        nn.init.normal_(lin.weight, 0.0, 1 / math.sqrt(d))
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.SELU(), nn.AlphaDropout(0.1)]
        d = 100
    layers.append(nn.Linear(100, 10))
    return nn.Sequential(*layers)
    '''),
    code('exercises.check_capstone_model(build_selu_alpha, "alpha_dropout")'),
    code('''
    model_ad, results["SELU + alpha dropout"] = exercises.capstone_run(build_selu_alpha, nadam, small, **run_kw,
                                                                       desc="alpha dropout")
    if model_ad is not None:
        mc_acc = exercises.mc_dropout_accuracy(model_ad, *fmnist.test, n_samples=sizes["mc_samples"])
        results["SELU + alpha dropout, MC dropout"] = {"test acc (%)": 100 * mc_acc,
                                                       "note": f"same weights, {sizes['mc_samples']} passes"}
    '''),
    md('''
    ## 5. 1cycle

    Retrain the batch-norm network with a 1cycle schedule: `OneCycleLR` raises the learning rate from
    `max_lr / 25` to `max_lr` over the first 30 % of the batches and then anneals it to almost zero.
    It is stepped after every batch, so it needs the total number of steps:
    `epochs × ceil(n_train / batch_size)`.
    '''),
    task('''
    def one_cycle(optimizer):
        """A OneCycleLR schedule over the whole run."""
        # TODO: torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=..., total_steps=...)
        raise NotImplementedError
    ''', '''
    def one_cycle(optimizer):
        """A OneCycleLR schedule over the whole run."""
        steps = sizes["epochs"] * math.ceil(sizes["n_train"] / sizes["batch_size"])
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=steps)
    '''),
    code('''
    _, results["SiLU + BN + NAdam + 1cycle"] = exercises.capstone_run(build_bn, nadam, small, **run_kw,
                                                                      scheduler_fn=one_cycle, desc="1cycle")
    '''),
    md('''
    ## The comparison

    One row per configuration (`s / epoch` is the wall-clock training time; "cached" rows were read from
    disk). With the tiny default budget the differences are mostly noise — run it with more epochs and
    all the images, and several seeds, before you conclude anything.
    '''),
    code("exercises.capstone_table(results)"),
    final('''
    for fn, variant in [(build_silu_he, "silu_he"), (build_bn, "bn"), (build_selu, "selu_lecun"),
                        (build_selu_alpha, "alpha_dropout")]:
        assert exercises.check_capstone_model(fn, variant, verbose=False)
    table = exercises.capstone_table(results)
    assert table["test acc (%)"].notna().all(), table
    # One epoch (79 steps) on 5,000 images lifts every configuration well above chance (10 %); the GPU budget far more.
    assert (table["test acc (%)"] > 25).all(), table
    print("all checks passed")
    '''),
])


# ============================================================================ writers
def _badges(name):
    colab = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/exercises/{name}.ipynb"
    binder = f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?labpath=exercises/{name}.ipynb"
    return colab, binder


def _cell_id(name, i, kind):
    return f"{name[:2]}-{kind}-{i:02d}"


def build_notebook(name, spec, solution):
    colab, binder = _badges(name if not solution else f"solutions/{name}")
    header = (f"# {spec['title']}{' — worked solutions' if solution else ''}\n\n"
              f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
              f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})")
    cells = [nbformat.v4.new_markdown_cell(header)]
    for item in spec["cells"]:
        kind = item[0]
        if kind == "md":
            cells.append(nbformat.v4.new_markdown_cell(item[1]))
        elif kind == "code":
            cells.append(nbformat.v4.new_code_cell(item[1]))
        elif kind == "task":
            cells.append(nbformat.v4.new_code_cell(item[2] if solution else item[1]))
        elif kind == "answer":
            cells.append(nbformat.v4.new_markdown_cell(item[2] if solution else item[1]))
        elif kind == "final" and solution:
            cells.append(nbformat.v4.new_markdown_cell("## Final check\n\nEvery check of this notebook passes."))
            cells.append(nbformat.v4.new_code_cell(item[1]))
    for i, c in enumerate(cells):
        c["id"] = _cell_id(name, i, "s" if solution else "e")
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []}})
    nb.nbformat_minor = 5
    nbformat.validate(nb)
    return nb


FRONT = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
    jupytext_version: 1.16.0
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def build_page(name, spec):
    colab, binder = _badges(name)
    scolab, sbinder = _badges(f"solutions/{name}")
    gh = f"https://github.com/{REPO}/blob/{BRANCH}/exercises/{name}.ipynb"
    out = [FRONT, f"# {spec['title']}\n",
           f"Work through this exercise in a notebook: [open it in Colab]({colab}), "
           f"[launch it on Binder]({binder}) or [download it from GitHub]({gh}). The worked solutions are also "
           f"a notebook ([Colab]({scolab}), [Binder]({sbinder})). On this page each solution is folded away — "
           f"click to reveal it — and the checks below it show what the grader says about it. Sliders need a "
           f"running Python kernel, so they appear here as code to run in the notebook.\n"]
    for item in spec["cells"]:
        kind = item[0]
        if kind == "md":
            out.append(item[1] + "\n")
        elif kind == "code":
            if item[2] == "run":
                out.append(f"```{{code-cell}} ipython3\n{item[1]}\n```\n")
            elif item[2] == "hidden":
                out.append(f"```{{code-cell}} ipython3\n:tags: [hide-input]\n\n{item[1]}\n```\n")
            elif item[2] == "static":
                out.append(f"```python\n# run this in the notebook (interactive)\n{item[1]}\n```\n")
        elif kind == "task":
            out.append(f"Your task, as the notebook gives it:\n\n```python\n{item[1]}\n```\n")
            if item[3] == "run":
                out.append(f"```{{code-cell}} ipython3\n:tags: [hide-input]\n\n# Solution\n{item[2]}\n```\n")
            else:
                out.append(f":::{{admonition}} Solution\n:class: dropdown\n\n```python\n{item[2]}\n```\n:::\n")
        elif kind == "answer":
            out.append(f":::{{admonition}} Model answer\n:class: dropdown\n\n{item[2]}\n:::\n")
        elif kind == "final":
            out.append(f"```{{code-cell}} ipython3\n:tags: [remove-cell]\n\n{item[1]}\n```\n")
    return "\n".join(out)


INDEX = """# Exercises

Seven notebooks, one per part of the book, to work through in Colab, on Binder or in a local Jupyter.
Every notebook grades your code on the spot with `course_utils.exercises.check_*`: ✅ when it matches
PyTorch's own implementation ("passed"), ❌ with what your code produced and a hint ("not quite"), and ⏳
while the exercise is still the unmodified stub ("to do"); the expected value is shown once you pass. The first cell installs the course package when it is missing;
the data cells download Fashion-MNIST when it is not on disk.

| # | notebook | what you do |
|---|---|---|
{rows}

Each page below shows the exercise text with the worked solutions folded behind toggles; the solution
notebooks live in `exercises/solutions/` and run, with all checks passing, in the course's CI.

```{{tableofcontents}}
```
"""

WHAT = {
    "01_initialization": "derive the condition on Var(W) that keeps the backward pass stable; implement Xavier and Kaiming; slider over std and depth",
    "02_activations_normalization": "implement leaky ReLU and batch norm (training and evaluation) and match torch",
    "03_optimizers": "implement momentum, RMSProp and Adam as torch optimizers; loss-surface sliders",
    "04_schedules": "schedule sliders; find a schedule that beats a constant learning rate",
    "05_regularization": "MC dropout uncertainty; ℓ2 penalty vs weight decay under Adam",
    "06_conceptual_questions": "the textbook chapter's eight questions, with model answers on request",
    "07_capstone": "20 × 100 SiLU net: He + NAdam, batch norm, SELU, alpha/MC dropout, 1cycle",
}


def main():
    (ROOT / "exercises" / "solutions").mkdir(parents=True, exist_ok=True)
    (ROOT / "book" / "exercises").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (name, spec) in enumerate(NOTEBOOKS.items(), start=1):
        for solution, folder in ((False, ROOT / "exercises"), (True, ROOT / "exercises" / "solutions")):
            nb = build_notebook(name, spec, solution)
            nbformat.write(nb, str(folder / f"{name}.ipynb"))
        (ROOT / "book" / "exercises" / f"{name}.md").write_text(build_page(name, spec))
        colab, _ = _badges(name)
        rows.append(f"| {i} | [{spec['title'].split(' — ')[1]}]({name}.md) | {WHAT[name]} ([Colab]({colab})) |")
    (ROOT / "book" / "exercises" / "index.md").write_text(INDEX.format(rows="\n".join(rows)))
    print(f"wrote {len(NOTEBOOKS)} notebooks, {len(NOTEBOOKS)} solutions and {len(NOTEBOOKS) + 1} book pages")


if __name__ == "__main__":
    main()
