# Two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/newsbot run $(if $(CONFIG),--config $(CONFIG),)

test: $(STAMP)
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/ruff format --check bot tests benchmarks
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(BIN)/pytest -q

# Benchmarks print their figures and write JSON under benchmarks/results/.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	mkdir -p benchmarks/results
	$(BIN)/python benchmarks/match.py --json benchmarks/results/match.json
	$(BIN)/python benchmarks/summary.py --json benchmarks/results/summary.json
	$(BIN)/python benchmarks/scrape.py --json benchmarks/results/scrape.json
	$(BIN)/python benchmarks/huge_feed.py --json benchmarks/results/huge_feed.json
