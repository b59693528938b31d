"""The scans pages' addresses (the scans list, the wizard, runs and sessions) and the
scan profiles pages'; the project URLconf mounts them under /scans/ and /profiles/,
each with its own namespace."""

from __future__ import annotations

from django.urls import path

from scans.views import pages, profiles, wizard

app_name = "scans"

urlpatterns = [
    path("", pages.scans_page, name="list"),
    path("<uuid:scan_id>/trigger/", pages.scan_trigger_view, name="trigger"),
    path("<uuid:scan_id>/pause/", pages.scan_pause_view, name="pause"),
    path("<uuid:scan_id>/activate/", pages.scan_activate_view, name="activate"),
    path("<uuid:scan_id>/delete/", pages.scan_delete_view, name="delete"),
    path("new/", wizard.new, name="new"),
    path("new/<uuid:draft_id>/basic/", wizard.basic, name="wizard-basic"),
    path("new/<uuid:draft_id>/targets/", wizard.targets, name="wizard-targets"),
    path("new/<uuid:draft_id>/options/", wizard.options, name="wizard-options"),
    path("new/<uuid:draft_id>/schedule/", wizard.schedule, name="wizard-schedule"),
    path(
        "new/<uuid:draft_id>/schedule/preview/",
        wizard.schedule_preview,
        name="wizard-schedule-preview",
    ),
    path("new/<uuid:draft_id>/review/", wizard.review, name="wizard-review"),
    path("runs/", pages.runs_page, name="runs"),
    path("runs/<uuid:session_id>/", pages.session_page_moved, name="session_moved"),
    path("sessions/<uuid:session_id>/", pages.session_page, name="session"),
    path("sessions/<uuid:session_id>/stop/", pages.session_stop_view, name="session_stop"),
    path("sessions/<uuid:session_id>/retry/", pages.session_retry_view, name="session_retry"),
]

profile_urlpatterns = [
    path("", profiles.profiles_page, name="list"),
    path("<uuid:profile_id>/", profiles.profile_page, name="detail"),
]
