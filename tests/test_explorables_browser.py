"""The static explorables in a real browser: every control redraws, extremes show a message, nothing leaves 127.0.0.1.

Two parts:

* a standalone page written by :meth:`course_utils.explorable.Explorable.write_html` (fast: part of the unit
  stage when Chromium is there), together with deliberately broken copies of it — a control that does
  nothing, a figure that draws no message, a page that asks the network for something — to show that
  each check fails when it should;
* the loss-surface explorer (:func:`course_utils.explorer.static_explorer_html`, its own script
  ``surface_explorer.js`` drawing with explorable.js's helpers) on a standalone page of a small grid: every
  control redraws, each message shows, nothing leaves 127.0.0.1; with a broken copy whose control does nothing;
* the book's own pages that hold explorables (Part I's signal explorer, Part IV's schedule explorer, the
  exercise pages 1 and 4), when ``_build/html`` has them; skipped otherwise.

Headless Chromium (``/usr/bin/chromium`` or ``$COURSE_CHROMIUM``) through Playwright, launched as
tests/test_site.py does; every request that does not go to the local server is aborted and recorded.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "html"))
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements.txt)")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (scripts/ensure_chromium.sh or $COURSE_CHROMIUM)", allow_module_level=True)

from course_utils import explorable as X  # noqa: E402
from course_utils import explorer as E  # noqa: E402


# ----------------------------------------------------------------------------- the standalone explorable
def _spec():
    return X.Explorable(
        [X.Menu("act", ["tanh", "relu"], label="activation"),
         X.Slider("gain", [0.1, 1.0, 3.0], label="gain", default=1.0),
         X.Slider("k", [1, 2, 3], label="k", when={"act": ["relu"]})],
        [X.Panel("forward", xlabel="layer", ylabel="variance", yscale="log", floor=1e-30, ceil=1e30, xname="layer",
                 series=[X.Series("v", "measured"), X.Series("t", "recurrence", dash="5 3")]),
         X.Panel("rate", xlabel="step", ylabel="value", yscale="toggle", xname="step", series=[X.Series("r", "rate")])],
        title="test explorable")


def _compute(act, gain, k=1):
    layers = np.arange(1, 41, dtype=float)
    v = (gain ** 2) ** layers * k * (1.0 if act == "tanh" else 0.5)
    r = gain * np.clip(np.cos(layers / 8), 0, None)  # 0 from layer 13 on: the log scale says so
    return {"v": v, "t": 1.05 * v, "r": r}


# Broken copies of the page: each must make exactly one of the checks fail.
BREAK = {
    "dead control": ('inp.oninput = update;', 'inp.oninput = null;'),          # sliders do nothing
    "no message": ('if (lines.length) {', 'if (false) {'),                       # extremes drawn silently
    "network": ('<body>', '<body><img src="http://example.com/x.png" alt="">'),  # asks the network
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(folder: Path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explorable")
    spec = _spec()
    data = spec.precompute(_compute)
    spec.write_html(data, folder / "good.html")
    good = (folder / "good.html").read_text(encoding="utf-8")
    for name, (old, new) in BREAK.items():
        assert old in good, f"the broken fixture {name!r} no longer matches the page: update BREAK"
        (folder / (name.replace(" ", "_") + ".html")).write_text(good.replace(old, new, 1), encoding="utf-8")
    httpd, url = _serve(folder)
    yield url, spec, data
    httpd.shutdown()


class Opened:
    def __init__(self, page, outside, errors):
        self.page, self.outside, self.errors = page, outside, errors


@pytest.fixture
def open_page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 900}, service_workers="block")
    outside: list[str] = []

    def block(route):
        outside.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^(?!http://127\.0\.0\.1)(https?|wss?|ftp)://.*"), block)

    def load(url: str, ready: str = ".explorable .xpl-panel") -> Opened:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        page.goto(url, wait_until="load")
        page.wait_for_selector(ready, state="attached", timeout=10_000)
        return Opened(page, outside, errors)

    yield load
    context.close()


# ----------------------------------------------------------------------------- the checks (shared)
def _roots(page) -> list[str]:
    return page.eval_on_selector_all(".explorable", "els => els.map(e => e.id)")


def _spec_of(page, root: str) -> dict:
    return json.loads(page.eval_on_selector(f"#{root} script[type='application/json']", "e => e.textContent"))


def _drawing(page, root: str) -> str:
    return page.eval_on_selector(f"#{root}", "r => r.querySelector('.xpl-figure').innerHTML + "
                                             "'|' + r.querySelector('.xpl-note').textContent")


def _set(page, root: str, control: dict, index: int) -> None:
    sel = f"#{root} .xpl-c-{control['name']}"
    if control["kind"] == "menu":
        page.select_option(sel, str(index))
    else:
        page.eval_on_selector(sel, "(e, i) => { e.value = i; e.dispatchEvent(new Event('input')); }", index)


def _make_active(page, root: str, spec: dict, control: dict) -> None:
    """Set the menus a control depends on (``when``) to a value that uses it."""
    for name, values in control["when"].items():
        other = next(c for c in spec["controls"] if c["name"] == name)
        _make_active(page, root, spec, other)
        _set(page, root, other, other["values"].index(values[0]))


def check_every_control_redraws(page) -> None:
    """Moving each control (to some other value) changes what is drawn: the SVGs or the note."""
    for root in _roots(page):
        spec = _spec_of(page, root)
        for c in spec["controls"]:
            _make_active(page, root, spec, c)
            _set(page, root, c, c["default"])
            before = _drawing(page, root)
            changed = []
            for i in range(len(c["values"])):
                if i == c["default"]:
                    continue
                _set(page, root, c, i)
                changed.append(_drawing(page, root) != before)
            assert any(changed), f"{root}: moving {c['label']!r} did not change the figure"
            _set(page, root, c, c["default"])
        for cb in page.query_selector_all(f"#{root} input[type=checkbox]"):
            before = _drawing(page, root)
            cb.click()
            assert _drawing(page, root) != before, f"{root}: the log-scale box did not change the figure"
            cb.click()


def _messages(page, root: str) -> list[str]:
    return page.eval_on_selector_all(f"#{root} .xpl-msg text", "els => els.map(e => e.textContent)")


def check_nothing_left_localhost(opened: Opened, page_html: str = "") -> None:
    assert not opened.outside, f"requests outside 127.0.0.1: {opened.outside}"
    assert not opened.errors, opened.errors


# ----------------------------------------------------------------------------- the standalone page
def test_every_control_redraws(site, open_page):
    url, _, _ = site
    opened = open_page(url + "good.html")
    check_every_control_redraws(opened.page)
    check_nothing_left_localhost(opened)


def test_the_figure_follows_the_data(site, open_page):
    url, spec, data = site
    page = open_page(url + "good.html").page
    root = _roots(page)[0]
    js = _spec_of(page, root)
    act, gain, k = js["controls"]
    _set(page, root, act, 1)
    _set(page, root, k, 2)
    assert page.eval_on_selector(f"#{root}", "r => r.dataset.key") == spec.key(act="relu", gain=1.0, k=3)
    # one polyline per series, with as many points as the setting has
    n = page.eval_on_selector(f"#{root} polyline[data-series='v']", "e => e.getAttribute('points').split(' ').length")
    assert n == len(spec.point(data, act="relu", gain=1.0, k=3)["v"][1])
    hidden = page.eval_on_selector(f"#{root} .xpl-c-k", "e => e.parentElement.style.display")
    _set(page, root, act, 0)
    assert hidden == "" and page.eval_on_selector(f"#{root} .xpl-c-k", "e => e.parentElement.style.display") == "none"
    # readable text: every SVG text at 12 px or more, and the figure fits a 688-px column
    sizes = page.eval_on_selector_all(f"#{root} svg text", "els => els.map(e => +e.getAttribute('font-size'))")
    assert min(sizes) >= 12
    width = page.eval_on_selector(f"#{root}", "r => r.getBoundingClientRect().width")
    assert width <= 688


def test_extremes_show_a_message(site, open_page):
    url, spec, data = site
    page = open_page(url + "good.html").page
    root = _roots(page)[0]
    js = _spec_of(page, root)
    act, gain, _ = js["controls"]
    assert _messages(page, root) == []
    _set(page, root, gain, 0)  # 0.01^l: below 1e-30 at layer 16
    assert _messages(page, root) == spec.messages(data, act="tanh", gain=0.1) != []
    assert "measured: fell below 1e-30 at layer 16" in _messages(page, root)
    _set(page, root, gain, 2)  # 9^l: above 1e30 at layer 32
    assert "measured: grew above 1e30 at layer 32" in _messages(page, root)
    page.click(f"#{root} .xpl-log-1")  # the rate touches 0: the log scale cannot draw it
    assert any("not drawn on the log scale" in m for m in _messages(page, root))


def test_the_page_loads_nothing_from_a_network(site, open_page):
    url, spec, data = site
    opened = open_page(url + "good.html")
    check_nothing_left_localhost(opened)
    assert "http" not in spec.html(data).replace("http://www.w3.org/2000/svg", "")


# ----------------------------------------------------------------------------- each check can fail
def test_a_control_that_does_nothing_fails_the_redraw_check(site, open_page):
    url, _, _ = site
    page = open_page(url + "dead_control.html").page
    with pytest.raises(AssertionError, match="did not change the figure"):
        check_every_control_redraws(page)


def test_a_figure_without_messages_fails_the_extreme_check(site, open_page):
    url, _, _ = site
    page = open_page(url + "no_message.html").page
    root = _roots(page)[0]
    _set(page, root, _spec_of(page, root)["controls"][1], 0)
    assert _messages(page, root) == []  # what test_extremes_show_a_message would reject


def test_a_request_to_the_network_fails_the_offline_check(site, open_page):
    url, _, _ = site
    opened = open_page(url + "network.html")
    opened.page.wait_for_timeout(200)
    with pytest.raises(AssertionError, match="requests outside 127.0.0.1: .*example.com"):
        check_nothing_left_localhost(opened)


# ----------------------------------------------------------------------------- the loss-surface explorer
# Two surfaces: on the bowl SGD at rate 2 leaves the window (2 > 2/b = 1) and rate 0.3 stays inside; on the
# Rosenbrock valley SGD at rate 0.1 diverges. SGD's own rate on the bowl is 2 (default_lrs).
SURFACE_GRIDS = (
    E.ExplorerGrid("bowl", lrs=(0.3, 2.0), starts=((-9.0, 2.5), (6.0, -2.8)), beta1s=(0.5, 0.9), beta2s=(0.9, 0.999),
                   steps=12, default_lrs=(("SGD", 2.0),)),
    E.ExplorerGrid("rosenbrock", lrs=(3e-4, 0.1), starts=((-1.5, 2.0),), beta1s=(0.5, 0.9), beta2s=(0.9, 0.999),
                   steps=30),
)
SURFACE_CONTROLS = (".ex-surface", ".ex-opt", ".ex-lr", ".ex-b1", ".ex-b2", ".ex-start")
SURFACE_BREAK = ("startSel.onchange = draw;", "startSel.onchange = null;")  # the start menu does nothing


@pytest.fixture(scope="module")
def surface_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("surface_explorer")
    data = E.precompute(SURFACE_GRIDS, image_size=(120, 90))
    html = E.static_explorer_html(data)
    good = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>surface explorer</title></head>'
            f'<body>{html}</body></html>')
    (folder / "good.html").write_text(good, encoding="utf-8")
    assert SURFACE_BREAK[0] in good, "the broken fixture no longer matches the page: update SURFACE_BREAK"
    (folder / "dead_start.html").write_text(good.replace(*SURFACE_BREAK), encoding="utf-8")
    httpd, url = _serve(folder)
    yield url, data, html
    httpd.shutdown()


def _js_fmt(v: float) -> str:
    """The surface explorer's numbers (courseFmt(v, 2) of explorable.js), for values stored to 4 digits."""
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:  # toExponential(2): a tie rounds away from zero (1.765e12 -> 1.77e+12)
        from decimal import ROUND_HALF_UP, Decimal

        d = Decimal(v)
        e = d.adjusted()
        m = d.scaleb(-e).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if abs(m) >= 10:
            m, e = (m / 10).quantize(Decimal("0.01"), ROUND_HALF_UP), e + 1
        return f"{m}e{'+' if e >= 0 else '-'}{abs(e)}"
    return f"{v:.4g}"


def _surface_set(page, sel: str, value) -> None:
    page.eval_on_selector(f".surface-explorer {sel}", "(e, v) => { e.value = String(v); "
                          "e.dispatchEvent(new Event(e.tagName === 'SELECT' ? 'change' : 'input')); }", value)


def _surface_drawing(page) -> str:
    return page.eval_on_selector(".surface-explorer", "r => r.querySelector('svg').innerHTML + '|' + "
                                                      "r.querySelector('.ex-out').textContent")


def _surface_values(page, sel: str) -> list[str]:
    """The values a control can take: a menu's options, a slider's positions."""
    return page.eval_on_selector(f".surface-explorer {sel}", "e => e.tagName === 'SELECT' ? [...e.options].map(o => o.value)"
                                                             " : [...Array(+e.max + 1).keys()].map(String)")


def check_surface_controls_redraw(page) -> None:
    """With Adam chosen (it reads every slider), moving each control to each other value changes the drawing."""
    _surface_set(page, ".ex-opt", "Adam")
    for sel in SURFACE_CONTROLS:
        start = page.eval_on_selector(f".surface-explorer {sel}", "e => e.value")
        before = _surface_drawing(page)
        changed = []
        for v in _surface_values(page, sel):
            if v != start:
                _surface_set(page, sel, v)
                changed.append(_surface_drawing(page) != before)
        assert changed and all(changed), f"moving the surface explorer's {sel} did not change the figure"
        _surface_set(page, sel, start)
        if sel == ".ex-surface":
            _surface_set(page, ".ex-opt", "Adam")


def test_surface_explorer_every_control_redraws(surface_site, open_page):
    url, _, _ = surface_site
    opened = open_page(url + "good.html", ready=".surface-explorer svg image")
    check_surface_controls_redraw(opened.page)
    check_nothing_left_localhost(opened)


def test_surface_explorer_shows_each_message_and_reads_the_data(surface_site, open_page):
    url, data, html = surface_site
    opened = open_page(url + "good.html", ready=".surface-explorer svg image")
    page = opened.page
    val = lambda sel: page.eval_on_selector(f".surface-explorer {sel}", "e => e.value")  # noqa: E731
    out = lambda: page.eval_on_selector(".surface-explorer .ex-out", "e => e.textContent")  # noqa: E731
    count = lambda css: len(page.query_selector_all(f".surface-explorer svg {css}"))  # noqa: E731
    readout = lambda sel: page.eval_on_selector(f".surface-explorer {sel}", "e => e.textContent")  # noqa: E731
    # the page opens on the first surface, momentum, the largest rate; the menus hold what the data holds
    assert [val(".ex-surface"), val(".ex-opt"), val(".ex-lr")] == ["0", "Momentum (EMA)", "1"]
    assert _surface_values(page, ".ex-opt") == list(data["optimizers"])
    assert page.eval_on_selector_all(".surface-explorer .ex-start option", "os => os.map(o => o.text)") == \
        ["(-9, 2.5)", "(6, -2.8)"]
    assert count("image") == 1 and "data:image/png;base64," + data["surfaces"][0]["image"] == \
        page.eval_on_selector(".surface-explorer svg image", "e => e.getAttribute('href')")
    # SGD: its own rate (2) on the bowl, the betas unused; the path leaves the window: arrowheads, no star
    _surface_set(page, ".ex-lr", 0)
    _surface_set(page, ".ex-opt", "SGD")
    assert val(".ex-lr") == "1" and readout(".ex-lr-v") == "2"
    assert page.eval_on_selector_all(".surface-explorer input[type=range]", "es => es.map(e => e.disabled)") == \
        [False, True, True]
    assert readout(".ex-b1-v") == "(not used)" and readout(".ex-b2-v") == "(not used)"
    assert count(".ex-exit") >= 1 and count(".ex-end") == 0
    assert "outside the window; the arrowhead marks where the path leaves it" in out()
    f = data["surfaces"][0]["final"]["SGD|1|0|0|0"]
    assert out().startswith(f"after 12 steps: w = ({_js_fmt(f[0])}, {_js_fmt(f[1])}), loss = {_js_fmt(f[2])} (outside")
    # rate 0.3 stays inside: the end is a star and the readout gives the stored end point
    _surface_set(page, ".ex-lr", 0)
    f = data["surfaces"][0]["final"]["SGD|0|0|0|0"]
    assert count(".ex-end") == 1 and count(".ex-exit") == 0 and count("polyline") == 1
    assert out() == f"after 12 steps: w = ({_js_fmt(f[0])}, {_js_fmt(f[1])}), loss = {_js_fmt(f[2])} (the star)"
    assert count("circle") == 13  # a dot per step (12 steps and the start)
    # Adam reads both betas: they say their values (and to a screen reader)
    _surface_set(page, ".ex-opt", "Adam")
    assert readout(".ex-b1-v") == "0.9" and readout(".ex-b2-v") == "0.999"
    assert page.eval_on_selector(".surface-explorer .ex-b2", "e => e.getAttribute('aria-valuetext')") == "0.999"
    # Rosenbrock: SGD at rate 0.1 diverges, and the page says so
    _surface_set(page, ".ex-surface", 1)
    _surface_set(page, ".ex-opt", "SGD")
    _surface_set(page, ".ex-lr", 1)
    assert readout(".ex-lr-v") == "0.1" and data["surfaces"][1]["final"]["SGD|1|0|0|0"][2] is None
    assert out().startswith("after 30 steps: the run diverged (non-finite weights)")
    _surface_set(page, ".ex-lr", 0)
    assert readout(".ex-lr-v") == "3.00e-4"  # the explorer's own number format (courseFmt with 2 digits)
    check_nothing_left_localhost(opened)
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")


def test_a_surface_control_that_does_nothing_fails_the_redraw_check(surface_site, open_page):
    url, _, _ = surface_site
    page = open_page(url + "dead_start.html", ready=".surface-explorer svg image").page
    with pytest.raises(AssertionError, match=r"\.ex-start did not change the figure"):
        check_surface_controls_redraw(page)


# ----------------------------------------------------------------------------- the book's pages
BOOK_PAGES = ["book/part1/signal_explorer.html", "book/part4/schedule_explorer.html",
              "book/exercises/01_initialization.html", "book/exercises/04_schedules.html"]


@pytest.fixture(scope="module")
def book():
    if not (HTML / "index.html").is_file():
        pytest.skip(f"no built site at {HTML} (make build)")
    httpd, url = _serve(HTML)
    yield url
    httpd.shutdown()


def _book_page(book, open_page, rel):
    built, source = HTML / rel, ROOT / Path(rel).with_suffix(".md")
    if not built.is_file():
        pytest.skip(f"{rel} is not in the built site (make build)")
    if 'class="explorable"' not in built.read_text(encoding="utf-8") and built.stat().st_mtime < source.stat().st_mtime:
        pytest.skip(f"{rel} was built before {source.relative_to(ROOT)} got its explorable (make build)")
    opened = open_page(book + rel)
    assert _roots(opened.page), f"{rel} holds no explorable"
    return opened


@pytest.mark.parametrize("rel", BOOK_PAGES)
def test_book_explorables_redraw_offline(book, open_page, rel):
    opened = _book_page(book, open_page, rel)
    check_every_control_redraws(opened.page)
    check_nothing_left_localhost(opened)


def test_signal_explorer_reports_a_vanished_and_an_exploding_signal(book, open_page):
    page = _book_page(book, open_page, BOOK_PAGES[0]).page
    root = _roots(page)[0]
    c = {x["name"]: x for x in _spec_of(page, root)["controls"]}
    _set(page, root, c["scheme"], c["scheme"]["values"].index("normal"))
    _set(page, root, c["act"], c["act"]["values"].index("identity"))
    _set(page, root, c["depth"], c["depth"]["values"].index(50))
    _set(page, root, c["sigma"], 0)  # sigma 0.02: x0.1 per layer
    assert any("signal vanished below 1e-30 at layer" in m for m in _messages(page, root))
    _set(page, root, c["sigma"], len(c["sigma"]["values"]) - 1)  # sigma 0.2: x10 per layer
    assert any("signal grew above 1e30 at layer" in m for m in _messages(page, root))


def test_schedule_explorer_reports_zeros_on_the_log_scale(book, open_page):
    page = _book_page(book, open_page, BOOK_PAGES[1]).page
    root = _roots(page)[0]
    c = {x["name"]: x for x in _spec_of(page, root)["controls"]}
    _set(page, root, c["name"], c["name"]["values"].index("cosine"))
    _set(page, root, c["T_max"], c["T_max"]["values"].index(10))
    _set(page, root, c["eta_min"], 0)
    page.click(f"#{root} .xpl-log-0")
    assert any("not drawn on the log scale" in m for m in _messages(page, root))


# ----------------------------------------------------------------------------- every reader (#29)
A11Y_JS = r"""(root) => {
  const r = document.getElementById(root), out = [];
  for (const inp of r.querySelectorAll("input, select")) {
    const lab = inp.id ? r.querySelector(`label[for="${inp.id}"]`) : null;
    out.push({cls: inp.className || inp.type, label: lab ? lab.textContent : null, aria: inp.getAttribute("aria-label"),
              range: inp.type === "range", valuetext: inp.getAttribute("aria-valuetext"), disabled: inp.disabled});
  }
  const live = [...r.querySelectorAll("[aria-live]")].map(e => e.getAttribute("aria-live"));
  const svgs = [...r.querySelectorAll("svg")].map(s => ({viewBox: s.getAttribute("viewBox"), width: s.getBoundingClientRect().width}));
  return {controls: out, live, svgs};
}"""


def check_explorable_a11y(page, shown: dict | None = None) -> None:
    """Every control named by a label tied to it, every slider saying its value (aria-valuetext, with
    the text the page shows), a live region for the result, SVGs that scale (viewBox)."""
    for root in _roots(page):
        res = page.evaluate(A11Y_JS, root)
        for c in res["controls"]:
            assert c["label"] or c["aria"], f"{root}: control {c['cls']} has no label tied to it"
            if c["range"]:
                assert c["valuetext"], f"{root}: slider {c['cls']} has no aria-valuetext"
                if shown and not c["disabled"]:
                    name = c["cls"].removeprefix("xpl-c-")
                    if name in shown:
                        assert c["valuetext"].startswith(shown[name]), (c, shown)
        assert "polite" in res["live"], f"{root}: no live region announces the result"
        assert res["svgs"] and all(s["viewBox"] for s in res["svgs"]), f"{root}: an SVG without a viewBox"


def test_controls_are_labelled_and_announced(site, open_page):
    url, spec, _ = site
    page = open_page(url + "good.html").page
    root = _roots(page)[0]
    js = _spec_of(page, root)
    gain = js["controls"][1]
    _set(page, root, gain, 2)
    shown = {"gain": page.eval_on_selector(f"#{root} .xpl-r-gain", "e => e.textContent")}
    assert shown["gain"] == "3"
    check_explorable_a11y(page, shown)
    # the SVGs scale with their column: at 320 px nothing of the figure lies past the page
    page.set_viewport_size({"width": 320, "height": 700})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    assert all(s["width"] <= 320 for s in page.evaluate(A11Y_JS, root)["svgs"])


def test_an_unlabelled_explorable_fails_the_a11y_check(site, open_page):
    url, _, _ = site
    page = open_page(url + "good.html").page
    root = _roots(page)[0]
    page.evaluate("(root) => { const r = document.getElementById(root); r.querySelectorAll('label').forEach(l => l.removeAttribute('for'));"
                  " r.querySelectorAll('[aria-live]').forEach(e => e.removeAttribute('aria-live')); }", root)
    with pytest.raises(AssertionError, match="no label tied to it"):
        check_explorable_a11y(page)


@pytest.mark.parametrize("rel", BOOK_PAGES)
def test_book_explorables_are_labelled(book, open_page, rel):
    opened = _book_page(book, open_page, rel)
    check_explorable_a11y(opened.page)
