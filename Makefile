# leadgate's front door. `make help` lists the targets.
PY        ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed

.DEFAULT_GOAL := help
JS        := tests/js/node_modules/.installed
.PHONY: help run test test-fast lint bench schema clean js

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## run leadgate on its embedded default (broker, sandbox, collector, inspector, workers)
	$(BIN)/leadgate dev

# The browser libraries the drop-in tests load in Chromium (versions pinned by the lockfile).
$(JS): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $(JS)

js: $(JS)  ## install the browser SDKs (analytics.js, RudderStack) the browser tests load

test: $(STAMP)  ## run the whole test suite (real broker, sandbox and browser included)
	bash scripts/system-deps.sh
	$(MAKE) js
	$(BIN)/pytest

test-fast: $(STAMP)  ## the quick loop: every test not marked slow
	bash scripts/system-deps.sh
	$(MAKE) js
	$(BIN)/pytest -m "not slow"

lint: $(STAMP)  ## ruff, ruff format --check, mypy --strict, import contracts
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)  ## run the benchmarks, write bench/results.json and BENCHMARKS.md
	$(BIN)/python -m bench

schema: $(STAMP)  ## regenerate presets/schema.json from the preset model
	$(BIN)/leadgate presets schema > presets/schema.json

clean:  ## remove the virtualenv, caches and local state
	rm -rf $(VENV) .leadgate .pytest_cache .mypy_cache .ruff_cache tests/js/node_modules
