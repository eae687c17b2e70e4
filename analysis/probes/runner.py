"""Run a text causal LM over a probe set: greedy, deterministic, batched, no remote code.

torch and transformers are imported inside the functions, so importing ``analysis.probes`` stays
cheap (Celery imports every task module in every process).  Model folders are hostile input: a
config or tokenizer config with ``auto_map`` (custom code) is refused before anything is loaded,
``trust_remote_code`` is always off and nothing is fetched from the network.  The folder's
content hash stands in for the pinned revision and is recorded with the library versions.

Items with ``choices`` are scored: the sum of the log-probabilities of the choice's tokens after
the prompt, highest wins (ties go to the first choice).  Other items are answered by greedy
generation.  Batched runs pad on the left and pass explicit position ids, so a batched run and a
one-at-a-time run (``batch_size=1``) give the same answers.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.probes.probeset import ProbeItem, normalise_answer
from analysis.probes.version import __version__

# (model, tokenizer) from a folder; tests inject tiny in-memory models.
Loader = Callable[[str], tuple[Any, Any]]

_CONFIG_FILES = ("config.json", "tokenizer_config.json", "processor_config.json")


class ModelLoadError(RuntimeError):
    """A model folder that will not be loaded, with the reason."""


class RemoteCodeRefused(ModelLoadError):
    """The model folder asks for custom code (``auto_map``); evidence is hostile input."""


@dataclass(frozen=True)
class ModelAnswers:
    label: str
    model_dir: str
    answers: Mapping[str, str]  # item id -> normalised answer
    raw: Mapping[str, str]  # item id -> decoded text (or the chosen choice)
    dir_sha256: str | None
    file_sha256: Mapping[str, str]
    versions: Mapping[str, str]
    params: Mapping[str, Any]
    timings: Mapping[str, float]
    version: str = __version__
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "model_dir": self.model_dir,
            "dir_sha256": self.dir_sha256,
            "file_sha256": dict(self.file_sha256),
            "answers": dict(self.answers),
            "raw": dict(self.raw),
            "versions": dict(self.versions),
            "params": dict(self.params),
            "timings": dict(self.timings),
            "version": self.version,
        }


def check_no_remote_code(model_dir: str | Path) -> None:
    """Raise ``RemoteCodeRefused`` if any config in the folder names custom code."""
    root = Path(model_dir)
    for name in _CONFIG_FILES:
        path = root / name
        if not path.is_file():
            continue
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"{path}: unreadable config ({exc})") from None
        if isinstance(cfg, dict) and "auto_map" in cfg:
            raise RemoteCodeRefused(
                f"{path}: asks for remote code (auto_map={cfg['auto_map']!r}); refused: "
                "trust_remote_code stays off for evidence. Load the weights into a stock "
                "transformers class instead."
            )


def hash_model_dir(model_dir: str | Path) -> tuple[str, dict[str, str]]:
    """SHA-256 per file, and one digest over the sorted (path, digest) list: the revision."""
    root = Path(model_dir)
    files: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        files[path.relative_to(root).as_posix()] = h.hexdigest()
    top = hashlib.sha256()
    for rel, digest in files.items():
        top.update(f"{rel}\0{digest}\n".encode())
    return top.hexdigest(), files


def default_loader(model_dir: str) -> tuple[Any, Any]:
    """AutoTokenizer + AutoModelForCausalLM from a local folder; no remote code, no network."""
    root = Path(model_dir)
    if not (root / "config.json").is_file():
        raise ModelLoadError(f"{model_dir}: not a model folder (no config.json)")
    check_no_remote_code(root)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(
            model_dir, trust_remote_code=False, local_files_only=True
        )
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, trust_remote_code=False, local_files_only=True, use_safetensors=True
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{model_dir}: cannot load ({exc})") from exc
    return model, tok


def library_versions() -> dict[str, str]:
    import torch
    import transformers

    return {"torch": str(torch.__version__), "transformers": str(transformers.__version__)}


def _pad_left(
    seqs: Sequence[Sequence[int]], pad_id: int
) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    width = max(len(s) for s in seqs)
    ids, mask, pos = [], [], []
    for s in seqs:
        n = width - len(s)
        ids.append([pad_id] * n + list(s))
        mask.append([0] * n + [1] * len(s))
        pos.append([0] * n + list(range(len(s))))
    return ids, mask, pos


def _prompt_ids(tok: Any, prompt: str) -> list[int]:
    ids = list(tok(prompt, add_special_tokens=True)["input_ids"])
    if not ids:
        raise ModelLoadError(f"tokenizer produced no tokens for prompt {prompt[:40]!r}")
    return ids


def _choice_ids(tok: Any, prompt: str, choice: str) -> list[int]:
    text = choice if prompt[-1:].isspace() else " " + choice
    ids = list(tok(text, add_special_tokens=False)["input_ids"])
    if not ids:
        raise ModelLoadError(f"tokenizer produced no tokens for choice {choice!r}")
    return ids


def _score_choices(
    model: Any, tok: Any, items: Sequence[ProbeItem], *, batch_size: int, device: str
) -> dict[str, str]:
    import torch

    rows: list[tuple[str, int, list[int], int]] = []  # item id, choice index, ids, n choice tokens
    for item in items:
        assert item.choices is not None  # noqa: S101 - callers pass choice items only
        p = _prompt_ids(tok, item.prompt)
        for ci, choice in enumerate(item.choices):
            c = _choice_ids(tok, item.prompt, choice)
            rows.append((item.id, ci, p + c, len(c)))
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    scores: dict[tuple[str, int], float] = {}
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        ids, mask, pos = _pad_left([r[2] for r in chunk], pad)
        t_ids = torch.tensor(ids, device=device)
        keep = max(r[3] for r in chunk) + 1
        with torch.inference_mode():
            logits = model(
                input_ids=t_ids,
                attention_mask=torch.tensor(mask, device=device),
                position_ids=torch.tensor(pos, device=device),
                use_cache=False,
                logits_to_keep=keep,
            ).logits
        # Only the last ``keep`` positions are needed (choices sit at the end under left padding);
        # this keeps memory at batch x keep x vocab instead of batch x length x vocab.
        logp = torch.log_softmax(logits[:, -keep:, :].double(), dim=-1)
        width = t_ids.shape[1]
        offset = width - keep
        for j, (item_id, ci, _seq, n_c) in enumerate(chunk):
            total = 0.0
            for t in range(width - n_c, width):
                total += float(logp[j, t - 1 - offset, t_ids[j, t]])
            scores[(item_id, ci)] = total
    chosen: dict[str, str] = {}
    for item in items:
        assert item.choices is not None  # noqa: S101
        best = max(range(len(item.choices)), key=lambda ci: (scores[(item.id, ci)], -ci))
        chosen[item.id] = item.choices[best]
    return chosen


def _generate(
    model: Any,
    tok: Any,
    items: Sequence[ProbeItem],
    *,
    batch_size: int,
    max_new_tokens: int,
    device: str,
) -> dict[str, str]:
    """Greedy decoding with a KV cache, written out so padding is handled the same way at any
    batch size (explicit position ids; finished rows keep emitting padding)."""
    import torch

    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    eos = tok.eos_token_id
    # transformers 5.x renamed past_key_values to cache; accept either spelling.
    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    out: dict[str, str] = {}
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        ids, mask, pos = _pad_left([_prompt_ids(tok, i.prompt) for i in chunk], pad)
        t_ids = torch.tensor(ids, device=device)
        t_mask = torch.tensor(mask, device=device)
        t_pos = torch.tensor(pos, device=device)
        next_pos = t_pos[:, -1:] + 1
        done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
        new_tokens: list[Any] = []
        past: Any = None
        step_ids = t_ids
        step_pos = t_pos
        with torch.inference_mode():
            for _ in range(max_new_tokens):
                res = model(
                    input_ids=step_ids,
                    attention_mask=t_mask,
                    position_ids=step_pos,
                    use_cache=True,
                    logits_to_keep=1,
                    **{cache_kw: past},
                )
                past = getattr(res, cache_kw)
                nxt = torch.argmax(res.logits[:, -1, :], dim=-1)
                nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
                new_tokens.append(nxt)
                if eos is not None:
                    done = done | (nxt == eos)
                if bool(done.all()):
                    break
                step_ids = nxt[:, None]
                step_pos = next_pos
                next_pos = next_pos + 1
                t_mask = torch.cat([t_mask, torch.ones_like(step_ids)], dim=1)
        gen = torch.stack(new_tokens, dim=1).tolist() if new_tokens else [[] for _ in chunk]
        for item, toks in zip(chunk, gen, strict=True):
            kept = []
            for t in toks:
                if eos is not None and t == eos:
                    break
                if t != pad:
                    kept.append(t)
            out[item.id] = str(tok.decode(kept, skip_special_tokens=True))
    return out


def run_text_model(
    model_dir: str,
    items: Sequence[ProbeItem],
    *,
    batch_size: int = 16,
    max_new_tokens: int = 16,
    device: str = "cpu",
    loader: Loader | None = None,
    label: str | None = None,
    seed: int = 0,
    hash_files: bool = True,
) -> ModelAnswers:
    """Answer every item with a text causal LM.  ``batch_size=1`` is the one-at-a-time mode."""
    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError("batch_size and max_new_tokens must be >= 1")
    with_image = [i.id for i in items if i.image is not None]
    if with_image:
        raise ModelLoadError(
            f"{len(with_image)} item(s) carry an image (first: {with_image[0]!r}); "
            "image-text models are not supported by the text runner"
        )
    import torch

    t0 = time.perf_counter()
    dir_sha: str | None = None
    files: dict[str, str] = {}
    if hash_files and Path(model_dir).is_dir():
        dir_sha, files = hash_model_dir(model_dir)
    t_hash = time.perf_counter()
    model, tok = (loader or default_loader)(model_dir)
    model.eval()
    model.to(device)
    tok.padding_side = "left"
    if tok.pad_token_id is None and tok.eos_token_id is not None:
        tok.pad_token = tok.eos_token
    torch.manual_seed(seed)
    t_load = time.perf_counter()
    choice_items = [i for i in items if i.choices is not None]
    gen_items = [i for i in items if i.choices is None]
    raw: dict[str, str] = {}
    if choice_items:
        raw.update(_score_choices(model, tok, choice_items, batch_size=batch_size, device=device))
    t_score = time.perf_counter()
    if gen_items:
        raw.update(
            _generate(
                model,
                tok,
                gen_items,
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
                device=device,
            )
        )
    t_gen = time.perf_counter()
    ordered_raw = {i.id: raw[i.id] for i in items}
    return ModelAnswers(
        label=label or Path(model_dir).name or model_dir,
        model_dir=str(model_dir),
        answers={k: normalise_answer(v) for k, v in ordered_raw.items()},
        raw=ordered_raw,
        dir_sha256=dir_sha,
        file_sha256=files,
        versions={**library_versions(), "probes": __version__},
        params={
            "batch_size": batch_size,
            "max_new_tokens": max_new_tokens,
            "device": device,
            "seed": seed,
            "decoding": "greedy",
            "choice_score": "sum_logprob",
            "trust_remote_code": False,
            "torch_threads": torch.get_num_threads(),
            "dtype": str(next(iter(model.parameters())).dtype),
        },
        timings={
            "hash_s": t_hash - t0,
            "load_s": t_load - t_hash,
            "score_s": t_score - t_load,
            "generate_s": t_gen - t_score,
            "total_s": t_gen - t0,
        },
    )
