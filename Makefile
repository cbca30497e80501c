# Segue: `make run` sets up and starts the player; `make test` lints and runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MUSIC ?=
# pytest workers for `make test` (2: this project's 2-core machines; 0 runs in one process)
TEST_WORKERS ?= 2

.PHONY: run test lint setup bench screenshots clean
CODE := player_plugin training tests benchmarks scripts

$(STAMP): pyproject.toml constraints.txt scripts/setup-system.sh
	bash scripts/setup-system.sh
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
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q -n $(TEST_WORKERS)

# Speed and quality figures, saved under benchmarks/results/ (slow: minutes each).
bench: $(STAMP)
	$(BIN)/python benchmarks/scan.py
	$(BIN)/python benchmarks/import_history.py
	$(BIN)/python benchmarks/analyze.py
	$(BIN)/python benchmarks/evaluate.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/gui_stall.py
	$(BIN)/python benchmarks/scan_peer.py
	$(BIN)/python benchmarks/rescan.py
	$(BIN)/python benchmarks/cli_start.py
	$(BIN)/python benchmarks/recommend.py
	$(BIN)/python benchmarks/no_model.py
	$(BIN)/python benchmarks/analysis_refresh.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/concurrency.py

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
