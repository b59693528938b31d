"""The rules are shared with the agent program, which has no Django installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

MODULES = (
    "findings.rules.severity",
    "findings.rules.categories",
    "findings.rules.fingerprint",
    "findings.rules.assets",
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


def test_the_rules_import_no_django_and_no_models():
    # A fresh interpreter: this test process has Django loaded by the test runner.
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
