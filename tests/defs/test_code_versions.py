"""Code versions follow the code: the sources of an asset's core modules, its parameters, its
prompts and (teacher_labels) the teacher's identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from distill_assets.core.common.profiles import get_profile
from distill_assets.defs import code_versions as cv

CORE = Path(cv.__file__).resolve().parents[1] / "core"
RULE_MODULE = "dataset/clean.py"


def edited(rel: str, new_text: str) -> cv.SourceReader:
    def read(path: str) -> str:
        return new_text if path == rel else cv.read_source(path)

    return read


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {a for a in before if before[a] != after[a]}


@pytest.fixture(scope="module")
def base() -> dict[str, str]:
    return cv.compute_code_versions(get_profile("test"))


def test_every_core_module_is_hashed_or_named_infrastructure():
    modules = {p.relative_to(CORE).as_posix() for p in CORE.rglob("*.py")}
    hashed = {m for mods in cv.SOURCES.values() for m in mods}
    assert not hashed & set(cv.INFRASTRUCTURE)
    assert modules == hashed | set(cv.INFRASTRUCTURE), (
        f"unlisted: {sorted(modules - hashed - set(cv.INFRASTRUCTURE))}, "
        f"gone: {sorted((hashed | set(cv.INFRASTRUCTURE)) - modules)}"
    )


def test_editing_a_cleaning_rule_changes_only_the_dataset(base):
    source = cv.read_source(RULE_MODULE)
    rule = source + "\n\ndef _new_rule(text):\n    return text.replace('  ', ' ')\n"
    after = cv.compute_code_versions(get_profile("test"), read=edited(RULE_MODULE, rule))
    assert changed(base, after) == {"training_dataset"}
    assert after["training_dataset"].startswith("dataset-")


def test_comments_and_docstrings_do_not_change_a_version(base):
    source = cv.read_source(RULE_MODULE)
    cosmetic = '"""Reworded."""\n# a new comment\n' + source.split('"""', 2)[2]
    after = cv.compute_code_versions(get_profile("test"), read=edited(RULE_MODULE, cosmetic))
    assert after == base


def test_training_recipe_and_merge_code_each_change_their_asset(base):
    recipe = cv.read_source("student/training_params.py") + "\nEXTRA_WARMUP = 0.1\n"
    after = cv.compute_code_versions(
        get_profile("test"), read=edited("student/training_params.py", recipe)
    )
    assert changed(base, after) == {"lora_adapter"}
    lora_r = get_profile("test", lora_overrides={"r": 64})
    assert changed(base, cv.compute_code_versions(lora_r)) == {"lora_adapter"}


def test_teacher_model_and_prompt_change_the_labels():
    gpu = cv.compute_code_versions(get_profile("gpu"))
    other = cv.compute_code_versions(get_profile("gpu", teacher_model="another-teacher"))
    assert changed(gpu, other) == {"teacher_labels"}


def test_student_prompt_changes_dataset_and_eval(base, monkeypatch):
    real = cv.load_prompt

    def load(name: str) -> str:
        return real(name) + (" 只输出JSON。" if name == "student_short" else "")

    monkeypatch.setattr(cv, "load_prompt", load)
    after = cv.compute_code_versions(get_profile("test"))
    assert changed(base, after) == {"training_dataset", "eval_report"}


def test_the_assets_carry_the_computed_versions():
    from distill_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    for asset, version in cv.CODE_VERSIONS.items():
        import dagster as dg

        assert graph.get(dg.AssetKey(asset)).code_version == version
