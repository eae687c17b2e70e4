"""Tiny Llama models and a word-level tokenizer, built in the test session (no downloads)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from analysis.probes.probeset import ProbeItem

WORDS = [f"w{i}" for i in range(40)]
ANSWERS = [f"a{i}" for i in range(8)]
SPECIAL = ["<pad>", "<unk>", "<s>", "</s>"]
VOCAB = SPECIAL + WORDS + ANSWERS


def save_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
    )
    fast.save_pretrained(folder)


def save_model(folder: Path, seed: int) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        intermediate_size=64,
        vocab_size=len(VOCAB),
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
        tie_word_embeddings=False,
        initializer_range=0.5,
    )
    model = LlamaForCausalLM(cfg).eval()
    model.save_pretrained(folder)
    save_tokenizer(folder)


def make_items(n_choice: int = 40, n_gen: int = 8, seed: int = 7) -> list[ProbeItem]:
    rng = random.Random(seed)
    items: list[ProbeItem] = []
    for i in range(n_choice):
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        choices = tuple(rng.sample(ANSWERS, 4))
        items.append(ProbeItem(id=f"c{i}", prompt=prompt, answer=choices[0], choices=choices))
    for i in range(n_gen):
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 10)))
        items.append(ProbeItem(id=f"g{i}", prompt=prompt, answer="a0"))
    return items


@dataclass(frozen=True)
class Zoo:
    original: Path
    copy: Path
    independent: Path
    references: tuple[Path, ...]


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    root = tmp_path_factory.mktemp("zoo")
    save_model(root / "original", seed=1)
    save_model(root / "copy", seed=1)  # same weights, another folder
    save_model(root / "independent", seed=2)
    refs = []
    for s in (11, 12, 13, 14):
        save_model(root / f"ref{s}", seed=s)
        refs.append(root / f"ref{s}")
    return Zoo(root / "original", root / "copy", root / "independent", tuple(refs))


def write_jsonl(path: Path, items: list[ProbeItem]) -> Path:
    lines = []
    for it in items:
        d: dict[str, object] = {"id": it.id, "prompt": it.prompt}
        if it.answer is not None:
            d["answer"] = it.answer
        if it.choices is not None:
            d["choices"] = list(it.choices)
        if it.private:
            d["private"] = True
        lines.append(json.dumps(d))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
