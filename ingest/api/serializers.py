"""Wire shapes of the ingest endpoints (ingest/api/views.py).

A class's name, less `Serializer`, is its component's name in the OpenAPI schema
(`Request` is added to request bodies), so renaming one renames a component.
"""

from __future__ import annotations

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from findings.rules.assets import InvalidAssetIdentifier, normalize_asset
from ingest.models import IngestStatus


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


class FingerprintCheckRequestSerializer(serializers.Serializer):
    fingerprints = serializers.ListField(
        child=serializers.CharField(max_length=512), max_length=100_000
    )


class FingerprintCheckReplySerializer(serializers.Serializer):
    existing = serializers.ListField(child=serializers.CharField())
    missing = serializers.ListField(child=serializers.CharField())


@extend_schema_field(OpenApiTypes.BYTE)
class Base64Field(serializers.CharField):
    """Base64 text (`format: byte`); the view decodes it."""


REPORT_ID = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_CHUNKS = 10_000


class IngestChunkRequestSerializer(serializers.Serializer):
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


class ReportUploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.CharField(required=False, allow_blank=True)
    asset = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    asset_type = serializers.CharField(required=False, allow_blank=True, max_length=64)
    coverage = serializers.ChoiceField(choices=["full", "partial", "incremental"], required=False)

    def validate(self, attrs):
        return validate_asset(attrs)
