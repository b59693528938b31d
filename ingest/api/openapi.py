"""The OpenAPI documentation of the ingest endpoints: one `extend_schema` per operation,
with its examples, parameters and replies.

Kept apart from ingest/api/views.py so that a reader of the views sees behaviour; each
view method wears one of these as its single decorator. Grouped by view, in the views'
order.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)

from ingest.api.serializers import (
    FingerprintCheckReplySerializer,
    FingerprintCheckRequestSerializer,
    IngestChunkRequestSerializer,
    IngestResultSerializer,
    ReportUploadRequestSerializer,
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


# AgentIngestApi

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
agent_ingest = _ingest_schema(
    "agent_ingest", "Submit findings in the flat format (or RIS)", FLAT_EXAMPLE
)


# AgentIngestRisApi

RIS_EXAMPLE = {
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
}
agent_ingest_ris = _ingest_schema(
    "agent_ingest_ris",
    'Submit a RIS 1.0 report (plain or wrapped in {"report": …})',
    RIS_EXAMPLE,
)


# AgentIngestSarifApi

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
agent_ingest_sarif = _ingest_schema("agent_ingest_sarif", "Submit a SARIF 2.1.0 log", SARIF_EXAMPLE)


# AgentIngestCheckApi

agent_ingest_check = extend_schema(
    operation_id="agent_ingest_check",
    tags=["agent ingest"],
    summary="Which of these fingerprints the tenant already has (one query)",
    request=FingerprintCheckRequestSerializer,
    responses={200: FingerprintCheckReplySerializer, **ERRORS},
    examples=[
        OpenApiExample("Ask", request_only=True, value={"fingerprints": ["a1b2…", "c3d4…"]}),
        OpenApiExample(
            "Answer", response_only=True, value={"existing": ["a1b2…"], "missing": ["c3d4…"]}
        ),
    ],
)


# AgentIngestStatusApi

agent_ingest_status = extend_schema(
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


# AgentIngestChunkApi

agent_ingest_chunk = extend_schema(
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
    request=IngestChunkRequestSerializer,
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


# IngestUploadApi

ingest_upload = extend_schema(
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
    request={"multipart/form-data": ReportUploadRequestSerializer},
    responses={201: IngestResultSerializer, 202: OpenApiTypes.OBJECT, **ERRORS},
)


# IngestStatusApi

ingest_status = extend_schema(
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
