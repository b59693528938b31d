"""Ingest endpoints (seed section 10; reference notes section 3).

Agents (key auth, `scans` module):
    POST /api/v1/agent/ingest          the flat format of the seed / reference SDK (RIS too)
    POST /api/v1/agent/ingest/ris      RIS 1.0, plain or {"report": …}
    POST /api/v1/agent/ingest/sarif    SARIF 2.1.0
    POST /api/v1/agent/ingest/check    {"fingerprints": […]} → {"existing", "missing"}
    POST /api/v1/agent/ingest/chunk    one chunk of a large report
    GET  /api/v1/agent/ingest/{id}     state and counts of a background ingest
Users (session or token):
    POST /api/v1/ingest/upload         multipart `file`, optional `format`, `asset`

Bodies may be gzip- or zstd-encoded. 201 with the counts when stored, 202 when queued.
"""

from __future__ import annotations

import base64
import json
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from agents.api.protocol import AgentApiView
from findings.models import Finding
from ingest.body import decode, read_body, too_large
from ingest.models import IngestChunk, IngestRun, IngestStatus
from ingest.parsers import shape
from ingest.report import ReportError
from ingest.tasks import ingest_submit
from rediverio.api_auth import TenantApiView
from rediverio.api_errors import ApiError
from rediverio.models import Role


class IngestResultSerializer(serializers.Serializer):
    scan_id = serializers.UUIDField(help_text="The scan session that recorded this report.")
    ingest_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=IngestStatus.choices)
    assets_created = serializers.IntegerField()
    assets_updated = serializers.IntegerField()
    findings_created = serializers.IntegerField()
    findings_updated = serializers.IntegerField()
    findings_skipped = serializers.IntegerField()
    findings_fixed = serializers.IntegerField()
    findings_reopened = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())


RESULT_EXAMPLE = {
    "scan_id": "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f",
    "ingest_id": "0193a5f0-7c1e-7d2a-9f3b-000000000001",
    "status": "completed",
    "assets_created": 1,
    "assets_updated": 0,
    "findings_created": 10,
    "findings_updated": 0,
    "findings_skipped": 0,
    "findings_fixed": 0,
    "findings_reopened": 0,
    "errors": [],
}
FLAT_EXAMPLE = {
    "version": "1.0",
    "metadata": {
        "tool_name": "semgrep",
        "tool_version": "1.0.0",
        "scan_id": "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f",
        "start_time": "2024-01-01T00:00:00Z",
        "end_time": "2024-01-01T00:05:00Z",
    },
    "targets": [
        {"type": "repository", "identifier": "github.com/org/repo", "name": "My Repository"}
    ],
    "findings": [
        {
            "rule_id": "javascript.express.security.injection",
            "severity": "high",
            "message": "SQL injection vulnerability detected",
            "file_path": "src/api/users.js",
            "start_line": 42,
            "end_line": 42,
            "cve_id": "CVE-2024-1234",
            "cvss_score": 8.5,
            "cwe_ids": ["CWE-89"],
        }
    ],
    "dependencies": [
        {
            "name": "lodash",
            "version": "4.17.21",
            "ecosystem": "npm",
            "purl": "pkg:npm/lodash@4.17.21",
        }
    ],
}
SARIF_EXAMPLE = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {"driver": {"name": "semgrep", "version": "1.85.0"}},
            "versionControlProvenance": [{"repositoryUri": "https://github.com/org/repo"}],
            "results": [
                {
                    "ruleId": "python.lang.security.audit.eval",
                    "level": "error",
                    "message": {"text": "Use of eval"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": "app/views.py"},
                                "region": {"startLine": 10},
                            }
                        }
                    ],
                }
            ],
        }
    ],
}
ERRORS = {
    400: OpenApiResponse(description="Malformed report: the message names the field and index."),
    401: OpenApiResponse(description="Missing or invalid key."),
    403: OpenApiResponse(description="Agent disabled, or the plan lacks the scans module."),
    413: OpenApiResponse(description="Larger than INGEST_MAX_BYTES decompressed."),
    415: OpenApiResponse(description="A Content-Encoding other than gzip or zstd."),
}


def run_reply(run: IngestRun) -> Response:
    if run.status == IngestStatus.COMPLETED:
        body = {**run.result, "ingest_id": str(run.pk), "status": run.status}
        return Response(body, status=status.HTTP_201_CREATED)
    if run.status == IngestStatus.FAILED:
        raise ApiError(400, run.error["code"], run.error["message"], run.error.get("details"))
    return Response(
        {
            "ingest_id": str(run.pk),
            "status": run.status,
            # Agents ask on the agent API; people who uploaded, on the management API.
            "status_url": f"/api/v1/{'agent/' if run.agent_id else ''}ingest/{run.pk}",
        },
        status=status.HTTP_202_ACCEPTED,
    )


def submit(raw: bytes, format: str | None, *, tenant, agent=None, user=None, **options) -> Response:
    try:
        run = ingest_submit(
            tenant=tenant,
            raw=raw,
            format=format,
            agent=agent,
            user=user,
            options={k: v for k, v in options.items() if v},
        )
    except ReportError as exc:
        raise ApiError(400, "VALIDATION_ERROR", str(exc), {"errors": exc.errors}) from exc
    return run_reply(run)


class AgentIngestView(AgentApiView):
    format: str | None = None

    def post(self, request: Request) -> Response:
        agent = request.user
        session = request.query_params.get("scan_session") or request.META.get(
            "HTTP_X_SCAN_SESSION"
        )
        return submit(
            read_body(request), self.format, tenant=agent.tenant, agent=agent, scan_session=session
        )


def _ingest_schema(operation: str, summary: str, example: dict | None = None):
    return extend_schema(
        operation_id=operation,
        tags=["agent ingest"],
        summary=summary,
        parameters=[
            OpenApiParameter(
                "scan_session",
                str,
                description="The scan session the report belongs to (or `X-Scan-Session`); "
                "by default the report's own scan id, else a new session.",
            )
        ],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={201: IngestResultSerializer, 202: OpenApiTypes.OBJECT, **ERRORS},
        examples=[
            *([OpenApiExample("Report", request_only=True, value=example)] if example else []),
            OpenApiExample(
                "Stored", response_only=True, value=RESULT_EXAMPLE, status_codes=["201"]
            ),
        ],
    )


class AgentIngestApi(AgentIngestView):
    format = "flat"

    @_ingest_schema("agent_ingest", "Submit findings in the flat format (or RIS)", FLAT_EXAMPLE)
    def post(self, request: Request) -> Response:
        return super().post(request)


class AgentIngestRisApi(AgentIngestView):
    format = "ris"

    @_ingest_schema(
        "agent_ingest_ris",
        'Submit a RIS 1.0 report (plain or wrapped in {"report": …})',
        {
            "version": "1.0",
            "metadata": {"timestamp": "2026-11-26T12:00:00Z", "coverage_type": "full"},
            "tool": {"name": "semgrep", "version": "1.185.0"},
            "assets": [{"id": "a1", "type": "repository", "value": "github.com/org/repo"}],
            "findings": [
                {
                    "type": "vulnerability",
                    "title": "SQL injection",
                    "severity": "high",
                    "rule_id": "sqli",
                    "asset_ref": "a1",
                    "location": {"path": "app/db.py", "start_line": 10},
                    "vulnerability": {"cwe_ids": ["CWE-89"]},
                }
            ],
        },
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class AgentIngestSarifApi(AgentIngestView):
    format = "sarif"

    @_ingest_schema("agent_ingest_sarif", "Submit a SARIF 2.1.0 log", SARIF_EXAMPLE)
    def post(self, request: Request) -> Response:
        return super().post(request)


class AgentIngestCheckApi(AgentApiView):
    @extend_schema_serializer(component_name="FingerprintCheckRequest")
    class InputSerializer(serializers.Serializer):
        fingerprints = serializers.ListField(
            child=serializers.CharField(max_length=512), max_length=100_000
        )

    @extend_schema_serializer(component_name="FingerprintCheckReply")
    class OutputSerializer(serializers.Serializer):
        existing = serializers.ListField(child=serializers.CharField())
        missing = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        operation_id="agent_ingest_check",
        tags=["agent ingest"],
        summary="Which of these fingerprints the tenant already has (one query)",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERRORS},
        examples=[
            OpenApiExample("Ask", request_only=True, value={"fingerprints": ["a1b2…", "c3d4…"]}),
            OpenApiExample(
                "Answer", response_only=True, value={"existing": ["a1b2…"], "missing": ["c3d4…"]}
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        # Read like a report (compressed as the SDK sends it, up to INGEST_MAX_BYTES):
        # 100,000 fingerprints are well past Django's own 2.5 MB body limit.
        try:
            document = shape.decode_json(read_body(request))
        except ReportError as exc:
            raise ApiError(400, "VALIDATION_ERROR", str(exc)) from exc
        body = self.InputSerializer(data=document)
        body.is_valid(raise_exception=True)
        asked = list(dict.fromkeys(body.validated_data["fingerprints"]))
        existing = set(
            Finding.objects.for_tenant(request.user.tenant)
            .filter(fingerprint__in=asked)
            .values_list("fingerprint", flat=True)
            .distinct()
        )
        return Response(
            {
                "existing": [f for f in asked if f in existing],
                "missing": [f for f in asked if f not in existing],
            }
        )


class AgentIngestStatusApi(AgentApiView):
    @extend_schema(
        operation_id="agent_ingest_status",
        tags=["agent ingest"],
        summary="State and counts of an ingest (201 done, 202 still running, 400 failed)",
        responses={
            201: IngestResultSerializer,
            202: OpenApiTypes.OBJECT,
            400: OpenApiResponse(description="The ingest failed; the error says why."),
            404: OpenApiResponse(description="No such ingest of this agent."),
        },
        examples=[
            OpenApiExample("Done", response_only=True, value=RESULT_EXAMPLE, status_codes=["201"])
        ],
    )
    def get(self, request: Request, ingest_id: str) -> Response:
        try:
            run = IngestRun.objects.for_tenant(request.user.tenant).get(
                pk=ingest_id, agent=request.user
            )
        except (IngestRun.DoesNotExist, ValidationError, ValueError) as exc:
            raise ApiError(404, "NOT_FOUND", "No such ingest.") from exc
        return run_reply(run)


@extend_schema_field(OpenApiTypes.BYTE)
class Base64Field(serializers.CharField):
    """Base64 text (`format: byte`); the view decodes it."""


REPORT_ID = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_CHUNKS = 10_000


class AgentIngestChunkApi(AgentApiView):
    @extend_schema_serializer(component_name="IngestChunkRequest")
    class InputSerializer(serializers.Serializer):
        report_id = serializers.RegexField(REPORT_ID)
        chunk_index = serializers.IntegerField(min_value=0, max_value=MAX_CHUNKS - 1)
        total_chunks = serializers.IntegerField(min_value=1, max_value=MAX_CHUNKS)
        compression = serializers.ChoiceField(choices=["zstd", "gzip", "none"], default="none")
        data = Base64Field(help_text="Base64 of the (compressed) chunk.")
        is_final = serializers.BooleanField(default=False)
        format = serializers.ChoiceField(choices=["ris", "flat", "sarif"], default="ris")

        def validate(self, attrs):
            if attrs["chunk_index"] >= attrs["total_chunks"]:
                raise serializers.ValidationError({"chunk_index": "must be below total_chunks"})
            return attrs

    @extend_schema(
        operation_id="agent_ingest_chunk",
        tags=["agent ingest"],
        summary="Send one chunk of a large report; the last one stores the whole report",
        description=(
            "Chunks are kept until all `total_chunks` have arrived, then assembled in "
            "`chunk_index` order: either concatenated bytes of one report, or report "
            "fragments whose assets, findings and dependencies are merged."
        ),
        request=InputSerializer,
        responses={201: OpenApiTypes.OBJECT, 202: OpenApiTypes.OBJECT, **ERRORS},
        examples=[
            OpenApiExample(
                "Chunk",
                request_only=True,
                value={
                    "report_id": "scan-42",
                    "chunk_index": 0,
                    "total_chunks": 2,
                    "compression": "gzip",
                    "data": "H4sIAAAAAAAA…",
                    "is_final": False,
                },
            ),
            OpenApiExample(
                "Accepted",
                response_only=True,
                value={
                    "chunk_id": "…",
                    "report_id": "scan-42",
                    "chunk_index": 0,
                    "status": "accepted",
                    "received": 1,
                    "total_chunks": 2,
                },
                status_codes=["202"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        agent = request.user
        try:
            packed = base64.b64decode(data["data"], validate=True)
        except ValueError as exc:  # binascii.Error, or a character outside ASCII
            raise ApiError(
                400, "VALIDATION_ERROR", f"data: not base64 ({exc})", {"data": [str(exc)]}
            ) from exc
        chunk_bytes = decode(packed, "" if data["compression"] == "none" else data["compression"])
        with transaction.atomic():
            chunk, _ = IngestChunk.objects.update_or_create(
                tenant=agent.tenant,
                agent=agent,
                report_id=data["report_id"],
                index=data["chunk_index"],
                defaults={"total": data["total_chunks"], "data": chunk_bytes},
            )
            parts = list(
                IngestChunk.objects.for_tenant(agent.tenant)
                .filter(agent=agent, report_id=data["report_id"])
                .order_by("index")
            )
            received = len(parts)
            if received < data["total_chunks"] or not (
                data["is_final"] or received == data["total_chunks"]
            ):
                return Response(
                    {
                        "chunk_id": str(chunk.pk),
                        "report_id": data["report_id"],
                        "chunk_index": data["chunk_index"],
                        "status": "accepted",
                        "received": received,
                        "total_chunks": data["total_chunks"],
                    },
                    status=status.HTTP_202_ACCEPTED,
                )
            raw = assemble([bytes(p.data) for p in parts])
            IngestChunk.objects.for_tenant(agent.tenant).filter(
                agent=agent, report_id=data["report_id"]
            ).delete()
            return submit(raw, data["format"], tenant=agent.tenant, agent=agent)


def assemble(parts: list[bytes]) -> bytes:
    """One report from its chunks: fragments that are reports of their own are merged
    (lists concatenated, the first fragment's metadata kept); otherwise the chunks are
    slices of one document and are concatenated."""
    try:
        fragments = [json.loads(p) for p in parts]
    except ValueError:
        fragments = None
    if not fragments or not all(isinstance(f, dict) for f in fragments):
        total = b"".join(parts)
        if len(total) > settings.INGEST_MAX_BYTES:
            raise too_large(settings.INGEST_MAX_BYTES)
        return total
    merged = dict(fragments[0])
    for key in ("assets", "targets", "findings", "dependencies"):
        items = [item for f in fragments for item in (f.get(key) or [])]
        if items or key in merged:
            merged[key] = items
    return json.dumps(merged).encode()


class IngestUploadApi(TenantApiView):
    required_module = "scans"
    write_role = Role.MEMBER
    parser_classes = [MultiPartParser]

    @extend_schema_serializer(component_name="ReportUploadRequest")
    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        format = serializers.CharField(required=False, allow_blank=True)
        asset = serializers.CharField(required=False, allow_blank=True, max_length=1024)
        asset_type = serializers.CharField(required=False, allow_blank=True, max_length=64)
        coverage = serializers.ChoiceField(
            choices=["full", "partial", "incremental"], required=False
        )

    @extend_schema(
        operation_id="ingest_upload",
        tags=["ingest"],
        summary="Upload a scanner report (any known format, detected when not named)",
        request={"multipart/form-data": InputSerializer},
        responses={201: IngestResultSerializer, 202: OpenApiTypes.OBJECT, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        upload = data["file"]
        if upload.size > settings.INGEST_MAX_BYTES:
            raise too_large(settings.INGEST_MAX_BYTES)
        return submit(
            upload.read(),
            data.get("format") or None,
            tenant=request.tenant,
            user=request.user,
            asset=data.get("asset"),
            asset_type=data.get("asset_type"),
            coverage=data.get("coverage"),
        )


class IngestStatusApi(TenantApiView):
    """A team's view of an ingest: where an upload answered 202, its outcome."""

    required_module = "scans"

    @extend_schema(
        operation_id="ingest_status",
        tags=["ingest"],
        summary="State and counts of a team's ingest (201 done, 202 still running, 400 failed)",
        responses={
            201: IngestResultSerializer,
            202: OpenApiTypes.OBJECT,
            400: OpenApiResponse(description="The ingest failed; the error says why."),
        },
        examples=[
            OpenApiExample("Done", response_only=True, value=RESULT_EXAMPLE, status_codes=["201"])
        ],
    )
    def get(self, request: Request, ingest_id: str) -> Response:
        try:
            run = IngestRun.objects.for_tenant(request.tenant).get(pk=ingest_id)
        except (IngestRun.DoesNotExist, ValidationError, ValueError) as exc:
            raise ApiError(404, "NOT_FOUND", "No such ingest.") from exc
        return run_reply(run)
