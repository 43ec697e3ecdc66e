# The two commands a newcomer needs: `make serve` and `make test`. Both install uv when it is
# missing (into .tools/, from PyPI) and then the locked dependencies (uv.lock) into .venv/.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
export UV_PYTHON_DOWNLOADS ?= never
# Most tests wait on real services (SeaweedFS, the worker, a browser), so four processes finish
# the suite in a quarter of the time even on two cores. `make test PYTEST_ARGS=` runs it serially.
PYTEST_ARGS ?= -n 4

.PHONY: serve test lint typecheck layers pytest install clean docs

$(CURDIR)/.tools/bin/uv:
	@echo "uv not found: installing it into .tools/"
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked
	@touch $@

install: .venv/.synced

## Run the control plane on its embedded default (SQLite, SeaweedFS, in-process worker).
serve: install
	$(UV) run --locked --no-sync loopback serve

## Lint, type-check and run the whole test suite.
test: install lint typecheck layers pytest

lint: install
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .

typecheck: install
	$(UV) run --no-sync mypy

## The layers of pyproject.toml's [tool.importlinter]: imports run one way, from kit up to the API.
layers: install
	$(UV) run --no-sync lint-imports

pytest: install
	$(UV) run --no-sync pytest $(PYTEST_ARGS)

## Regenerate the documents made from code (docs/permissions.md); a test fails when they drift.
docs: install
	$(UV) run --no-sync loopback permissions --output docs/permissions.md

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
