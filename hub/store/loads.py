"""The initial load's tables: ``initial_loads`` (a file, by its SHA-256, and the last
line committed) and ``initial_load_refusals`` (the rows it refused, by line).

A load commits each batch of rows with its progress and its refusals in the same
transaction (``hub.domain.initial_load``), so an interrupted load goes on exactly where
its last commit left it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.store.base import Db, Sql, chunks, named


@dataclass(frozen=True, slots=True)
class LoadState:
    load_id: int
    file_name: str
    operator_id: str
    started_at: float
    finished_at: float | None
    line: int        # the last line of the file committed
    accepted: int
    refused: int


@dataclass(frozen=True, slots=True)
class LoadRefusal:
    line: int
    code: str
    item: str | None
    message: str


_STATE = ("load_id, file_name, operator_id, started_at, finished_at, line, accepted, "
          "refused")


class LoadStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._by_digest = sql.text(f"SELECT {_STATE} FROM initial_loads WHERE file_digest = ?")
        self._insert_refusal = sql.insert("initial_load_refusals",
                                          ("load_id", "line", "code", "item", "message"))

    @named("loads.find")
    def find(self, db: Db, digest: str) -> LoadState | None:
        row = db.row(self._by_digest, (digest,))
        return LoadState(*row) if row is not None else None

    @named("loads.start")
    def start(self, db: Db, digest: str, file_name: str, operator_id: str,
              now: float) -> LoadState:
        db.run(self.sql.text(
            "INSERT INTO initial_loads (file_digest, file_name, operator_id, started_at, "
            "line, accepted, refused) VALUES (?, ?, ?, ?, 0, 0, 0)"),
            (digest, file_name[:255], operator_id[:40], now))
        found = self.find(db, digest)
        assert found is not None
        return found

    @named("loads.progress")
    def progress(self, db: Db, load_id: int, line: int, accepted: int, refused: int,
                 refusals: Sequence[LoadRefusal], finished_at: float | None = None) -> None:
        """A batch's part: how far the file is loaded, the counts, its refused rows."""
        db.run(self.sql.text(
            "UPDATE initial_loads SET line = ?, accepted = ?, refused = ?, finished_at = ? "
            "WHERE load_id = ?"), (line, accepted, refused, finished_at, load_id))
        db.insert(self._insert_refusal,
                  [(load_id, r.line, r.code, r.item, r.message[:200]) for r in refusals])

    @named("loads.refusals")
    def refusals(self, db: Db, load_id: int, after_line: int = 0,
                 limit: int = 10_000) -> list[LoadRefusal]:
        """Refused rows in line order, a page at a time."""
        return [LoadRefusal(*r) for r in db.rows(self.sql.text(
            "SELECT line, code, item, message FROM initial_load_refusals WHERE load_id = ? "
            "AND line > ? ORDER BY line LIMIT ?"), (load_id, after_line, limit))]

    @named("loads.used_update_seqs")
    def used_update_seqs(self, db: Db, seqs: Sequence[int]) -> set[int]:
        """Which of these 更新順番号 the register has used already."""
        used: set[int] = set()
        for part in chunks(seqs):
            used.update(r[0] for r in db.rows(
                f"SELECT update_seq FROM identity_records WHERE update_seq IN "
                f"({self.sql.marks(len(part))})", part))
        return used
