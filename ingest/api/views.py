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
from uuid import UUID

from django.conf import settings
from django.db import transaction
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.auth import AgentApiView, AgentRequest
from findings.models import Finding
from ingest.api import openapi
from ingest.api.serializers import (
    DeliveryParams,
    FingerprintCheckRequestSerializer,
    IngestChunkRequestSerializer,
    ReportUploadRequestSerializer,
)
from ingest.chunks import ChunkReceipt, chunk_receive
from ingest.models import Ingest, IngestStatus
from ingest.parsers import shape
from ingest.services import ingest_for_key, ingest_submit
from protocol.limits import check_decoding_cost
from rediverio.api_auth import TenantApiView, TenantRequest
from rediverio.api_errors import ApiError
from rediverio.body import ReportUploadParser, decode, read_body, too_large
from rediverio.models import Role
from rediverio.tenancy import get_for_tenant_or_404

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


def submit(
    raw: bytes, format: str | None, *, tenant, agent=None, user=None, key: str = "", **options
) -> Response:
    ingest = ingest_submit(
        tenant=tenant,
        raw=raw,
        format=format,
        agent=agent,
        user=user,
        options={k: v for k, v in options.items() if v},
        idempotency_key=key,
    )
    return ingest_reply(ingest)


class AgentIngestView(AgentApiView):
    format: str | None = None

    def post(self, request: AgentRequest) -> Response:
        agent = request.user
        options, key = delivery_options(request), idempotency_key(request)
        raw = read_body(request)
        return submit(raw, self.format, tenant=agent.tenant, agent=agent, key=key, **options)


class AgentIngestApi(AgentIngestView):
    format = "flat"

    @openapi.agent_ingest
    def post(self, request: AgentRequest) -> Response:
        return super().post(request)


class AgentIngestRisApi(AgentIngestView):
    format = "ris"

    @openapi.agent_ingest_ris
    def post(self, request: AgentRequest) -> Response:
        return super().post(request)


class AgentIngestSarifApi(AgentIngestView):
    format = "sarif"

    @openapi.agent_ingest_sarif
    def post(self, request: AgentRequest) -> Response:
        return super().post(request)


class AgentIngestCheckApi(AgentApiView):
    InputSerializer = FingerprintCheckRequestSerializer

    @openapi.agent_ingest_check
    def post(self, request: AgentRequest) -> Response:
        # Read like a report (compressed as the SDK sends it, up to INGEST_MAX_BYTES):
        # 100,000 fingerprints are well past Django's own 2.5 MB body limit.
        raw = read_body(request)
        check_decoding_cost(raw)
        document = shape.decode_json(raw)
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
    @openapi.agent_ingest_status
    def get(self, request: AgentRequest, ingest_id: UUID) -> Response:
        ingest = get_for_tenant_or_404(
            Ingest.objects.all(), request.user.tenant, ingest_id, agent=request.user
        )
        return ingest_reply(ingest)


# The reference's limit for one chunk (decoded), and so for its request: base64 makes the
# data 4/3 larger, and the rest of the JSON envelope is small.
CHUNK_MAX_BYTES = 10 * 1024 * 1024
CHUNK_BODY_MAX_BYTES = CHUNK_MAX_BYTES * 4 // 3 + 64 * 1024


def chunk_too_large() -> ApiError:
    return too_large(CHUNK_MAX_BYTES, "chunk", "; send the report in more, smaller chunks")


class AgentIngestChunkApi(AgentApiView):
    InputSerializer = IngestChunkRequestSerializer

    @openapi.agent_ingest_chunk
    def post(self, request: AgentRequest) -> Response:
        agent = request.user
        options, key = delivery_options(request), idempotency_key(request)
        if key:
            earlier = ingest_for_key(tenant=agent.tenant, idempotency_key=key, agent=agent)
            if earlier is not None:
                return ingest_reply(earlier)
        # Read here, not through request.data (whose parser reads under INGEST_MAX_BYTES):
        # a chunk has its own limit, and a 10 MB chunk is 13.4 MB of JSON once in base64.
        try:
            raw = read_body(request, CHUNK_BODY_MAX_BYTES)
        except ApiError as exc:
            if exc.status_code != 413:
                raise
            raise chunk_too_large() from exc
        check_decoding_cost(raw)
        document = shape.decode_json(raw)
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
    InputSerializer = ReportUploadRequestSerializer

    @openapi.ingest_upload
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

    @openapi.ingest_status
    def get(self, request: TenantRequest, ingest_id: UUID) -> Response:
        ingest = get_for_tenant_or_404(Ingest.objects.all(), request.tenant, ingest_id)
        return ingest_reply(ingest)
