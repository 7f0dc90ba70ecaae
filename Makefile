# Quick start: `make build` then `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TEST_STAMP := $(VENV)/.installed-test-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: build test lint golden bench clean

# setuptools warns that editable installs map layouts/ as generator.layouts; that is intended.
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e .
	touch $@

$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e '.[test]'
	touch $@

build: $(STAMP)
	$(BIN)/briefing build --site .

test: $(TEST_STAMP)
	$(BIN)/ruff check generator tests bench
	$(BIN)/python -m pytest -n auto -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check generator tests bench

# Rewrite tests/sites/*/expected/ after an intended change to the output; review the git diff.
golden: $(TEST_STAMP)
	$(BIN)/python -m tests.regen_golden

bench: $(BIN)/python
	$(PIP) install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py

clean:
	rm -rf output .cache .output.staging .output.lock .output.state.json .output.folders.json
