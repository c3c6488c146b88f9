"""Helper package of the course book *Initializing and Optimizing Deep Networks*.

Modules (import the one you need, e.g. ``from course_utils import data, train``):

- :mod:`course_utils.config`   — device, cache folder, experiment budget
- :mod:`course_utils.data`     — Fashion-MNIST as tensors on the device, mini-batches by slicing
- :mod:`course_utils.models`   — the reference MLP
- :mod:`course_utils.train`    — the cached training loop
- :mod:`course_utils.stats`    — per-layer statistics as plain data
- :mod:`course_utils.plotting` — the book's figures
"""
__version__ = "0.1.0"
