# Two commands on a fresh machine: `make run` and `make test`. Each installs what it needs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SUBSCRIBERS ?= 3
PORT ?=
KEEP ?=

.PHONY: run test lint bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tradewire needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing tradewire and its dependencies into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
	@$(BIN)/python -c 'import tradewire, fastapi, sqlalchemy, pytest' || (echo "install failed" && exit 1)
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

## Start the demo on its embedded defaults: a fresh var/demo.db (KEEP=1 keeps the last one), in-process
## bus, paper trading, on 127.0.0.1:8000 (PORT=N for another port).
run: $(STAMP)
	$(BIN)/tradewire demo --subscribers $(SUBSCRIBERS)$(if $(PORT), --port $(PORT))$(if $(filter 1 yes true,$(KEEP)), --keep)

## Run the whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/exchange.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
