"""The transformers backend on the tiny random Qwen3: batching, order, stopping, JSON constraint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from distill_assets.core.common.normalize import phone_haystack
from distill_assets.core.common.prompts import student_prompt, teacher_prompt
from distill_assets.core.common.schema import COPIED_FIELDS, FIELDS
from distill_assets.core.student.inference import Generation, TransformersBackend, load_backend
from distill_assets.core.student.json_decoding import json_end
from distill_assets.core.teacher.answers import parse_prediction, strip_think

TEXTS = [
    "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟",
    "收件人:王建国 天津市河西区友谊路18号 13800138000",
    "李娜 15912345678",
    "广东省深圳市南山区科技园南区8栋 张伟 18688886666 请放在门卫室,谢谢,周末不在家",
    "浙江省杭州市西湖区文三路90号",
]


@pytest.fixture(scope="module")
def one_thread():
    # Tiny matmuls gain nothing from 2 threads and lose a lot when the CPU is shared.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def loaded(tiny_model_dir: Path, one_thread: None) -> TransformersBackend:
    b = load_backend("transformers", tiny_model_dir, max_new_tokens=8, batch_size=3)
    assert isinstance(b, TransformersBackend)
    return b


@pytest.fixture
def backend(loaded: TransformersBackend):
    """The shared backend, with the settings a test changes put back afterwards."""
    yield loaded
    loaded.max_new_tokens, loaded.batch_size = 8, 3
    loaded.json_constrained = loaded.grounded = False
    loaded.extra_processors.clear()
    loaded.prior_processors.clear()


def test_batched_equals_one_at_a_time_and_keeps_order(backend: TransformersBackend) -> None:
    reqs = [(student_prompt(), t) for t in TEXTS]
    batched = backend.generate(reqs)
    single = [backend.generate([r])[0] for r in reqs]
    assert batched == single
    # Input order, not the length-sorted batch order: tokens_in follows each request.
    lengths = [len(x) for x in backend.encode(reqs)]
    assert len(set(lengths)) == len(lengths)
    assert [g.tokens_in for g in batched] == lengths
    assert all(1 <= g.tokens_out <= 8 for g in batched)


def _per_step(rule):
    """A logits processor that calls `rule(generated ids, scores, step)`, the step counted from
    the first call (one generate call per processor)."""
    from transformers import LogitsProcessor

    class PerStep(LogitsProcessor):
        def __init__(self) -> None:
            self.start: int | None = None

        def __call__(self, input_ids, scores):  # type: ignore[override]
            if self.start is None:
                self.start = input_ids.shape[1]
            return rule(input_ids[:, self.start :], scores, input_ids.shape[1] - self.start)

    return PerStep()


def _scripted(backend: TransformersBackend, script: list[int]):
    """A processor that forces `script` token by token (then the end-of-turn token)."""

    def force(generated, scores, step):
        tok = script[step] if step < len(script) else backend.stop_ids[0]
        out = torch.full_like(scores, float("-inf"))
        out[:, tok] = 0.0
        return out

    return _per_step(force)


def test_stops_as_soon_as_the_json_object_closes(backend: TransformersBackend) -> None:
    b = backend
    b.max_new_tokens = 60
    answer = '{"province": "天津市", "name": "a}{\\"b"}'
    tok = b.tokenizer
    script = tok(answer + ' 以上是结果 {"x": 1}', add_special_tokens=False)["input_ids"]
    n_answer = len(tok(answer, add_special_tokens=False)["input_ids"])
    assert len(script) > n_answer + 3
    b.extra_processors.append(_scripted(b, script))
    gens = b.generate([(student_prompt(), TEXTS[0]), (student_prompt(), TEXTS[2])])
    for g in gens:
        assert g.text == answer
        assert g.tokens_out == n_answer


def test_stops_at_end_of_turn(backend: TransformersBackend) -> None:
    b = backend
    b.max_new_tokens = 30
    script = b.tokenizer("<think>\n\n</think>\n\nhello", add_special_tokens=False)["input_ids"]
    b.extra_processors.append(_scripted(b, script))
    (g,) = b.generate([(student_prompt(), TEXTS[1])])
    assert g == Generation("hello", g.tokens_in, len(script) + 1)


def test_json_constrained_outputs_always_parse(backend: TransformersBackend) -> None:
    backend.json_constrained = True
    backend.batch_size = 5
    for budget, prompt in ((26, teacher_prompt()), (40, student_prompt())):
        backend.max_new_tokens = budget
        gens = backend.generate([(prompt, t) for t in TEXTS])
        for g in gens:
            parsed = parse_prediction(g.text)
            assert parsed is not None, g.text
            assert list(parsed) == list(FIELDS)
            assert all(isinstance(v, str) for v in parsed.values())
            assert g.tokens_out <= budget
        if budget == 26:  # exactly the empty object's length: closed as soon as it started
            assert all(json.loads(g.text) == dict.fromkeys(FIELDS, "") for g in gens)


def _copied_off_text(gens: list[Generation]) -> list[tuple[str, str]]:
    """(field, value) of each copied field that is not a span of its row's text."""
    off = []
    for text, g in zip(TEXTS, gens, strict=True):
        parsed = parse_prediction(g.text)
        assert parsed is not None, g.text
        for f in COPIED_FIELDS:
            hay = phone_haystack(text) if f == "phone" else text
            if parsed[f] not in hay:
                off.append((f, parsed[f]))
    return off


def _steer(backend: TransformersBackend, answer: str):
    """A processor that pushes the model towards `answer` while it has followed it so far."""
    wish = backend.tokenizer(answer, add_special_tokens=False)["input_ids"]

    def push(generated, scores, step):
        for r in range(generated.shape[0]):
            if step < len(wish) and generated[r].tolist() == wish[:step]:
                scores[r, wish[step]] += 1e4
        return scores

    return _per_step(push)


# What a student that recalls instead of copying writes: a street, a name and a phone that no
# test text holds.
_RECALLED = (
    '{"province": "云南省", "city": "大理白族自治州", "district": "大理市", '
    '"specific_location": "人民路99号", "name": "张三", "phone": "13900000000"}'
)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_grounded_decoding_copies_only_spans_of_the_text(
    tiny_model_dir: Path, one_thread: None, dtype: str
) -> None:
    b = load_backend("transformers", tiny_model_dir, max_new_tokens=90, batch_size=5, dtype=dtype)
    assert isinstance(b, TransformersBackend)
    reqs = [(student_prompt(), t) for t in TEXTS]
    b.json_constrained = True
    b.prior_processors.append(_steer(b, _RECALLED))
    free = b.generate(reqs)
    assert all(parse_prediction(g.text) == json.loads(_RECALLED) for g in free)
    assert len(_copied_off_text(free)) == 3 * len(TEXTS)
    b.grounded = True
    grounded = b.generate(reqs)
    assert _copied_off_text(grounded) == []
    assert b.info["grounded"] is True
    b.close()


def test_json_constrained_rejects_a_budget_too_small(backend: TransformersBackend) -> None:
    backend.json_constrained = True
    backend.max_new_tokens = 10
    with pytest.raises(ValueError, match="max_new_tokens >= 26"):
        backend.generate([(student_prompt(), TEXTS[0])])


def test_json_end_ignores_braces_inside_strings() -> None:
    assert json_end('{"a": "}{", "b": {"c": "\\"}"}} tail') == 30
    assert json_end('```json\n{"a": "x"}\n```') == 18
    assert json_end('{"a": "still open') is None
    assert json_end("no object } here") is None


def test_strip_think_and_unknown_kinds() -> None:
    assert strip_think("<think>\nhmm {\n</think>\n\n{}") == "{}"
    with pytest.raises(ValueError, match="unknown inference backend"):
        load_backend("onnx", "x")
    try:
        import vllm  # noqa: F401  # pyright: ignore[reportMissingImports]
    except ImportError:
        with pytest.raises(ImportError, match="optional extra"):
            load_backend("vllm", "x")


def _steered_free_then_grounded(model_dir: Path, text: str, wish: str) -> tuple[dict, dict]:
    """The answers (parsed) of the tiny model steered towards `wish`: with the JSON skeleton
    only, then grounded."""
    b = load_backend("transformers", model_dir, max_new_tokens=90, batch_size=1)
    assert isinstance(b, TransformersBackend)
    b.prior_processors.append(_steer(b, wish))
    b.json_constrained = True
    (free,) = b.generate([(student_prompt(), text)])
    b.prior_processors[:] = [_steer(b, wish)]
    b.grounded = True
    (grounded,) = b.generate([(student_prompt(), text)])
    b.close()
    return json.loads(free.text), json.loads(grounded.text)


def test_grounded_streets_start_where_a_street_can(tiny_model_dir: Path, one_thread: None) -> None:
    """A student that starts the street inside a word ("民路25号" of 人民路25号) is moved to a
    start the text allows (after a division, a label or a separator)."""
    from distill_assets.core.student.json_decoding import street_starts

    text = TEXTS[0]
    wish = _RECALLED.replace('"人民路99号"', '"民路25号"')
    free, grounded = _steered_free_then_grounded(tiny_model_dir, text, wish)
    assert free["specific_location"] == "民路25号"
    loc = grounded["specific_location"]
    starts = street_starts(text)
    at = [i for i in range(len(text)) if text.startswith(loc, i)]
    assert loc and any(len(text[:i].encode()) in starts for i in at), loc


def test_grounded_names_do_not_start_at_a_division_name(
    tiny_model_dir: Path, one_thread: None
) -> None:
    """ "大理市人民路25号 … 段丽娟": a student that reads the first word as the name is steered
    off 大理市 (an official name the text writes) to another span."""
    from distill_assets.core.student.json_decoding import division_starts

    text = TEXTS[0]
    starts = sorted(division_starts(text))
    assert starts == [len(text[: text.index("大理市")].encode())]
    wish = _RECALLED.replace('"人民路99号"', '"人民路25号"').replace('"张三"', '"大理市"')
    free, parsed = _steered_free_then_grounded(tiny_model_dir, text, wish)
    assert free["name"] == "大理市"
    assert parsed["specific_location"] == "人民路25号"
    assert not parsed["name"].startswith("大理市") and parsed["name"] in text
