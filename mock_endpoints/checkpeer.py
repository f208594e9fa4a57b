"""The peer's side of a consistency check (本人確認情報整合), shared by the mock
prefectural and national servers.

Each ``ConsistencyChunk`` is compared record by record with the mock's own copy, in the
transaction that applies it; what was seen and what differs go to SQLite tables, so a
check of any size needs no memory beyond one chunk.  The final chunk adds the records
the mock holds for the city that the hub did not send, and queues the
``ConsistencyResult`` push (sent after the commit).  A chunk out of order, or a final
total that does not match what arrived, is refused permanently.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mock_endpoints.base import Refusal
from protocols.consistency import (
    MAX_DIFFERENCES,
    CheckRecord,
    ConsistencyChunk,
    ConsistencyResult,
    Difference,
    compare,
    encode_result,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS check_runs (
    check_id TEXT PRIMARY KEY, chunks INTEGER NOT NULL, compared INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS check_seen (
    check_id TEXT NOT NULL, resident_code TEXT NOT NULL, PRIMARY KEY (check_id, resident_code));
CREATE TABLE IF NOT EXISTS check_diffs (
    check_id TEXT NOT NULL, resident_code TEXT NOT NULL, kind TEXT NOT NULL, items TEXT,
    PRIMARY KEY (check_id, resident_code));
"""


LOOKUP = 500  # codes per query (SQLite binds at most 32,766 parameters)


class CheckPeer:
    """Mixed into a mock: it supplies ``held_records`` and ``HELD_CODES`` (an SQL query
    of the 住民票コード it holds for the city, one ``?`` for the city's code)."""

    HELD_CODES = ""
    municipality_code: str
    queue_push: Any

    def held_records(self, cur: sqlite3.Cursor, codes: list[str]) -> dict[str, CheckRecord]:
        """The records the mock holds of ``codes`` (at most ``LOOKUP`` of them), by code:
        one query for a chunk's records."""
        raise NotImplementedError

    def check_chunk(self, cur: sqlite3.Cursor, chunk: ConsistencyChunk) -> Refusal | None:
        row = cur.execute("SELECT chunks, compared FROM check_runs WHERE check_id=?",
                          (chunk.check_id,)).fetchone()
        chunks, compared = row if row else (0, 0)
        if chunk.chunk_no != chunks + 1:
            return Refusal(True, "chunk_out_of_order", "a chunk is missing or repeated")
        diffs: list[tuple[str, str, str, str | None]] = []
        codes = [r.resident_code for r in chunk.records]
        held: dict[str, CheckRecord] = {}
        for i in range(0, len(codes), LOOKUP):
            held.update(self.held_records(cur, codes[i : i + LOOKUP]))
        for rec in chunk.records:
            theirs = held.get(rec.resident_code)
            if theirs is None:
                diffs.append((chunk.check_id, rec.resident_code, "only_at_hub", None))
            elif items := compare(rec, theirs):
                diffs.append((chunk.check_id, rec.resident_code, "differs", " ".join(items)))
        cur.executemany("INSERT OR REPLACE INTO check_diffs VALUES (?, ?, ?, ?)", diffs)
        cur.executemany("INSERT OR IGNORE INTO check_seen VALUES (?, ?)",
                        [(chunk.check_id, r.resident_code) for r in chunk.records])
        compared += len(chunk.records)
        cur.execute("INSERT OR REPLACE INTO check_runs VALUES (?, ?, ?)",
                    (chunk.check_id, chunk.chunk_no, compared))
        if chunk.final:
            if chunk.total != compared:
                return Refusal(True, "incomplete_check", "the total does not match")
            self._finish(cur, chunk.check_id, compared)
        return None

    def _finish(self, cur: sqlite3.Cursor, check_id: str, compared: int) -> None:
        city = self.municipality_code
        cur.execute(f"INSERT OR REPLACE INTO check_diffs SELECT ?, h.code, 'only_at_peer', NULL "
                    f"FROM ({self.HELD_CODES}) AS h WHERE h.code NOT IN (SELECT resident_code "
                    f"FROM check_seen WHERE check_id = ?)", (check_id, city, check_id))
        (held,) = cur.execute(f"SELECT count(*) FROM ({self.HELD_CODES})", (city,)).fetchone()
        (count,) = cur.execute("SELECT count(*) FROM check_diffs WHERE check_id=?",
                               (check_id,)).fetchone()
        listed = tuple(Difference(*r) for r in cur.execute(
            "SELECT resident_code, kind, items FROM check_diffs WHERE check_id=? "
            "ORDER BY resident_code LIMIT ?", (check_id, MAX_DIFFERENCES)))
        cur.execute("DELETE FROM check_seen WHERE check_id=?", (check_id,))
        self.queue_push(cur, encode_result(ConsistencyResult(
            check_id, city, compared, held, count, listed)))
