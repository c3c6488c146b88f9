"""The :class:`Explorable`: the precomputed grid over the controls and its two front ends.

:meth:`Explorable.precompute` runs ``compute`` once per combination of control values;
:meth:`Explorable.html` / :meth:`Explorable.write_html` embed the data and the page script
(:func:`_script`, ``course_utils/static/explorable.js``) into one static HTML block;
:meth:`Explorable.live` builds the same controls as ``ipywidgets`` and redraws with matplotlib (both imported
only there).
"""
from __future__ import annotations

import html as _html
import json
import math
import uuid
from typing import Any, Callable, Mapping, Sequence

from .encoding import _good, decode_series, encode_series, series_events
from .spec import MAX_KB, Menu, PALETTE, Panel, Point, Slider, _DEFAULT_TEXTS, _fmt

# ----------------------------------------------------------------------------- the explorable
class Explorable:
    """A figure of one or more panels over a grid of control values (see the module docstring).

    Args:
        controls: the menus and sliders, in the order they are shown; a control's ``when`` may name
            only controls before it.
        panels: the plots, drawn left to right in ``columns`` columns.
        title: a heading above the controls.
        x0, dx: the x of a curve's i-th value is ``x0 + i * dx`` unless ``compute`` gives x.
        digits: significant digits kept in the page (4 by default: what a reader can see in a figure).
        texts: message templates overriding ``{"nan", "floor", "ceil", "nonpositive", "empty"}``, with
            the fields ``{label}``, ``{xname}``, ``{x}``, ``{floor}``, ``{ceil}``.
        images: base64 PNGs a panel may draw under its curves (``Panel(image=...)``).
        width, panel_height: the figure's size in CSS pixels (width fits a 688-px column by default).

    Raises:
        ValueError: a spec that cannot work, with what to change (repeated names, ``when`` pointing at
            an unknown or later control or at a value it does not have, ...).
    """

    def __init__(self, controls: Sequence[Menu | Slider], panels: Sequence[Panel], *, title: str = "",
                 x0: float = 1.0, dx: float = 1.0, digits: int = 4, texts: Mapping[str, str] | None = None,
                 images: Mapping[str, str] | None = None, width: int = 680, panel_height: int = 300,
                 columns: int | None = None):
        controls, panels = list(controls), list(panels)
        if not controls or not all(isinstance(c, (Menu, Slider)) for c in controls):
            raise ValueError("controls must be a non-empty list of Menu and Slider objects.")
        if not panels or not all(isinstance(p, Panel) for p in panels):
            raise ValueError("panels must be a non-empty list of Panel objects.")
        names = [c.name for c in controls]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"control names must be unique; repeated: {dup}.")
        for i, c in enumerate(controls):
            for k, vals in c.when.items():
                if k not in names[:i]:
                    where = "comes after it" if k in names else "does not exist"
                    raise ValueError(f"control {c.name!r}: when= names {k!r}, which {where}; a control can depend "
                                     f"only on a control listed before it ({names[:i] or 'none'}).")
                other = controls[names.index(k)]
                bad = [v for v in vals if v not in other.values]
                if bad:
                    raise ValueError(f"control {c.name!r}: when[{k!r}] lists {bad}, which {k!r} does not have; "
                                     f"its values are {list(other.values)}.")
        snames = [s.name for p in panels for s in p.series]
        dup = sorted({n for n in snames if snames.count(n) > 1})
        if dup:
            raise ValueError(f"series names must be unique across the panels; repeated: {dup}.")
        if not (isinstance(digits, int) and 2 <= digits <= 8):
            raise ValueError(f"digits must be an integer from 2 to 8, got {digits!r}.")
        if not (isinstance(dx, (int, float)) and dx > 0):
            raise ValueError(f"dx must be a positive number, got {dx!r}.")
        texts = dict(texts or {})
        unknown = sorted(set(texts) - set(_DEFAULT_TEXTS))
        if unknown:
            raise ValueError(f"texts: unknown message(s) {unknown}; the messages are {sorted(_DEFAULT_TEXTS)}.")
        images = dict(images or {})
        for p in panels:
            if p.image is not None and p.image not in images:
                raise ValueError(f"panel {p.title!r} draws image {p.image!r}, which is not in images= "
                                 f"({sorted(images) or 'none given'}).")
        self.controls, self.panels, self.title = controls, panels, title
        self.x0, self.dx, self.digits = float(x0), float(dx), digits
        self.texts = {**_DEFAULT_TEXTS, **texts}
        self.images = images
        self.width, self.panel_height = int(width), int(panel_height)
        self.columns = columns or (2 if len(panels) >= 2 and width >= 600 else 1)
        self._series = {s.name: s for p in panels for s in p.series}

    # ------------------------------------------------------------------ the grid
    def _control(self, name: str):
        for c in self.controls:
            if c.name == name:
                return c
        raise ValueError(f"no control {name!r}; the controls are {[c.name for c in self.controls]}.")

    def _active(self, c, values: Mapping[str, Any]) -> bool:
        return all(self._active(self._control(k), values) and values.get(k) in vals for k, vals in c.when.items())

    def grid(self) -> list[dict]:
        """Every setting to compute: one dict of the *active* controls' values per setting."""
        out: list[dict] = [{}]
        for c in self.controls:
            nxt = []
            for partial in out:
                if self._active(c, partial):
                    nxt += [{**partial, c.name: v} for v in c.values]
                else:
                    nxt.append(partial)
            out = nxt
        return out

    def key(self, **values) -> str:
        """The data key of a setting: each control's value index, ``-`` where the control is not used.

        Values of unused controls may be left out; a value a control does not have is an error.
        """
        full = {}
        parts = []
        for c in self.controls:
            if not self._active(c, full):
                parts.append("-")
                continue
            if c.name not in values:
                raise ValueError(f"key(): no value for control {c.name!r} (used in this setting); "
                                 f"pass {c.name}=one of {list(c.values)}.")
            v = values[c.name]
            if v not in c.values:
                raise ValueError(f"key(): {c.name}={v!r} is not one of the precomputed values {list(c.values)}.")
            full[c.name] = v
            parts.append(str(list(c.values).index(v)))
        return "|".join(parts)

    def defaults(self) -> dict:
        return {c.name: c.default for c in self.controls}

    # ------------------------------------------------------------------ computing
    def _point(self, result, where: str) -> dict:
        if isinstance(result, Point):
            series, note, x0, dx = result.series, result.note, result.x0, result.dx
        elif isinstance(result, Mapping):
            series, note, x0, dx = result, "", None, None
        else:
            raise ValueError(f"compute({where}) returned {type(result).__name__}; return a dict "
                             f"{{series name: values}} or an explorable.Point.")
        unknown = sorted(set(series) - set(self._series))
        if unknown:
            raise ValueError(f"compute({where}) returned unknown series {unknown}; the panels draw "
                             f"{sorted(self._series)}.")
        enc = {}
        for name, val in series.items():
            if isinstance(val, tuple) and len(val) == 2:
                enc[name] = encode_series(val[1], x=val[0], digits=self.digits)
            else:
                enc[name] = encode_series(val, digits=self.digits)
        pt = {"s": enc}
        if note:
            pt["note"] = str(note)
        if x0 is not None:
            pt["x0"] = float(x0)
        if dx is not None:
            pt["dx"] = float(dx)
        return pt

    def precompute(self, compute: Callable[..., Any], *, progress: Callable[[str], None] | None = None) -> dict:
        """Call ``compute(**values)`` for every setting of :meth:`grid` and return the JSON-ready data.

        Returns:
            ``{"points": {key: {"s": {series: encoded}, "note"?, "x0"?, "dx"?}}, "n": number of settings}``.
        """
        points = {}
        for values in self.grid():
            where = ", ".join(f"{k}={v!r}" for k, v in values.items())
            if progress:
                progress(where)
            points[self.key(**values)] = self._point(compute(**values), where)
        return {"points": points, "n": len(points)}

    # ------------------------------------------------------------------ reading back
    def _check_data(self, data) -> None:
        if not isinstance(data, Mapping) or "points" not in data:
            raise ValueError("data must be the dict returned by Explorable.precompute(compute).")
        want = {self.key(**v) for v in self.grid()}
        missing = sorted(want - set(data["points"]))
        if missing:
            raise ValueError(f"data lacks {len(missing)} of the {len(want)} settings of this spec (e.g. {missing[:3]}); "
                             f"it was computed for other controls: run precompute again with this spec.")

    def point(self, data: Mapping, **values) -> dict:
        """The curves of one setting: ``{series name: (x, y)}`` plus ``"note"`` (y is ``None`` where not finite)."""
        pt = data["points"][self.key(**values)]
        x0, dx = pt.get("x0", self.x0), pt.get("dx", self.dx)
        out: dict = {name: decode_series(enc, x0, dx) for name, enc in pt["s"].items()}
        out["note"] = pt.get("note", "")
        return out

    def messages(self, data: Mapping, **values) -> list[str]:
        """The messages the figure shows for one setting (the same text the page's script writes)."""
        pt = self.point(data, **values)
        out = []
        for p in self.panels:
            out += self._panel_messages(p, pt, log=p.yscale == "log")
        return out

    def _panel_messages(self, p: Panel, pt: Mapping, *, log: bool) -> list[str]:
        out, drawn = [], 0
        for s in p.series:
            if s.name not in pt:
                continue
            x, y = pt[s.name]
            n, reason, at = series_events(x, y, floor=p.floor, ceil=p.ceil, log=log, backward=p.flow == "backward")
            drawn += n
            if reason:
                out.append(self.texts[reason].format(label=s.label, xname=p.xname, x=_fmt(at),
                                                     floor=_fmt(p.floor or 0), ceil=_fmt(p.ceil or 0)))
        if not drawn:
            out.append(self.texts["empty"])
        return out

    def data_json(self, data: Mapping) -> str:
        """The JSON the page embeds: the spec (controls, panels, messages, images) and the curves."""
        self._check_data(data)
        blob = {
            "title": self.title, "x0": self.x0, "dx": self.dx, "texts": self.texts, "columns": self.columns,
            "controls": [{"name": c.name, "kind": c.kind, "label": c.label or c.name, "values": list(c.values),
                          "texts": list(c.texts), "default": list(c.values).index(c.default), "when": c.when,
                          "unit": getattr(c, "unit", None) or ""}
                         for c in self.controls],
            "panels": [{"title": p.title, "xlabel": p.xlabel, "ylabel": p.ylabel, "yscale": p.yscale,
                        "floor": p.floor, "ceil": p.ceil, "xname": p.xname, "xlim": p.xlim, "ylim": p.ylim,
                        "yzero": p.yzero, "image": p.image, "flow": p.flow,
                        "series": [{"name": s.name, "label": s.label,
                                    "color": s.color or PALETTE[i % len(PALETTE)], "dash": s.dash,
                                    "marker": s.marker} for i, s in enumerate(p.series)]}
                       for p in self.panels],
            "images": {k: v for k, v in self.images.items() if any(p.image == k for p in self.panels)},
            "points": data["points"],
        }
        return json.dumps(blob, separators=(",", ":"), allow_nan=False)

    def data_kb(self, data: Mapping) -> float:
        """Size of the embedded JSON in KB (1 KB = 1024 bytes)."""
        return len(self.data_json(data).encode()) / 1024

    # ------------------------------------------------------------------ the static page
    def html(self, data: Mapping, *, max_kb: float = MAX_KB, caption: bool = True) -> str:
        """The self-contained HTML block: controls, one SVG per panel, the data and the inline script.

        Display it with ``IPython.display.HTML(spec.html(data))``.  ``caption`` adds a line with the
        number of settings and the embedded data's size.

        Raises:
            ValueError: data that does not belong to this spec, or more than ``max_kb`` KB of it (then
                use fewer slider values, fewer ``digits`` or shorter curves).
        """
        blob = self.data_json(data)
        kb = len(blob.encode()) / 1024
        if kb > max_kb:
            raise ValueError(f"the explorable's data is {kb:.0f} KB, above the limit of {max_kb:.0f} KB: use fewer "
                             f"slider values or settings, fewer digits (now {self.digits}), or shorter curves.")
        uid = "xpl-" + uuid.uuid4().hex[:10]
        cap = (f'<div class="xpl-caption" style="font-size:12px;color:#555;margin-top:2px">Static explorable: '
               f'{data["n"]:,} precomputed settings, {kb:.0f} KB of embedded data; it redraws in the browser, '
               f'without Python.</div>' if caption else "")
        title = f'<div style="font-weight:bold;margin-bottom:4px">{_html.escape(self.title)}</div>' if self.title else ""
        return (f'<div id="{uid}" class="explorable" style="max-width:{self.width}px;font-family:sans-serif;'
                f'font-size:13px">{title}'
                f'<div class="xpl-controls" style="display:grid;grid-template-columns:auto 1fr;gap:3px 10px;'
                f'align-items:center;margin-bottom:6px"></div>'
                f'<div class="xpl-figure" style="display:flex;flex-wrap:wrap;gap:0"></div>'
                f'<div class="xpl-note" role="status" aria-live="polite" style="font-size:13px;margin-top:3px"></div>{cap}'
                f'<noscript>This figure needs JavaScript to redraw.</noscript>'
                f'<script type="application/json">{blob.replace("</", "<" + chr(92) + "/")}</script>'
                f'<script>(function(){{{_script()}courseExplorable(document.getElementById("{uid}"), '
                f'{int(self.width)}, {int(self.panel_height)});}})();</script></div>')

    def write_html(self, data: Mapping, path, **kw) -> None:
        """A standalone HTML file holding :meth:`html` (for a browser test or to share one explorable)."""
        from pathlib import Path

        doc = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>'
               f'{_html.escape(self.title or "explorable")}</title></head><body>{self.html(data, **kw)}</body></html>')
        Path(path).write_text(doc, encoding="utf-8")

    # ------------------------------------------------------------------ the live widgets
    def live(self, data: Mapping | None = None, *, compute: Callable[..., Any] | None = None):
        """The same controls as ipywidgets, redrawn with matplotlib (needs a running kernel).

        Give ``data`` (from :meth:`precompute`: instant) or ``compute`` (called on every change).

        Returns:
            an ``ipywidgets.VBox`` (controls and the figure); display it as the last expression of a cell.
        """
        if (data is None) == (compute is None):
            raise ValueError("live() needs exactly one of data= (from precompute) or compute= (a callback).")
        if data is not None:
            self._check_data(data)
        import ipywidgets as W

        widgets = {}
        for c in self.controls:
            opts = list(zip(c.texts, c.values))
            cls = W.Dropdown if c.kind == "menu" else W.SelectionSlider
            kw = {} if c.kind == "menu" else {"continuous_update": False}
            widgets[c.name] = cls(options=opts, value=c.default, description=c.label or c.name,
                                  style={"description_width": "140px"}, layout=W.Layout(width="460px"), **kw)
        logs = {i: W.Checkbox(value=False, description=f"log scale: {p.title}", indent=False)
                for i, p in enumerate(self.panels) if p.yscale == "toggle"}
        out = W.Output()

        def redraw(*_):
            values = {}
            for c in self.controls:
                on = self._active(c, values)
                widgets[c.name].disabled = not on
                widgets[c.name].layout.display = None if on else "none"
                if on:
                    values[c.name] = widgets[c.name].value
            if data is not None:
                pt = self.point(data, **values)
            else:
                raw = self._point(compute(**values), "live")
                fake = {"points": {self.key(**values): raw}}
                pt = self.point(fake, **values)
            with out:
                out.clear_output(wait=True)
                self._draw_matplotlib(pt, {i: cb.value for i, cb in logs.items()})

        for w in [*widgets.values(), *logs.values()]:
            w.observe(redraw, names="value")
        redraw()
        return W.VBox([*widgets.values(), *logs.values(), out])

    def _draw_matplotlib(self, pt: Mapping, logs: Mapping[int, bool]):
        import matplotlib.pyplot as plt

        from ..plotting import legend_outside

        cols = self.columns
        rows = math.ceil(len(self.panels) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(self.width / 100 * 1.3, self.panel_height / 100 * 1.3 * rows),
                                 squeeze=False)
        for ax in axes.flat[len(self.panels):]:
            ax.set_visible(False)
        for i, (p, ax) in enumerate(zip(self.panels, axes.flat)):
            log = p.yscale == "log" or logs.get(i, False)
            for j, s in enumerate(p.series):
                if s.name not in pt:
                    continue
                x, y = pt[s.name]
                n, _, _ = series_events(x, y, floor=p.floor, ceil=p.ceil, log=log, backward=p.flow == "backward")
                ls = "--" if s.dash else "-"
                ax.plot(*_good(x, y, n, p.flow == "backward"), ls, color=s.color or PALETTE[j % len(PALETTE)], label=s.label,
                        marker="o" if s.marker else None, ms=3)
            if log:
                ax.set_yscale("log")
            if p.xlim:
                ax.set_xlim(p.xlim)
            if p.ylim:
                ax.set_ylim(p.ylim)
            elif p.yzero and not log:
                ax.set_ylim(bottom=0)
            msgs = self._panel_messages(p, pt, log=log)
            # the messages go under the x label and the legend under both: nothing is drawn over the curves
            ax.set(title=p.title, ylabel=p.ylabel, xlabel=p.xlabel + "".join("\n" + m for m in msgs))
            if ax.lines:
                legend_outside(ax)
        if pt.get("note"):  # above the panels, wrapped to the figure's width
            import textwrap
            fig.text(0.01, 1.0, textwrap.fill(pt["note"], width=int(self.width / 6.5)), fontsize=9, va="bottom")
        fig.tight_layout()
        plt.show()


# ----------------------------------------------------------------------------- the script
def _script() -> str:
    """The page script, ``course_utils/static/explorable.js`` (a real file: linted, tested in a browser)."""
    global _JS_TEXT
    if _JS_TEXT is None:
        from importlib import resources

        _JS_TEXT = resources.files("course_utils").joinpath("static/explorable.js").read_text(encoding="utf-8")
    return _JS_TEXT


_JS_TEXT: str | None = None
