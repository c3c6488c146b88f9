"""Every figure of the book. Each function takes data computed elsewhere and only draws.

Compute first, draw second: the statistics come from :mod:`course_utils.stats`,
:mod:`course_utils.theory`, :mod:`course_utils.layers`, :mod:`course_utils.compare`,
:mod:`course_utils.schedules` and :mod:`course_utils.surfaces`, the runs from
:mod:`course_utils.train`; a function here gets them as plain data (dicts, arrays, DataFrames,
:class:`~course_utils.train.TrainResult` s), draws into ``ax`` (a new figure when it is None) and
returns the axes or the figure.  Nothing here imports the rest of the package.  Pages use this
package as one namespace (``plotting.plot_sweep``); its modules, by concept:

* :mod:`.layout` — the column and the legends: :data:`COLUMN_IN`, :data:`MIN_TEXT_PX`, :func:`figsize`,
  :func:`legend_outside`, :func:`integer_epochs`;
* :mod:`.style` — colours, series styles, numbers and images: :data:`PALETTE`, :func:`series_styles`,
  :func:`optimizer_styles`, :func:`fmt_number`, :func:`table`, :func:`set_style`, :func:`show_images`;
* :mod:`.layer_stats` — per-layer statistics (Parts I-II): :func:`plot_layer_hists`, :func:`plot_init_panels`,
  :func:`plot_per_layer`, :func:`plot_depth_sweep`, :func:`plot_depth_curves`,
  :func:`plot_grouped_bars`, :func:`plot_activation_gallery`, :func:`plot_clipping_vectors`;
* :mod:`.theory` — the edge of chaos (Part I): :func:`plot_phase_diagram`, :func:`plot_correlation_curves`,
  :func:`plot_spectrum_bands`, :func:`plot_spectrum_hists`;
* :mod:`.runs` — training runs (Parts III-V): :func:`plot_learning_curves`, :func:`plot_sweep`,
  :func:`plot_seed_intervals`, :func:`plot_traces` (learning-rate schedules), :func:`plot_ratio_bands`
  (ratios that should be 1, with their noise band: the JAX appendix);
* :mod:`.loss_surfaces` — loss surfaces (Part III): :func:`plot_surface_3d`, :func:`plot_contour`,
  :func:`plot_trajectories`, :func:`window_crossings`.

The private helpers are re-exported too (tests and the figure checks reach them as ``plotting._name``).
"""
from __future__ import annotations

from .layout import (COLUMN_IN, COLUMN_PX, FIG_DPI, MIN_TEXT_PX, _below_axis_pt, _below_x_axis, _fits_width,
                     figsize, integer_epochs, legend_outside)
from .style import (LINESTYLES, MARKERS, OPTIMIZER_STYLES, PALETTE, _OPTIMIZER_PATTERNS, fmt_number, optimizer_of,
                    optimizer_styles, series_styles, set_style, show_images, table)
from .layer_stats import (plot_activation_gallery, plot_clipping_vectors, plot_depth_curves, plot_depth_sweep,
                          plot_grouped_bars, plot_init_panels, plot_layer_hists, plot_per_layer)
from .theory import (_distance_to_line, _phase_description, plot_correlation_curves, plot_phase_diagram,
                     plot_spectrum_bands, plot_spectrum_hists)
from .runs import plot_learning_curves, plot_ratio_bands, plot_seed_intervals, plot_sweep, plot_traces
from .loss_surfaces import (_levels, _paths_description, plot_contour, plot_surface_3d, plot_trajectories,
                            window_crossings)

__all__ = ["set_style", "show_images", "figsize", "legend_outside", "series_styles", "integer_epochs", "fmt_number",
           "table", "COLUMN_PX", "COLUMN_IN", "MIN_TEXT_PX", "PALETTE",
           "OPTIMIZER_STYLES", "optimizer_of", "optimizer_styles", "window_crossings",
           "plot_layer_hists", "plot_init_panels", "plot_per_layer", "plot_depth_sweep", "plot_depth_curves",
           "plot_phase_diagram", "plot_correlation_curves", "plot_spectrum_bands", "plot_spectrum_hists",
           "plot_grouped_bars", "plot_activation_gallery", "plot_clipping_vectors",
           "plot_learning_curves", "plot_sweep", "plot_seed_intervals", "plot_traces", "plot_ratio_bands",
           "plot_surface_3d", "plot_contour", "plot_trajectories"]
