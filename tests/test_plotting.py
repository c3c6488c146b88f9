"""course_utils.plotting: every figure function draws labelled axes from plain data (Agg backend, no display)."""
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from course_utils import compare as C  # noqa: E402
from course_utils import plotting as P  # noqa: E402
from course_utils import schedules, surfaces  # noqa: E402
from course_utils.train import TrainResult  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _runs(accs, best_epoch=3):
    return [SimpleNamespace(test_acc=a / 100, best_epoch=best_epoch) for a in accs]


def _result(val_acc, start_epoch=0):
    n = len(val_acc)
    return TrainResult(train_acc=val_acc, val_acc=val_acc, train_loss=[1.0] * n, val_loss=[1.0] * n, lr=[0.1] * n,
                       seconds=1.0, device="cpu", start_epoch=start_epoch)


def test_plots_draw_labelled_axes():
    sweep = pd.DataFrame({"optimizer": ["A", "A", "B", "B"], "lr": [0.01, 0.1, 0.01, 0.1],
                          "best_val_acc": [0.8, 0.85, 0.82, 0.7]})
    ax = P.plot_sweep(sweep, marks={"A": 0.1})
    assert ax.get_xscale() == "log" and "validation" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B"]
    table = C.seed_table({"A": _runs([85, 86, 87]), "B": _runs([86, 87, 88])},
                         references={"source": {"A": 89.0, "B": 89.5}})
    ax = P.plot_seed_intervals(table, references=["source"], title="t")
    assert ax.get_title() == "t" and ax.get_ylabel() == "test accuracy (%)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B"]
    plt.close("all")


def test_learning_curves_number_a_resumed_run_after_its_start_and_take_styles():
    first, later = _result([0.5, 0.6]), _result([0.7], start_epoch=2)
    ax = P.plot_learning_curves({"whole": first.then(later), "later part": later}, metric="val_acc",
                                styles={"later part": {"ls": "--"}}, logy=True, ylabel="acc")
    whole, part = ax.get_lines()
    assert list(whole.get_xdata()) == [1, 2, 3] and list(part.get_xdata()) == [3]
    assert part.get_linestyle() == "--" and ax.get_yscale() == "log" and ax.get_ylabel() == "acc"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["whole", "later part"]


def test_traces_in_epochs():
    tr = schedules.lr_trace("onecycle", 3, steps_per_epoch=4, lr=0.1, max_lr=0.1)
    ax = P.plot_traces({"1cycle": tr, "flat": np.full(12, 0.05)}, steps_per_epoch=4, title="t", logy=True)
    assert ax.get_xlabel() == "epoch (4 steps each)" and ax.get_yscale() == "log"
    assert ax.get_lines()[0].get_xdata()[-1] == pytest.approx(11 / 4)


def test_surface_plots_keep_the_window_and_mark_start_and_end():
    grid = surfaces.evaluate_grid("bowl", n=21)
    ax = P.plot_contour(grid, title="bowl", log=True)
    xlim = ax.get_xlim()
    path = np.array([[0.0, 0.0], [1.0, 1.0], [100.0, 100.0]])
    P.plot_trajectories({"run": path}, ax)
    assert ax.get_xlim() == xlim and ax.get_xlabel() == "$w_1$"
    assert len(ax.get_lines()) == 3  # the path, its start, and where it leaves the window (its end lies outside)
    with pytest.raises(ValueError, match="shape"):
        P.plot_trajectories({"bad": np.zeros(3)}, ax)
    assert P.plot_surface_3d(grid, title="3d").get_title() == "3d"


def test_per_layer_figures():
    fig = P.plot_layer_hists({"1: 4→3": np.arange(12.0), "2: 3→2": np.ones(6)}, title="t", xlabel="x")
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("layer 1")
    ax = P.plot_depth_curves({"a": [1.0, np.inf, 0.5]}, ylabel="v", title="t", logy=True, reference=1.0)
    assert ax.get_yscale() == "log" and np.isnan(ax.get_lines()[0].get_ydata()[1])
    ax = P.plot_grouped_bars({"relu": {"1": 0.1, "2": 0.2}, "elu": {"1": 0.0, "2": 0.05}}, ylabel="%", title="t")
    assert len(ax.patches) == 4


# ----------------------------------------------------------------------------- house style (#16)
def test_the_style_replaces_no_function_of_another_library():
    """A learner's set_style changes settings only: matplotlib's drawing is matplotlib's (the build's text
    record is _ext/text_record.py, installed in the build's kernels only; tests/test_text_record.py)."""
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('Agg'); from matplotlib.backend_bases import FigureCanvasBase as F; "
            "from matplotlib.text import Text; before = (Text.draw, F.print_figure); "
            "import course_utils; from course_utils import plotting; plotting.set_style(); "
            "assert (Text.draw, F.print_figure) == before, 'set_style replaced a matplotlib function'; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)  # a fresh interpreter
    assert res.stdout.strip() == "ok", res.stderr[-800:]


def test_figsize_fits_the_column_and_rejects_no_panels():
    w, h = P.figsize(2, 1)
    assert w == P.COLUMN_IN and h == pytest.approx(0.72 * P.COLUMN_IN / 2 + 0.4, abs=0.01)
    with pytest.raises(ValueError, match="at least one panel"):
        P.figsize(0, 1)


@pytest.mark.parametrize("value, kwargs, shown", [
    (-3.141908e-267, {"zero_below": 1e-30}, "≈ 0"), (-0.0001, {"digits": 2}, "-0.0001"),
    (-0.0000001, {"digits": 2, "zero_below": 1e-6}, "≈ 0"), (float("nan"), {"nan": "never"}, "never"),
    (float("inf"), {}, "diverged"), (None, {}, "—"), (89.1834, {}, "89.2"), (12345.678, {}, "12346"),
    (9.78e-05, {}, "9.78e-5"), (0.0, {}, "0"), (0.5, {"percent": True}, "0.5 %"), ("SGD", {}, "SGD")])
def test_fmt_number(value, kwargs, shown):
    assert P.fmt_number(value, **kwargs) == shown


def test_table_formats_numbers_and_names_unknown_columns():
    import pandas as pd

    df = pd.DataFrame({"name": ["a", "b"], "x": [1.23456, float("nan")], "n": [3, 4]})
    html = P.table(df, formats={"n": "{:d} runs"}, hide_index=True).to_html()
    assert "1.23" in html and "1.23456" not in html and "—" in html and "3 runs" in html
    with pytest.raises(ValueError, match="does not have"):
        P.table(df, formats={"y": "{:.1f}"})


def test_legend_outside_and_its_errors():
    fig, ax = plt.subplots()
    assert P.legend_outside(ax) is None          # nothing labelled
    ax.plot([0, 1], label="a")
    leg = P.legend_outside(ax, where="right")
    assert leg is not None and leg.get_bbox_to_anchor() is not None
    with pytest.raises(ValueError, match="below"):
        P.legend_outside(ax, where="inside")
    plt.close(fig)


def test_set_style_shows_plain_dataframes_with_significant_digits():
    P.set_style()
    html = pd.DataFrame({"x": [0.040033123, -0.0]})._repr_html_()
    assert "0.04003" in html and "0.040033" not in html and "-0" not in html.replace("-0.04", "")


def test_trajectory_ends_all_show_and_an_end_outside_is_marked_at_the_edge():
    """Ends at the same spot are stacked smaller and smaller over every path (none hidden); a run that ends
    outside the axes gets a triangle where it crosses the edge, pointing out, and its legend says where it ended."""
    fig, ax = plt.subplots()
    ax.set(xlim=(-1, 1), ylim=(-1, 1))
    t = np.linspace(0, 1, 30)[:, None]
    paths = {"SGD (lr 0.1)": np.c_[t - 1, 0 * t], "Adam (lr 0.1)": np.c_[0 * t, t - 1],
             "momentum (lr 1)": np.c_[0.5 * t, 3 * t]}  # the first two end at (0, 0); momentum ends at (0.5, 3)
    P.plot_trajectories(paths, ax)
    stars = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
    assert len(stars) == 2 and stars[0].get_markersize() > stars[1].get_markersize()
    assert min(s.get_zorder() for s in stars) > max(ln.get_zorder() for ln in ax.get_lines()[:3])
    (tri,) = [ln for ln in ax.get_lines() if ln.get_marker() == "^" and ln.get_markersize() == 11]
    assert np.allclose([tri.get_xdata()[0], tri.get_ydata()[0]], [1 / 6, 1.0])  # leaves through w2 = 1 at w1 = 1/6
    assert ax.outside_ends == ["momentum (lr 1)"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[2] == "momentum (lr 1); ends off the plot at (0.5, 3)" and labels[:2] == list(paths)[:2]
    colours = {ln.get_label(): ln.get_color() for ln in ax.get_lines()[:3]}  # the optimizers' own colours
    assert colours["SGD (lr 0.1)"] == P.OPTIMIZER_STYLES["SGD"]["color"]
    assert colours["Adam (lr 0.1)"] == P.OPTIMIZER_STYLES["Adam"]["color"]
    # The alt text says where each run ends (on the plot or off it) instead of comparing final w2 across runs.
    d = ax.course_description
    assert "3 paths of 29 steps from (-1, 0) and (0, -1)" in d, d
    assert "SGD (lr 0.1) ends at (0, 0)" in d and "momentum (lr 1) leaves the plot" in d and "as high" not in d, d
    fig2, ax2 = plt.subplots()
    ax2.set(xlim=(-1, 1), ylim=(-1, 1))
    P.plot_trajectories({"run": np.array([[-1.0, 0.5], [-0.0162, 6.09e-38]])}, ax2, legend=False)
    assert "run ends at (-0.0162, 0)" in ax2.course_description, ax2.course_description  # rounding, not a value
    plt.close(fig2)


def test_optimizer_styles_keep_one_colour_per_optimizer_and_separate_its_runs():
    st = P.optimizer_styles(["SGD, lr 0.1", "SGD+momentum, lr 0.1", "Adam, lr 0.001", "SGD, lr 0.3 (swept)",
                             "AdamW", "NAdam"])
    assert st["SGD, lr 0.1"]["color"] == st["SGD, lr 0.3 (swept)"]["color"] == P.OPTIMIZER_STYLES["SGD"]["color"]
    assert st["SGD, lr 0.1"]["ls"] != st["SGD, lr 0.3 (swept)"]["ls"]        # two rates of one optimizer
    assert st["SGD+momentum, lr 0.1"]["color"] == P.OPTIMIZER_STYLES["momentum"]["color"]
    assert st["Adam, lr 0.001"]["marker"] == P.OPTIMIZER_STYLES["Adam"]["marker"]
    others = {st["AdamW"]["color"], st["NAdam"]["color"]}  # not Adam: colours no named optimizer here uses
    assert len(others) == 2 and not others & {P.OPTIMIZER_STYLES[n]["color"] for n in ("SGD", "momentum", "Adam")}
    assert P.optimizer_of("velocity form (η, β)") == "momentum" and P.optimizer_of("GD (lr 0.9)") == "SGD"


def test_ratio_bands_draw_each_ratio_with_its_band():
    t = pd.DataFrame({"case": ["a", "a", "b", "b"], "layer": [1, 2, 1, 2], "ratio": [1.0, 1.2, 0.9, 1.0],
                      "se": [0.1, 0.05, 0.2, 0.0]})
    ax = P.plot_ratio_bands(t, ratio="ratio", se="se", group="case", item="layer", z=2.0, title="parity")
    assert ax.get_xscale() == "log" and [x.get_text() for x in ax.get_yticklabels()] == ["a", "b"]
    assert ax.get_legend() is not None and [x.get_text() for x in ax.get_legend().get_texts()] == ["layer 1", "layer 2"]
    # the bar of case a, layer 2 spans 1.2 * exp(-0.1) .. 1.2 * exp(0.1) at case a's row, shifted for layer 2
    segs = np.concatenate([c.get_segments() for c in ax.collections if hasattr(c, "get_segments")])
    spans = sorted((round(s[0][0], 6), round(s[1][0], 6)) for s in segs)
    assert (round(1.2 * np.exp(-0.1), 6), round(1.2 * np.exp(0.1), 6)) in spans
    assert (round(0.9 * np.exp(-0.4), 6), round(0.9 * np.exp(0.4), 6)) in spans


def test_ratio_bands_describe_what_lies_within_the_noise():
    t = pd.DataFrame({"case": ["a", "a", "b", "b"], "layer": [1, 2, 1, 2], "ratio": [1.0, 1.2, 0.9, 1.0],
                      "se": [0.1, 0.05, 0.2, 0.0]})
    ax = P.plot_ratio_bands(t, ratio="ratio", se="se", group="case", item="layer", z=2.0)
    # a layer 2: |log 1.2| = 0.18 > 2 * 0.05, outside its band; the other three include 1
    assert ax.course_description == ("ratio for 2 cases × 2 layers: ratios from 0.9 to 1.2; 3 of 4 lie within "
                                     "±2 standard errors of 1, all but a layer 2; cases entirely within: b")


def test_sweep_draws_diverged_runs_on_the_axis_floor_with_one_legend_entry():
    sweep = pd.DataFrame({"optimizer": ["A", "A", "A", "B", "B"], "lr": [0.01, 0.1, 1.0, 0.01, 0.1],
                          "best_val_acc": [0.8, 0.85, np.nan, 0.82, np.nan]})
    ax = P.plot_sweep(sweep)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "A", "B", "diverged (crosses on the axis floor, side by side)"]
    crosses = [c for c in ax.collections if c.get_gid()]
    assert sorted(c.get_gid() for c in crosses) == ["A diverged", "B diverged"]
    for c in crosses:  # at the bottom edge (axes y = 0), not at an accuracy of some run
        xy = c.get_offset_transform().transform(c.get_offsets())
        assert np.allclose(ax.transAxes.inverted().transform(xy)[:, 1], 0.0) and not c.get_clip_on()
    plt.close("all")
    ax = P.plot_sweep(sweep[sweep.optimizer == "A"])  # one series with crosses: exactly at its rate
    assert ax.get_legend().get_texts()[-1].get_text() == "diverged (cross on the axis floor)"
    (c,) = [c for c in ax.collections if c.get_gid()]
    x = ax.transData.inverted().transform(c.get_offset_transform().transform(c.get_offsets()))[:, 0]
    assert np.allclose(x, 1.0)
    plt.close("all")


def test_sweep_sets_apart_the_crosses_of_series_diverging_at_the_same_rate():
    sweep = pd.DataFrame({"optimizer": ["A", "A", "B", "B", "C", "C"], "lr": [0.1, 1.0, 0.1, 1.0, 0.1, 1.0],
                          "best_val_acc": [0.8, np.nan, 0.82, np.nan, 0.81, np.nan]})
    ax = P.plot_sweep(sweep)
    ax.figure.canvas.draw()
    crosses = sorted((c for c in ax.collections if c.get_gid()), key=lambda c: c.get_gid())
    pixels = [c.get_offset_transform().transform(c.get_offsets())[0] for c in crosses]
    for c in crosses:  # the data stay at the rate (what the alt text reads), on the axis floor
        assert np.allclose(c.get_offsets()[:, 0], 1.0) and not c.get_clip_on()
    ys = [ax.transAxes.inverted().transform(p)[1] for p in pixels]
    xs = [p[0] for p in pixels]
    gaps = np.diff(xs)
    assert np.allclose(ys, 0.0) and (gaps > 5).all(), (xs, ys)           # side by side, a cross apart ...
    centre = ax.transData.transform((1.0, 1.0))[0]
    assert abs(np.mean(xs) - centre) < 1e-6                                # ... centred on the rate
    plt.close("all")


def test_phase_diagram_says_what_it_shows_from_its_arrays():
    """The phase diagram's alt text (ax.course_description, read by _ext/figure_describe.py) is computed from the
    arrays it draws: the colour's range and where, which side of the line is below 1, where the line runs,
    where each marked point lies; moving a point or flipping the map changes what it says."""
    wv, bv = np.linspace(0.25, 4.0, 76), np.linspace(0.0, 0.3, 31)
    W, B = np.meshgrid(wv, bv)
    edge_b = np.linspace(0.0, 0.3, 16)
    diagram = {"weight_var": wv, "bias_var": bv, "chi1": W / (1.0 + 5.0 * B)}  # = 1 on the line w = 1 + 5 b
    points = {"far right": (3.0, 0.1), "on it": (1.0, 0.0), "left": (0.5, 0.0)}
    ax = P.plot_phase_diagram(diagram, edge=(edge_b, 1.0 + 5.0 * edge_b), points=points)
    text = ax.course_description
    assert text.startswith("the colour shows χ1, the error-signal variance factor per layer, on a log scale, white at 1: "
                           "from 0.1 (weight variance 0.25, bias variance 0.3) to 4 (weight variance 4, bias variance 0)"), text
    assert "everywhere left of the black line and above 1 (orange, chaotic: it grows) everywhere right of it" in text
    assert ("runs from weight variance 1 at bias variance 0 to 2.5 at bias variance 0.3, moving to larger weight "
            "variances as the bias variance grows") in text, text
    assert ("3 marked points (weight variance, bias variance), from left to right: left at (0.5, 0): χ1 0.5, on the "
            "ordered side; on it at (1, 0): χ1 1, on the line; far right at (3, 0.1): χ1 2, on the chaotic side") in text
    assert "saturating below 0.125 and above 1.5" in text  # the map's 0.1 and 4 lie beyond the colour's ends
    assert not any(s in text for s in ("$", "\\", "_{")), text
    # computed, not typed: a point moved across the line, and a map whose sides disagree with the line
    ax = P.plot_phase_diagram(diagram, edge=(edge_b, 1.0 + 5.0 * edge_b), points={"moved": (1.5, 0.3)})
    assert "moved at (1.5, 0.3): χ1 0.6, on the ordered side" in ax.course_description
    flipped = {**diagram, "chi1": 1.0 / diagram["chi1"]}
    ax = P.plot_phase_diagram(flipped, edge=(edge_b, 1.0 + 5.0 * edge_b), points=points)
    assert "it is below 1 (purple, ordered: the error signal shrinks layer by layer) in 0 of the " in ax.course_description
    assert "everywhere" not in ax.course_description


def test_correlation_curves_describe_theory_and_measurement():
    """Its lines carry no labels (the legend is built from proxies), so the alt text would read 'line 2 is highest':
    the function says, from its arrays, where each theory line and its measurement start and end, and the largest gap."""
    theory = {"ordered": np.linspace(0.5, 1.0, 10), "chaotic": np.linspace(0.5, 0.2, 10)}
    measured = {"ordered": np.stack([theory["ordered"] + 0.01, theory["ordered"] - 0.01]),
                "chaotic": np.stack([theory["chaotic"], theory["chaotic"]])}
    measured["chaotic"][:, 3] += 0.1  # the largest gap: chaotic, layer 4
    ax = P.plot_correlation_curves(theory, measured, title="two inputs")
    assert ax.course_description == (
        "2 series, each a theory line and measured markers (the mean of 2 runs): ordered: theory from 0.5 at layer 1 "
        "to 1 at layer 10, measured 0.5 at layer 1 and 1 at layer 10; chaotic: theory from 0.5 at layer 1 to 0.2 at "
        "layer 10, measured 0.5 at layer 1 and 0.2 at layer 10; measurement and theory differ by at most 0.1 "
        "(chaotic, layer 4)"), ax.course_description


def test_clipping_vectors_alt_text_says_the_directions():
    """The alt text of the clipping figure says each arrow's direction and how far clipping by value turns it
    (the describer alone read the arrows' shafts as curves: "from 0 at component 1 0 to 1 ...")."""
    import matplotlib.pyplot as plt

    from course_utils import plotting

    ax = plotting.plot_clipping_vectors({"gradient": (0.9, 100), "clipped by value": (0.9, 1),
                                         "clipped by norm": (0.009, 1.0)})
    text = ax.course_description
    plt.close(ax.figure)
    assert "clipped by value (0.9, 1) at 48.0°" in text and "turned 41.5° from the gradient" in text, text
    assert "clipped by norm (0.009, 1) at 89.5°" in text and "the gradient's direction" in text, text
