"""Explorables: one control spec, two front ends — a static page without a kernel, and live widgets.

An *explorable* is a figure with a few controls: **menus** (discrete choices) and **sliders** (an
ordered list of values).  Every combination of the control values is computed once, in Python, by a
``compute(**values)`` callback; the results (a few curves per combination) become plain JSON, and

* :meth:`Explorable.html` writes that JSON and a small inline script into one HTML block (show it with
  ``IPython.display.HTML``): the controls and an SVG drawing that is redrawn in the browser the moment a
  control moves — no kernel, no external script, nothing loaded from the network;
* :meth:`Explorable.live` builds the same controls as ``ipywidgets`` in a notebook and redraws with
  matplotlib, from the same data or by calling ``compute`` on the spot.

Values a figure cannot draw get a message in the figure instead of a broken line: ``None``/NaN/inf
("diverged"), values below a panel's ``floor`` ("fell below 1e-30 at layer 12") or above its ``ceil``;
the line stops at the first such point.  A control can depend on a menu (``when={"scheduler":
["step"]}``): it is hidden and ignored (stored as ``-``) while the menu shows another choice.

Compute first, draw second: :meth:`Explorable.precompute` returns the data, the front ends only draw it.
This package imports nothing else of course_utils and neither matplotlib nor ipywidgets at import (layer 1).
Its modules: :mod:`.spec` (the controls, panels and series, each checked when built), :mod:`.encoding` (the
curves as compact JSON, and where a curve stops being drawable) and :mod:`.core` (:class:`Explorable`: the
precomputed grid and both front ends); every name is re-exported here (``explorable.Menu``, ...).

.. code-block:: python

    from course_utils import explorable as X
    spec = X.Explorable(
        [X.Menu("act", ["tanh", "relu"]), X.Slider("gain", [0.5, 1.0, 2.0], default=1.0)],
        [X.Panel("variance per layer", xlabel="layer", ylabel="variance", yscale="log", floor=1e-30,
                 series=[X.Series("v", "measured")])])
    data = spec.precompute(lambda act, gain: {"v": my_curve(act, gain)})
    HTML(spec.html(data))            # the static version (works in the published page)
    spec.live(data)                  # the widgets (needs a kernel)
"""
from __future__ import annotations

from .spec import (MAX_KB, PALETTE, Menu, Panel, Point, Series, Slider, _DEFAULT_TEXTS, _NAME, _check_default,
                   _check_json_value, _check_name, _check_texts, _check_when, _fmt)
from .encoding import _as_floats, _good, _round, decode_series, encode_series, series_events
from .core import Explorable, _script  # the page script's cache, core._JS_TEXT, stays in core

__all__ = ["Menu", "Slider", "Series", "Panel", "Point", "Explorable", "MAX_KB", "PALETTE", "encode_series",
           "decode_series", "series_events"]
