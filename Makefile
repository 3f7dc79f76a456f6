# NeuralTide: the two commands.
#
#   make test   set up .venv (first run only), then lint, unit tests, notebooks, Binder check
#   make lab    set up .venv (first run only), then JupyterLab on notebooks/
#
# Set-up: .venv is created with `python3 -m venv` if missing; torch==2.13.0 (CPU) is installed
# first, then the package in editable mode with every extra (dev, widgets, bench, hardware), everything
# constrained by the lock .ci/lock.txt. A stamp file skips the installs on later runs until
# pyproject.toml or the lock changes.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
LOCK   := .ci/lock.txt
STAMP  := $(VENV)/.neuraltide-installed
EXTRAS ?= dev,widgets,bench,hardware
TORCH  := torch==2.13.0

# pip's config here warns "Location ... is ignored" for every find-links/index entry: harmless,
# so those lines are dropped (pip's own exit status still counts, through pipefail).
PIP := $(BIN)/python -m pip
PIP_FILTER := { grep -v -e 'is ignored' || true; }

# Environment of the test run. The venv's bin/ goes first on PATH for subprocesses (jupyter, pip).
TEST_ENV := PATH="$(abspath $(BIN)):$$PATH" MPLBACKEND=Agg TORCH_EXTENSIONS_DIR="$(CURDIR)/.torch_ext"

# $(call timed,NAME,COMMAND): run COMMAND, print its wall time, keep its exit status.
define timed
@echo "=== $(1)"; t0=$$(date +%s%N); rc=0; { $(2); } || rc=$$?; \
dt=$$(( ($$(date +%s%N) - t0) / 100000000 )); \
echo "=== $(1): $$((dt / 10)).$$((dt % 10)) s (exit $$rc)"; exit $$rc
endef

.PHONY: help test lab install lint unit notebooks binder-check lock clean-venv

help:
	@echo "make test    lint + unit tests + notebooks (nbval) + Binder check (sets up .venv first)"
	@echo "make lab     JupyterLab on notebooks/ (sets up .venv first)"
	@echo "make install only set up .venv"
	@echo "make lock    regenerate $(LOCK) from a fresh venv"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(call timed,install torch,$(PIP) install -q -c $(LOCK) $(TORCH) 2>&1 | $(PIP_FILTER))
	$(call timed,install neuraltide[$(EXTRAS)],$(PIP) install -q -c $(LOCK) -e ".[$(EXTRAS)]" 2>&1 | $(PIP_FILTER))
	@touch $@

install: $(STAMP)

lint: $(STAMP)
	$(call timed,ruff,$(BIN)/ruff check neuraltide widgets tests notebooks)

unit: $(STAMP)
	$(call timed,pytest tests,$(TEST_ENV) $(BIN)/pytest -q tests)
	$(call timed,doctests,$(TEST_ENV) $(BIN)/pytest -q --doctest-modules neuraltide widgets)

# pytest's exit code 5 ("no tests collected") counts as success here only, for the notebooks.
notebooks: $(STAMP)
	$(call timed,nbval notebooks,\
	if compgen -G 'notebooks/*.ipynb' > /dev/null; then \
	  nrc=0; $(TEST_ENV) $(BIN)/pytest -q --nbval-lax --nbval-current-env \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks || nrc=$$?; \
	  if [ $$nrc -eq 5 ]; then echo "nbval: no notebook cells collected"; nrc=0; fi; \
	  (exit $$nrc); \
	else echo "no notebooks/*.ipynb: notebook tests skipped"; fi)

binder-check: $(STAMP)
	$(call timed,binder check,bash .ci/check_binder.sh)

# The order matters (lint, unit, notebooks, binder) and the first failure stops the run.
test: $(STAMP)
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory notebooks
	@$(MAKE) --no-print-directory binder-check

lab: $(STAMP)
	PANEL_INLINE=1 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter lab \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) notebooks/

# Regenerate the lock: a fresh venv with every extra; numpy stays below 2.4 (Brian2 2.9).
LOCK_VENV ?= /tmp/neuraltide-lock-venv
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	printf '%s\n' '$(TORCH)' 'numpy<2.4' > $(LOCK_VENV)/constraints.txt
	$(LOCK_VENV)/bin/pip install -q -c $(LOCK_VENV)/constraints.txt $(TORCH) 2>&1 | $(PIP_FILTER)
	$(LOCK_VENV)/bin/pip install -q -c $(LOCK_VENV)/constraints.txt \
	  -e ".[dev,widgets,bench,hardware]" 2>&1 | $(PIP_FILTER)
	{ echo "# Full lock of neuraltide[dev,widgets,bench,hardware] on Python 3.11, made by 'make lock'"; \
	  echo "# in a fresh venv. Used as pip constraints (-c). torch is the CPU build; numpy < 2.4"; \
	  echo "# because Brian2 2.9 does not work with numpy 2.4. torchvision/torchaudio come with"; \
	  echo "# norse/spikingjelly (bench); PyPI has no CPU build of them, nothing here imports them."; \
	  $(LOCK_VENV)/bin/pip freeze --all --exclude pip --exclude neuraltide 2>/dev/null \
	    | grep -v -e '^#' -e '^-e ' | sed -E 's/^(torch==[^+]+)\+cpu$$/\1/' | LC_ALL=C sort -f; \
	} > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	@echo "wrote $(LOCK): $$(grep -c '==' $(LOCK)) pins"

clean-venv:
	rm -rf $(VENV)
