# Segue: `make run` sets up and starts the player; `make test` lints and runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MUSIC ?=

.PHONY: run test lint setup bench screenshots clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
ifeq ($(MUSIC),)
	$(BIN)/segue demo
else
	$(BIN)/segue scan "$(MUSIC)" && $(BIN)/segue gui
endif

lint: $(STAMP)
	$(BIN)/ruff check player_plugin training tests benchmarks
	$(BIN)/ruff format --check player_plugin training tests benchmarks

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/scan.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
