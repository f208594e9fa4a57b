"""Anchors of the operation log: its head (id and chain hash) written, now and then,
outside the database — a file only ever appended to, one JSON line per anchor, each
flushed to the disk — so that entries cut off the end of the log, or a chain rewritten
with fresh hashes, can be told from the real one (``hub.domain.audit.verify``).  Keep a
copy elsewhere too (the metric ``jukihub_audit_anchor_info`` carries the same digest
to Prometheus, which keeps its history)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Anchor:
    """The chain's head at a moment."""

    at: float
    id: int
    hash: str


def append(path: Path, anchor: Anchor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"at": anchor.at, "id": anchor.id, "hash": anchor.hash}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path) -> list[Anchor]:
    """Every anchor in the file (none if it does not exist); a line that is not an
    anchor raises ``ValueError`` naming its number."""
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            out.append(Anchor(float(obj["at"]), int(obj["id"]), str(obj["hash"])))
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}: line {n} is not an anchor") from None
    return out
