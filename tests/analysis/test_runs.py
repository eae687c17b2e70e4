"""Analysis runs in a case: exhibits in (hash-checked, custody 'analysed'), the engine run as a
Celery task, the report and the side-by-side view stored as new exhibits, progress and failure
recorded on the run; the API to start, follow and fetch."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from analysis.models import AnalysisRun
from cases.evidence import services as evidence
from cases.evidence.models import EvidenceItem
from cases.models import Case

pytestmark = pytest.mark.django_db

ORIGINAL = """
class MiniVModel:
    def __init__(self, hidden_size, vocab):
        self.hidden_size = hidden_size
        self.vocab = vocab
        self.layers = [self.make_layer(i) for i in range(12)]

    def make_layer(self, index):
        scale = 1.0 / (index + 1)
        return {"index": index, "scale": scale, "width": self.hidden_size * 4}

    def forward(self, tokens):
        total = 0.0
        for layer in self.layers:
            for token in tokens:
                total += layer["scale"] * self.vocab.get(token, 0)
        return total / max(len(tokens), 1)
"""

SUSPECT = (
    ORIGINAL.replace("MiniVModel", "VisionLlama")
    .replace("hidden_size", "dim")
    .replace("make_layer", "build_block")
    .replace("layers", "blocks")
)


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def exhibits(case: Case, officer: User, access_for):
    access = access_for(officer, case)
    original = evidence.evidence_upload(
        access=access,
        upload=SimpleUploadedFile("miniv.zip", zipped({"miniv/model.py": ORIGINAL})),
        kind="source_archive",
        description="MiniV source",
    )
    suspect = evidence.evidence_upload(
        access=access,
        upload=SimpleUploadedFile("vl.zip", zipped({"visionllama/net.py": SUSPECT})),
        kind="source_archive",
        description="VisionLlama source",
    )
    return original, suspect


def test_a_code_similarity_run_goes_from_queued_to_stored_outputs(
    case: Case, member: User, exhibits, django_capture_on_commit_callbacks
) -> None:
    original, suspect = exhibits
    client = APIClient()
    client.force_authenticate(member)
    base = f"/api/v1/cases/{case.number}/analyses/"
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            base,
            {"kind": "codesim", "inputs": {"original": [original.pk], "suspect": [suspect.pk]}},
            format="json",
        )
    assert started.status_code == 202, started.content
    run = AnalysisRun.objects.get(pk=started.json()["id"])
    assert run.status == "succeeded", run.failure_reason
    assert run.progress == 100 and run.started_at and run.finished_at
    assert run.versions["codesim"]
    detail = client.get(f"{base}{run.pk}/").json()
    assert {i["role"]: i["sha256"] for i in detail["inputs"]} == {
        "original": original.sha256,
        "suspect": suspect.sha256,
    }
    outputs = {o["name"]: o for o in detail["outputs"]}
    assert set(outputs) == {"report.json", "view.html"}
    stored = EvidenceItem.objects.get(pk=outputs["report.json"]["item"])
    assert stored.kind == "analysis_output" and stored.source["analysis_run"] == run.pk
    report = client.get(f"{base}{run.pk}/report/").json()
    top = report["pairs"][0]
    assert (top["left_path"], top["right_path"]) == ("miniv/model.py", "visionllama/net.py")
    assert top["suspect_coverage"] > 0.8
    renames = {(r["original"], r["suspect"]) for r in report["rename_map"]}
    assert ("MiniVModel", "VisionLlama") in renames
    assert report["inputs"]["original"]["sha256"] == original.sha256
    # The inputs were read hash-checked, on their custody chains.
    assert original.custody.filter(action="analysed", hash_ok=True).exists()
    assert case.timeline.filter(kind="analysis_succeeded").exists()
    view = EvidenceItem.objects.get(pk=outputs["view.html"]["item"])
    assert view.media_type == "text/html"


def test_parties_and_outsiders_cannot_start_or_see_runs(
    case: Case, respondent: User, outsider: User, exhibits
) -> None:
    original, suspect = exhibits
    body = {"kind": "codesim", "inputs": {"original": [original.pk], "suspect": [suspect.pk]}}
    client = APIClient()
    client.force_authenticate(respondent)
    base = f"/api/v1/cases/{case.number}/analyses/"
    assert client.post(base, body, format="json").status_code == 403
    assert client.get(base).json()["results"] == []
    client.force_authenticate(outsider)
    assert client.post(base, body, format="json").status_code == 404
    assert AnalysisRun.objects.count() == 0


def test_bad_inputs_are_refused_naming_the_problem(
    case: Case, officer: User, exhibits, access_for
) -> None:
    from analysis import services
    from cases.errors import ValidationFailed

    original, _ = exhibits
    access = access_for(officer, case)
    with pytest.raises(ValidationFailed, match="suspect"):
        services.analysis_start(access=access, kind="codesim", inputs={"original": [original.pk]})
    with pytest.raises(ValidationFailed, match="unknown parameters"):
        services.analysis_start(
            access=access,
            kind="codesim",
            inputs={"original": [original.pk], "suspect": [original.pk]},
            params={"temperature": 2},
        )
    with pytest.raises(ValidationFailed, match="no exhibit"):
        services.analysis_start(
            access=access, kind="codesim", inputs={"original": [original.pk], "suspect": [99999]}
        )
    assert AnalysisRun.objects.count() == 0


def test_a_run_whose_input_bytes_changed_fails_with_the_reason(
    case: Case, officer: User, exhibits, access_for, django_capture_on_commit_callbacks
) -> None:
    import os
    from pathlib import Path

    from analysis import services
    from cases.evidence.storage import IntegrityMismatch, evidence_storage

    original, suspect = exhibits
    path = Path(evidence_storage().path(suspect.blob.name))
    os.chmod(path, 0o640)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityMismatch):
        with django_capture_on_commit_callbacks(execute=True):
            services.analysis_start(
                access=access_for(officer, case),
                kind="codesim",
                inputs={"original": [original.pk], "suspect": [suspect.pk]},
            )
    run = AnalysisRun.objects.get()
    assert run.status == "failed" and "hash mismatch" in run.failure_reason
    assert suspect.custody.filter(action="analysed", hash_ok=False).exists()


def test_the_results_page_and_the_side_by_side_viewer(
    case: Case,
    officer: User,
    respondent: User,
    access_for,
    django_capture_on_commit_callbacks,
) -> None:
    from django.test import Client

    from analysis import services

    access = access_for(officer, case)
    hostile = SUSPECT + '\nBANNER = "</pre><script>alert(1)</script>"\n'
    original = evidence.evidence_upload(
        access=access,
        upload=SimpleUploadedFile("a.zip", zipped({"miniv/model.py": ORIGINAL})),
        kind="source_archive",
        description="original",
    )
    suspect = evidence.evidence_upload(
        access=access,
        upload=SimpleUploadedFile("b.zip", zipped({"vl/net.py": hostile})),
        kind="source_archive",
        description="suspect",
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = services.analysis_start(
            access=access,
            kind="codesim",
            inputs={"original": [original.pk], "suspect": [suspect.pk]},
        )
    client = Client()
    client.force_login(officer)
    page = client.get(f"/cases/{case.number}/analyses/{run.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "miniv/model.py" in html and "vl/net.py" in html and "VisionLlama" in html
    viewer = client.get(f"/cases/{case.number}/analyses/{run.pk}/pairs/0/")
    assert viewer.status_code == 200
    body = viewer.content.decode()
    assert 'id="L-2"' in body and 'id="R-2"' in body  # line spans to jump to
    assert "background: hsl(" in body  # fragments coloured
    assert "<script>alert(1)</script>" not in body  # untrusted code escaped
    assert "MiniVModel" in body and "VisionLlama" in body
    assert client.get(f"/cases/{case.number}/analyses/{run.pk}/pairs/99/").status_code == 404
    client.force_login(respondent)
    assert client.get(f"/cases/{case.number}/analyses/{run.pk}/").status_code == 404


def test_git_snapshots_are_compared_with_when_each_file_first_appeared(
    case: Case,
    officer: User,
    access_for,
    tmp_path,
    settings,
    django_capture_on_commit_callbacks,
) -> None:
    import os
    import subprocess

    from analysis import services

    def repo(name: str, files: dict[str, str], date: str) -> str:
        path = tmp_path / name
        path.mkdir()
        env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.edu"]
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=path, check=True, env=env)
        for rel, text in files.items():
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            (path / rel).write_text(text)
        subprocess.run([*git, "add", "."], cwd=path, check=True, env=env)
        subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=path, check=True, env=env)
        return str(path)

    settings.SLIPCASE_SNAPSHOT_ROOTS = [str(tmp_path)]
    access = access_for(officer, case)
    with django_capture_on_commit_callbacks(execute=True):
        original = evidence.snapshot_request(
            access=access,
            kind="git",
            source=repo("miniv", {"model.py": ORIGINAL}, "2026-03-01T10:00:00Z"),
        )
        suspect = evidence.snapshot_request(
            access=access,
            kind="git",
            source=repo("vl", {"src/net.py": SUSPECT}, "2026-05-19T10:00:00Z"),
        )
    with django_capture_on_commit_callbacks(execute=True):
        run = services.analysis_start(
            access=access,
            kind="codesim",
            inputs={"original": [original.pk], "suspect": [suspect.pk]},
        )
    run.refresh_from_db()
    assert run.status == "succeeded", run.failure_reason
    client = APIClient()
    client.force_authenticate(officer)
    report = client.get(f"/api/v1/cases/{case.number}/analyses/{run.pk}/report/").json()
    top = report["pairs"][0]
    assert (top["left_path"], top["right_path"]) == ("model.py", "src/net.py")
    history = top["history"]
    assert "2026-03-01" in str(history) and "2026-05-19" in str(history)
