"""Model repositories as evidence: a manifest of every file, with size, SHA-256 and role.

Pure; no Django. ``snapshot_model_repo`` walks a folder (an uploaded model, or a Hugging Face repo
fetched by ``fetch_hf_repo``) without following symbolic links out of it, hashes every file in
1 MiB chunks, classifies files (config, tokenizer, weights, weight index, other), reads the top
``config.json``, and checks that every shard a ``*.safetensors.index.json`` names is there. The
caller stores the files themselves content-addressed, so a large weight file is stored once
however many repositories hold it.

Pickle-based weight files (``.bin``, ``.pt``, ``.pth``, ``.pkl``, ``.ckpt``..., or pickles by
content under any name) are refused unless the caller accepts them as inert bytes; they are never
unpickled, here or anywhere else in this package.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cases.vault.errors import (
    AcquisitionError,
    RefusedSource,
    SourceGone,
    UnsafeUpload,
    utc_timestamp,
)
from cases.vault.safety import PICKLE_SUFFIXES, StrPath, is_pickle, sha256_file
from cases.vault.snapshots import Clock, iso, utc_now

CONFIG = "config"
TOKENIZER = "tokenizer"
WEIGHTS = "weights"
WEIGHTS_INDEX = "weights_index"
OTHER = "other"

TOKENIZER_NAMES: frozenset[str] = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
        "special_tokens_map.json",
        "added_tokens.json",
        "tokenizer.model",
        "spiece.model",
        "sentencepiece.bpe.model",
        "chat_template.jinja",
        "chat_template.json",
    }
)
WEIGHT_SUFFIXES: frozenset[str] = frozenset(
    {".safetensors", ".gguf", ".ggml", ".onnx", ".h5", ".msgpack", ".tflite", ".npz", ".npy"}
    | PICKLE_SUFFIXES
)
#: What ``fetch_hf_repo`` never downloads.
PICKLE_PATTERNS: tuple[str, ...] = tuple(f"*{suffix}" for suffix in sorted(PICKLE_SUFFIXES))


@dataclass(frozen=True)
class ManifestEntry:
    """One file of the repository. ``path`` is relative, ``/``-separated. ``link_target`` is set
    for a symbolic link inside the repository (hashed as the file it points to)."""

    path: str
    size: int
    sha256: str
    role: str  # "config" | "tokenizer" | "weights" | "weights_index" | "other"
    pickled: bool
    link_target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": _json_text(self.path),
            "size": self.size,
            "sha256": self.sha256,
            "role": self.role,
            "pickled": self.pickled,
            "link_target": None if self.link_target is None else _json_text(self.link_target),
        }


@dataclass(frozen=True)
class Refused:
    """Something in the folder left out of the manifest, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": _json_text(self.path), "reason": self.reason}


@dataclass(frozen=True)
class ModelRepoSnapshot:
    """What ``snapshot_model_repo`` found. ``config`` is the top ``config.json`` when it parses
    as a JSON object; ``indexes`` the weight index files whose shards were all found."""

    root: Path
    files: tuple[ManifestEntry, ...]
    config: dict[str, Any] | None
    refused: tuple[Refused, ...]
    indexes: tuple[str, ...]
    total_bytes: int
    notes: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "files": [f.to_dict() for f in self.files],
            "config": self.config,
            "refused": [r.to_dict() for r in self.refused],
            "indexes": list(self.indexes),
            "total_bytes": self.total_bytes,
            "notes": list(self.notes),
            "parameters": dict(self.parameters),
        }


def _json_text(text: str) -> str:
    """A path from the file system (undecodable bytes kept as surrogates) as JSON-safe text."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")


def classify(path: str, *, pickled: bool = False) -> str:
    """The role of a file by its name (and whether it is a pickle)."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith(".index.json"):
        return WEIGHTS_INDEX
    if name in TOKENIZER_NAMES:
        return TOKENIZER
    if name == "config.json" or name.endswith("_config.json") or name == "params.json":
        return CONFIG
    if pickled or posixpath.splitext(name)[1] in WEIGHT_SUFFIXES:
        return WEIGHTS
    return OTHER


@dataclass(frozen=True)
class _Found:
    rel: str
    real: Path
    link_target: str | None
    pickled: bool


def _walk(root: Path, root_real: str, max_files: int) -> Iterator[_Found | Refused]:
    pending = [root]
    count = 0
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in reversed(entries):
            rel = Path(entry.path).relative_to(root).as_posix()
            if entry.is_symlink():
                target = os.readlink(entry.path)
                real = os.path.realpath(entry.path)
                if os.path.commonpath([root_real, real]) != root_real:
                    raise UnsafeUpload(
                        f"{rel!r} is a symbolic link to {target!r}, outside the repository",
                        problem="symlink_escape",
                    )
                if os.path.isdir(real):
                    yield Refused(rel, "symbolic link to a folder of the repository; not followed")
                    continue
                if not os.path.isfile(real):
                    yield Refused(rel, "symbolic link to nothing (or to a special file)")
                    continue
                found = Path(real)
            elif entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
                continue
            elif entry.is_file(follow_symlinks=False):
                target = None
                found = Path(entry.path)
            else:
                raise UnsafeUpload(
                    f"{rel!r} is a device, FIFO or socket, not a file", problem="device_file"
                )
            count += 1
            if count > max_files:
                raise UnsafeUpload(
                    f"the repository has more than {max_files} files", problem="too_many_entries"
                )
            pickled = Path(rel).suffix.lower() in PICKLE_SUFFIXES or is_pickle(found)
            yield _Found(rel=rel, real=found, link_target=target, pickled=pickled)


def snapshot_model_repo(
    folder: StrPath,
    *,
    accept_pickle_as_inert: bool = False,
    skip_pickles: bool = False,
    max_files: int = 100_000,
    max_json_bytes: int = 16 * 1024 * 1024,
    clock: Clock = utc_now,
) -> ModelRepoSnapshot:
    """Manifest the model repository in ``folder``; see the module docstring.

    Pickle-based files raise ``UnsafeUpload(problem="pickle_refused")`` naming them all, unless
    ``accept_pickle_as_inert`` (kept, hashed as bytes, marked ``pickled``) or ``skip_pickles``
    (left out, listed in ``refused``). Symbolic links out of the folder raise ``symlink_escape``;
    device files ``device_file``. A weight index naming a shard that is not there raises
    ``AcquisitionError`` (permanent) naming the shards. A folder that does not exist raises
    ``SourceGone``.
    """
    root = Path(folder)
    if not root.is_dir():
        at = clock()
        raise SourceGone(
            f"model repository not found at {utc_timestamp(at)}: {root}", observed_at=at
        )
    root_real = os.path.realpath(root)
    found: list[_Found] = []
    refused: list[Refused] = []
    for item in _walk(root, root_real, max_files):
        if isinstance(item, Refused):
            refused.append(item)
        else:
            found.append(item)
    pickles = [f for f in found if f.pickled]
    if pickles and not accept_pickle_as_inert:
        if not skip_pickles:
            names = ", ".join(sorted(f.rel for f in pickles))
            raise UnsafeUpload(
                f"pickle-based files refused (they can run code when loaded; accept them as inert"
                f" bytes to keep them): {names}",
                problem="pickle_refused",
            )
        refused += [Refused(f.rel, "pickle-based file, not accepted") for f in pickles]
        found = [f for f in found if not f.pickled]

    files: list[ManifestEntry] = []
    for item in sorted(found, key=lambda f: f.rel):
        size, digest = sha256_file(item.real)
        files.append(
            ManifestEntry(
                path=item.rel,
                size=size,
                sha256=digest,
                role=classify(item.rel, pickled=item.pickled),
                pickled=item.pickled,
                link_target=item.link_target,
            )
        )
    notes: list[str] = []
    config = _read_config(root, files, max_json_bytes, notes)
    indexes = _check_indexes(root, files, refused, max_json_bytes)
    return ModelRepoSnapshot(
        root=root,
        files=tuple(files),
        config=config,
        refused=tuple(sorted(refused, key=lambda r: r.path)),
        indexes=indexes,
        total_bytes=sum(f.size for f in files),
        notes=tuple(notes),
        parameters={
            "accept_pickle_as_inert": accept_pickle_as_inert,
            "skip_pickles": skip_pickles,
            "max_files": max_files,
        },
    )


def _load_json(path: Path, max_bytes: int) -> Any:
    if path.stat().st_size > max_bytes:
        raise ValueError(f"larger than {max_bytes} bytes")
    with open(path, "rb") as f:
        return json.loads(f.read(max_bytes + 1))


def _read_config(
    root: Path, files: list[ManifestEntry], max_bytes: int, notes: list[str]
) -> dict[str, Any] | None:
    if not any(f.path == "config.json" for f in files):
        return None
    try:
        config = _load_json(root / "config.json", max_bytes)
    except (ValueError, RecursionError, OSError) as exc:
        notes.append(f"config.json could not be read as JSON: {str(exc)[:200]}")
        return None
    if not isinstance(config, dict):
        notes.append("config.json is not a JSON object")
        return None
    return config


def _check_indexes(
    root: Path, files: list[ManifestEntry], refused: list[Refused], max_bytes: int
) -> tuple[str, ...]:
    present = {f.path for f in files}
    left_out = {r.path for r in refused}
    checked: list[str] = []
    for entry in files:
        if entry.role != WEIGHTS_INDEX:
            continue
        try:
            index = _load_json(root / entry.path, max_bytes)
        except (ValueError, RecursionError, OSError) as exc:
            raise AcquisitionError(
                f"{entry.path} is not readable JSON: {str(exc)[:200]}", transient=False
            ) from exc
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not all(
            isinstance(v, str) for v in weight_map.values()
        ):
            raise AcquisitionError(
                f"{entry.path} has no weight_map of tensor names to shard files", transient=False
            )
        base = posixpath.dirname(entry.path)
        missing: list[str] = []
        for shard in sorted(set(weight_map.values())):
            normal = posixpath.normpath(posixpath.join(base, shard))
            if shard.startswith("/") or normal == ".." or normal.startswith("../"):
                missing.append(f"{shard} (outside the repository)")
            elif normal not in present and normal not in left_out:
                missing.append(shard)
        if missing:
            raise AcquisitionError(
                f"{entry.path} names {len(missing)} shard(s) that are not in the repository:"
                f" {', '.join(missing)}",
                transient=False,
            )
        checked.append(entry.path)
    return tuple(checked)


# --- The Hugging Face hub ------------------------------------------------------------------------


_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


@dataclass(frozen=True)
class HubFetch:
    """A Hugging Face repository downloaded into ``path``, at ``commit`` (the revision asked for,
    resolved: the record is reproducible even when a branch moves later)."""

    path: Path
    repo_id: str
    revision: str
    commit: str
    fetched_at: datetime
    tool: str
    ignored_patterns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "repo_id": self.repo_id,
            "revision": self.revision,
            "commit": self.commit,
            "fetched_at": iso(self.fetched_at),
            "tool": self.tool,
            "ignored_patterns": list(self.ignored_patterns),
        }


def fetch_hf_repo(
    repo_id: str,
    revision: str | None,
    dest: StrPath,
    *,
    repo_type: str = "model",
    endpoint: str | None = None,
    token: str | None = None,
    timeout_s: float = 60,
    clock: Clock = utc_now,
) -> Path:
    """Download ``repo_id`` at ``revision`` (None: ``main``) into ``dest`` and return ``dest``;
    ``fetch_hf_repo_pinned`` does the same and also says which commit that was."""
    return fetch_hf_repo_pinned(
        repo_id,
        revision,
        dest,
        repo_type=repo_type,
        endpoint=endpoint,
        token=token,
        timeout_s=timeout_s,
        clock=clock,
    ).path


def fetch_hf_repo_pinned(
    repo_id: str,
    revision: str | None,
    dest: StrPath,
    *,
    repo_type: str = "model",
    endpoint: str | None = None,
    token: str | None = None,
    timeout_s: float = 60,
    clock: Clock = utc_now,
) -> HubFetch:
    """Download ``repo_id`` at ``revision`` into ``dest`` with ``huggingface_hub``, never fetching
    pickle-based files (``PICKLE_PATTERNS``). The revision is resolved to a commit first and the
    download pinned to it. ``endpoint`` defaults to ``$HF_ENDPOINT`` (read at call time).

    Repository or revision not found (404, 410) raise ``SourceGone`` with the time; gated or
    private repositories a permanent ``AcquisitionError``; connection failures, timeouts, 429 and
    5xx a transient one. Follow with ``snapshot_model_repo(result.path)``.
    """
    import httpx2  # huggingface_hub's HTTP client: its errors are the connection failures
    import huggingface_hub
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub import errors as hf_errors

    if not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise RefusedSource(f"refused Hugging Face repository id {repo_id!r}")
    revision = revision or "main"
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        info = HfApi(endpoint=endpoint, token=token).repo_info(
            repo_id, revision=revision, repo_type=repo_type, timeout=timeout_s
        )
        commit = info.sha
        if not commit:
            raise AcquisitionError(
                f"hugging face: no commit for {repo_id}@{revision}", transient=False
            )
        with tempfile.TemporaryDirectory(prefix="hf-cache-") as cache:
            snapshot_download(
                repo_id,
                repo_type=repo_type,
                revision=commit,
                local_dir=dest,
                cache_dir=cache,
                ignore_patterns=list(PICKLE_PATTERNS),
                endpoint=endpoint,
                token=token,
                etag_timeout=timeout_s,
            )
    except AcquisitionError:
        raise
    except hf_errors.GatedRepoError as exc:
        raise AcquisitionError(
            f"hugging face: {repo_id} is gated; a token with access is needed", transient=False
        ) from exc
    except (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError) as exc:
        at = clock()
        what = "revision" if isinstance(exc, hf_errors.RevisionNotFoundError) else "repository"
        raise SourceGone(
            f"hugging face: {what} {repo_id}@{revision} not found at {utc_timestamp(at)}",
            observed_at=at,
        ) from exc
    except hf_errors.HfHubHTTPError as exc:
        raise _http_error(exc.response.status_code, repo_id, revision, clock()) from exc
    except hf_errors.LocalEntryNotFoundError as exc:
        cause = exc.__cause__
        if isinstance(cause, hf_errors.HfHubHTTPError):
            raise _http_error(cause.response.status_code, repo_id, revision, clock()) from exc
        raise AcquisitionError(f"hugging face: {exc}"[:500], transient=True) from exc
    except (httpx2.HTTPError, OSError) as exc:  # connection failures, timeouts
        raise AcquisitionError(f"hugging face: {exc}"[:500], transient=True) from exc
    shutil.rmtree(dest / ".cache" / "huggingface", ignore_errors=True)
    if (dest / ".cache").is_dir() and not any((dest / ".cache").iterdir()):
        (dest / ".cache").rmdir()
    return HubFetch(
        path=dest,
        repo_id=repo_id,
        revision=revision,
        commit=commit,
        fetched_at=clock(),
        tool=f"huggingface_hub {huggingface_hub.__version__}",
        ignored_patterns=PICKLE_PATTERNS,
    )


def _http_error(status: int, repo_id: str, revision: str, at: datetime) -> AcquisitionError:
    if status in (404, 410):
        return SourceGone(
            f"hugging face: {repo_id}@{revision} returned {status} at {utc_timestamp(at)}",
            observed_at=at,
        )
    if status in (401, 403):
        return AcquisitionError(
            f"hugging face: {repo_id} returned {status}: private, gated or disabled",
            transient=False,
        )
    transient = status in (408, 429) or status >= 500
    return AcquisitionError(
        f"hugging face: {repo_id}@{revision} returned {status} at {utc_timestamp(at)}",
        transient=transient,
    )
