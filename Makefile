# dcgan-course: two commands on a fresh machine — `make lab` and `make test`.
# Everything installs into .venv with pip (torch comes from PyPI or your local wheel cache).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FAST   ?= 0
FIRST_NOTEBOOK := notebooks/00_setup_and_data.ipynb
# JupyterLab refuses to run as root (containers, cloud VMs, CI) unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_OPTIONS ?=

.PHONY: help install lab course site test lint unit notebooks nbgrader exercises benchmarks clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the course package with its test and lab extras

lab: install  ## open JupyterLab on the whole course (repository root), first notebook open
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ROOT_FLAG) $(LAB_OPTIONS) $(FIRST_NOTEBOOK)

course: install  ## run every lecture notebook headless into build/ (FAST=1 for the quick version)
	mkdir -p build/executed build/html
	DCGAN_COURSE_FAST=$(FAST) $(BIN)/jupyter nbconvert --to notebook --execute \
		--ExecutePreprocessor.timeout=-1 --output-dir build/executed notebooks/*.ipynb
	$(BIN)/jupyter nbconvert --to html --output-dir build/html build/executed/*.ipynb
	@echo "Executed notebooks: build/executed/   HTML: build/html/"

SITE_JOBS ?= 1
site: install  ## the executed course as a static site in build/site, course map first (FAST=1: fast mode)
	$(BIN)/python scripts/build_site.py --out build/site --jobs $(SITE_JOBS) $(if $(filter 1,$(FAST)),--fast,)
	@echo "Open build/site/index.html"

# The lectures run once, inside tests/test_site.py (the fast-mode site build executes each and fails on
# any cell error, as nbval-lax would, then checks its figures); solutions run under nbval.
test: install  ## lint, unit tests (incl. the fast-mode site build of every lecture), solutions under nbval, nbgrader
	$(BIN)/ruff check .
	DCGAN_COURSE_FAST=1 $(BIN)/pytest --nbval-lax --nbval-current-env tests solutions
	$(MAKE) nbgrader

# nbgrader lives in its own environment (its Jupyter pins must not move the course's); the notebooks
# it grades run in warm kernels of .venv, so .venv-nbgrader needs no torch.
NBGRADER_VENV := .venv-nbgrader
$(NBGRADER_VENV)/.installed:
	test -x $(NBGRADER_VENV)/bin/python || $(PYTHON) -m venv $(NBGRADER_VENV)
	$(NBGRADER_VENV)/bin/python -m pip install --quiet "nbgrader>=0.9,<0.10"
	touch $@

nbgrader: install $(NBGRADER_VENV)/.installed  ## nbgrader generate_assignment + autograde round trip
	DCGAN_COURSE_FAST=1 DCGAN_COURSE_NBGRADER=$(CURDIR)/$(NBGRADER_VENV)/bin $(BIN)/pytest tests/test_nbgrader.py

lint: install  ## ruff on the package, tests and notebooks
	$(BIN)/ruff check .

unit: install  ## only the Python tests
	DCGAN_COURSE_FAST=1 $(BIN)/pytest tests

notebooks: install  ## only the lecture and solution notebooks, in fast mode
	DCGAN_COURSE_FAST=1 $(BIN)/pytest --nbval-lax --nbval-current-env notebooks solutions

exercises: install  ## regenerate exercises/ from solutions/
	$(BIN)/dcgan-course make-exercises

benchmarks: install  ## throughput and probe benchmarks (prints tables)
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:  ## remove build outputs and cached runs (keeps .venv and data/)
	rm -rf build runs notebooks/runs solutions/runs exercises/runs .pytest_cache
