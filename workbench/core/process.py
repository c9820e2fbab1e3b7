"""Is a process (of this host) still alive? For runs and reports left "running" by a killed process.

`os.kill(pid, 0)` alone is not enough: a killed child can linger as a zombie until its parent
reaps it, and a pid can be reused by an unrelated process started later. When in doubt: alive.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from workbench.core import clock


def process_alive(pid: int, *, started_before: datetime | None = None) -> bool:
    """Whether `pid` runs, and (when `started_before` is given) is the process that existed then."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (another user's process)
    state, process_started = _proc_stat(pid)
    if state == "Z":
        return False  # killed, not yet reaped by its parent
    if process_started is None or started_before is None:
        return True
    return process_started <= started_before + timedelta(seconds=2)  # later: the pid was reused


def _proc_stat(pid: int) -> tuple[str, datetime | None]:
    """Linux: a process's state letter and start time (`("", None)` when unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime ")
        )
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state is field 3
        ticks = int(fields[19])  # field 22: start time in clock ticks since boot
        started = clock.from_epoch(boot + ticks / os.sysconf("SC_CLK_TCK"))
        return fields[0], started
    except (OSError, ValueError, IndexError, StopIteration):
        return "", None
