# geoclip book — `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV     ?= .venv
PY       := $(VENV)/bin/python
BIN      := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
CHAPTERS := $(notdir $(shell grep -oE 'book/[A-Za-z0-9_]+' _toc.yml))  # the chapters _toc.yml lists
EXECUTED := _build/executed
SITE     := _build/site
HTML     := $(SITE)/_build/html
TORCH    := torch==2.14.1 torchvision==0.29.1
# pytest-xdist workers of the unit tests (make unit JOBS=4)
JOBS     ?= 2

.PHONY: help setup setup-browser setup-axe sync execute html book headline lint check unit nbval weight browser test bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# uv installs the same pinned versions as pip (constraints.txt) in a third of the time; pip stays in .venv.
# --compile-bytecode as pip does: without it every test worker, Ray process and kernel compiles what it
# imports first (the Ray tests took 201 s instead of 107).
$(VENV)/.stamp: pyproject.toml constraints.txt
	python3.11 -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt "pip<26" uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(PY) -c constraints.txt $(TORCH) \
	  -e ".[book,models,scale,test]"
	touch $@

setup: $(VENV)/.stamp ## create .venv and install the package with pinned versions (book, models, scale and test extras)

sync: $(VENV)/.stamp ## regenerate book/*.ipynb from the MyST sources (keeps headline outputs)
	$(BIN)/jupytext --quiet --update --to ipynb $(addprefix book/,$(addsuffix .md,$(CHAPTERS)))
	$(PY) tools/nbtools.py strip book/*.ipynb

# The chapters run JOBS at a time, the longest first (the order only balances the load); each one's papermill
# log is kept in _build/executed/NAME.log and printed if it fails. Side by side, each computes on one thread
# (two chapters on two cores rather than four threads fighting: 144 s against 183 s here).
LONGEST  := your_model below_country training_data calibration
EXEC_ENV := $(if $(filter 1,$(JOBS)),,OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1)
execute: sync ## execute every chapter with papermill (default parameters) into _build/executed, JOBS at a time
	@mkdir -p $(EXECUTED)
	@printf '%s\n' $(filter $(CHAPTERS),$(LONGEST)) $(filter-out $(LONGEST),$(CHAPTERS)) | \
	  xargs -P $(JOBS) -I{} bash -c 'c={}; rm -f $(EXECUTED)/$$c.files.jsonl; SECONDS=0; \
	    if $(EXEC_ENV) GEOCLIP_BOOK_BUILD=1 GEOCLIP_PROVENANCE_LOG=$(abspath $(EXECUTED))/$$c.files.jsonl \
	      $(BIN)/papermill --no-progress-bar -k python3 --cwd . book/$$c.ipynb $(EXECUTED)/$$c.ipynb \
	      > $(EXECUTED)/$$c.log 2>&1; then echo "executed book/$$c.ipynb ($${SECONDS} s)"; \
	    else cat $(EXECUTED)/$$c.log; echo "FAILED: book/$$c.ipynb (log: $(EXECUTED)/$$c.log)"; exit 255; fi'

html: ## build the HTML book from the executed chapters (Jupyter Book, execution off, warnings are errors)
	@rm -rf $(SITE) && mkdir -p $(SITE)/book $(SITE)/_static $(SITE)/_ext $(SITE)/_extra/_sources/book $(SITE)/appendix
	cp _config.yml _toc.yml references.bib $(SITE)/
	cp _static/*.js _static/*.css $(SITE)/_static/
	cp $(VENV)/lib/python3.11/site-packages/plotly/package_data/plotly.min.js $(SITE)/_static/
	cp tools/book_sphinx_ext.py $(SITE)/_ext/
	cp book/*.md $(SITE)/_extra/_sources/book/
	cp appendix/*.md $(SITE)/appendix/
	cp $(EXECUTED)/*.ipynb $(SITE)/book/
	$(PY) tools/book_assets.py $(SITE)
	$(PY) -m geoclip_utils.provenance $(EXECUTED) $(SITE)/appendix/reproducibility.md $(CHAPTERS)
	$(BIN)/jupyter-book build $(SITE) -W -n --keep-going --quiet
	@echo "The book is at $(abspath $(HTML))/index.html"

book: execute html ## execute all chapters, then build the HTML book (prints where it is)

headline: ## copy the headline (nbval-checked) outputs of _build/executed into book/*.ipynb
	$(PY) tools/nbtools.py headline $(EXECUTED) $(addprefix book/,$(addsuffix .ipynb,$(CHAPTERS)))

lint: $(VENV)/.stamp ## ruff on the package, tests, tools and notebooks; the layers contract (lint-imports); the CI workflows against GitHub's schema
	$(BIN)/ruff check geoclip_utils tests tools book
	$(BIN)/ruff format --check geoclip_utils tests tools
	$(BIN)/lint-imports --no-logo
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.citation-file-format CITATION.cff

check: lint ## the quick loop: lint, then the unit tests not marked slow or serial, in parallel (JOBS)
	$(BIN)/pytest -q -n $(JOBS) -m "not slow and not serial" tests

unit: $(VENV)/.stamp ## unit tests: in parallel (pytest-xdist, JOBS=2), then the serial Ray cluster tests alone
	$(BIN)/pytest -q -n $(JOBS) -m "not serial" tests
	$(BIN)/pytest -q -m serial tests

setup-browser: ## install Debian's chromium and its chromedriver for the browser check when missing (needs root)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }

setup-axe: node_modules/axe-core/axe.min.js ## install axe-core for the browser check (npm ci, package-lock.json)

node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

weight: ## weigh every built page: HTML bytes per page (budget 500 kB), its own figure data, the shared assets
	$(PY) tools/page_weight.py $(HTML) --budget-kb 500 --report _build/page-weights.tsv

browser: setup-browser setup-axe ## every page in headless chromium, offline: figures, layout, colour scales, console, requests, text, alt, links, axe
	$(PY) tools/browser_check.py --self-test
	$(PY) tools/browser_check.py $(HTML) --report _build/browser-check.json

nbval: execute ## the executed chapters' headline outputs against the committed ones (nbval's rules; no second run)
	$(PY) tools/nbtools.py check $(EXECUTED) $(addprefix book/,$(addsuffix .ipynb,$(CHAPTERS)))

test: lint unit book weight browser nbval ## everything CI runs: lint, unit tests, book build, page weights, browser check, nbval

BENCHES  := inference geocode captions scale

bench: $(VENV)/.stamp ## run every benchmark; each prints one JSON object (see README)
	@for b in $(BENCHES); do $(BIN)/geoclip bench $$b --json; done

clean: ## remove build outputs (keeps .venv and the data cache)
	rm -rf _build .pytest_cache .ruff_cache
