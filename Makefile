# `make demo`: set up .venv and run the main job. `make test`: set up .venv with dev tools, lint, test.
# `make test-fast`: the same without the tests marked slow (the edit loop, under 3 minutes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_ARGS ?= --max-epochs 5

# Use the machine's shared data folder when there is one and no data root was given.
ifeq ($(TUNE_JOBS_DATA_DIR),)
ifneq ($(wildcard ../shared/data/MNIST/raw),)
export TUNE_JOBS_DATA_DIR := $(abspath ../shared/data)
endif
endif

.PHONY: demo test test-fast lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[methods]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,methods]'
	touch $@ $(VENV)/.installed

# One name per `make demo` (evaluated once), so the report reads the run just made.
DEMO_NAME := mnist-l2-demo-$(shell date +%Y%m%d-%H%M%S)

demo: $(VENV)/.installed
	$(BIN)/tune-jobs run mnist-l2 $(DEMO_ARGS) --name $(DEMO_NAME)
	$(BIN)/tune-jobs report results/$(DEMO_NAME) --out results/$(DEMO_NAME)-report

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

test-fast: lint
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) *.egg-info
