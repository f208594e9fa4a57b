"""Mock legal-affairs ministry (法務省連携システム): receives foreign-resident notices.

It keeps the latest notice of each foreign resident, applies each sequence once, and
refuses: a document that is not a valid notice (permanent); a notice for another
municipality (permanent); a notice naming a previous notice it does not hold
(temporary ``out_of_order``); a notice not newer than the one it holds (permanent
``stale_notice``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from typing import Any

from mock_endpoints.base import Applied, MockEndpoint, Refusal
from protocols.jsonable import as_json
from protocols.moj import ResidenceChangeNotice, decode_notice, encode_change_notice


class MojMock(MockEndpoint):
    link = "moj"
    extra_schema = """
    CREATE TABLE IF NOT EXISTS notices (
        resident_code TEXT PRIMARY KEY, update_seq INTEGER NOT NULL, notice TEXT NOT NULL);
    """

    def decode(self, body: bytes) -> Any:
        return decode_notice(body)

    def apply_document(self, cur: sqlite3.Cursor, notice: Any, body: bytes) -> Applied:
        row = cur.execute("SELECT update_seq FROM notices WHERE resident_code=?",
                          (notice.resident_code,)).fetchone()
        held = row[0] if row else None
        if notice.previous_update_seq is not None and notice.previous_update_seq != held:
            return Refusal(False, "out_of_order", "previous notice not held"), None, None
        # A resend of the record held (no previous) is taken again; an older one is not.
        resent = notice.previous_update_seq is None and notice.update_seq == held
        if held is not None and notice.update_seq <= held and not resent:
            return Refusal(True, "stale_notice", "not newer than the notice held"), None, None
        cur.execute("INSERT OR REPLACE INTO notices VALUES (?, ?, ?)",
                    (notice.resident_code, notice.update_seq, body.decode("utf-8")))
        return None, notice.resident_code, notice.update_seq

    def build_push(self, spec: dict[str, Any]) -> bytes:
        """``{"notice": {...ResidenceChangeNotice fields...}}``, or ``{"raw": "..."}`` to
        push a document as given (to see the hub refuse a bad one)."""
        if "raw" in spec:
            return str(spec["raw"]).encode("utf-8")
        n = dict(spec["notice"])
        n.setdefault("municipality_code", self.municipality_code)
        for key in ("change_date", "residence_period_end"):
            if n.get(key):
                n[key] = dt.date.fromisoformat(n[key])
        values: dict[str, Any] = {f.name: n.get(f.name)
                                  for f in dataclasses.fields(ResidenceChangeNotice)}
        return encode_change_notice(ResidenceChangeNotice(**values))

    def describe(self) -> dict[str, Any]:
        return {"residents": self.db.execute("SELECT count(*) FROM notices").fetchone()[0]}

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        if method == "GET" and path.startswith("/notices/"):
            row = self.db.execute("SELECT notice FROM notices WHERE resident_code=?",
                                  (path.rsplit("/", 1)[1],)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "not held"}
            notice = decode_notice(row[0].encode("utf-8"))
            return as_json(notice, keep_none=True)
        return None
