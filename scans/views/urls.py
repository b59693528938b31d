from __future__ import annotations

from scans.views import pages, wizard

app_name = "scans"

urlpatterns = [*wizard.urlpatterns, *pages.urlpatterns]
