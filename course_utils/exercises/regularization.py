"""Exercises 05 — regularization: MC dropout, the l2 penalty vs weight decay under Adam, multiple-choice checks."""
from __future__ import annotations

import math
import numbers
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._core import (_NO_DEFAULT, _signature_report, CheckResult, FAIL, PASS, TODO, _NUMPY_HINT, _describe, _fmt, _is_numpy, _not_a_function,
                    _not_callable, _not_yet, _one_thread, _raised, _report, _say)
from ._core import _blank, _frozen, _graded, _one_item


def mc_dropout_predict_reference(model: nn.Module, x: torch.Tensor, n_samples: int = 50):
    """Reference MC dropout: dropout on, everything else in eval mode; mean and std of softmax outputs."""
    if not (isinstance(n_samples, int) and n_samples >= 2):
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}.")
    was = model.training
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):  # every dropout kind
            m.train()
    with torch.no_grad():
        probs = torch.stack([F.softmax(model(x), dim=-1) for _ in range(n_samples)])  # (S, N, C)
    model.train(was)
    return probs.mean(0), probs.std(0)


def predictive_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each row of class probabilities ``(N, C) -> (N,)``."""
    return -(probs * probs.clamp_min(1e-12).log()).sum(-1)


def _mc_model():
    """Linear–ReLU–BatchNorm–Dropout(0.5)–Linear in eval mode, BN with non-trivial running statistics.

    The last layer is scaled up (×5) so that the logits vary a lot from pass to pass: then the average of
    the softmaxes (MC dropout) and the softmax of the average logits (≈ the deterministic eval-mode
    prediction) differ by about 0.2, far more than the sampling noise of a 400-pass estimate (≈ 0.02).
    """
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.BatchNorm1d(64), nn.Dropout(0.5), nn.Linear(64, 5))
    with torch.no_grad():
        model[2].running_mean.uniform_(-0.5, 0.5)
        model[2].running_var.uniform_(0.5, 2.0)
        model[4].weight.mul_(5.0)
        model[4].bias.mul_(5.0)
    model.eval()
    x = torch.randn(32, 20, generator=torch.Generator().manual_seed(1))
    return model, x


def _mc_model_2():
    """A second layout (two dropout layers at other positions, batch norm between them)."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(12, 48), nn.Tanh(), nn.Dropout(0.3), nn.Linear(48, 48), nn.BatchNorm1d(48),
                          nn.ReLU(), nn.Dropout(0.5), nn.Linear(48, 4))
    with torch.no_grad():
        model[4].running_mean.uniform_(-0.3, 0.3)
        model[4].running_var.uniform_(0.5, 1.5)
        model[7].weight.mul_(4.0)
    model.eval()
    x = torch.randn(24, 12, generator=torch.Generator().manual_seed(2))
    return model, x


def _mc_model_3():
    """A third layout: a nested block (Sequential inside Sequential) holding nn.Dropout, and an nn.AlphaDropout
    (the capstone's) after SELU: a function that looks only at the top-level children, or only at the exact
    class nn.Dropout, leaves one of them off."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Sequential(nn.Linear(10, 40), nn.ReLU(), nn.Dropout(0.4)), nn.Linear(40, 40),
                          nn.SELU(), nn.AlphaDropout(0.3), nn.Linear(40, 4))
    with torch.no_grad():
        model[4].weight.mul_(4.0)
    model.eval()
    x = torch.randn(20, 10, generator=torch.Generator().manual_seed(3))
    return model, x


_MC_SAMPLES, _MC_REFERENCE = 400, 4000


def _bn_state(model):
    return [(m.running_mean.clone(), m.running_var.clone()) for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)]


_MC_REF_CACHE: dict = {}


def _mc_reference(build, x):
    """The seeded reference MC estimate on a fresh copy of ``build()``'s net (computed once per net)."""
    if build not in _MC_REF_CACHE:
        old = torch.get_default_dtype()
        torch.set_default_dtype(torch.float32)  # (a learner's set_default_dtype must not enter the cached reference)
        try:
            model, x0 = build()
            torch.manual_seed(7)
            with _one_thread():
                _MC_REF_CACHE[build] = tuple(t.double() for t in mc_dropout_predict_reference(model, x0,
                                                                                             _MC_REFERENCE))
        finally:
            torch.set_default_dtype(old)
    return _MC_REF_CACHE[build]


def _module_settings(model) -> dict:
    """``{(module name, attribute): value}`` of every module's plain settings (numbers, flags, strings, tuples:
    a dropout's p, a batch norm's momentum and eps), not its mode (``training``) or private state."""
    out = {}
    for n, m in model.named_modules():
        for k, v in vars(m).items():
            if not k.startswith("_") and k != "training" and isinstance(v, (bool, int, float, str, tuple, type(None))):
                out[(n, k)] = v
    return out


def _mc_problem(fn, build, S):
    """None when ``fn`` is right on the net ``build()`` makes, else the keyword arguments of a failure report.

    The checker's own computations use a fresh copy of the net (``build()`` again), never the one the
    learner's function received, so a function that changes the model (its dtype, device, mode, weights)
    is reported instead of breaking the checker."""
    model, x = build()
    x_given = x.clone()
    N, C = x.shape[0], model[-1].out_features
    bn_before = _bn_state(model)
    params_before = [p.detach().clone() for p in model.parameters()]
    grad_before = [p.requires_grad for p in model.parameters()]
    tree_before = [(n, type(m), id(m), len(m._forward_hooks), len(m._forward_pre_hooks))
                   for n, m in model.named_modules()]
    settings_before = _module_settings(model)
    dropout_on = []  # the training flag of the model's dropout layers at each of their calls
    ever_on = {}  # name of each dropout module -> whether it ran in train mode at least once
    names = {id(m): n for n, m in model.named_modules()}
    def seen(m, i, o):  # (returns None: a forward hook that returns a value replaces the module's output)
        dropout_on.append(m.training)
        n = names.get(id(m), "?")
        ever_on[n] = ever_on.get(n, False) or m.training

    hooks = [m.register_forward_hook(seen) for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    rows = []  # the rows of every batch through the first layer: n passes of x, stacked or one by one, give n·N
    hooks.append(model[0].register_forward_hook(lambda m, i, o: rows.append(i[0].shape[0] if i and isinstance(
        i[0], torch.Tensor) and i[0].dim() > 0 else 0)))
    torch.manual_seed(123)
    dtype = torch.get_default_dtype()
    try:
        with _one_thread():
            out = fn(model, x, S)
    except NotImplementedError:
        raise
    except Exception as e:
        return dict(raised=e)
    finally:
        for h in hooks:
            h.remove()
    if torch.get_default_dtype() != dtype or not torch.is_grad_enabled():  # (named by the wrapper)
        return dict(headline="your function changed a global torch setting.")
    if isinstance(out, torch.Tensor):
        shape = tuple(out.shape)
        return dict(headline=f"expected a pair (mean_probs, std_probs), got one tensor of shape {shape}.",
                    hint=("that is every pass stacked: reduce it over the passes to a mean and a spread, and "
                          "return the two." if shape == (S, N, C) else
                          "return two tensors: the mean probabilities and their spread across the passes."))
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
        numpy = _is_numpy(out) or (isinstance(out, (tuple, list)) and any(_is_numpy(t) for t in out))
        items = ""
        if isinstance(out, (tuple, list)) and 0 < len(out) <= 3 and not numpy:
            items = " (" + " and ".join(_describe(t) for t in out) + ")"
        lists = (isinstance(out, (tuple, list)) and len(out) == 2
                 and all(isinstance(t, (list, tuple, numbers.Number)) for t in out))
        return dict(headline="expected a pair (mean_probs, std_probs) of tensors.",
                    got=_describe(out) + (" (some of them NumPy arrays)" if numpy and "NumPy" not in _describe(out)
                                          else items),
                    hint=_NUMPY_HINT if numpy else
                    "the pair holds Python values, not tensors: keep the mean and the spread as the torch "
                    "tensors you computed (no `.tolist()` or `.item()`), so the caller can index and reduce them."
                    if lists else
                    "return two tensors: the mean probabilities and their spread across the passes.")
    if not torch.equal(x, x_given):
        return dict(headline="your function changed the input batch `x` in place.",
                    hint="the caller still needs x: build new tensors instead of in-place operations on x.")
    now = [(p.dtype, p.device) for p in model.parameters()]
    was = [(q.dtype, q.device) for q in params_before]
    changed = ["dtype" if a[0] != b[0] else "device" for a, b in zip(now, was) if a != b]
    if changed:
        return dict(headline=f"your function changed the model's {changed[0]} (e.g. `model.double()`).",
                    hint="`model.double()`, `.float()` and `.to(...)` convert the caller's model in place, and "
                         "every later use of it breaks: leave the model as it is (convert a copy of x if you "
                         "must).")
    tree_now = [(n, type(m), id(m), len(m._forward_hooks), len(m._forward_pre_hooks))
                for n, m in model.named_modules()]
    if tree_now != tree_before:
        swapped = next(((a, b) for a, b in zip(tree_before, tree_now) if a != b), None)
        what = (f"module `{swapped[0][0] or 'the model'}` was a {swapped[0][1].__name__}, now a {swapped[1][1].__name__}"
                if swapped and swapped[0][0] == swapped[1][0] and swapped[0][1] is not swapped[1][1] else
                "modules replaced, added or removed, or hooks left registered")
        return dict(headline="your function changed the caller's model itself, not only its modes: " + what + ".",
                    got="the module tree after the call differs from the one before",
                    hint="MC dropout must leave the model as it found it: an always-on dropout swapped in (or a "
                         "hook left behind) keeps the network random in eval mode for every later evaluation. "
                         "Switch the existing dropout modules to train mode (`m.train()`), run the passes, then "
                         "`model.eval()`; remove any hook you registered.")
    if any(not torch.equal(p.detach(), q) for p, q in zip(model.parameters(), params_before)):
        return dict(headline="your function changed the model's weights.",
                    hint="MC dropout only runs the model: no optimizer step, no in-place change of a parameter.")
    settings_now = _module_settings(model)
    moved = [(k, v, settings_now.get(k)) for k, v in settings_before.items() if settings_now.get(k) != v]
    if moved:
        (where, attr), was, now = moved[0]
        more = f" (and {len(moved) - 1} more)" if len(moved) > 1 else ""
        return dict(headline=f"your function changed a setting of the caller's model and left it so: "
                             f"`{where or 'model'}.{attr}` was {was!r}, now {now!r}{more}.",
                    hint="MC dropout changes only the modes of the dropout modules (and gives them back): a "
                         "changed hyper-parameter (a batch-norm momentum or eps, a dropout rate) stays with the "
                         "model for every later training and evaluation. Leave the modules' settings as they "
                         "are.")
    frozen = sum(a and not p.requires_grad for a, p in zip(grad_before, model.parameters()))
    if frozen:
        return dict(headline=f"your function switched off `requires_grad` of {frozen} of the model's "
                             f"{len(grad_before)} parameter tensors, and left them so.",
                    hint="the caller's network can then no longer be trained (no gradient reaches those "
                         "weights). `with torch.no_grad():` around the passes is all MC dropout needs: it "
                         "records no graph and changes nothing on the model.")
    if any(t.requires_grad or t.grad_fn is not None for t in out):
        return dict(headline="the outputs require grad: they hold the autograd graph of every pass.",
                    hint="wrap the stochastic passes in `with torch.no_grad():`, as the task asks; without it "
                         "each pass keeps its graph (memory grows with n_samples) for a gradient nobody "
                         "takes.")
    whole = [(n, t) for n, t in zip(("mean", "std"), out) if not (t.is_floating_point() or t.is_complex())]
    if whole:  # labels (argmax), counts or booleans: no cast, another quantity
        n, t = whole[0]
        kind = "booleans" if t.dtype == torch.bool else "whole numbers"
        labels = n == "mean" and tuple(t.shape) == (N,)
        return dict(headline=f"the {n} is a tensor of {kind} ({str(t.dtype).replace('torch.', '')}) of shape "
                             f"{tuple(t.shape)}, not probabilities of shape ({N}, {C}).",
                    hint=("that looks like one class label per input (an `argmax`): the task asks for the "
                          "averaged probability of every class, one row per input and one column per "
                          "class." if labels else
                          "the mean and the spread are probabilities and their standard deviation, numbers "
                          "between 0 and 1, one per input and class: return them before any rounding, argmax or "
                          "comparison."))
    cast = [(n, t.dtype) for n, t in zip(("mean", "std"), out) if t.dtype != x.dtype]
    if cast:
        return dict(headline=f"the {cast[0][0]} comes back as {str(cast[0][1]).replace('torch.', '')}, but the "
                             f"model and x are {str(x.dtype).replace('torch.', '')}.",
                    got=", ".join(f"{n}: {d}" for n, d in cast),
                    hint="return the probabilities in the dtype the model computes them in: no `.double()`, "
                         "`.float()` or `.to(...)` on the results (a float64 copy doubles their memory and "
                         "meets float32 tensors downstream).")
    mean, std = (t.detach().double() for t in out)
    if mean.shape != (N, C) or std.shape != (N, C):
        def reading(shape):
            return ("one value per input: the class dimension was reduced away" if shape == (N,) else
                    "one value per class: the inputs were averaged together" if shape == (C,) else
                    "one value per pass and input: the classes were reduced instead of the passes"
                    if shape == (S, N) else
                    "every pass, not reduced over the passes" if shape == (S, N, C) else
                    "a single number" if shape == () else None)
        wrong = [(n, tuple(t.shape)) for n, t in (("mean", mean), ("std", std)) if tuple(t.shape) != (N, C)]
        said = [f"the {n}'s shape {sh} is {reading(sh)}" for n, sh in wrong if reading(sh)]
        return dict(headline="wrong shapes.", expected=f"({N}, {C}) and ({N}, {C})",
                    got=f"{tuple(mean.shape)} and {tuple(std.shape)}",
                    hint=("; ".join(said) + ". Both results keep one row per input and one column per class: "
                          "reduce over the passes only.") if said else
                    "both results have one row per input and one column per class, (N, C): reduce the stacked "
                    "passes over the pass dimension only.")
    passes = sum(rows) / N
    if rows and passes < S:  # (an extra pass, e.g. one to read the number of classes, is left alone)
        return dict(headline=f"your function passed x through the network {passes:g} time"
                             f"{'' if passes == 1 else 's'}; n_samples={S} asks for {S} stochastic passes.",
                    hint="run n_samples stochastic forward passes (`for _ in range(n_samples)`: no pass left "
                         "out) and average over all of them.")
    if any(not (torch.equal(a, c) and torch.equal(b, d)) for (a, b), (c, d) in zip(bn_before, _bn_state(model))):
        return dict(headline="the batch-norm running statistics changed.",
                    hint="`model.train()` also puts batch norm in training mode (batch statistics, running "
                         "averages updated). Keep the model in eval mode and switch only the Dropout modules "
                         "to train mode.")
    if any(m.training for m in model.modules()):
        return dict(headline="the model (or one of its dropout layers) was left in training mode.",
                    hint="call `model.eval()` before returning, so later evaluations are deterministic.")
    ones = torch.ones(N, dtype=torch.float64)
    if not torch.allclose(mean.sum(-1), ones, atol=1e-4):
        if torch.allclose(std.sum(-1), ones, atol=1e-4):
            return dict(headline="the two results are swapped.", hint="return the mean first, then the spread.")
        return dict(headline="the mean predictions are not probabilities (rows do not sum to 1).",
                    got=f"row sums {_fmt(mean.sum(-1))}",
                    hint="apply softmax to each pass, then average the probabilities.")
    fresh, x_fresh = build()
    with torch.no_grad():
        p_eval = F.softmax(fresh(x_fresh), -1).double()
    if std.max() < 1e-6 or torch.allclose(mean, p_eval, atol=1e-6):
        if not torch.allclose(mean, p_eval, atol=1e-4):  # dropout was on, but every pass drew the same mask
            return dict(headline="all passes gave the same prediction, and it is not the eval-mode one: every "
                                 "pass used the same dropout mask.", got=f"max std {std.max().item():.2g}",
                        hint="did you seed the random generator inside the loop (`torch.manual_seed` before "
                             "each pass)? Each pass must draw a new mask: seed at most once, outside the function (the caller seeds).")
        return dict(headline="all passes gave the same prediction — dropout was off.",
                    got=f"max std {std.max().item():.2g}", key="dropout off",
                    hint="in eval mode nn.Dropout does nothing; switch the Dropout modules to train mode "
                         "inside the function.")
    if dropout_on and not any(dropout_on):
        return dict(headline="the passes differ, but the model's own dropout layers never switched on: every "
                             "call of them ran in eval mode.",
                    got=f"max std {std.max().item():.2g}, from randomness that does not come from the dropout "
                        "modules in train mode (F.dropout on the input x, a forward hook, a replaced forward or "
                        "class?)",
                    hint="MC dropout samples the network's *own* dropout masks the standard way: keep the model "
                         "in eval mode, put only its dropout modules in train mode (`m.train()` for each), run "
                         "the passes on x as it is, and call `model.eval()` at the end. (Noise added to x, or "
                         "through hooks or swapped classes, is not what the task asks for.)")
    never = [n for n, on in ever_on.items() if not on]
    if any(dropout_on) and never:
        kinds = sorted({type(dict(model.named_modules())[n]).__name__ for n in never if n in
                        dict(model.named_modules())})
        return dict(headline=f"some of the model's dropout layers never switched on: module "
                             f"{', '.join('`' + n + '`' for n in never)} "
                             f"({', '.join('nn.' + k for k in kinds)}) ran in eval mode in every pass.",
                    key="some dropout off",
                    hint="switch on every dropout module, at any depth and of any kind: go over `model.modules()` "
                         "and test `isinstance(m, nn.modules.dropout._DropoutNd)`, torch's common base class of "
                         "every dropout kind (Dropout, Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout).")
    ref_mean, ref_std = _mc_reference(build, x)
    # per entry: five standard errors of the difference of two Monte-Carlo means, plus a little slack
    tol = 5 * ref_std * math.sqrt(1 / S + 1 / _MC_REFERENCE) + 2e-3
    off = (mean - ref_mean).abs()
    if (off > tol).any():
        if (mean - p_eval).abs().max() < 0.5 * off.max():
            return dict(headline="the mean is the prediction of the deterministic network, not the MC average.",
                        hint="you averaged the logits and applied softmax once (or used one eval-mode pass): "
                             "softmax(mean of logits) ≈ the eval-mode prediction. MC dropout applies softmax to "
                             "*each* pass and then averages the probabilities.")
        return dict(headline="the mean prediction is far from the reference MC estimate.", got=_fmt(mean[0]),
                    hint="average softmax outputs over n_samples stochastic passes with only dropout active.")
    if std.max() > 0.5 + 1e-6:
        return dict(headline="the spread is larger than probabilities can spread (> 0.5).",
                    got=f"max std {std.max().item():.3g}",
                    hint="take the standard deviation of the per-pass *probabilities* (after softmax), not of "
                         "the logits.")
    if (std - ref_std).abs().max() > 0.25 * ref_std.max().item():
        if (std - ref_std ** 2).abs().max() < 0.25 * (ref_std ** 2).max().item():
            return dict(headline="that is the variance across passes, not the standard deviation.",
                        hint="the spread asked for is in the units of the probabilities themselves.")
        return dict(headline="the spread across passes is off.", got=_fmt(std[0]),
                    hint="return the standard deviation of the per-pass probabilities over the passes (dim 0).")
    return None


def _mc_call_problem(fn, S) -> dict | None:
    """What the graded calls (every argument given, the generator seeded by the checker) cannot see: a function
    that seeds torch's global generator itself (every call then returns the same 'random' estimate, and the
    caller's generator is reset), and the stub's default ``n_samples=50`` changed."""
    import inspect

    model, x = _mc_model()
    N = x.shape[0]
    outs = []
    case = f"two calls on the first net, the global generator seeded differently before each, n_samples={S}"
    try:
        for seed in (11, 12):
            torch.manual_seed(seed)
            with torch.no_grad():
                outs.append(fn(model, x, S)[0].detach().clone())
            model.eval()
    except Exception as e:
        return dict(raised=e, case=case)
    if torch.equal(outs[0], outs[1]):
        return dict(headline="two calls give exactly the same estimate whatever torch's global seed is: your "
                             "function seeds the generator itself.", case=case,
                    hint="remove `torch.manual_seed(...)` from the function: it resets the caller's generator "
                         "(everything random after it repeats) and turns a Monte-Carlo estimate into one fixed "
                         "draw. Seed once, outside, if you want a repeatable notebook.")
    try:
        default = inspect.signature(fn).parameters.get("n_samples")
    except (TypeError, ValueError):
        default = None
    if default is not None and default.default is not default.empty and default.default != 50:
        return dict(headline=f"your function changed the stub's default: n_samples={default.default!r} (the "
                             "stub's: 50).", case="`mc_dropout_predict(model, x)`, n_samples left out",
                    hint="keep the stub's signature, `n_samples=50`: code that leaves it out gets the default.")
    rows = []
    hook = model[0].register_forward_hook(lambda m, i, o: rows.append(i[0].shape[0] if i and isinstance(
        i[0], torch.Tensor) and i[0].dim() > 0 else 0))
    dcase = "`mc_dropout_predict(model, x)`, n_samples left out"
    try:
        with torch.no_grad():
            fn(model, x)
    except TypeError:
        return None  # no default at all: leaving it out fails loudly, not silently
    except Exception as e:
        return dict(raised=e, case=dcase)
    finally:
        hook.remove()
        model.eval()
    passes = sum(rows) / N
    if rows and not 50 <= passes <= 51:
        return dict(headline=f"called without n_samples, your function made {passes:g} passes, not the stub's "
                             "default 50.", case=dcase,
                    hint="keep the stub's signature and loop `for _ in range(n_samples)`, with no number written "
                         "into the body.")
    return None


@_graded('check_mc_dropout(mc_dropout_predict)', name="mc_dropout_predict")
def check_mc_dropout(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``mc_dropout_predict(model, x, n_samples)`` -> (mean probs, std probs) on two nets with dropout and BN.

    The mean must agree with a 4000-pass reference (average of the softmaxes) entry by entry within five
    standard errors — a tolerance well below the gap between MC dropout and the softmax of the mean logits,
    which is recognised and named.  The second net has its dropout layers at other positions.
    """
    name = "mc_dropout_predict"
    if _not_a_function(fn):
        return _not_callable(name, fn, "a function mc_dropout_predict(model, x, n_samples=50)", verbose)
    bad = _signature_report(name, fn, "mc_dropout_predict", [("model", _NO_DEFAULT), ("x", _NO_DEFAULT),
                                                             ("n_samples", 50)], verbose)
    if bad is not None:
        return bad
    S = _MC_SAMPLES
    nets = [(_mc_model, "a Linear–ReLU–BatchNorm–Dropout(0.5)–Linear net in eval mode"),
            (_mc_model_2, "a second net, Linear–Tanh–Dropout(0.3)–Linear–BatchNorm–ReLU–Dropout(0.5)–Linear, "
                            "in eval mode"),
            (_mc_model_3, "a third net, Sequential(Linear–ReLU–Dropout(0.4)) nested, then Linear–SELU–"
                            "AlphaDropout(0.3)–Linear, in eval mode")]
    for k, (build, desc) in enumerate(nets):
        case = f"{desc}, x of shape {tuple(build()[1].shape)}, n_samples={S}"
        try:
            bad = _mc_problem(fn, build, S)
        except NotImplementedError:
            return _not_yet(name, "mc_dropout_predict", verbose)
        except Exception as e:  # the checker could not use what the function returned
            return _raised(name, e, verbose, case)
        if bad is None:
            continue
        if "raised" in bad:
            return _raised(name, bad["raised"], verbose, case)
        key = bad.get("key")
        if k == 2 and key in ("dropout off", "some dropout off"):
            bad["hint"] = ("your function works on the first two nets but not on this one, whose dropout layers "
                           "are an nn.Dropout inside a nested block and an nn.AlphaDropout: go over "
                           "`model.modules()` (every module at any depth, not `model.children()`) and switch on "
                           "every dropout kind, `isinstance(m, nn.modules.dropout._DropoutNd)` (not `type(m) is "
                           "nn.Dropout`).")
        elif k > 0 and key == "dropout off":
            bad["hint"] = ("your function works on the first net but not on this one, whose Dropout layers sit "
                           "elsewhere: don't address layers by index (`model[3]`); find every dropout "
                           "module by its type, wherever it sits.")
        bad.pop("key", None)
        return _report(name, FAIL, bad.pop("headline"), case=case, verbose=verbose, **bad)
    bad = _mc_call_problem(fn, S)
    if bad:
        if "raised" in bad:
            return _raised(name, bad["raised"], verbose, bad["case"])
        return _report(name, FAIL, bad.pop("headline"), verbose=verbose, **bad)
    return _report(name, PASS, f"correct — dropout on, batch norm untouched, mean and spread agree with a "
                   f"{_MC_REFERENCE}-pass reference on three networks.", verbose=verbose)


@_graded('check_l2_penalty(l2_penalty)')
def check_l2_penalty(fn: Callable, *, verbose: bool = True) -> CheckResult:
    """Grade ``l2_penalty(params, lam)`` = λ/2·Σ‖w‖² (so its gradient is λ·w, what ``weight_decay=λ`` adds)."""
    name = "l2_penalty"
    if _not_a_function(fn):
        return _not_callable(name, fn, "a function l2_penalty(params, lam)", verbose)
    bad = _signature_report(name, fn, "l2_penalty", [("params", _NO_DEFAULT), ("lam", _NO_DEFAULT)], verbose)
    if bad is not None:
        return bad
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_(),
          torch.randn(5, generator=g, dtype=torch.float64).requires_grad_()]
    lam = 0.3
    case = f"two tensors of shapes (3, 4) and (5,), lam={lam}"
    before = [w.detach().clone() for w in ws]
    try:
        pen = fn(ws, lam)
    except NotImplementedError:
        return _not_yet(name, "l2_penalty", verbose)
    except Exception as e:
        in_place = "in-place operation" in str(e)
        return _raised(name, e, verbose, case, **({"hint": (
            "don't modify the parameters in place: a method ending in `_` (`pow_`, `mul_`, `abs_`) overwrites "
            "the weights themselves (pow_ squares them); compute a new tensor instead, e.g. `p ** 2`.")}
            if in_place else {}))
    frozen = _frozen([(f"params[{i}]", w) for i, w in enumerate(ws)])
    if frozen:
        return _report(name, FAIL, frozen["headline"], case=case, hint=frozen["hint"], verbose=verbose)
    if any(not torch.equal(w.detach(), b) for w, b in zip(ws, before)):
        return _report(name, FAIL, "your function changed the parameters in place.", case=case,
                       hint="the penalty only reads the weights: the optimizer changes them later, from its "
                            "gradient. Remove the in-place operation (a method ending in `_` such as `mul_`, "
                            "`.data` assignments, `-=` under `torch.no_grad()`) and compute a new tensor from "
                            "each parameter instead.", verbose=verbose)
    if not (isinstance(pen, torch.Tensor) and pen.dim() == 0):
        if isinstance(pen, torch.Tensor) and pen.numel() == 1:
            return _report(name, FAIL, f"expected a scalar tensor (shape ()), got a tensor of shape "
                           f"{tuple(pen.shape)} holding one number.", case=case,
                           hint="a penalty added to the loss is a 0-dimensional tensor, one number with no "
                                "dimension at all. Where does your length-1 dimension come from: a reduction "
                                "that keeps its dimension (`keepdim=True`), or a list the value was put in "
                                "before it became a tensor?", verbose=verbose)
        got = _describe(pen)  # what it is, with its values where there are a few
        if isinstance(pen, torch.Tensor):
            got = f"{got}: {_fmt(pen)}"
        elif isinstance(pen, numbers.Real) and not isinstance(pen, bool):
            got = f"the number {float(pen):.4g} (a Python/NumPy number, not a tensor)"
        return _report(name, FAIL, "expected a scalar tensor.", case=case, got=got,
                       hint="add up one number per parameter tensor into a single scalar tensor (not a list, "
                            "not a Python float).", verbose=verbose)
    if pen.dtype != ws[0].dtype and pen.requires_grad:  # (a detached penalty is told so first, below)
        return _report(name, FAIL, f"the penalty is {str(pen.dtype).replace('torch.', '')}, but the parameters "
                       f"are {str(ws[0].dtype).replace('torch.', '')}.", case=case,
                       hint="keep the penalty in the parameters' dtype, as the task asks: compute it from the "
                            "parameters themselves, with no `.float()`/`.double()` cast and no accumulator "
                            "made in another dtype (such as `torch.tensor(0.)` added to in place).",
                       verbose=verbose)
    want = lam / 2 * sum((w.detach() ** 2).sum() for w in ws)
    sq = sum((w.detach() ** 2).sum() for w in ws)
    if not torch.allclose(pen.detach().double(), want):
        v = pen.detach().double().item()
        hint = ("the ½ is missing: with λ/2·‖w‖² the gradient is exactly λ·w, the term weight_decay=λ adds."
                if math.isclose(v, lam * sq.item(), rel_tol=1e-9) else
                "square the norm: ‖w‖² = Σ w², not ‖w‖." if math.isclose(
                    v, lam / 2 * sum(w.detach().norm() for w in ws).item(), rel_tol=1e-9) else
                "that is ℓ1 (Σ|w|); ℓ2 uses squares." if math.isclose(
                    v, lam / 2 * sum(w.detach().abs().sum() for w in ws).item(), rel_tol=1e-9) else
                "λ/2 times the sum of squares of every entry of every parameter.")
        return _report(name, FAIL, "the penalty value is off.", case=case, expected=f"{want.item():.6g}",
                       got=f"{v:.6g}", hint=hint, verbose=verbose)
    if not pen.requires_grad:
        return _report(name, FAIL, "the penalty is detached from the parameters (no gradient flows).", case=case,
                       hint="don't use .item(), .detach() or torch.no_grad() inside the penalty.", verbose=verbose)
    grads = torch.autograd.grad(pen, ws)
    if not all(torch.allclose(gw, lam * w.detach()) for gw, w in zip(grads, ws)):
        return _report(name, FAIL, "the gradient of the penalty is not λ·w.", case=case,
                       hint="use differentiable torch operations on the parameters.", verbose=verbose)
    # the notebook passes model.parameters(), a generator that can be iterated only once
    gen_case = "the same tensors passed as a generator, as model.parameters() is"
    gen_hint = ("model.parameters() is a generator: it has no len() and cannot be indexed, and a second loop "
                "over it (after a first one) sees nothing. Go over `params` once, or make a list first: "
                "`params = list(params)`.")
    try:
        pen_gen = fn((w for w in ws), lam)
    except Exception as e:
        return _raised(name, e, verbose, gen_case, hint=gen_hint)
    if not (isinstance(pen_gen, torch.Tensor) and pen_gen.dim() == 0
            and torch.allclose(pen_gen.detach().double(), want)):
        return _report(name, FAIL, "right on a list, wrong on a generator.", case=gen_case,
                       expected=f"{want.item():.6g}",
                       got=f"{pen_gen.detach().double().item():.6g}" if isinstance(pen_gen, torch.Tensor)
                       and pen_gen.numel() == 1 else _describe(pen_gen),
                       hint=gen_hint, verbose=verbose)
    # other values of λ (a penalty that reads λ from a notebook variable, or hard-codes the first case's, fails)
    for lam2 in (0.05, 1.7):
        case2 = f"the same tensors, lam={lam2}"
        want2 = lam2 / 2 * sq
        try:
            pen2 = fn(list(ws), lam2)
            ok = (isinstance(pen2, torch.Tensor) and pen2.dim() == 0
                  and torch.allclose(pen2.detach().double(), want2))
            got2 = (f"{pen2.detach().double().item():.6g}" if isinstance(pen2, torch.Tensor) and pen2.numel() == 1
                    else _describe(pen2))
            if ok:
                grads2 = torch.autograd.grad(pen2, ws) if pen2.requires_grad else None
                ok = grads2 is not None and all(torch.allclose(gw, lam2 * w.detach()) for gw, w in zip(grads2, ws))
                got2 = "the right value, but a gradient other than λ·w"
        except Exception as e:
            return _raised(name, e, verbose, case2)
        if not ok:
            same = isinstance(pen2, torch.Tensor) and pen2.numel() == 1 and math.isclose(
                pen2.detach().double().item(), want.item(), rel_tol=1e-9)
            return _report(name, FAIL, f"right for lam={lam}, wrong for lam={lam2}.", case=case2,
                           expected=f"{want2.item():.6g}", got=got2,
                           hint=("your penalty gives the same value whatever `lam` is: use the argument `lam` "
                                 "itself, not a fixed number or a notebook variable such as `lam = 0.3`."
                                 if same else "the penalty must scale with the argument `lam`: λ/2·Σ‖w‖²."),
                           verbose=verbose)
    return _report(name, PASS, "correct — value λ/2·Σ‖w‖² and gradient λ·w (checked at three values of λ).",
                   verbose=verbose)


def compare_l2_and_decay(penalty_fn: Callable, *, lam: float = 0.1, lr: float = 0.01, steps: int = 200):
    """ℓ2 in the loss vs. the optimizer's decay, under SGD and Adam, on a small least-squares problem.

    The loss is the mean squared error, and "ℓ2 penalty in the loss" adds ``penalty_fn`` (λ/2·‖w‖²).  Adam's own
    ``weight_decay`` adds λ·w to the gradient (coupled: the same algorithm as the penalty); AdamW, and
    ``torch.optim.Adam(decoupled_weight_decay=True)`` where the installed torch has it, shrink the weights by
    1 − ηλ outside the adaptive step (decoupled; torch multiplies before adding the step).

    Returns a DataFrame: for each way of regularising, the distance of the final weights from "ℓ2 penalty in the
    loss" with the same optimizer, their distance from the minimum of the penalised loss (solved exactly: the
    loss is strictly convex, so an optimizer that converges on it ends there) and from the minimum of the
    unpenalised loss (least squares), the final weight norm and the largest weight.
    """
    import pandas as pd

    if not callable(penalty_fn):
        raise TypeError(f"penalty_fn must be your function l2_penalty(params, lam), got {_describe(penalty_fn)}.")
    what = f"`{getattr(penalty_fn, '__name__', 'l2_penalty')}`"
    if what == "`<lambda>`":
        what = "your penalty"
    try:
        probe = penalty_fn([torch.ones(2, dtype=torch.float64, requires_grad=True)], lam)
    except NotImplementedError:
        _say(TODO, f"not yet — {what} is still the TODO stub; fill it in above and run this cell again.")
        return None
    if probe is None:
        _say(FAIL, f"{what} returned None — did you forget the `return` statement? The comparison needs the "
             "penalty as a scalar tensor (run `exercises.check_l2_penalty` on it first).")
        return None
    if not (isinstance(probe, torch.Tensor) and probe.requires_grad):
        no_grad = " without a gradient" if isinstance(probe, torch.Tensor) else ""
        _say(FAIL, f"{what} returned {_describe(probe)}{no_grad}: a penalty made with `.item()`, `float(...)`, "
             "`torch.tensor(...)` or `.detach()` adds a constant to the loss and never moves the weights, so the table would compare nothing. Build it from "
             "torch operations on the parameters (check it with `exercises.check_l2_penalty`).")
        return None
    # the penalty's gradient must be λ·w, what weight_decay=λ adds: otherwise the table contradicts the answer
    w_probe = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    try:
        (grad,) = torch.autograd.grad(penalty_fn([w_probe], lam), [w_probe])
        ratio = (grad / (lam * w_probe.detach())).mean().item()
        right = torch.allclose(grad, lam * w_probe.detach(), rtol=1e-6, atol=1e-12)
    except Exception:
        right, ratio = True, 1.0  # check_l2_penalty names what is wrong; the table then shows it
    if not right:
        factor = (f" ({ratio:.3g} times λ·w: the ½ of λ/2·Σw² is missing)" if abs(ratio - 2) < 1e-6 else
                  f" ({ratio:.3g} times λ·w)" if math.isfinite(ratio) else "")
        _say(FAIL, f"{what} has the gradient{factor}, not λ·w, the term that weight_decay=λ adds to the "
             "gradient: the table would compare two different strengths and contradict the right answer. Fix it "
             "first (run `exercises.check_l2_penalty` on it).")
        return None
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 8, generator=g, dtype=torch.float64)
    X[:, :4] *= 5  # features on different scales, so Adam's per-coordinate scaling matters
    y = X @ torch.randn(8, generator=g, dtype=torch.float64) + 0.5 * torch.randn(64, generator=g, dtype=torch.float64)
    w0 = torch.randn(8, generator=g, dtype=torch.float64)

    def run(make_opt, with_penalty):
        w = w0.clone().requires_grad_()
        opt = make_opt([w])
        for _ in range(steps):
            opt.zero_grad()
            loss = ((X @ w - y) ** 2).mean()
            if with_penalty:
                loss = loss + penalty_fn([w], lam)
            loss.backward()
            opt.step()
        return w.detach()

    # the minimum of mean((Xw − y)²) + λ/2·‖w‖²: its gradient 2Xᵀ(Xw − y)/n + λw vanishes there
    n = len(y)
    w_l2 = torch.linalg.solve(2 * X.T @ X / n + lam * torch.eye(X.shape[1], dtype=X.dtype), 2 * X.T @ y / n)
    w_ls = torch.linalg.lstsq(X, y.reshape(len(y), -1)).solution.reshape(w_l2.shape)  # the unpenalised minimum
    a_lr = lr
    rows = []
    configs = [
        ("SGD", "ℓ2 penalty in the loss", lambda p: torch.optim.SGD(p, lr=lr), True),
        ("SGD", "SGD(weight_decay=λ)", lambda p: torch.optim.SGD(p, lr=lr, weight_decay=lam), False),
        ("Adam", "ℓ2 penalty in the loss", lambda p: torch.optim.Adam(p, lr=a_lr), True),
        ("Adam", "Adam(weight_decay=λ)", lambda p: torch.optim.Adam(p, lr=a_lr, weight_decay=lam), False),
        ("Adam", "AdamW(weight_decay=λ)", lambda p: torch.optim.AdamW(p, lr=a_lr, weight_decay=lam), False),
    ]
    import inspect

    if "decoupled_weight_decay" in inspect.signature(torch.optim.Adam).parameters:   # recent torch only
        configs.append(("Adam", "Adam(weight_decay=λ, decoupled_weight_decay=True)",
                        lambda p: torch.optim.Adam(p, lr=a_lr, weight_decay=lam, decoupled_weight_decay=True), False))
    ref = {}
    for opt_name, how, make, pen in configs:
        w = run(make, pen)
        ref.setdefault(opt_name, w)
        rows.append({"optimizer": opt_name, "regularisation": how,
                     "‖w − w(ℓ2 in loss)‖": (w - ref[opt_name]).norm().item(),
                     "‖w − ℓ2 minimum‖": (w - w_l2).norm().item(),
                     "‖w − unpenalised minimum‖": (w - w_ls).norm().item(), "‖w‖": w.norm().item(),
                     "largest |weight|": w.abs().max().item()})
    return pd.DataFrame(rows)


_CHOICES = {
    "adam_l2": ("abcd", "a", "Adam's `weight_decay` adds λ·w to the gradient *before* the adaptive scaling — "
                "exactly what the ℓ2 penalty does; AdamW subtracts η·λ·w from the weights after it (decoupled).",
                {"b": "AdamW decouples the decay from the gradient: it shrinks the weights after the adaptive "
                      "step, so its distance to the penalty's weights is not 0.",
                 "c": "the two optimizers do not agree with each other: one of the two distances is not 0.",
                 "d": "one of the two distances in the table is 0 (to the last digits)."},
                (("adamw", "b"), ("both", "c"), ("neither", "d"), ("adam", "a"))),
}


#: words that hedge ("maybe b", "either a or c", "b?", "not sure"): the answer does not choose one option
_HEDGES = (r"maybe", r"perhaps", r"probably", r"possibly", r"unsure", r"not sure", r"either", r"dunno", r"guess",
           r"no idea", r"\w+n't know")
#: words that negate: refused when an option follows them within two words ("not b", "He, not LeCun",
#: "except c"); elsewhere ("No, they can't") they are part of the reasoning
_NEGATIONS = (r"not", r"\w+n't", r"nor", r"except", r"instead of", r"rather than", r"but")


#: options that are themselves negative: a negation after them agrees ("No, they can't"), it rules nothing out
_NEGATIVE_OPTIONS = ("no", "neither", "none", "never")


def _parse_choice(answer, letters: str, texts=()) -> tuple[list[str], str | None]:
    """Read a multiple-choice answer: (the distinct options it names, a hedging or negating word or None).

    Every recognised token counts alike — a letter ("b", "(b)", "b)", "b.", "option b") and an option's own
    words ("AdamW", "SELU", "l1") — whatever separates them ("b c", "b, c", "b or c", "SELU or tanh"), so an
    answer that names two options is read as two, whichever comes first.  Option words are matched longest
    first at the start of a word (so "adamw" is not also "adam", "the" is not "he", "not" is not "no"); short
    ones (≤ 3 characters) only as whole words.  A bare "a" before a word is the article, not option (a)."""
    import re

    import unicodedata

    # compatibility forms read as what they show: 'ℓ₁' (subscript one) is 'l1', a full-width 'ｂ' is 'b'
    raw = unicodedata.normalize("NFKC", str(answer)).strip()
    while len(raw) >= 2 and raw[0] + raw[-1] in ("''", '""', "‘’", "“”", "``"):  # the quotes typed inside the string
        raw = raw[1:-1].strip()
    text = orig = " " + raw.lower() + " "
    found: list[str] = []

    starts: list[int] = []
    ends: list[int] = []

    def take(m, letter):
        found.append(letter)
        starts.append(m.start())
        ends.append(m.end())
        return " " * (m.end() - m.start())

    for words, letter in sorted(texts, key=lambda t: -len(t[0])):
        pattern = rf"(?<!\w){re.escape(words)}" + (r"(?!\w)" if len(words) <= 3 else r"\w*")
        text = re.sub(pattern, lambda m, letter=letter: take(m, letter), text)
    # letters: "(b)", "b)", "b.", "b:", or a bare letter standing alone — but not the article "a" before a word
    # (any of a–d counts: a letter the question does not have, "c" for a yes/no question, is named as such)
    letters = "".join(sorted(set(letters) | set("abcd")))
    text = re.sub(rf"(?<![\w'’])\(([{letters}])\)|(?<![\w'’])([{letters}])[).:](?!\w)"
                  rf"|(?<![\w'’])(a)(?!\w)(?!\s+(?!(?:and|or|then|not)\b)[^\W\d_]{{2,}})"
                  rf"|(?<![\w'’])([{letters.replace('a', '')}])(?!\w)",
                  lambda m: take(m, next(g for g in m.groups() if g)), text)
    hedge = re.search(rf"(?<!\w)(?:{'|'.join(_HEDGES)})(?!\w)|\?", text)
    if hedge is None:  # a negation counts when an option follows it within two words ("not b"), or when it ends
        # the answer within two words after an option ("AdamW is not": that option is ruled out, not chosen)
        words = lambda a, b: len(re.findall(r"[^\W\d_]+", text[a:b]))  # noqa: E731
        for m in re.finditer(rf"(?<!\w)(?:{'|'.join(_NEGATIONS)})(?!\w)", text):
            if any(st >= m.end() and words(m.end(), st) <= 2 for st in starts) or (words(m.end(), len(text)) == 0 and any(
                    en <= m.start() and words(en, m.start()) <= 2 and orig[st:en].strip() not in _NEGATIVE_OPTIONS
                    for st, en in zip(starts, ends))):
                hedge = m
                break
    return sorted(set(found)), (hedge.group(0).strip() if hedge else None)


def _choice_letter(answer, letters: str, texts=()) -> str | None:
    """The one option an answer names ("a", "(a)", "option a", "(a) Adam(weight_decay=λ)", "AdamW"), or None
    when it names none, several, or hedges."""
    found, hedge = _parse_choice(answer, letters, texts)
    return found[0] if len(found) == 1 and hedge is None and found[0] in letters else None


def _several_letters(answer, letters: str, texts=()) -> list[str]:
    """The distinct options an answer names together (letters and option words alike, any separator): more
    than one means the learner has not chosen; one option (or none) gives an empty list."""
    found, _ = _parse_choice(answer, letters, texts)
    return found if len(found) > 1 else []


def _choice_problem(answer, letters: str, texts, target: str):
    """(message, hint) when a choice answer does not name exactly one option plainly, else None.  ``target``
    is the variable the learner sets (``form_2``); the hint's example lists every letter alike, so that it
    never suggests one of them (with two options, any one example letter would be the answer or point at it)."""
    one = f"one letter, {', '.join(letters[:-1])} or {letters[-1]}, as a string: `{target} = \"…\"`"
    if not isinstance(answer, str):
        return (f"expected one of the letters {', '.join(letters)}, got {_describe(answer)}.", f"write {one}.")
    found, hedge = _parse_choice(answer, letters, texts)
    foreign = [x for x in found if x not in letters]
    if foreign:
        return (f"there is no option ({foreign[0]}) in this question: its options are "
                f"{', '.join(letters[:-1])} and {letters[-1]}.", f"write {one}.")
    if hedge is not None:
        return (f"your answer hedges or rules an option out (\"{hedge}\"), and the check cannot read that as one "
                "choice.", f"write only the option you choose: {one}.")
    if len(found) > 1:
        return (f"your answer names several options ({', '.join(found)}): choose one.", f"write {one}.")
    if not found:
        import unicodedata

        odd = next((c for c in answer if c.isalpha() and not c.isascii()), None)
        look = (f" (its '{odd}' is not a Latin letter but {unicodedata.name(odd, 'another alphabet').lower()}, "
                "which only looks like one: type it again with a Latin keyboard layout)" if odd else "")
        return (f"expected one of the letters {', '.join(letters)}, got {_describe(answer)}{look}.", f"write {one}.")
    return None


@_graded('check_choice("adam_l2", answer)', name=lambda a: "question " + str(a["question"]).strip().lower().replace("-", "_").replace(" ", "_"))
def check_choice(question: str, answer, *, verbose: bool = True) -> CheckResult:
    """Grade a multiple-choice answer (a letter, possibly with its text) to ``question`` (``"adam_l2"``).

    After each attempt the message explains: why the right answer is right, or what the table shows
    against the chosen letter (without naming the right one)."""
    key = str(question).strip().lower().replace("-", "_").replace(" ", "_")
    swapped = isinstance(answer, str) and answer.strip().lower().replace("-", "_").replace(" ", "_") in _CHOICES
    if key not in _CHOICES and swapped:
        return _report(f"question {answer!r}", FAIL, "the arguments look swapped: the question's name comes first, "
                       "then your answer.", hint=f"`exercises.check_choice({answer.strip()!r}, answer)`.",
                       verbose=verbose)
    if key not in _CHOICES:
        return _report(f"question {question!r}", FAIL, f"there is no question {question!r}.",
                       hint=f"the questions are {', '.join(repr(k) for k in sorted(_CHOICES))}.", verbose=verbose)
    name = f"question {key}"
    answer = _one_item(answer)
    if _blank(answer):
        return _report(name, TODO, "not yet — set `answer` to one of the letters and run the cell again.",
                       verbose=verbose)
    letters, right, why, wrong, texts = _CHOICES[key]
    problem = _choice_problem(answer, letters, texts, "answer")
    if problem is not None:
        message, hint = problem
        if "several" in message:
            hint = ("each option is one claim; the option that says the two agree is an option of its own. "
                    + hint[0].upper() + hint[1:])
        return _report(name, FAIL, message, hint=hint, verbose=verbose)
    a = _choice_letter(answer, letters, texts)
    if a == right:
        return _report(name, PASS, f"correct — {why}", verbose=verbose)
    return _report(name, FAIL, f"({a}) is not it.", details=[f"why:      {wrong.get(a, '')}"],
                   hint="run the comparison and read the column ‖w − w(ℓ2 in loss)‖: a distance of 0 means "
                        "the two updates are identical.", verbose=verbose)
