# deepsets: every target creates .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

run: $(STAMP)  ## the whole handout lab into runs/lab, with an LSTM trained unpadded beside
	$(BIN)/deepsets lab --out runs/lab --models deepsets,lstm,lstm-unpadded $(ARGS)

test: lint  ## lint, then the test suite
	$(BIN)/python -m pytest -q $(ARGS)

bench: $(STAMP)  ## side-by-side speed ratios against a plain implementation
	$(BIN)/python benchmarks/bench.py $(ARGS)

lint: $(STAMP)  ## ruff's rules (the code is laid out by hand, to 100 columns)
	$(BIN)/ruff check src tests benchmarks examples

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
