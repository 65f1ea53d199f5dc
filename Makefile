# The two commands of README.md, and the benchmarks.
#   make run    embedded mode: SQLite, filesystem broker, web + worker on 127.0.0.1:8000
#   make test   the whole suite and lint, on PostgreSQL and Redis
#   make bench  benchmark scripts, printing their figures

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed

# Test defaults: the local services on 127.0.0.1 (override in the environment).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/genai_po
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0
TEST_CACHE_URL ?= redis://127.0.0.1:6379/1

.PHONY: run test lint bench install clean

install: $(STAMP)

# Installs exactly the locked dependencies; re-runs only when the lock changes.
$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	@$(BIN)/uv sync --frozen --quiet
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/python manage.py run_local

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: $(STAMP) lint
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	CACHE_URL=$${CACHE_URL:-$(TEST_CACHE_URL)} \
	CELERY_TASK_ALWAYS_EAGER=true \
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var staticfiles
