# Whistle developer entry points. `make test` is what CI runs (.ci/run); `make run` is the demo.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-pyproject

.PHONY: help venv services down status lint format typecheck pytest test run browser

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: $(INSTALLED)  ## create .venv and install the package (again only when pyproject.toml changed)

# flock: several engineers share this checkout; two pip installs into one venv would clash.
$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	flock $(VENV)/.install.lock $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

services: venv  ## start local Kafka and PostgreSQL (no-op when up or external)
	$(BIN)/whistle dev up

down: venv  ## stop the local services of this checkout
	$(BIN)/whistle dev down

status: venv  ## one line per service
	$(BIN)/whistle dev status

lint: venv  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: venv  ## mypy over the packages listed in pyproject
	$(BIN)/mypy

# pytest's own exit code is the recipe's; exit 5 ("no tests collected") counts as a failure.
pytest: venv services  ## all of tests/ (unit, integration, e2e) against the local services
	@status=0; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 5; fi; \
	exit $$status

test: venv services browser lint typecheck pytest  ## what CI runs: services, ruff, mypy, pytest

run: venv services  ## migrate, then start the whole service with demo data
	$(BIN)/whistle db migrate
	$(BIN)/whistle run --demo

browser:  ## Debian's chromium (and a CJK font) for the dashboard's browser test
	bash scripts/ensure-chromium.sh
