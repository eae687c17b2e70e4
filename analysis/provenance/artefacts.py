"""Artefact forensics (test T0 of the research note): config diff, tokenizer identity, and the
alignment of tensors by content rather than by name.

Alignment: exact byte-hash matches first (ties broken by name, then storage order); then, within
each group of equal shape, the centred correlation between every remaining original and suspect
tensor and a maximum-weight assignment (Hungarian).  An assignment weaker than
``min_content_score`` is not trusted: those tensors fall back to pairing by name (method
``"name"``), or are reported unmatched.  Renamed and reordered tensors are reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from analysis.provenance.reader import ModelFileError, ModelFolder, TensorInfo, read_tensor

DEFAULT_IGNORED_CONFIG_KEYS = ("_name_or_path", "transformers_version")


@dataclass(frozen=True)
class ConfigDiff:
    added: tuple[str, ...]  # keys only the suspect has (dotted paths)
    removed: tuple[str, ...]  # keys only the original has
    changed: tuple[tuple[str, Any, Any], ...]  # (key, original value, suspect value)
    ignored_keys: tuple[str, ...]

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [{"key": k, "original": a, "suspect": b} for k, a, b in self.changed],
            "ignored_keys": list(self.ignored_keys),
        }


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def config_diff(
    original: Mapping[str, Any] | None,
    suspect: Mapping[str, Any] | None,
    *,
    ignored_keys: tuple[str, ...] = DEFAULT_IGNORED_CONFIG_KEYS,
) -> ConfigDiff:
    a = {k: v for k, v in _flatten(original or {}).items() if k not in ignored_keys}
    b = {k: v for k, v in _flatten(suspect or {}).items() if k not in ignored_keys}
    return ConfigDiff(
        added=tuple(sorted(set(b) - set(a))),
        removed=tuple(sorted(set(a) - set(b))),
        changed=tuple((k, a[k], b[k]) for k in sorted(set(a) & set(b)) if a[k] != b[k]),
        ignored_keys=ignored_keys,
    )


@dataclass(frozen=True)
class TokenizerInfo:
    files: tuple[str, ...]
    vocab_size: int
    vocab_sha256: str | None  # SHA-256 of the sorted (token, id) list; None without a vocabulary
    special_tokens: tuple[str, ...]
    added_tokens: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "vocab_size": self.vocab_size,
            "vocab_sha256": self.vocab_sha256,
            "special_tokens": list(self.special_tokens),
            "added_tokens": list(self.added_tokens),
        }


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path.name}: malformed JSON ({exc})") from exc


def tokenizer_info(folder: str | Path) -> TokenizerInfo:
    """Vocabulary hash and special/added tokens from tokenizer.json and the small config files."""
    root = Path(folder)
    files: list[str] = []
    vocab: dict[str, int] = {}
    special: set[str] = set()
    added: set[str] = set()
    tj = root / "tokenizer.json"
    if tj.exists():
        files.append(tj.name)
        data = _read_json(tj)
        model = data.get("model") if isinstance(data, dict) else None
        raw_vocab = model.get("vocab") if isinstance(model, dict) else None
        if isinstance(raw_vocab, dict):
            vocab = {str(k): int(v) for k, v in raw_vocab.items()}
        elif isinstance(raw_vocab, list):  # Unigram: [[token, score], ...]
            vocab = {str(item[0]): i for i, item in enumerate(raw_vocab)}
        for tok in data.get("added_tokens", []) if isinstance(data, dict) else []:
            text = _token_text(tok)
            if text is not None:
                added.add(text)
                if isinstance(tok, dict) and tok.get("special"):
                    special.add(text)
                if isinstance(tok, dict) and isinstance(tok.get("id"), int):
                    vocab.setdefault(text, tok["id"])
    tc = root / "tokenizer_config.json"
    if tc.exists():
        files.append(tc.name)
        data = _read_json(tc)
        if isinstance(data, dict):
            decoder = data.get("added_tokens_decoder")
            if isinstance(decoder, dict):
                for tok in decoder.values():
                    text = _token_text(tok)
                    if text is not None:
                        added.add(text)
                        if isinstance(tok, dict) and tok.get("special"):
                            special.add(text)
            for key, value in data.items():
                if key.endswith("_token"):
                    text = _token_text(value)
                    if text is not None:
                        special.add(text)
    sm = root / "special_tokens_map.json"
    if sm.exists():
        files.append(sm.name)
        data = _read_json(sm)
        if isinstance(data, dict):
            for value in data.values():
                for item in value if isinstance(value, list) else [value]:
                    text = _token_text(item)
                    if text is not None:
                        special.add(text)
    digest = None
    if vocab:
        payload = json.dumps(sorted(vocab.items()), ensure_ascii=False).encode("utf-8")
        digest = hashlib.sha256(payload).hexdigest()
    return TokenizerInfo(
        files=tuple(files),
        vocab_size=len(vocab),
        vocab_sha256=digest,
        special_tokens=tuple(sorted(special)),
        added_tokens=tuple(sorted(added)),
    )


@dataclass(frozen=True)
class TokenizerComparison:
    original: TokenizerInfo
    suspect: TokenizerInfo
    same_vocabulary: bool
    special_only_original: tuple[str, ...]
    special_only_suspect: tuple[str, ...]
    added_only_original: tuple[str, ...]
    added_only_suspect: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": self.original.to_dict(),
            "suspect": self.suspect.to_dict(),
            "same_vocabulary": self.same_vocabulary,
            "special_only_original": list(self.special_only_original),
            "special_only_suspect": list(self.special_only_suspect),
            "added_only_original": list(self.added_only_original),
            "added_only_suspect": list(self.added_only_suspect),
        }


def compare_tokenizers(original: TokenizerInfo, suspect: TokenizerInfo) -> TokenizerComparison:
    so, ss = set(original.special_tokens), set(suspect.special_tokens)
    ao, as_ = set(original.added_tokens), set(suspect.added_tokens)
    return TokenizerComparison(
        original=original,
        suspect=suspect,
        same_vocabulary=original.vocab_sha256 is not None
        and original.vocab_sha256 == suspect.vocab_sha256,
        special_only_original=tuple(sorted(so - ss)),
        special_only_suspect=tuple(sorted(ss - so)),
        added_only_original=tuple(sorted(ao - as_)),
        added_only_suspect=tuple(sorted(as_ - ao)),
    )


@dataclass(frozen=True)
class TensorPair:
    original: str
    suspect: str
    method: str  # "hash", "content" or "name"
    score: float  # 1.0 for hash matches; the content score otherwise (nan if not computed)

    @property
    def renamed(self) -> bool:
        return self.original != self.suspect

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": self.original,
            "suspect": self.suspect,
            "method": self.method,
            "score": None if np.isnan(self.score) else self.score,
            "renamed": self.renamed,
        }


@dataclass(frozen=True)
class Alignment:
    pairs: tuple[TensorPair, ...]  # in the original's storage order
    unmatched_original: tuple[str, ...]
    unmatched_suspect: tuple[str, ...]
    renamed: int
    reordered: bool  # the suspect stores the matched tensors in another order
    min_content_score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "pairs": [p.to_dict() for p in self.pairs],
            "unmatched_original": list(self.unmatched_original),
            "unmatched_suspect": list(self.unmatched_suspect),
            "renamed": self.renamed,
            "reordered": self.reordered,
            "hash_matches": sum(p.method == "hash" for p in self.pairs),
            "content_matches": sum(p.method == "content" for p in self.pairs),
            "name_matches": sum(p.method == "name" for p in self.pairs),
            "min_content_score": self.min_content_score,
        }


def content_score(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Centred correlation; for a constant tensor (e.g. RMSNorm weights at init) instead
    1 - ||a - b|| / (||a|| + ||b||)."""
    x, y = a.ravel(), b.ravel()
    xc, yc = x - x.mean(), y - y.mean()
    nx, ny = float(np.sqrt(xc @ xc)), float(np.sqrt(yc @ yc))
    scale = max(float(np.abs(x).max(initial=0.0)), float(np.abs(y).max(initial=0.0)), 1e-30)
    if nx > 1e-6 * scale * np.sqrt(x.size) and ny > 1e-6 * scale * np.sqrt(y.size):
        return float(xc @ yc) / (nx * ny)
    denom = float(np.linalg.norm(x) + np.linalg.norm(y))
    return 1.0 if denom == 0 else 1.0 - float(np.linalg.norm(x - y)) / denom


def align_tensors(
    original: ModelFolder,
    suspect: ModelFolder,
    *,
    min_content_score: float = 0.5,
    max_group_elements: int = 200_000_000,
) -> Alignment:
    """Pair the suspect's tensors with the original's by content (see module docstring)."""
    from scipy.optimize import linear_sum_assignment

    pairs: dict[str, TensorPair] = {}
    left_o = {t.name: t for t in original.tensors}
    left_s = {t.name: t for t in suspect.tensors}

    def take(o: TensorInfo, s: TensorInfo, method: str, score: float) -> None:
        pairs[o.name] = TensorPair(original=o.name, suspect=s.name, method=method, score=score)
        del left_o[o.name], left_s[s.name]

    # 1. exact byte matches (same dtype, shape and bytes)
    by_hash: dict[tuple[str, str, tuple[int, ...]], list[TensorInfo]] = {}
    for s in suspect.tensors:
        by_hash.setdefault((s.sha256, s.dtype, s.shape), []).append(s)
    for o in original.tensors:
        cands = [s for s in by_hash.get((o.sha256, o.dtype, o.shape), []) if s.name in left_s]
        if cands:
            same = [s for s in cands if s.name == o.name]
            take(o, (same or cands)[0], "hash", 1.0)

    # 2. content matching within shape groups
    groups: dict[tuple[int, ...], tuple[list[TensorInfo], list[TensorInfo]]] = {}
    for o in left_o.values():
        groups.setdefault(o.shape, ([], []))[0].append(o)
    for s in left_s.values():
        if s.shape in groups:
            groups[s.shape][1].append(s)
    for shape, (os_, ss) in groups.items():
        if not ss:
            continue
        size = int(np.prod(shape)) * (len(os_) + len(ss))
        if size > max_group_elements:
            continue  # too large to hold: left to name pairing below
        ao = [read_tensor(original, o) for o in os_]
        as_ = [read_tensor(suspect, s) for s in ss]
        score = np.array([[content_score(a, b) for b in as_] for a in ao])
        # A tiny preference for equal names, then for equal storage rank, breaks exact ties.
        bonus = np.array([[1e-9 * (o.name == s.name) for s in ss] for o in os_])
        rows, cols = linear_sum_assignment(np.nan_to_num(score, nan=-1.0) + bonus, maximize=True)
        for i, j in zip(rows, cols, strict=True):
            if score[i, j] >= min_content_score:
                take(os_[i], ss[j], "content", float(score[i, j]))

    # 3. names, for what content could not pair
    for name in list(left_o):
        named = left_s.get(name)
        if named is not None and named.shape == left_o[name].shape:
            take(left_o[name], named, "name", float("nan"))

    ordered = tuple(pairs[o.name] for o in original.tensors if o.name in pairs)
    suspect_rank = [suspect.tensor(p.suspect).index for p in ordered]
    return Alignment(
        pairs=ordered,
        unmatched_original=tuple(sorted(left_o)),
        unmatched_suspect=tuple(sorted(left_s)),
        renamed=sum(p.renamed for p in ordered),
        reordered=any(b < a for a, b in zip(suspect_rank, suspect_rank[1:], strict=False)),
        min_content_score=min_content_score,
    )
