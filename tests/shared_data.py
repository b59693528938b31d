"""Where the tests find the real scanner reports: `<repository root>/../shared/data`.

Named once, relative to this checkout, so the suite runs wherever the repository and its
`shared` sibling are put; no test names a folder of one machine.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT.parent / "shared" / "data"


def data_file(relative: str) -> Path:
    path = DATA / relative
    assert path.is_file(), f"missing shared test report {path}"
    return path


def read(relative: str) -> bytes:
    return data_file(relative).read_bytes()
