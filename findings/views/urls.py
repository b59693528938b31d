from __future__ import annotations

from findings.views import pages

app_name = "findings"

urlpatterns = pages.urlpatterns
