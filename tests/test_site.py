"""The built HTML in a real browser: every page of the toc (plus the search page) in headless Chromium.

Run by `make site` (a stage of `make test` after `build`); skipped when `_build/html` is missing, so the
unit stage never needs the built site.  Asserts per page:

* no uncaught JavaScript error and no console error from the site's own files (everything is local);
* MathJax typeset every formula (each `.math` element holds an `mjx-container`; no raw `$$`, `\\(`, `\\[`
  or `$…\\…$` left in the text outside code);
* every `<img>` loaded (naturalWidth > 0) and has alt text;
* every internal link resolves to a file of the site, and its `#fragment` to an id on that page;
* a chapter (a page executed from a notebook) has Colab and Binder links that open its learner notebook,
  a file that exists in the repository;
* no page embeds widget state or loads the ipywidgets manager (no live widget runs on a static page);
* offline search finds the book's words.

Screenshots of every page go to `_build/screenshots/` (CI uploads them as artifacts).
Chromium: Debian's `/usr/bin/chromium` (or $COURSE_CHROMIUM), driven by Playwright; `scripts/ensure_chromium.sh`.
"""
from __future__ import annotations

import functools
import html as htmllib
import http.server
import importlib.util
import os
import json
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "html"))
SHOTS = Path(os.environ.get("COURSE_SHOTS", HTML.parent / "screenshots"))
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")

if not (HTML / "index.html").is_file():
    pytest.skip(f"no built site at {HTML} (run `make build` first; `make site` runs these tests)",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements.txt)")

_spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync)
_spec = importlib.util.spec_from_file_location("text_record", ROOT / "_ext" / "text_record.py")
_text_record = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_text_record)
TEXT_RECORD_KEY = _text_record.TEXT_RECORD_KEY


def _pages() -> list[str]:
    pages = [f + ".html" if not f.endswith(".html") else f for f in
             (str(Path(x).with_suffix("")) for x in sync.toc_files(ROOT))]
    return pages


PAGES = _pages()
CHAPTER_PAGES = {str(md.relative_to(ROOT).with_suffix(".html")) for md in sync.chapters(ROOT)}


# ----------------------------------------------------------------------------- fixtures
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class Loaded:
    """A page after load + MathJax + widgets, with the console messages seen while loading."""

    def __init__(self, page, errors, url):
        self.page, self.errors, self.url = page, errors, url


@pytest.fixture(scope="module")
def open_page(browser, server):
    cache: dict[str, Loaded] = {}
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    # nothing outside the local server may be fetched (the site must work offline)
    context.route(re.compile(r"^(?!http://127\.0\.0\.1)(https?|wss?)://.*"), lambda route: route.abort())

    def load(rel: str) -> Loaded:
        if rel in cache:
            return cache[rel]
        page = context.new_page()
        errors: list[str] = []

        def on_console(msg):
            if msg.type == "error":
                where = (msg.location or {}).get("url", "")
                if not where or where.startswith(server):  # our own code (every file is local)
                    errors.append(f"console: {msg.text} ({where})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
        page.on("requestfailed", lambda req: errors.append(f"failed to load {req.url}")
                if req.url.startswith(server) else None)
        page.on("response", lambda resp: errors.append(f"HTTP {resp.status} for {resp.url}")
                if resp.url.startswith(server) and resp.status >= 400 else None)
        url = server + rel
        page.goto(url, wait_until="load")
        try:
            # MathJax 3 (loaded only on pages with math): wait until it has typeset the page
            if page.locator('script[src*="mathjax"]').count():
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                       timeout=20_000)
                page.evaluate("() => MathJax.startup.promise.then(() => true)")
            if page.locator('script[type="application/vnd.jupyter.widget-state+json"]').count():
                page.wait_for_selector('[class*="widget-"]', state="attached", timeout=20_000)
        except playwright.TimeoutError as e:
            errors.append(f"timed out waiting for MathJax/widgets: {e.message.splitlines()[0]}")
        # figures load lazily (loading="lazy"): load them all, as a reader scrolling through would
        page.evaluate(EAGER_JS)
        SHOTS.mkdir(parents=True, exist_ok=True)
        # the longest pages (reported_figures: every figure of the book) took over playwright's default 30 s to
        # capture on a loaded 2-core machine (2026-12-07); the screenshot is a record, not what the test checks
        page.screenshot(path=str(SHOTS / (rel.replace("/", "_").removesuffix(".html") + ".png")),
                        full_page=True, timeout=180_000)
        cache[rel] = Loaded(page, errors, url)
        return cache[rel]

    yield load
    context.close()


EAGER_JS = """async () => {
  const imgs = [...document.querySelectorAll("img")];
  imgs.forEach(i => { if (i.loading === "lazy") i.loading = "eager"; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; setTimeout(r, 10000); })));
}"""


# ----------------------------------------------------------------------------- tests
def test_every_toc_page_was_built():
    missing = [p for p in PAGES if not (HTML / p).is_file()]
    assert not missing, f"pages in _toc.yml but not in {HTML}: {missing}"


@pytest.mark.parametrize("rel", PAGES)
def test_no_console_errors(open_page, rel):
    loaded = open_page(rel)
    assert not loaded.errors, "\n".join(loaded.errors)


RAW_MATH_JS = r"""() => {
  const skip = "PRE, CODE, SCRIPT, STYLE, TEXTAREA, MJX-CONTAINER, MJX-ASSISTIVE-MML, .highlight, .cell_input";
  const walker = document.createTreeWalker(document.querySelector("main") || document.body, NodeFilter.SHOW_TEXT);
  const bad = [];
  const raw = /\$\$|\\\(|\\\)|\\\[|\\\]|\$[^$\s][^$]*[\\^_{][^$]*\$|\$\\[A-Za-z]/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest(skip)) continue;
    const m = n.textContent.match(raw);
    if (m) bad.push(n.textContent.trim().slice(0, 80));
  }
  const math = [...document.querySelectorAll(".math")];
  const untypeset = math.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.slice(0, 60));
  return {bad, n_math: math.length, untypeset, n_mjx: document.querySelectorAll("mjx-container").length};
}"""


@pytest.mark.parametrize("rel", PAGES)
def test_math_is_typeset(open_page, rel):
    res = open_page(rel).page.evaluate(RAW_MATH_JS)
    assert not res["untypeset"], f"math not typeset by MathJax: {res['untypeset'][:5]}"
    assert not res["bad"], f"raw TeX left in the text: {res['bad'][:5]}"
    if res["n_math"]:
        assert res["n_mjx"] >= res["n_math"]


IMAGES_JS = """async () => {
  const imgs = [...document.querySelectorAll("img")];
  imgs.forEach(i => { if (i.loading === "lazy") i.loading = "eager"; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  return imgs.map(i => ({src: i.getAttribute("src"), alt: (i.getAttribute("alt") || "").trim(),
                         w: i.naturalWidth}));
}"""


@pytest.mark.parametrize("rel", PAGES)
def test_images_load_and_have_alt_text(open_page, rel):
    imgs = open_page(rel).page.evaluate(IMAGES_JS)
    broken = [i["src"] for i in imgs if i["w"] == 0]
    no_alt = [i["src"][:80] for i in imgs if not i["alt"]]
    assert not broken, f"images that did not load: {broken}"
    assert not no_alt, f"images without alt text: {no_alt}"


@functools.lru_cache(maxsize=None)
def _ids(path: Path) -> frozenset:
    text = path.read_text(encoding="utf-8", errors="replace")
    return frozenset(htmllib.unescape(m) for m in re.findall(r'\sid="([^"]+)"', text))


@pytest.mark.parametrize("rel", PAGES)
def test_internal_links_resolve(open_page, rel, server):
    loaded = open_page(rel)
    hrefs = loaded.page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    bad = []
    for href in set(hrefs):
        if not href.startswith(server):
            continue
        parts = urlsplit(href)
        target = HTML / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            bad.append(f"{href} (no file)")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _ids(target):
            bad.append(f"{href} (no id {parts.fragment!r})")
    assert not bad, "broken internal links:\n" + "\n".join(sorted(bad))


def _launch_links(page, selector: str = ".dropdown-launch-buttons a[href]") -> dict[str, str]:
    """Colab/Binder links of the page's launch button (default) or of any ``selector``."""
    links = page.evaluate(f"() => [...document.querySelectorAll({selector!r})].map(a => a.href)")
    out = {}
    for href in links:
        if "colab.research.google.com" in href:
            out["Colab"] = href
        elif "/v2/gh/" in href or "binder" in urlsplit(href).netloc:
            out["Binder"] = href
    return out


def _repo_path_of(kind: str, href: str) -> str:
    parts = urlsplit(href)
    if kind == "Colab":  # .../github/ORG/REPO/blob/BRANCH/path
        m = re.search(r"/github/[^/]+/[^/]+/blob/[^/]+/(.+)$", parts.path)
        assert m, f"unexpected Colab URL {href}"
        return unquote(m.group(1))
    query = parse_qs(parts.query)
    if "labpath" in query:  # badges written in notebooks: ?labpath=path
        return unquote(query["labpath"][0])
    urlpath = query.get("urlpath", [""])[0]  # launch buttons: ?urlpath=lab/tree/path  or  tree/path
    return re.sub(r"^(lab/)?tree/", "", unquote(urlpath))


def _exists(kind: str, href: str) -> bool:
    """A link opens a learner notebook of the notebooks branch (built into _build/notebooks) or a committed
    solution notebook; nothing else."""
    m = re.search(r"/blob/([^/]+)/", href) if kind == "Colab" else re.search(r"/v2/gh/[^/]+/[^/]+/([^/?]+)", href)
    branch, path = (m.group(1) if m else ""), _repo_path_of(kind, href)
    if branch == "notebooks":
        return (ROOT / "_build" / "notebooks" / path).is_file()
    return path.startswith("exercises/solutions/") and (ROOT / path).is_file()


@pytest.mark.parametrize("rel", sorted(CHAPTER_PAGES) or [pytest.param("-", marks=pytest.mark.skip("no chapters"))])
def test_every_colab_and_binder_link_opens_an_existing_notebook(open_page, rel):
    """Badges inside a page (e.g. the exercises' "open the learner notebook") must not dangle either."""
    page = open_page(rel).page
    hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    for href in hrefs:
        kind = ("Colab" if "colab.research.google.com" in href else
                "Binder" if ("/v2/gh/" in href or "binder" in urlsplit(href).netloc) else None)
        if kind is None:
            continue
        assert _exists(kind, href), f"{rel}: {kind} link {href} opens no learner or solution notebook"


@pytest.mark.parametrize("rel", sorted(CHAPTER_PAGES) or [pytest.param("-", marks=pytest.mark.skip("no chapters"))])
def test_chapter_launch_links_open_the_learner_notebook(open_page, rel):
    """A chapter's launch button opens its learner notebook (notebooks branch); an exercise page's opens the
    exercise's learner notebook (stubs, no solutions), and the page links the solutions notebook."""
    page = open_page(rel).page
    links = _launch_links(page)
    assert set(links) >= {"Colab", "Binder"}, f"launch links found: {links}"
    expected = str(Path(rel).with_suffix(".ipynb"))
    parts = Path(rel).parts
    exercise = len(parts) == 3 and parts[:2] == ("book", "exercises") and (ROOT / "exercises" / parts[2]).with_suffix(".ipynb").is_file()
    if exercise:
        expected = str((Path("exercises") / parts[2]).with_suffix(".ipynb"))
        solved = str((Path("exercises") / "solutions" / parts[2]).with_suffix(".ipynb"))
        hrefs = page.evaluate("() => [...document.querySelectorAll('article a[href]')].map(a => a.href)")
        opened = {_repo_path_of(k, h) for h in hrefs
                  for k in (("Colab",) if "colab.research.google.com" in h else ("Binder",) if "/v2/gh/" in h else ())}
        assert solved in opened, f"{rel}: the page should link the solutions notebook {solved} (links: {sorted(opened)})"
    for kind, href in links.items():
        path = _repo_path_of(kind, href)
        assert path == expected, f"{kind} opens {path!r}, expected {expected!r}"
        assert _exists(kind, href), f"{kind} link {href}: no such learner notebook in _build/notebooks"
        nb_text = (ROOT / "_build" / "notebooks" / path).read_text(encoding="utf-8")
        assert "# Solution" not in nb_text, f"{path} holds solution cells"


def test_no_page_draws_dead_widget_copies():
    """No page embeds ipywidgets state or loads the widget manager: without a kernel their controls do
    nothing (the static explorables redraw instead), and the manager weighs 3.6 MB.  A widget output is
    a line that says where the live controls run (_ext/course_book.py, drop_static_widgets)."""
    bad = []
    for rel in PAGES:
        path = HTML / rel
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if "application/vnd.jupyter.widget-state+json" in text or "html-manager/embed-amd.js" in text:
            bad.append(rel)
    assert not bad, f"pages with ipywidgets state or the widget manager: {bad}"


def test_offline_search_finds_pages(browser, server):
    page = browser.new_page()
    try:
        page.goto(server + "search.html?q=Fashion-MNIST", wait_until="load")
        page.wait_for_selector("#search-results li", timeout=30_000)
        hits = page.locator("#search-results li a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    finally:
        page.close()
    assert any("setup" in h for h in hits), f"search for Fashion-MNIST found {hits}"


def test_provenance_line_on_every_chapter(open_page):
    for rel in sorted(CHAPTER_PAGES):
        text = open_page(rel).page.inner_text("main")
        assert re.search(r"commit \S+ · built \d{4}-\d\d-\d\d · device .+ · torch \S+ · budget", text), (
            f"{rel}: no provenance line (the chapter's last cell must call provenance.show())")


def _widget_models(html_text: str) -> list[str]:
    """Model names of the widget state a page embeds (empty when it embeds none)."""
    m = re.search(r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', html_text, re.S)
    if not m:
        return []
    state = json.loads(m.group(1)).get("state", {})
    return [v.get("model_name", "") for v in state.values()]


def test_no_progress_bar_widgets_in_the_html():
    """Progress bars are for live kernels: the build runs with COURSE_PROGRESS=0, so no page embeds a tqdm
    bar (closed bars would leave blank gaps, open ones a frozen bar)."""
    bad = {}
    for rel in PAGES:
        path = HTML / rel
        if path.is_file():
            models = _widget_models(path.read_text(encoding="utf-8"))
            bars = [m for m in models if m in ("FloatProgressModel", "IntProgressModel")]
            if bars:
                bad[rel] = len(bars)
    assert not bad, f"pages with progress-bar widgets (build with COURSE_PROGRESS=0): {bad}"


def test_progress_bar_check_can_fail():
    page = ('<script type="application/vnd.jupyter.widget-state+json">{"state": {"a": {"model_name": '
            '"FloatProgressModel"}, "b": {"model_name": "HTMLModel"}}}</script>')
    assert _widget_models(page) == ["FloatProgressModel", "HTMLModel"] and _widget_models("<p></p>") == []


# ----------------------------------------------------------------------------- readable at column width (#16)
# Each check is a function of a loaded page that returns its defects, so the same code runs on every
# page of the site and on BAD_PAGE below (a page with one defect of each kind), which proves it can fail.
LAYOUT_JS = r"""() => {
  if (window.courseMarkScrolling) window.courseMarkScrolling();   // what course.js does after MathJax
  const col = document.querySelector("article.bd-article") || document.querySelector("main");
  const cs = getComputedStyle(col), cr = col.getBoundingClientRect();
  const right = cr.right - parseFloat(cs.paddingRight) + 1;
  const where = el => {
    let h = null, n = el;
    while (n && n !== col && !h) {
      let p = n.previousElementSibling;
      while (p && !h) { if (/^H[1-6]$/.test(p.tagName)) h = p; else { const q = p.querySelector && p.querySelector("h1,h2,h3,h4"); if (q) h = q; } p = p.previousElementSibling; }
      n = n.parentElement;
    }
    return h ? h.textContent.replace(/[#¶]/g, "").trim().slice(0, 50) : "top of page";
  };
  const what = el => (el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined && el.className ? "." + String(el.className).trim().split(/\s+/)[0] : "")
                      + ' "' + (el.innerText || el.getAttribute("alt") || "").replace(/\s+/g, " ").trim().slice(0, 40) + '"');
  const bad = [];
  for (const el of col.querySelectorAll('pre')) {
    if (el.closest(".cell_input, .highlight, .cell_output") && el.scrollWidth > el.clientWidth + 1)
      bad.push(`code or output needs a horizontal scroll (${el.scrollWidth} px in ${el.clientWidth}) near "${where(el)}": ${what(el)}`);
  }
  const items = col.querySelectorAll('table, mjx-container[display="true"], .cell_output > .output, img, video, iframe, .cell_output pre');
  for (const el of items) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const extent = r.left + Math.max(r.width, el.scrollWidth);
    if (extent <= right && r.right <= right) continue;
    // wider than the column: acceptable only inside a box that scrolls *and* says so (course.js)
    let box = el, ok = false, clipped = null;
    while (box && box !== col) {
      const ov = getComputedStyle(box).overflowX;
      if (ov !== "visible" && box.getBoundingClientRect().right <= right) {
        if ((ov === "auto" || ov === "scroll") && box.classList.contains("course-scrolls")) ok = true;
        else clipped = ov;
        break;
      }
      box = box.parentElement;
    }
    if (ok) continue;
    const by = Math.round(extent - right);
    bad.push(clipped ? `${what(el)} is cut off by ${by} px (overflow: ${clipped}, no scroll cue) near "${where(el)}"`
                     : `${what(el)} runs ${by} px past the column near "${where(el)}"`);
  }
  return bad;
}"""

FIGURES_JS = r"""async () => {
  const col = document.querySelector("article.bd-article") || document.querySelector("main");
  const imgs = [...col.querySelectorAll("img")];
  imgs.forEach(i => { if (i.loading === "lazy") i.loading = "eager"; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  return imgs.filter(i => i.offsetParent !== null).map(i => ({src: i.getAttribute("src"), natural: i.naturalWidth,
      shown: i.getBoundingClientRect().width, alt: (i.getAttribute("alt") || "").slice(0, 50)}));
}"""

OUTPUT_JS = r"""() => {
  const col = document.querySelector("article.bd-article") || document.querySelector("main");
  const outs = [...col.querySelectorAll(".cell_output")];
  const texts = outs.map(o => o.innerText);
  const stderr = [...col.querySelectorAll(".cell_output .stderr, .cell_output .output.stderr")].map(e => e.innerText.trim().slice(0, 80));
  const blank = outs.filter(o => o.getBoundingClientRect().height > 12 && !o.innerText.trim()
      && !o.querySelector("img, svg, canvas, table, iframe, video, input, select, button, .widget-slider, .widget-html-content *"))
    .map(o => Math.round(o.getBoundingClientRect().height));
  return {texts, stderr, blank};
}"""

STRAY = [(re.compile(r"\b\w*Warning\b:"), "a warning"),
         (re.compile(r"<(function|bound method|lambda)\b[^>]*>"), "a function's repr"),
         (re.compile(r"<[\w.]+(?: object)? at 0x[0-9a-f]+>"), "an object's repr"),
         # what a cell ending in a matplotlib call prints (ax.set_title, fig.suptitle, ax.legend, ax.plot)
         (re.compile(r"^(?:Text|Line2D|\[<matplotlib\.[\w.]+)\(?.{0,40}", re.M), "a matplotlib return value"),
         (re.compile(r"Traceback \(most recent call last\)"), "a traceback"),
         (re.compile(r"(?<![\w.])[-−]0\.0+(?![0-9]*[1-9])\b"), "a negative zero")]


def layout_defects(page) -> list[str]:
    """Tables, equations, outputs, images and code wider than the content column (without a scroll cue)."""
    return page.evaluate(LAYOUT_JS)


def _image_bytes(src: str, base: Path) -> bytes | None:
    if src.startswith("data:image/png;base64,"):
        import base64
        return base64.b64decode(src.split(",", 1)[1])
    path = (base / unquote(urlsplit(src).path)).resolve()
    return path.read_bytes() if path.suffix.lower() == ".png" and path.is_file() else None


def figure_defects(page, base: Path) -> list[str]:
    """Figures whose smallest text, as displayed, is under plotting.MIN_TEXT_PX pixels.

    Every figure records its smallest drawn text in image pixels (``plotting.set_style`` writes it into
    the PNG); the displayed size is that times shown width / natural width.
    """
    import io

    from PIL import Image

    from course_utils import plotting

    bad = []
    for img in page.evaluate(FIGURES_JS):
        data = _image_bytes(img["src"] or "", base)
        if data is None or not img["natural"]:
            continue
        meta = Image.open(io.BytesIO(data)).text
        if "Matplotlib" not in meta.get("Software", ""):
            continue  # not a figure drawn by the book
        rec = meta.get(TEXT_RECORD_KEY)
        name = (img["src"] or "")[:60] if not img["src"].startswith("data:") else f"embedded figure \"{img['alt']}\""
        if rec is None:
            bad.append(f"{name}: saved without the build's text record (_ext/text_record.py; is IPYTHONDIR "
                       f"the Makefile's _build/ipython?)")
        elif rec != "none":
            shown = float(rec) * img["shown"] / img["natural"]
            if shown < plotting.MIN_TEXT_PX - 0.05:
                bad.append(f"{name}: smallest text {shown:.1f} px as shown ({img['natural']} px image shown "
                           f"at {img['shown']:.0f} px; aim at plotting.figsize() and >= {plotting.MIN_TEXT_PX:g} px)")
    return bad


def output_defects(page) -> list[str]:
    """Warnings, reprs, tracebacks, negative zeros, stderr and blank areas in the cells' outputs."""
    res = page.evaluate(OUTPUT_JS)
    bad = [f"stderr output: {t!r}" for t in res["stderr"] if t]
    for text in res["texts"]:
        for pattern, name in STRAY:
            m = pattern.search(text)
            if m:
                start = max(0, m.start() - 30)
                bad.append(f"{name} in an output: …{text[start:m.end() + 30].strip()!r}")
    bad += [f"a blank output area {h} px tall (an empty widget or progress bar?)" for h in res["blank"]]
    return bad


@pytest.mark.parametrize("rel", PAGES)
def test_nothing_is_wider_than_the_column(open_page, rel):
    bad = layout_defects(open_page(rel).page)
    assert not bad, f"{rel} at 1280 px:\n" + "\n".join(bad)


@pytest.mark.parametrize("rel", PAGES)
def test_figure_text_is_legible_as_displayed(open_page, rel):
    bad = figure_defects(open_page(rel).page, (HTML / rel).parent)
    assert not bad, f"{rel} at 1280 px:\n" + "\n".join(bad)


@pytest.mark.parametrize("rel", PAGES)
def test_outputs_are_clean(open_page, rel):
    bad = output_defects(open_page(rel).page)
    assert not bad, f"{rel}:\n" + "\n".join(bad)


def _png_data_uri(width_in: float, fontsize: float) -> str:
    import base64
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils import plotting

    plotting.set_style()
    _text_record.install()  # as in the build's kernels (_ext/build_kernel.py)
    fig, ax = plt.subplots(figsize=(width_in, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_title("a title", fontsize=fontsize)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _bad_page() -> str:
    wide_row = "".join(f"<td>column {k} 0.123456</td>" for k in range(14))
    return f"""<!doctype html><html><head><style>
      body {{ margin: 0; font: 16px sans-serif; }}
      article.bd-article {{ width: 688px; padding: 0 32px; margin-left: 256px; }}
      .cell_output .output {{ overflow-x: auto; }}
      .clip {{ overflow: hidden; }}
      img {{ max-width: 100%; }}
      pre {{ white-space: pre; overflow-x: auto; }}
      mjx-container[display="true"] {{ display: block; overflow-x: auto; }}
      .wrap pre {{ white-space: pre-wrap; }}
    </style></head><body><article class="bd-article">
      <h2>wide things</h2>
      <div class="cell_output"><div class="output text_html"><table><tr>{wide_row}</tr></table></div></div>
      <div class="cell_output clip"><div class="output text_html"><table><tr>{wide_row}</tr></table></div></div>
      <div class="cell_input"><div class="highlight"><pre>{"x = 1  # " + "a very long comment " * 8}</pre></div></div>
      <mjx-container display="true"><span style="display:inline-block;width:900px">E = mc^2 …</span></mjx-container>
      <div style="width:900px">a paragraph box past the column <img src="{_png_data_uri(6, 10)}" alt="fine"></div>
      <h2>small text and stray output</h2>
      <div class="cell_output"><img src="{_png_data_uri(12, 7)}" alt="tiny twelve-inch figure"></div>
      <div class="cell_output"><div class="output text_plain"><pre>MatplotlibDeprecationWarning: the x was deprecated</pre></div></div>
      <div class="cell_output"><div class="output text_plain"><pre>&lt;function f at 0x7f00&gt;  -0.00</pre></div></div>
      <div class="cell_output"><div class="output text_plain"><pre>&lt;matplotlib.legend.Legend at 0x7f43360e10d0&gt;</pre></div></div>
      <div class="cell_output"><div class="output text_plain"><pre>Text(0.5, 0.98, 'Effective step of each rule')</pre></div></div>
      <div class="cell_output"><div class="output stderr"><pre>100%|██████| 10/10</pre></div></div>
      <div class="cell_output"><div style="height:80px"></div></div>
      <h2>good things</h2>
      <div class="cell_output"><div class="output text_html"><table><tr><td>1</td><td>2</td></tr></table></div></div>
      <div class="cell_input wrap"><div class="highlight"><pre>{"y = 2  # " + "a long comment that wraps " * 8}</pre></div></div>
      <div class="cell_output"><img src="{_png_data_uri(6, 10)}" alt="a figure of the column's width"></div>
      <div class="cell_output"><div class="output text_plain"><pre>0.00 -0.01 -0.001</pre></div></div>
    </article></body></html>"""


def test_layout_checks_can_fail(browser):
    """BAD_PAGE has one defect of each kind (and good twins): every check names each defect, and no twin."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.set_content(_bad_page(), wait_until="load")
        layout = layout_defects(page)
        figures = figure_defects(page, ROOT)
        outputs = output_defects(page)
    finally:
        page.close()
    text = "\n".join(layout)
    assert "code or output needs a horizontal scroll" in text and "a very long comment" in text
    assert "a long comment that wraps" not in text
    assert sum("table" in d and "no scroll cue" in d for d in layout) == 2, text  # auto without cue; hidden
    assert any("mjx-container" in d for d in layout), text
    assert any("runs" in d and "past the column" in d for d in layout), text      # the 900-px image
    assert sum(d.startswith("table") for d in layout) == 2, text                  # the 2-cell table fits
    assert len(figures) == 1 and "tiny twelve-inch figure" in figures[0], figures
    kinds = "\n".join(outputs)
    for name in ("a warning", "a function's repr", "a negative zero", "stderr output", "a blank output area",
                 "an object's repr", "a matplotlib return value"):
        assert name in kinds, f"{name!r} not found in {outputs}"
    assert "-0.01" not in kinds and "-0.001" not in kinds, outputs
