"""The built HTML in a real browser: every page of the toc (plus the search page) in headless Chromium.

Run by `make site` (a stage of `make test` after `build`); skipped when `_build/html` is missing, so the
unit stage never needs the built site.  Asserts per page:

* no uncaught JavaScript error and no console error from the site's own files (everything is local);
* MathJax typeset every formula (each `.math` element holds an `mjx-container`; no raw `$$`, `\\(`, `\\[`
  or `$…\\…$` left in the text outside code);
* every `<img>` loaded (naturalWidth > 0) and has alt text;
* every internal link resolves to a file of the site, and its `#fragment` to an id on that page;
* a chapter (a page executed from a notebook) has Colab and Binder links that open its paired `.ipynb`,
  a file that exists in the repository;
* a page with embedded widget state renders the widgets (`.widget-*` elements appear);
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
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not (HTML / "index.html").is_file():
    pytest.skip(f"no built site at {HTML} (run `make build` first; `make site` runs these tests)",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements.txt)")

_spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync)


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


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/ensure_chromium.sh "
                    f"(apt-get install chromium) or set COURSE_CHROMIUM")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


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
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / (rel.replace("/", "_").removesuffix(".html") + ".png")),
                        full_page=True)
        cache[rel] = Loaded(page, errors, url)
        return cache[rel]

    yield load
    context.close()


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
        path = _repo_path_of(kind, href)
        assert path.endswith(".ipynb") and (ROOT / path).is_file(), f"{rel}: {kind} link {href} -> {path!r} missing"


@pytest.mark.parametrize("rel", sorted(CHAPTER_PAGES) or [pytest.param("-", marks=pytest.mark.skip("no chapters"))])
def test_chapter_launch_links_open_the_paired_notebook(open_page, rel):
    """A chapter's launch button opens its paired .ipynb; an exercise page's opens the learner
    notebook in exercises/ (stubs, no solutions), and the page links the solutions notebook."""
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
        nb_cells = (ROOT / expected).read_text(encoding="utf-8")
        assert "# Solution" not in nb_cells, f"{expected} holds solution cells"
    for kind, href in links.items():
        path = _repo_path_of(kind, href)
        assert path == expected, f"{kind} opens {path!r}, expected {expected!r}"
        assert (ROOT / path).is_file(), f"{kind} link points at {path}, which is not in the repository"


def test_widget_pages_render_widgets(open_page):
    """Pages that embed widget state show rendered widgets (checked on every such page)."""
    with_state = [p for p in PAGES if (HTML / p).is_file()
                  and "application/vnd.jupyter.widget-state+json" in (HTML / p).read_text(encoding="utf-8")]
    if not with_state:
        pytest.skip("no page embeds widget state yet")
    for rel in with_state:
        n = open_page(rel).page.locator('[class*="widget-"]').count()
        assert n > 0, f"{rel}: widget state embedded but no widget rendered"


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
