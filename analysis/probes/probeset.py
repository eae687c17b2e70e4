"""Probe sets: JSONL, one item per line, validated with errors that name the line.

Each line is a JSON object with ``id`` (string, unique), ``prompt`` (non-empty string) and
optionally ``answer`` (the expected answer; items without one count for agreement only),
``choices`` (a non-empty list of distinct strings; the model then picks one by log-likelihood),
``image`` (a path, for image-text models) and ``private`` (true for canary / private-data items,
which must carry an answer).  Unknown keys are refused so that typos do not silently drop data.
The SHA-256 of the exact bytes is recorded so the set revealed from the evidence vault can be
matched to the sealed one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_KEYS = frozenset({"id", "prompt", "answer", "choices", "image", "private"})
MAX_ITEMS = 1_000_000


class ProbeSetError(ValueError):
    """A probe set that cannot be used; the message names the source and line."""


@dataclass(frozen=True)
class ProbeItem:
    id: str
    prompt: str
    answer: str | None = None
    choices: tuple[str, ...] | None = None
    image: str | None = None
    private: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "answer": self.answer,
            "choices": list(self.choices) if self.choices is not None else None,
            "image": self.image,
            "private": self.private,
        }


@dataclass(frozen=True)
class ProbeSet:
    items: tuple[ProbeItem, ...]
    sha256: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "sha256": self.sha256,
            "n_items": len(self.items),
            "n_private": sum(1 for i in self.items if i.private),
            "n_with_answer": sum(1 for i in self.items if i.answer is not None),
            "n_with_choices": sum(1 for i in self.items if i.choices is not None),
            "n_with_image": sum(1 for i in self.items if i.image is not None),
        }


def _fail(source: str, line: int, msg: str) -> ProbeSetError:
    return ProbeSetError(f"{source}, line {line}: {msg}")


def _item(obj: Any, source: str, line: int) -> ProbeItem:
    if not isinstance(obj, dict):
        raise _fail(source, line, f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - _KEYS)
    if unknown:
        raise _fail(source, line, f"unknown key(s) {unknown}; allowed: {sorted(_KEYS)}")
    item_id = obj.get("id")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not item_id.strip():
        raise _fail(source, line, "'id' is required and must be a non-empty string")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _fail(source, line, f"item {item_id!r}: 'prompt' is required (non-empty string)")
    answer = obj.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise _fail(source, line, f"item {item_id!r}: 'answer' must be a string")
    raw_choices = obj.get("choices")
    choices: tuple[str, ...] | None = None
    if raw_choices is not None:
        if (
            not isinstance(raw_choices, list)
            or not raw_choices
            or not all(isinstance(c, str) and c.strip() for c in raw_choices)
        ):
            raise _fail(
                source, line, f"item {item_id!r}: 'choices' must be a non-empty list of strings"
            )
        if len({normalise_answer(c) for c in raw_choices}) != len(raw_choices):
            raise _fail(source, line, f"item {item_id!r}: 'choices' are not distinct")
        choices = tuple(raw_choices)
        if answer is not None and normalise_answer(answer) not in {
            normalise_answer(c) for c in choices
        }:
            raise _fail(source, line, f"item {item_id!r}: 'answer' is not one of the choices")
    image = obj.get("image")
    if image is not None and (not isinstance(image, str) or not image.strip()):
        raise _fail(source, line, f"item {item_id!r}: 'image' must be a non-empty string")
    private = obj.get("private", False)
    if not isinstance(private, bool):
        raise _fail(source, line, f"item {item_id!r}: 'private' must be true or false")
    if private and answer is None:
        raise _fail(source, line, f"item {item_id!r}: a private (canary) item needs an 'answer'")
    return ProbeItem(
        id=item_id, prompt=prompt, answer=answer, choices=choices, image=image, private=private
    )


def parse_probe_set(data: bytes, *, source: str = "<probe set>") -> ProbeSet:
    """Parse JSONL bytes (e.g. revealed from the evidence vault) into a validated ``ProbeSet``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProbeSetError(f"{source}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    items: list[ProbeItem] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _fail(source, lineno, f"malformed JSON ({exc.msg}, column {exc.colno})") from None
        item = _item(obj, source, lineno)
        if item.id in seen:
            raise _fail(source, lineno, f"duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = lineno
        items.append(item)
        if len(items) > MAX_ITEMS:
            raise _fail(source, lineno, f"more than {MAX_ITEMS} items")
    if not items:
        raise ProbeSetError(f"{source}: no items")
    return ProbeSet(items=tuple(items), sha256=hashlib.sha256(data).hexdigest(), source=source)


def load_probe_set(path: str | Path) -> ProbeSet:
    """Read and validate a JSONL probe set from a file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ProbeSetError(f"{p}: cannot read ({exc.strerror})") from None
    return parse_probe_set(data, source=str(p))


def normalise_answer(text: str) -> str:
    """Comparison form of an answer: first non-empty line, stripped, casefolded."""
    for line in text.strip().splitlines():
        if line.strip():
            return " ".join(line.split()).casefold()
    return ""


def items_by_id(items: Sequence[ProbeItem]) -> dict[str, ProbeItem]:
    return {i.id: i for i in items}
