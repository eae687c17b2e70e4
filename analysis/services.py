"""Every write of analysis runs: start (validate, record inputs and their hashes, queue), execute
(called by the Celery task: read exhibits hash-checked, run the pure engine, store the outputs as
new exhibits), fail. The engine itself (``analysis.codesim``) knows nothing of Django."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from analysis.models import AnalysisInput, AnalysisOutput, AnalysisRun
from cases import workflow as wf
from cases.errors import Conflict, PermissionDenied, ValidationFailed
from cases.evidence.models import EvidenceItem
from cases.selectors import CaseAccess
from cases.services import event_record

RUNNERS = {wf.INTEGRITY_OFFICER, wf.CHAIR, wf.COMMITTEE_MEMBER}
CODE_KINDS = {
    EvidenceItem.Kind.SOURCE_ARCHIVE,
    EvidenceItem.Kind.GIT_SNAPSHOT,
    EvidenceItem.Kind.DOCUMENT,
    EvidenceItem.Kind.STATEMENT,
}
ROLES = {
    "codesim": {"original": (1, 1), "suspect": (1, 1), "base": (0, 1)},
    "provenance": {"original": (1, 1), "suspect": (1, 1), "base": (0, 1)},
    "probes": {"original": (1, 1), "suspect": (1, 1), "reference": (0, 20), "probe_set": (1, 1)},
}
MODEL_KINDS = {"provenance", "probes"}  # run on the gpu queue (on the CPU where there is none)


def _param_keys(kind: str) -> set[str]:
    import dataclasses

    if kind == "codesim":
        from analysis import codesim

        return {f.name for f in dataclasses.fields(codesim.Params)}
    if kind == "provenance":
        from analysis import provenance

        return {f.name for f in dataclasses.fields(provenance.Params)}
    return {"batch_size", "max_new_tokens"}


def _allowed_kinds(kind: str, role: str) -> set[str]:
    if kind == "codesim":
        return set(CODE_KINDS)
    if role == "probe_set":
        return {EvidenceItem.Kind.PROBE_SET}
    return {EvidenceItem.Kind.MODEL_SNAPSHOT}


def _audit(kind: str, *, actor: Any, run: AnalysisRun, payload: dict[str, Any]) -> None:
    from cases.audit.services import audit_append

    audit_append(kind=kind, actor=actor, case=run.case, payload={"run": run.pk, **payload})


def analysis_start(
    *,
    access: CaseAccess,
    kind: str,
    inputs: dict[str, list[int]],
    params: dict[str, Any] | None = None,
) -> AnalysisRun:
    """Queue an analysis of chosen exhibits. Inputs are validated and their hashes recorded now."""
    if not access.roles & RUNNERS:
        raise PermissionDenied("Only the integrity officer, the chair and members run analyses.")
    if kind not in ROLES:
        raise ValidationFailed(f"kind must be one of {', '.join(sorted(ROLES))}.", field="kind")
    params = dict(params or {})
    unknown = set(params) - _param_keys(kind)
    if unknown:
        raise ValidationFailed(f"unknown parameters: {', '.join(sorted(unknown))}.", field="params")
    for role, (low, high) in ROLES[kind].items():
        count = len(inputs.get(role, []))
        if not low <= count <= high:
            raise ValidationFailed(
                f"{role}: give {'exactly one' if low == high else 'at most one'} exhibit.",
                field="inputs",
            )
    extra_roles = set(inputs) - set(ROLES[kind])
    if extra_roles:
        raise ValidationFailed(f"unknown input roles: {sorted(extra_roles)}.", field="inputs")
    chosen: list[tuple[str, EvidenceItem]] = []
    for role, ids in inputs.items():
        for pk in ids:
            item = EvidenceItem.objects.filter(case=access.case, pk=pk).first()
            if item is None:
                raise ValidationFailed(f"{role}: no exhibit {pk!r} in this case.", field="inputs")
            if item.status != EvidenceItem.Status.STORED:
                raise Conflict(f"{role}: exhibit {item.label} has no stored bytes ({item.status}).")
            if item.kind not in _allowed_kinds(kind, role):
                raise ValidationFailed(
                    f"{role}: exhibit {item.label} ({item.get_kind_display()}) cannot be used "
                    f"as {role} of a {kind} analysis.",
                    field="inputs",
                )
            chosen.append((role, item))
    with transaction.atomic():
        run = AnalysisRun.objects.create(
            case=access.case, kind=kind, params=params, requested_by=access.user
        )
        for role, item in chosen:
            AnalysisInput.objects.create(run=run, role=role, item=item, sha256=item.sha256)
        labels = {role: item.label for role, item in chosen}
        event_record(
            case=access.case,
            kind="analysis_queued",
            summary=f"{run.get_kind_display()} analysis {run.pk} queued on {labels}.",
            actor=access.user,
            data={"run": run.pk, "inputs": labels, "params": params},
        )
        from analysis.tasks import gpu_run_analysis, run_analysis

        task = gpu_run_analysis if kind in MODEL_KINDS else run_analysis
        transaction.on_commit(lambda: task.delay(run.pk))
    return run


def _set_progress(run: AnalysisRun, fraction: float) -> None:
    percent = max(0, min(99, int(fraction * 100)))
    AnalysisRun.objects.filter(pk=run.pk).update(progress=percent)


def analysis_execute(*, run_id: int) -> AnalysisRun:
    """Run a queued analysis (the Celery task calls this). Idempotent: a finished run is left as
    it is, so a redelivered task stores nothing twice."""
    with transaction.atomic():
        run = AnalysisRun.objects.select_for_update().get(pk=run_id)
        if run.status in (AnalysisRun.Status.SUCCEEDED, AnalysisRun.Status.FAILED):
            return run
        run.status = AnalysisRun.Status.RUNNING
        run.started_at = timezone.now()
        run.attempts += 1
        run.worker = f"{socket.gethostname()}:{os.getpid()}"
        run.save(update_fields=["status", "started_at", "attempts", "worker"])
    workdir = Path(tempfile.mkdtemp(prefix=f"slipcase-analysis-{run.pk}-"))
    try:
        if run.kind == AnalysisRun.Kind.CODESIM:
            _execute_codesim(run, workdir)
        elif run.kind == AnalysisRun.Kind.PROVENANCE:
            _execute_provenance(run, workdir)
        elif run.kind == AnalysisRun.Kind.PROBES:
            _execute_probes(run, workdir)
        else:  # pragma: no cover - guarded by analysis_start
            raise ValidationFailed(f"unknown analysis kind {run.kind!r}")
    except Exception as exc:
        analysis_fail(run_id=run.pk, reason=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    run.refresh_from_db()
    return run


def analysis_fail(*, run_id: int, reason: str) -> None:
    with transaction.atomic():
        run = AnalysisRun.objects.select_for_update().get(pk=run_id)
        if run.status == AnalysisRun.Status.SUCCEEDED:
            return
        run.status = AnalysisRun.Status.FAILED
        run.failure_reason = reason[:20_000]
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "failure_reason", "finished_at"])
        event_record(
            case=run.case,
            kind="analysis_failed",
            summary=f"{run.get_kind_display()} analysis {run.pk} failed: {reason[:300]}",
            data={"run": run.pk, "reason": reason},
        )
        _audit("analysis.failed", actor=None, run=run, payload={"reason": reason})


def _materialize(entry: AnalysisInput, actor: User, workdir: Path) -> Path:
    """The exhibit's files as a folder (bytes hash-checked on the way; custody 'analysed')."""
    from cases.evidence.services import evidence_materialize, upload_limits
    from cases.vault.extract import extract_or_copy

    item = entry.item
    if item.sha256 != entry.sha256:
        raise Conflict(f"exhibit {item.label} changed since the run was queued")
    if item.kind == EvidenceItem.Kind.MODEL_SNAPSHOT:
        from cases.evidence.services import evidence_materialize_files

        tree = workdir / f"{entry.role}-{item.pk}"
        evidence_materialize_files(
            item=item, actor=actor, dest=tree, purpose=f"analysis run {entry.run_id} ({entry.role})"
        )
        return tree
    raw = workdir / f"{entry.role}-{item.pk}.bin"
    evidence_materialize(
        item=item, actor=actor, dest=raw, purpose=f"analysis run {entry.run_id} ({entry.role})"
    )
    tree = workdir / f"{entry.role}-{item.pk}"
    if item.kind == EvidenceItem.Kind.GIT_SNAPSHOT:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
        subprocess.run(  # noqa: S603 - fixed argv, no shell; the bundle is a local file we wrote
            [  # noqa: S607 - git from PATH, as everywhere in Slipcase
                "git",
                "-c",
                "protocol.file.allow=always",
                "clone",
                "--quiet",
                "--",
                str(raw),
                str(tree),
            ],  # noqa: S607
            check=True,
            capture_output=True,
            env=env,
            timeout=600,
        )
        shutil.rmtree(tree / ".git", ignore_errors=True)
        return tree
    extract_or_copy(raw, tree, filename=item.filename or "file.txt", limits=upload_limits())
    return tree


def _execute_codesim(run: AnalysisRun, workdir: Path) -> None:
    from analysis import codesim

    started = time.perf_counter()
    actor = run.requested_by
    trees: dict[str, Path] = {}
    inputs = list(run.inputs.select_related("item__blob", "item__case"))
    for entry in inputs:
        trees[entry.role] = _materialize(entry, actor, workdir)
    _set_progress(run, 0.1)
    try:
        params = codesim.Params(**run.params)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"bad parameters: {exc}") from exc
    original = codesim.load_tree(trees["original"])
    suspect = codesim.load_tree(trees["suspect"])
    base = codesim.load_tree(trees["base"]) if "base" in trees else None

    def progress(fraction: float) -> None:
        _set_progress(run, 0.1 + 0.8 * fraction)

    report = codesim.compare_trees(
        list(original),
        list(suspect),
        base=list(base) if base else None,
        params=params,
        progress=progress,
    )
    histories = {
        e.role: e.item.metadata.get("commits", [])
        for e in inputs
        if e.item.kind == EvidenceItem.Kind.GIT_SNAPSHOT
    }
    if histories:
        # When each matched file first appeared in each repository, against the original's
        # public release date (the earliest one recorded on the case's allegations).
        release = (
            run.case.allegations.exclude(original_date=None)
            .order_by("original_date")
            .values_list("original_date", flat=True)
            .first()
        )
        report = codesim.annotate_history(
            report,
            original_history=histories.get("original", []),
            suspect_history=histories.get("suspect", []),
            original_release=release.isoformat() if release else None,
        )
    data = report.to_dict()
    labels = {e.role: e.item.label for e in inputs}
    data["inputs"] = {e.role: {"label": e.item.label, "sha256": e.sha256} for e in inputs}
    # The texts of the files in the reported pairs, so that the viewer needs no re-extraction.
    shown = {("original", p["left_path"]) for p in data["pairs"]} | {
        ("suspect", p["right_path"]) for p in data["pairs"]
    }
    data["sources"] = {
        side: {path: text for path, text in files.items() if (side, path) in shown}
        for side, files in report.sources.items()
        if side in ("original", "suspect")
    }
    report_bytes = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False).encode()
    html_bytes = codesim.render_html(report).encode()
    elapsed = time.perf_counter() - started
    pairs = data["pairs"]
    keys = ("left_path", "right_path", "symmetric", "suspect_coverage", "longest_fragment")
    _store_outputs(
        run,
        inputs,
        outputs={
            "report.json": (
                report_bytes,
                "codesim-report.json",
                "application/json",
                f"Code-similarity report of run {run.pk} ({labels.get('original')} vs "
                f"{labels.get('suspect')})",
            ),
            "view.html": (
                html_bytes,
                "codesim-view.html",
                "text/html",
                f"Side-by-side view of run {run.pk}",
            ),
        },
        method=f"Slipcase analysis.codesim {codesim.__version__}",
        summary={
            "pairs": len(pairs),
            "top": [{k: p[k] for k in keys} for p in pairs[:5]],
            "suspect_coverage": data["suspect_coverage"],
            "longest_fragment": data["longest_fragment"],
            "renames": data["rename_map"][:10],
            "seconds": round(elapsed, 3),
        },
        versions={"codesim": codesim.__version__, "pygments": _version("pygments")},
    )


def _check_model_size(trees: dict[str, Path]) -> str:
    """The device to use; without CUDA, refuse models above the configured CPU cap, clearly."""
    from django.conf import settings

    try:
        import torch

        if torch.cuda.is_available():
            return "cuda"
    except ImportError:  # pragma: no cover - torch is a requirement
        pass
    cap = int(getattr(settings, "SLIPCASE_CPU_MODEL_MAX_BYTES", 2 * 1024**3))
    for role, tree in trees.items():
        size = sum(p.stat().st_size for p in tree.rglob("*.safetensors"))
        if size > cap:
            raise ValidationFailed(
                f"{role}: {size} bytes of weights exceed the CPU limit of {cap} bytes "
                "(SLIPCASE_CPU_MODEL_MAX_BYTES); run this analysis on a GPU worker."
            )
    return "cpu"


def _store_outputs(
    run: AnalysisRun,
    inputs: list[AnalysisInput],
    *,
    outputs: dict[str, tuple[bytes, str, str, str]],
    method: str,
    summary: dict[str, Any],
    versions: dict[str, str],
) -> None:
    """Store each output (name -> (bytes, filename, media type, description)) as an exhibit,
    custody 'analysed' on the inputs, and the run as succeeded, in one transaction."""
    from cases.evidence.services import custody_record, evidence_store_generated

    actor = run.requested_by
    with transaction.atomic():
        run = AnalysisRun.objects.select_for_update().get(pk=run.pk)
        if run.status == AnalysisRun.Status.SUCCEEDED:
            return
        source = {
            "analysis_run": run.pk,
            "inputs": {e.role: {"label": e.item.label, "sha256": e.sha256} for e in inputs},
        }
        stored = {}
        for name, (data, filename, media_type, description) in outputs.items():
            stored[name] = evidence_store_generated(
                case=run.case,
                actor=actor,
                data=data,
                filename=filename,
                media_type=media_type,
                method=method,
                source=source,
                description=description,
            )
            AnalysisOutput.objects.create(run=run, name=name, item=stored[name])
        for entry in inputs:
            custody_record(
                item=entry.item,
                action="analysed",
                actor=actor,
                purpose=f"input '{entry.role}' of analysis run {run.pk}",
                details={"run": run.pk, "outputs": [o.label for o in stored.values()]},
            )
        run.summary = summary
        run.versions = versions
        run.status = AnalysisRun.Status.SUCCEEDED
        run.progress = 100
        run.finished_at = timezone.now()
        run.save()
        event_record(
            case=run.case,
            kind="analysis_succeeded",
            summary=f"{run.get_kind_display()} analysis {run.pk} finished; outputs "
            f"{', '.join(o.label for o in stored.values())}.",
            data={"run": run.pk, "summary": summary},
        )


def _execute_provenance(run: AnalysisRun, workdir: Path) -> None:
    from analysis import provenance

    inputs = list(run.inputs.select_related("item__blob", "item__case"))
    trees = {e.role: _materialize(e, run.requested_by, workdir) for e in inputs}
    _set_progress(run, 0.2)
    _check_model_size(trees)
    try:
        params = provenance.Params(**run.params)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"bad parameters: {exc}") from exc
    report = provenance.compare_models(
        trees["original"], trees["suspect"], base=trees.get("base"), params=params
    )
    data = report.to_dict()
    data["inputs"] = {e.role: {"label": e.item.label, "sha256": e.sha256} for e in inputs}
    body = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False, default=str).encode()
    verdict = data.get("verdict") or {}
    _store_outputs(
        run,
        inputs,
        outputs={
            "report.json": (
                body,
                "provenance-report.json",
                "application/json",
                f"Weight-provenance report of run {run.pk}",
            )
        },
        method=f"Slipcase analysis.provenance {provenance.__version__}",
        summary={"verdict": verdict},
        versions={"provenance": provenance.__version__, "numpy": _version("numpy")},
    )


def _execute_probes(run: AnalysisRun, workdir: Path) -> None:
    from analysis import probes

    inputs = list(run.inputs.select_related("item__blob", "item__case"))
    models = [e for e in inputs if e.role != "probe_set"]
    trees = {f"{e.role}-{e.item.pk}": _materialize(e, run.requested_by, workdir) for e in models}
    device = _check_model_size(trees)
    probe_entry = next(e for e in inputs if e.role == "probe_set")
    raw = workdir / "probe-set.jsonl"
    from cases.evidence.services import evidence_materialize

    evidence_materialize(
        item=probe_entry.item,
        actor=run.requested_by,
        dest=raw,
        purpose=f"analysis run {run.pk} (probe set)",
    )
    probe_set = probes.parse_probe_set(raw.read_bytes(), source=probe_entry.item.label)
    try:
        batch_size = int(run.params.get("batch_size", 16))
        max_new_tokens = int(run.params.get("max_new_tokens", 16))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"bad parameters: {exc}") from exc
    answers = {}
    for n, entry in enumerate(models, start=1):
        answers[entry] = probes.run_text_model(
            str(trees[f"{entry.role}-{entry.item.pk}"]),
            probe_set.items,
            device=device,
            label=f"{entry.role} {entry.item.label}",
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
        )
        _set_progress(run, 0.1 + 0.8 * n / len(models))
    by_role = {e.role: a for e, a in answers.items() if e.role in ("original", "suspect")}
    references = [a for e, a in answers.items() if e.role == "reference"]
    report = probes.analyse(
        probe_set.items,
        by_role["original"],
        by_role["suspect"],
        references,
        probe_set=probe_set.to_dict(),
    )
    data = report.to_dict()
    data["inputs"] = {e.role: {"label": e.item.label, "sha256": e.sha256} for e in inputs}
    body = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False, default=str).encode()
    _store_outputs(
        run,
        inputs,
        outputs={
            "report.json": (
                body,
                "probe-report.json",
                "application/json",
                f"Probe-test report of run {run.pk}",
            )
        },
        method=f"Slipcase analysis.probes {probes.__version__}",
        summary={"verdict": data.get("verdict")},
        versions={
            "probes": probes.__version__,
            "torch": _version("torch"),
            "transformers": _version("transformers"),
        },
    )


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"
