"""The build's figure lint (_ext/figure_lint.py): each defect a reviewer found is caught on a small figure
that has it, and the fixed figure passes; in a kernel of the build a defect fails the cell."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import plotting as P  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("figure_lint", ROOT / "_ext" / "figure_lint.py")
fl = importlib.util.module_from_spec(_spec)
sys.modules["figure_lint"] = fl                 # its dataclass looks its module up
_spec.loader.exec_module(fl)
_spec = importlib.util.spec_from_file_location("build_kernel", ROOT / "_ext" / "build_kernel.py")
bk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bk)

X = np.linspace(0.0, 1.0, 30)


@pytest.fixture(autouse=True)
def _style():
    P.set_style()
    yield
    plt.close("all")


def kinds(fig):
    return sorted({d.kind for d in fl.lint_figure(fig)})


def _labelled(ax, title="panel"):
    ax.set(title=title, xlabel="x", ylabel="y")


# ----------------------------------------------------------------------------- each defect and its fix
def squeezed(fixed):
    """SELU's defect: two panels squeezed to nothing, their titles over each other."""
    fig, axes = plt.subplots(1, 2, figsize=P.figsize(2) if fixed else (1.4, 2.4))
    axes[0].set_title("forward: variance per layer")
    axes[1].set_title("backward: gradient per layer")
    for ax in axes:
        ax.plot(X, X)
    fig.tight_layout()
    return fig


def hidden_line(fixed):
    """max-norm's defect: "no constraint" exactly under "r = 2", same style."""
    fig, ax = plt.subplots(figsize=P.figsize())
    ax.plot(X, X ** 0.5, label="no constraint")
    ax.plot(X, X ** 0.5, label="r = 2", **({"ls": "--", "marker": "o", "ms": 3} if fixed else {}))
    _labelled(ax)
    P.legend_outside(ax)
    return fig


def hidden_line_noted():
    fig, ax = plt.subplots(figsize=P.figsize())
    ax.plot(X, X ** 0.5, label="no constraint")
    ax.plot(X, X ** 0.5, label="r = 2 (same as no constraint: never active)")
    _labelled(ax)
    P.legend_outside(ax)
    return fig


def hidden_histogram(fixed):
    """max-norm's figure: the unconstrained norms and r = 2's are the same histogram, translucent bars."""
    fig, ax = plt.subplots(figsize=P.figsize())
    norms = np.random.default_rng(0).gamma(4.0, 0.2, 200)
    edges = np.linspace(0, 2, 21)
    ax.hist(norms, bins=edges, alpha=0.5, label="no constraint")
    if fixed:
        ax.hist(norms, bins=edges, histtype="step", ls="--", lw=1.5, label="r = 2")
    else:
        ax.hist(norms, bins=edges, alpha=0.5, label="r = 2")
    _labelled(ax)
    P.legend_outside(ax)
    return fig


def hidden_arrow(fixed):
    """Gradient clipping's defect: the gradient's arrow under the clipped one (by-norm keeps the direction)."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.annotate("", xy=(0.6, 0.8), xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="C0", lw=5 if fixed else 2))
    ax.annotate("", xy=(0.6, 0.8), xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="C1", lw=2))
    ax.set(xlim=(-0.1, 1.1), ylim=(-0.1, 1.1), title="directions", xlabel="g1", ylabel="g2")
    return fig


def legend_over_data(fixed):
    """Dying ReLU's, Nesterov's, Rosenbrock's and save/resume's defect: a legend on the curves."""
    fig, ax = plt.subplots(figsize=P.figsize())
    for k in range(3):
        ax.plot(X, 0.5 + 0.1 * k + 0 * X, label=f"run {k}")
    _labelled(ax)
    P.legend_outside(ax) if fixed else ax.legend(loc="center")
    return fig


def colours_swap(fixed):
    """Loss surfaces' defect: orange is Adam on the left and momentum on the right."""
    fig, axes = plt.subplots(1, 2, figsize=P.figsize(2))
    style = {"Adam": "C1", "momentum": "C2"}
    for ax, order in zip(axes, (["Adam", "momentum"], ["momentum", "Adam"])):
        for k, name in enumerate(order):
            ax.plot(X, X ** (k + 1), label=name, color=style[name] if fixed else f"C{k + 1}")
        _labelled(ax)
    P.legend_outside(axes[0])
    return fig


def overlapping_texts(fixed):
    """Overlapping annotation and title: two texts at the same place."""
    fig, ax = plt.subplots(figsize=P.figsize())
    ax.plot(X, X)
    _labelled(ax, "a title")
    ax.text(0.05, 0.9 if fixed else 0.5, "note A", transform=ax.transAxes)
    ax.text(0.05, 0.5, "note B", transform=ax.transAxes)
    return fig


def crowded_ticks(fixed):
    """Tick labels that run into each other."""
    fig, ax = plt.subplots(figsize=P.figsize())
    ax.plot(X * 1e5, X)
    ax.set_xticks(np.linspace(0, 1e5, 6 if fixed else 40))
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    _labelled(ax)
    return fig


@pytest.mark.parametrize("make, kind", [
    (squeezed, "axes too small"), (squeezed, "texts overlap"), (hidden_line, "hidden series"),
    (hidden_arrow, "hidden series"), (hidden_histogram, "hidden series"), (legend_over_data, "legend over data"),
    (colours_swap, "colour changes meaning"), (overlapping_texts, "texts overlap"),
    (crowded_ticks, "texts overlap")])
def test_each_defect_fails_and_its_fix_passes(make, kind):
    assert kind in kinds(make(fixed=False)), f"{make.__name__}: the lint misses '{kind}'"
    assert kinds(make(fixed=True)) == [], [str(d) for d in fl.lint_figure(make(fixed=True))]


def test_two_identical_dashed_lines_hide_each_other_but_dashed_over_solid_does_not():
    fig, ax = plt.subplots(figsize=P.figsize())
    ax.plot(X, X, ls="--", label="theory A")
    ax.plot(X, X, ls="--", label="theory B")
    _labelled(ax)
    P.legend_outside(ax)
    assert kinds(fig) == ["hidden series"]
    ax.lines[0].set_linestyle("-")
    assert kinds(fig) == []


def test_a_note_in_the_label_is_the_opt_out_for_identical_series():
    assert kinds(hidden_line_noted()) == []


def test_figure_titles_and_labels_are_counted_once():
    fig, axes = plt.subplots(1, 2, figsize=P.figsize(2))
    for ax in axes:
        ax.plot(X, X)
        ax.set_title("panel")
    fig.suptitle("a figure title")
    fig.supxlabel("a shared x label")
    fig.supylabel("a shared y label")
    fig.tight_layout()
    assert kinds(fig) == [], [str(d) for d in fl.lint_figure(fig)]


def test_rotated_tick_labels_are_compared_as_rotated_boxes():
    """Labels turned by 30° whose bounding boxes overlap but whose ink does not are not an overlap."""
    fig, ax = plt.subplots(figsize=P.figsize())
    ax.plot(np.arange(8), np.arange(8))
    ax.set_xticks(np.arange(8), [f"layer {k}" for k in range(8)], rotation=30, ha="right")
    _labelled(ax)
    assert kinds(fig) == []
    fig2, ax2 = plt.subplots(figsize=(3, 3))
    ax2.set_xticks(np.arange(12), [f"a long label {k}" for k in range(12)], rotation=30, ha="right")
    _labelled(ax2)
    assert "texts overlap" in kinds(fig2)


def test_reference_lines_and_colour_bars_are_not_data_or_panels():
    fig, ax = plt.subplots(figsize=P.figsize())
    ax.plot(X, X, label="measured")
    ax.axhline(0.5, color="0.5", lw=0.8)                     # a reference line under the legend is fine
    ax.legend(loc="center right")
    _labelled(ax)
    fig.colorbar(plt.cm.ScalarMappable(), ax=ax, label="level")   # a narrow colour bar is not a panel
    assert kinds(fig) == [], [str(d) for d in fl.lint_figure(fig)]
    ax.plot(X, 0.5 + 0 * X, label="a measured constant")     # the same place drawn as data is covered
    ax.legend(loc="center right")
    assert kinds(fig) == ["legend over data"]


@pytest.mark.parametrize("value, bad", [
    ("axes", True), ("axes array", True), ("lines", True), ("text", True), ("figure", False), ("number", False)])
def test_a_raw_matplotlib_repr_as_last_expression_is_a_defect(value, bad):
    fig, axes = plt.subplots(1, 2, figsize=P.figsize(2))
    v = {"axes": axes[0], "axes array": axes, "lines": axes[0].plot(X, X), "text": axes[0].set_title("t"),
         "figure": fig, "number": 3.0}[value]
    assert (fl.raw_repr(v) is not None) == bad


# ----------------------------------------------------------------------------- in a kernel of the build
def test_in_a_build_kernel_a_defect_fails_the_cell_and_a_learner_kernel_is_untouched(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    bk.write_startup(tmp_path / "ipython")
    cells = ["import matplotlib.pyplot as plt\nx = [0, 1, 2]",
             "fig, ax = plt.subplots()\nax.plot(x, x, label='a'); ax.plot(x, x, label='b')\nax.legend(loc='center');",
             "fig, ax = plt.subplots()\nax.plot(x, x, label='a'); ax.plot(x, x, ls='--', label='b')\nax.set_title('fixed');",
             "fig, ax = plt.subplots()\nax.plot(x, x)\nax",
             "fig, ax = plt.subplots()\nax.plot(x, x, label='a'); ax.plot(x, x, label='b')\nplt.show()\n1 + 1"]

    def run(ipython_dir):
        import os

        errors = []
        env = dict(os.environ, IPYTHONDIR=str(ipython_dir), OMP_NUM_THREADS="1")
        env.pop("COURSE_FIGURE_LINT_REPORT", None)
        old = dict(os.environ)
        os.environ.update(env)
        try:
            for cell in cells[1:]:
                nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in (cells[0], cell)])
                nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120).execute()
                errors.append([o.get("evalue", "") for o in nb.cells[-1].outputs if o.output_type == "error"])
        finally:
            os.environ.clear()
            os.environ.update(old)
        return errors

    build = run(tmp_path / "ipython")
    assert "legend over data" in " ".join(build[0]) and "hidden series" in " ".join(build[0]), build
    assert build[1] == [], build[1]
    assert "raw repr" in " ".join(build[2]) and "<Axes" in " ".join(build[2]), build
    assert "hidden series" in " ".join(build[3]), build                   # shown mid-cell by plt.show()
    assert run(tmp_path / "learner") == [[], [], [], []]
    assert bk.STARTUP.count("figure_lint\").install()") == 1


def test_report_mode_writes_json_lines_instead_of_raising(tmp_path, monkeypatch):
    monkeypatch.setenv(fl.REPORT_ENV, str(tmp_path / "lint.jsonl"))
    fig = legend_over_data(fixed=False)
    fl._report(fl.lint_figure(fig))
    text = (tmp_path / "lint.jsonl").read_text()
    assert '"kind": "legend over data"' in text
    monkeypatch.delenv(fl.REPORT_ENV)
    with pytest.raises(fl.FigureLintError, match="legend over data"):
        fl._report(fl.lint_figure(fig))


# ----------------------------------------------------------------------------- the house figures pass
class _Run:
    def __init__(self, ys, start_epoch=0):
        self.val_acc = list(ys)
        self.start_epoch = start_epoch


def test_the_plotting_helpers_draw_figures_that_pass_the_lint():
    g = np.array([3.0, 4.0])
    ax = P.plot_clipping_vectors({"gradient": g, "clipped by value": [0.01, 0.01], "clipped by norm": g / 5})
    assert kinds(ax.figure) == [], [str(d) for d in fl.lint_figure(ax.figure)]   # same direction: both show
    same = [0.5, 0.6, 0.65, 0.7, 0.72]
    ax = P.plot_learning_curves({"uninterrupted": _Run(same), "resumed": _Run(same), "other": _Run(np.array(same) - 0.1)},
                                title="curves")
    assert kinds(ax.figure) == [], [str(d) for d in fl.lint_figure(ax.figure)]
    ax = P.plot_grouped_bars({"ReLU": {"1": 0.3, "2": 0.5}, "leaky": {"1": 0.1, "2": 0.2}}, ylabel="%", title="bars")
    assert kinds(ax.figure) == [], [str(d) for d in fl.lint_figure(ax.figure)]
    trace = np.r_[np.full(5, 0.1), np.full(5, 0.05)]
    ax = P.plot_traces({"constant": np.full(10, 0.1), "plateau": trace}, title="rates")
    assert kinds(ax.figure) == [], [str(d) for d in fl.lint_figure(ax.figure)]
    fig, axes = plt.subplots(1, 2, figsize=P.figsize(2), layout="constrained")
    paths = {"Adam": np.c_[np.linspace(-1, 0, 20), np.linspace(1, 0, 20)],
             "momentum": np.c_[np.linspace(1, 0, 20), np.linspace(1, 0, 20) ** 2]}
    styles = P.series_styles(paths, n_points=20)
    axes[0].set(xlim=(-1.2, 1.2), ylim=(-0.2, 1.2), title="paths", xlabel="w1", ylabel="w2")
    P.plot_trajectories(paths, axes[0], styles=styles, legend=False)
    for k, p in reversed(list(paths.items())):          # another order in the second panel: same colours
        axes[1].plot(np.hypot(*p.T), label=k, **styles[k])
    axes[1].set(title="distance", xlabel="step", ylabel="distance")
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncol=2)
    assert kinds(fig) == [], [str(d) for d in fl.lint_figure(fig)]


def test_a_legend_below_stays_under_an_x_label_set_after_it():
    fig, ax = plt.subplots(figsize=P.figsize())
    for k in range(3):
        ax.plot(X, X + k, label=f"run {k}")
    P.legend_outside(ax)
    ax.set_xlabel("a label set after the legend,\non two lines")
    ax.set_xticks([0, 0.5, 1], ["zero", "half", "one"], rotation=30)
    ax.set_title("late labels")
    assert kinds(fig) == [], [str(d) for d in fl.lint_figure(fig)]


def test_series_styles_separate_series_without_colour():
    st = P.series_styles(["a", "b", "c"], n_points=40)
    assert len({s["ls"] for s in st.values()}) == 3 and len({s["marker"] for s in st.values()}) == 3
    assert len({s["markevery"] for s in st.values()}) == 3          # markers staggered, not on the same points
    with pytest.raises(ValueError, match="distinct styles"):
        P.series_styles([str(k) for k in range(len(P.PALETTE) + 1)])
