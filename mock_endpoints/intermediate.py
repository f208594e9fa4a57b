"""Mock intermediate server (中間サーバ): keeps the copies (副本) of 住民票関係情報, issues
符号 processing numbers, asks for manual answers and reports provision records.

Copies are keyed by 団体内統合宛名番号.  It refuses a body that fails the msgpack
schema (permanent), a document for another municipality (permanent), an update whose
previous 更新順番号 is not the one it holds (temporary ``out_of_order``), and a manual
answer to a request it never made or already had answered, or one that carries an
item the request did not ask for (``items_not_asked``: over-provision), all permanent.

A 符号 request is answered on its own stream with a ``CodeIssued`` carrying a new
処理通番 (the same one again for the same 団体内統合宛名番号), queued in the transaction
that applies the request.  Manual-answer requests and provision records are pushed by
a test harness through ``POST /push``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from mock_endpoints.base import Applied, MockEndpoint, Refusal
from protocols.intermediate import (
    ANSWER_ITEMS,
    CodeIssued,
    CodeRequest,
    CopyUpdate,
    ManualAnswer,
    ManualAnswerRequest,
    ProvisionRecord,
    decode_copy_update,
    decode_to_intermediate,
    encode,
)
from protocols.jsonable import as_json


class IntermediateMock(MockEndpoint):
    link = "intermediate"
    extra_schema = """
    CREATE TABLE IF NOT EXISTS copies (
        integrated_atena TEXT PRIMARY KEY, update_seq INTEGER NOT NULL, body BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS codes (
        integrated_atena TEXT PRIMARY KEY, processing_number TEXT NOT NULL UNIQUE,
        individual_number TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS manual_requests (
        request_number TEXT PRIMARY KEY, integrated_atena TEXT NOT NULL,
        items TEXT NOT NULL, decision TEXT, answer BLOB);
    """

    def decode(self, body: bytes) -> Any:
        return decode_to_intermediate(body)

    def apply_document(self, cur: sqlite3.Cursor, doc: Any, body: bytes) -> Applied:
        if isinstance(doc, CopyUpdate):
            return self._copy(cur, doc, body)
        if isinstance(doc, CodeRequest):
            return self._code(cur, doc)
        assert isinstance(doc, ManualAnswer)
        return self._manual_answer(cur, doc, body)

    def _copy(self, cur: sqlite3.Cursor, copy: CopyUpdate, body: bytes) -> tuple[
            Refusal | None, str | None, int | None]:
        row = cur.execute("SELECT update_seq FROM copies WHERE integrated_atena=?",
                          (copy.integrated_atena,)).fetchone()
        if copy.previous_update_seq != (row[0] if row else None):
            return Refusal(False, "out_of_order", "previous copy not held"), None, None
        cur.execute("INSERT OR REPLACE INTO copies VALUES (?, ?, ?)",
                    (copy.integrated_atena, copy.update_seq, body))
        return None, copy.integrated_atena, copy.update_seq

    def _code(self, cur: sqlite3.Cursor, req: CodeRequest) -> tuple[None, None, None]:
        row = cur.execute("SELECT processing_number FROM codes WHERE integrated_atena=?",
                          (req.integrated_atena,)).fetchone()
        if row is None:
            (n,) = cur.execute("SELECT coalesce(max(rowid), 0) FROM codes").fetchone()
            number = f"P{n + 1:010d}"
            cur.execute("INSERT INTO codes VALUES (?, ?, ?)",
                        (req.integrated_atena, number, req.individual_number))
        else:
            number = row[0]
        self.queue_push(cur, encode(CodeIssued(req.integrated_atena, req.update_seq,
                                               req.municipality_code, number)))
        return None, None, None  # not a copy: not ordered by 更新順番号

    def _manual_answer(self, cur: sqlite3.Cursor, ans: ManualAnswer, body: bytes) -> tuple[
            Refusal | None, None, None]:
        row = cur.execute("SELECT decision, items FROM manual_requests WHERE "
                          "request_number=?", (ans.request_number,)).fetchone()
        if row is None:
            return Refusal(True, "unknown_request", "no such manual-answer request"), None, None
        if row[0] is not None:
            return Refusal(True, "already_answered", "the request was answered"), None, None
        if not set(ans.items) <= set(json.loads(row[1])):  # over-provision: never accepted
            return Refusal(True, "items_not_asked", "an item the request did not ask for"), \
                None, None
        if (ans.decision == "approved") != bool(ans.items):
            return Refusal(True, "items_inconsistent", "an approval carries items, a "
                           "refusal none"), None, None
        cur.execute("UPDATE manual_requests SET decision=?, answer=? WHERE request_number=?",
                    (ans.decision, body, ans.request_number))
        return None, None, None

    def build_push(self, spec: dict[str, Any]) -> bytes:
        """``{"manual_answer_request": {...}}`` (the items of ManualAnswerRequest; kept so
        its answer can be checked: only the ``items`` asked for — all seven when not
        given — may come back), ``{"provision_record": {...}}`` (ProvisionRecord),
        or ``{"raw_hex": "..."}`` for any bytes.  ``municipality_code`` defaults to the
        city's."""
        if "raw_hex" in spec:
            return bytes.fromhex(spec["raw_hex"])
        if "manual_answer_request" in spec:
            req = ManualAnswerRequest(**{"municipality_code": self.municipality_code,
                                         "items": list(ANSWER_ITEMS),
                                         **spec["manual_answer_request"]})
            with self.db:
                self.db.execute("INSERT INTO manual_requests VALUES (?, ?, ?, NULL, NULL)",
                                (req.request_number, req.integrated_atena,
                                 json.dumps(req.items)))
            return encode(req)
        rec = ProvisionRecord(**{"municipality_code": self.municipality_code,
                                 **spec["provision_record"]})
        return encode(rec)

    def describe(self) -> dict[str, Any]:
        count = self.db.execute
        return {"copies": count("SELECT count(*) FROM copies").fetchone()[0],
                "codes": count("SELECT count(*) FROM codes").fetchone()[0],
                "manual_answers": count("SELECT count(*) FROM manual_requests "
                                        "WHERE decision IS NOT NULL").fetchone()[0]}

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        if method == "GET" and path.startswith("/copies/"):
            row = self.db.execute("SELECT body FROM copies WHERE integrated_atena=?",
                                  (path.rsplit("/", 1)[1],)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "not held"}
            return as_json(decode_copy_update(bytes(row[0])), keep_none=True)
        if method == "GET" and path.startswith("/codes/"):
            # By 団体内統合宛名番号: the 処理通番 issued and the 個人番号 it was linked with.
            row = self.db.execute("SELECT processing_number, individual_number FROM codes "
                                  "WHERE integrated_atena=?", (path.rsplit("/", 1)[1],)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "no code requested"}
            return {"processing_number": row[0], "individual_number": row[1]}
        if method == "GET" and path.startswith("/manual-answers/"):
            row = self.db.execute("SELECT decision, answer FROM manual_requests WHERE "
                                  "request_number=?", (path.rsplit("/", 1)[1],)).fetchone()
            if row is None or row[0] is None:
                request.setResponseCode(404)
                return {"error": "not answered"}
            return as_json(decode_to_intermediate(bytes(row[1])), keep_none=True)
        return None
