"""The ingest API's addresses: reports from agents and uploads by people; the project
URLconf mounts them under /api/v1/."""

from __future__ import annotations

from django.urls import path

from ingest.api import views

urlpatterns = [
    path("agent/ingest", views.AgentIngestApi.as_view(), name="agent-ingest"),
    path("agent/ingest/ris", views.AgentIngestRisApi.as_view(), name="agent-ingest-ris"),
    path("agent/ingest/sarif", views.AgentIngestSarifApi.as_view(), name="agent-ingest-sarif"),
    path("agent/ingest/check", views.AgentIngestCheckApi.as_view(), name="agent-ingest-check"),
    path("agent/ingest/chunk", views.AgentIngestChunkApi.as_view(), name="agent-ingest-chunk"),
    path(
        "agent/ingest/<uuid:ingest_id>",
        views.AgentIngestStatusApi.as_view(),
        name="agent-ingest-status",
    ),
    path("ingest/upload", views.IngestUploadApi.as_view(), name="ingest-upload"),
    path("ingest/<uuid:ingest_id>", views.IngestStatusApi.as_view(), name="ingest-status"),
]
