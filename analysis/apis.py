"""REST API of analysis runs under /api/v1/cases/{case_number}/analyses/: start a run, follow
its progress, fetch its report. Committee only; the access gate runs first."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from analysis import selectors, services
from analysis.models import AnalysisRun
from cases.apis import CASE_NUMBER, ID, CaseScopedViewSet
from cases.errors import Conflict


class RunInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AnalysisRun.Kind.choices)
    inputs = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=50),
        help_text='Exhibit ids per role, e.g. {"original": [3], "suspect": [5], "base": [7]}.',
    )
    params = serializers.DictField(required=False, help_text="Engine parameters (optional).")


class RunOutputSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.get_username", read_only=True)
    inputs = serializers.SerializerMethodField()
    outputs = serializers.SerializerMethodField()

    class Meta:
        model = AnalysisRun
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "params",
            "versions",
            "summary",
            "failure_reason",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "inputs",
            "outputs",
        ]

    def get_inputs(self, run: AnalysisRun) -> list[dict[str, Any]]:
        return [
            {"role": i.role, "item": i.item_id, "label": i.item.label, "sha256": i.sha256}
            for i in run.inputs.all()
        ]

    def get_outputs(self, run: AnalysisRun) -> list[dict[str, Any]]:
        return [
            {"name": o.name, "item": o.item_id, "label": o.item.label, "sha256": o.item.sha256}
            for o in run.outputs.all()
        ]


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(
    list=extend_schema(summary="Analysis runs of the case (committee)"),
    retrieve=extend_schema(summary="One run: status, progress, timings, inputs and outputs"),
)
class AnalysisViewSet(CaseScopedViewSet):
    serializer_class = RunOutputSerializer

    def visible(self) -> Any:
        return selectors.runs_for(self.get_access())

    def retrieve(self, request: Request, case_number: str, pk: str) -> Response:
        return self._out(selectors.run_get(self.get_access(), pk))

    @extend_schema(
        summary="Start an analysis of chosen exhibits (queued as a Celery job)",
        request=RunInputSerializer,
        responses={202: RunOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(RunInputSerializer)
        run = services.analysis_start(
            access=self.get_access(),
            kind=data["kind"],
            inputs=dict(data["inputs"]),
            params=dict(data.get("params") or {}),
        )
        run.refresh_from_db()
        return self._out(run, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="The run's report (JSON), read hash-checked from its output exhibit",
        parameters=[ID],
        responses={200: dict},
    )
    @action(detail=True, methods=["get"])
    def report(self, request: Request, case_number: str, pk: str) -> Response:
        access = self.get_access()
        run = selectors.run_get(access, pk)  # the committee's alone: 404 to a party, as retrieve
        output = run.outputs.filter(name="report.json").select_related("item__blob").first()
        if run.status != AnalysisRun.Status.SUCCEEDED or output is None:
            raise Conflict(f"Run {run.pk} has no report yet ({run.status}).")
        from cases.evidence.services import evidence_stream

        body = b"".join(
            evidence_stream(access=access, item=output.item, purpose="analysis report viewed")
        )
        return Response(json.loads(body))
