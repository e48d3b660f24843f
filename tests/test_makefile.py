"""Make targets that cannot run here (a llama.cpp build, a GPU) still say the right things."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")


def _dry_run(target: str) -> str:
    out = subprocess.run(
        ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout


@needs_make
def test_llama_cpp_is_built_portable_and_checked_with_a_completion() -> None:
    recipe = _dry_run("test-integration")
    build = next(line for line in recipe.splitlines() if "CMAKE_ARGS=" in line)
    for flag in ("GGML_NATIVE=OFF", "GGML_AVX2=ON", "GGML_FMA=ON", "GGML_F16C=ON"):
        assert f"-D{flag}" in build, flag
    for flag in ("GGML_AVX512", "GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16"):
        assert f"-D{flag}=OFF" in build, flag
    smoke, tests = recipe.index("completion_smoke.py"), recipe.index("-m integration")
    assert smoke < tests  # a completion works before any test starts


@needs_make
def test_gpu_check_target_runs_the_script_within_8_minutes() -> None:
    recipe = _dry_run("gpu-check")
    assert "timeout 480" in recipe and "benchmarks/gpu_check.py" in recipe


def _smoke(base_url: str) -> int:
    cmd = [sys.executable, str(ROOT / "scripts/completion_smoke.py"), base_url, "m"]
    return subprocess.run(cmd, capture_output=True, timeout=60).returncode


def test_completion_smoke_passes_on_a_server_that_answers() -> None:
    with FakeOpenAI() as srv:
        assert _smoke(srv.base_url) == 0
        assert srv.requests == 1


def test_completion_smoke_fails_when_nothing_answers() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert _smoke(f"http://127.0.0.1:{port}/v1") == 1
