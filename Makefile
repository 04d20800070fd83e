# deepsets: every target creates .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test types browser bench docs docs-check gpu-check lint notebook dist clean

# apt-get as root, or through sudo where it asks for no password
APT := $(if $(filter 0,$(shell id -u)),,sudo -n) env DEBIAN_FRONTEND=noninteractive apt-get

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,ray,pyg,mnist]'
	touch $(STAMP)

run: $(STAMP)  ## the whole handout lab into runs/lab, with an LSTM trained unpadded beside
	$(BIN)/deepsets lab --out runs/lab --models deepsets,lstm,lstm-unpadded $(ARGS)

test: lint types browser  ## lint, type-check, then the test suite (first: which path the LSTM trains through here)
	$(BIN)/python -c "from deepsets.core import kernels; print(kernels.status())"
	$(BIN)/python -m pytest -q $(ARGS)

browser:  ## Chromium for the explorer page's tests, from the distribution's packages, if missing
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
	|| $(APT) install -y -q chromium >/dev/null 2>&1 \
	|| ($(APT) update -q >/dev/null 2>&1 && $(APT) install -y -q chromium >/dev/null 2>&1) \
	|| echo "no Chromium (apt-get install chromium failed here): the browser tests skip"

bench: $(STAMP)  ## side-by-side speed ratios against a plain implementation
	$(BIN)/python benchmarks/bench.py $(ARGS)

docs: $(STAMP)  ## the documentation site into site/ (mkdocs, offline; a broken link fails it)
	$(BIN)/mkdocs build --strict --site-dir site

docs-check: $(STAMP)  ## re-run the docs' quick figures (the lab, images seeds 0-2); fail on a mismatch
	$(BIN)/python benchmarks/docs_check.py $(ARGS)

NOTEBOOKS ?= lab.ipynb your_model.ipynb
notebook: $(STAMP)  ## re-execute the notebooks in place (lab.ipynb at the handout's settings; NOTEBOOKS=... picks)
	cd notebooks && for nb in $(NOTEBOOKS); do ../$(BIN)/python -c "import sys, nbformat, nbclient; \
	nb = nbformat.read(sys.argv[1], as_version=4); \
	nbclient.NotebookClient(nb, timeout=3600, coalesce_streams=True).execute(); \
	nbformat.write(nb, sys.argv[1])" $$nb || exit 1; done  # coalesced: a bar keeps its last state

gpu-check:  ## on a GPU machine, with its own python3 (installs nothing, no Ray): lab and sweep on cuda
	PYTHONPATH=src $(PYTHON) benchmarks/gpu_check.py $(ARGS)

types: $(STAMP)  ## mypy on the public API's modules (pyproject.toml's [tool.mypy] names them)
	$(BIN)/python -m mypy

lint: $(STAMP)  ## ruff's rules (the code is laid out by hand, to 100 columns)
	$(BIN)/ruff check src tests benchmarks examples

dist: $(STAMP)  ## the sdist and the wheel into dist/ (the wheel built from the sdist)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	rm -rf src/*.egg-info  # what the sdist step leaves beside the package

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
