"""Exercises 06 — the conceptual questions and their model answers, revealed on request."""
from __future__ import annotations


#: (question, model answer) — the textbook chapter's eight exercises, in the book's own words.
QUESTIONS = [
    ("What problem do Glorot and He initialisation set out to fix?",
     "Unstable gradients at the start of training. With badly scaled random weights the variance of the "
     "activations (forward) and of the gradients (backward) is multiplied by a constant factor at every layer, "
     "so in a deep net it shrinks towards zero or blows up geometrically: the first layers barely learn, or the "
     "loss diverges. Glorot chooses Var(W) = 2/(fan_in + fan_out), a compromise between keeping the forward "
     "variance (1/fan_in) and the backward variance (1/fan_out) constant; He adds the factor 2 that ReLU's "
     "halving of the signal requires (2/fan_in)."),
    ("Can all weights start with the same value, provided that value is drawn at random with He initialisation?",
     "No. If every weight of a layer is equal, every unit computes the same function and receives the same "
     "gradient, so the units stay identical for the whole of training (only the symmetry-breaking noise of, "
     "e.g., dropout could separate them): the layer behaves like a single unit. Drawing the one shared value "
     "from a good distribution does not help — it is the *independent* draws per weight that break the symmetry."),
    ("Is it fine to initialise the biases to 0?",
     "Yes. The random weights already break the symmetry between units, and zero biases add no variance to the "
     "signal, which is what the variance derivations assume. Some practitioners give ReLU units a small positive "
     "bias so that fewer are dead at the start, but 0 is the standard default (and what the book uses)."),
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
     "for a very long time — training is slower and less stable than with β ≈ 0.9, and it may diverge."),
    ("Name three ways to obtain a sparse model.",
     "(1) Train normally and then set the smallest weights to zero (magnitude pruning, e.g. "
     "torch.nn.utils.prune.l1_unstructured), usually followed by fine-tuning. (2) Add an ℓ1 penalty on the "
     "weights during training, which pushes many of them to exactly or nearly zero. (3) Use a method designed "
     "for it, e.g. iterative or structured pruning during training, or dedicated toolkits for sparse/compressed "
     "models. (Sparsity breaks SELU's self-normalisation.)"),
    ("Does dropout slow down training? Does it slow down inference? And MC dropout?",
     "Training: yes, usually — each step costs about the same, but the noise it injects means more epochs are "
     "needed to converge (often around twice as many). Inference: no — dropout is switched off at test time, so "
     "predictions cost exactly what they would without it. MC dropout, in contrast, makes inference K times more "
     "expensive: it runs K stochastic forward passes (e.g. 10–100) per input and averages them, in exchange for "
     "better-calibrated probabilities and an uncertainty estimate."),
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


def _check_n(n) -> int:
    if not (isinstance(n, int) and 1 <= n <= len(QUESTIONS)):
        raise ValueError(f"Questions are numbered 1 to {len(QUESTIONS)}; got {n!r}.")
    return n


def show_question(n: int):
    """Display question ``n`` (1-based) as Markdown."""
    from IPython.display import Markdown, display

    display(Markdown(f"**Question {_check_n(n)}.** {QUESTIONS[n - 1][0]}"))


def show_answer(n: int):
    """Reveal the model answer of question ``n`` (1-based)."""
    from IPython.display import Markdown, display

    display(Markdown(f"**Model answer {_check_n(n)}.** {QUESTIONS[n - 1][1]}"))


def answer_button(n: int):
    """A button that reveals (and hides again) the model answer of question ``n``."""
    import ipywidgets as widgets
    from IPython.display import Markdown, display

    _check_n(n)
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
