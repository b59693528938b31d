"""Throughput of the shared domain rules every ingested finding goes through.

An ingest of 100,000 findings computes a fingerprint and a severity for each, and
normalises each target: these must cost microseconds, not milliseconds.
"""

from __future__ import annotations

import time

from findings.rules.assets import normalize_asset
from findings.rules.fingerprint import FingerprintInput, compute_fingerprint
from findings.rules.severity import normalize_severity

N = 100_000


def _rate(label: str, items: list, work) -> dict:
    started = time.perf_counter()
    for item in items:
        work(item)
    elapsed = time.perf_counter() - started
    return {f"{label}_per_second": round(len(items) / elapsed), f"{label}_seconds": elapsed}


def run() -> dict:
    findings = [
        FingerprintInput(
            rule_id=f"python.lang.security.rule-{i % 97}",
            path=f"src/module_{i % 50}/file_{i % 311}.py",
            start_line=i % 2000 + 1,
            end_line=i % 2000 + 3,
        )
        for i in range(N)
    ]
    packages = [
        FingerprintInput(package=f"pkg-{i % 900}", version=f"1.{i % 40}.0", vuln_id=f"CVE-2024-{i}")
        for i in range(N)
    ]
    words = ["ERROR", "warning", "High", "moderate", "INFO", "critical", "note", "LOW"] * (N // 8)
    spellings = (
        "https://github.com/Org/Repo-{}.git",
        "git@gitlab.com:group/sub/project-{}.git",
        "arn:aws:iam::{:012d}:root",
    )
    targets = [spellings[i % 3].format(i % 500) for i in range(N // 10)]
    result = {"n": N}
    result.update(_rate("sast_fingerprints", findings, compute_fingerprint))
    result.update(_rate("sca_fingerprints", packages, compute_fingerprint))
    result.update(_rate("severities", words, normalize_severity))
    result.update(_rate("asset_identifiers", targets, normalize_asset))
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}
