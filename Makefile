# Relatron: `make demo` runs the main job, `make test` the test suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-slow test-spark

$(BIN)/relatron: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,dbt]'
	touch $(BIN)/relatron

# A DuckDB 1.x command-line reader (the duckdb-cli package from PyPI), apart from the project's
# DuckDB 2: the tests check that it opens the databases Relatron creates.
DUCKDB1 := .venv-duckdb1
$(DUCKDB1)/bin/duckdb:
	$(PYTHON) -m venv $(DUCKDB1)
	$(DUCKDB1)/bin/pip install --quiet 'duckdb-cli>=1.4,<2'

setup: $(BIN)/relatron $(DUCKDB1)/bin/duckdb

demo: setup
	$(BIN)/relatron demo

test: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

test-spark: setup
	$(BIN)/python -m pytest -q -m spark
