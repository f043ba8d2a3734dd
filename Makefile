# Two entry points, each doing all its own set-up on a fresh machine:
#   make demo   - the main job against the built-in sandbox
#   make test   - lint and the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m kitab.demo

lint: $(STAMP)
	$(BIN)/ruff check kitab tests bench
	$(BIN)/ruff format --check kitab tests bench

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/convert.py

clean:
	rm -rf $(VENV) .pytest_cache
