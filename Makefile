# The two commands of the README live here: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo notebooks test test-all bench lint clean

# One stamp per extra: `make demo` installs .[demo] (espeak-ng, matplotlib), everything else .[dev]
# (which includes the demo's dependencies: the tests synthesize speech).
$(VENV)/.installed-%: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[$*]'
	touch $@

install: $(VENV)/.installed-dev,cpu-infer

demo: $(VENV)/.installed-demo
	$(BIN)/spire demo $(ARGS)

# Stores the notebooks with the outputs of a run on demo_out/ (run `make demo` first).
notebooks: install
	$(BIN)/python notebooks/execute.py --demo demo_out

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: install
	$(BIN)/python -m pytest -m "not gpu" $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/corpus.py
	$(BIN)/python bench/kmeans.py
	$(BIN)/python bench/label.py
	$(BIN)/python bench/label_memory.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/generate.py

lint: install
	$(BIN)/ruff check units spire tests bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
