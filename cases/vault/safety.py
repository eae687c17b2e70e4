"""Upload safety: limits, streaming writes, archive inspection, content sniffing, pickle detection.

Pure; no Django. Evidence is hostile input, so nothing here trusts a file name, a declared size or
an archive's own description of itself:

* ``stream_to_file`` writes an upload in 1 MiB chunks while hashing it, to a hidden sibling file
  that is renamed into place only when the whole upload is in and within its limit; a refused or
  failed upload leaves nothing behind.
* ``inspect_archive`` reads zip, tar, tar.gz/tgz, tar.bz2 and tar.xz archives (and single gzip,
  bzip2 and xz streams), recognised by content, and lists their entries. It refuses path traversal,
  absolute names, symbolic links and hard links that leave the tree, device files, zip bombs (by
  declared sizes first, then by the bytes each entry actually decompresses to, with early abort),
  overlapping zip entries, too many entries, and archives nested deeper than the limit. Nested
  archives are copied into a private temporary directory to be inspected in turn; nothing is ever
  extracted anywhere else, and no member is held whole in memory.
* ``sniff`` tells a file's type from its content (``filetype`` for binary signatures,
  ``charset-normalizer`` for text); ``decode_text`` decodes text with detection and keeps
  undecodable bytes as bytes.
* ``is_pickle`` recognises pickle-based files by name and by content, without unpickling anything.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import lzma
import os
import re
import secrets
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, cast, runtime_checkable

import charset_normalizer
import filetype  # type: ignore[import-untyped]  # no stubs, no py.typed

from cases.vault.errors import UnsafeUpload

StrPath = str | os.PathLike[str]

CHUNK = 1024 * 1024  #: read and write size: large enough to be fast, small enough to never matter
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

PICKLE_SUFFIXES: frozenset[str] = frozenset(
    {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib"}
)

# Archive kinds ``detect_archive`` returns.
ZIP = "zip"
TAR = "tar"
TAR_GZ = "tar.gz"
TAR_BZ2 = "tar.bz2"
TAR_XZ = "tar.xz"
GZIP = "gzip"
BZIP2 = "bzip2"
XZ = "xz"
ARCHIVE_KINDS: frozenset[str] = frozenset({ZIP, TAR, TAR_GZ, TAR_BZ2, TAR_XZ, GZIP, BZIP2, XZ})

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_HEAD = 1024  # bytes of a member looked at to tell whether it is itself an archive
_MAX_LINK_TARGET = 4096
_MAX_LINK_HOPS = 40
_SPECIAL_MODES = (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK)


# --- Limits and streaming writes -----------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Size and shape limits for uploads. All sizes in bytes.

    ``max_ratio`` is judged only once more than ``ratio_floor_bytes`` have been decompressed, so
    that small, very compressible files (a page of spaces) are not taken for bombs.
    ``max_nesting`` counts archives inside archives: the upload is level 0, an archive inside it
    level 1; an archive at a level above ``max_nesting`` is refused (0: no archives inside).
    """

    max_upload_bytes: int = 2 * GiB
    max_case_bytes: int = 50 * GiB
    max_total_uncompressed_bytes: int = 8 * GiB
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 * MiB
    max_entries: int = 10_000
    max_nesting: int = 3

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 0 or (value == 0 and name not in {"max_nesting", "ratio_floor_bytes"}):
                raise ValueError(f"Limits.{name} must be positive, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Readable(Protocol):
    """Anything with ``read(size)`` returning bytes: an open file, a Django ``UploadedFile``."""

    def read(self, size: int = ..., /) -> bytes: ...


def check_case_quota(*, case_bytes_used: int, upload_bytes: int, limits: Limits) -> None:
    """Refuse an upload of ``upload_bytes`` that would take a case over its size limit."""
    if case_bytes_used + upload_bytes > limits.max_case_bytes:
        raise UnsafeUpload(
            f"the case already holds {case_bytes_used} bytes of evidence; {upload_bytes} more would"
            f" exceed its limit of {limits.max_case_bytes} bytes",
            problem="case_quota",
        )


def _chunks(source: Readable | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(source, Readable):
        while chunk := source.read(CHUNK):
            yield bytes(chunk)
    else:
        for chunk in source:
            yield bytes(chunk)


def stream_to_file(
    source: Readable | Iterable[bytes], dest_path: StrPath, *, max_bytes: int
) -> tuple[int, str]:
    """Write ``source`` (a readable file object or an iterable of byte chunks) to ``dest_path``,
    hashing as it goes; return ``(size, sha256_hex)``.

    The bytes go to a hidden sibling file that replaces ``dest_path`` only once complete and
    flushed to disk. Past ``max_bytes`` the partial file is deleted and
    ``UnsafeUpload(problem="file_too_large")`` raised; any other failure also deletes it.
    """
    dest = Path(dest_path)
    part = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
    digest = hashlib.sha256()
    size = 0
    try:
        with open(part, "xb") as out:
            for chunk in _chunks(source):
                size += len(chunk)
                if size > max_bytes:
                    raise UnsafeUpload(
                        f"the upload is larger than the limit of {max_bytes} bytes",
                        problem="file_too_large",
                    )
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


def sha256_file(path: StrPath) -> tuple[int, str]:
    """``(size, sha256_hex)`` of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


# --- Archive detection ---------------------------------------------------------------------------


def _looks_like_tar(block: bytes) -> bool:
    """A tar header block: the ustar magic, or (old v7 tar) a valid header checksum."""
    if len(block) < 512:
        return False
    if block[257:262] == b"ustar":
        return True
    if not block[:100].strip(b"\x00"):
        return False
    field_ = block[148:156].replace(b"\x00", b" ").strip()
    try:
        declared = int(field_, 8)
    except ValueError:
        return False
    return declared == sum(block[:148]) + 8 * 32 + sum(block[156:512])


def _detect_head(head: bytes) -> str | None:
    """Archive-ish content from its first bytes: the kind, with compressed streams not yet
    told apart from compressed tars (``gzip``, ``bzip2``, ``xz``)."""
    if head.startswith(_ZIP_MAGICS):
        return ZIP
    if head.startswith(_GZIP_MAGIC):
        return GZIP
    if head.startswith(_BZIP2_MAGIC) and len(head) > 3 and head[3:4].isdigit():
        return BZIP2
    if head.startswith(_XZ_MAGIC):
        return XZ
    if _looks_like_tar(head[:512]):
        return TAR
    return None


def _open_decompressed(raw: IO[bytes], kind: str) -> io.BufferedIOBase:
    if kind in (GZIP, TAR_GZ):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind in (BZIP2, TAR_BZ2):
        return bz2.BZ2File(raw, mode="rb")
    if kind in (XZ, TAR_XZ):
        return lzma.LZMAFile(raw, mode="rb")
    raise ValueError(kind)


def detect_archive(path: StrPath) -> str | None:
    """The archive kind of the file at ``path`` by content (never by name): one of
    ``ARCHIVE_KINDS``, or None when it is not an archive or compressed stream. Zip-based formats
    (docx, xlsx, jar, epub...) are zips here: they are inspected like any other."""
    with open(path, "rb") as f:
        return _detect_fileobj(f)


def _detect_fileobj(f: IO[bytes]) -> str | None:
    head = f.read(_HEAD)
    kind = _detect_head(head)
    if kind not in (GZIP, BZIP2, XZ):
        return kind
    f.seek(0)
    try:
        with _open_decompressed(f, kind) as inner:
            block = inner.read(512)
    except (EOFError, zlib.error, lzma.LZMAError, OSError):
        return kind  # unreadable: inspection will say it is corrupt
    if _looks_like_tar(block):
        return {GZIP: TAR_GZ, BZIP2: TAR_BZ2, XZ: TAR_XZ}[kind]
    return kind


# --- Archive inspection --------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveEntry:
    """One entry of an inspected archive.

    ``size`` is the number of bytes the entry actually decompressed to (files); ``declared_size``
    what the archive says. ``container`` locates nested archives: ``""`` for the upload itself,
    ``"inner.zip"`` for an entry of the archive ``inner.zip`` inside it, ``"inner.zip!/b.tar"``
    one level further down. ``nested_kind`` is set on an entry that is itself an archive (and was
    inspected in turn).
    """

    name: str
    kind: str  # "file" | "dir" | "symlink" | "hardlink"
    size: int
    declared_size: int
    compressed_size: int | None
    link_target: str | None
    container: str
    depth: int
    nested_kind: str | None = None
    encrypted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ArchiveReport:
    """What ``inspect_archive`` found in a safe archive."""

    kind: str
    size: int
    entries: tuple[ArchiveEntry, ...]
    total_uncompressed: int
    max_depth: int
    limits: Limits

    @property
    def entry_count(self) -> int:
        return len(self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "size": self.size,
            "entry_count": self.entry_count,
            "total_uncompressed": self.total_uncompressed,
            "max_depth": self.max_depth,
            "limits": self.limits.to_dict(),
            "entries": [e.to_dict() for e in self.entries],
        }


def _where(container: str, name: str) -> str:
    return f"{container}!/{name}" if container else name


class _Budget:
    """Counts shared by an archive and every archive nested in it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.entries = 0
        self.total = 0
        self.max_depth = 0

    def entry(self, where: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise UnsafeUpload(
                f"the archive has more than {self.limits.max_entries} entries (at {where!r})",
                problem="too_many_entries",
            )

    def add(self, n: int, where: str) -> None:
        self.total += n
        if self.total > self.limits.max_total_uncompressed_bytes:
            raise UnsafeUpload(
                f"the archive decompresses to more than {self.limits.max_total_uncompressed_bytes}"
                f" bytes in all (at {where!r})",
                problem="total_size",
            )


class _Ratio:
    """Decompressed bytes against compressed bytes, judged as they stream."""

    def __init__(self, limits: Limits, compressed: int, what: str) -> None:
        self.limits = limits
        self.compressed = max(compressed, 1)
        self.what = what
        self.out = 0

    def add(self, n: int) -> None:
        self.out += n
        if (
            self.out > self.limits.ratio_floor_bytes
            and self.out / self.compressed > self.limits.max_ratio
        ):
            raise UnsafeUpload(
                f"{self.what} decompresses to more than {self.limits.max_ratio:g} times its"
                f" compressed size of {self.compressed} bytes (a zip bomb)",
                problem="zip_bomb_ratio",
            )


def _check_name(name: str, where: str) -> str:
    """The entry name, normalised (``/``-separated, no ``.`` or empty parts); refuses absolute
    names and ``..`` components. Backslashes count as separators: some extractors treat them so."""
    if "\x00" in name:
        raise UnsafeUpload(f"entry name {where!r} contains a NUL byte", problem="path_traversal")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or re.match(r"^[A-Za-z]:", unified):
        raise UnsafeUpload(f"entry {where!r} has an absolute path", problem="absolute_path")
    parts = unified.split("/")
    if ".." in parts:
        raise UnsafeUpload(
            f"entry {where!r} climbs out of the archive with '..'", problem="path_traversal"
        )
    return "/".join(p for p in parts if p not in ("", "."))


def _link_escapes(symlinks: Mapping[str, str], link: str) -> str | None:
    """Resolve symlink ``link`` inside the virtual tree of the archive, following other symlinks
    of the archive as the file system would; a reason when it leaves the tree, else None."""
    stack = link.split("/")[:-1]
    todo = symlinks[link].replace("\\", "/").split("/")
    if symlinks[link].startswith(("/", "\\")):
        return "points to an absolute path"
    hops = 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                return "points outside the archive"
            stack.pop()
            continue
        candidate = "/".join([*stack, part])
        if candidate in symlinks:
            hops += 1
            if hops > _MAX_LINK_HOPS:
                return "is part of a symlink loop"
            target = symlinks[candidate].replace("\\", "/")
            if target.startswith("/"):
                return f"goes through {candidate!r}, which points to an absolute path"
            todo = target.split("/") + todo
            continue
        stack.append(part)
    return None


def _check_symlinks(symlinks: Mapping[str, str], container: str) -> None:
    for link in symlinks:
        reason = _link_escapes(symlinks, link)
        if reason:
            raise UnsafeUpload(
                f"symbolic link {_where(container, link)!r} -> {symlinks[link]!r} {reason}",
                problem="symlink_escape",
            )


class _Sink:
    """Takes a member's bytes as they stream; keeps only its head, unless the head shows an
    archive, in which case the member is copied to a temporary file to be inspected in turn."""

    def __init__(self, tmp: Path, depth: int, limits: Limits, where: str) -> None:
        self.tmp = tmp
        self.depth = depth
        self.limits = limits
        self.where = where
        self.head = b""
        self.decided = False
        self.nested: Path | None = None
        self.out: IO[bytes] | None = None

    def _decide(self) -> None:
        self.decided = True
        if _detect_head(self.head) is None:
            return
        if self.depth + 1 > self.limits.max_nesting:
            raise UnsafeUpload(
                f"{self.where!r} is an archive nested {self.depth + 1} levels deep; the limit is"
                f" {self.limits.max_nesting}",
                problem="nesting_depth",
            )
        fd, name = tempfile.mkstemp(prefix="nested-", dir=self.tmp)
        self.nested = Path(name)
        self.out = os.fdopen(fd, "wb")
        self.out.write(self.head)

    def write(self, chunk: bytes) -> None:
        if self.out is not None:
            self.out.write(chunk)
            return
        if self.decided:
            return
        need = _HEAD - len(self.head)
        self.head += chunk[:need]
        if len(self.head) >= _HEAD:
            self._decide()
            if self.out is not None:
                self.out.write(chunk[need:])

    def close(self) -> Path | None:
        if not self.decided:
            self._decide()
        if self.out is not None:
            self.out.close()
        return self.nested


class _Inspector:
    def __init__(self, limits: Limits, tmp: Path) -> None:
        self.limits = limits
        self.tmp = tmp
        self.budget = _Budget(limits)
        self.entries: list[ArchiveEntry] = []

    # The archive as a whole --------------------------------------------------------------------

    def inspect(self, path: Path, kind: str, *, container: str, depth: int) -> None:
        self.budget.max_depth = max(self.budget.max_depth, depth)
        try:
            if kind == ZIP:
                self._zip(path, container=container, depth=depth)
            elif kind in (TAR, TAR_GZ, TAR_BZ2, TAR_XZ):
                self._tar(path, kind, container=container, depth=depth)
            else:
                self._stream(path, kind, container=container, depth=depth)
        except UnsafeUpload:
            raise
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            tarfile.TarError,
            zlib.error,
            lzma.LZMAError,
            EOFError,
            struct.error,
            ValueError,
            UnicodeError,
            OSError,
        ) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise  # a real I/O error here (disk full), not a property of the archive
            where = container or "the upload"
            raise UnsafeUpload(
                f"{where} is not a readable {kind} archive: {exc}", problem="corrupt_archive"
            ) from exc

    def _member(
        self, chunks: Iterator[bytes], *, where: str, depth: int, ratio: _Ratio, outer: _Ratio
    ) -> tuple[int, Path | None]:
        """Stream one member's bytes through the limits; the temp path when it is an archive."""
        sink = _Sink(self.tmp, depth, self.limits, where)
        size = 0
        try:
            for chunk in chunks:
                n = len(chunk)
                size += n
                self.budget.add(n, where)
                ratio.add(n)
                if outer is not ratio:
                    outer.add(n)
                sink.write(chunk)
        finally:
            nested = sink.close()
        return size, nested

    def _nested(self, nested: Path | None, *, where: str, depth: int) -> str | None:
        if nested is None:
            return None
        try:
            kind = detect_archive(nested)
            if kind is None:  # pragma: no cover - the head said archive; defensive
                return None
            self.inspect(nested, kind, container=where, depth=depth + 1)
            return kind
        finally:
            nested.unlink(missing_ok=True)

    # zip ------------------------------------------------------------------------------------------

    def _zip(self, path: Path, *, container: str, depth: int) -> None:
        archive_size = path.stat().st_size
        remaining = self.limits.max_entries - self.budget.entries
        with open(path, "rb") as raw:
            _count_zip_entries(raw, archive_size, remaining, container)
            with zipfile.ZipFile(raw) as zf:
                infos = zf.infolist()
                self._zip_declared(infos, container)
                outer = _Ratio(self.limits, archive_size, container or "the archive")
                # First every name, mode and local header, so that nothing is decompressed from
                # an archive that is refused for its shape.
                starts: list[int] = []
                spans: list[tuple[int, int, str]] = []
                for info in infos:
                    where = _where(container, info.filename)
                    self.budget.entry(where)
                    _check_name(info.filename, where)
                    if stat.S_IFMT(info.external_attr >> 16) in _SPECIAL_MODES:
                        raise UnsafeUpload(
                            f"entry {where!r} is a device or special file", problem="device_file"
                        )
                    start = _zip_data_start(raw, info, archive_size)
                    starts.append(start)
                    spans.append((info.header_offset, start + info.compress_size, where))
                _check_overlaps(spans, container)
                symlinks: dict[str, str] = {}
                for info, start in zip(infos, starts, strict=True):
                    self._zip_entry(raw, info, start, container, depth, outer, symlinks)
                _check_symlinks(symlinks, container)

    def _zip_declared(self, infos: list[zipfile.ZipInfo], container: str) -> None:
        declared = sum(i.file_size for i in infos)
        if self.budget.total + declared > self.limits.max_total_uncompressed_bytes:
            raise UnsafeUpload(
                f"{container or 'the archive'} declares {declared} bytes of content, more than the"
                f" limit of {self.limits.max_total_uncompressed_bytes} bytes",
                problem="total_size",
            )
        for info in infos:
            if (
                info.file_size > self.limits.ratio_floor_bytes
                and info.file_size / max(info.compress_size, 1) > self.limits.max_ratio
            ):
                raise UnsafeUpload(
                    f"entry {_where(container, info.filename)!r} declares {info.file_size} bytes"
                    f" from {info.compress_size} compressed, more than {self.limits.max_ratio:g}"
                    " times (a zip bomb)",
                    problem="zip_bomb_ratio",
                )

    def _zip_entry(
        self,
        raw: IO[bytes],
        info: zipfile.ZipInfo,
        data_start: int,
        container: str,
        depth: int,
        outer: _Ratio,
        symlinks: dict[str, str],
    ) -> None:
        where = _where(container, info.filename)
        name = _check_name(info.filename, where)
        fmt = stat.S_IFMT(info.external_attr >> 16)
        encrypted = bool(info.flag_bits & 0x1)
        kind = "dir" if info.is_dir() else "symlink" if fmt == stat.S_IFLNK else "file"
        if encrypted:
            if kind == "symlink":
                raise UnsafeUpload(
                    f"entry {where!r} is an encrypted symbolic link", problem="unsupported_archive"
                )
            # Cannot be read without the password (which we never use): declared sizes only.
            self.budget.add(info.file_size, where)
            self.entries.append(
                ArchiveEntry(
                    name=info.filename,
                    kind=kind,
                    size=0,
                    declared_size=info.file_size,
                    compressed_size=info.compress_size,
                    link_target=None,
                    container=container,
                    depth=depth,
                    encrypted=True,
                )
            )
            return
        ratio = _Ratio(self.limits, info.compress_size, f"entry {where!r}")
        crc = 0

        def chunks() -> Iterator[bytes]:
            nonlocal crc
            for chunk in _zip_member_chunks(raw, info, data_start, where):
                crc = zlib.crc32(chunk, crc)
                yield chunk

        target: str | None = None
        if kind == "symlink":
            data = b"".join(_limited(chunks(), _MAX_LINK_TARGET, where))
            size, nested = len(data), None
            target = data.decode("utf-8", errors="replace")
            symlinks[name] = target
        else:
            size, nested = self._member(
                chunks(), where=where, depth=depth, ratio=ratio, outer=outer
            )
        if size != info.file_size:
            if nested:
                nested.unlink(missing_ok=True)
            raise UnsafeUpload(
                f"entry {where!r} declares {info.file_size} bytes but decompresses to {size}",
                problem="corrupt_archive",
            )
        if crc != info.CRC:
            if nested:
                nested.unlink(missing_ok=True)
            raise UnsafeUpload(f"entry {where!r} fails its CRC check", problem="corrupt_archive")
        nested_kind = self._nested(nested, where=where, depth=depth)
        self.entries.append(
            ArchiveEntry(
                name=info.filename,
                kind=kind,
                size=size,
                declared_size=info.file_size,
                compressed_size=info.compress_size,
                link_target=target,
                container=container,
                depth=depth,
                nested_kind=nested_kind,
            )
        )

    # tar ------------------------------------------------------------------------------------------

    def _tar(self, path: Path, kind: str, *, container: str, depth: int) -> None:
        archive_size = path.stat().st_size
        outer = _Ratio(self.limits, archive_size, container or "the archive")
        stream_ratio = _Ratio(self.limits, archive_size, container or "the archive")
        symlinks: dict[str, str] = {}
        files: set[str] = set()
        with contextlib.ExitStack() as stack:
            raw = stack.enter_context(open(path, "rb"))
            stream: Readable = raw
            if kind != TAR:
                stream = stack.enter_context(_open_decompressed(raw, kind))
            counted = cast(IO[bytes], _CountingReader(stream, stream_ratio))
            tf = stack.enter_context(
                tarfile.open(fileobj=counted, mode="r|", tarinfo=_GuardedTarInfo)
            )
            for member in tf:
                self._tar_entry(tf, member, container, depth, outer, symlinks, files)
        _check_symlinks(symlinks, container)

    def _tar_entry(
        self,
        tf: tarfile.TarFile,
        member: tarfile.TarInfo,
        container: str,
        depth: int,
        outer: _Ratio,
        symlinks: dict[str, str],
        files: set[str],
    ) -> None:
        where = _where(container, member.name)
        self.budget.entry(where)
        name = _check_name(member.name, where)
        size = 0
        nested_kind: str | None = None
        target: str | None = None
        if member.ischr() or member.isblk() or member.isfifo():  # tar has no sockets
            raise UnsafeUpload(
                f"entry {where!r} is a device or special file", problem="device_file"
            )
        if member.issym():
            kind = "symlink"
            target = member.linkname
            if target.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", target):
                raise UnsafeUpload(
                    f"symbolic link {where!r} -> {target!r} points to an absolute path",
                    problem="symlink_escape",
                )
            symlinks[name] = target
        elif member.islnk():
            kind = "hardlink"
            target = member.linkname
            unified = target.replace("\\", "/")
            parts = unified.split("/")
            if unified.startswith("/") or ".." in parts:
                raise UnsafeUpload(
                    f"hard link {where!r} -> {target!r} points outside the archive",
                    problem="hardlink_escape",
                )
            normal = "/".join(p for p in parts if p not in ("", "."))
            if normal not in files:
                raise UnsafeUpload(
                    f"hard link {where!r} -> {target!r} does not point to an earlier file of the"
                    " archive",
                    problem="hardlink_escape",
                )
            files.add(name)
        elif member.isdir():
            kind = "dir"
        elif member.isreg():
            kind = "file"
            extracted = tf.extractfile(member)
            if extracted is None:  # pragma: no cover - isreg() members always have data
                raise UnsafeUpload(f"entry {where!r} has no data", problem="corrupt_archive")
            # Tar members are stored whole (only a sparse member can expand): the archive-wide
            # ratio, on member bytes and on the decompressed stream, is what catches a tar bomb.
            size, nested = self._member(
                _read_chunks(extracted), where=where, depth=depth, ratio=outer, outer=outer
            )
            nested_kind = self._nested(nested, where=where, depth=depth)
            files.add(name)
        else:
            raise UnsafeUpload(
                f"entry {where!r} is of a tar entry type that is not accepted ({member.type!r})",
                problem="unsupported_archive",
            )
        self.entries.append(
            ArchiveEntry(
                name=member.name,
                kind=kind,
                size=size,
                declared_size=member.size,
                compressed_size=None,
                link_target=target,
                container=container,
                depth=depth,
                nested_kind=nested_kind,
            )
        )

    # a single compressed stream (file.gz, file.bz2, file.xz) -----------------------------------

    def _stream(self, path: Path, kind: str, *, container: str, depth: int) -> None:
        archive_size = path.stat().st_size
        where = _where(container, "(decompressed)")
        self.budget.entry(where)
        outer = _Ratio(self.limits, archive_size, container or "the compressed file")
        with open(path, "rb") as raw, _open_decompressed(raw, kind) as stream:
            size, nested = self._member(
                _read_chunks(stream), where=where, depth=depth, ratio=outer, outer=outer
            )
        nested_kind = self._nested(nested, where=where, depth=depth)
        self.entries.append(
            ArchiveEntry(
                name="(decompressed)",
                kind="file",
                size=size,
                declared_size=size,
                compressed_size=archive_size,
                link_target=None,
                container=container,
                depth=depth,
                nested_kind=nested_kind,
            )
        )


_TAR_META_TYPES = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)
_MAX_TAR_META = 1 * MiB


class _GuardedTarInfo(tarfile.TarInfo):
    """``tarfile`` reads a pax or GNU long-name header whole into memory, however large it says
    it is; refuse large ones first. (``_proc_member`` is the documented extension point.)"""

    def _proc_member(self, tf: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _TAR_META_TYPES and self.size > _MAX_TAR_META:
            raise UnsafeUpload(
                f"the archive has a tar metadata header of {self.size} bytes (more than"
                f" {_MAX_TAR_META}), which would have to be held in memory",
                problem="corrupt_archive",
            )
        member: tarfile.TarInfo = tarfile.TarInfo._proc_member(self, tf)  # type: ignore[attr-defined]
        return member


class _CountingReader:
    """A read-only stream that reports the bytes read through it to a ``_Ratio``."""

    def __init__(self, stream: Readable, ratio: _Ratio) -> None:
        self.stream = stream
        self.ratio = ratio

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.ratio.add(len(data))
        return data


def _read_chunks(stream: Readable) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def _limited(chunks: Iterator[bytes], limit: int, where: str) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise UnsafeUpload(
                f"symbolic link {where!r} has a target longer than {limit} bytes",
                problem="corrupt_archive",
            )
        yield chunk


def _count_zip_entries(raw: IO[bytes], archive_size: int, limit: int, container: str) -> int:
    """Count the central directory's records without loading them, refusing past ``limit``:
    ``zipfile`` would otherwise build an object per record before we could count."""
    where = container or "the archive"
    tail_len = min(archive_size, 22 + 0xFFFF)
    raw.seek(archive_size - tail_len)
    tail = raw.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < 22:
        raise UnsafeUpload(f"{where} has no zip end record", problem="corrupt_archive")
    _, _, _, _, declared, cd_size, cd_offset, _ = struct.unpack("<4s4H2LH", tail[pos : pos + 22])
    cd_end = archive_size - tail_len + pos
    if declared == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        start = cd_end - 20 - 56
        if start < 0:
            raise UnsafeUpload(f"{where} has a broken zip64 end record", problem="corrupt_archive")
        raw.seek(start)
        rec = raw.read(56)
        if len(rec) < 56 or rec[:4] != b"PK\x06\x06":
            raise UnsafeUpload(f"{where} has a broken zip64 end record", problem="corrupt_archive")
        declared, cd_size = struct.unpack("<2Q", rec[32:48])
        cd_end = start
    if declared > limit:
        raise UnsafeUpload(
            f"{where} declares {declared} entries; the limit is {limit}",
            problem="too_many_entries",
        )
    cd_start = cd_end - cd_size
    if cd_start < 0:
        raise UnsafeUpload(f"{where} has a broken central directory", problem="corrupt_archive")
    raw.seek(cd_start)
    count = 0
    consumed = 0
    while consumed < cd_size:
        header = raw.read(46)
        if len(header) < 46 or header[:4] != b"PK\x01\x02":
            raise UnsafeUpload(f"{where} has a broken central directory", problem="corrupt_archive")
        n, m, k = struct.unpack("<3H", header[28:34])
        raw.seek(n + m + k, os.SEEK_CUR)
        consumed += 46 + n + m + k
        count += 1
        if count > limit:
            raise UnsafeUpload(f"{where} has more than {limit} entries", problem="too_many_entries")
    return count


def _zip_data_start(raw: IO[bytes], info: zipfile.ZipInfo, archive_size: int) -> int:
    where = info.filename
    raw.seek(info.header_offset)
    header = raw.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise UnsafeUpload(f"entry {where!r} has no local header", problem="corrupt_archive")
    n, m = (int(v) for v in struct.unpack("<2H", header[26:30]))
    local_name = raw.read(n)
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if local_name.decode(encoding, errors="replace") != info.orig_filename:
        raise UnsafeUpload(
            f"entry {where!r} is named differently in its local header", problem="corrupt_archive"
        )
    start = info.header_offset + 30 + n + m
    if start + info.compress_size > archive_size:
        raise UnsafeUpload(
            f"entry {where!r} runs past the end of the file", problem="corrupt_archive"
        )
    return start


def _check_overlaps(spans: list[tuple[int, int, str]], container: str) -> None:
    ordered = sorted(spans)
    for (_, end, where), (start, _, other) in zip(ordered, ordered[1:], strict=False):
        if start < end:
            raise UnsafeUpload(
                f"entries {where!r} and {other!r} of {container or 'the archive'} share data"
                " (overlapping entries, a zip bomb technique)",
                problem="overlapping_entries",
            )


def _zip_member_chunks(
    raw: IO[bytes], info: zipfile.ZipInfo, data_start: int, where: str
) -> Iterator[bytes]:
    """Decompress an entry's raw data ourselves, in bounded chunks, ignoring its declared size:
    ``zipfile`` would stop at the declared size and so hide a member that lies about it."""
    raw.seek(data_start)
    remaining = info.compress_size
    method = info.compress_type
    if method == zipfile.ZIP_STORED:
        while remaining > 0:
            data = raw.read(min(CHUNK, remaining))
            if not data:
                raise UnsafeUpload(f"entry {where!r} is truncated", problem="corrupt_archive")
            remaining -= len(data)
            yield data
        return
    if method == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
        while remaining > 0:
            data = raw.read(min(CHUNK, remaining))
            if not data:
                raise UnsafeUpload(f"entry {where!r} is truncated", problem="corrupt_archive")
            remaining -= len(data)
            out = inflater.decompress(data, CHUNK)
            if out:
                yield out
            while inflater.unconsumed_tail:
                out = inflater.decompress(inflater.unconsumed_tail, CHUNK)
                if out:
                    yield out
            if inflater.eof:
                break
        tail = inflater.flush()
        if tail:
            yield tail
        if not inflater.eof:
            raise UnsafeUpload(f"entry {where!r} is truncated", problem="corrupt_archive")
        return
    decompressor: bz2.BZ2Decompressor | lzma.LZMADecompressor
    if method == zipfile.ZIP_BZIP2:
        decompressor = bz2.BZ2Decompressor()
    elif method == zipfile.ZIP_LZMA:
        header = raw.read(4)
        if len(header) < 4:
            raise UnsafeUpload(f"entry {where!r} is truncated", problem="corrupt_archive")
        (props_size,) = struct.unpack("<H", header[2:4])
        props = raw.read(props_size)
        remaining -= 4 + props_size
        if len(props) < 5 or remaining < 0:
            raise UnsafeUpload(
                f"entry {where!r} has bad LZMA properties", problem="corrupt_archive"
            )
        d = props[0]
        lc, lp, pb = d % 9, (d // 9) % 5, d // 45
        dict_size = int.from_bytes(props[1:5], "little")
        decompressor = lzma.LZMADecompressor(
            lzma.FORMAT_RAW,
            filters=[
                {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}
            ],
        )
    else:
        raise UnsafeUpload(
            f"entry {where!r} uses compression method {method}, which cannot be inspected",
            problem="unsupported_archive",
        )
    while remaining > 0 and not decompressor.eof:
        data = raw.read(min(CHUNK, remaining))
        if not data:
            raise UnsafeUpload(f"entry {where!r} is truncated", problem="corrupt_archive")
        remaining -= len(data)
        out = decompressor.decompress(data, CHUNK)
        if out:
            yield out
        while not decompressor.eof and not decompressor.needs_input:
            out = decompressor.decompress(b"", CHUNK)
            if out:
                yield out
    if method == zipfile.ZIP_BZIP2 and not decompressor.eof:
        raise UnsafeUpload(f"entry {where!r} is truncated", problem="corrupt_archive")


def inspect_archive(
    path: StrPath, *, limits: Limits, tmp_dir: StrPath | None = None
) -> ArchiveReport:
    """Inspect the archive at ``path`` without trusting it; raise ``UnsafeUpload`` naming the
    first problem found, or return what it holds.

    The kind is told by content (``detect_archive``); ``ValueError`` when the file is not an
    archive at all. Nested archives are copied, one at a time, into a private temporary directory
    (under ``tmp_dir`` if given) and inspected in turn, sharing the entry and size budgets of the
    upload; the directory is removed before returning.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_upload_bytes:
        raise UnsafeUpload(
            f"the upload is {size} bytes, more than the limit of {limits.max_upload_bytes}",
            problem="file_too_large",
        )
    kind = detect_archive(path)
    if kind is None:
        raise ValueError(f"{path.name} is not an archive")
    with tempfile.TemporaryDirectory(prefix="vault-inspect-", dir=tmp_dir) as tmp:
        inspector = _Inspector(limits, Path(tmp))
        inspector.inspect(path, kind, container="", depth=0)
    return ArchiveReport(
        kind=kind,
        size=size,
        entries=tuple(inspector.entries),
        total_uncompressed=inspector.budget.total,
        max_depth=inspector.budget.max_depth,
        limits=limits,
    )


# --- Sniffing and text ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sniffed:
    """A file's type told from its content. ``encoding`` is set for text. ``archive`` is the
    archive kind (``detect_archive``) whatever the MIME type says: a .docx is a zip, and is to be
    given to ``inspect_archive`` like one."""

    mime: str
    extension: str | None
    is_text: bool
    encoding: str | None
    archive: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DecodedText:
    """Text decoded with detection. ``text`` is None when the bytes are not text in any encoding
    that could be detected; ``raw`` always keeps the bytes as they were."""

    text: str | None
    encoding: str | None
    raw: bytes = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "encoding": self.encoding, "raw_size": len(self.raw)}


_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_COMMON_ENCODINGS: dict[str, int] = {
    name: rank
    for rank, name in enumerate(
        reversed(
            ["cp1252", "latin_1", "gb18030", "gbk", "big5", "shift_jis", "euc_jp", "euc_kr"]
            + ["cp1251", "koi8_r", "cp1250", "iso8859_2", "cp1253", "cp1254", "cp1255", "cp1256"]
        ),
        start=1,
    )
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _mostly_printable(text: str) -> bool:
    return len(_CONTROL.findall(text)) <= max(1, len(text) // 100)


def _detect_encoding(data: bytes, *, truncated: bool = False) -> str | None:
    """The encoding ``data`` decodes with as plausible text, or None (binary, or undecodable)."""
    if not data:
        return None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                if not truncated:
                    break
                text = data[: len(data) - len(data) % 4].decode(encoding, errors="ignore")
            return encoding if _mostly_printable(text) else None
    if b"\x00" in data:
        return None
    for cut in range(4 if truncated else 1):  # a sample may end inside a multibyte character
        try:
            text = data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return "utf-8" if _mostly_printable(text) else None
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        return None
    # charset-normalizer ranks by "chaos" first; among near-equal chaos, the candidate whose text
    # reads most like a language (coherence) is the better guess (French in cp1252, not cp1257),
    # and a widely used encoding wins a tie.
    calmest = min(m.chaos for m in matches)
    near = [m for m in matches if m.chaos <= calmest + 0.05]
    best = max(near, key=lambda m: (m.coherence, _COMMON_ENCODINGS.get(m.encoding, 0)))
    return best.encoding if _mostly_printable(str(best)) else None


def decode_text(data: bytes) -> DecodedText:
    """Decode ``data`` as text with encoding detection; undecodable bytes stay bytes."""
    encoding = _detect_encoding(data)
    if encoding is None:
        return DecodedText(text=None, encoding=None, raw=data)
    try:
        return DecodedText(text=data.decode(encoding), encoding=encoding, raw=data)
    except (UnicodeDecodeError, LookupError):
        return DecodedText(text=None, encoding=None, raw=data)


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    return 2 <= header_len <= 100 * MiB and header_len + 8 <= size and head[8:9] == b"{"


def _text_mime(text: str) -> tuple[str, str]:
    start = text.lstrip("\ufeff \t\r\n")[:256].lower()
    if start.startswith(("<!doctype html", "<html")) or "<html" in start:
        return "text/html", "html"
    if start.startswith("<?xml") or start.startswith("<svg"):
        return ("image/svg+xml", "svg") if "<svg" in text[:4096].lower() else ("text/xml", "xml")
    if start.startswith(("{", "[")):
        return "application/json", "json"
    return "text/plain", "txt"


def sniff(source: StrPath | bytes, *, sample_bytes: int = 1 * MiB) -> Sniffed:
    """Tell the type of a file (a path) or of bytes from content alone; the name is never used.

    Binary signatures come from ``filetype``; pickles and safetensors files are recognised too.
    Otherwise the first ``sample_bytes`` are tried as text (BOMs, UTF-8, then
    ``charset-normalizer``): text gets ``is_text`` and its encoding; anything else is
    ``application/octet-stream``.
    """
    if isinstance(source, bytes):
        size = len(source)
        sample = source[:sample_bytes]
        archive = _detect_fileobj(io.BytesIO(source))
    else:
        size = os.stat(source).st_size
        with open(source, "rb") as f:
            sample = f.read(sample_bytes)
        archive = detect_archive(source)
    if not sample:
        return Sniffed(mime="application/x-empty", extension=None, is_text=False, encoding=None)
    if _pickle_head(sample):
        return Sniffed("application/x-python-pickle", "pkl", is_text=False, encoding=None)
    if _looks_like_safetensors(sample, size):
        return Sniffed("application/x-safetensors", "safetensors", is_text=False, encoding=None)
    kind = filetype.guess(sample[:8192])
    if kind is not None:
        return Sniffed(str(kind.mime), str(kind.extension), False, None, archive)
    if archive is not None:  # an old v7 tar, which has no magic number
        return Sniffed("application/x-tar", "tar", is_text=False, encoding=None, archive=archive)
    encoding = _detect_encoding(sample, truncated=size > len(sample))
    if encoding is not None:
        text = sample.decode(encoding, errors="replace")
        mime, extension = _text_mime(text)
        return Sniffed(mime=mime, extension=extension, is_text=True, encoding=encoding)
    return Sniffed(mime="application/octet-stream", extension=None, is_text=False, encoding=None)


# --- Pickles -------------------------------------------------------------------------------------


def _pickle_head(head: bytes) -> bool:
    """Pickle protocol 2 to 5 opens with the PROTO opcode (0x80) and the protocol number."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def is_pickle(path: StrPath) -> bool:
    """Whether the file at ``path`` is pickle-based, by name (``.bin``, ``.pt``, ``.pth``,
    ``.pkl``, ``.pickle``, ``.ckpt``, ``.joblib``) or by content (a pickle PROTO opcode at the
    start, or a zip holding a ``data.pkl``: PyTorch's format). Nothing is ever unpickled."""
    p = Path(path)
    if p.suffix.lower() in PICKLE_SUFFIXES:
        return True
    with open(p, "rb") as f:
        head = f.read(4)
        if _pickle_head(head):
            return True
        if not head.startswith(_ZIP_MAGICS):
            return False
        try:
            size = os.fstat(f.fileno()).st_size
            _count_zip_entries(f, size, 100_000, p.name)
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                names = zf.namelist()
        except (UnsafeUpload, zipfile.BadZipFile, ValueError, struct.error, EOFError):
            return False
    return any(n == "data.pkl" or n.endswith(("/data.pkl", ".pkl")) for n in names)
