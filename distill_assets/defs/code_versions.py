"""Code versions of the assets, derived from the code: a new version re-materialises that asset
and what is downstream (defs/automation.py), without anyone bumping a constant.

An asset's code version hashes
- the source of the core modules that decide its content (SOURCES; comments, docstrings and
  formatting left out, so a reworded comment retrains nothing),
- its parameters as the profile resolves them (the run config's defaults), and
- its prompts and, for teacher_labels, the teacher's identity (kind, model, prompt hash).

Modules that only move, log or record (INFRASTRUCTURE) hash into no asset; the test
tests/defs/test_code_versions.py holds that every core module is in one list or the other.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from importlib import resources
from typing import Any

from distill_assets.core.common.artifacts import sha256_text
from distill_assets.core.common.profiles import Profile, get_profile
from distill_assets.core.common.prompts import STUDENT_PROMPTS, load_prompt, prompt_hash

# Paths relative to distill_assets/core. A module several assets use sits in each of them.
_REGIONS = ("regions/tables.py", "regions/canonical.py", "regions/clues.py")
SOURCES: dict[str, tuple[str, ...]] = {
    "raw_addresses": (
        "data/raw_batch.py",
        "data/inputs.py",
        "data/input_formats.py",
        "data/synth.py",
        "data/synth_compose.py",
        "data/synth_parts.py",
        "data/dataset_versions.py",
    ),
    "teacher_labels": (
        "teacher/label_batch.py",
        "teacher/labeling.py",
        "teacher/rule_teacher.py",
        "teacher/region_choice.py",
        "teacher/text_cues.py",
        "teacher/answers.py",
        "teacher/api_labeling.py",
        "teacher/openai_client.py",
        "teacher/budget.py",
        "teacher/ledger.py",
        "teacher/settings.py",
        "teacher/agreement.py",
        "common/compare.py",
        "common/schema.py",
        *_REGIONS,
    ),
    "training_dataset": (
        "dataset/clean.py",
        "dataset/grounding.py",
        "dataset/cumulative.py",
        "dataset/split.py",
        "dataset/formats.py",
        "dataset/folder.py",
        "dataset/datacard.py",
        "common/normalize.py",
        "common/columns.py",
        "common/compare.py",
        "common/schema.py",
        *_REGIONS,
    ),
    "lora_adapter": (
        "student/training.py",
        "student/training_data.py",
        "student/training_params.py",
        "student/training_log.py",
        "student/learning_curve.py",
        "student/predict.py",
        "student/postprocess.py",
        "student/answer_only.py",
        "student/chat_template.py",
        "student/base_models.py",
        "student/qwen_tokenizer.py",
    ),
    "merged_model": ("student/merging.py", "student/chat_template.py", "student/base_models.py"),
    "eval_report": (
        "evaluation/eval_report.py",
        "evaluation/evaluate.py",
        "evaluation/runs.py",
        "evaluation/score.py",
        "evaluation/misses.py",
        "evaluation/outputs.py",
        "evaluation/history.py",
        "evaluation/report.py",
        "data/benchmarks.py",
        "student/predict.py",
        "student/inference.py",
        "student/json_decoding.py",
        "student/postprocess.py",
        "student/vllm_backend.py",
        "student/chat_template.py",
        "teacher/answers.py",
        "common/schema.py",
        *_REGIONS,
    ),
}
# Moving, logging, recording, checking: no artifact's content depends on their code. (Checks are
# evaluated on every materialisation; lineage and hashing are recorded in every manifest.)
INFRASTRUCTURE: tuple[str, ...] = (
    "__init__.py",
    "common/__init__.py",
    "common/artifacts.py",
    "common/home.py",
    "common/lineage.py",
    "common/log.py",
    "common/markdown.py",
    "common/privacy.py",
    "common/profiles.py",  # its values enter through each asset's resolved parameters
    "common/prompts.py",  # the prompt texts enter by hash
    "regions/__init__.py",
    "data/__init__.py",
    "data/inbox.py",
    "teacher/__init__.py",
    "teacher/cache.py",
    "teacher/rule_pool.py",  # the same labels as one process, in input order
    "teacher/rule_pool_preload.py",
    "teacher/label_files.py",
    "dataset/__init__.py",
    "student/__init__.py",
    "student/checkpoints.py",
    "evaluation/__init__.py",
    "evaluation/gates.py",
    "evaluation/production.py",  # the alias copies the merged model; it builds no artifact
    "evaluation/serving.py",
)
PREFIX = {
    "raw_addresses": "raw",
    "teacher_labels": "labels",
    "training_dataset": "dataset",
    "lora_adapter": "lora",
    "merged_model": "merge",
    "eval_report": "eval",
}

SourceReader = Callable[[str], str]


def read_source(rel: str) -> str:
    """The text of distill_assets/core/<rel>."""
    return resources.files("distill_assets.core").joinpath(rel).read_text("utf-8")


def normalized_source(text: str) -> str:
    """The module's syntax tree without docstrings: comments and layout do not count."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body:
            continue
        first = body[0]
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree, include_attributes=False)


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def asset_parameters(profile: Profile) -> dict[str, dict[str, Any]]:
    """What each asset is built with when the run config sets nothing: the profile's values."""
    from distill_assets.defs.configs import DatasetConfig, EvalConfig, MergeConfig, TrainingConfig
    from distill_assets.defs.resources import TeacherResource

    training = TrainingConfig()
    # As TeacherResource.for_run resolves it, for this profile (the cache path does not count).
    teacher = TeacherResource().resolve(
        profile.teacher_kind, profile.teacher_base_url, profile.teacher_model
    )
    return {
        "raw_addresses": {},
        "teacher_labels": {"teacher": teacher.identity()},
        "training_dataset": {"params": _jsonable(DatasetConfig().params(profile))},
        "lora_adapter": {
            "params": _jsonable(training.params(profile)),
            "base_model": training.base_spec(profile),
        },
        "merged_model": {"params": MergeConfig().model_dump()},
        "eval_report": {"params": _jsonable(EvalConfig().params(profile))},
    }


def prompts_of(asset: str) -> dict[str, str]:
    """The prompts that shape an asset, by hash (the teacher's enters via its identity)."""
    if asset in ("training_dataset", "eval_report"):
        names = ("teacher_system", *STUDENT_PROMPTS) if asset == "eval_report" else STUDENT_PROMPTS
        return {n: prompt_hash(load_prompt(n)) for n in names}
    return {}


def compute_code_versions(
    profile: Profile | None = None,
    read: SourceReader = read_source,
    parameters: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, str]:
    """asset -> `<prefix>-<12 hex>` over its sources, parameters and prompts."""
    profile = profile or get_profile()
    params = parameters if parameters is not None else asset_parameters(profile)
    hashes: dict[str, str] = {}  # a module several assets share is parsed once

    def source_hash(rel: str) -> str:
        if rel not in hashes:
            hashes[rel] = sha256_text(normalized_source(read(rel)))
        return hashes[rel]

    out: dict[str, str] = {}
    for asset, modules in SOURCES.items():
        payload = {
            "sources": {rel: source_hash(rel) for rel in modules},
            "parameters": params.get(asset, {}),
            "prompts": prompts_of(asset),
        }
        digest = sha256_text(json.dumps(payload, sort_keys=True, default=str))[:12]
        out[asset] = f"{PREFIX[asset]}-{digest}"
    return out


CODE_VERSIONS = compute_code_versions()
RAW = CODE_VERSIONS["raw_addresses"]
LABELS = CODE_VERSIONS["teacher_labels"]
DATASET = CODE_VERSIONS["training_dataset"]
TRAIN = CODE_VERSIONS["lora_adapter"]
MERGE = CODE_VERSIONS["merged_model"]
EVAL = CODE_VERSIONS["eval_report"]
