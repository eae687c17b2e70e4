"""Reading a directory tree into ``SourceFile`` records (the only I/O in the package)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from analysis.codesim.tokens import SourceFile

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", ".tox"})
BINARY_EXTENSIONS = frozenset(
    ".png .jpg .jpeg .gif .bmp .ico .pdf .zip .gz .tgz .bz2 .xz .7z .jar .war .class .pyc .pyo "
    ".so .dll .dylib .exe .o .a .lib .bin .woff .woff2 .ttf .otf .mp3 .mp4 .wav .avi .mov "
    ".sqlite .db .npy .npz .pt .pth .safetensors .onnx .h5 .pkl".split()
)


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def load_tree(
    root: Path,
    *,
    max_files: int = 10_000,
    max_file_bytes: int = 1_000_000,
    lang: str = "auto",
    skipped: list[Skipped] | None = None,
) -> list[SourceFile]:
    """Every readable text file under ``root`` (sorted, paths relative and POSIX-style).

    Binary, undecodable (not UTF-8), oversized and surplus files are left out, each with a reason
    appended to ``skipped`` when a list is given.  Symbolic links are never followed, and VCS and
    dependency folders (``.git``, ``node_modules``...) are not entered.  A single file as ``root``
    is loaded as a tree of one file.
    """
    root = Path(root)
    out: list[SourceFile] = []
    notes: list[Skipped] = skipped if skipped is not None else []
    if root.is_file():
        candidates = [(root, root.name)]
    elif root.is_dir():
        candidates = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            rel_dir = Path(dirpath).relative_to(root)
            for name in sorted(filenames):
                p = Path(dirpath) / name
                candidates.append((p, (rel_dir / name).as_posix()))
    else:
        raise FileNotFoundError(f"not a file or directory: {root}")
    candidates.sort(key=lambda c: c[1])
    for path, rel in candidates:
        if len(out) >= max_files:
            notes.append(Skipped(rel, f"file limit reached ({max_files} files)"))
            continue
        reason, text = _read(path, max_file_bytes)
        if text is None:
            notes.append(Skipped(rel, reason))
            continue
        out.append(SourceFile(path=rel, text=text, lang=lang))
    return out


def _read(path: Path, max_bytes: int) -> tuple[str, str | None]:
    if path.is_symlink():
        return "symbolic link", None
    if path.suffix.lower() in BINARY_EXTENSIONS:
        return "binary (by extension)", None
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return f"too large ({size} bytes > {max_bytes})", None
        data = path.read_bytes()
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})", None
    if b"\x00" in data[:8192]:
        return "binary (NUL bytes)", None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"undecodable (not UTF-8 at byte {exc.start})", None
    return "", text.replace("\r\n", "\n").replace("\r", "\n")
