"""The agents pages' addresses; the project URLconf mounts them under /agents/."""

from __future__ import annotations

from django.urls import path

from agents import views

app_name = "agents"

urlpatterns = [
    path("", views.agents_page, name="list"),
    path("register/", views.agent_register, name="register"),
    path("<uuid:agent_id>/", views.agent_page, name="detail"),
    path("<uuid:agent_id>/disable/", views.agent_disable, name="disable"),
    path("<uuid:agent_id>/enable/", views.agent_enable, name="enable"),
    path("<uuid:agent_id>/revoke/", views.agent_revoke, name="revoke"),
]
