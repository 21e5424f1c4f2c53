# Two entry points: `make serve` and `make test`. Both set up .venv first (idempotent).
# `make reliability` runs only the reliability suite (tests/reliability and the crash test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SDK_PY := sdks/python

.PHONY: setup serve test lint reliability

# setuptools notes for every editable install of a flat layout with a mapped package
# (`app.migrations` is `migrations/`) that local folders may shadow it: known, so not shown.
$(STAMP): pyproject.toml $(wildcard $(SDK_PY)/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' \
	  $(BIN)/python -m pip install --quiet -e '.[dev]' $(if $(wildcard $(SDK_PY)/pyproject.toml),-e $(SDK_PY))
	touch $(STAMP)

setup: $(STAMP)

serve: setup
	$(BIN)/phospho serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(if $(wildcard $(SDK_PY)/phospho),$(BIN)/mypy --strict $(SDK_PY)/phospho)

test: lint
	$(BIN)/python -m pytest

reliability: setup
	$(BIN)/python -m pytest tests/reliability tests/test_crash.py
