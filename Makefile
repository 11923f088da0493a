# Two commands on a fresh machine: `make run` (the product) and `make test` (the suite).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PORT ?= 5000
# test workers (pytest-xdist): each has its own PostgreSQL database and Redis database (see tests/conftest.py)
TEST_WORKERS ?= 2

.PHONY: run test test-fast bench lint format install install-test install-lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"

install-lint: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,lint]"

## run: set up (venv, packages, database, demo preset and admin) and start the web admin and the worker
run: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi demo
	PORT=$(PORT) $(BIN)/python scripts/run_dev.py

## test: the whole suite against the local PostgreSQL and Redis (see .ci/run to start them), in TEST_WORKERS processes
test: install-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

## test-fast: only the tests that need no service (marked `fast`), in seconds; `make test` runs them too
test-fast: install-test
	$(BIN)/python -m pytest -m fast -q

## bench: the benchmarks (not part of the test run); each prints a table
bench: install-test
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m pytest tests/benchmarks -s -p no:randomly --timeout=3600

## lint: ruff (rules and formatting), the import layers (import-linter) and mypy on app/; CI runs it before the tests
lint: install-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy

## format: apply ruff's fixes and formatting
format: install-lint
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
