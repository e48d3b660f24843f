"""`distill serve` end to end (make test-vllm): `vllm serve` on the tiny merged student, a few
rows labelled through the project's own OpenAI client, the same answers as `distill predict`.

Business code switches from the teacher to the student by changing base_url (and sending the
student's prompt, which the served template also supplies by default). Skipped without vllm.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from distill_assets.core.evaluation.serving import plan_serve
from distill_assets.core.student.predict import predict_file, read_answer, student_request
from distill_assets.core.teacher.openai_client import OpenAITeacher
from distill_assets.core.teacher.settings import TeacherSettings

pytestmark = pytest.mark.vllm
pytest.importorskip("vllm")

TEXTS = [
    "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟",
    "收件人:王建国 天津市河西区友谊路18号 13800138000",
    "广东省深圳市南山区科技园南区8栋 张伟 18688886666 请放在门卫室",
]
MAX_TOKENS = 48


def _vllm_bin() -> str:
    local = Path(sys.executable).with_name("vllm")
    return str(local) if local.exists() else (shutil.which("vllm") or "vllm")


def _wait_ready(base_url: str, proc: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vllm serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"vllm serve not ready at {base_url} after {timeout_s}s")


async def _label(base_url: str, system: str) -> list[str]:
    settings = TeacherSettings(
        kind="openai",
        base_url=base_url,
        model="distill-student",
        temperature=0.0,
        max_tokens=MAX_TOKENS,
        json_mode=False,
        send_thinking_flag=True,
    )
    async with OpenAITeacher(settings, system_prompt=system) as client:
        calls = [await client.complete(student_request(system, t)[1]) for t in TEXTS]
    assert all(c.ok for c in calls), [c.error for c in calls]
    return [c.text for c in calls]


def test_served_student_answers_as_distill_predict(tiny_merged_dir: Path, tmp_path: Path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "text": t}, ensure_ascii=False) + "\n"
            for i, t in enumerate(TEXTS)
        ),
        "utf-8",
    )
    predict_file(tiny_merged_dir, src, tmp_path / "pred.jsonl", max_new_tokens=MAX_TOKENS)
    predicted = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]

    plan = plan_serve(
        tiny_merged_dir,
        tmp_path / "serve",
        port=8765,
        vllm=_vllm_bin(),
        extra=["--max-model-len", "1024", "--enforce-eager"],
    )
    log = tmp_path / "vllm-serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(plan.argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_ready(plan.base_url, proc)
            answers = asyncio.run(_label(plan.base_url, plan.system_prompt))
        except Exception as exc:
            tail = log.read_text("utf-8", "replace").splitlines()[-25:]
            raise AssertionError("vllm serve failed; its log ends:\n" + "\n".join(tail)) from exc
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    for text, answer, row in zip(TEXTS, answers, predicted, strict=True):
        assert answer.strip() == row["output"].strip()  # greedy, the same prompt: same answer
        fields, ok, _ = read_answer(answer, text)
        assert ok == row["valid_json"] and fields == {k: row[k] for k in fields}
