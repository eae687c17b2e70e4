"""Model analyses in a case: model repositories snapshotted into the vault, compared by the
weight-provenance engine and the probe test as runs on the gpu task (eager here, on the CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis import services
from analysis.models import AnalysisRun
from cases.errors import ValidationFailed
from cases.evidence import services as evidence
from cases.evidence.models import EvidenceItem
from cases.models import Case

pytestmark = pytest.mark.django_db


def snapshot(access, folder: Path, committed) -> EvidenceItem:
    with committed():
        item = evidence.snapshot_request(
            access=access, kind="model", source=str(folder), description=folder.name
        )
    item.refresh_from_db()
    assert item.status == "stored", item.failure_reason
    return item


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_noisy_copy_of_the_weights_is_recognised_in_a_provenance_run(
    case: Case, officer: User, access_for, tmp_path: Path, settings, committed
) -> None:
    from tests.analysis.provenance.conftest import add_noise, build_model, derive

    original = build_model(tmp_path / "MiniV", seed=0)
    noisy = derive(original, tmp_path / "VisionLlama", add_noise)
    settings.SLIPCASE_SNAPSHOT_ROOTS = [str(tmp_path)]
    access = access_for(officer, case)
    a, b = snapshot(access, original, committed), snapshot(access, noisy, committed)
    with committed():
        run = services.analysis_start(
            access=access, kind="provenance", inputs={"original": [a.pk], "suspect": [b.pk]}
        )
    run.refresh_from_db()
    assert run.status == "succeeded", run.failure_reason
    assert run.summary["verdict"]["kind"] == "iid_gaussian_noise"
    report_item = run.outputs.get(name="report.json").item
    assert report_item.kind == "analysis_output"
    assert a.custody.filter(action="analysed").exists()


def test_a_model_larger_than_the_cpu_cap_is_refused_clearly(
    case: Case, officer: User, access_for, tmp_path: Path, settings, committed
) -> None:
    from tests.analysis.provenance.conftest import build_model

    folder = build_model(tmp_path / "m", seed=0)
    settings.SLIPCASE_SNAPSHOT_ROOTS = [str(tmp_path)]
    settings.SLIPCASE_CPU_MODEL_MAX_BYTES = 1000
    access = access_for(officer, case)
    item = snapshot(access, folder, committed)
    with pytest.raises(ValidationFailed, match="CPU limit"), committed():
        services.analysis_start(
            access=access, kind="provenance", inputs={"original": [item.pk], "suspect": [item.pk]}
        )
    run = AnalysisRun.objects.get()
    assert run.status == "failed" and "SLIPCASE_CPU_MODEL_MAX_BYTES" in run.failure_reason


def test_a_probe_run_finds_the_copy_against_independent_references(
    case: Case, officer: User, complainant: User, access_for, tmp_path: Path, settings, committed
) -> None:
    from tests.analysis.probes.conftest import make_items, save_model, write_jsonl

    for name, seed in (("orig", 1), ("copy", 1), ("r1", 11), ("r2", 12), ("r3", 13)):
        save_model(tmp_path / name, seed=seed)
    settings.SLIPCASE_SNAPSHOT_ROOTS = [str(tmp_path)]
    access = access_for(officer, case)
    items = {
        name: snapshot(access, tmp_path / name, committed)
        for name in ("orig", "copy", "r1", "r2", "r3")
    }
    probes_file = write_jsonl(tmp_path / "probes.jsonl", make_items())
    probe_set = evidence.probe_set_commit(
        access=access_for(complainant, case),
        description="probe set",
        upload=SimpleUploadedFile("probes.jsonl", probes_file.read_bytes()),
    )
    with committed():
        run = services.analysis_start(
            access=access,
            kind="probes",
            inputs={
                "original": [items["orig"].pk],
                "suspect": [items["copy"].pk],
                "reference": [items["r1"].pk, items["r2"].pk, items["r3"].pk],
                "probe_set": [probe_set.pk],
            },
            params={"batch_size": 16, "max_new_tokens": 4},
        )
    run.refresh_from_db()
    assert run.status == "succeeded", run.failure_reason
    from cases.evidence.storage import blob_open

    blob = run.outputs.get(name="report.json").item.blob
    assert blob is not None
    with blob_open(blob) as fh:
        report = json.loads(fh.read())
    assert report["inputs"]["probe_set"]["sha256"] == probe_set.sha256
    assert "strong" in json.dumps(run.summary["verdict"]).lower()


def test_model_inputs_must_be_model_snapshots(case: Case, officer: User, access_for) -> None:
    access = access_for(officer, case)
    doc = evidence.evidence_upload(
        access=access, upload=SimpleUploadedFile("a.txt", b"text"), kind="document", description="x"
    )
    with pytest.raises(ValidationFailed, match="cannot be used"):
        services.analysis_start(
            access=access, kind="provenance", inputs={"original": [doc.pk], "suspect": [doc.pk]}
        )
