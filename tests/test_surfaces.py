"""Tests of course_utils.surfaces and course_utils.explorer: gradients, minima, trajectories, errors."""
import base64
import io
import json
import math

import numpy as np
import pytest
import torch

from course_utils import explorer as E
from course_utils import optim as O
from course_utils import surfaces as S

F64 = torch.float64


# ----------------------------------------------------------------------------- closed-form gradients
def _grad_pathological(w1, w2):
    sech2 = 1 - torch.tanh(w1) ** 2
    sig = torch.sigmoid(w2)
    return 2 * torch.tanh(w1) * sech2 + 0.01 * torch.sign(w1), sig * (1 - sig)


def _grad_steep(w1, w2):
    g1, g2 = torch.zeros_like(w1), torch.zeros_like(w2)
    for c1, c2 in S.STEEP_CENTRES:  # d/dw of -N(w) is N(w) (w - mu) / sigma^2
        n = S.bivariate_gaussian(w1, w2, mean=(c1, c2), sigma=(0.2, 0.2))
        g1, g2 = g1 + n * (w1 - c1) / 0.04, g2 + n * (w2 - c2) / 0.04
    return g1, g2


def _grad_bowl(w1, w2):
    return 0.05 * w1, 2.0 * w2


def _grad_rosenbrock(w1, w2):
    return -2 * (1 - w1) - 400 * w1 * (w2 - w1 ** 2), 200 * (w2 - w1 ** 2)


CASES = [
    (S.pathological_curvature, _grad_pathological, (-4.0, 4.0)),
    (S.steep_optima, _grad_steep, (-1.6, 1.6)),
    (S.elongated_bowl, _grad_bowl, (-9.0, 9.0)),
    (S.rosenbrock, _grad_rosenbrock, (-1.8, 1.8)),
]


@pytest.mark.parametrize("fn,grad,box", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_autograd_matches_closed_form(fn, grad, box):
    gen = torch.Generator().manual_seed(0)
    w = (box[0] + (box[1] - box[0]) * torch.rand(64, 2, generator=gen, dtype=F64)).requires_grad_()
    (g_auto,) = torch.autograd.grad(fn(w).sum(), w)
    g1, g2 = grad(w[:, 0].detach(), w[:, 1].detach())
    torch.testing.assert_close(g_auto, torch.stack([g1, g2], dim=-1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn,grad,box", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_autograd_matches_finite_differences(fn, grad, box):
    gen = torch.Generator().manual_seed(1)
    w = box[0] + (box[1] - box[0]) * torch.rand(16, 2, generator=gen, dtype=F64)
    w = w[w[:, 0].abs() > 1e-3]  # |w1| has a kink at 0
    (g_auto,) = torch.autograd.grad(fn(w.requires_grad_()).sum(), w)
    h = 1e-6
    e = torch.eye(2, dtype=F64)
    fd = torch.stack([(fn(w.detach() + h * e[j]) - fn(w.detach() - h * e[j])) / (2 * h) for j in range(2)], -1)
    torch.testing.assert_close(g_auto, fd, rtol=1e-5, atol=1e-6)


def test_two_call_forms_agree_and_keep_shape():
    W1, W2 = torch.meshgrid(torch.linspace(-2, 2, 7, dtype=F64), torch.linspace(-1, 3, 5, dtype=F64), indexing="xy")
    for fn in (S.pathological_curvature, S.steep_optima, S.elongated_bowl, S.rosenbrock):
        z = fn(W1, W2)
        assert z.shape == (5, 7)
        torch.testing.assert_close(z, fn(torch.stack([W1, W2], -1)))


# ----------------------------------------------------------------------------- known values and minima
def test_rosenbrock_minimum_at_one_one():
    assert S.rosenbrock(torch.tensor([1.0, 1.0], dtype=F64)).item() == 0.0
    w = torch.tensor([1.0, 1.0], dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(S.rosenbrock(w), w)
    assert torch.all(g == 0)
    assert S.rosenbrock(torch.tensor([2.0, 4.0], dtype=F64), a=2.0).item() == 0.0


def test_steep_optima_minimum_near_each_centre():
    # gradient descent from next to each centre settles within a hair of it (the other wells pull slightly)
    starts = [(c1 + 0.05, c2 - 0.05) for c1, c2 in S.STEEP_CENTRES]
    ends = S.train_curves("steep", O.SGD, starts, [{"lr": 0.005}], steps=200)[0, -1]  # (3, 2)
    np.testing.assert_allclose(ends, np.array(S.STEEP_CENTRES), atol=1e-3)
    # depth: the well's own peak density 1/(2 pi 0.2^2) ~ 3.98 (others contribute < 1e-6)
    for centre in S.STEEP_CENTRES:
        assert S.steep_optima(torch.tensor(centre, dtype=F64)).item() == pytest.approx(-1 / (2 * math.pi * 0.04), rel=1e-4)


def test_bivariate_gaussian_integrates_to_one():
    W1, W2 = torch.meshgrid(torch.linspace(-3, 4, 701, dtype=F64), torch.linspace(-4, 3, 701, dtype=F64), indexing="xy")
    z = S.bivariate_gaussian(W1, W2, mean=(0.5, -0.5), sigma=(0.4, 0.7))
    assert (z.sum() * 0.01 * 0.01).item() == pytest.approx(1.0, rel=1e-3)


def test_sharp_flat_curvatures():
    # L''(c) = d / s^2 at each well's bottom (sharp: 100, flat: 2.5); the other well adds < 1e-3
    for c, s, d in S.SHARP_FLAT_WELLS.values():
        h = 1e-4
        w = torch.tensor([c - h, c, c + h], dtype=F64)
        L = S.sharp_flat_1d(w)
        assert ((L[0] - 2 * L[1] + L[2]) / h ** 2).item() == pytest.approx(d / s ** 2, rel=1e-3)
    # the shift moves the curve sideways
    assert S.sharp_flat_1d(torch.tensor(-0.8, dtype=F64), shift=0.2).item() == pytest.approx(
        S.sharp_flat_1d(torch.tensor(-1.0, dtype=F64)).item())


# ----------------------------------------------------------------------------- train_curve
@pytest.mark.parametrize("name", ["pathological", "steep", "bowl", "rosenbrock", "sharp_flat"])
def test_train_curve_shape_and_start(name):
    surf = S.get_surface(name)
    p = S.train_curve(name, torch.optim.SGD, steps=7, lr=1e-3)
    assert p.shape == (8, surf.dim) and p.dtype == np.float64
    np.testing.assert_array_equal(p[0], surf.start)


def test_train_curve_gradient_descent_by_hand():
    # two steps of GD on the bowl, written out: w <- w - lr * (a w1, b w2)
    p = S.train_curve("bowl", O.SGD, start=(4.0, 1.0), steps=2, lr=0.1)
    w = np.array([4.0, 1.0])
    for t in (1, 2):
        w = w - 0.1 * np.array([0.05, 2.0]) * w
        np.testing.assert_allclose(p[t], w, rtol=1e-14)


@pytest.mark.parametrize("cls,kw", [(O.SGD, dict(lr=1e-3, momentum=0.9)), (O.Adam, dict(lr=0.1))])
def test_rosenbrock_converges(cls, kw):
    p = S.train_curve("rosenbrock", cls, start=(-1.5, 2.0), steps=1000, **kw)
    assert np.linalg.norm(p[-1] - 1.0) < 0.05


def test_book_optimizers_give_torchs_trajectories():
    for mine, theirs, kw in [(O.Adam, torch.optim.Adam, dict(lr=0.2)), (O.RMSprop, torch.optim.RMSprop, dict(lr=0.05)),
                             (O.Adagrad, torch.optim.Adagrad, dict(lr=0.5))]:
        np.testing.assert_allclose(S.train_curve("steep", mine, steps=100, **kw),
                                   S.train_curve("steep", theirs, steps=100, **kw), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cls,configs", [
    (O.SGD, [{"lr": 0.5}, {"lr": 2.0}]),
    (O.SGDMomentum, [{"lr": 1.0, "momentum": 0.5}, {"lr": 1.0, "momentum": 0.9}]),
    (O.Adam, [{"lr": 0.2, "betas": (0.9, 0.999)}, {"lr": 0.05, "betas": (0.5, 0.9)}]),
    (torch.optim.RMSprop, [{"lr": 0.01, "alpha": 0.9}]),
])
def test_batched_runs_equal_single_runs(cls, configs):
    starts = [(0.0, 0.0), (0.4, -0.1), (-1.5, 1.5)]
    runs = S.train_curves("steep", cls, starts, configs, steps=40)
    assert runs.shape == (len(configs), 41, 3, 2)
    for g, kw in enumerate(configs):
        for n, st in enumerate(starts):
            np.testing.assert_allclose(runs[g, :, n], S.train_curve("steep", cls, st, 40, **kw), rtol=1e-12, atol=1e-14)


def test_losses_along_and_nearest_minimum():
    p = np.array([[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(S.losses_along("rosenbrock", p), [0.0, 1.0])
    assert S.nearest_minimum("steep", (-0.45, -0.7)) == (2, pytest.approx(math.hypot(0.05, 0.1)))


def test_evaluate_grid_orientation():
    W1, W2, Z = S.evaluate_grid("rosenbrock", xlim=(-2, 2), ylim=(-1, 3), n=5)
    assert W1.shape == W2.shape == Z.shape == (5, 5)
    assert np.all(np.diff(W1[0]) > 0) and np.all(np.diff(W2[:, 0]) > 0)  # x along columns, y along rows
    np.testing.assert_allclose(Z, (1 - W1) ** 2 + 100 * (W2 - W1 ** 2) ** 2)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,exc,match", [
    (lambda: S.rosenbrock(torch.zeros(3)), ValueError, r"shape \(\.\.\., 2\)"),
    (lambda: S.rosenbrock(torch.zeros(3), torch.zeros(4)), ValueError, "same shape"),
    (lambda: S.steep_optima([0.0, 0.0]), TypeError, "torch tensors"),
    (lambda: S.bivariate_gaussian(torch.zeros(2), sigma=(0.0, 1.0)), ValueError, "positive"),
    (lambda: S.elongated_bowl(torch.zeros(2), a=-1.0), ValueError, "positive"),
    (lambda: S.get_surface("banana"), ValueError, "Unknown surface"),
    (lambda: S.train_curve("steep", torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1)), TypeError, "class itself"),
    (lambda: S.train_curve("steep", torch.optim.SGD, start=(0.0,), lr=1), ValueError, "2 coordinates"),
    (lambda: S.train_curve("steep", torch.optim.SGD, steps=-1, lr=1), ValueError, "non-negative"),
    (lambda: S.train_curves("steep", torch.optim.SGD, [(0.0, 0.0)], []), ValueError, "configs is empty"),
    (lambda: S.train_curves("steep", torch.optim.SGD, [0.0, 0.0], [{"lr": 1}]), ValueError, r"shape \(N, 2\)"),
    (lambda: S.evaluate_grid("sharp_flat"), ValueError, "2-D"),
    (lambda: E.make_optimizer("Lion", 0.1), ValueError, "Unknown optimizer"),
    (lambda: E.ExplorerGrid("steep", lrs=(), starts=((0, 0),)), ValueError, "at least one"),
    (lambda: E.ExplorerGrid("steep", lrs=(0.1,), starts=((0, 0),), ylim=(3.0, -3.0)), ValueError, "low < high"),
])
def test_bad_input_raises_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----------------------------------------------------------------------------- the static explorer
def test_static_explorer_data_round_trip():
    grid = E.ExplorerGrid("steep", lrs=(0.2, 0.5), starts=((0.0, 0.0), (-1.5, 1.5)), beta1s=(0.9,), beta2s=(0.999,),
                          steps=20)
    data = E.precompute([grid], image_size=(60, 40))
    s = data["surfaces"][0]
    # SGD x2 lr, Momentum x2, Adam x2, RMSprop x2, Adagrad x2 -- times 2 starts
    assert len(s["paths"]) == 5 * 2 * 2
    q = np.frombuffer(base64.b64decode(s["paths"]["Adam|0|0|0|0"]), dtype=np.uint8).reshape(21, 2)
    cls, kw = E.make_optimizer("Adam", 0.2, 0.9, 0.999)
    p = S.train_curve("steep", cls, (0.0, 0.0), 20, **kw)
    np.testing.assert_allclose(-2 + q / 254 * 4, p, atol=4 / 254)  # one quantisation step
    html = E.static_explorer_html(data)
    assert "<script" in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    assert json.loads(html.split('<script type="application/json">')[1].split("</script>")[0])["surfaces"]
    # reading the ends back: one setting, and all of them as a table
    end = E.final_point(data, "steep", "Adam", 0)
    np.testing.assert_allclose(end[:2], p[-1], rtol=1e-3, atol=1e-3)  # stored to 4 significant digits
    assert E.final_point(data, "steep", "SGD", 1, b1_index=0, start_index=1) == s["final"]["SGD|1|0|0|1"]
    table = E.final_points(data)
    assert len(table) == 5 * 2 * 2 and {"surface", "optimizer", "lr", "start", "final loss", "diverged"} <= set(table)
    assert table.loc[table.optimizer == "SGD", "beta1"].isna().all() and (table.loc[table.optimizer == "Adam", "beta1"] == 0.9).all()
    with pytest.raises(ValueError, match="No surface"):
        E.final_point(data, "bowl", "Adam", 0)


def test_explorer_window_and_contour_image_fill_the_plot_area():
    """A grid's own window replaces the surface's for the paths, the stored limits and the contour image;
    the image has exactly the plot area's size and no border (the SVG stretches it over that area)."""
    from PIL import Image
    grid = E.ExplorerGrid("pathological", lrs=(1.0,), starts=((5.0, 5.0),), beta1s=(0.9,), beta2s=(0.999,),
                          steps=10, xlim=(-6.0, 6.0), ylim=(-20.0, 6.0))
    s = E.precompute([grid], image_size=(116, 88))["surfaces"][0]
    assert s["xlim"] == [-6.0, 6.0] and s["ylim"] == [-20.0, 6.0]
    q = np.frombuffer(base64.b64decode(s["paths"]["SGD|0|0|0|0"]), dtype=np.uint8).reshape(11, 2)
    np.testing.assert_allclose(q[0], [(5 + 6) / 12 * 254, (5 + 20) / 26 * 254], atol=0.5)
    im = np.asarray(Image.open(io.BytesIO(base64.b64decode(s["image"]))).convert("RGB"))
    assert im.shape == (88, 116, 3)
    edges = np.concatenate([im[0], im[-1], im[:, 0], im[:, -1]])
    assert (edges.min(axis=1) < 240).all(), "the contour image has a white border"


# ----------------------------------------------------------------------------- paths that leave the window
# The page's script runs in node against a small stand-in for the DOM: the controls it reads, and the SVG
# elements it creates, recorded (tag and attributes) so that the test can measure what it drew.
_FAKE_DOM = r"""
const [jsonText, script, actions] = JSON.parse(require("fs").readFileSync(0, "utf8"));
class El {
  constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; this.textContent = ""; this.options = [];
                     this.value = ""; this._max = "1e9"; this.disabled = false; }
  appendChild(c) { this.children.push(c); return c; }
  removeChild(c) { this.children.splice(this.children.indexOf(c), 1); }
  get firstChild() { return this.children[0] || null; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  getAttribute(k) { return this.attrs[k]; }
  add(o) { this.options.push(o); if (this.options.length === 1) this.value = o.value; }
  set innerHTML(v) { this.options = []; this.value = ""; }
  get max() { return this._max; }
  set max(v) { this._max = String(v); if (+this.value > +v) this.value = String(v); }  // a range input clamps
}
const byClass = {}, root = new El("div");
for (const c of [".ex-surface", ".ex-opt", ".ex-start", ".ex-lr", ".ex-b1", ".ex-b2", ".ex-lr-v", ".ex-b1-v",
                 ".ex-b2-v", ".ex-out", "svg"]) byClass[c] = new El(c);
byClass[".ex-lr"].value = "2"; byClass[".ex-b1"].value = "1"; byClass[".ex-b2"].value = "1";
root.querySelector = (sel) => sel.startsWith("script") ? {textContent: jsonText} : byClass[sel];
global.document = {getElementById: () => root, createElementNS: (ns, tag) => new El(tag)};
global.Option = class { constructor(t, v) { this.text = t; this.value = String(v); } };
eval(script);
for (const [sel, value] of actions) { const e = byClass[sel]; e.value = String(value); (e.onchange || e.oninput)(); }
console.log(JSON.stringify({drawn: root.pathLayer.children.map((c) => [c.tag, c.attrs]),
                            readout: byClass[".ex-out"].textContent}));
"""


def _run_explorer_script(html: str, actions) -> dict:
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the explorer's script cannot run outside a browser")
    blob = html.split('<script type="application/json">')[1].split("</script>")[0]
    script = html.split("<script>")[1].split("</script>")[0]
    res = subprocess.run([node, "-e", _FAKE_DOM], input=json.dumps([blob, script, actions]), capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


def _points(attr: str) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in attr.split()])


def test_window_crossings_cut_paths_at_the_edge_and_the_explorer_stores_them():
    from course_utils.plotting import window_crossings

    path = np.array([[0.0, 0.0], [2.0, 0.0], [3.0, 0.5], [0.5, 0.5], [-3.0, 0.0], [0.0, -3.0], [np.nan, 0.0]])
    got = window_crossings(path, (-1, 1), (-1, 1))
    # leaves at x = 1, comes back at x = 1, leaves at x = -1, passes outside the corner, then stops (NaN)
    assert [(i, k) for i, k, _, _ in got] == [(0, "exit"), (2, "entry"), (3, "exit")]
    np.testing.assert_allclose([g[2:] for g in got], [[1, 0], [1, 0.5], [-1, 0.5 - 0.5 * 1.5 / 3.5]])
    # a segment whose two ends lie outside but whose middle crosses the window enters and leaves it
    assert [k for _, k, _, _ in window_crossings(np.array([[-2.0, 0.0], [2.0, 0.0]]), (-1, 1), (-1, 1))] == ["entry", "exit"]
    assert window_crossings(np.array([[0.0, 0.0], [0.5, 0.5]]), (-1, 1), (-1, 1)) == []
    grid = E.ExplorerGrid("bowl", lrs=(0.3, 2.0), starts=((-9.0, 2.5),), steps=12)
    s = E.precompute([grid], image_size=(60, 40))["surfaces"][0]
    assert "SGD|0|0|0|0" not in s["crossings"]  # lr 0.3 stays inside: nothing stored for it
    rec = np.frombuffer(base64.b64decode(s["crossings"]["SGD|1|0|0|0"]), dtype=np.uint8).reshape(-1, 5)
    # w2 <- (1 - 2 b) w2 = -3 w2: the first step leaves through w2 = -3 at w1 = -9 + 0.55 * 0.9; every later step
    # jumps from one side to the other, through the window (it enters and leaves within the segment)
    assert rec[0].tolist() == [0, 0, 1, round((-9 + 0.55 * 0.9 + 10) / 20 * 254), 0]
    assert [r[:3].tolist() for r in rec[1:]] == [[0, i, k] for i in range(1, 12) for k in (0, 1)]
    assert set(rec[1:, 4].tolist()) == {0, 254}  # through the bottom and top edges


def test_static_explorer_draws_a_path_up_to_the_edge_and_marks_where_it_leaves():
    """SGD at lr 2 on the bowl (above 2/b = 1) leaves the window in its first step and then jumps across it:
    the page draws each step up to the edge with an arrowhead there, no end star, and says the end lies outside.
    A run that stays inside ends in a star. A ravine run that swings in and out of a narrow window is drawn in
    several pieces, each cut at the window's edge."""
    W, H, M = 520, 400, dict(l=46, r=10, t=10, b=38)
    grids = [E.ExplorerGrid("bowl", lrs=(0.3, 2.0), starts=((-9.0, 2.5),), steps=12),
             E.ExplorerGrid("pathological", lrs=(10.0,), starts=((1.0, 5.0),), steps=30, xlim=(-1.0, 1.0),
                            ylim=(-18.0, 6.0))]
    data = E.precompute(grids, image_size=(60, 40))
    html = E.static_explorer_html(data)
    out = _run_explorer_script(html, [[".ex-surface", 0], [".ex-opt", "SGD"], [".ex-lr", 1]])
    tags = [t for t, _ in out["drawn"]]
    lines = [_points(a["points"]) for t, a in out["drawn"] if t == "polyline"]
    arrows = [a for t, a in out["drawn"] if t == "polygon" and a.get("class") == "ex-exit"]
    assert len(lines) == 12 and all(len(p) == 2 for p in lines) and len(arrows) == 12
    assert "ex-end" not in str(out["drawn"])
    assert lines[0][-1][1] == pytest.approx(H - M["b"], abs=0.6)  # the first step cut at the bottom edge (w2 = -3)
    for p in lines[1:]:  # the later steps cross the whole window, from one edge to the other
        assert sorted([p[0][1], p[1][1]]) == pytest.approx([M["t"], H - M["b"]], abs=0.6)
    assert [_points(a["points"])[0].tolist() for a in arrows] == [p[-1].tolist() for p in lines]  # tips on the exits
    assert "outside the window" in out["readout"] and tags.count("circle") == 1  # only the start is inside
    out = _run_explorer_script(html, [[".ex-surface", 0], [".ex-opt", "SGD"], [".ex-lr", 0]])
    assert any(a.get("class") == "ex-end" for t, a in out["drawn"]) and "the star" in out["readout"]
    assert not any(a.get("class") == "ex-exit" for t, a in out["drawn"])
    out = _run_explorer_script(html, [[".ex-surface", 1], [".ex-opt", "SGD"], [".ex-lr", 0]])
    lines = [_points(a["points"]) for t, a in out["drawn"] if t == "polyline"]
    arrows = [a for t, a in out["drawn"] if t == "polygon" and a.get("class") == "ex-exit"]
    key = "SGD|0|0|0|0"
    events = np.frombuffer(base64.b64decode(data["surfaces"][1]["crossings"][key]), dtype=np.uint8).reshape(-1, 5)
    assert len(lines) >= 2 and len(arrows) == int((events[:, 2] == 1).sum()) >= 2
    on_edge = lambda p: min(abs(p[0] - M["l"]), abs(p[0] - (W - M["r"]))) < 0.6  # noqa: E731 (the w1 = ±1 edges)
    for piece in lines:  # every piece that does not start at the start point or end at the last point meets an edge
        assert on_edge(piece[0]) or np.allclose(piece[0], lines[0][0])
    assert sum(on_edge(p[-1]) for p in lines) == len(arrows)
