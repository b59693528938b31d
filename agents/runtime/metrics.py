"""CPU and memory use of this machine for the heartbeat, from /proc (no psutil).

CPU is the busy share of all cores since the previous reading; on the first reading, or
where /proc/stat is missing (macOS), the one-minute load average per core stands in.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

_PROC_STAT = Path("/proc/stat")
_PROC_MEMINFO = Path("/proc/meminfo")


class CpuMeter:
    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def percent(self) -> float:
        sample = _cpu_sample()
        with self._lock:
            previous, self._last = self._last, sample
        if sample is not None and previous is not None:
            busy = sample[0] - previous[0]
            total = sample[1] - previous[1]
            if total > 0:
                return round(max(0.0, min(100.0, 100.0 * busy / total)), 1)
        return load_percent()


def _cpu_sample() -> tuple[int, int] | None:
    try:
        line = _PROC_STAT.read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    values = [int(v) for v in line.split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user time
    return total - idle, total


def load_percent() -> float:
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 0.0
    return round(min(100.0, 100.0 * load / (os.cpu_count() or 1)), 1)


def memory_percent() -> float:
    try:
        info = {}
        for line in _PROC_MEMINFO.read_text().splitlines():
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0])
        total, available = info["MemTotal"], info["MemAvailable"]
    except (OSError, KeyError, ValueError, IndexError):
        return 0.0
    return round(100.0 * (total - available) / total, 1) if total else 0.0


def disk_free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0
