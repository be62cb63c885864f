"""One line naming the machine a benchmark ran on, shared by the bench scripts."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe_machine(*extras: str) -> str:
    """CPU model, cores, memory, OS and Python, then the given extras (library versions...)."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    parts = [cpu, f"{os.cpu_count()} cores", f"{memory:.0f} GiB RAM",
             f"{platform.system()} {platform.release()}", f"Python {platform.python_version()}"]
    return ", ".join(parts + [e for e in extras if e])
