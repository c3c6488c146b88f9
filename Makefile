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

.PHONY: book test install data js unit nbval build clean bench

book: install data js build
	@echo "The book: file://$(abspath _build/html/index.html)"

test: install data js unit build nbval
	@echo "make test: all stages passed"

install: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -e .
	@touch $@

data: install
	@bash scripts/ensure_data.sh $(PY)

js:
	@bash scripts/fetch_js.sh

unit: install
	$(PY) -m pytest tests -q -p no:cacheprovider

build: install data js
	$(JB) build . $(JB_FLAGS)

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

bench: install data
	$(PY) bench/train_throughput.py

clean:
	rm -rf _build
