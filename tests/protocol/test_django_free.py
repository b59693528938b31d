"""The shared rules and the parsers go with the agent program, which has no Django.

Every module of `protocol/`, `findings/rules/` and `ingest/parsers/` is
imported in a fresh interpreter (this test process has Django loaded by the test
runner): none may bring in Django or a models module. New modules are covered as they
are added.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("protocol", "findings/rules", "ingest/parsers")

MODULES = tuple(
    ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
    for package in PACKAGES
    for path in sorted((REPO_ROOT / package).glob("*.py"))
    if path.name != "__init__.py"
)

PROBE = f"""
import sys
for name in {MODULES!r}:
    __import__(name)
leaked = sorted(m for m in sys.modules if m.startswith("django"))
assert not leaked, leaked
models = sorted(m for m in sys.modules if m.endswith(".models"))
assert not models, models
print("ok")
"""


def test_the_probe_covers_the_rules_and_the_parsers():
    assert "protocol.capabilities" in MODULES
    assert "ingest.parsers.trufflehog3" in MODULES


def test_the_rules_and_parsers_import_no_django_and_no_models():
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "", "PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
