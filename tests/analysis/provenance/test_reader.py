from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from analysis.provenance import ModelFileError, compare_models, open_model, read_tensor


def _write(path: Path, header: dict[str, object], data: bytes = b"") -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def _folder(tmp_path: Path, name: str = "m") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return folder


def test_reader_agrees_with_safetensors_numpy(models: dict[str, Path]) -> None:
    from safetensors.numpy import load_file

    ref = load_file(models["original"] / "model.safetensors")
    model = open_model(models["original"])
    assert {t.name for t in model.tensors} == set(ref)
    for info in model.tensors:
        np.testing.assert_array_equal(read_tensor(model, info), ref[info.name])
        assert len(info.sha256) == 64


def test_truncated_file_is_refused(models: dict[str, Path], tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    data = (models["original"] / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelFileError, match="truncated"):
        open_model(folder)


def test_file_shorter_than_the_length_field_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x01\x02")
    with pytest.raises(ModelFileError, match="truncated"):
        open_model(folder)


def test_header_claiming_terabytes_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 2**42) + b"{}")
    with pytest.raises(ModelFileError, match="exceeds the limit"):
        open_model(folder)


def test_header_longer_than_the_file_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 5000) + b"{}")
    with pytest.raises(ModelFileError, match="header claims 5000 bytes"):
        open_model(folder)


def test_tensor_claiming_terabytes_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    n = 2**20
    _write(
        folder / "model.safetensors",
        {"w": {"dtype": "F32", "shape": [n, n], "data_offsets": [0, 4 * n * n]}},
        b"\0" * 16,
    )
    with pytest.raises(ModelFileError, match="truncated"):
        open_model(folder)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"{not json", "malformed safetensors header JSON"),
        (b'{"a": 1, "a": 2}', "duplicate key"),
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe", "malformed"),
    ],
)
def test_malformed_header_json_is_refused(tmp_path: Path, header: bytes, message: str) -> None:
    folder = _folder(tmp_path)
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ModelFileError, match=message):
        open_model(folder)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}, "needs 16 bytes"),
        ({"dtype": "X9", "shape": [4], "data_offsets": [0, 16]}, "unsupported dtype"),
        ({"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}, "invalid shape"),
        ({"dtype": "F32", "shape": [4], "data_offsets": [8, 0]}, "invalid data_offsets"),
    ],
)
def test_inconsistent_tensor_entries_are_refused(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    folder = _folder(tmp_path)
    _write(folder / "model.safetensors", {"w": entry}, b"\0" * 16)
    with pytest.raises(ModelFileError, match=message):
        open_model(folder)


def test_overlapping_tensors_are_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    e = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    f = {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}
    _write(folder / "model.safetensors", {"a": e, "b": f}, b"\0" * 16)
    with pytest.raises(ModelFileError, match="overlap"):
        open_model(folder)


def test_pickle_weights_are_refused_and_never_loaded(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    marker = tmp_path / "unpickled"
    # Protocol-0 pickle that would create ``marker`` if anything unpickled it.
    payload = f"c__builtin__\nopen\n(V{marker}\nVw\ntR.".encode()
    (folder / "pytorch_model.bin").write_bytes(payload)
    with pytest.raises(ModelFileError, match="pickle"):
        open_model(folder)
    with pytest.raises(ModelFileError, match="pickle"):
        open_model(folder / "pytorch_model.bin")
    assert not marker.exists()


def test_pickle_next_to_safetensors_is_ignored_and_listed(
    models: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "both"
    shutil.copytree(models["original"], folder)
    (folder / "pytorch_model.bin").write_bytes(b"not read")
    model = open_model(folder)
    assert model.ignored_files == ("pytorch_model.bin",)


@pytest.mark.parametrize("filename", ["config.json", "tokenizer_config.json"])
def test_config_asking_for_remote_code_is_refused(
    models: dict[str, Path], tmp_path: Path, filename: str
) -> None:
    folder = tmp_path / "remote"
    shutil.copytree(models["original"], folder)
    path = folder / filename
    data = json.loads(path.read_text()) if path.exists() else {}
    data["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilModel"}
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="config asks for remote code"):
        compare_models(models["original"], folder)


def test_index_pointing_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"w": "../other.safetensors"}})
    )
    with pytest.raises(ModelFileError, match="refusing shard name"):
        open_model(folder)


def test_missing_folder_and_empty_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such model folder"):
        open_model(tmp_path / "nope")
    with pytest.raises(ModelFileError, match="no \\*.safetensors"):
        open_model(_folder(tmp_path))


def test_cli_reports_refusals_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from analysis.provenance.cli import main

    folder = _folder(tmp_path)
    assert main(["compare", str(folder), str(folder)]) == 2
    assert "refused" in capsys.readouterr().err


def test_symlinked_weights_are_refused(models: dict[str, Path], tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "model.safetensors").symlink_to(models["original"] / "model.safetensors")
    with pytest.raises(ModelFileError, match="symbolic link"):
        open_model(folder)
