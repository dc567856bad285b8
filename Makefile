# Developer entry points. `make up` and `make test` work on a fresh Debian/Ubuntu machine
# with Python 3.11+: they create .venv, install kmidi and the system tools they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint bench schemas clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kmidi needs Python 3.11+")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

up: $(STAMP)  ## run the whole pipeline locally (embedded Kafka unless KAFKA_BOOTSTRAP_SERVERS is set)
	@scripts/ensure-system-deps.sh
	$(BIN)/kmidi up

test: $(STAMP)  ## run the test suite against a real Kafka broker
	@scripts/ensure-system-deps.sh --test
	$(BIN)/pytest

lint: $(STAMP)  ## ruff and mypy, as CI runs them
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)  ## print performance figures (not part of the tests)
	$(BIN)/python bench/bench_compose.py
	$(BIN)/python bench/bench_affect.py
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_worker_engine.py

schemas: $(STAMP)  ## regenerate schemas/json after changing a model
	$(BIN)/python -m schemas.export

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
