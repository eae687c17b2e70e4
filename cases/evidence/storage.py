"""Content-addressed evidence storage over Django's storage API.

``blob_ingest`` streams bytes once: into a temporary file while hashing them, then into the
evidence storage under ``sha256/<aa>/<bb>/<sha256>``. On the local file system the temporary file
is made beside its destination and renamed into place, so a gigabyte is written once and read
never; on S3-compatible storage it is uploaded from the temporary file. Existing bytes are never
overwritten: a second copy of the same bytes is only counted (deduplicated). ``blob_chunks``
streams bytes back and checks their hash as it goes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import IntegrityError, transaction

from cases.evidence.models import Blob

CHUNK = 4 * 1024 * 1024


class IntegrityMismatch(Exception):
    """Stored bytes no longer have the hash they were stored under."""

    def __init__(self, expected: str, observed: str, size: int) -> None:
        super().__init__(f"hash mismatch: expected {expected}, read {observed} over {size} bytes")
        self.expected = expected
        self.observed = observed
        self.size = size


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than the limit of {limit} bytes")
        self.limit = limit


def evidence_storage() -> Storage:
    return storages["evidence"]


def blob_name(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def _local_root(storage: Storage) -> Path | None:
    if isinstance(storage, FileSystemStorage):
        root = Path(storage.location)
        root.mkdir(parents=True, exist_ok=True)
        return root
    return None


def _chunks_of(source: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    if hasattr(source, "read"):
        read = source.read
        while chunk := read(CHUNK):
            yield chunk
    else:
        yield from source


class Spool:
    """Bytes written to a temporary file while hashed; ``commit`` turns them into a Blob."""

    def __init__(self, *, max_bytes: int | None = None) -> None:
        self.storage = evidence_storage()
        root = _local_root(self.storage)
        tmpdir = None
        if root is not None:
            tmpdir = root / "incoming"
            tmpdir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="ingest-", dir=tmpdir)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._hash = hashlib.sha256()
        self.size = 0
        self.max_bytes = max_bytes
        self.sha256 = ""

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.discard()
            raise TooLarge(self.max_bytes)
        self._hash.update(chunk)
        self._file.write(chunk)

    def feed(self, source: IO[bytes] | Iterable[bytes]) -> Spool:
        """Hash and write every chunk; hashing and writing overlap in two threads (both release
        the GIL), so ingest runs at about the speed of hashing alone."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-writer") as writer:
            pending: Future[int] | None = None
            try:
                for chunk in _chunks_of(source):
                    self.size += len(chunk)
                    if self.max_bytes is not None and self.size > self.max_bytes:
                        raise TooLarge(self.max_bytes)
                    self._hash.update(chunk)
                    if pending is not None:
                        pending.result()
                    pending = writer.submit(self._file.write, chunk)
                if pending is not None:
                    pending.result()
            except BaseException:
                if pending is not None:
                    pending.exception()
                self.discard()
                raise
        return self.close()

    def adopt(self, path: Path) -> Spool:
        """Take over a file that is already on disk (an upload's temporary file, a snapshot's
        output): hash it in place and move it into the store instead of copying it."""
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if self.max_bytes is not None and size > self.max_bytes:
                    self.discard()
                    raise TooLarge(self.max_bytes)
        self._file.close()
        self.path.unlink(missing_ok=True)
        try:
            os.replace(path, self.path)  # same file system: a rename
        except OSError:
            shutil.copyfile(path, self.path)
        self.size = size
        self.sha256 = digest.hexdigest()
        return self

    def close(self) -> Spool:
        if not self._file.closed:
            self._file.close()
            self.sha256 = self._hash.hexdigest()
        return self

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def commit(self) -> tuple[Blob, bool]:
        """Store the bytes under their hash (unless already there). Returns (blob, created)."""
        self.close()
        name = blob_name(self.sha256)
        existing = Blob.objects.filter(sha256=self.sha256).first()
        if existing is not None:
            self.discard()
            return existing, False
        root = _local_root(self.storage)
        try:
            if root is not None:
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists() and _file_sha256(target) == self.sha256:
                    # Bytes already there (a row lost in a crash): keep the stored copy.
                    self.discard()
                else:
                    if target.exists():  # an orphan with other bytes: set aside, never trusted
                        aside = root / "quarantine" / f"{self.sha256}.{os.getpid()}.{id(self)}"
                        aside.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(target, aside)
                    mode = getattr(self.storage, "file_permissions_mode", None) or 0o440
                    os.chmod(self.path, mode)
                    os.replace(self.path, target)
            else:
                if not self.storage.exists(name):
                    with open(self.path, "rb") as fh:
                        saved = self.storage.save(name, File(fh, name=name))
                    if saved != name:  # the storage renamed instead of refusing: undo
                        self.storage.delete(saved)
                        raise RuntimeError(f"evidence storage renamed {name} to {saved}")
                self.discard()
        except BaseException:
            self.discard()
            raise
        try:
            with transaction.atomic():
                return Blob.objects.create(sha256=self.sha256, size=self.size, name=name), True
        except IntegrityError:  # another ingest of the same bytes won the race
            return Blob.objects.get(sha256=self.sha256), False


def blob_ingest(source: IO[bytes] | Iterable[bytes], *, max_bytes: int | None = None) -> Blob:
    blob, _ = Spool(max_bytes=max_bytes).feed(source).commit()
    return blob


def blob_open(blob: Blob) -> IO[Any]:
    return evidence_storage().open(blob.name, "rb")


def blob_chunks(blob: Blob, *, hold_back_last: bool = True) -> Iterator[bytes]:
    """Stream the bytes of ``blob``, hashing as they go. On a mismatch ``IntegrityMismatch`` is
    raised before the last chunk is released, so a client never receives a complete copy of
    bytes that fail their hash."""
    digest = hashlib.sha256()
    size = 0
    pending: bytes | None = None
    with blob_open(blob) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if pending is not None:
                yield pending
            pending = chunk if hold_back_last else None
            if not hold_back_last:
                yield chunk
    observed = digest.hexdigest()
    if observed != blob.sha256 or size != blob.size:
        raise IntegrityMismatch(blob.sha256, observed, size)
    if pending is not None:
        yield pending


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def blob_rehash(blob: Blob) -> str:
    """The SHA-256 of the bytes now in storage (raises if they are missing)."""
    digest = hashlib.sha256()
    with blob_open(blob) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def blob_delete(blob: Blob) -> None:
    """Remove the bytes (disposal only; the caller checks retention and holds)."""
    storage = evidence_storage()
    root = _local_root(storage)
    if root is not None:
        path = root / blob.name
        if path.exists():
            os.chmod(path, 0o640)
            path.unlink()
    else:
        storage.delete(blob.name)
