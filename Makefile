# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.13 || command -v python3.12 || command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test setup migrate demo lint schema bench clean

run: setup migrate demo
	$(BIN)/plangate serve

test: setup
	$(BIN)/python -m pytest

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "plangate needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

migrate: setup
	$(BIN)/plangate migrate

demo: setup
	$(BIN)/plangate demo --environment development

lint: setup
	$(BIN)/ruff check .

schema: setup
	$(BIN)/strawberry export-schema api.graphql.schema:schema --output schema.graphql

bench: setup
	$(BIN)/python bench/bench_engine.py

clean:
	rm -rf $(VENV) plangate.db
