"""Read a model folder (Hugging Face layout) as hostile evidence.

Only ``*.safetensors`` weights are read.  Every header is parsed and checked here, before any tensor
byte is touched: the 8-byte little-endian header length, the JSON (duplicate keys refused), dtypes,
shapes, byte ranges inside the file, no overlaps.  Tensors are then read through a read-only memory
map, one at a time, with our own decoder (bf16 included, so no torch is needed).  Pickle-based
weights (``*.bin``, ``*.pt``, ...) are never opened, and a config or tokenizer config that asks for
remote code (``auto_map``) is refused: ``trust_remote_code`` is never used anywhere.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"})
DEFAULT_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit
_CHUNK = 1 << 20

# safetensors dtype -> (numpy storage dtype, bytes per element); BF16 is decoded by hand.
_DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("<f8", 8),
    "F32": ("<f4", 4),
    "F16": ("<f2", 2),
    "BF16": ("<u2", 2),
    "I64": ("<i8", 8),
    "I32": ("<i4", 4),
    "I16": ("<i2", 2),
    "I8": ("i1", 1),
    "U8": ("u1", 1),
    "BOOL": ("u1", 1),
}


class ModelFileError(Exception):
    """A model folder or file that is refused; ``str(error)`` says why, naming the file."""


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor: where its bytes are, and the SHA-256 of those bytes."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: str
    offset: int  # absolute byte offset of the tensor data in ``file``
    nbytes: int
    sha256: str
    index: int  # storage order across the checkpoint (file order, then offset)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "file": self.file,
            "nbytes": self.nbytes,
            "sha256": self.sha256,
            "index": self.index,
        }


@dataclass(frozen=True)
class ModelFolder:
    """A validated model folder; tensors are read on demand with :func:`read_tensor`."""

    path: str
    config: Mapping[str, Any] | None
    files: tuple[FileInfo, ...]  # every weight file read, with its SHA-256
    tensors: tuple[TensorInfo, ...]
    ignored_files: tuple[str, ...]  # pickle weights and code files present but never opened

    def tensor(self, name: str) -> TensorInfo:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "files": [f.to_dict() for f in self.files],
            "tensor_count": len(self.tensors),
            "parameter_count": sum(t.numel for t in self.tensors),
            "ignored_files": list(self.ignored_files),
        }


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path.name}: malformed {what} JSON ({exc})") from exc


def _refuse_remote_code(data: Any, filename: str) -> None:
    if isinstance(data, dict) and ("auto_map" in data or data.get("trust_remote_code")):
        raise ModelFileError(
            f"{filename}: config asks for remote code (auto_map); it is never run, "
            "compare the weights of a stock architecture instead"
        )


def parse_header(
    path: Path, *, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
) -> tuple[int, dict[str, Any]]:
    """Validate a safetensors file's header; return (data start offset, {name: entry})."""
    size = path.stat().st_size
    if size < 8:
        raise ModelFileError(f"{path.name}: truncated safetensors file ({size} bytes, no header)")
    with path.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if n > max_header_bytes:
            raise ModelFileError(
                f"{path.name}: header length {n} bytes exceeds the limit of {max_header_bytes}"
            )
        if 8 + n > size:
            raise ModelFileError(
                f"{path.name}: header claims {n} bytes but the file has only {size - 8} after "
                "the length field (truncated or forged)"
            )
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path.name}: malformed safetensors header JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name}: safetensors header is not a JSON object")
    data_start = 8 + n
    data_len = size - data_start
    entries: dict[str, Any] = {}
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise ModelFileError(f"{path.name}: tensor {name!r}: entry is not an object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in _DTYPES:
            raise ModelFileError(f"{path.name}: tensor {name!r}: unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise ModelFileError(f"{path.name}: tensor {name!r}: invalid shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise ModelFileError(f"{path.name}: tensor {name!r}: invalid data_offsets {offsets!r}")
        if offsets[1] > data_len:
            raise ModelFileError(
                f"{path.name}: tensor {name!r} ends at byte {offsets[1]} but the file has only "
                f"{data_len} data bytes (truncated)"
            )
        expected = math.prod(shape) * _DTYPES[dtype][1]
        if offsets[1] - offsets[0] != expected:
            raise ModelFileError(
                f"{path.name}: tensor {name!r}: shape {shape} in {dtype} needs {expected} bytes, "
                f"the header gives {offsets[1] - offsets[0]}"
            )
        spans.append((offsets[0], offsets[1], name))
        entries[name] = entry
    spans.sort()
    for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ModelFileError(f"{path.name}: tensors {a!r} and {b!r} overlap")
    return data_start, entries


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _sha256_range(path: Path, offset: int, nbytes: int) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        fh.seek(offset)
        left = nbytes
        while left:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                raise ModelFileError(f"{path.name}: file shrank while being read")
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def _weight_files(root: Path) -> list[Path]:
    index = root / "model.safetensors.index.json"
    if index.exists():
        data = _load_json(index, "index")
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise ModelFileError(f"{index.name}: no weight_map")
        names = sorted(set(weight_map.values()))
        for n in names:
            if (
                not isinstance(n, str)
                or "/" in n
                or "\\" in n
                or n.startswith(".")
                or not n.endswith(".safetensors")
            ):
                raise ModelFileError(f"{index.name}: refusing shard name {n!r}")
            if not (root / n).is_file():
                raise ModelFileError(f"{index.name}: shard {n!r} is missing")
        return [root / n for n in names]
    return sorted(p for p in root.glob("*.safetensors") if p.is_file())


def _no_symlinks(files: list[Path]) -> list[Path]:
    for f in files:
        if f.is_symlink():
            raise ModelFileError(f"{f.name}: refusing a symbolic link as a weight file")
    return files


def open_model(
    path: str | Path, *, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
) -> ModelFolder:
    """Validate a model folder and hash every weight file and tensor; read no tensor values."""
    root = Path(path)
    if root.is_file():
        if root.suffix.lower() in PICKLE_SUFFIXES:
            raise ModelFileError(f"{root.name}: pickle-based weights are refused (never unpickled)")
        raise ModelFileError(f"{root}: expected a model folder, got a file")
    if not root.is_dir():
        raise ModelFileError(f"{root}: no such model folder")
    config: dict[str, Any] | None = None
    if (root / "config.json").exists():
        loaded = _load_json(root / "config.json", "config")
        if not isinstance(loaded, dict):
            raise ModelFileError("config.json: not a JSON object")
        _refuse_remote_code(loaded, "config.json")
        config = loaded
    if (root / "tokenizer_config.json").exists():
        _refuse_remote_code(
            _load_json(root / "tokenizer_config.json", "tokenizer config"), "tokenizer_config.json"
        )
    ignored = sorted(
        p.name
        for p in root.iterdir()
        if p.is_file() and (p.suffix.lower() in PICKLE_SUFFIXES or p.suffix == ".py")
    )
    files = _no_symlinks(_weight_files(root))
    if not files:
        pickles = [n for n in ignored if Path(n).suffix.lower() in PICKLE_SUFFIXES]
        if pickles:
            raise ModelFileError(
                f"{root.name}: only pickle-based weights ({', '.join(pickles)}); they are refused "
                "and never unpickled: ask for safetensors"
            )
        raise ModelFileError(f"{root.name}: no *.safetensors weights")
    index_map: dict[str, str] | None = None
    if (root / "model.safetensors.index.json").exists():
        index_map = _load_json(root / "model.safetensors.index.json", "index")["weight_map"]
    infos: list[FileInfo] = []
    tensors: list[TensorInfo] = []
    seen: dict[str, str] = {}
    for f in files:
        data_start, entries = parse_header(f, max_header_bytes=max_header_bytes)
        infos.append(FileInfo(name=f.name, size=f.stat().st_size, sha256=_sha256_file(f)))
        for name, entry in sorted(entries.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            if name in seen:
                raise ModelFileError(f"tensor {name!r} is in both {seen[name]} and {f.name}")
            if index_map is not None and index_map.get(name) != f.name:
                raise ModelFileError(f"{f.name}: tensor {name!r} is not mapped to it by the index")
            seen[name] = f.name
            start, end = entry["data_offsets"]
            tensors.append(
                TensorInfo(
                    name=name,
                    dtype=entry["dtype"],
                    shape=tuple(entry["shape"]),
                    file=f.name,
                    offset=data_start + start,
                    nbytes=end - start,
                    sha256=_sha256_range(f, data_start + start, end - start),
                    index=len(tensors),
                )
            )
    if index_map is not None:
        missing = sorted(set(index_map) - set(seen))
        if missing:
            raise ModelFileError(f"index lists tensors found in no shard: {missing[:5]}")
    return ModelFolder(
        path=str(root),
        config=config,
        files=tuple(infos),
        tensors=tuple(tensors),
        ignored_files=tuple(ignored),
    )


def read_tensor(model: ModelFolder, info: TensorInfo) -> npt.NDArray[np.float64]:
    """The tensor's values as a float64 array of its shape (read through a read-only mmap)."""
    storage, _ = _DTYPES[info.dtype]
    if info.numel == 0:
        return np.zeros(info.shape, dtype=np.float64)
    raw = np.memmap(
        Path(model.path) / info.file,
        dtype=storage,
        mode="r",
        offset=info.offset,
        shape=(info.numel,),
    )
    if info.dtype == "BF16":
        values = (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    else:
        values = raw.astype(np.float64)
    del raw
    return values.reshape(info.shape)


def iter_tensors(model: ModelFolder) -> Iterator[tuple[TensorInfo, npt.NDArray[np.float64]]]:
    """Stream (info, values) one tensor at a time in storage order."""
    for info in model.tensors:
        yield info, read_tensor(model, info)
