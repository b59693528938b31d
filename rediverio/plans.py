"""Plans: what each tenant plan includes (limits and modules).

A limit of -1 means unlimited. A tenant's `limits_override` and `modules_override`
win over its plan, so an operator can grant one team more agents without a new plan.

Each limit is checked where its rows are created, with the tenant row locked so that
two creations at once cannot both take the last place: `agent_limit` in
agents/services.py `agent_create`, `max_scans` in scans/services.py `_scan_insert`,
`max_assets` in findings/services.py `assets_allowance` (asset_get_or_create, and
ingest, which stores the rest of a report and says what it refused), `max_members` in
rediverio/services.py `membership_grant`. The Django admin is exempt: operators grant
what a plan does not.
"""

from __future__ import annotations

from typing import Final

UNLIMITED: Final = -1

MODULES: Final = (
    "dashboard",
    "assets",
    "findings",
    "components",
    "scans",
    "agents",
    "exposures",
    "integrations",
    "api",
    "audit",
    "sso",
)

_CORE = ("dashboard", "assets", "findings", "components")
_SCANNING = (*_CORE, "scans", "agents", "api")

PLANS: Final[dict[str, dict]] = {
    "free": {
        "limits": {"agent_limit": 0, "max_scans": 0, "max_assets": 50, "max_members": 3},
        "modules": _CORE,
    },
    "team": {
        "limits": {"agent_limit": 5, "max_scans": 50, "max_assets": 1_000, "max_members": 10},
        "modules": (*_SCANNING, "integrations"),
    },
    "business": {
        "limits": {"agent_limit": 25, "max_scans": 500, "max_assets": 10_000, "max_members": 50},
        "modules": (*_SCANNING, "integrations", "exposures", "audit"),
    },
    "enterprise": {
        "limits": {
            "agent_limit": UNLIMITED,
            "max_scans": UNLIMITED,
            "max_assets": UNLIMITED,
            "max_members": UNLIMITED,
        },
        "modules": MODULES,
    },
}

LIMIT_NAMES: Final = tuple(PLANS["free"]["limits"])
