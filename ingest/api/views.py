"""Ingest endpoints (the wire: docs/wire-protocol.md).

Agents (key auth, `scans` module):
    POST /api/v1/agent/ingest          the reference SDK's flat format (RIS too)
    POST /api/v1/agent/ingest/ris      RIS 1.0, plain or {"report": …}
    POST /api/v1/agent/ingest/sarif    SARIF 2.1.0
    POST /api/v1/agent/ingest/check    {"fingerprints": […]} → {"existing", "missing"}
    POST /api/v1/agent/ingest/chunk    one chunk of a large report
    GET  /api/v1/agent/ingest/{id}     state and counts of a background ingest
Users (session or token):
    POST /api/v1/ingest/upload         multipart `file`, optional `format`, `asset`

Bodies may be gzip- or zstd-encoded. 201 with the counts when stored, 202 when queued.
The agent endpoints take `scan_session` (or `X-Scan-Session`), `asset` and `asset_type`
as query parameters, every report endpoint an `Idempotency-Key` header
(ingest/tasks.py says what they change).
"""

from __future__ import annotations

import base64
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
from rest_framework.request import Request
from rest_framework.response import Response

from agents.api.protocol import AgentApiView
from agents.auth import AgentRequest
from findings.models import Finding
from findings.rules.assets import InvalidAssetIdentifier, normalize_asset
from ingest.body import ReportUploadParser, decode, read_body, too_large
from ingest.chunks import ChunkReceipt, chunk_receive
from ingest.models import Ingest, IngestStatus
from ingest.parsers import shape
from ingest.services import IdempotencyKeyReused, failure, ingest_for_key, ingest_submit
from protocol.limits import LimitExceeded, check_decoding_cost
from protocol.report import ReportError
from rediverio.api_auth import TenantApiView, TenantRequest
from rediverio.api_errors import ApiError
from rediverio.models import Role


class RefusedAssetSerializer(serializers.Serializer):
    identifier = serializers.CharField()
    type = serializers.CharField()
    reason = serializers.ChoiceField(choices=["max_assets"])


class RefusedSerializer(serializers.Serializer):
    assets = RefusedAssetSerializer(
        many=True,
        help_text="New assets the team's plan refused (max_assets); assets that exist are "
        "never refused.",
    )
    findings = serializers.IntegerField(help_text="Findings of refused assets, not stored.")
    dependencies = serializers.IntegerField(help_text="Dependencies of refused assets, not stored.")


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
    # DRF's metaclass takes declared fields off the class: this `errors` is the reply's
    # field, and `Serializer.errors` stays what it is.
    errors = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(),
        help_text="What did not stop the report: a finding whose severity word is unknown "
        "(stored as medium), a report that names no asset (stored on an asset of its own, "
        "resolving nothing)…",
    )
    replay = serializers.BooleanField(
        help_text="True when this request was a retry of a delivery already received (the "
        "same `Idempotency-Key`, or the same agent sending the same report for the same "
        "scan session and asset within the replay window): nothing was stored again, and "
        "this is the first delivery's answer; `ingest_id` names its ingest."
    )
    refused = RefusedSerializer(
        required=False,
        help_text="What the team's plan refused to store; the rest of the report was stored.",
    )


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
    "refused": {"assets": [], "findings": 0, "dependencies": 0},
    "replay": False,
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
    409: OpenApiResponse(
        description="The Idempotency-Key was used for another report (IDEMPOTENCY_KEY_REUSED)."
    ),
    413: OpenApiResponse(description="Larger than INGEST_MAX_BYTES decompressed."),
    415: OpenApiResponse(description="A Content-Encoding other than gzip or zstd."),
}
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


def idempotency_key(request: Request) -> str:
    """The `Idempotency-Key` header: the sender's name for one delivery of a report."""
    key = request.META.get("HTTP_IDEMPOTENCY_KEY", "").strip()
    if key and not IDEMPOTENCY_KEY.match(key):
        message = "must be 1 to 255 printable ASCII characters without spaces"
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            f"Idempotency-Key: {message}",
            {"Idempotency-Key": [message]},
        )
    return key


def validate_asset(attrs: dict) -> dict:
    """`asset` (and `asset_type`) name the asset a report belongs to: refused here, by
    name, rather than as the report's own `targets[0]`."""
    asset, kind = attrs.get("asset"), attrs.get("asset_type")
    if kind and not asset:
        raise serializers.ValidationError({"asset_type": "needs `asset`"})
    if asset:
        try:
            normalize_asset(asset, kind or None)
        except InvalidAssetIdentifier as exc:
            field = "asset_type" if kind and "asset type" in str(exc) else "asset"
            raise serializers.ValidationError({field: str(exc)}) from exc
    return attrs


class DeliveryParams(serializers.Serializer):
    """Query parameters of the agent report endpoints."""

    scan_session = serializers.CharField(required=False, allow_blank=True, max_length=200)
    asset = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    asset_type = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def validate(self, attrs):
        return validate_asset(attrs)


def delivery_options(request: Request) -> dict:
    query = request.query_params
    params = DeliveryParams(
        data={
            "scan_session": query.get("scan_session")
            or request.META.get("HTTP_X_SCAN_SESSION", ""),
            "asset": query.get("asset", ""),
            "asset_type": query.get("asset_type", ""),
        }
    )
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


def ingest_reply(ingest: Ingest) -> Response:
    if ingest.status == IngestStatus.COMPLETED:
        assert ingest.result is not None  # set with the status, in one write
        body = {
            **ingest.result,
            "ingest_id": str(ingest.pk),
            "status": ingest.status,
            "replay": ingest.is_replay,
        }
        return Response(body, status=status.HTTP_201_CREATED)
    if ingest.status == IngestStatus.FAILED:
        error = ingest.error
        assert error is not None  # set with the status, in one write
        code = 413 if error["code"] == "PAYLOAD_TOO_LARGE" else 400
        raise ApiError(code, error["code"], error["message"], error.get("details"))
    return Response(
        {
            "ingest_id": str(ingest.pk),
            "status": ingest.status,
            # Agents ask on the agent API; people who uploaded, on the management API.
            "status_url": f"/api/v1/{'agent/' if ingest.agent_id else ''}ingest/{ingest.pk}",
            "replay": ingest.is_replay,
        },
        status=status.HTTP_202_ACCEPTED,
    )


def refusal(exc: ReportError | LimitExceeded) -> ApiError:
    error = failure(exc)
    code = 413 if isinstance(exc, LimitExceeded) else 400
    return ApiError(code, error["code"], error["message"], error["details"])


def submit(
    raw: bytes, format: str | None, *, tenant, agent=None, user=None, key: str = "", **options
) -> Response:
    try:
        ingest = ingest_submit(
            tenant=tenant,
            raw=raw,
            format=format,
            agent=agent,
            user=user,
            options={k: v for k, v in options.items() if v},
            idempotency_key=key,
        )
    except (ReportError, LimitExceeded) as exc:
        raise refusal(exc) from exc
    except IdempotencyKeyReused as exc:
        raise ApiError(409, "IDEMPOTENCY_KEY_REUSED", str(exc)) from exc
    return ingest_reply(ingest)


class AgentIngestView(AgentApiView):
    format: str | None = None

    def post(self, request: AgentRequest) -> Response:
        agent = request.user
        options, key = delivery_options(request), idempotency_key(request)
        raw = read_body(request)
        return submit(raw, self.format, tenant=agent.tenant, agent=agent, key=key, **options)


DELIVERY_PARAMETERS = [
    OpenApiParameter(
        "scan_session",
        str,
        description="The scan session the report belongs to (or `X-Scan-Session`); by "
        "default the report's own scan id, else a new session. A report that names no "
        "asset belongs to its session's target.",
    ),
    OpenApiParameter(
        "asset",
        str,
        description="The asset the report is about, when the report names none (RIS "
        "`assets`, flat `targets`, SARIF `versionControlProvenance`), e.g. "
        "`github.com/acme/shop`. A report naming no asset, sent with neither this nor a "
        "scan session that has a target, is stored on an asset of its own and resolves "
        "no finding.",
    ),
    OpenApiParameter(
        "asset_type",
        str,
        description="The type of `asset` (repository, domain, container…); guessed from "
        "the identifier when not given.",
    ),
    OpenApiParameter(
        "Idempotency-Key",
        str,
        OpenApiParameter.HEADER,
        description="The sender's name for this delivery (up to 255 printable ASCII "
        "characters). The same key sent again gets the first delivery's answer "
        "(`replay: true`) and stores nothing; a key used for another report is a 409.",
    ),
]


def _ingest_schema(operation: str, summary: str, example: dict | None = None):
    return extend_schema(
        operation_id=operation,
        tags=["agent ingest"],
        summary=summary,
        parameters=DELIVERY_PARAMETERS,
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
    def post(self, request: AgentRequest) -> Response:
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
    def post(self, request: AgentRequest) -> Response:
        return super().post(request)


class AgentIngestSarifApi(AgentIngestView):
    format = "sarif"

    @_ingest_schema("agent_ingest_sarif", "Submit a SARIF 2.1.0 log", SARIF_EXAMPLE)
    def post(self, request: AgentRequest) -> Response:
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
    def post(self, request: AgentRequest) -> Response:
        # Read like a report (compressed as the SDK sends it, up to INGEST_MAX_BYTES):
        # 100,000 fingerprints are well past Django's own 2.5 MB body limit.
        raw = read_body(request)
        try:
            check_decoding_cost(raw)
            document = shape.decode_json(raw)
        except LimitExceeded as exc:
            raise refusal(exc) from exc
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
    def get(self, request: AgentRequest, ingest_id: str) -> Response:
        try:
            ingest = Ingest.objects.for_tenant(request.user.tenant).get(
                pk=ingest_id, agent=request.user
            )
        except (Ingest.DoesNotExist, ValidationError, ValueError) as exc:
            raise ApiError(404, "NOT_FOUND", "No such ingest.") from exc
        return ingest_reply(ingest)


@extend_schema_field(OpenApiTypes.BYTE)
class Base64Field(serializers.CharField):
    """Base64 text (`format: byte`); the view decodes it."""


REPORT_ID = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_CHUNKS = 10_000
# The reference's limit for one chunk (decoded), and so for its request: base64 makes the
# data 4/3 larger, and the rest of the JSON envelope is small.
CHUNK_MAX_BYTES = 10 * 1024 * 1024
CHUNK_BODY_MAX_BYTES = CHUNK_MAX_BYTES * 4 // 3 + 64 * 1024


def chunk_too_large() -> ApiError:
    return too_large(CHUNK_MAX_BYTES, "chunk", "; send the report in more, smaller chunks")


class AgentIngestChunkApi(AgentApiView):
    @extend_schema_serializer(component_name="IngestChunkRequest")
    class InputSerializer(serializers.Serializer):
        report_id = serializers.RegexField(REPORT_ID)
        chunk_index = serializers.IntegerField(min_value=0, max_value=MAX_CHUNKS - 1)
        total_chunks = serializers.IntegerField(min_value=1, max_value=MAX_CHUNKS)
        compression = serializers.ChoiceField(choices=["zstd", "gzip", "none"], default="none")
        # A field, not `Serializer.data`: DRF's metaclass takes declared fields off the class.
        data = Base64Field(  # type: ignore[assignment]
            help_text="Base64 of the (compressed) chunk, at most 10 MB decoded."
        )
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
            "Chunks (at most 10 MB each, decoded) are kept until all `total_chunks` have "
            "arrived, then assembled in `chunk_index` order: either concatenated bytes of "
            "one report, or report fragments — RIS `{tool, metadata, assets, findings, "
            "dependencies}` as the reference SDK sends them (`version` optional), flat or "
            "SARIF — whose lists are merged. The first fragment that has `tool` or "
            "`metadata` gives it; an asset `id` sent in several fragments is one asset; a "
            "flat fragment's `target_index` points into its own `targets`, or, when it has "
            "none, into those of the fragments before it. Send the same `Idempotency-Key` "
            "with every chunk of a report: a final chunk sent again after its report was "
            "stored gets that ingest's answer. Every chunk of a report names the same "
            "`total_chunks` (at most INGEST_MAX_CHUNKS); a report never completed is "
            "deleted after INGEST_CHUNK_TTL_SECONDS."
        ),
        parameters=DELIVERY_PARAMETERS,
        request=InputSerializer,
        responses={
            201: IngestResultSerializer,
            202: OpenApiTypes.OBJECT,
            **ERRORS,
            413: OpenApiResponse(
                description="A chunk over 10 MB, or chunks adding up to more than INGEST_MAX_BYTES."
            ),
            429: OpenApiResponse(
                description="The agent has too many reports half sent or too many bytes "
                "waiting, or its team has (INGEST_AGENT_OPEN_REPORTS, "
                "INGEST_AGENT_PENDING_BYTES, INGEST_TEAM_PENDING_BYTES); `Retry-After` says "
                "when to send again."
            ),
        },
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
    def post(self, request: AgentRequest) -> Response:
        agent = request.user
        options, key = delivery_options(request), idempotency_key(request)
        if key:
            try:
                earlier = ingest_for_key(tenant=agent.tenant, idempotency_key=key, agent=agent)
            except IdempotencyKeyReused as exc:
                raise ApiError(409, "IDEMPOTENCY_KEY_REUSED", str(exc)) from exc
            if earlier is not None:
                return ingest_reply(earlier)
        # Read here, not through request.data (whose parser reads under INGEST_MAX_BYTES):
        # a chunk has its own limit, and a 10 MB chunk is 13.4 MB of JSON once in base64.
        try:
            raw = read_body(request, CHUNK_BODY_MAX_BYTES)
            check_decoding_cost(raw)
            document = shape.decode_json(raw)
        except LimitExceeded as exc:
            raise refusal(exc) from exc
        except ReportError as exc:
            raise ApiError(400, "VALIDATION_ERROR", str(exc)) from exc
        except ApiError as exc:
            if exc.status_code != 413:
                raise
            raise chunk_too_large() from exc
        body = self.InputSerializer(data=document)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            packed = base64.b64decode(data["data"], validate=True)
        except ValueError as exc:  # binascii.Error, or a character outside ASCII
            raise ApiError(
                400, "VALIDATION_ERROR", f"data: not base64 ({exc})", {"data": [str(exc)]}
            ) from exc
        if len(packed) > CHUNK_MAX_BYTES:
            raise chunk_too_large()
        encoding = "" if data["compression"] == "none" else data["compression"]
        try:
            chunk_bytes = decode(packed, encoding, CHUNK_MAX_BYTES)
        except ApiError as exc:
            if exc.status_code != 413:
                raise
            raise chunk_too_large() from exc
        with transaction.atomic():
            stored = chunk_receive(
                agent=agent,
                report_id=data["report_id"],
                index=data["chunk_index"],
                total=data["total_chunks"],
                data=chunk_bytes,
                is_final=data["is_final"],
            )
            if isinstance(stored, ChunkReceipt):
                return Response(
                    {
                        "chunk_id": stored.chunk_id,
                        "report_id": data["report_id"],
                        "chunk_index": data["chunk_index"],
                        "status": "accepted",
                        "received": stored.received,
                        "total_chunks": data["total_chunks"],
                    },
                    status=status.HTTP_202_ACCEPTED,
                )
            return submit(
                stored, data["format"], tenant=agent.tenant, agent=agent, key=key, **options
            )


class IngestUploadApi(TenantApiView):
    required_module = "scans"
    write_role = Role.MEMBER
    parser_classes = [ReportUploadParser]

    @extend_schema_serializer(component_name="ReportUploadRequest")
    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        format = serializers.CharField(required=False, allow_blank=True)
        asset = serializers.CharField(required=False, allow_blank=True, max_length=1024)
        asset_type = serializers.CharField(required=False, allow_blank=True, max_length=64)
        coverage = serializers.ChoiceField(
            choices=["full", "partial", "incremental"], required=False
        )

        def validate(self, attrs):
            return validate_asset(attrs)

    @extend_schema(
        operation_id="ingest_upload",
        tags=["ingest"],
        summary="Upload a scanner report (any known format, detected when not named)",
        description=(
            "`asset` (and `asset_type`) name the asset a report that names none is about; "
            "without them such a report is stored on an asset of its own and resolves no "
            "finding. The same file uploaded twice is processed twice, unless both carry "
            "the same `Idempotency-Key`."
        ),
        parameters=[p for p in DELIVERY_PARAMETERS if p.name == "Idempotency-Key"],
        request={"multipart/form-data": InputSerializer},
        responses={201: IngestResultSerializer, 202: OpenApiTypes.OBJECT, **ERRORS},
    )
    def post(self, request: TenantRequest) -> Response:
        key = idempotency_key(request)
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
            key=key,
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
    def get(self, request: TenantRequest, ingest_id: str) -> Response:
        try:
            ingest = Ingest.objects.for_tenant(request.tenant).get(pk=ingest_id)
        except (Ingest.DoesNotExist, ValidationError, ValueError) as exc:
            raise ApiError(404, "NOT_FOUND", "No such ingest.") from exc
        return ingest_reply(ingest)
