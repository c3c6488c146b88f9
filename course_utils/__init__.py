"""Helper package of the course book *Initializing and Optimizing Deep Networks*.

How the modules fit together (the data path, the import layers, where a new chapter's code goes):
``ARCHITECTURE.md`` at the root of the repository.

Modules (import the one you need, e.g. ``from course_utils import data, train``):

- :mod:`course_utils.config`         — device, cache folder, experiment budget
- :mod:`course_utils.data`           — Fashion-MNIST as tensors on the device, subsets, mini-batches by slicing
- :mod:`course_utils.models`         — every architecture and the seeded builders (``reference_mlp``, ...)
- :mod:`course_utils.layers`         — BN/LN from scratch and folding, SwiGLU, activations, MC dropout, clipping
- :mod:`course_utils.init`           — initialisation schemes in ``torch.nn.init`` style
- :mod:`course_utils.optim`          — optimizers from scratch, ``torch.optim``-compatible
- :mod:`course_utils.muon`           — Muon (Newton–Schulz orthogonalized momentum) and Muon + AdamW in one optimizer
- :mod:`course_utils.schedules`      — learning-rate schedules by name, traced step by step; when to step them
- :mod:`course_utils.train`          — the one training loop (``fit``) and the cached runs (``train_model``, ``run_seeds``)
- :mod:`course_utils.checkpoint`     — atomic save/load of model, optimizer, scheduler and RNG state
- :mod:`course_utils.stats`          — per-layer statistics of a network, as plain data
- :mod:`course_utils.theory`         — what theory predicts: Gaussian moments, the variance recurrences, the drift law
- :mod:`course_utils.propagation`    — deep random stacks measured forward and backward (depth sweep, signal explorer)
- :mod:`course_utils.init_experiments` — the reference MLP at initialisation, measured beside theory and the sources
- :mod:`course_utils.compare`        — experiments that compare: sweeps, grid search, parity with torch.optim
- :mod:`course_utils.significance`   — statistics over runs: intervals, paired tests, Holm, ``verdict`` (re-exported by compare)
- :mod:`course_utils.plotting`       — every figure of the book (draws data computed elsewhere; a subpackage)
- :mod:`course_utils.surfaces`       — 2-D loss surfaces and optimizer trajectories
- :mod:`course_utils.explorer`       — the loss-surface explorer (live widgets and static HTML)
- :mod:`course_utils.explorable`     — static explorables (no kernel) and their live widgets from one spec (a subpackage)
- :mod:`course_utils.regularization` — penalties, parameter groups, MC dropout, max-norm, pruning
- :mod:`course_utils.transfer`       — model A / model B, freezing, task B's few-shot runs
- :mod:`course_utils.provenance`     — the line that says what produced a page's numbers
- :mod:`course_utils.notebook`       — ``glue`` for the chapters' build-only cells, with or without myst-nb
- :mod:`course_utils.exercises`      — the ``check_*`` graders of the exercise notebooks
- :mod:`course_utils.jax_parity`     — the JAX appendix (needs the optional ``jax`` extra)
"""
__version__ = "0.1.0"
