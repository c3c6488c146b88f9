"""Sphinx extension of the course book (registered in _config.yml under sphinx.local_extensions).

Twelve handlers (see :func:`setup`), for six things the stock Jupyter Book 1 pipeline does not do:

1. **Launch buttons open the learner notebook.**  Colab cannot open a MyST ``.md`` file, and the
   source is not what a learner should meet: the Colab and Binder buttons open the learner notebook that
   ``_ext/learner_notebooks.py`` builds from the executed page (on the ``notebooks`` branch; for an
   exercise page, the exercise notebook with stubs), and the download menu offers the same notebook.
2. **Alt text for output images.**  myst-nb renders figures of code cells as ``<img>`` without alt
   text.  An image without one gets the description that the build's kernel recorded in the PNG
   (``_ext/figure_describe.py``: what the figure's data show: series, ranges, which ends highest and by
   how much); a PNG without one (an image that is not a matplotlib figure) gets the titles the cell's
   code gives its figure (``title=...``, ``set_title(...)``, ``suptitle(...)``), else "Figure in
   section S of chapter C".  An explicit ``mystnb.image.alt`` in the cell metadata still wins.
3. **The repository URL in prose.**  ``{{ repo_url }}`` and ``{{ repo_name }}`` in MyST pages come from
   ``repository.url`` in ``_config.yml`` (one place to change it).
4. **The PDF's chapters** (``flatten_root_for_latex``): sphinx-jupyterbook-latex does the same
   flattening but forces its own document class and preamble (``ucharclasses``, ``unicode-math``),
   which the FreeFont/``newunicodechar`` set-up of ``_config.yml`` would have to be rebuilt around, so
   it stays switched off and these 20 lines do the one part the book needs.
5. **Two console errors of the theme stack removed**: a duplicated sphinx-thebe config script
   (``dedupe_scripts``) and the missing default colour mode (``set_default_mode``); plus the static
   files of ``_ext/static`` (``add_static_path``).
6. **Every reader** (WCAG 2.2 AA, ``tests/test_accessibility.py``): no dead ipywidgets copies and no widget
   manager on a static page (``drop_static_widgets``), toggles named by their visible label and lazy
   images (``accessible_body``), HTML outputs readable in dark mode (``write_dark_output_css``), the theme's
   icons from its CSS webfont without the 1.5 MB script that redraws them (``light_icons``).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

LOG = logging.getLogger(__name__)
ALT_KEY = "course-alt"  # the PNG text chunk of _ext/figure_describe.py (ALT_KEY there)
LAUNCH_TEXTS = ("Colab", "Binder", "JupyterHub", "Deepnote")

# ----------------------------------------------------------------------------- 3. substitutions


def _repo_url(app: Sphinx) -> str:
    opts = app.config.html_theme_options or {}
    return (opts.get("repository_url") or "").rstrip("/")


def add_repo_substitutions(app: Sphinx, config) -> None:
    url = _repo_url(app)
    if not url:
        return
    subs = dict(getattr(config, "myst_substitutions", {}) or {})
    subs.setdefault("repo_url", url)
    subs.setdefault("repo_name", "/".join(url.split("/")[-2:]))
    subs.setdefault("repo_branch", (app.config.html_theme_options or {}).get("repository_branch", "main"))
    try:  # the budget this build's kernels run (the same rule: $COURSE_BUDGET, else full with CUDA)
        from course_utils import config as _cfg
        for name in ("full", "cpu"):
            b = _cfg.get_budget(name)
            subs.setdefault(f"{name}_sizes", f"{b.epochs} epochs per run, {b.seeds} seeds")
        subs.setdefault("book_budget", _cfg.get_budget().name)
    except ImportError:  # pragma: no cover - the package is part of this repository
        pass
    config.myst_substitutions = subs


def set_default_mode(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """An explicit colour mode: with an empty one the theme logs "Got invalid theme mode" as a
    console error on a reader's first visit (sphinx-book-theme does not accept `default_mode`)."""
    if not context.get("default_mode"):
        context["default_mode"] = "auto"


def dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Drop repeated <script> entries (sphinx-thebe adds its inline `const THEBE_JS_URL` once per
    read phase, and a second one is a SyntaxError in the browser)."""
    files = context.get("script_files")
    if not files:
        return
    seen, out = set(), []
    for js in files:
        attrs = getattr(js, "attributes", {}) or {}
        name = getattr(js, "filename", js) or ""  # None and "" both mean an inline script
        key = (str(name), tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key in seen:
            continue
        seen.add(key)
        out.append(js)
    files[:] = out  # in place: it is the builder's list, which later handlers may append to


# ----------------------------------------------------------------------------- 2. alt text
_TITLE_CALL = re.compile(r"(?:suptitle|set_title|title)\s*\(\s*(f?)(['\"])(.+?)\2")
_TITLE_KW = re.compile(r"\btitle\s*=\s*(f?)(['\"])(.+?)\2")


def titles_in_source(source: str) -> list[str]:
    """The literal figure titles a cell's code sets, in order, without duplicates.

    >>> titles_in_source('ax.set(xlabel="x", title="Loss per epoch"); fig.suptitle(f"Depth {d}")')
    ['Loss per epoch', 'Depth …']
    """
    found = []
    for m in sorted([*_TITLE_CALL.finditer(source), *_TITLE_KW.finditer(source)], key=lambda m: m.start()):
        text = m.group(3)
        try:  # undo escapes such as \n or \u00b2 the way Python would
            text = ast.literal_eval(m.group(2) + text + m.group(2))
        except (ValueError, SyntaxError):
            pass
        if m.group(1):  # f-string: the fields are only known at run time
            text = re.sub(r"\{[^{}]*\}", "…", text)
        text = re.sub(r"\$([^$]*)\$", r"\1", text).replace("\\", "").strip()  # drop TeX math markers
        if text and text not in found:
            found.append(text)
    return found


def _section_title(node: nodes.Node) -> str | None:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.section) and parent.children and isinstance(parent[0], nodes.title):
            return parent[0].astext()
        parent = parent.parent
    return None


def _png_description(app: Sphinx, uri: str) -> str | None:
    """What the figure in the PNG at ``uri`` shows, as the build's kernel recorded it (``figure_describe.py``)."""
    if not uri.lower().endswith(".png") or "://" in uri:
        return None
    src = Path(app.srcdir)
    # myst-nb gives "/<path from the source folder>"; Sphinx's image collector (also on doctree-read)
    # rewrites it to the path from the source folder without the slash
    tries = [src / uri.lstrip("/"), src / Path(app.env.docname).parent / uri]
    path = next((p for p in tries if p.is_file()), None)
    if path is None:
        return None
    from PIL import Image

    try:
        with Image.open(path) as im:
            text = (getattr(im, "text", None) or {}).get(ALT_KEY)
    except (OSError, ValueError):
        return None
    return text.strip() if text and text.strip() else None


def add_alt_text(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    chapter = next((t.astext() for t in doctree.findall(nodes.title)), docname)
    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            continue
        described = _png_description(app, image.get("uri", ""))
        if described:
            image["alt"] = described
            continue
        cell = image.parent
        while cell is not None and not (isinstance(cell, nodes.container) and cell.get("nb_element") == "cell_code"):
            cell = cell.parent
        titles: list[str] = []
        if cell is not None:
            for src in cell.findall(nodes.literal_block):
                titles += titles_in_source(src.astext())
            if not titles:  # a removed-input cell keeps its source in the notebook, not in the doctree
                titles = titles_in_source(str(cell.get("nb_source", "")))
        if titles:
            alt = "Figure: " + "; ".join(titles)
        else:
            section = _section_title(image)
            alt = f"Figure in section “{section}” of “{chapter}”" if section else f"Figure in “{chapter}”"
        image["alt"] = alt


# ----------------------------------------------------------------------------- 1. launch buttons


def _walk_buttons(buttons):
    for b in buttons or []:
        if isinstance(b, dict):
            yield b
            yield from _walk_buttons(b.get("buttons"))


def _learner_notebooks():
    """``_ext/learner_notebooks.py`` (one definition of where a page's learner notebook lies)."""
    import importlib.util
    import sys

    mod = sys.modules.get("learner_notebooks")
    if mod is None:
        spec = importlib.util.spec_from_file_location("learner_notebooks", Path(__file__).with_name("learner_notebooks.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules["learner_notebooks"] = mod
        spec.loader.exec_module(mod)
    return mod


def launch_url(kind: str, url: str, owner_repo: str, target: str, branch: str) -> str:
    """The Colab or Binder URL that opens ``target`` of ``branch`` (else ``url`` unchanged)."""
    if kind == "Colab":
        base = url.split("/github/")[0] if "/github/" in url else "https://colab.research.google.com"
        return f"{base}/github/{owner_repo}/blob/{branch}/{target}"
    if kind == "Binder":
        base = url.split("/v2/gh/")[0] if "/v2/gh/" in url else "https://mybinder.org"
        return f"{base}/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{target}"
    return url


def point_launch_buttons_at_learner_notebooks(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Colab and Binder open the page's learner notebook on the ``notebooks`` branch; a download entry
    serves the same notebook from the site (``_notebooks/``).  Both are written after the build by
    ``_ext/learner_notebooks.py`` (the publishing workflow pushes ``_build/notebooks`` to the branch)."""
    if doctree is None or "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    ln = _learner_notebooks()
    target = ln.learner_target(pagename, Path(app.srcdir))
    url = _repo_url(app)
    owner_repo = "/".join(url.split("/")[-2:]) if url else ""
    launch = [b for b in _walk_buttons(context.get("header_buttons")) if b.get("text") in LAUNCH_TEXTS]
    for b in launch:
        b["url"] = launch_url(b.get("text"), b.get("url", ""), owner_repo, target, ln.NOTEBOOK_BRANCH)
    context["course_launch_urls"] = {b["text"]: b["url"] for b in launch}
    # the download menu: the learner notebook instead of the MyST source
    depth = pagename.count("/")
    href = "../" * depth + f"{ln.SITE_FOLDER}/{target}"
    for b in _walk_buttons(context.get("header_buttons")):
        if b.get("label") == "download-buttons":
            items = [x for x in b.get("buttons", []) if not str(x.get("url", "")).endswith((".md", ".ipynb"))]
            items.insert(0, {"type": "link", "url": href, "text": ".ipynb", "icon": "fas fa-code",
                             "tooltip": "Download the learner notebook (outputs included)",
                             "label": "download-notebook-button"})
            b["buttons"] = items


# ----------------------------------------------------------------------------- 4. PDF structure


def flatten_root_for_latex(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """PDF (`make pdf`): one LaTeX chapter per chapter of the toc.

    Sphinx inlines the root page's toctrees where they stand, so the chapters would become sections
    of the root page's last heading, and the root page's own headings would be the chapters.  For
    the LaTeX builder only, the root page's sub-headings become rubrics (unnumbered, not in the
    contents) and its toctrees (already inlined: the chapters) move to the top level of the page.
    Runs on the assembled LaTeX tree (``doctree-resolved``), never on the pickled doctrees.
    """
    if app.builder.name != "latex" or docname != app.config.root_doc:
        return
    top = next(iter(doctree.findall(nodes.section)), None)
    if top is None:
        return
    wrappers = [n for n in doctree.findall(nodes.compound) if "toctree-wrapper" in n.get("classes", [])]
    for w in wrappers:
        w.parent.remove(w)
    for sec in [s for s in top.findall(nodes.section) if s is not top][::-1]:
        title = sec[0] if sec.children and isinstance(sec[0], nodes.title) else None
        body = sec.children[1:] if title is not None else list(sec.children)
        new = ([nodes.rubric("", "", *title.children)] if title is not None else []) + body
        sec.replace_self(new)
    top.extend(wrappers)


# ----------------------------------------------------------------------------- 6. every reader (issue #29)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LIVE_NOTE = ('<p class="course-live-note">Live controls appear here when this cell runs in Jupyter, Colab or '
             'Binder: they need a running Python kernel, so this page, which has none, leaves them out.</p>')


def drop_static_widgets(app: Sphinx, doctree: nodes.document) -> None:
    """No ipywidgets on a built page: without a kernel their controls do nothing (the static explorables
    redraw in the browser instead), and the widget manager that draws them weighs 3.6 MB.  Each widget
    output becomes a line saying where the live controls run, and the page loads neither the saved
    widget state nor the manager."""
    if app.builder.format != "html":
        return
    for raw in list(doctree.findall(nodes.raw)):
        if WIDGET_VIEW in raw.astext():
            raw.replace_self(nodes.raw("", LIVE_NOTE, format="html"))
    js = getattr(app.env, "nb_metadata", {}).get(app.env.docname, {}).get("js_files", {})
    for key in [k for k in js if str(k).startswith("ipywidgets_")]:
        del js[key]


_TOGGLE_LABEL = re.compile(r'<summary aria-label="Toggle hidden content">')
_IMG = re.compile(r"<img(?![^>]*\sloading=)")


def accessible_body(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Two fixes in the page body: the "Show code cell source" toggles are named by what they show
    (myst-nb's aria-label "Toggle hidden content" differs from the visible label, WCAG 2.5.3), and
    images load lazily (a reader fetches a figure when it scrolls near)."""
    body = context.get("body")
    if not body:
        return
    body = _TOGGLE_LABEL.sub("<summary>", body)
    context["body"] = _IMG.sub('<img loading="lazy"', body)


def _light_palette() -> str:
    """The theme's light-mode colour variables (pydata-sphinx-theme's ``html[data-theme=light]`` blocks)."""
    try:
        import pydata_sphinx_theme
    except ImportError:  # pragma: no cover - the theme is a dependency of the book
        return ""
    css = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / "styles"
           / "pydata-sphinx-theme.css").read_text(encoding="utf-8")
    decls = re.findall(r"html\[data-theme=light\]\{([^{}]*)\}", css)
    return ";".join(d.strip().rstrip(";") for d in decls if "--" in d)


def write_dark_output_css(app: Sphinx, exception) -> None:
    """Dark mode: the theme shows a notebook's HTML output (tables, the "At the sources' sizes" boxes, the
    "Produced by:" line) on a light box, but the admonitions, code and captions inside keep the dark
    palette (light text on the light box: 1.0:1).  Inside that box, the theme's light palette applies,
    on the light theme's white: every colour inside is one the light theme was made for.  Written as
    ``_static/course_dark_outputs.css`` from the installed theme's own variables."""
    if exception is not None or app.builder.format != "html":
        return
    palette = _light_palette()
    sel = "html[data-theme=dark] .bd-content div.cell_output .text_html:not(:has(table.dataframe))"
    css = (f"/* written by _ext/course_book.py (write_dark_output_css) */\n{sel} {{{palette};\n"
           f"  background-color: #fff; color: #222832; color-scheme: light;}}\n")
    out = Path(app.outdir) / "_static" / "course_dark_outputs.css"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(css, encoding="utf-8")


def light_icons(app: Sphinx, exception) -> None:
    """The theme draws its Font Awesome icons twice: its CSS carries the webfont and every icon's glyph, and
    ``_static/scripts/fontawesome.js`` (1.5 MB on every page) redraws the same icons as SVG.  The script
    becomes a one-line stub; the CSS icons stay (course.js hides them from screen readers, as the script
    did)."""
    if exception is not None or app.builder.format != "html":
        return
    js = Path(app.outdir) / "_static" / "scripts" / "fontawesome.js"
    if js.is_file() and js.stat().st_size > 10_000:
        js.write_text("/* _ext/course_book.py (light_icons): the icons come from the theme's CSS webfont. */\n",
                      encoding="utf-8")


STATIC = Path(__file__).resolve().parent / "static"


def add_static_path(app: Sphinx) -> None:
    """_ext/static/ (course_widgets.js, listed in nb_ipywidgets_js; course.css, course.js) is served from _static/."""
    if str(STATIC) not in app.config.html_static_path:
        app.config.html_static_path.append(str(STATIC))


def setup(app: Sphinx):
    app.connect("builder-inited", add_static_path)
    app.add_css_file("course.css")  # _ext/static/course.css: result tables, code wrapping, scroll cues
    app.add_js_file("course.js")    # _ext/static/course.js: marks content that scrolls sideways
    app.connect("config-inited", add_repo_substitutions, priority=900)
    app.connect("html-page-context", set_default_mode, priority=600)
    app.connect("html-page-context", dedupe_scripts, priority=700)
    app.connect("doctree-read", add_alt_text)
    app.add_css_file("course_dark_outputs.css")  # written at the end of the build (write_dark_output_css)
    app.connect("doctree-read", drop_static_widgets)
    app.connect("html-page-context", accessible_body, priority=650)
    app.connect("build-finished", write_dark_output_css)
    app.connect("build-finished", light_icons)
    from png_compress import compress_images  # _ext/png_compress.py: figures stored with a palette

    app.connect("build-finished", compress_images)
    app.connect("doctree-resolved", flatten_root_for_latex)
    # after sphinx_book_theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", point_launch_buttons_at_learner_notebooks, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
