"""Upload safety: every hostile archive class is refused with its problem code; safe ones pass.

Hostile archives are built here, in the test, with ``zipfile``/``tarfile`` and, where those refuse
to write something hostile, by patching bytes. No test extracts anything.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import os
import pickle
import random
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cases.vault.errors import PROBLEMS, UnsafeUpload
from cases.vault.safety import (
    Limits,
    check_case_quota,
    decode_text,
    detect_archive,
    inspect_archive,
    is_pickle,
    sniff,
    stream_to_file,
)

MiB = 1024 * 1024
SMALL = Limits(
    max_upload_bytes=100 * MiB,
    max_total_uncompressed_bytes=30 * MiB,
    max_ratio=100,
    ratio_floor_bytes=64 * 1024,
    max_entries=50,
    max_nesting=2,
)


# --- builders ------------------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def add_tar_member(tf: tarfile.TarFile, name: str, data: bytes = b"", **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tf.addfile(info, io.BytesIO(data) if data else None)


def make_tar(path: Path, build: Callable[[tarfile.TarFile], None], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:  # type: ignore[call-overload]
        build(tf)
    return path


def zeros(total: int) -> Iterator[bytes]:
    block = bytes(MiB)
    while total > 0:
        yield block[: min(total, MiB)]
        total -= MiB


def zip_of_zeros(path: Path, total: int) -> Path:
    """A zip with one deflated entry of ``total`` zero bytes, written without holding it."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("zeros.bin", "w") as out:
            for chunk in zeros(total):
                out.write(chunk)
    return path


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def refused(path: Path, limits: Limits = SMALL) -> UnsafeUpload:
    with pytest.raises(UnsafeUpload) as caught:
        inspect_archive(path, limits=limits)
    assert caught.value.problem in PROBLEMS
    return caught.value


# --- safe archives -------------------------------------------------------------------------------


def test_a_safe_zip_passes_and_lists_its_entries(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "evidence.zip",
        {"src/main.py": b"print('hi')\n" * 100, "README.md": b"# readme\n", "docs/": b""},
    )
    report = inspect_archive(path, limits=SMALL)
    assert report.kind == "zip"
    by_name = {e.name: e for e in report.entries}
    assert by_name["src/main.py"].size == 1200
    assert by_name["src/main.py"].kind == "file"
    assert by_name["docs/"].kind == "dir"
    assert report.total_uncompressed == 1200 + 9
    assert report.to_dict()["entry_count"] == 3


@pytest.mark.parametrize(
    "mode,kind", [("w", "tar"), ("w:gz", "tar.gz"), ("w:bz2", "tar.bz2"), ("w:xz", "tar.xz")]
)
def test_safe_tars_pass_with_internal_links(tmp_path: Path, mode: str, kind: str) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_tar_member(tf, "project", type=tarfile.DIRTYPE)
        add_tar_member(tf, "project/a.txt", b"alpha\n")
        add_tar_member(tf, "project/link", type=tarfile.SYMTYPE, linkname="a.txt")
        add_tar_member(tf, "project/hard", type=tarfile.LNKTYPE, linkname="project/a.txt")
        add_tar_member(tf, "top", type=tarfile.SYMTYPE, linkname="project/../project/a.txt")

    path = make_tar(tmp_path / "upload.bin", build, mode)
    assert detect_archive(path) == kind
    report = inspect_archive(path, limits=SMALL)
    assert report.kind == kind
    kinds = {e.name: e.kind for e in report.entries}
    assert kinds == {
        "project": "dir",
        "project/a.txt": "file",
        "project/link": "symlink",
        "project/hard": "hardlink",
        "top": "symlink",
    }
    assert report.total_uncompressed == 6


def test_archive_kind_comes_from_content_not_the_name(tmp_path: Path) -> None:
    tgz = make_tar(tmp_path / "notes.txt", lambda tf: add_tar_member(tf, "x", b"x"), "w:gz")
    assert detect_archive(tgz) == "tar.gz"
    fake = tmp_path / "fake.zip"
    fake.write_text("just text, not a zip")
    assert detect_archive(fake) is None
    with pytest.raises(ValueError, match="not an archive"):
        inspect_archive(fake, limits=SMALL)


def test_a_single_gzip_stream_is_inspected_as_one_entry(tmp_path: Path) -> None:
    path = tmp_path / "log.gz"
    path.write_bytes(gzip.compress(b"line\n" * 1000))
    report = inspect_archive(path, limits=SMALL)
    assert report.kind == "gzip"
    assert [(e.name, e.size) for e in report.entries] == [("(decompressed)", 5000)]


def test_nested_archives_within_the_limit_are_inspected(tmp_path: Path) -> None:
    inner = zip_bytes({"deep.txt": b"deep"})
    middle = zip_bytes({"inner.zip": inner, "m.txt": b"m"})
    path = make_zip(tmp_path / "outer.zip", {"middle.zip": middle})
    report = inspect_archive(path, limits=SMALL)  # max_nesting=2: outer 0, middle 1, inner 2
    assert report.max_depth == 2
    by_where = {(e.container, e.name): e for e in report.entries}
    assert by_where[("", "middle.zip")].nested_kind == "zip"
    assert by_where[("middle.zip", "inner.zip")].nested_kind == "zip"
    assert by_where[("middle.zip!/inner.zip", "deep.txt")].size == 4


# --- names, links, special files -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name,problem",
    [
        ("../evil.sh", "path_traversal"),
        ("docs/../../evil.sh", "path_traversal"),
        ("..\\..\\evil.bat", "path_traversal"),
        ("/etc/cron.d/evil", "absolute_path"),
        ("C:/Windows/evil.dll", "absolute_path"),
    ],
)
def test_zip_with_hostile_names_is_refused(tmp_path: Path, name: str, problem: str) -> None:
    path = make_zip(tmp_path / "evil.zip", {"ok.txt": b"ok", name: b"boom"})
    error = refused(path)
    assert error.problem == problem
    assert "evil" in error.message


def test_tar_with_traversal_name_is_refused(tmp_path: Path) -> None:
    path = make_tar(tmp_path / "t.tar", lambda tf: add_tar_member(tf, "../../etc/x", b"x"))
    assert refused(path).problem == "path_traversal"


def test_tar_symlink_to_etc_passwd_is_refused(tmp_path: Path) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_tar_member(tf, "passwd", type=tarfile.SYMTYPE, linkname="/etc/passwd")

    error = refused(make_tar(tmp_path / "t.tar.gz", build, "w:gz"))
    assert error.problem == "symlink_escape"
    assert "/etc/passwd" in error.message


@pytest.mark.parametrize(
    "links",
    [
        [("a/up", "../../outside")],
        # Lexically "l1/.." is ".", but l1 -> "." so it resolves to the parent of the tree.
        [("l1", "."), ("l2", "l1/..")],
        [("loop1", "loop2"), ("loop2", "loop1")],
    ],
)
def test_tar_relative_symlinks_leaving_the_tree_are_refused(
    tmp_path: Path, links: list[tuple[str, str]]
) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_tar_member(tf, "a", type=tarfile.DIRTYPE)
        for name, target in links:
            add_tar_member(tf, name, type=tarfile.SYMTYPE, linkname=target)

    assert refused(make_tar(tmp_path / "t.tar", build)).problem == "symlink_escape"


def test_zip_symlink_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("innocent")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../../../etc/shadow")
    error = refused(path)
    assert error.problem == "symlink_escape"


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/shadow", "never/added.txt"])
def test_tar_hardlink_outside_is_refused(tmp_path: Path, target: str) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_tar_member(tf, "ok.txt", b"ok")
        add_tar_member(tf, "grab", type=tarfile.LNKTYPE, linkname=target)

    error = refused(make_tar(tmp_path / "t.tar", build))
    assert error.problem == "hardlink_escape"
    assert "grab" in error.message


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_tar_device_files_are_refused(tmp_path: Path, kind: bytes) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_tar_member(tf, "dev/sda", type=kind, devmajor=8, devminor=0)

    error = refused(make_tar(tmp_path / "t.tar", build))
    assert error.problem == "device_file"
    assert "dev/sda" in error.message


def test_zip_device_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dev.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("null")
        info.create_system = 3
        info.external_attr = (stat.S_IFCHR | 0o666) << 16
        zf.writestr(info, b"")
    assert refused(path).problem == "device_file"


# --- bombs and sizes -----------------------------------------------------------------------------


def test_zip_bomb_is_refused_by_its_declared_ratio(tmp_path: Path) -> None:
    path = zip_of_zeros(tmp_path / "bomb.zip", 50 * MiB)
    assert path.stat().st_size < MiB
    error = refused(path, Limits(max_total_uncompressed_bytes=1024 * MiB, max_ratio=100))
    assert error.problem == "zip_bomb_ratio"
    assert "zeros.bin" in error.message


def test_zip_bomb_is_refused_by_its_declared_total(tmp_path: Path) -> None:
    path = zip_of_zeros(tmp_path / "bomb.zip", 50 * MiB)
    error = refused(path, Limits(max_total_uncompressed_bytes=10 * MiB, max_ratio=10**6))
    assert error.problem == "total_size"


def lie_about_size(path: Path, declared: int) -> None:
    """Rewrite the uncompressed size in both the local header and the central directory."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"PK\x03\x04"
    struct.pack_into("<L", data, 22, declared)
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<L", data, central + 24, declared)
    path.write_bytes(bytes(data))


def test_zip_bomb_that_lies_about_its_size_is_caught_while_streaming(tmp_path: Path) -> None:
    path = zip_of_zeros(tmp_path / "liar.zip", 20 * MiB)
    lie_about_size(path, 1000)
    with zipfile.ZipFile(path) as zf:
        assert zf.infolist()[0].file_size == 1000  # what a trusting reader believes
    error = refused(path, Limits(max_ratio=100, ratio_floor_bytes=MiB))
    assert error.problem == "zip_bomb_ratio"
    assert "decompresses to more than" in error.message


def test_zip_that_lies_about_its_size_is_caught_by_the_total(tmp_path: Path) -> None:
    path = zip_of_zeros(tmp_path / "liar.zip", 20 * MiB)
    lie_about_size(path, 1000)
    error = refused(path, Limits(max_ratio=10**6, max_total_uncompressed_bytes=5 * MiB))
    assert error.problem == "total_size"


def test_zip_whose_size_lie_stays_within_limits_is_corrupt(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "liar.zip", {"a.txt": b"hello world " * 100})
    lie_about_size(path, 10)
    error = refused(path)
    assert error.problem == "corrupt_archive"
    assert "declares 10 bytes" in error.message


def test_gzip_bomb_is_refused_while_streaming(tmp_path: Path) -> None:
    path = tmp_path / "bomb.tar.gz"
    with gzip.open(path, "wb") as out:
        for chunk in zeros(50 * MiB):
            out.write(chunk)
    assert refused(path).problem == "zip_bomb_ratio"


def test_tar_gz_bomb_is_refused_while_streaming(tmp_path: Path) -> None:
    path = tmp_path / "bomb.tgz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 40 * MiB
        tf.addfile(info, io.BytesIO(bytes(40 * MiB)))
    assert refused(path).problem == "zip_bomb_ratio"


def test_a_huge_tar_metadata_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "pax.tgz"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("x.txt")
        info.pax_headers = {"comment": "z" * (3 * MiB)}
        tf.addfile(info, None)
    error = refused(path, Limits(max_ratio=10**6))
    assert error.problem == "corrupt_archive"
    assert "metadata header" in error.message


def test_overlapping_zip_entries_are_refused(tmp_path: Path) -> None:
    """Two central-directory records for one local entry: Fifield's overlapping bomb, in small."""
    data = bytearray(zip_bytes({"a.txt": b"a" * 1000}))
    central = data.rindex(b"PK\x01\x02")
    eocd = data.rindex(b"PK\x05\x06")
    record = bytes(data[central:eocd])
    cd = record + record  # the same local header twice (a real one shifts names; same idea)
    end = bytearray(data[eocd:])
    struct.pack_into("<HHL", end, 8, 2, 2, len(cd))
    path = tmp_path / "overlap.zip"
    path.write_bytes(bytes(data[:central]) + cd + bytes(end))
    assert refused(path).problem == "overlapping_entries"


def test_too_many_zip_entries_are_refused_before_reading_them(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "many.zip", {f"f{i}.txt": b"" for i in range(60)})
    error = refused(path)
    assert error.problem == "too_many_entries"
    assert "50" in error.message


def test_too_many_tar_entries_are_refused(tmp_path: Path) -> None:
    def build(tf: tarfile.TarFile) -> None:
        for i in range(60):
            add_tar_member(tf, f"f{i}.txt", b"x")

    assert refused(make_tar(tmp_path / "many.tar", build)).problem == "too_many_entries"


def test_entries_of_nested_archives_count_toward_the_limit(tmp_path: Path) -> None:
    inner = zip_bytes({f"i{i}": b"" for i in range(30)})
    path = make_zip(tmp_path / "outer.zip", {**{f"o{i}": b"" for i in range(25)}, "in.zip": inner})
    assert refused(path).problem == "too_many_entries"


def test_archives_nested_too_deep_are_refused(tmp_path: Path) -> None:
    level3 = zip_bytes({"x.txt": b"x"})
    level2 = zip_bytes({"level3.zip": level3})
    level1 = zip_bytes({"level2.zip": level2})
    path = make_zip(tmp_path / "outer.zip", {"level1.zip": level1})
    error = refused(path)  # max_nesting=2
    assert error.problem == "nesting_depth"
    assert "level3.zip" in error.message
    assert inspect_archive(path, limits=Limits(max_nesting=3)).max_depth == 3


def test_a_tar_inside_a_gzip_inside_a_zip_counts_each_level(tmp_path: Path) -> None:
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as tf:
        add_tar_member(tf, "x.txt", b"x")
    path = make_zip(tmp_path / "o.zip", {"inner.tar.bz2": bz2.compress(tar.getvalue())})
    assert refused(path, Limits(max_nesting=0)).problem == "nesting_depth"
    report = inspect_archive(path, limits=Limits(max_nesting=1))
    assert [e.nested_kind for e in report.entries if e.name == "inner.tar.bz2"] == ["tar.bz2"]


def test_the_upload_itself_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"a": os.urandom(4096)})
    assert refused(path, Limits(max_upload_bytes=1000)).problem == "file_too_large"


# --- corrupt archives ----------------------------------------------------------------------------


def test_truncated_zip_is_corrupt(tmp_path: Path) -> None:
    data = zip_bytes({"a.txt": os.urandom(5000)})
    path = tmp_path / "cut.zip"
    path.write_bytes(data[: len(data) // 2])
    assert refused(path).problem == "corrupt_archive"


def test_zip_with_bad_crc_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(zip_bytes({"a.txt": b"abc" * 100}))
    central = data.rindex(b"PK\x01\x02")
    data[central + 16] ^= 0xFF
    data[14] ^= 0xFF
    path = tmp_path / "crc.zip"
    path.write_bytes(bytes(data))
    error = refused(path)
    assert error.problem == "corrupt_archive"
    assert "CRC" in error.message


def test_garbage_behind_a_gzip_magic_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(2000))
    assert refused(path).problem == "corrupt_archive"


def test_truncated_tar_gz_is_corrupt(tmp_path: Path) -> None:
    path = make_tar(
        tmp_path / "t.tgz", lambda tf: add_tar_member(tf, "r", os.urandom(50000)), "w:gz"
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert refused(path).problem == "corrupt_archive"


# --- streaming writes and quotas -----------------------------------------------------------------


def test_stream_to_file_hashes_while_writing(tmp_path: Path) -> None:
    payload = os.urandom(3 * MiB + 17)
    dest = tmp_path / "blob"
    size, digest = stream_to_file(io.BytesIO(payload), dest, max_bytes=10 * MiB)
    assert (size, digest) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert dest.read_bytes() == payload
    size2, digest2 = stream_to_file(
        iter([payload[:10], payload[10:]]), tmp_path / "b2", max_bytes=10 * MiB
    )
    assert (size2, digest2) == (size, digest)


def test_stream_to_file_past_the_limit_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(UnsafeUpload) as caught:
        stream_to_file(zeros(5 * MiB), tmp_path / "blob", max_bytes=2 * MiB)
    assert caught.value.problem == "file_too_large"
    assert list(tmp_path.iterdir()) == []


def test_stream_to_file_that_fails_midway_leaves_nothing(tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield b"x" * 1000
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        stream_to_file(broken(), tmp_path / "blob", max_bytes=MiB)
    assert list(tmp_path.iterdir()) == []


def test_case_quota_is_enforced() -> None:
    limits = Limits(max_case_bytes=1000)
    check_case_quota(case_bytes_used=600, upload_bytes=400, limits=limits)
    with pytest.raises(UnsafeUpload) as caught:
        check_case_quota(case_bytes_used=600, upload_bytes=401, limits=limits)
    assert caught.value.problem == "case_quota"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        Limits(max_entries=0)
    assert Limits(max_nesting=0).max_nesting == 0


def test_unknown_problem_codes_are_a_bug() -> None:
    with pytest.raises(ValueError):
        UnsafeUpload("x", problem="made_up")


# --- sniffing and text ---------------------------------------------------------------------------


def test_a_png_named_txt_is_sniffed_as_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(png_bytes())
    sniffed = sniff(path)
    assert (sniffed.mime, sniffed.extension, sniffed.is_text) == ("image/png", "png", False)


def test_sniff_tells_archives_and_text_kinds(tmp_path: Path) -> None:
    assert sniff(zip_bytes({"a": b"a"})).mime == "application/zip"
    assert sniff(zip_bytes({"a": b"a"})).archive == "zip"
    assert sniff(gzip.compress(b"plain")).archive == "gzip"
    tgz = make_tar(tmp_path / "t", lambda tf: add_tar_member(tf, "x", b"x"), "w:gz")
    assert (sniff(tgz).mime, sniff(tgz).archive) == ("application/gzip", "tar.gz")
    assert sniff(tgz.read_bytes()).archive == "tar.gz"
    docx = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    assert sniff(docx).archive == "zip"  # whatever filetype calls it, it gets inspected
    assert sniff(b"plain text").archive is None
    assert sniff(b"<!DOCTYPE html><html><body>hi</body></html>").mime == "text/html"
    assert sniff(b'{"a": [1, 2]}').mime == "application/json"
    plain = sniff("Grüße aus Zürich\n".encode())
    assert (plain.mime, plain.is_text, plain.encoding) == ("text/plain", True, "utf-8")
    assert sniff(b"").mime == "application/x-empty"


def test_latin1_text_is_decoded() -> None:
    text = (
        "Le comité a examiné le rapport préliminaire. Les données brutes étaient déjà "
        "publiées; l'intégrité de l'étude est remise en question à cause des écarts.\n"
    ) * 3
    raw = text.encode("latin-1")
    decoded = decode_text(raw)
    assert decoded.text == text
    assert decoded.encoding is not None
    assert sniff(raw).is_text


def test_gbk_text_is_decoded() -> None:
    text = (
        "研究诚信办公室收到了关于论文数据造假的举报。委员会将审查原始数据、实验记录和作者的"
        "回应，并在规定期限内作出初步判断。所有证据均须妥善保存，不得修改。\n"
    ) * 3
    raw = text.encode("gbk")
    decoded = decode_text(raw)
    assert decoded.text == text
    assert decoded.encoding is not None
    assert sniff(raw).is_text


def test_random_bytes_are_not_text_and_are_kept_as_bytes() -> None:
    rng = random.Random(7)
    raw = bytes(rng.randrange(1, 256) for _ in range(4096))  # no NUL: the detector must decide
    decoded = decode_text(raw)
    assert decoded.text is None
    assert decoded.raw == raw
    sniffed = sniff(raw)
    assert (sniffed.is_text, sniffed.mime) == (False, "application/octet-stream")
    assert not sniff(os.urandom(4096)).is_text


# --- pickles -------------------------------------------------------------------------------------


def test_pickles_are_recognised_by_name_and_by_content(tmp_path: Path) -> None:
    by_content = tmp_path / "weights.dat"
    by_content.write_bytes(pickle.dumps({"w": [1, 2, 3]}, protocol=4))
    assert is_pickle(by_content)
    assert sniff(by_content).mime == "application/x-python-pickle"
    by_name = tmp_path / "model.pt"
    by_name.write_bytes(b"whatever")
    assert is_pickle(by_name)
    torch_zip = tmp_path / "model.weights"
    make_zip(torch_zip, {"archive/data.pkl": pickle.dumps([1]), "archive/data/0": b"\0" * 8})
    assert is_pickle(torch_zip)
    text = tmp_path / "config.json"
    text.write_text('{"a": 1}')
    assert not is_pickle(text)
    assert not is_pickle(make_zip(tmp_path / "plain.zip", {"a.txt": b"a"}))
