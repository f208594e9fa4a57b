"""Mock prefectural server (都道府県サーバ): keeps its own copy of identity information.

It applies each identity update once (the link sequence guards that), checks that each
resident's updates arrive in 更新順番号 order (the update names the resident's previous
更新順番号, which must be the one the mock holds), and refuses:

- a body that is not a valid identity-update document: permanent (``xml_*``,
  ``xsd_invalid``, ``bad_value``), it will never become valid;
- an update whose previous 更新順番号 is not the one held: temporary
  (``out_of_order``), the missing update may still arrive;
- an update for another municipality: permanent (``wrong_municipality``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from mock_endpoints import checkpeer
from mock_endpoints.base import Applied, MockEndpoint, Refusal
from mock_endpoints.control import request_body
from protocols.consistency import CHECK_ITEMS, CHUNK, CheckRecord, ConsistencyChunk
from protocols.identity import IDENTITY_UPDATE, decode_identity_update
from protocols.jsonable import as_json
from protocols.xmlrecord import XmlDispatch

_DECODE = XmlDispatch(IDENTITY_UPDATE, CHUNK)


class PrefectureMock(checkpeer.CheckPeer, MockEndpoint):
    link = "prefecture"
    extra_schema = """
    CREATE TABLE IF NOT EXISTS identities (
        resident_code TEXT PRIMARY KEY, update_seq INTEGER NOT NULL, record TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS held (resident_code TEXT PRIMARY KEY, items TEXT NOT NULL);
    """ + checkpeer.SCHEMA
    # The copy compared by a consistency check (都道府県知事保存本人確認情報): ``held``
    # keeps each resident's check items as JSON, written with the identity record.
    HELD_CODES = "SELECT resident_code AS code FROM held WHERE ? IS NOT NULL"

    def decode(self, body: bytes) -> Any:
        return _DECODE.loads(body)

    def municipality_of(self, doc: Any) -> str | None:
        if isinstance(doc, ConsistencyChunk):
            return doc.municipality_code
        rec = doc.record  # a removed (消除) record may carry the address it moved to
        return rec.municipality_code if rec.record_status == "active" else None

    def apply_document(self, cur: sqlite3.Cursor, msg: Any, body: bytes) -> Applied:
        if isinstance(msg, ConsistencyChunk):
            return self.check_chunk(cur, msg), None, None
        rec = msg.record
        # A 住民票コードの変更 follows the resident's record under the old code.
        key = rec.old_resident_code or rec.resident_code
        row = cur.execute("SELECT update_seq FROM identities WHERE resident_code=?",
                          (key,)).fetchone()
        held = row[0] if row else None
        # A correction (異常時更新) replaces whatever is held; its chain goes on from the
        # 更新順番号 it corrects.
        corrected = rec.abnormal_update_seq
        if corrected is None and msg.previous_update_seq != held:
            return Refusal(False, "out_of_order", "previous update not applied"), None, None
        if rec.old_resident_code is not None:
            cur.execute("DELETE FROM identities WHERE resident_code=?", (key,))
            cur.execute("DELETE FROM held WHERE resident_code=?", (key,))
        # The document as received; the control API decodes it when asked.
        cur.execute("INSERT OR REPLACE INTO identities VALUES (?, ?, ?)",
                    (rec.resident_code, corrected or rec.update_seq, body.decode("utf-8")))
        items = {k: getattr(rec, k) for k in ("resident_code", *CHECK_ITEMS)}
        items["update_seq"] = corrected or rec.update_seq  # the record it stands for
        cur.execute("INSERT OR REPLACE INTO held VALUES (?, ?)",
                    (rec.resident_code, json.dumps(items, default=str, ensure_ascii=False)))
        return None, rec.resident_code, rec.update_seq

    def held_records(self, cur: sqlite3.Cursor, codes: list[str]) -> dict[str, CheckRecord]:
        rows = cur.execute(f"SELECT resident_code, items FROM held WHERE resident_code IN "
                           f"({', '.join('?' * len(codes))})", codes)
        return {code: _check_record(json.loads(items)) for code, items in rows}

    def describe(self) -> dict[str, Any]:
        return {"identities": self.db.execute("SELECT count(*) FROM identities").fetchone()[0]}

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        if method == "GET" and path == "/identities":
            # A page of the copy, in 住民票コード order: ?after=<code>&limit=<n>.
            rows = self.db.execute(
                "SELECT record FROM identities WHERE resident_code > ? ORDER BY "
                "resident_code LIMIT ?", (args.get("after", ""), int(args.get("limit", 1000))))
            return [_as_json(r[0]) for r in rows]
        if method in ("PATCH", "DELETE") and path.startswith("/identities/"):
            return self._plant(method, path.rsplit("/", 1)[1], request)
        if method == "GET" and path.startswith("/identities/"):
            code = path.rsplit("/", 1)[1]
            row = self.db.execute("SELECT record FROM identities WHERE resident_code=?",
                                  (code,)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "not held"}
            return _as_json(row[0])
        return None

    def _plant(self, method: str, code: str, request: Any) -> dict[str, Any]:
        """A difference in the copy a consistency check compares: ``PATCH`` sets items
        (``{"address": "..."}``), ``DELETE`` forgets the resident."""
        row = self.db.execute("SELECT items FROM held WHERE resident_code=?",
                              (code,)).fetchone()
        if row is None:
            request.setResponseCode(404)
            return {"error": "not held"}
        with self.db:
            self.db.execute("BEGIN")
            if method == "DELETE":
                self.db.execute("DELETE FROM held WHERE resident_code=?", (code,))
                self.db.execute("DELETE FROM identities WHERE resident_code=?", (code,))
                return {"deleted": code}
            items = json.loads(row[0])
            patch = json.loads(request_body(request))
            unknown = set(patch) - set(CHECK_ITEMS)
            if unknown:
                raise ValueError(f"not a check item: {sorted(unknown)[0]}")
            items.update(patch)
            _check_record(items)  # still a valid record
            self.db.execute("UPDATE held SET items=? WHERE resident_code=?",
                            (json.dumps(items, ensure_ascii=False), code))
        return items


def _check_record(items: dict[str, Any]) -> CheckRecord:
    return CheckRecord(**{**items, "birth_date": dt.date.fromisoformat(items["birth_date"]),
                          "update_seq": int(items["update_seq"])})


def _as_json(record: str) -> dict[str, Any]:
    return as_json(decode_identity_update(record.encode("utf-8")).record, keep_none=True)


