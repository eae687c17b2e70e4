"""Extract an archive that ``inspect_archive`` has accepted, into a fresh folder, defensively.

Only regular files and folders are written; links, devices and anything whose normalised path
would leave the destination are skipped (``inspect_archive`` refuses most of them already; this
is the second lock on the door). Sizes are enforced while writing, whatever the headers claim.
Nested archives stay files: analyses read them as such.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from cases.vault.errors import UnsafeUpload
from cases.vault.safety import Limits, detect_archive, inspect_archive

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Extracted:
    root: Path
    files: int
    bytes: int
    skipped: tuple[str, ...] = field(default=())


def _target(dest: Path, name: str) -> Path | None:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    clean = [p for p in parts if p not in ("", ".", "/")]
    if not clean or any(p == ".." for p in clean) or PurePosixPath(name).is_absolute():
        return None
    target = dest.joinpath(*clean)
    return target if target.resolve().is_relative_to(dest.resolve()) else None


def extract_archive(archive: Path, dest: Path, *, limits: Limits) -> Extracted:
    """Extract ``archive`` (zip or tar, compressed or not) into the empty folder ``dest``."""
    kind = detect_archive(archive)
    if kind is None:
        raise UnsafeUpload("not an archive Slipcase can read", problem="unsupported_archive")
    inspect_archive(archive, limits=limits)
    dest.mkdir(parents=True, exist_ok=True)
    budget = limits.max_total_uncompressed_bytes
    written = files = 0
    skipped: list[str] = []

    def copy(src: IO[bytes], target: Path, name: str) -> None:
        nonlocal written, files
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > budget:
                    raise UnsafeUpload(
                        f"{name}: archive expands beyond {budget} bytes", problem="total_size"
                    )
                out.write(chunk)
        files += 1

    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                target = _target(dest, info.filename)
                if target is None:
                    skipped.append(info.filename)
                    continue
                with zf.open(info) as src:
                    copy(src, target, info.filename)
    else:
        with tarfile.open(archive, mode="r:*") as tf:
            for member in tf:
                if member.isdir():
                    continue
                target = _target(dest, member.name)
                if not member.isfile() or target is None:
                    skipped.append(member.name)
                    continue
                member_file = tf.extractfile(member)
                if member_file is None:
                    skipped.append(member.name)
                    continue
                with member_file:
                    copy(member_file, target, member.name)
    return Extracted(dest, files, written, tuple(skipped))


def extract_or_copy(path: Path, dest: Path, *, filename: str, limits: Limits) -> Extracted:
    """An archive is extracted; any other file becomes a one-file tree named ``filename``."""
    if detect_archive(path) is not None:
        return extract_archive(path, dest, limits=limits)
    target = _target(dest, filename) or dest / "file"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return Extracted(dest, 1, target.stat().st_size)
