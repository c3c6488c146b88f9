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
# Browser/PDF test files run in their own stages, after the build (never in `unit`)
STAGE_TESTS := tests/test_site.py tests/test_pdf.py

.PHONY: book test install data js unit sync build site nbval pdf pdf-test clean bench

book: install data js build
	@echo "The book: file://$(abspath _build/html/index.html)"

test: install data js unit build site nbval pdf-test
	@echo "make test: all stages passed"

install: $(STAMP)
$(STAMP): requirements.txt requirements-jax.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -r requirements-jax.txt -e .
	@touch $@

data: install
	@bash scripts/ensure_data.sh $(PY)

js:
	@bash scripts/fetch_js.sh

# Unit tests, incl. tests/test_paired.py: fails when a committed .ipynb pair is missing or stale.
unit: install
	$(PY) -m pytest tests -q -p no:cacheprovider $(addprefix --ignore=,$(STAGE_TESTS))

# Paired notebooks for Colab/Binder (+ the provenance cell) for every MyST chapter in _toc.yml.
sync: install
	$(PY) scripts/sync_notebooks.py

build: install data js sync
	$(JB) build . $(JB_FLAGS)

# Every page of _build/html in headless Chromium; screenshots in _build/screenshots/.
site: install
	@bash scripts/ensure_chromium.sh
	$(PY) -m pytest tests/test_site.py -q -p no:cacheprovider -rs

# nbval re-executes every chapter (converted from MyST with jupytext) and every exercise notebook.
# Training runs come from the results cache that `build` filled, so nothing is trained twice.
nbval: install data
	@rm -rf _build/nbval && mkdir -p _build/nbval
	@for f in $$(grep -o 'book/[A-Za-z0-9_/]*' _toc.yml); do \
	  [ -f "$$f.md" ] && grep -q 'format_name: myst' "$$f.md" || continue; \
	  mkdir -p "_build/nbval/$$(dirname $$f)"; \
	  $(VENV)/bin/jupytext --quiet --to ipynb -o "_build/nbval/$$f.ipynb" "$$f.md"; done
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-cell-timeout=1800 \
	  _build/nbval $$(find exercises -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null)

# PDF via xelatex (offline; TeX Live from Debian): _build/latex/book.pdf. Uses the execution cache of
# `build`, so after `make book` it only typesets.
pdf: install data js sync
	@bash scripts/ensure_tex.sh
	$(JB) build . --builder pdflatex $(JB_FLAGS)
	@ls -l _build/latex/book.pdf

pdf-test: pdf
	COURSE_REQUIRE_PDF=1 $(PY) -m pytest tests/test_pdf.py -q -p no:cacheprovider -rs

bench: install data
	$(PY) bench/train_throughput.py

clean:
	rm -rf _build
