# Two commands on a fresh machine: `make run` and `make test`. Each installs what it needs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# The dashboard's chart library: installed from web/package-lock.json by npm and copied into the package
# (git-ignored), again whenever the lockfile changes. Without npm the dashboard works, without charts.
VENDOR := src/tradewire/web/vendor
WEB_STAMP := $(VENDOR)/.copied-$(shell cksum web/package-lock.json | cut -d' ' -f1)
SUBSCRIBERS ?= 3
# Test processes (pytest-xdist): most tests wait on servers and sockets, so two share two cores well.
# Work stealing: an idle process takes tests queued for the other (with `load` scheduling one process
# kept the e2e tests it was handed first and ran them alone for the last five minutes).
TEST_WORKERS ?= 2
PORT ?=
KEEP ?=

.PHONY: run test lint bench install web clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tradewire needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing tradewire and its dependencies into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
	@$(BIN)/python -c 'import tradewire, fastapi, sqlalchemy, pytest' || (echo "install failed" && exit 1)
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "installing the dashboard's chart library (npm ci in web/) ..." && \
	  npm ci --prefix web --no-audit --no-fund --loglevel=error >/dev/null && \
	  mkdir -p $(VENDOR) && rm -f $(VENDOR)/.copied-* && \
	  cp web/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.mjs \
	     $(VENDOR)/lightweight-charts.mjs && \
	  touch $(WEB_STAMP); \
	else echo "npm not found: the dashboard will show no charts (install Node.js and npm for them)"; fi

web: $(WEB_STAMP)

install: $(STAMP) $(WEB_STAMP)

## Start the demo on its embedded defaults: a fresh var/demo.db (KEEP=1 keeps the last one), in-process
## bus, paper trading, on 127.0.0.1:8000 (PORT=N for another port).
run: $(STAMP) $(WEB_STAMP)
	$(BIN)/tradewire demo --subscribers $(SUBSCRIBERS)$(if $(PORT), --port $(PORT))$(if $(filter 1 yes true,$(KEEP)), --keep)

## Run the whole test suite.
test: $(STAMP) $(WEB_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/exchange.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache web/node_modules $(VENDOR)
