"""Mock intermediate server (中間サーバ): keeps the copies (副本) of 住民票関係情報.

Copies are keyed by 団体内統合宛名番号.  It refuses a body that fails the msgpack
schema (permanent), a copy for another municipality (permanent), and an update whose
previous 更新順番号 is not the one it holds (temporary ``out_of_order``).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

from mock_endpoints.base import MockEndpoint, Refusal
from protocols.errors import BodyError
from protocols.intermediate import decode_copy_update


class IntermediateMock(MockEndpoint):
    link = "intermediate"
    extra_schema = """
    CREATE TABLE IF NOT EXISTS copies (
        integrated_atena TEXT PRIMARY KEY, update_seq INTEGER NOT NULL, body BLOB NOT NULL);
    """

    def apply(self, cur: sqlite3.Cursor, seq: int, body: bytes) -> tuple[Refusal | None,
                                                                          str | None,
                                                                          int | None]:
        try:
            copy = decode_copy_update(body)
        except BodyError as err:
            return Refusal(True, err.code, err.message), None, None
        if copy.municipality_code != self.municipality_code:
            return Refusal(True, "wrong_municipality", "not this municipality"), None, None
        row = cur.execute("SELECT update_seq FROM copies WHERE integrated_atena=?",
                          (copy.integrated_atena,)).fetchone()
        if copy.previous_update_seq != (row[0] if row else None):
            return Refusal(False, "out_of_order", "previous copy not held"), None, None
        cur.execute("INSERT OR REPLACE INTO copies VALUES (?, ?, ?)",
                    (copy.integrated_atena, copy.update_seq, body))
        return None, copy.integrated_atena, copy.update_seq

    def describe(self) -> dict[str, Any]:
        return {"copies": self.db.execute("SELECT count(*) FROM copies").fetchone()[0]}

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        if method == "GET" and path.startswith("/copies/"):
            row = self.db.execute("SELECT body FROM copies WHERE integrated_atena=?",
                                  (path.rsplit("/", 1)[1],)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "not held"}
            return dataclasses.asdict(decode_copy_update(bytes(row[0])))
        return None
