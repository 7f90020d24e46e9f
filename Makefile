# Two commands on a fresh machine: `make run` (the demo) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest clean

run: $(VENV)/.installed-demo
	$(BIN)/kassa demo

test: lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check kassa tests
	$(BIN)/ruff format --check kassa tests

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy --strict kassa tests

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "kassa needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-demo

clean:
	rm -rf $(VENV) .kassa .mypy_cache .ruff_cache .pytest_cache .hypothesis
