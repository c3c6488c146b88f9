"""Graders and small interactive helpers for the exercise notebooks in ``exercises/``.

Every ``check_*`` function runs the learner's code on fixed cases, compares the
result with a reference computed by PyTorch itself (``torch.nn.init``,
``nn.LeakyReLU``, ``nn.BatchNorm1d``, ``torch.optim``) or by a closed-form
formula, prints one friendly message and returns a :class:`CheckResult`
(truthy when the answer is right)::

    ✅ passed   ❌ not quite (what came out, a hint)   ⏳ to do (still the TODO stub)

(each symbol always comes with its word, so the meaning survives without an emoji font; messages are
wrapped to 80 columns).

A check never lets the learner's exception escape: a ``NotImplementedError``
(the unmodified stub) reads as "not yet", any other exception is reported with
its type, its message, the learner's own line (never a line inside torch) and a
hint.  Where the task is to derive a value, the expected value is not shown
until the answer is right.  The references are torch's own functions; where a
grader measures something (a deep random stack, a training run, a paired test)
it calls the library's one home for it (``layers.deep_stack_stats``,
``train.train_model``; the capstone's answers read ``compare.paired_table``'s
tables), whose own tests hold it to torch.

The module also carries the pieces the notebooks' sliders need: a depth sweep of
activation variance, the two loss surfaces of the optimizer chapter, learning-rate
curves of the real torch schedulers, and the model answers of the conceptual
questions (revealed by :func:`show_answer` or :func:`answer_button`).

The graders live in one module per exercise notebook (``initialization``, ``normalization``, ``optimizers``,
``schedules``, ``regularization``, ``questions``, and ``capstone``, ``capstone_runs``, ``capstone_answers`` for the
capstone's model checks, runs and answers) on top of ``_core`` (the result object
and the messages); every public name is importable from ``course_utils.exercises`` itself.
"""
from ._core import CheckResult, as_number, attempt
from .initialization import (
    measure_backward_ratio, check_backward_condition, check_xavier_uniform, check_kaiming_normal,
    activation_variances, plot_activation_variances, variance_slider, GRADIENT_NET, signal_gradient_norms,
    check_largest_gradient,
)
from .normalization import check_leaky_relu, check_batch_norm, LEAKY_STACK, leaky_variance_growth, check_leaky_growth
from .optimizers import (
    check_momentum, check_rmsprop, check_adam, FIRST_STEP, adam_first_step, check_adam_first_step,
    pathological_curvature, steep_optima, SURFACE_SETUPS,
    surface_trajectory, plot_surface, surface_explorer,
)
from .schedules import (
    SCHEDULES, SCHEDULE_RUN, schedule_lrs, schedule_explorer,
    check_schedule_beats_constant, check_exponential_fraction, check_epochs_below,
)
from .regularization import (
    check_mc_dropout, mc_dropout_predict_reference, predictive_entropy, check_l2_penalty,
    compare_l2_and_decay, check_choice,
)
from .questions import QUESTIONS, FORMS, show_question, show_answer, answer_button, form_markdown, check_answer
from .capstone import check_capstone_model
from .capstone_runs import (
    CAPSTONE_SIZES, capstone_sizes, capstone_workload, capstone_run, CapstoneRuns, capstone_seeds, search_lr, epochs_to,
    mc_dropout_accuracy, step_times, convergence_target, capstone_table, plot_capstone_curves,
)
from .capstone_answers import (
    CAPSTONE_QUESTIONS, YES, NO, NOT_SIGNIFICANT, capstone_outcomes, check_capstone_answers,
)

__all__ = [
    "CheckResult", "attempt", "as_number",
    # 01 initialization
    "measure_backward_ratio", "check_backward_condition", "check_xavier_uniform", "check_kaiming_normal",
    "activation_variances", "plot_activation_variances", "variance_slider", "GRADIENT_NET", "signal_gradient_norms",
    "check_largest_gradient",
    # 02 activations & normalization
    "check_leaky_relu", "check_batch_norm", "LEAKY_STACK", "leaky_variance_growth", "check_leaky_growth",
    # 03 optimizers
    "check_momentum", "check_rmsprop", "check_adam", "FIRST_STEP", "adam_first_step", "check_adam_first_step",
    "pathological_curvature", "steep_optima", "SURFACE_SETUPS",
    "surface_trajectory", "plot_surface", "surface_explorer",
    # 04 schedules
    "SCHEDULES", "SCHEDULE_RUN", "schedule_lrs", "schedule_explorer", "check_schedule_beats_constant",
    "check_exponential_fraction", "check_epochs_below",
    # 05 regularization
    "check_mc_dropout", "mc_dropout_predict_reference", "predictive_entropy", "check_l2_penalty",
    "compare_l2_and_decay", "check_choice",
    # 06 conceptual questions
    "QUESTIONS", "FORMS", "show_question", "show_answer", "answer_button", "form_markdown", "check_answer",
    # 07 capstone
    "check_capstone_model", "CAPSTONE_SIZES", "capstone_sizes", "capstone_workload", "capstone_run", "CapstoneRuns", "capstone_seeds",
    "search_lr", "epochs_to", "mc_dropout_accuracy", "step_times", "convergence_target", "capstone_table",
    "plot_capstone_curves", "CAPSTONE_QUESTIONS", "YES", "NO", "NOT_SIGNIFICANT", "capstone_outcomes",
    "check_capstone_answers",
]
