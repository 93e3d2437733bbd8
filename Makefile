# mlops-kit: the two commands are `make run` and `make test`; everything else is optional.
# Each target creates .venv on first use and (re)installs the kit when pyproject.toml changes.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mlops-kit-installed
EXTRAS ?= dev,dask

# Use the venv's own Jupyter kernel, never a stale one from the user's home.
export JUPYTER_PREFER_ENV_PATH := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export MPLBACKEND := Agg
# CI sets MLOPS_KIT_DATA_DIR when its machine holds real TLC files (see .ci/run); otherwise synthetic.

.PHONY: help venv sandbox run lab test test-fast lint format goldens bench clean distclean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "mlops-kit needs Python 3.10+, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing mlops-kit and its dependencies into $(VENV) (the first time takes a few minutes)..."
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[$(EXTRAS)]' | grep -E --line-buffered '^(Collecting|Successfully installed)' | sed -u -E 's/^(.{96}).+/\1 .../'
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the kit (editable) with its extras

sandbox:  ## install bubblewrap (the graders' kernel sandbox) when missing: root with apt-get installs it
	@if command -v bwrap >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing bubblewrap, the sandbox graded notebooks run in..."; \
	  apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null; }; \
	else \
	  echo "bubblewrap (bwrap) is missing: grading refuses to run notebooks without it and the"; \
	  echo "sandbox tests skip. Install it: sudo apt-get install bubblewrap (dnf: bubblewrap)."; \
	fi

run: $(STAMP)  ## summarise the training months, execute every notebook, write build/index.html
	$(BIN)/mlops-kit data summary green:2021-01 green:2021-02
	$(BIN)/mlops-kit run --out build

lab: $(STAMP)  ## open JupyterLab from .venv on this folder (the notebooks run in their own folder)
	$(BIN)/jupyter lab --notebook-dir=. $$(if [ "$$(id -u)" = 0 ]; then echo --allow-root; fi)

test: $(STAMP) sandbox  ## run the whole test suite (unit, notebooks, homework, security, realdata)
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## only the unit tests
	$(BIN)/python -m pytest -m unit

lint: $(STAMP)  ## ruff check + format check, notebooks committed without outputs
	$(BIN)/ruff check lib tests benchmarks
	$(BIN)/ruff format --check lib tests benchmarks
	$(BIN)/nbstripout --verify --keep-id $$(git ls-files "*.ipynb" | grep -v "^tests/goldens/")

format: $(STAMP)  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix lib tests benchmarks
	$(BIN)/ruff format lib tests benchmarks

goldens: $(STAMP)  ## re-execute the notebooks and refresh tests/goldens/ on purpose
	$(BIN)/python -m pytest tests/notebooks --update-goldens

bench: $(STAMP)  ## time the kit against the course's reference code
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_batch.py

clean:  ## remove build outputs and caches (keeps .venv and data/)
	rm -rf build models .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean  ## also remove .venv and the data cache
	rm -rf $(VENV) data
