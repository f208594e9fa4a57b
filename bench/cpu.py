"""CPU time of processes, from ``/proc`` (Linux): user + system seconds of a process and
of the processes it spawned (the hub's intake workers), so the bench can say what the
hub itself spends per change apart from the mocks and the load generator."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def own(pid: int) -> float:
    """User + system seconds of ``pid`` (its threads included), 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def with_children(pid: int) -> list[int]:
    """``pid`` and the processes it has spawned now (the hub's intake workers)."""
    return [pid, *children(pid)]


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


class Meter:
    """CPU seconds of named groups of processes between ``start`` and ``stop`` (a
    process's own, its threads included; its children count only where a group lists
    them, see ``with_children``)."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: sum(own(p) for p in pids) for name, pids in self.groups.items()}

    def start(self) -> None:
        self.before = self._now()

    def stop(self) -> dict[str, float]:
        """Seconds each group spent since ``start``."""
        now = self._now()
        return {name: now[name] - self.before[name] for name in now}
