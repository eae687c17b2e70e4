"""Model repository snapshots: manifest, roles, shard checks, pickle refusal (never unpickled),
symlink escapes, and the hub error mapping against a 127.0.0.1 server."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from cases.vault.errors import AcquisitionError, RefusedSource, SourceGone, UnsafeUpload
from cases.vault.snapshots.model_repo import (
    classify,
    fetch_hf_repo,
    fetch_hf_repo_pinned,
    snapshot_model_repo,
)

FIXED = datetime(2026, 11, 24, 22, 10, 3, tzinfo=UTC)
SHARD1 = "model-00001-of-00002.safetensors"
SHARD2 = "model-00002-of-00002.safetensors"


class WouldWriteAFile:
    """Unpickling this opens (and so creates) the marker file: proof of whether it was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "tiny-model"
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 4}))
    (root / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {"vocab": {}}}))
    (root / "tokenizer_config.json").write_text("{}")
    (root / "README.md").write_text("# tiny\n")
    save_file({"embed.weight": np.arange(12, dtype=np.float32).reshape(3, 4)}, root / SHARD1)
    save_file({"head.weight": np.ones((4, 2), dtype=np.float16)}, root / SHARD2)
    index = {
        "metadata": {"total_size": 64},
        "weight_map": {"embed.weight": SHARD1, "head.weight": SHARD2},
    }
    (root / "model.safetensors.index.json").write_text(json.dumps(index))
    return root


def test_manifest_lists_every_file_with_size_hash_and_role(model: Path) -> None:
    snap = snapshot_model_repo(model)
    manifest = {f.path: f for f in snap.files}
    assert list(manifest) == sorted(
        [
            "README.md",
            "config.json",
            SHARD1,
            SHARD2,
            "model.safetensors.index.json",
            "tokenizer.json",
            "tokenizer_config.json",
        ]
    )
    for path, entry in manifest.items():
        data = (model / path).read_bytes()
        assert entry.size == len(data)
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        assert entry.pickled is False
    roles = {path: entry.role for path, entry in manifest.items()}
    assert roles == {
        "README.md": "other",
        "config.json": "config",
        SHARD1: "weights",
        SHARD2: "weights",
        "model.safetensors.index.json": "weights_index",
        "tokenizer.json": "tokenizer",
        "tokenizer_config.json": "tokenizer",
    }
    assert snap.config == {"model_type": "tiny", "hidden_size": 4}
    assert snap.indexes == ("model.safetensors.index.json",)
    assert snap.total_bytes == sum(e.size for e in snap.files)
    assert snap.refused == ()
    json.dumps(snap.to_dict())


def test_a_pickle_bin_is_refused_and_never_loaded(model: Path, tmp_path: Path) -> None:
    marker = tmp_path / "UNPICKLED"
    (model / "pytorch_model.bin").write_bytes(pickle.dumps(WouldWriteAFile(marker)))
    with pytest.raises(UnsafeUpload) as caught:
        snapshot_model_repo(model)
    assert caught.value.problem == "pickle_refused"
    assert "pytorch_model.bin" in caught.value.message
    assert not marker.exists()


def test_a_pickle_under_an_innocent_name_is_found_by_content(model: Path, tmp_path: Path) -> None:
    marker = tmp_path / "UNPICKLED"
    (model / "weights.data").write_bytes(pickle.dumps(WouldWriteAFile(marker), protocol=2))
    with pytest.raises(UnsafeUpload) as caught:
        snapshot_model_repo(model)
    assert "weights.data" in caught.value.message
    assert not marker.exists()


def test_a_pickle_accepted_as_inert_is_kept_as_bytes(model: Path, tmp_path: Path) -> None:
    marker = tmp_path / "UNPICKLED"
    payload = pickle.dumps(WouldWriteAFile(marker))
    (model / "pytorch_model.bin").write_bytes(payload)
    snap = snapshot_model_repo(model, accept_pickle_as_inert=True)
    entry = next(f for f in snap.files if f.path == "pytorch_model.bin")
    assert (entry.pickled, entry.role) == (True, "weights")
    assert entry.sha256 == hashlib.sha256(payload).hexdigest()
    assert not marker.exists()


def test_pickles_can_be_left_out_instead(model: Path) -> None:
    (model / "optimizer.pt").write_bytes(b"\x80\x04K\x01.")
    snap = snapshot_model_repo(model, skip_pickles=True)
    assert "optimizer.pt" not in {f.path for f in snap.files}
    assert [(r.path, r.reason) for r in snap.refused] == [
        ("optimizer.pt", "pickle-based file, not accepted")
    ]


def test_a_missing_shard_is_a_clear_error(model: Path) -> None:
    (model / SHARD2).unlink()
    with pytest.raises(AcquisitionError) as caught:
        snapshot_model_repo(model)
    assert SHARD2 in caught.value.message
    assert "model.safetensors.index.json" in caught.value.message
    assert caught.value.transient is False


def test_an_index_naming_a_shard_outside_the_repository_is_an_error(model: Path) -> None:
    index = {"weight_map": {"a": SHARD1, "b": "../../etc/passwd"}}
    (model / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(AcquisitionError, match="outside the repository"):
        snapshot_model_repo(model)


def test_a_symlink_out_of_the_folder_is_refused(model: Path) -> None:
    (model / "extra.safetensors").symlink_to("/etc/passwd")
    with pytest.raises(UnsafeUpload) as caught:
        snapshot_model_repo(model)
    assert caught.value.problem == "symlink_escape"
    assert "extra.safetensors" in caught.value.message


def test_a_symlinked_folder_out_of_the_tree_is_refused(model: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (model / "sub").mkdir()
    (model / "sub" / "up").symlink_to("../../elsewhere")
    with pytest.raises(UnsafeUpload) as caught:
        snapshot_model_repo(model)
    assert caught.value.problem == "symlink_escape"


def test_a_symlink_inside_the_folder_is_hashed_as_its_target(model: Path) -> None:
    (model / "latest.safetensors").symlink_to(SHARD1)
    snap = snapshot_model_repo(model)
    manifest = {f.path: f for f in snap.files}
    assert manifest["latest.safetensors"].sha256 == manifest[SHARD1].sha256
    assert manifest["latest.safetensors"].link_target == SHARD1


def test_a_fifo_is_refused(model: Path) -> None:
    os.mkfifo(model / "pipe")
    with pytest.raises(UnsafeUpload) as caught:
        snapshot_model_repo(model)
    assert caught.value.problem == "device_file"


def test_a_missing_folder_is_source_gone(tmp_path: Path) -> None:
    with pytest.raises(SourceGone, match="not found at 2026-11-24T22:10:03Z"):
        snapshot_model_repo(tmp_path / "gone", clock=lambda: FIXED)


def test_roles_follow_hugging_face_names() -> None:
    assert classify("generation_config.json") == "config"
    assert classify("pytorch_model.bin.index.json") == "weights_index"
    assert classify("sub/merges.txt") == "tokenizer"
    assert classify("model.gguf") == "weights"
    assert classify("data.weights", pickled=True) == "weights"
    assert classify("notes.txt") == "other"


# --- the hub, by its error mapping only ----------------------------------------------------------


class _Hub(BaseHTTPRequestHandler):
    status = 404
    error_code = ""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        body = b'{"error": "Repository not found"}'
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        if self.server.error_code:  # type: ignore[attr-defined]
            self.send_header("X-Error-Code", self.server.error_code)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    server.status = 404  # type: ignore[attr-defined]
    server.error_code = ""  # type: ignore[attr-defined]
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_hub_404_is_source_gone_with_the_time(hub: ThreadingHTTPServer, tmp_path: Path) -> None:
    with pytest.raises(SourceGone) as caught:
        fetch_hf_repo("someone/vanished", "main", tmp_path / "dest", clock=lambda: FIXED)
    message = caught.value.message
    assert "404" in message or "not found" in message
    assert "2026-11-24T22:10:03Z" in message
    assert hub.paths  # type: ignore[attr-defined]  # it asked our server, not the internet


def test_hub_repo_not_found_code_is_source_gone(hub: ThreadingHTTPServer, tmp_path: Path) -> None:
    hub.error_code = "RepoNotFound"  # type: ignore[attr-defined]
    with pytest.raises(SourceGone, match="repository someone/vanished@main not found at"):
        fetch_hf_repo("someone/vanished", "main", tmp_path / "dest", clock=lambda: FIXED)


def test_hub_revision_not_found_is_source_gone(hub: ThreadingHTTPServer, tmp_path: Path) -> None:
    hub.error_code = "RevisionNotFound"  # type: ignore[attr-defined]
    with pytest.raises(SourceGone, match="revision someone/model@v9 not found at"):
        fetch_hf_repo_pinned("someone/model", "v9", tmp_path / "dest", clock=lambda: FIXED)


def test_hub_revision_defaults_to_main(hub: ThreadingHTTPServer, tmp_path: Path) -> None:
    with pytest.raises(SourceGone, match="someone/model@main returned 404"):
        fetch_hf_repo("someone/model", None, tmp_path / "dest")
    assert any("/revision/main" in p for p in hub.paths)  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [429, 503])
def test_hub_overload_is_transient(hub: ThreadingHTTPServer, tmp_path: Path, status: int) -> None:
    hub.status = status  # type: ignore[attr-defined]
    with pytest.raises(AcquisitionError) as caught:
        fetch_hf_repo("someone/model", "main", tmp_path / "dest")
    assert caught.value.transient is True


@pytest.mark.parametrize("repo_id", ["../../etc", "-rf", "a/b/c", ""])
def test_hub_ids_that_are_not_ids_are_refused(repo_id: str, tmp_path: Path) -> None:
    with pytest.raises(RefusedSource):
        fetch_hf_repo(repo_id, "main", tmp_path / "dest")
