"""Tests of the exercise graders: reference solutions pass, typical mistakes fail with the right hint,
stubs read "not yet", and nothing the learner's code does escapes as an exception."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import exercises as ex
from course_utils.exercises import normalization as ex_norm, schedules as ex_sched


def todo(*args, **kwargs):
    raise NotImplementedError


def assert_fails_with(result, *fragments):
    assert result.status == "fail", result.message
    for frag in fragments:
        assert frag.lower() in result.message.lower(), (frag, result.message)


# ----------------------------------------------------------------------------- plumbing
def test_result_is_truthy_only_on_pass():
    assert ex.check_backward_condition(lambda dx, dy: 1 / dy, verbose=False)
    assert not ex.check_backward_condition(lambda dx, dy: 1 / dx, verbose=False)


@pytest.mark.parametrize("check", [ex.check_backward_condition, ex.check_xavier_uniform, ex.check_kaiming_normal,
                                   ex.check_leaky_relu, ex.check_batch_norm, ex.check_mc_dropout,
                                   ex.check_l2_penalty])
def test_stub_reads_not_yet(check, capsys):
    r = check(todo)
    assert r.status == "not yet"
    assert "not yet" in capsys.readouterr().out


@pytest.mark.parametrize("check", [ex.check_momentum, ex.check_rmsprop, ex.check_adam])
def test_optimizer_stub_reads_not_yet(check):
    class Stub(torch.optim.Optimizer):
        def __init__(self, params, lr=1e-3, **kw):
            super().__init__(params, dict(lr=lr, **kw))

        def step(self, closure=None):
            raise NotImplementedError

    assert check(Stub, verbose=False).status == "not yet"


@pytest.mark.parametrize("check", [ex.check_xavier_uniform, ex.check_leaky_relu, ex.check_batch_norm,
                                   ex.check_momentum, ex.check_l2_penalty])
def test_not_callable_is_reported(check):
    r = check(42, verbose=False)
    assert_fails_with(r, "expected")


def test_exception_in_learner_code_is_reported_not_raised():
    def broken(x, negative_slope=0.01):
        return x @ torch.ones(3)  # shape error

    r = ex.check_leaky_relu(broken, verbose=False)
    assert_fails_with(r, "RuntimeError")


def test_attempt_returns_none_for_stub(capsys):
    assert ex.attempt(todo, 1) is None
    assert "not yet" in capsys.readouterr().out
    assert ex.attempt(lambda a: a + 1, 1) == 2


# ----------------------------------------------------------------------------- 01 initialization
@pytest.mark.parametrize("answer,frag", [
    (lambda dx, dy: 1 / dx, "forward-pass condition"),
    (lambda dx, dy: 2 / (dx + dy), "Glorot"),
    (lambda dx, dy: 2 / dy, "ReLU"),
    (lambda dx, dy: 1 / math.sqrt(dy), "standard deviation"),
])
def test_backward_condition_mistakes(answer, frag):
    assert_fails_with(ex.check_backward_condition(answer, verbose=False), frag)


def test_backward_condition_number_and_measurement():
    assert ex.check_backward_condition(1 / 128, verbose=False)
    assert not ex.check_backward_condition(1 / 512, verbose=False)
    assert abs(ex.measure_backward_ratio(1 / 128, 512, 128) - 1) < 0.05
    assert abs(ex.measure_backward_ratio(1 / 512, 512, 128) - 0.25) < 0.02
    with pytest.raises(ValueError, match="var_w"):
        ex.measure_backward_ratio(-1.0, 3, 3)


def xavier_ok(w, gain=1.0):
    fan_out, fan_in = w.shape
    a = gain * math.sqrt(6 / (fan_in + fan_out))
    with torch.no_grad():
        return w.uniform_(-a, a)


def kaiming_ok(w, a=0.0):
    fan_in = w.shape[1]
    with torch.no_grad():
        return w.normal_(0, math.sqrt(2 / ((1 + a * a) * fan_in)))


def test_init_references_pass_and_torch_itself_passes():
    assert ex.check_xavier_uniform(xavier_ok, verbose=False)
    assert ex.check_xavier_uniform(lambda w, gain=1.0: nn.init.xavier_uniform_(w, gain=gain), verbose=False)
    assert ex.check_kaiming_normal(kaiming_ok, verbose=False)
    assert ex.check_kaiming_normal(lambda w, a=0.0: nn.init.kaiming_normal_(w, a=a, nonlinearity="leaky_relu"),
                                   verbose=False)


def test_kaiming_with_fan_out_gets_the_fan_out_hint():
    def fan_out(w, a=0.0):
        with torch.no_grad():
            return w.normal_(0, math.sqrt(2 / ((1 + a * a) * w.shape[0])))

    assert_fails_with(ex.check_kaiming_normal(fan_out, verbose=False), "fan_out", "w.shape[1]")


@pytest.mark.parametrize("wrong,frag", [
    (lambda w, a=0.0: w.data.normal_(0, math.sqrt(1 / w.shape[1])), "LeCun"),
    (lambda w, a=0.0: w.data.normal_(0, 2 / w.shape[1]), "standard deviation"),
    (lambda w, a=0.0: w.data.uniform_(-math.sqrt(6 / w.shape[1]), math.sqrt(6 / w.shape[1])), "normal"),
    (lambda w, a=0.0: torch.randn(w.shape) * math.sqrt(2 / w.shape[1]), "in place"),
    (lambda w, a=0.0: w.data.normal_(0, math.sqrt(2 / w.shape[1])), "slope"),
])
def test_kaiming_mistakes(wrong, frag):
    assert_fails_with(ex.check_kaiming_normal(wrong, verbose=False), frag)


@pytest.mark.parametrize("wrong,frag", [
    (lambda w, gain=1.0: w.data.uniform_(-gain * math.sqrt(2 / sum(w.shape)), gain * math.sqrt(2 / sum(w.shape))),
     "a²/3"),
    (lambda w, gain=1.0: w.data.normal_(0, gain * math.sqrt(2 / sum(w.shape))), "uniform"),
    (lambda w, gain=1.0: w.data.uniform_(-math.sqrt(6 / sum(w.shape)), math.sqrt(6 / sum(w.shape))), "gain"),
    (lambda w, gain=1.0: w.data.uniform_(-gain * math.sqrt(3 / w.shape[1]), gain * math.sqrt(3 / w.shape[1])),
     "LeCun"),
    (lambda w, gain=1.0: w.data.uniform_(0, gain * math.sqrt(6 / sum(w.shape))), "centred"),
])
def test_xavier_mistakes(wrong, frag):
    assert_fails_with(ex.check_xavier_uniform(wrong, verbose=False), frag)


def test_activation_variances_follow_theory():
    v = ex.activation_variances(1 / math.sqrt(256), 10, act="identity")
    assert all(0.8 < x < 1.25 for x in v)
    assert ex.activation_variances(0.01, 10, act="identity")[-1] < 1e-10
    torch.manual_seed(1)  # not 0: that would replay the input generator's stream (x and W identical numbers)
    relu = ex.activation_variances(1.0, 5, act="relu", init=kaiming_ok)  # E[relu(y)^2] = 1 -> Var ≈ 1 - 1/(2π)
    assert all(0.45 < x < 0.85 for x in relu)
    with pytest.raises(ValueError, match="act"):
        ex.activation_variances(0.1, 3, act="nope")


# ----------------------------------------------------------------------------- 02 activations & BN
def leaky_ok(x, negative_slope=0.01):
    return torch.where(x > 0, x, negative_slope * x)


@pytest.mark.parametrize("wrong,frag", [
    (lambda x, negative_slope=0.01: torch.where(x > 0, negative_slope * x, x), "swapped"),
    (lambda x, negative_slope=0.01: negative_slope * x, "positive inputs"),
    (lambda x, negative_slope=0.01: torch.relu(x), "that is ReLU"),
    (lambda x, negative_slope=0.01: torch.where(x > 0, x, 0.01 * x), "ignored"),
    (lambda x, negative_slope=0.01: x.clamp_(min=0).add_(0), "in place"),
    (lambda x, negative_slope=0.01: leaky_ok(x, negative_slope).sum(), "shape"),
    (lambda x, negative_slope=0.01: leaky_ok(x, negative_slope).numpy(), "not a tensor"),
])
def test_leaky_relu(wrong, frag):
    assert ex.check_leaky_relu(leaky_ok, verbose=False)
    assert_fails_with(ex.check_leaky_relu(wrong, verbose=False), frag)


def bn_ok(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if training:
        mean, var = x.mean(0), x.var(0, unbiased=False)
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * x.var(0, unbiased=True)
    else:
        mean, var = running_mean, running_var
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta, running_mean, running_var


def bn_variant(**flags):
    def f(x, gamma, beta, rm, rv, training, momentum=0.1, eps=1e-5):
        return ex_norm._bn_reference(x, gamma, beta, rm, rv, training, momentum, eps, **flags)
    return f


@pytest.mark.parametrize("flags,frag", [
    (dict(unbiased_norm=True), "biased"),
    (dict(biased_running=True), "running variance"),
    (dict(inverted_momentum=True), "weight of the NEW"),
    (dict(eval_batch_stats=True), "eval mode"),
    (dict(dim=1), "layer norm"),
    (dict(no_affine=True), "gamma"),
    (dict(eps_outside=True), "inside the square root"),
])
def test_batch_norm_mistakes(flags, frag):
    assert ex.check_batch_norm(bn_ok, verbose=False)
    assert ex.check_batch_norm(bn_variant(), verbose=False)  # the grader's own reference == nn.BatchNorm1d
    assert_fails_with(ex.check_batch_norm(bn_variant(**flags), verbose=False), frag)


def test_batch_norm_wrong_return():
    assert_fails_with(ex.check_batch_norm(lambda *a, **k: a[0], verbose=False), "tuple")


# ----------------------------------------------------------------------------- 03 optimizers
class Momentum(torch.optim.Optimizer):
    def __init__(self, params, lr=0.01, momentum=0.9, sign=1.0, ema=False):
        super().__init__(params, dict(lr=lr, momentum=momentum))
        self.sign, self.ema = sign, ema

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                v = self.state[p].setdefault("v", torch.zeros_like(p))
                b = group["momentum"]
                v.mul_(b).add_(p.grad, alpha=(1 - b) if self.ema else 1)
                p.add_(v, alpha=-self.sign * group["lr"])


class RMSProp(torch.optim.Optimizer):
    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, eps_inside=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps))
        self.eps_inside = eps_inside

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                v = self.state[p].setdefault("v", torch.zeros_like(p))
                v.mul_(group["alpha"]).addcmul_(p.grad, p.grad, value=1 - group["alpha"])
                d = (v + group["eps"]).sqrt() if self.eps_inside else v.sqrt() + group["eps"]
                p.addcdiv_(p.grad, d, value=-group["lr"])


class Adam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, correct=True):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        self.correct = correct

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                st["t"] = st.get("t", 0) + 1
                m = st.setdefault("m", torch.zeros_like(p))
                v = st.setdefault("v", torch.zeros_like(p))
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                mh = m / (1 - b1 ** st["t"]) if self.correct else m
                vh = v / (1 - b2 ** st["t"]) if self.correct else v
                p.addcdiv_(mh, vh.sqrt() + group["eps"], value=-group["lr"])


def subclass(cls, **fixed):
    return type(cls.__name__, (cls,), {"__init__": lambda self, params, **kw: cls.__init__(self, params, **kw, **fixed)})


def test_optimizer_references_pass():
    assert ex.check_momentum(Momentum, verbose=False)
    assert ex.check_rmsprop(RMSProp, verbose=False)
    assert ex.check_adam(Adam, verbose=False)


@pytest.mark.parametrize("check,cls,frag", [
    (ex.check_momentum, subclass(Momentum, sign=-1.0), "wrong sign"),
    (ex.check_momentum, subclass(Momentum, ema=True), "EMA form"),
    (ex.check_rmsprop, subclass(RMSProp, eps_inside=True), "outside the square root"),
    (ex.check_adam, subclass(Adam, correct=False), "no bias correction"),
])
def test_optimizer_mistakes(check, cls, frag):
    assert_fails_with(check(cls, verbose=False), frag)


def test_optimizer_without_no_grad_gets_hint():
    class NoNoGrad(Momentum):
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.sub_(group["lr"] * p.grad)

    assert_fails_with(ex.check_momentum(NoNoGrad, verbose=False), "torch.no_grad")


def test_optimizer_not_a_subclass():
    class Plain:
        def __init__(self, params, lr, momentum):
            self.params = [p for g in params for p in g["params"]]

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        def step(self):
            pass

    assert_fails_with(ex.check_momentum(Plain, verbose=False), "subclass")


def test_surfaces_and_trajectory():
    assert ex.pathological_curvature(torch.tensor(0.0), torch.tensor(0.0)).item() == pytest.approx(0.5)
    assert ex.steep_optima(torch.tensor(1.0), torch.tensor(-0.5)).item() < -3.9  # peak 1/(2π·0.04) ≈ 3.98
    pts = ex.surface_trajectory(ex.pathological_curvature, lambda p: torch.optim.Adam(p, lr=1.0), (5.0, 5.0), 100)
    assert pts.shape == (101, 2)
    f = lambda q: ex.pathological_curvature(torch.tensor(q[0]), torch.tensor(q[1])).item()  # noqa: E731
    assert f(pts[-1]) < f(pts[0]) - 0.5  # Adam gets down from the plateau


# ----------------------------------------------------------------------------- 04 schedules
def test_schedule_lrs_exponential_matches_closed_form():
    lrs = ex.schedule_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), epochs=21, lr=1.0)
    assert lrs[10] == pytest.approx(0.9 ** 10)  # 35 % after 10 epochs
    assert lrs[20] == pytest.approx(0.9 ** 20)  # 12 % after 20
    for name, make in ex.SCHEDULES.items():
        out = ex.schedule_lrs(lambda o: make(o, ex_sched._SCHED_DEFAULTS), epochs=50)
        assert out.shape == (50,) and (out >= 0).all(), name


# ----------------------------------------------------------------------------- 05 regularization
def mc_ok(model, x, n_samples=50):
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()
    with torch.no_grad():
        p = torch.stack([F.softmax(model(x), -1) for _ in range(n_samples)])
    model.eval()
    return p.mean(0), p.std(0)


def mc_whole_train(model, x, n_samples=50):
    model.train()
    with torch.no_grad():
        p = torch.stack([F.softmax(model(x), -1) for _ in range(n_samples)])
    model.eval()
    return p.mean(0), p.std(0)


def mc_eval(model, x, n_samples=50):
    model.eval()
    with torch.no_grad():
        p = torch.stack([F.softmax(model(x), -1) for _ in range(n_samples)])
    return p.mean(0), p.std(0)


def mc_logits(model, x, n_samples=50):
    model.eval()
    model[3].train()
    with torch.no_grad():
        p = torch.stack([model(x) for _ in range(n_samples)])
    model.eval()
    return p.mean(0), p.std(0)


@pytest.mark.parametrize("fn,frag", [(mc_whole_train, "batch-norm"), (mc_eval, "dropout was off"),
                                     (mc_logits, "softmax")])
def test_mc_dropout(fn, frag):
    assert ex.check_mc_dropout(mc_ok, verbose=False)
    assert ex.check_mc_dropout(lambda m, x, n: ex.mc_dropout_predict_reference(m, x, n), verbose=False)
    assert_fails_with(ex.check_mc_dropout(fn, verbose=False), frag)


def test_l2_penalty():
    ok = lambda params, lam: lam / 2 * sum((w ** 2).sum() for w in params)  # noqa: E731
    assert ex.check_l2_penalty(ok, verbose=False)
    assert_fails_with(ex.check_l2_penalty(lambda ps, lam: lam * sum((w ** 2).sum() for w in ps), verbose=False), "½")
    assert_fails_with(ex.check_l2_penalty(lambda ps, lam: lam / 2 * sum(w.norm() for w in ps), verbose=False), "square")
    assert_fails_with(ex.check_l2_penalty(lambda ps, lam: torch.tensor(
        lam / 2 * sum((w ** 2).sum().item() for w in ps), dtype=torch.float64), verbose=False), "detached")


def test_l2_vs_decay_table_shows_the_difference():
    ok = lambda params, lam: lam / 2 * sum((w ** 2).sum() for w in params)  # noqa: E731
    df = ex.compare_l2_and_decay(ok)
    d = dict(zip(df["regularisation"] + "|" + df["optimizer"], df["‖w − w(ℓ2 in loss)‖"]))
    assert d["SGD(weight_decay=λ)|SGD"] < 1e-10       # identical under SGD
    assert d["Adam(weight_decay=λ)|Adam"] < 1e-10     # Adam's weight_decay *is* the ℓ2 penalty
    assert d["AdamW(weight_decay=λ)|Adam"] > 1e-2     # decoupled decay is a different update


def test_check_choice():
    assert ex.check_choice("adam_l2", "a", verbose=False)
    assert not ex.check_choice("adam_l2", "b", verbose=False)
    assert ex.check_choice("adam_l2", None, verbose=False).status == "not yet"
    with pytest.raises(ValueError, match="Unknown question"):
        ex.check_choice("nope", "a")


# ----------------------------------------------------------------------------- 06 questions
def test_questions(capsys):
    assert len(ex.QUESTIONS) == 8
    with pytest.raises(ValueError, match="numbered 1 to 8"):
        ex.show_answer(9)


# ----------------------------------------------------------------------------- 07 capstone
def build(act=nn.SiLU, init="he", bn=False, alpha=0.0):
    def f(seed):
        torch.manual_seed(seed)
        layers = [nn.Flatten()]
        d = 784
        for _ in range(20):
            lin = nn.Linear(d, 100)
            if init == "he":
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            elif init == "lecun":
                nn.init.normal_(lin.weight, 0, 1 / math.sqrt(d))
            nn.init.zeros_(lin.bias)
            layers += [lin] + ([nn.BatchNorm1d(100)] if bn else []) + [act()]
            if alpha:
                layers.append(nn.AlphaDropout(alpha))
            d = 100
        layers.append(nn.Linear(100, 10))
        return nn.Sequential(*layers)
    return f


def test_capstone_model_check():
    assert ex.check_capstone_model(build(), "silu_he", verbose=False)
    assert ex.check_capstone_model(build(bn=True), "bn", verbose=False)
    assert ex.check_capstone_model(build(nn.SELU, "lecun"), "selu_lecun", verbose=False)
    assert ex.check_capstone_model(build(nn.SELU, "lecun", alpha=0.1), "alpha_dropout", verbose=False)
    assert_fails_with(ex.check_capstone_model(build(init="default"), "silu_he", verbose=False), "default init")
    assert_fails_with(ex.check_capstone_model(build(nn.SELU, "he"), "selu_lecun", verbose=False), "LeCun")
    assert_fails_with(ex.check_capstone_model(build(nn.SELU, "lecun", bn=True), "selu_lecun", verbose=False),
                      "no batch norm")
    assert ex.check_capstone_model(todo, "bn", verbose=False).status == "not yet"
    with pytest.raises(ValueError, match="variant"):
        ex.check_capstone_model(build(), "nope")


def test_capstone_table_handles_missing_runs():
    df = ex.capstone_table({"a": None})
    assert df.loc["a", "note"] == "not run yet"


def test_an_exception_points_at_the_learners_line_not_the_graders():
    def leaky_relu(x, negative_slope=0.01):
        return x.clamp(min=0) + negative_slope * undefined_name  # noqa: F821  (the learner's bug)

    res = ex.check_leaky_relu(leaky_relu, verbose=False)
    assert res.status == "fail" and "NameError" in res.message
    assert "raised at line" in res.message and "undefined_name" in res.message


def test_every_name_the_notebooks_use_is_exported():
    """The notebooks and exercise pages reach the graders as `exercises.<name>`."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    used = set()
    for f in [*root.glob("book/exercises/*.md"), root / "exercises" / "build_notebooks.py"]:
        used |= set(re.findall(r"\bexercises\.([A-Za-z_]\w*)\b(?!\*)", f.read_text(encoding="utf8")))
    assert used, "no uses found: has the layout of the notebooks changed?"
    missing = sorted(n for n in used if n not in ex.__all__)
    assert not missing, f"used by the notebooks but not in course_utils.exercises.__all__: {missing}"
