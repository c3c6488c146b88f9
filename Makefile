# The two commands of the README:  `make book`  and  `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
JB := $(VENV)/bin/jupyter-book
STAMP := $(VENV)/.installed
# -W: any Sphinx warning fails;  -n: nitpicky;  --keep-going: report all of them
JB_FLAGS := -W -n --keep-going
export COURSE_PROGRESS ?= 0
export PYTHONHASHSEED := 0
# The build's kernels start with _build/ipython's start-up file (_ext/build_kernel.py: every PNG records its
# smallest text for the browser test, tables get their Markdown form for the PDF); build machinery that a
# learner's kernel never runs.
export IPYTHONDIR := $(CURDIR)/_build/ipython
# Browser/PDF test files run in their own stages, after the build (never in `unit`)
STAGE_TESTS := tests/test_site.py tests/test_explorables_browser.py tests/test_pdf.py tests/test_learner_products.py

.PHONY: book test install data js unit sync build ipython site learner nbval pdf pdf-test clean bench gpu-check full-budget

book: install data js build
	@echo "The book: file://$(abspath _build/html/index.html)"

test: install data js unit build site learner pdf-test
	@echo "make test: all stages passed"

install: $(STAMP)
# constraints.txt: the exact versions of the whole toolchain (CONTRIBUTING.md: renewing it)
$(STAMP): requirements.txt requirements-jax.txt pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -r requirements.txt -r requirements-jax.txt -e .
	@touch $@

data: install
	@bash scripts/ensure_data.sh $(PY)

js:
	@bash scripts/fetch_js.sh

# Unit tests, incl. tests/test_chapter_sources.py: the generated cells of every chapter, and no plumbing in
# the code a page shows (scripts/page_code.py).
unit: install
	$(PY) -m pytest tests -q -p no:cacheprovider $(addprefix --ignore=,$(STAGE_TESTS))

# Generated files: the exercise notebooks and pages (exercises/build_notebooks.py), then for every
# MyST chapter in _toc.yml the install cell (from repository.url of _config.yml) and the provenance cell.
# The notebooks Colab/Binder open are built with the book: _build/notebooks (_ext/learner_notebooks.py).
sync: install
	$(PY) exercises/build_notebooks.py
	$(PY) scripts/sync_notebooks.py

# scripts/pre_execute.py first runs the pages the execution cache lacks two at a time (one thread each) into
# myst-nb's cache; the build then only renders. It never fails: a page it could not run, the build runs and reports.
build: install data js sync ipython
	$(PY) scripts/pre_execute.py
	$(JB) build . $(JB_FLAGS)

ipython: install
	@$(PY) _ext/build_kernel.py $(IPYTHONDIR) >/dev/null

# The learner notebooks and the pages' code as built (tests/test_learner_products.py: no MyST, no checks,
# the outputs, launch links, no plumbing in sight), then every page of _build/html in headless Chromium
# (layout, figures, outputs, links, launch buttons) and every explorable's controls; screenshots in
# _build/screenshots/. Then every reader (tests/test_accessibility.py): axe-core (scripts/ensure_axe.sh)
# and text contrast in light and dark mode, described figures, page weights (_build/accessibility.json),
# reflow at 320 px.
site: install
	COURSE_REQUIRE_SITE=1 $(PY) -m pytest tests/test_learner_products.py -q -p no:cacheprovider -rs
	@bash scripts/ensure_chromium.sh
	@bash scripts/ensure_axe.sh
	$(PY) -m pytest tests/test_site.py tests/test_explorables_browser.py -q -p no:cacheprovider -rs
	COURSE_SITE_TESTS=1 $(PY) -m pytest tests/test_accessibility.py -q -p no:cacheprovider -rs; \
	  rc=$$?; $(PY) tests/test_accessibility.py _build/accessibility.json; exit $$rc

# The learners' path (scripts/learner_stage.py): a non-root user, a fresh venv outside the repository
# with only the package (installed from a git URL of this checkout by the chapters' own install cell)
# and a kernel, torchvision's download against a loopback server, then nbval executes every paired
# chapter .ipynb, every exercise notebook and every solution notebook in that kernel. Training runs come
# from the results cache that `build` filled (shared read-only), so nothing is trained twice.
# LEARNER_FLAGS=--keep-venv reuses the learner venv between local runs.
learner: install data
	$(PY) scripts/learner_stage.py $(LEARNER_FLAGS)

nbval: learner

# PDF via xelatex (offline; TeX Live from Debian): _build/latex/book.pdf. Uses the execution cache of
# `build`, so after `make book` it only typesets.
pdf: install data js sync ipython
	@bash scripts/ensure_tex.sh
	$(JB) build . --builder pdflatex $(JB_FLAGS)
	@ls -l _build/latex/book.pdf

pdf-test: pdf
	COURSE_REQUIRE_PDF=1 $(PY) -m pytest tests/test_pdf.py -q -p no:cacheprovider -rs

bench: install data
	$(PY) bench/train_throughput.py
	$(PY) bench/where_time_goes.py

# On a CUDA machine: both benchmarks and as many full-budget chapters as fit in ~10 minutes, timings in
# _build/gpu_check.json (scripts/gpu_check.py).  Without CUDA it stops with a message; DRY=1 runs its
# CPU dry run (toy sizes, about a minute).
gpu-check: install data ipython
	$(PY) scripts/gpu_check.py $(if $(DRY),--dry-run)

# Every chapter at the full budget (the sources' sizes), chapter by chapter, with its own results cache
# (.cache-full): per-chapter times and failing checks in _build/budget-full/report.json. Hours on CPU.
full-budget: install data ipython
	$(PY) scripts/run_budget.py --budget full

clean:
	rm -rf _build
