"""The production topology on one machine, for `make prod-smoke` and the soak test."""

from __future__ import annotations
