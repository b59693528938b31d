"""Plans: what each tenant plan includes (limits and modules).

A limit of -1 means unlimited. A tenant's `limits_override` and `modules_override`
win over its plan, so an operator can grant one team more agents without a new plan.
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
