"""Mock card management system (個人番号カード管理システム): receives card events and
send-destination data (送付先情報).

It keeps every event it applied, checks that each resident's events arrive in the
hub's order (``EventSeq`` increasing), and refuses a body that is not a valid card
event (permanent), one for another municipality (permanent), or one older than an
event it already holds for that resident (permanent ``stale_event``).

Send-destination chunks are kept per 送付先管理番号 as received, with where each
destination is in them (its 67 items are decoded when the control API shows them); a
chunk out of order (``chunk_out_of_order``) or a final total that does not match what
arrived (``incomplete_batch``) is refused permanently.
"""

from __future__ import annotations

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
    CREATE TABLE IF NOT EXISTS send_chunks (
        batch_id TEXT NOT NULL, chunk_no INTEGER NOT NULL, body BLOB NOT NULL,
        PRIMARY KEY (batch_id, chunk_no));
    CREATE TABLE IF NOT EXISTS send_destination_chunks (
        batch_id TEXT NOT NULL, resident_code TEXT NOT NULL, chunk_no INTEGER NOT NULL,
        PRIMARY KEY (batch_id, resident_code));
    """

    def decode(self, body: bytes) -> Any:
        return decode_to_card(body)

    def apply_document(self, cur: sqlite3.Cursor, ev: Any, body: bytes) -> Applied:
        if isinstance(ev, SendDestinationChunk):
            return self._chunk(cur, ev, body), None, None
        (last,) = cur.execute("SELECT max(event_seq) FROM card_events WHERE resident_code=?",
                              (ev.resident_code,)).fetchone()
        if last is not None and ev.event_seq <= last:
            return Refusal(True, "stale_event", "older than an event held"), None, None
        cur.execute("INSERT INTO card_events VALUES (?, ?, ?, ?)",
                    (ev.event_seq, ev.resident_code, ev.event, body))
        return None, ev.resident_code, ev.event_seq

    def _chunk(self, cur: sqlite3.Cursor, chunk: SendDestinationChunk,
               body: bytes) -> Refusal | None:
        row = cur.execute("SELECT chunks, destinations FROM send_batches WHERE batch_id=?",
                          (chunk.management_number,)).fetchone()
        chunks, count = row if row else (0, 0)
        if chunk.chunk_no != chunks + 1:
            return Refusal(True, "chunk_out_of_order", "a chunk is missing or repeated")
        # The chunk as received, and where each destination is in it: the control API
        # decodes the chunks a page needs (a city's batch is 190,000 destinations; turning
        # each into JSON as it arrived was most of this mock's time).
        cur.execute("INSERT OR REPLACE INTO send_chunks VALUES (?, ?, ?)",
                    (chunk.management_number, chunk.chunk_no, body))
        cur.executemany("INSERT OR REPLACE INTO send_destination_chunks VALUES (?, ?, ?)", [
            (chunk.management_number, d.resident_code, chunk.chunk_no)
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
                    "SELECT count(*) FROM send_destination_chunks").fetchone()[0]}

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
            page = self.db.execute(
                "SELECT resident_code, chunk_no FROM send_destination_chunks WHERE "
                "batch_id=? AND resident_code > ? ORDER BY resident_code LIMIT ?",
                (batch, args.get("after", ""), int(args.get("limit", 100)))).fetchall()
            return {"chunks": row[0], "destinations": row[1], "complete": bool(row[2]),
                    "items": self._destinations(batch, page)}
        return None

    def _destinations(self, batch: str, page: list[tuple[str, int]]) -> list[dict[str, Any]]:
        """Each (住民票コード, chunk) of ``page`` as its 67 items, from the chunks held."""
        chunks: dict[int, dict[str, Any]] = {}
        for no in {n for _, n in page}:
            (body,) = self.db.execute("SELECT body FROM send_chunks WHERE batch_id=? AND "
                                      "chunk_no=?", (batch, no)).fetchone()
            chunk = decode_to_card(bytes(body))
            assert isinstance(chunk, SendDestinationChunk)  # it was stored as one
            chunks[no] = {d.resident_code: d for d in chunk.destinations}
        return [as_json(chunks[no][code], keep_none=True) for code, no in page]
