# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
# The first interpreter that actually runs and is 3.11+ (a pyenv shim may exist for an inactive version).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
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
