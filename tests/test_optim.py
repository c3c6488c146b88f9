"""Tests of course_utils.optim: equal to torch.optim, identities, convergence, API compatibility."""
import pytest
import torch

from course_utils import optim as O

STEPS = 100


@pytest.fixture(autouse=True)
def float64():
    """Compare in float64 (torch also keeps NAdam's mu_product in the default dtype)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(32, 5, generator=g)  # (B, 5)
    y = torch.randn(32, 1, generator=g)  # (B, 1)
    return X, y


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def _train(make_opt, steps=STEPS, groups=False, scheduler=None):
    """Run ``steps`` full-batch steps of a tiny regression net; return the flat parameters."""
    net = _net()
    X, y = _problem()
    params = ([{"params": net[0].parameters()}, {"params": net[2].parameters(), "lr": 0.003}]
              if groups else net.parameters())
    opt = make_opt(params)
    sched = scheduler(opt) if scheduler else None
    for _ in range(steps):
        opt.zero_grad()
        ((net(X) - y) ** 2).mean().backward()
        opt.step()
        if sched:
            sched.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def _max_rel(a, b):
    return ((a - b).abs() / b.abs().clamp_min(1e-8)).max().item()


# ----------------------------------------------------------------------------- equal to torch.optim
TORCH_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, nesterov=True, maximize=True)),
    ("Adagrad", dict(lr=0.05)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.01, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
]


@pytest.mark.parametrize("name,kwargs", TORCH_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_CASES)])
def test_same_trajectory_as_torch(name, kwargs):
    ours = _train(lambda p: O.OPTIMIZERS[name](p, **kwargs))
    ref = _train(lambda p: O.TORCH_EQUIVALENTS[name](p, **kwargs, foreach=False))
    start = _train(lambda p: torch.optim.SGD(p, lr=0.0), steps=1)
    assert _max_rel(ref, start) > 1e-2  # the run really moved the parameters
    assert _max_rel(ours, ref) <= 1e-6


@pytest.mark.parametrize("name", list(O.TORCH_EQUIVALENTS))
def test_defaults_match_torch(name):
    import inspect

    ours = inspect.signature(O.OPTIMIZERS[name]).parameters
    theirs = inspect.signature(O.TORCH_EQUIVALENTS[name]).parameters
    for arg, p in ours.items():
        assert arg in theirs, f"{name}: torch has no argument {arg!r}"
        assert p.default == theirs[arg].default, f"{name}.{arg}: {p.default} vs torch {theirs[arg].default}"


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                         ("RMSprop", dict(lr=0.01, centered=True))])
def test_param_groups_and_scheduler_match_torch(name, kwargs):
    sched = lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.5)  # noqa: E731
    ours = _train(lambda p: O.OPTIMIZERS[name](p, **kwargs), groups=True, scheduler=sched)
    ref = _train(lambda p: O.TORCH_EQUIVALENTS[name](p, **kwargs), groups=True, scheduler=sched)
    assert _max_rel(ours, ref) <= 1e-6


# ----------------------------------------------------------------------------- identities
@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_ema_momentum_is_velocity_momentum_with_scaled_lr(beta):
    """m_t = (1-beta) v_t, so EMA momentum at lr equals torch SGD at lr*(1-beta)."""
    ours = _train(lambda p: O.SGDMomentum(p, lr=0.1, momentum=beta))
    ref = _train(lambda p: torch.optim.SGD(p, lr=0.1 * (1 - beta), momentum=beta))
    assert _max_rel(ours, ref) <= 1e-6


def test_ema_momentum_is_sgd_with_dampening_from_zero_buffer():
    """torch SGD(dampening=beta) is the EMA form once its buffer starts at 0 instead of g_1."""
    beta = 0.9

    def torch_zero_buffer(params):
        opt = torch.optim.SGD(params, lr=0.1, momentum=beta, dampening=beta)
        for group in opt.param_groups:
            for p in group["params"]:
                opt.state[p]["momentum_buffer"] = torch.zeros_like(p)
        return opt

    ours = _train(lambda p: O.SGDMomentum(p, lr=0.1, momentum=beta))
    assert _max_rel(ours, _train(torch_zero_buffer)) <= 1e-6
    # Without the zero buffer torch's first step is g_1 instead of (1-beta) g_1: a different run.
    plain = _train(lambda p: torch.optim.SGD(p, lr=0.1, momentum=beta, dampening=beta))
    assert _max_rel(ours, plain) > 1e-3
    # ... and the first step differs by exactly beta * lr * g_1.
    one = _train(lambda p: O.SGDMomentum(p, lr=0.1, momentum=beta), steps=1)
    one_t = _train(lambda p: torch.optim.SGD(p, lr=0.1, momentum=beta, dampening=beta), steps=1)
    start = _train(lambda p: torch.optim.SGD(p, lr=0.0), steps=1)
    torch.testing.assert_close(one - start, (1 - beta) * (one_t - start))


@pytest.mark.parametrize("a,b", [
    (lambda p: O.SGDMomentum(p, lr=0.05, momentum=0.0), lambda p: O.SGD(p, lr=0.05)),
    (lambda p: O.AdamW(p, lr=0.01, weight_decay=0.0), lambda p: O.Adam(p, lr=0.01)),
    (lambda p: O.AdamW(p, lr=0.01, weight_decay=0.1),
     lambda p: O.Adam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    (lambda p: O.LocalGain(p, lr=0.05, beta=0.0), lambda p: O.SGD(p, lr=0.05)),
], ids=["momentum0-is-sgd", "adamw-wd0-is-adam", "adamw-is-decoupled-adam", "localgain-beta0-is-sgd"])
def test_identities(a, b):
    assert _max_rel(_train(a), _train(b)) <= 1e-12


@pytest.mark.parametrize("name", list(O.OPTIMIZERS))
def test_maximize_is_minimizing_the_negative(name):
    def run(maximize):
        p = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
        opt = O.OPTIMIZERS[name]([p], lr=0.01, maximize=maximize)
        for _ in range(20):
            opt.zero_grad()
            f = (p ** 2 * torch.tensor([1.0, 3.0, 0.2])).sum()
            (-f if maximize else f).backward()
            opt.step()
        return p.detach()

    torch.testing.assert_close(run(True), run(False))


# ----------------------------------------------------------------------------- published algorithms
def _reference_adabelief(theta, grads_fn, steps, lr, beta1=0.9, beta2=0.999, eps=1e-16):
    """Algorithm 2 of Zhuang et al. (2020), written out literally."""
    m = torch.zeros_like(theta)
    s = torch.zeros_like(theta)
    for t in range(1, steps + 1):
        g = grads_fn(theta)
        m = beta1 * m + (1 - beta1) * g
        s = beta2 * s + (1 - beta2) * (g - m) ** 2 + eps
        m_hat = m / (1 - beta1 ** t)
        s_hat = s / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (torch.sqrt(s_hat) + eps)
    return theta


def _reference_local_gain(theta, grads_fn, steps, lr, beta=0.05):
    """The slides' rule, one weight at a time: +beta if the gradient kept its sign, x(1-beta) if not."""
    theta = theta.clone()
    gains = [1.0] * theta.numel()
    prev = [0.0] * theta.numel()
    for _ in range(steps):
        g = grads_fn(theta)
        for i in range(theta.numel()):
            gi = g[i].item()
            if gi * prev[i] > 0:
                gains[i] = gains[i] + beta
            elif gi * prev[i] < 0:
                gains[i] = gains[i] * (1 - beta)
            prev[i] = gi
            theta[i] = theta[i] - lr * gains[i] * gi
    return theta


def _rosenbrock_grad(p):
    x, y = p[0], p[1]
    return torch.stack([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])


def _quadratic_grad(p):
    return p * torch.tensor([1.0, 10.0])  # f = (x^2 + 10 y^2) / 2: condition number 10


def _run_on(cls, grad_fn, steps, start=(-1.5, 2.0), **kwargs):
    p = torch.tensor(start, requires_grad=True)
    opt = cls([p], **kwargs)
    for _ in range(steps):
        p.grad = grad_fn(p.detach())
        opt.step()
    return p.detach()


@pytest.mark.parametrize("grad_fn", [_quadratic_grad, _rosenbrock_grad], ids=["quadratic", "rosenbrock"])
@pytest.mark.parametrize("cls,reference,kwargs", [
    (O.AdaBelief, _reference_adabelief, dict(lr=0.02)),
    (O.AdaBelief, _reference_adabelief, dict(lr=0.01, beta1=0.5, beta2=0.9, eps=1e-8)),
    (O.LocalGain, _reference_local_gain, dict(lr=1e-3)),
    (O.LocalGain, _reference_local_gain, dict(lr=1e-3, beta=0.2)),
], ids=["adabelief", "adabelief-betas", "localgain", "localgain-beta0.2"])
def test_matches_published_algorithm(cls, reference, kwargs, grad_fn):
    kw = dict(kwargs)
    if "beta1" in kw:
        kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
    ours = _run_on(cls, grad_fn, 150, **kw)
    ref = reference(torch.tensor([-1.5, 2.0]), grad_fn, 150, **kwargs)
    assert _max_rel(ours, ref) <= 1e-6


# (optimizer, kwargs, steps, tolerance on the distance to the minimum)
CONVERGENCE = {
    "quadratic": (_quadratic_grad, torch.tensor([0.0, 0.0]), [
        (O.SGD, dict(lr=0.05, momentum=0.5), 300, 1e-6),
        (O.SGDMomentum, dict(lr=0.1, momentum=0.5), 300, 1e-6),
        (O.Adagrad, dict(lr=0.5), 300, 1e-6),
        (O.RMSprop, dict(lr=0.01), 300, 1e-2),
        (O.Adam, dict(lr=0.1), 300, 1e-4),
        (O.Adamax, dict(lr=0.1), 300, 1e-4),
        (O.NAdam, dict(lr=0.1), 300, 1e-4),
        (O.AdamW, dict(lr=0.1, weight_decay=0.0), 300, 1e-4),
        (O.AdaBelief, dict(lr=0.1), 300, 1e-4),
        (O.LocalGain, dict(lr=0.01), 300, 1e-6),
    ]),
    "rosenbrock": (_rosenbrock_grad, torch.tensor([1.0, 1.0]), [
        (O.SGD, dict(lr=1e-3, momentum=0.9), 2000, 1e-2),
        (O.Adam, dict(lr=0.02), 2000, 2e-2),
        (O.AdaBelief, dict(lr=0.02), 2000, 2e-2),
        (O.LocalGain, dict(lr=1e-3), 2000, 0.15),
    ]),
}
_CONV = [(surf, *case) for surf, (_, _, cases) in CONVERGENCE.items() for case in cases]


@pytest.mark.parametrize("surface,cls,kwargs,steps,tol", _CONV,
                         ids=[f"{s}-{c.__name__}" for s, c, *_ in _CONV])
def test_converges(surface, cls, kwargs, steps, tol):
    grad_fn, minimum, _ = CONVERGENCE[surface]
    start = torch.tensor([-1.5, 2.0])
    end = _run_on(cls, grad_fn, steps, **kwargs)
    assert torch.isfinite(end).all()
    assert (end - minimum).norm() < tol, f"{cls.__name__} ended at {end.tolist()}"
    assert (end - minimum).norm() < (start - minimum).norm()


def test_local_gain_grows_when_consistent_and_shrinks_when_flipping():
    p = torch.tensor([0.0, 0.0], requires_grad=True)
    opt = O.LocalGain([p], lr=0.0, beta=0.1, gain_bounds=(0.5, 1.25))
    for k in range(5):
        p.grad = torch.tensor([1.0, (-1.0) ** k])  # coordinate 0 consistent, 1 alternating
        opt.step()
    gain = opt.state[p]["gain"]
    assert gain[0].item() == pytest.approx(1.25)  # 1 + 4*0.1 = 1.4, clamped to 1.25
    assert gain[1].item() == pytest.approx(max(0.9 ** 4, 0.5))


# ----------------------------------------------------------------------------- API compatibility
@pytest.mark.parametrize("name", list(O.OPTIMIZERS))
def test_state_dict_round_trip(name):
    """Stopping after 20 steps, saving and resuming in a fresh optimizer equals 40 uninterrupted steps."""
    X, y = _problem()
    loss = lambda net: ((net(X) - y) ** 2).mean()  # noqa: E731
    cls = O.OPTIMIZERS[name]

    net_a = _net()
    opt_a = cls(net_a.parameters(), lr=0.01)
    for _ in range(40):
        opt_a.zero_grad()
        loss(net_a).backward()
        opt_a.step()

    net_b = _net()
    opt_b = cls(net_b.parameters(), lr=0.01)
    for _ in range(20):
        opt_b.zero_grad()
        loss(net_b).backward()
        opt_b.step()
    saved_net, saved_opt = net_b.state_dict(), opt_b.state_dict()
    net_c = _net(seed=1)
    net_c.load_state_dict(saved_net)
    opt_c = cls(net_c.parameters(), lr=0.5)  # a different lr: it must come from the state dict
    opt_c.load_state_dict(saved_opt)
    for _ in range(20):
        opt_c.zero_grad()
        loss(net_c).backward()
        opt_c.step()
    for pa, pc in zip(net_a.parameters(), net_c.parameters()):
        torch.testing.assert_close(pa, pc, rtol=0, atol=0)


@pytest.mark.parametrize("name", list(O.OPTIMIZERS))
def test_works_with_lr_scheduler(name):
    p = torch.nn.Parameter(torch.ones(3))
    opt = O.OPTIMIZERS[name]([p], lr=0.1)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        p.grad = torch.ones(3)
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)
    assert sched.get_last_lr() == [pytest.approx(0.0125)]


def test_closure_returns_loss():
    p = torch.nn.Parameter(torch.tensor([2.0]))
    opt = O.Adam([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == pytest.approx(4.0)
    assert p.item() == pytest.approx(1.9)  # Adam's first step has size lr


def test_skips_parameters_without_gradient():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = O.Adam([a, b], lr=0.1)
    a.grad = torch.ones(2)
    opt.step()
    assert torch.equal(b.detach(), torch.ones(2)) and b not in opt.state


# ----------------------------------------------------------------------------- memory
EXPECTED_BYTES = {"SGD": 0, "SGDMomentum": 4, "Adagrad": 4, "RMSprop": 4, "Adam": 8, "Adamax": 8,
                  "NAdam": 8, "AdamW": 8, "AdaBelief": 8, "LocalGain": 8}


@pytest.mark.parametrize("name", list(O.OPTIMIZERS))
def test_state_bytes_per_param(name):
    """float32 parameters: 4 bytes per state tensor element, as in the slides' table (0, 4n, 8n)."""
    net = torch.nn.Linear(50, 20).float()
    opt = O.OPTIMIZERS[name](net.parameters(), lr=0.01)
    assert O.state_bytes_per_param(opt) == 0  # state is created lazily
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    assert O.state_bytes_per_param(opt) == EXPECTED_BYTES[name]


def test_state_bytes_of_torch_optimizers():
    net = torch.nn.Linear(50, 20).float()
    n = sum(p.numel() for p in net.parameters())
    for cls, kwargs, per_param in [(torch.optim.SGD, dict(lr=0.1, momentum=0.9), 4), (torch.optim.Adam, {}, 8),
                                   (torch.optim.Adam, dict(amsgrad=True), 12)]:
        opt = cls(net.parameters(), **kwargs)
        for p in net.parameters():
            p.grad = torch.ones_like(p)
        opt.step()
        # torch adds one scalar `step` tensor (in the default dtype) per parameter tensor
        extra = 2 * torch.tensor(0.0).element_size() if cls is torch.optim.Adam else 0
        assert O.state_bytes_per_param(opt) == pytest.approx(per_param + extra / n)


def test_state_bytes_per_param_rejects_bad_input():
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        O.state_bytes_per_param("adam")


# ----------------------------------------------------------------------------- bad arguments
BAD = [
    (O.SGD, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (O.SGD, dict(lr=0.1, momentum=-1), "Invalid momentum"),
    (O.SGD, dict(lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (O.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (O.SGDMomentum, dict(lr=0.1, momentum=1.0), "Invalid momentum"),
    (O.Adagrad, dict(lr=0.1, eps=-1e-10), "Invalid epsilon"),
    (O.RMSprop, dict(lr=0.1, alpha=1.5), "Invalid alpha"),
    (O.Adam, dict(lr=0.1, betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (O.Adam, dict(lr=0.1, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (O.Adam, dict(lr=0.1, betas=0.9), "Invalid betas"),
    (O.AdamW, dict(lr=0.1, weight_decay=-0.01), "Invalid weight_decay"),
    (O.Adamax, dict(lr="fast"), "Invalid learning rate"),
    (O.NAdam, dict(lr=0.1, momentum_decay=-1), "Invalid momentum_decay"),
    (O.AdaBelief, dict(lr=float("nan")), "Invalid learning rate"),
    (O.LocalGain, dict(lr=0.1, beta=1.0), "Invalid beta"),
    (O.LocalGain, dict(lr=0.1, gain_bounds=(2.0, 10.0)), "Invalid gain_bounds"),
]


@pytest.mark.parametrize("cls,kwargs,msg", BAD, ids=[f"{c.__name__}-{m}" for c, _, m in BAD])
def test_bad_arguments_raise(cls, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        cls([torch.nn.Parameter(torch.zeros(2))], **kwargs)


def test_sparse_gradient_is_rejected():
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.zeros(3).to_sparse()
    with pytest.raises(TypeError, match="sparse"):
        O.Adam([p]).step()


def test_every_docstring_has_math():
    for name, cls in O.OPTIMIZERS.items():
        assert ".. math::" in cls.__doc__, name
