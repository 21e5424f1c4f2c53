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

# The suite runs on $(TEST_WORKERS) pytest-xdist workers, a test file per unit of work
# (tests/conftest.py orders them), and lint runs beside it; its output is shown
# after the tests', and `make test` fails when either fails.
TEST_WORKERS ?= 2
test: setup
	@$(MAKE) --no-print-directory lint >$(VENV)/lint.log 2>&1 & lint=$$!; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile; tests=$$?; \
	wait $$lint; linted=$$?; \
	echo "--- make lint (ran beside the tests): exit $$linted"; cat $(VENV)/lint.log; \
	test $$linted -eq 0 && test $$tests -eq 0

reliability: setup
	$(BIN)/python -m pytest tests/reliability tests/test_crash.py
