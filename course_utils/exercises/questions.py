"""Exercises 06 — the conceptual questions and their model answers, revealed on request."""
from __future__ import annotations

import math

from ._core import FAIL, PASS, TODO, CheckResult, _as_number, _describe, _label, _report, _wrap
from ._core import _blank, _graded, _one_item


#: (question, model answer) — the textbook chapter's eight exercises, in the book's own words.
QUESTIONS = [
    ("What problem do Glorot and He initialisation set out to fix?",
     "Unstable gradients at the start of training. With badly scaled random weights the variance of the "
     "activations (forward) and of the gradients (backward) is multiplied by a constant factor at every layer, "
     "so in a deep net it shrinks towards zero or blows up geometrically: the first layers barely learn, or the "
     "loss diverges. Glorot chooses Var(W) = 2/(fan_in + fan_out), a compromise between keeping the forward "
     "variance (1/fan_in) and the backward variance (1/fan_out) constant; He doubles LeCun's 1/fan_in to "
     "2/fan_in, making up for ReLU's halving of the signal."),
    ("Can all weights start with the same value, provided that value is drawn at random with He initialisation?",
     "No. If every weight of a layer is equal, every unit computes the same function and receives the same "
     "gradient, so the units stay identical for the whole of training (only the symmetry-breaking noise of, "
     "e.g., dropout could separate them): the layer behaves like a single unit. Drawing the one shared value "
     "from a good distribution does not help — it is the *independent* draws per weight that break the symmetry."),
    ("Is it fine to initialise the biases to 0?",
     "Yes. The random weights already break the symmetry between units, and zero biases add no variance to the "
     "signal, which is what the variance derivations assume. Some practitioners give ReLU units a small positive "
     "bias so that fewer are dead at the start. Zero is what the initialisation schemes assume and what the "
     "book's models set after building; PyTorch's own `nn.Linear` draws its biases at random, from "
     "U(−1/√fan_in, 1/√fan_in), like its weights."),
    ("When would you choose each of the activation functions of the chapter?",
     "ReLU is the fast, strong default for plain deep nets. Leaky ReLU / PReLU avoid dead units (PReLU learns the "
     "slope, helpful on large data sets). ELU and GELU/SiLU (Swish) are smooth and often a little more accurate at "
     "extra compute; GELU/SiLU/SwiGLU are the usual choice in transformers. SELU makes a plain stack of dense "
     "layers self-normalising (with LeCun init, standardised inputs, no skip connections, alpha dropout only). "
     "tanh is useful when outputs must lie in [−1, 1] (and in recurrent nets); sigmoid when they must be in "
     "[0, 1] (probabilities, gates) — both saturate, so avoid them in hidden layers of deep feed-forward nets. "
     "Hardswish-like functions when inference latency matters."),
    ("What can happen if the momentum of SGD is set too close to 1 (say 0.99999)?",
     "The velocity then averages over about 1/(1−β) = 100,000 past gradients and barely decays: the optimizer "
     "gains enormous speed (the effective step is η/(1−β)), overshoots the minimum, and oscillates around it "
     "for a very long time: on a quadratic the oscillation shrinks only by a factor √β per step (about 200,000 "
     "steps per factor e), so training is slower and less stable than with β ≈ 0.9, and on a non-convex loss "
     "the built-up velocity can fling the weights far away."),
    ("Name three ways to obtain a sparse model.",
     "(1) Train normally and then set the smallest weights to zero (magnitude pruning, e.g. "
     "torch.nn.utils.prune.l1_unstructured), usually followed by fine-tuning. (2) Add an ℓ1 penalty on the "
     "weights during training: its constant pull drives many of them to nearly zero, but with (sub)gradient "
     "steps (SGD, Adam on loss + λ‖w‖₁) a weight overshoots zero and jitters around it, so none ends exactly at "
     "zero; exact zeros take a soft-thresholding (proximal) step, w ← sign(w)·max(|w| − ηλ, 0), after each "
     "update, or pruning the near-zero weights afterwards. (3) Use a method designed for it, e.g. iterative or "
     "structured pruning during training, or dedicated toolkits for sparse/compressed models."),
    ("Does dropout slow down training? Does it slow down inference? And MC dropout?",
     "Training: yes, usually — each step costs about the same, but the noise it injects means more epochs are "
     "needed to converge (often around twice as many). Inference: no — dropout is switched off at test time, so "
     "predictions cost exactly what they would without it. MC dropout, in contrast, makes inference K times more "
     "expensive: it runs K stochastic forward passes (e.g. 10–100) per input and averages them, in exchange for "
     "an uncertainty estimate and, often but not always, better-calibrated probabilities (the gain shows mostly "
     "under distribution shift, Ovadia et al., 2019). Whether it beats the same weights predicting once has to "
     "be measured: exercise 5 sets the two side by side on its network, and temperature scaling (Guo et al., "
     "2017) is the cheap calibration baseline to compare with."),
    ("The practical exercise of the chapter (done in notebook 07): a 20-hidden-layer, 100-unit SiLU net with He "
     "init and NAdam; then batch norm; then SELU; alpha dropout with MC dropout; 1cycle. What must you change for "
     "the SELU version to self-normalise, and what do you expect batch norm to change?",
     "For self-normalisation: standardise the inputs (mean 0, std 1 per feature), use LeCun-normal init "
     "(Var(W) = 1/fan_in), keep the network a plain sequence of dense layers (no batch norm, no skip "
     "connections), and regularise only with alpha dropout (ordinary dropout breaks the fixed point). Batch norm in "
     "the 20-layer SiLU net usually makes it converge in fewer epochs and tolerate larger learning rates, may "
     "improve accuracy a little, but each epoch costs more time (extra computation per layer) and predictions "
     "need the running statistics (or BN folded into the Linear layers)."),
]


_MISSING = object()  # show_answer() and friends called without a question number


def _plain_int(n):
    """A NumPy integer (``for q in np.arange(1, 9)``) or a one-element integer tensor as a Python int; else ``n``."""
    import numbers

    import torch

    if isinstance(n, numbers.Integral) and not isinstance(n, (bool, int)):
        return int(n)
    if isinstance(n, torch.Tensor) and n.numel() == 1 and not n.is_floating_point() and n.dtype != torch.bool:
        return int(n.item())
    return n


def _bad_number(n, example: str = "exercises.show_answer(1)") -> str | None:
    """A plain message when ``n`` is not a question number (1 to 8), else None; ``example`` is a right call of
    the function that was called (so check_answer's message shows check_answer, not show_answer)."""
    n = _plain_int(n)
    if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= len(QUESTIONS):
        return None
    if n is _MISSING:
        return f"{_label(FAIL)} — it needs the question number, e.g. `{example}`."
    extra = " (write the number without quotes)" if isinstance(n, str) else ""
    if isinstance(n, float) and n.is_integer() and 1 <= n <= len(QUESTIONS):
        return (f"{_label(FAIL)} — a question number is a whole number: write {int(n)}, not {n!r} (no decimal "
                f"point), e.g. `{example}`.")
    return (f"{_label(FAIL)} — questions are numbered 1 to {len(QUESTIONS)}; got {_describe(n)}{extra}, "
            f"e.g. `{example}`.")


def show_question(n: int = _MISSING):  # (called without a number: answered in words)
    """Display question ``n`` (1-based) as Markdown."""
    from IPython.display import Markdown, display

    n = _plain_int(n)
    if _bad_number(n, "exercises.show_question(1)"):
        print(_wrap(_bad_number(n, "exercises.show_question(1)")))
        return
    display(Markdown(f"**Question {n}.** {QUESTIONS[n - 1][0]}"))


def show_answer(n: int = _MISSING):  # (called without a number: answered in words)
    """Reveal the model answer of question ``n`` (1-based); a wrong number gets a plain message."""
    from IPython.display import Markdown, display

    n = _plain_int(n)
    if _bad_number(n):
        print(_wrap(_bad_number(n)))
        return
    display(Markdown(f"**Model answer {n}.** {QUESTIONS[n - 1][1]}"))


def answer_button(n: int = _MISSING):  # (called without a number: answered in words)
    """A button that reveals (and hides again) the model answer of question ``n``."""
    import ipywidgets as widgets
    from IPython.display import Markdown, display

    n = _plain_int(n)
    if _bad_number(n, "exercises.answer_button(1)"):
        print(_wrap(_bad_number(n, "exercises.answer_button(1)")))
        return None
    button = widgets.ToggleButton(value=False, description=f"Show model answer {n}", icon="eye")
    out = widgets.Output()

    def toggle(change):
        out.clear_output()
        button.description = f"{'Hide' if change['new'] else 'Show'} model answer {n}"
        if change["new"]:
            with out:
                display(Markdown(QUESTIONS[n - 1][1]))

    button.observe(toggle, names="value")
    return widgets.VBox([button, out])


# ----------------------------------------------------------------------------- graded forms
# Each question has a short graded form: a choice (a letter, or the option's words) or a number.  After
# every attempt the check explains — why the right answer is right (most with a measurement made on the spot
# by the course's own functions), or what is wrong with the chosen option, without naming the right one.

def _measure_depth() -> str:
    from .initialization import activation_variances

    small = activation_variances(0.03, 20, act="tanh")[-1]
    large = activation_variances(0.3, 20, act="relu")[-1]
    return (f"measured now: 20 tanh layers of width 256 with weights N(0, 0.03²) leave an activation variance of "
            f"{small:.1e} (it started at 1); 20 ReLU layers with std 0.3 blow it up to {large:.1e}.")


def _measure_symmetry() -> str:
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    with torch.no_grad():
        for lin in (net[0], net[2]):
            lin.weight.fill_(0.3)
            lin.bias.zero_()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    X, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    for _ in range(50):
        opt.zero_grad()
        nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    rows = len({tuple(round(v, 6) for v in r) for r in net[0].weight.detach().tolist()})
    return (f"measured now: a 4-8-3 tanh net whose weights all start at 0.3 has {rows} distinct hidden "
            f"unit{'s' if rows != 1 else ''} (of 8) after 50 SGD steps.")


def _measure_momentum() -> str:
    beta, v = 0.99999, 0.0
    for _ in range(1000):
        v = beta * v + 1.0
    return (f"measured now: with a constant gradient of 1, the velocity after 1,000 steps is {v:,.0f} and still "
            "growing — the step keeps accelerating long after it should have settled.")


def _measure_mc_passes() -> str:
    import torch
    from torch import nn

    from .regularization import mc_dropout_predict_reference

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3))
    calls = []
    h = net.register_forward_hook(lambda *a: calls.append(1))
    mc_dropout_predict_reference(net, torch.randn(5, 4), n_samples=50)
    h.remove()
    return f"measured now: MC dropout with 50 samples ran the network {len(calls)} times for one prediction."


def _measure_l1() -> str:
    import torch

    # least squares, 50 weights of which 45 are truly zero, plus λ‖w‖₁, full-batch steps of rate η (float64):
    # the subgradient step is what SGD does with loss + λ‖w‖₁ (torch's gradient of |w| is sign(w)); the proximal
    # one takes the same step on the squared error, then soft-thresholds
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 50, generator=g, dtype=torch.float64)
    w_true = torch.zeros(50, dtype=torch.float64)
    w_true[:5] = torch.tensor([2.0, -1.5, 1.0, -0.5, 0.8], dtype=torch.float64)
    y = X @ w_true + 0.1 * torch.randn(200, generator=g, dtype=torch.float64)
    lam, lr, steps = 0.1, 0.01, 1000
    sub, prox = torch.zeros(50, dtype=torch.float64), torch.zeros(50, dtype=torch.float64)
    for _ in range(steps):
        sub = sub - lr * (X.T @ (X @ sub - y) / len(y) + lam * torch.sign(sub))
        prox = prox - lr * X.T @ (X @ prox - y) / len(y)
        prox = torch.sign(prox) * torch.clamp(prox.abs() - lr * lam, min=0)
    exact = [int((w == 0).sum()) for w in (sub, prox)]
    near = int((sub.abs() < 1e-3).sum())
    return (f"measured now: least squares with 50 weights (45 truly zero) plus 0.1·‖w‖₁, 1,000 steps: "
            f"gradient steps leave {exact[0] or 'no'} weight{'' if exact[0] == 1 else 's'} at exactly 0 ({near} "
            f"below 0.001); the same steps followed by soft-thresholding leave {exact[1]}.")


#: n -> the graded form: (kind, prompt, options or None, answer, texts that name options, per-option or
#: per-value explanations of a wrong answer, the explanation of the right one, a measurement or None)
FORMS = {
    1: ("choice", "What do Glorot and He initialisation fix?",
        ["overfitting of large networks", "signal and gradient variances that shrink or grow geometrically "
         "with depth", "the bad curvature of the loss surface", "ReLU units that never activate"],
        "b", (("overfit", "a"), ("variance", "b"), ("curvature", "c"), ("dead", "d"),
                ("never activ", "d")),
        {"a": "initialisation acts at step 0; overfitting is about what training ends up memorising.",
         "c": "the curvature is a property of the loss; a different scale of the weights does not change it.",
         "d": "dead units are ReLU's own problem (leaky ReLU, ELU address it), and He init does not remove it."},
        "a badly scaled init multiplies the variance by a constant factor at every layer.", _measure_depth),
    2: ("choice", "Can all weights of a layer start with the same (randomly drawn) value?", ["yes", "no"], "b",
        (("yes", "a"), ("no", "b")),
        {"a": "equal weights make every unit compute the same thing and get the same gradient."},
        "equal weights give equal units and equal gradients: the units never become different.",
        _measure_symmetry),
    3: ("choice", "Is it fine to initialise the biases to 0?", ["yes", "no"], "a", (("yes", "a"), ("no", "b")),
        {"b": "the random weights already break the symmetry; a zero bias adds no variance, as the "
              "derivations assume."},
        "the random weights break the symmetry, and zero biases add nothing to the variance.", None),
    4: ("choice", "Which activation makes a plain stack of dense layers self-normalising?",
        ["ReLU", "GELU", "SELU", "tanh"], "c", (("selu", "c"), ("gelu", "b"), ("relu", "a"), ("tanh", "d")),
        {"a": "ReLU halves the signal's second moment; He init compensates, but nothing pulls it back.",
         "b": "GELU is smooth and popular in transformers, but has no fixed point of mean and variance.",
         "d": "tanh saturates, and its variance shrinks layer after layer."},
        "SELU's scale and negative saturation pull mean and variance to the fixed point (0, 1).", None),
    5: ("number", "With momentum β = 0.99999, over about how many past gradients does the velocity average "
        "(its effective step is η times this number)?", None, 1 / (1 - 0.99999), (),
        {0.99999: "that is β itself; the question asks how many gradients the velocity adds up.",
         1e-5: "that is 1 − β, the share of one new gradient; the question asks how many gradients add up."},
        "the velocity sums β^k·g, a geometric series whose sum is 1/(1 − β): about that many gradients' worth.", _measure_momentum),
    6: ("choice", "Which of these gives a sparse model: many weights at zero, or so near it that setting "
        "them to zero changes nothing?",
        ["an ℓ2 penalty (weight decay)", "an ℓ1 penalty or magnitude pruning", "dropout", "batch norm"], "b",
        (("l1", "b"), ("ℓ1", "b"), ("prun", "b"), ("l2", "a"), ("ℓ2", "a"), ("dropout", "c"), ("batch", "d")),
        {"a": "ℓ2 shrinks every weight in proportion to its size: small, but not zero.",
         "c": "dropout zeroes activations during training, not weights; the trained weights are dense.",
         "d": "batch norm rescales activations; it does not zero weights."},
        "pruning sets weights to exactly 0; an ℓ1 penalty's constant pull drives many to nearly 0, but a "
        "gradient step (SGD, Adam) overshoots 0 and jitters around it: exact zeros take a soft-threshold "
        "(proximal) step, w ← sign(w)·max(|w| − ηλ, 0), or pruning the near-zero ones.", _measure_l1),
    7: ("number", "MC dropout with K = 50 samples: how many times the cost of one ordinary prediction does "
        "one MC prediction cost?", None, 50.0, (),
        {1.0: "ordinary inference switches dropout off, but MC dropout keeps it on and repeats the pass.",
         49.0: "count the passes once more: every one of the K samples is a full pass, no more, no fewer.",
         51.0: "count the passes once more: every one of the K samples is a full pass, no more, no fewer.",
         0.0: "the passes are not free: each is a full forward pass."},
        "each sample is a full forward pass with dropout on.", _measure_mc_passes),
    8: ("choice", "For the SELU network of the capstone to self-normalise, which initialisation must it use?",
        ["He normal, Var(W) = 2/fan_in", "LeCun normal, Var(W) = 1/fan_in", "Xavier uniform",
         "PyTorch's default"], "b", (("lecun", "b"), ("he", "a"), ("kaiming", "a"), ("xavier", "c"),
                                      ("glorot", "c"), ("default", "d")),
        {"a": "2/fan_in doubles the variance to make up for ReLU's halving; SELU's fixed point needs no doubling.",
         "c": "Xavier averages fan_in and fan_out; the fixed point is derived for one count only.",
         "d": "PyTorch's default gives Var(W) = 1/(3·fan_in), a third of what the fixed point needs."},
        "SELU's fixed point is derived for Var(W)·fan_in = 1.", None),
}


def form_markdown(n: int) -> str:
    """The graded form of question ``n`` as Markdown (what the notebooks print under the question)."""
    kind, prompt, options = FORMS[n][:3]
    text = f"**Graded check {n}.** {prompt}"
    if kind == "choice":
        text += " " + " ".join(f"({chr(97 + i)}) {o}" for i, o in enumerate(options))
        return text + f" — set `form_{n}` to a letter."
    return text + f" — set `form_{n}` to a number."


@_graded('check_answer(1, form_1)', name=lambda a: f"graded check {a['n']}")
def check_answer(n, answer, *, verbose: bool = True) -> CheckResult:
    """Grade the form of question ``n`` and explain, after every attempt (right or wrong)."""
    from .regularization import _choice_letter, _choice_problem

    n = _plain_int(n)
    if _bad_number(n):
        if _bad_number(answer) is None and not isinstance(n, (int, float)):
            return _report("graded check", FAIL, f"the arguments look swapped: got {_describe(n)} as the question "
                           f"number and {_describe(answer)} as the answer.",
                           hint=f"the question number comes first: `exercises.check_answer({answer}, form_{answer})`.",
                           verbose=verbose)
        return _report("graded check", FAIL, _bad_number(n, "exercises.check_answer(1, form_1)").split(" — ", 1)[1],
                       verbose=verbose)
    kind, prompt, options, right, texts, wrong, why, measure = FORMS[n]
    name = f"graded check {n}"
    answer = _one_item(answer)
    if _blank(answer):
        return _report(name, TODO, f"not yet — set `form_{n}` and run the cell again.", verbose=verbose)
    details = []
    if kind == "choice":
        letters = "".join(chr(97 + i) for i in range(len(options)))
        problem = _choice_problem(answer, letters, texts, f"form_{n}")
        if problem is not None:
            message, hint = problem
            return _report(name, FAIL, message, hint=hint, verbose=verbose)
        a = _choice_letter(answer, letters, texts)
        if a != right:
            return _report(name, FAIL, f"({a}) is not it.", details=[f"why:      {wrong.get(a, '')}"],
                           hint="think about what that choice changes, and read the question once more.",
                           verbose=verbose)
    else:
        v, bad = _as_number(answer, low=0)
        if bad:
            return _report(name, FAIL, bad, hint=f"set form_{n} to a number.", verbose=verbose)
        tol = _NUMBER_TOLERANCE.get(n, 0.0)
        # |v/right − 1| ≤ tol, the same on both sides (isclose scales by the larger one: 105000 in, 95000 out)
        # and around the value the note shows (1/(1 − 0.99999) is 100000.0000083 in floating point)
        centre = float(f"{right:g}") if tol else right
        if not (abs(v - centre) <= (tol or 1e-9) * abs(centre) * (1 + 1e-9)):
            known = next((h for w, h in wrong.items() if math.isclose(v, w, rel_tol=1e-3, abs_tol=1e-12)), None)
            direction = "too large" if v > right else "too small"
            return _report(name, FAIL, f"{v:g} is {direction}.", details=[f"why:      {known}"] if known else [],
                           hint="write the quantity as a formula first, then evaluate it.", verbose=verbose)
        if _NUMBER_TOLERANCE.get(n):
            details.append(f"(the question asks \"about how many\": answers within {100 * _NUMBER_TOLERANCE[n]:g} % "
                           f"of {right:g} count)")
    if measure is not None:
        details.append(measure())
    return _report(name, PASS, f"correct — {why}", details=details, verbose=verbose)


#: relative tolerance of the number questions that ask for an estimate ("about how many"); the others
#: have an exact answer (question 7: one MC prediction costs exactly K passes)
_NUMBER_TOLERANCE = {5: 0.05}
