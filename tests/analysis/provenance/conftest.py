"""Tiny Llama-style models built from a config with fixed seeds, and derived copies of them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM

SIGMA = 1 / 708
CFG: dict[str, Any] = dict(
    vocab_size=128,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=64,
    tie_word_embeddings=False,
)

StateDict = dict[str, torch.Tensor]


def write_tokenizer(folder: Path, *, extra_special: tuple[str, ...] = ()) -> None:
    vocab = {f"t{i}": i for i in range(120)}
    added = [
        {"id": 120 + i, "content": tok, "special": True}
        for i, tok in enumerate(("<s>", "</s>", *extra_special))
    ]
    (folder / "tokenizer.json").write_text(
        json.dumps({"model": {"type": "BPE", "vocab": vocab}, "added_tokens": added})
    )
    (folder / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>"})
    )


def build_model(folder: Path, seed: int, **overrides: Any) -> Path:
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**{**CFG, **overrides}))
    model.save_pretrained(folder, safe_serialization=True)
    write_tokenizer(folder)
    return folder


def derive(
    src: Path,
    dst: Path,
    change: Callable[[StateDict], StateDict],
    *,
    config: dict[str, object] | None = None,
) -> Path:
    """Copy a model folder with its weights passed through ``change``."""
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.suffix != ".safetensors":
            shutil.copy(f, dst / f.name)
    sd = change(load_file(src / "model.safetensors"))
    save_file(
        {k: v.contiguous() for k, v in sd.items()}, dst / "model.safetensors", {"format": "pt"}
    )
    if config is not None:
        data = json.loads((dst / "config.json").read_text())
        data.update(config)
        (dst / "config.json").write_text(json.dumps(data))
    return dst


def add_noise(sd: StateDict, sigma: float = SIGMA, seed: int = 7) -> StateDict:
    g = torch.Generator().manual_seed(seed)
    return {
        k: (v.float() + sigma * torch.randn(v.shape, generator=g)).to(v.dtype)
        for k, v in sd.items()
    }


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    torch.set_num_threads(1)
    original = build_model(root / "original", seed=0)
    return {
        "original": original,
        "independent": build_model(root / "independent", seed=1),
        "noisy": derive(original, root / "noisy", add_noise),
    }
