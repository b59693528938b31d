"""Dashboard pages at scale on PostgreSQL: with 1,000,000 findings in one team, the
server time of the findings list (default sort, a severity filter, the next keyset
page), a finding's page, the scans page and the runs page.

The rows are made by one INSERT … SELECT FROM generate_series (fast, and realistic
enough: 200 assets, 5 tools, 97 rules, every severity and status). Timing is in-process
through Django's test client (no network), median and p95 over repeated requests.

Run alone: `.venv/bin/python bench/run.py dashboard` (BENCH_FINDINGS to change the size).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from bench.common import migrated_env, run_child

FINDINGS = int(os.environ.get("BENCH_FINDINGS", "1000000"))
REPEAT = 15
GOALS = {"goal_page_ms": 200}

SEED_SQL = """
INSERT INTO findings (
    id, tenant_id, asset_id, fingerprint, partial_fingerprints, finding_type,
    source_category, tool_name, tool_version, rule_id, rule_name, title, description,
    severity, status, file_path, start_line, end_line, snippet, url, cve_id, cwe_ids,
    cvss_vector, package_name, package_version, fixed_version, "references", metadata,
    first_seen_at, last_seen_at, resolved_at, reopen_count, occurrence_count,
    created_at, updated_at
)
SELECT
    gen_random_uuid(), %(tenant)s, (%(assets)s::uuid[])[1 + (n %% 200)], md5(n::text), '{}',
    'vulnerability', 'sast', (ARRAY['semgrep','bandit','trivy','gitleaks','checkov'])[1 + n %% 5],
    '1.0', 'rule-' || (n %% 97), '', 'Problem number ' || n || ' in module ' || (n %% 311),
    'A description of the problem.',
    (ARRAY['critical','high','medium','low','info'])[1 + n %% 5],
    CASE WHEN n %% 10 = 0 THEN 'resolved' WHEN n %% 17 = 0 THEN 'false_positive' ELSE 'new' END,
    'src/pkg_' || (n %% 40) || '/module_' || (n %% 311) || '.py', 1 + n %% 3000, 1 + n %% 3000,
    'cursor.execute(query)', '', '', '["CWE-89"]', '', '', '', '', '[]', '{}',
    now() - (n %% 90) * interval '1 day', now() - (n %% 30) * interval '1 hour',
    CASE WHEN n %% 10 = 0 THEN now() ELSE NULL END, 0, 1 + n %% 4, now(), now()
FROM generate_series(1, %(count)s) AS n
"""


def worker() -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rediverio.settings")
    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from findings.models import Asset, Finding
    from rediverio.models import Membership, Role
    from rediverio.services import tenant_create
    from scans.models import Scan, ScanSession

    tenant = tenant_create(slug=f"dash-{time.time_ns()}", name="Bench", plan="enterprise")
    user = User.objects.create_user(username=f"bench-{time.time_ns()}", password="x")
    Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
    assets = Asset.objects.bulk_create(
        Asset(tenant=tenant, type="repository", identifier=f"github.com/bench/s{i}", name=f"s{i}")
        for i in range(200)
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            SEED_SQL,
            {"tenant": tenant.pk, "assets": [a.pk for a in assets], "count": FINDINGS},
        )
        cursor.execute("ANALYZE findings")
    seeded = time.perf_counter() - started
    scans = Scan.objects.bulk_create(
        Scan(tenant=tenant, name=f"scan-{i}", scanner_name="semgrep") for i in range(100)
    )
    ScanSession.objects.bulk_create(
        ScanSession(tenant=tenant, scan=scans[i % 100], scanner_name="semgrep", status="completed")
        for i in range(5000)
    )

    client = Client()
    client.force_login(user)
    one = Finding.objects.for_tenant(tenant).order_by("-last_seen_at").first()
    assert one is not None  # seeded above
    first_page = client.get("/findings/")
    page = first_page.context.get("page") if first_page.context else None
    next_link = page.next_cursor if page else None
    pages = {
        "findings_list": "/findings/",
        "findings_list_high_open": "/findings/?severity=high&status=new",
        "findings_list_next_page": f"/findings/?after={next_link}" if next_link else "/findings/",
        "finding_page": f"/findings/{one.pk}/",
        "scans_page": "/scans/",
        "runs_page": "/scans/runs/",
    }
    out = {"findings": FINDINGS, "seed_seconds": round(seeded, 1)}
    for name, url in pages.items():
        timings = []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        timings.sort()
        out[f"{name}_p50_ms"] = round(statistics.median(timings), 1)
        out[f"{name}_p95_ms"] = round(timings[int(0.95 * (len(timings) - 1))], 1)
    return out


def run() -> dict:
    env = migrated_env("rediverio_bench_dashboard", ALLOWED_HOSTS="testserver")
    return {
        "database": "postgresql",
        **GOALS,
        **run_child("bench.bench_dashboard", env, "--worker"),
        "limits": "In-process test client (no HTTP, no network), one team holding every "
        "finding, PostgreSQL on the same 2 cores; pages render their first 50 rows.",
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        print(json.dumps(worker()))
    else:
        print(json.dumps(run(), indent=2))
