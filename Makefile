# Two commands for a fresh machine:
#   make demo   set up .venv and run `tusk eval` with the embedded default model on the smoke benchmark
#   make test   set up .venv and run the test suite (the same command CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch; llama.cpp is compiled without -march=native (the native build crashes on
# CPUs whose AMX is exposed inside a VM).
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= cpu,hf,train,openai,server,ray,dev
DATA_DIR ?= $(abspath ../shared/data)
PYTEST_ARGS ?=

.PHONY: install demo test test-fast lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $@

demo: install
	$(BIN)/tusk eval --benchmarks smoke --out runs/demo --max-tokens 512

test: install
	TUSK_DATA_DIR="$${TUSK_DATA_DIR:-$(DATA_DIR)}" $(BIN)/pytest -q $(PYTEST_ARGS)

test-fast: install
	TUSK_DATA_DIR="$${TUSK_DATA_DIR:-$(DATA_DIR)}" $(BIN)/pytest -q -m "not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
