"""Mock card management system (個人番号カード管理システム): receives card events and
send-destination data (送付先情報).

It keeps every event it applied, checks that each resident's events arrive in the
hub's order (``EventSeq`` increasing), and refuses a body that is not a valid card
event (permanent), one for another municipality (permanent), or one older than an
event it already holds for that resident (permanent ``stale_event``).

Send-destination chunks are kept per 送付先管理番号, each destination's 67 items as
JSON; a chunk out of order (``chunk_out_of_order``) or a final total that does not
match what arrived (``incomplete_batch``) is refused permanently.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from mock_endpoints.base import Applied, MockEndpoint, Refusal
from protocols.card import decode_card_event, decode_to_card
from protocols.jsonable import as_json
from protocols.senddest import SendDestinationChunk


class CardMock(MockEndpoint):
    link = "card"
    extra_schema = """
    CREATE TABLE IF NOT EXISTS card_events (
        event_seq INTEGER PRIMARY KEY, resident_code TEXT NOT NULL, event TEXT NOT NULL,
        body BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS send_batches (
        batch_id TEXT PRIMARY KEY, chunks INTEGER NOT NULL, destinations INTEGER NOT NULL,
        complete INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS send_destinations (
        batch_id TEXT NOT NULL, resident_code TEXT NOT NULL, items TEXT NOT NULL,
        PRIMARY KEY (batch_id, resident_code));
    """

    def decode(self, body: bytes) -> Any:
        return decode_to_card(body)

    def apply_document(self, cur: sqlite3.Cursor, ev: Any, body: bytes) -> Applied:
        if isinstance(ev, SendDestinationChunk):
            return self._chunk(cur, ev), None, None
        (last,) = cur.execute("SELECT max(event_seq) FROM card_events WHERE resident_code=?",
                              (ev.resident_code,)).fetchone()
        if last is not None and ev.event_seq <= last:
            return Refusal(True, "stale_event", "older than an event held"), None, None
        cur.execute("INSERT INTO card_events VALUES (?, ?, ?, ?)",
                    (ev.event_seq, ev.resident_code, ev.event, body))
        return None, ev.resident_code, ev.event_seq

    def _chunk(self, cur: sqlite3.Cursor, chunk: SendDestinationChunk) -> Refusal | None:
        row = cur.execute("SELECT chunks, destinations FROM send_batches WHERE batch_id=?",
                          (chunk.management_number,)).fetchone()
        chunks, count = row if row else (0, 0)
        if chunk.chunk_no != chunks + 1:
            return Refusal(True, "chunk_out_of_order", "a chunk is missing or repeated")
        cur.executemany("INSERT OR REPLACE INTO send_destinations VALUES (?, ?, ?)", [
            (chunk.management_number, d.resident_code,
             json.dumps(as_json(d, keep_none=True), ensure_ascii=False))
            for d in chunk.destinations])
        count += len(chunk.destinations)
        if chunk.final and chunk.total != count:
            return Refusal(True, "incomplete_batch", "the total does not match")
        cur.execute("INSERT OR REPLACE INTO send_batches VALUES (?, ?, ?, ?)",
                    (chunk.management_number, chunk.chunk_no, count, int(chunk.final)))
        return None

    def describe(self) -> dict[str, Any]:
        return {"events": self.db.execute("SELECT count(*) FROM card_events").fetchone()[0],
                "send_destinations": self.db.execute(
                    "SELECT count(*) FROM send_destinations").fetchone()[0]}

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        if method == "GET" and path.startswith("/card-events/"):
            rows = self.db.execute("SELECT body FROM card_events WHERE resident_code=? "
                                   "ORDER BY event_seq", (path.rsplit("/", 1)[1],)).fetchall()
            return [as_json(decode_card_event(bytes(r[0])), keep_none=True) for r in rows]
        if method == "GET" and path.startswith("/send-batches/"):
            batch = path.rsplit("/", 1)[1]
            row = self.db.execute("SELECT chunks, destinations, complete FROM send_batches "
                                  "WHERE batch_id=?", (batch,)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "no such batch"}
            page = self.db.execute("SELECT items FROM send_destinations WHERE batch_id=? AND "
                                   "resident_code > ? ORDER BY resident_code LIMIT ?",
                                   (batch, args.get("after", ""), int(args.get("limit", 100))))
            return {"chunks": row[0], "destinations": row[1], "complete": bool(row[2]),
                    "items": [json.loads(r[0]) for r in page]}
        return None

