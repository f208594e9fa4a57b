"""Mock card management system (個人番号カード管理システム): receives card events.

It keeps every event it applied, checks that each resident's events arrive in the
hub's order (``EventSeq`` increasing), and refuses a body that is not a valid card
event (permanent), one for another municipality (permanent), or one older than an
event it already holds for that resident (permanent ``stale_event``).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

from mock_endpoints.base import MockEndpoint, Refusal
from protocols.card import decode_card_event
from protocols.errors import BodyError


class CardMock(MockEndpoint):
    link = "card"
    extra_schema = """
    CREATE TABLE IF NOT EXISTS card_events (
        event_seq INTEGER PRIMARY KEY, resident_code TEXT NOT NULL, event TEXT NOT NULL,
        body BLOB NOT NULL);
    """

    def apply(self, cur: sqlite3.Cursor, seq: int, body: bytes) -> tuple[Refusal | None,
                                                                          str | None,
                                                                          int | None]:
        try:
            ev = decode_card_event(body)
        except BodyError as err:
            return Refusal(True, err.code, err.message), None, None
        if ev.municipality_code != self.municipality_code:
            return Refusal(True, "wrong_municipality", "not this municipality"), None, None
        (last,) = cur.execute("SELECT max(event_seq) FROM card_events WHERE resident_code=?",
                              (ev.resident_code,)).fetchone()
        if last is not None and ev.event_seq <= last:
            return Refusal(True, "stale_event", "older than an event held"), None, None
        cur.execute("INSERT INTO card_events VALUES (?, ?, ?, ?)",
                    (ev.event_seq, ev.resident_code, ev.event, body))
        return None, ev.resident_code, ev.event_seq

    def describe(self) -> dict[str, Any]:
        return {"events": self.db.execute("SELECT count(*) FROM card_events").fetchone()[0]}

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        if method == "GET" and path.startswith("/card-events/"):
            rows = self.db.execute("SELECT body FROM card_events WHERE resident_code=? "
                                   "ORDER BY event_seq", (path.rsplit("/", 1)[1],)).fetchall()
            return [json_ready(dataclasses.asdict(decode_card_event(bytes(r[0])))) for r in rows]
        return None


def json_ready(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}
