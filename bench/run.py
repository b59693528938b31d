"""`make bench`: run every bench/bench_*.py and print one JSON document.

Each module exposes `run() -> dict`; its result is keyed by the module's short name.
Benchmarks measure; they never fail a build (goals are compared by people, in review).
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main(selected: list[str]) -> None:
    results: dict[str, dict[str, Any]] = {
        "machine": {
            "python": platform.python_version(),
            "cpu_count": __import__("os").cpu_count(),
            "platform": platform.platform(),
        }
    }
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if selected and name not in selected:
            continue
        module = importlib.import_module(f"bench.{path.stem}")
        started = time.perf_counter()
        results[name] = module.run()
        results[name]["bench_seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
