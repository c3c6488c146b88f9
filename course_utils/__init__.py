"""Helper package of the course book *Initializing and Optimizing Deep Networks*.

Modules (import the one you need, e.g. ``from course_utils import data, train``):

- :mod:`course_utils.config`         — device, cache folder, experiment budget
- :mod:`course_utils.data`           — Fashion-MNIST as tensors on the device, mini-batches by slicing
- :mod:`course_utils.models`         — the reference MLP and the activation registry
- :mod:`course_utils.train`          — the cached training loop (``train_model``, ``run_seeds``)
- :mod:`course_utils.stats`          — per-layer statistics as plain data; the variance recurrence
- :mod:`course_utils.plotting`       — the book's figures (``plot_layers`` for Part II's)
- :mod:`course_utils.init`           — initialisation schemes in ``torch.nn.init`` style
- :mod:`course_utils.theory`         — Part I's experiments and the sources' reference values
- :mod:`course_utils.layers`         — BN/LN from scratch, SwiGLU, activations, gradient clipping
- :mod:`course_utils.optim`          — optimizers from scratch, ``torch.optim``-compatible
- :mod:`course_utils.compare`        — learning-rate sweeps, seed tables and tests between optimizers
- :mod:`course_utils.surfaces`       — 2-D loss surfaces and optimizer trajectories
- :mod:`course_utils.explorer`       — the loss-surface explorer (live widgets and static HTML)
- :mod:`course_utils.schedules`      — learning-rate schedules by name, traced step by step
- :mod:`course_utils.checkpoint`     — atomic save/resume of model, optimizer, scheduler and RNG state
- :mod:`course_utils.regularization` — penalties, parameter groups, MC dropout, max-norm, pruning
- :mod:`course_utils.transfer`       — class subsets and reuse of pretrained layers
- :mod:`course_utils.exercises`      — the ``check_*`` graders of the exercise notebooks
- :mod:`course_utils.provenance`     — the line that says what produced a page's numbers
- :mod:`course_utils.jax_parity`     — the JAX appendix (needs the optional ``jax`` extra)
"""
__version__ = "0.1.0"
