"""The loss-surface explorer: a live ipywidgets version and a static, self-contained HTML version.

* :func:`live_explorer` — sliders that re-run :func:`course_utils.surfaces.train_curve` and redraw
  in a running kernel (Jupyter, Colab).
* :func:`final_point` / :func:`final_points` read the end points of the precomputed runs back (one
  setting, or all of them as a table), so a page never needs the data's key format.
* :func:`precompute` + :func:`static_explorer_html` — the same controls in plain HTML/JavaScript
  for a page without a kernel: every trajectory on a grid of slider values is computed in Python,
  quantised to one byte per coordinate, embedded as JSON next to one contour image per surface,
  and the page script ``course_utils/static/surface_explorer.js`` (drawing with the SVG and number helpers of
  the explorables' ``explorable.js``; both inlined) picks and draws the chosen one.  No external scripts
  (works offline).

Compute first, draw second: :func:`precompute` returns plain data; the HTML and widgets only show it.
"""
from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import uuid
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from . import optim as O
from . import surfaces as S

__all__ = ["SLIDERS_BY_OPTIMIZER", "ExplorerGrid", "DEFAULT_GRIDS", "make_optimizer", "precompute", "final_point",
           "final_points", "static_explorer_html", "live_explorer"]


#: Optimizers offered by the explorer and the slider values each one reads.
SLIDERS_BY_OPTIMIZER: dict[str, tuple[str, ...]] = {
    "SGD": ("lr",),
    "Momentum (EMA)": ("lr", "beta1"),
    "Adam": ("lr", "beta1", "beta2"),
    "RMSprop": ("lr", "beta2"),
    "Adagrad": ("lr",),
}


def make_optimizer(name: str, lr: float, beta1: float = 0.9, beta2: float = 0.999
                   ) -> tuple[type[torch.optim.Optimizer], dict]:
    """Map the explorer's controls to ``(optimizer class, keyword arguments)`` for ``train_curve``.

    ``beta1`` is the momentum (EMA form ``m <- beta1 m + (1 - beta1) g``) or Adam's first-moment
    decay; ``beta2`` is Adam's second-moment decay or RMSprop's ``alpha``.  The classes are the
    book's own, from :mod:`course_utils.optim`.
    """
    if name not in SLIDERS_BY_OPTIMIZER:
        raise ValueError(f"Unknown optimizer {name!r}; choose one of {list(SLIDERS_BY_OPTIMIZER)}.")
    if name == "SGD":
        return O.SGD, {"lr": lr}
    if name == "Momentum (EMA)":
        return O.SGDMomentum, {"lr": lr, "momentum": beta1}
    if name == "Adam":
        return O.Adam, {"lr": lr, "betas": (beta1, beta2)}
    if name == "RMSprop":
        return O.RMSprop, {"lr": lr, "alpha": beta2}
    return O.Adagrad, {"lr": lr}

@dataclasses.dataclass(frozen=True)
class ExplorerGrid:
    """The slider values of one surface in the static explorer."""

    surface: str
    lrs: tuple[float, ...]
    starts: tuple[tuple[float, float], ...]
    beta1s: tuple[float, ...] = (0.5, 0.9, 0.99)
    beta2s: tuple[float, ...] = (0.9, 0.999)
    steps: int = 100
    #: the plotted window, when it should differ from the surface's own (``None``: the surface's)
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    #: ``((optimizer, lr), ...)``: the rate each optimizer starts from on this surface, one of ``lrs`` (the
    #: slider moves there whenever that optimizer or this surface is chosen; an optimizer not named keeps
    #: the slider where it is)
    default_lrs: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        if not self.lrs or not self.starts:
            raise ValueError("an ExplorerGrid needs at least one learning rate and one start point.")
        if any(lr <= 0 for lr in self.lrs):
            raise ValueError(f"learning rates must be positive, got {self.lrs}.")
        for opt, lr in self.default_lrs:
            if opt not in SLIDERS_BY_OPTIMIZER or lr not in self.lrs:
                raise ValueError(f"default_lrs: {opt!r} at {lr!r} must name an optimizer of SLIDERS_BY_OPTIMIZER and a rate "
                                 f"of lrs {self.lrs}.")
        for name in ("xlim", "ylim"):
            lim = getattr(self, name)
            if lim is not None and not (len(lim) == 2 and float(lim[0]) < float(lim[1])):
                raise ValueError(f"{name} must be (low, high) with low < high, got {lim!r}.")


DEFAULT_GRIDS: tuple[ExplorerGrid, ...] = (
    # the ravine falls towards w2 -> -inf: a window reaching down to w2 = -18 (ticks every 6) keeps 80 of
    # the 130 paths whole (the surface's own +-5 window kept 41; Adam and RMSprop at the larger rates
    # still slide out)
    # (the sources' rates: SGD 10, momentum 10 in the averaging form, Adam 1 on the ravine; 0.5, 1, 0.2 on
    # the steep optima)
    ExplorerGrid("pathological", lrs=(0.1, 0.3, 1.0, 3.0, 10.0), starts=((5.0, 5.0), (-4.0, 2.0)),
                 xlim=(-6.0, 6.0), ylim=(-18.0, 6.0),
                 default_lrs=(("SGD", 10.0), ("Momentum (EMA)", 10.0), ("Adam", 1.0))),
    ExplorerGrid("steep", lrs=(0.05, 0.1, 0.2, 0.5, 1.0), starts=((0.0, 0.0), (0.4, -0.1)),
                 default_lrs=(("SGD", 0.5), ("Momentum (EMA)", 1.0), ("Adam", 0.2))),
    ExplorerGrid("bowl", lrs=(0.03, 0.1, 0.3, 0.9, 2.0), starts=((-9.0, 2.5), (6.0, -2.8))),
    ExplorerGrid("rosenbrock", lrs=(3e-4, 1e-3, 3e-3, 0.01, 0.1), starts=((-1.5, 2.0), (1.8, -0.5))),
)


def _key(opt: str, i_lr: int, i_b1: int, i_b2: int, i_start: int) -> str:
    uses = SLIDERS_BY_OPTIMIZER[opt]
    return f"{opt}|{i_lr}|{i_b1 if 'beta1' in uses else 0}|{i_b2 if 'beta2' in uses else 0}|{i_start}"


def _quantise(path: np.ndarray, xlim, ylim) -> str:
    """(T, 2) -> base64 of uint8 pairs; 255 marks a point outside the window (or non-finite)."""
    q = np.empty_like(path)
    for j, (lo, hi) in enumerate((xlim, ylim)):
        q[:, j] = np.round((path[:, j] - lo) / (hi - lo) * 254)
    bad = ~np.isfinite(q).all(axis=1) | (q < 0).any(axis=1) | (q > 254).any(axis=1)
    q = np.nan_to_num(q, nan=255, posinf=255, neginf=255)
    q[bad] = 255
    return base64.b64encode(q.astype(np.uint8).tobytes()).decode()


def _crossings(path: np.ndarray, xlim, ylim) -> str | None:
    """Where the path crosses the window's edge (:func:`course_utils.plotting.window_crossings`), for the page
    to draw it up to the edge: base64 of 5-byte records (segment index, big-endian uint16; 0 = enters,
    1 = leaves; the edge point quantised as in :func:`_quantise`).  None when the path stays inside."""
    from .plotting import window_crossings  # matplotlib is imported here anyway (the contour image)

    events = window_crossings(path, xlim, ylim)
    if not events:
        return None
    rec = bytearray()
    for i, kind, x, y in events:
        qx, qy = (int(np.clip(round((v - lo) / (hi - lo) * 254), 0, 254)) for v, (lo, hi) in ((x, xlim), (y, ylim)))
        rec += bytes([i >> 8, i & 255, 1 if kind == "exit" else 0, qx, qy])
    return base64.b64encode(bytes(rec)).decode()


def _contour_png(surface: S.Surface, width_px: int, height_px: int, n: int = 160,
                 xlim: Sequence[float] | None = None, ylim: Sequence[float] | None = None) -> str:
    import matplotlib.pyplot as plt

    xlim = tuple(surface.xlim if xlim is None else xlim)
    ylim = tuple(surface.ylim if ylim is None else ylim)
    W1, W2, Z = S.evaluate_grid(surface, xlim, ylim, n=n)
    Zs = np.log1p(Z - Z.min()) if surface.log_levels else Z
    dpi = 100
    fig = plt.figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.contourf(W1, W2, Zs, levels=20, cmap="viridis", antialiased=False)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches=None, pad_inches=0)  # exactly width x height: no border (the book style saves "tight")
    plt.close(fig)
    from PIL import Image  # matplotlib depends on Pillow

    small = io.BytesIO()  # 20 contour bands need no more than 32 colours: a palette PNG is ~4x smaller
    Image.open(buf).convert("RGB").quantize(32).save(small, format="PNG", optimize=True)
    return base64.b64encode(small.getvalue()).decode()


def precompute(grids: Sequence[ExplorerGrid] = DEFAULT_GRIDS, *, image_size: tuple[int, int] = (464, 352),
               progress: Callable[[str], None] | None = None) -> dict:
    """Run every combination of each grid's slider values and return JSON-ready data.

    Returns:
        ``{"optimizers": {name: [controls used]}, "surfaces": [{"name", "title", "xlim", "ylim",
        "image" (base64 PNG), "lrs", "beta1s", "beta2s", "starts", "steps", "paths": {key: base64},
        "crossings": {key: base64}, "final": {key: [w1, w2, loss]}, "default_lr": {optimizer: index into
        lrs}}]}`` with keys ``"opt|i_lr|i_b1|i_b2|i_start"``:
        ``paths`` one byte pair per step (255: outside the window), ``crossings`` where a path that leaves the
        window meets its edge (only for those), so the page draws it up to the edge and marks the exit.
    """
    out = {"optimizers": {k: list(v) for k, v in SLIDERS_BY_OPTIMIZER.items()}, "surfaces": []}
    for g in grids:
        surf = S.get_surface(g.surface)
        if surf.dim != 2:
            raise ValueError(f"the explorer draws 2-D surfaces; {surf.name!r} has dim {surf.dim}.")
        if progress:
            progress(surf.name)
        paths, crossings, final = {}, {}, {}
        xlim = tuple(g.xlim) if g.xlim is not None else tuple(surf.xlim)
        ylim = tuple(g.ylim) if g.ylim is not None else tuple(surf.ylim)
        for opt, uses in SLIDERS_BY_OPTIMIZER.items():
            combos = [(i_lr, i_b1, i_b2)
                      for i_lr in range(len(g.lrs))
                      for i_b1 in (range(len(g.beta1s)) if "beta1" in uses else [0])
                      for i_b2 in (range(len(g.beta2s)) if "beta2" in uses else [0])]
            made = [make_optimizer(opt, g.lrs[a], g.beta1s[b], g.beta2s[c]) for a, b, c in combos]
            with np.errstate(all="ignore"):
                # all settings and starts of one optimizer in one batched run: (G, T+1, N, 2)
                runs = S.train_curves(surf, made[0][0], g.starts, [kw for _, kw in made], g.steps)
                ends = runs[:, -1]  # (G, N, 2)
                losses = S.losses_along(surf, ends.reshape(-1, 2)).reshape(ends.shape[:2])
            for j, (i_lr, i_b1, i_b2) in enumerate(combos):
                for i_s in range(len(g.starts)):
                    k = _key(opt, i_lr, i_b1, i_b2, i_s)
                    paths[k] = _quantise(runs[j, :, i_s], xlim, ylim)
                    edge = _crossings(runs[j, :, i_s], xlim, ylim)
                    if edge:
                        crossings[k] = edge
                    final[k] = [float(f"{v:.4g}") if np.isfinite(v) else None
                                for v in (*ends[j, i_s], losses[j, i_s])]
        out["surfaces"].append({
            "name": surf.name, "title": surf.title, "xlim": list(xlim), "ylim": list(ylim),
            "image": _contour_png(surf, *image_size, xlim=xlim, ylim=ylim), "lrs": list(g.lrs), "beta1s": list(g.beta1s),
            "beta2s": list(g.beta2s), "starts": [list(s) for s in g.starts], "steps": g.steps,
            "default_lr": {opt: list(g.lrs).index(lr) for opt, lr in g.default_lrs},
            "paths": paths, "crossings": crossings, "final": final})
    return out


def _surface(data: Mapping, surface: str) -> Mapping:
    for surf in data["surfaces"]:
        if surf["name"] == surface:
            return surf
    raise ValueError(f"No surface {surface!r} in the explorer data; it has {[s['name'] for s in data['surfaces']]}.")


def final_point(data: Mapping, surface: str, optimizer: str, lr_index: int, b1_index: int = 0, b2_index: int = 0,
                start_index: int = 0) -> list:
    """``[w1, w2, loss]`` at the end of one precomputed run (None where it diverged to non-finite values).

    The indices point into the surface's ``lrs``, ``beta1s``, ``beta2s`` and ``starts`` of
    :func:`precompute`'s data; an index of a control the optimizer does not read is ignored.
    """
    if optimizer not in SLIDERS_BY_OPTIMIZER:
        raise ValueError(f"Unknown optimizer {optimizer!r}; choose one of {list(SLIDERS_BY_OPTIMIZER)}.")
    return _surface(data, surface)["final"][_key(optimizer, lr_index, b1_index, b2_index, start_index)]


def final_points(data: Mapping):
    """Every precomputed run's end as a DataFrame: one row per surface, optimizer and setting.

    Columns ``surface, optimizer, lr, beta1, beta2, start, w1, w2, final loss, diverged`` (a beta the
    optimizer does not read is NaN; ``diverged`` where the run left the finite numbers).
    """
    import pandas as pd

    rows = []
    for surf in data["surfaces"]:
        for key, (w1, w2, loss) in surf["final"].items():
            opt, i_lr, i_b1, i_b2, i_s = key.split("|")
            uses = data["optimizers"][opt]
            rows.append({"surface": surf["name"], "optimizer": opt, "lr": surf["lrs"][int(i_lr)],
                         "beta1": surf["beta1s"][int(i_b1)] if "beta1" in uses else np.nan,
                         "beta2": surf["beta2s"][int(i_b2)] if "beta2" in uses else np.nan,
                         "start": tuple(surf["starts"][int(i_s)]), "w1": w1, "w2": w2, "final loss": loss,
                         "diverged": loss is None})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- static HTML
def _script() -> str:
    """The page script: the shared helpers of ``course_utils/static/explorable.js`` (``courseSvgEl``,
    ``courseFmt``: from its first helper up to ``courseExplorable``, which this page does not use) followed by
    ``course_utils/static/surface_explorer.js`` (``courseSurfaceExplorer``).  Both are real files, read once."""
    global _JS_TEXT
    if _JS_TEXT is None:
        from importlib import resources

        static = resources.files("course_utils").joinpath("static")
        engine = static.joinpath("explorable.js").read_text(encoding="utf-8")
        a, b = engine.find("function courseSvgEl("), engine.find("function courseExplorable(")
        if not 0 <= a < b:
            raise RuntimeError("course_utils/static/explorable.js no longer defines courseSvgEl and courseFmt before "
                               "courseExplorable: the surface explorer's script needs them.")
        _JS_TEXT = engine[a:b] + static.joinpath("surface_explorer.js").read_text(encoding="utf-8")
    return _JS_TEXT


_JS_TEXT: str | None = None


def static_explorer_html(data: Mapping, *, width: int = 520, height: int = 400, max_kb: float | None = None) -> str:
    """A self-contained HTML block (controls, SVG, embedded data, inline script) for :func:`precompute` output.

    Display it with ``IPython.display.HTML(static_explorer_html(data))``.  Nothing is loaded from
    the network.

    Raises:
        ValueError: data without surfaces, or an embedded blob above ``max_kb`` KB (default: the explorables'
            limit, :data:`course_utils.explorable.MAX_KB`; then use fewer rates, starts or surfaces).
    """
    from .explorable import MAX_KB

    if not data.get("surfaces"):
        raise ValueError("data has no surfaces: pass the dict returned by precompute().")
    uid = "surface-explorer-" + uuid.uuid4().hex[:8]
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    limit = MAX_KB if max_kb is None else max_kb
    kb = len(blob.encode()) / 1024
    if kb > limit:
        raise ValueError(f"the surface explorer's data is {kb:.0f} KB, above the limit of {limit:.0f} KB: use fewer "
                         f"rates, betas, starts or surfaces, or smaller contour images (precompute's image_size).")
    style = ("font-family:sans-serif;font-size:13px;display:grid;grid-template-columns:auto 1fr;"
             "gap:4px 10px;align-items:center;max-width:%dpx" % width)
    controls = f"""
<div style="{style}">
 <label for="{uid}-surface">surface</label><select id="{uid}-surface" class="ex-surface" style="min-height:24px"></select>
 <label for="{uid}-opt">optimizer</label><select id="{uid}-opt" class="ex-opt" style="min-height:24px"></select>
 <label for="{uid}-lr">learning rate</label><span><input id="{uid}-lr" class="ex-lr" type="range" min="0" max="4" step="1" value="2"> <b class="ex-lr-v"></b></span>
 <label for="{uid}-b1">momentum / &beta;<sub>1</sub></label><span><input id="{uid}-b1" class="ex-b1" type="range" min="0" max="2" step="1" value="1"> <b class="ex-b1-v"></b></span>
 <label for="{uid}-b2">&beta;<sub>2</sub> (Adam) / &alpha; (RMSprop)</label><span><input id="{uid}-b2" class="ex-b2" type="range" min="0" max="1" step="1" value="1"> <b class="ex-b2-v"></b></span>
 <label for="{uid}-start">start point</label><select id="{uid}-start" class="ex-start" style="min-height:24px"></select>
</div>"""
    alt = html.escape("Contour plot of the chosen loss surface with the chosen optimizer's trajectory drawn on it: "
                      "a white square marks the start, a star the end, and an arrowhead on the edge the place "
                      "where a path leaves the window.")
    return (f'<div id="{uid}" class="surface-explorer">{controls}'
            f'<svg viewBox="0 0 {width} {height}" style="width:100%;max-width:{width}px;height:auto" role="img" '
            f'aria-label="{alt}" xmlns="http://www.w3.org/2000/svg"></svg>'
            f'<div class="ex-out" role="status" aria-live="polite" style="font-family:monospace;font-size:12px"></div>'
            f'<script type="application/json">{blob}</script>'
            f'<script>(function(){{{_script()}courseSurfaceExplorer(document.getElementById("{uid}"), '
            f'{int(width)}, {int(height)});}})();</script></div>')


# ----------------------------------------------------------------------------- live widgets
def live_explorer(steps: int = 100, surfaces: Sequence[str] = ("pathological", "steep", "bowl", "rosenbrock")):
    """Sliders that re-run the optimizer and redraw its path on the surface (needs a running kernel).

    Returns an ``ipywidgets.VBox``; display it as the last expression of a cell.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from .plotting import plot_contour, plot_trajectories

    grids = {name: S.evaluate_grid(name, n=120) for name in surfaces}
    c = {
        "surface": W.Dropdown(options=list(surfaces), value=surfaces[0], description="surface"),
        "opt": W.Dropdown(options=list(SLIDERS_BY_OPTIMIZER), value="Adam", description="optimizer"),
        "lr": W.FloatLogSlider(value=1.0, base=10, min=-4, max=1.3, step=0.1, description="learning rate"),
        "beta1": W.FloatSlider(value=0.9, min=0.0, max=0.999, step=0.01, description="momentum/β₁"),
        "beta2": W.FloatSlider(value=0.999, min=0.5, max=0.9999, step=0.0005, readout_format=".4f",
                               description="β₂ / α"),
        "x0": W.FloatSlider(value=5.0, min=-5, max=5, step=0.1, description="start w₁"),
        "y0": W.FloatSlider(value=5.0, min=-5, max=5, step=0.1, description="start w₂"),
    }
    for w in c.values():
        w.style = {"description_width": "110px"}
        w.continuous_update = False
    out = W.Output()

    def on_surface(change):  # move the start sliders into the new window
        surf = S.get_surface(change["new"])
        for key, lim, v in (("x0", surf.xlim, surf.start[0]), ("y0", surf.ylim, surf.start[1])):
            c[key].min, c[key].max = -1e9, 1e9  # avoid min > max while updating
            c[key].min, c[key].max, c[key].value = lim[0], lim[1], v
    c["surface"].observe(on_surface, names="value")

    def redraw(surface, opt, lr, beta1, beta2, x0, y0):
        surf = S.get_surface(surface)
        cls, kw = make_optimizer(opt, lr, beta1, beta2)
        with np.errstate(all="ignore"):
            path = S.train_curve(surf, cls, (x0, y0), steps, **kw)
            loss = S.losses_along(surf, path[-1:])[0]
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6.2, 4.5))
            plot_contour(grids[surface], ax=ax, title=f"{surf.title}: {opt}, lr = {lr:.3g}", log=surf.log_levels)
            plot_trajectories({f"{opt} ({steps} steps)": path}, ax)
            ax.text(0.01, 0.01, f"end: ({path[-1, 0]:.3g}, {path[-1, 1]:.3g}), loss {loss:.4g}",
                    transform=ax.transAxes, fontsize=9, color="w")
            plt.show()

    W.interactive_output(redraw, c)
    return W.VBox([W.HBox([W.VBox([c["surface"], c["opt"], c["lr"], c["beta1"]]),
                           W.VBox([c["beta2"], c["x0"], c["y0"]])]), out])
