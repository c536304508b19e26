# Flightdeck: two commands. `make demo` runs the main job on the local platform;
# `make test` runs every check. Both make the virtual environment when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PACKAGES := base bot commands alerts rollouts scoring deploy cli loadtest capacity samples

.PHONY: demo test test-fast lint typecheck pytest bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/flightdeck demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES) tests
	$(BIN)/mypy bench
	$(BIN)/lint-imports
	$(BIN)/pytest -q

# The quick loop: lint and the tests not marked slow (no processes, no real-time waits).
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/router.py
	$(BIN)/python bench/loadgen.py
	$(BIN)/python bench/fastserve.py
	$(BIN)/python bench/fastserve.py --batching
	$(BIN)/python bench/local_platform.py
	$(BIN)/python bench/bot_ack.py
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/environments.py
	$(BIN)/python bench/capacity_search.py
	$(BIN)/python bench/instances.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
