"""Mock national server (全国サーバ, J-LIS): generates individual numbers, answers
identity queries from its own register of the whole country.

For each number request it generates a 12-digit 個人番号 with a valid check digit
(総務省令第85号 第5条) that it has never issued before, keeps it, and sends it back to
the hub on its own stream — queued in the same transaction that applies the request,
sent after the commit.  A request for a resident it already numbered gets the same
number again.  It refuses a body that is not a valid request (permanent) or one for
another municipality (permanent).

住民票コードの変更: a ``CodeChangeRequest`` is answered with a new code it never issued
(the same one for a repeated 依頼管理番号; ``POST /next-code {"code": ...}`` makes the
next answer that code, unchecked); the change, on the hub's stream as an
identity update with 旧住民票コード, renames the person in its register.

広域交付住民票: ``POST /push {"copy_request": {request_number, issuing_municipality_code,
resident_code, scope?}}`` plays another municipality's window asking for a copy; the
hub's answer is kept (``GET /wide-area-copies/<請求番号>``).

Moves between cities: a domestic 転入's ``CertificateRequest`` is answered with the
転出証明書情報 of a 特例転出 addressed to the city (``POST /certificates`` plays the
former city sending one), else with the former city's record in its register (by
住民票コード, else by ふりがな, birth date and sex), else ``not_found``.  The hub's own
特例転出 certificates are kept (``GET /moving-outs``); ``POST /moved-in/<住民票コード>``
plays the destination's 転入 and pushes its 転入通知 back (or every certificate at once
with the option ``auto_transfer_in``).

Its register (``persons``) starts with ``seed_others`` people of other municipalities
(option of ``[mocks.national]``, deterministic) and takes the city's residents through
the control API (``POST /persons``), as the real server holds what the prefectural
servers send it.  Queries are answered by 住民票コード, by 個人番号, or by the four
items: the name by kanji (spaces ignored) or by its 清音化かな, the birth date and sex
exactly, the address from its beginning; more than ``MAX_MATCHES`` people matched are
answered ``too_many`` with none listed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from typing import Any

from mock_endpoints import checkpeer
from mock_endpoints.base import Applied, MockEndpoint, Refusal
from mock_endpoints.control import request_body
from mock_endpoints.population import people_of_other_cities
from protocols.charconv import seion_kana
from protocols.codes import individual_number_check_digit, resident_code_check_digit
from protocols.consistency import CheckRecord, ConsistencyChunk
from protocols.errors import BodyError
from protocols.identity import IdentityUpdate
from protocols.jsonable import as_json
from protocols.national import (
    MAX_MATCHES,
    CertificateAnswer,
    CertificateRequest,
    CodeChangeAnswer,
    CodeChangeRequest,
    IdentityQuery,
    MovingOutCertificate,
    NumberGenerated,
    NumberRequest,
    QueryMatch,
    QueryResult,
    TransferInNotice,
    decode_from_national,
    decode_question,
    decode_to_national,
    encode_certificate_answer,
    encode_code_change_answer,
    encode_moving_out,
    encode_number_generated,
    encode_query_result,
    encode_transfer_in,
)
from protocols.wide_area import WideAreaCopyAnswer, WideAreaCopyRequest
from protocols.wide_area import encode_request as encode_copy_request

PERSON_ITEMS = ("resident_code", "individual_number", "municipality_code", "name_kanji",
                "name_kana", "birth_date", "sex", "address", "record_status", "update_seq")
_REQUIRED = tuple(k for k in PERSON_ITEMS if k not in ("individual_number", "update_seq"))


class NationalMock(checkpeer.CheckPeer, MockEndpoint):
    link = "national"
    extra_schema = """
    CREATE TABLE IF NOT EXISTS numbers (
        individual_number TEXT PRIMARY KEY, resident_code TEXT NOT NULL UNIQUE);
    CREATE TABLE IF NOT EXISTS transfer_notices (
        update_seq INTEGER PRIMARY KEY, resident_code TEXT NOT NULL,
        former_municipality_code TEXT NOT NULL, move_in_date TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS persons (
        resident_code TEXT PRIMARY KEY, individual_number TEXT UNIQUE,
        municipality_code TEXT NOT NULL, name_kanji TEXT NOT NULL, name_kana TEXT NOT NULL,
        birth_date TEXT NOT NULL, sex TEXT NOT NULL, address TEXT NOT NULL,
        record_status TEXT NOT NULL, update_seq INTEGER, name_key TEXT NOT NULL,
        kana_key TEXT NOT NULL, held_for TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS persons_kana ON persons (kana_key);
    CREATE INDEX IF NOT EXISTS persons_name ON persons (name_key);
    CREATE INDEX IF NOT EXISTS persons_held ON persons (held_for);
    CREATE TABLE IF NOT EXISTS certificates (
        resident_code TEXT NOT NULL, to_municipality_code TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (resident_code, to_municipality_code));
    CREATE TABLE IF NOT EXISTS copies (
        request_number TEXT PRIMARY KEY, answer TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS code_changes (
        request_id TEXT PRIMARY KEY, old_code TEXT NOT NULL, new_code TEXT NOT NULL UNIQUE);
    CREATE TABLE IF NOT EXISTS moving_outs (
        resident_code TEXT PRIMARY KEY, certificate_number TEXT NOT NULL,
        to_municipality_code TEXT NOT NULL, body TEXT NOT NULL,
        moved_in INTEGER NOT NULL DEFAULT 0);
    """ + checkpeer.SCHEMA
    # The city's file as J-LIS keeps it (機構保存本人確認情報), compared by a check.
    HELD_CODES = "SELECT resident_code AS code FROM persons WHERE held_for = ?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rng = random.SystemRandom()
        if self.db.execute("SELECT count(*) FROM persons").fetchone()[0] == 0:
            self._seed_others(int(self.options.get("seed_others", 1000)))

    # ---- its register of the whole country --------------------------------------------

    def _seed_others(self, n: int) -> None:
        self.put_persons(people_of_other_cities(n, seed=int(self.options.get("seed", 47))))

    def put_persons(self, rows: list[dict[str, Any]]) -> int:
        """Insert or replace people in one transaction; ``KeyError`` names a missing item
        (and nothing is stored).  ``held_for``: whose file the person is in (default:
        this city's)."""
        values = []
        for r in rows:
            absent = [k for k in _REQUIRED if not r.get(k)]
            if absent:
                raise KeyError(f"a person needs {', '.join(absent)}")
            values.append((*(r.get(k) for k in PERSON_ITEMS), _name_key(r["name_kanji"]),
                           seion_kana(r["name_kana"]),
                           r.get("held_for") or self.municipality_code))
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(f"INSERT OR REPLACE INTO persons VALUES "
                                f"({', '.join('?' * (len(PERSON_ITEMS) + 3))})", values)
        return len(values)

    def held_records(self, cur: sqlite3.Cursor, codes: list[str]) -> dict[str, CheckRecord]:
        rows = cur.execute(f"SELECT {', '.join(PERSON_ITEMS)} FROM persons WHERE held_for=? "
                           f"AND resident_code IN ({', '.join('?' * len(codes))})",
                           (self.municipality_code, *codes))
        out = {}
        for row in rows:
            p = dict(zip(PERSON_ITEMS, row, strict=True))
            p["birth_date"] = dt.date.fromisoformat(p["birth_date"])
            out[p["resident_code"]] = CheckRecord(**p)
        return out

    def answer(self, body: bytes) -> bytes:
        try:
            question = decode_question(body)
        except BodyError:
            return encode_query_result(QueryResult("refused", 0))
        if isinstance(question, CertificateRequest):
            return encode_certificate_answer(self._certificate(question))
        if isinstance(question, CodeChangeRequest):
            return encode_code_change_answer(self._new_code(question))
        return self._query(question)

    # ---- 住民票コードの変更 -------------------------------------------------------------------

    def _new_code(self, req: CodeChangeRequest) -> CodeChangeAnswer:
        """A new 住民票コード, never issued before (the same again for a repeated request)."""
        if req.municipality_code != self.municipality_code:
            return CodeChangeAnswer("refused")
        row = self.db.execute("SELECT new_code FROM code_changes WHERE request_id=?",
                              (req.request_id,)).fetchone()
        if row is not None:
            return CodeChangeAnswer("issued", row[0])
        planted = self.faults.pop("next_code", None)
        if planted is not None:  # a test's code, whoever holds it (the hub must check)
            return CodeChangeAnswer("issued", planted)
        while True:
            body = "".join(str(self.rng.randint(0, 9)) for _ in range(10))
            code = body + resident_code_check_digit(body)
            taken = self.db.execute(
                "SELECT 1 FROM persons WHERE resident_code=? UNION ALL SELECT 1 FROM "
                "code_changes WHERE new_code=? OR old_code=?", (code, code, code)).fetchone()
            if taken is None and code != req.resident_code:
                break
        with self.db:
            self.db.execute("INSERT INTO code_changes VALUES (?, ?, ?)",
                            (req.request_id, req.resident_code, code))
        return CodeChangeAnswer("issued", code)

    def _code_changed(self, cur: sqlite3.Cursor, msg: IdentityUpdate) -> Applied:
        """The change on the hub's stream: J-LIS's copy follows the resident's new code."""
        rec = msg.record
        if rec.abnormal_update_seq is not None:  # a correction: the city's record as is
            cur.execute(f"INSERT OR REPLACE INTO persons VALUES "
                        f"({', '.join('?' * (len(PERSON_ITEMS) + 3))})", (
                            rec.resident_code, rec.individual_number, rec.municipality_code,
                            rec.name_kanji, rec.name_kana, rec.birth_date.isoformat(),
                            rec.sex, rec.address, rec.record_status, rec.abnormal_update_seq,
                            _name_key(rec.name_kanji), seion_kana(rec.name_kana),
                            self.municipality_code))
            return None, rec.resident_code, rec.update_seq
        if rec.old_resident_code is None:
            return Refusal(True, "unexpected_document", "a code change or a correction "
                           "comes as an identity update"), None, None
        cur.execute("UPDATE persons SET resident_code=?, update_seq=? WHERE resident_code=?",
                    (rec.resident_code, rec.update_seq, rec.old_resident_code))
        return None, rec.resident_code, rec.update_seq

    # ---- moves between cities -----------------------------------------------------------

    def _certificate(self, req: CertificateRequest) -> CertificateAnswer:
        """The 転出証明書情報 for a destination's 転入 (see the module docstring)."""
        if req.municipality_code != self.municipality_code:
            return CertificateAnswer("refused")
        row = self.db.execute("SELECT body FROM certificates WHERE resident_code=? AND "
                              "to_municipality_code=?",
                              (req.resident_code, req.municipality_code)).fetchone()
        if row is not None:
            cert = decode_from_national(row[0].encode())
            assert isinstance(cert, MovingOutCertificate)
            return CertificateAnswer("found", True, cert)
        columns = ", ".join(PERSON_ITEMS)
        rows = self.db.execute(f"SELECT {columns} FROM persons WHERE resident_code=? AND "
                               "held_for=?", (req.resident_code,
                                              req.former_municipality_code)).fetchall()
        if not rows:  # the code the register has may be wrong: the person by their items
            rows = self.db.execute(
                f"SELECT {columns} FROM persons WHERE held_for=? AND kana_key=? AND "
                "birth_date=? AND sex=?", (req.former_municipality_code,
                                           seion_kana(req.name_kana),
                                           req.birth_date.isoformat(), req.sex)).fetchall()
        if len(rows) != 1:
            return CertificateAnswer("not_found")
        p = dict(zip(PERSON_ITEMS, rows[0], strict=True))
        return CertificateAnswer("found", False, MovingOutCertificate(
            certificate_number=f"J{p['resident_code']}", from_municipality_code=p[
                "municipality_code"], to_municipality_code=req.municipality_code,
            resident_code=p["resident_code"], name_kanji=p["name_kanji"],
            name_kana=p["name_kana"], birth_date=dt.date.fromisoformat(p["birth_date"]),
            sex=p["sex"], former_address=p["address"],
            individual_number=p["individual_number"]))

    def _moving_out(self, cur: sqlite3.Cursor, cert: MovingOutCertificate) -> Applied:
        """The city's 特例転出: kept for its destination (which moves the person in when
        the control API says, or at once with ``auto_transfer_in``)."""
        cur.execute("INSERT OR REPLACE INTO moving_outs VALUES (?, ?, ?, ?, 0)",
                    (cert.resident_code, cert.certificate_number, cert.to_municipality_code,
                     encode_moving_out(cert).decode()))
        if self.options.get("auto_transfer_in"):
            self._moved_in(cur, cert.resident_code, cert.moving_out_date)
        return None, cert.resident_code, None

    def _moved_in(self, cur: sqlite3.Cursor, resident_code: str,
                  on: dt.date | None = None) -> TransferInNotice | None:
        """The destination's 転入 of a person the city sent a certificate for: its 転入通知
        pushed to the city (``None``: no such certificate)."""
        row = cur.execute("SELECT body FROM moving_outs WHERE resident_code=?",
                          (resident_code,)).fetchone()
        if row is None:
            return None
        cert = decode_to_national(row[0].encode())
        assert isinstance(cert, MovingOutCertificate)
        day = on or cert.moving_out_date or dt.date.today()
        (moved,) = cur.execute("SELECT count(*) FROM moving_outs WHERE moved_in=1").fetchone()
        notice = TransferInNotice(
            update_seq=moved + 1,  # the destination's 更新順番号 of its 転入 (made up)
            municipality_code=cert.to_municipality_code,
            former_municipality_code=cert.from_municipality_code,
            resident_code=cert.resident_code, move_in_date=day, notified_date=day,
            address=cert.planned_address or "（転入先住所）")
        cur.execute("UPDATE moving_outs SET moved_in=1 WHERE resident_code=?",
                    (resident_code,))
        self.queue_push(cur, encode_transfer_in(notice))
        return notice

    def _query(self, q: IdentityQuery) -> bytes:
        where: list[str] = []
        args: list[Any] = []
        if q.resident_code:
            where.append("resident_code = ?")
            args.append(q.resident_code)
        if q.individual_number:
            where.append("individual_number = ?")
            args.append(q.individual_number)
        if q.name_kanji:
            where.append("name_key = ?")
            args.append(_name_key(q.name_kanji))
        if q.name_kana:
            where.append("kana_key = ?")
            args.append(seion_kana(q.name_kana))
        if q.birth_date:
            where.append("birth_date = ?")
            args.append(q.birth_date.isoformat())
        if q.sex:
            where.append("sex = ?")
            args.append(q.sex)
        if q.address:
            where.append("substr(address, 1, ?) = ?")
            args += [len(q.address), q.address]
        if not where:  # the hub never sends this; a real server would refuse it too
            return encode_query_result(QueryResult("refused", 0))
        rows = self.db.execute(
            "SELECT resident_code, name_kanji, name_kana, birth_date, sex, municipality_code,"
            f" address, record_status FROM persons WHERE {' AND '.join(where)} "
            "ORDER BY resident_code LIMIT ?", (*args, MAX_MATCHES + 1)).fetchall()
        if not rows:
            return encode_query_result(QueryResult("not_found", 0))
        if len(rows) > MAX_MATCHES:
            (count,) = self.db.execute(f"SELECT count(*) FROM persons WHERE "
                                       f"{' AND '.join(where)}", args).fetchone()
            return encode_query_result(QueryResult("too_many", count))
        matches = tuple(QueryMatch(r[0], r[1], r[2], dt.date.fromisoformat(r[3]), r[4], r[5],
                                   r[6], r[7]) for r in rows)
        return encode_query_result(QueryResult("found", len(matches), matches))

    def decode(self, body: bytes) -> Any:
        return decode_to_national(body)

    def municipality_of(self, doc: Any) -> str | None:
        if isinstance(doc, MovingOutCertificate):
            return doc.from_municipality_code
        if isinstance(doc, IdentityUpdate):
            return doc.record.municipality_code
        code: str | None = doc.municipality_code
        return code

    def apply_document(self, cur: sqlite3.Cursor, doc: Any, body: bytes) -> Applied:
        if isinstance(doc, ConsistencyChunk):
            return self.check_chunk(cur, doc), None, None
        if isinstance(doc, MovingOutCertificate):
            return self._moving_out(cur, doc)
        if isinstance(doc, IdentityUpdate):
            return self._code_changed(cur, doc)
        if isinstance(doc, WideAreaCopyAnswer):  # to the 交付地 (here: kept)
            cur.execute("INSERT OR REPLACE INTO copies VALUES (?, ?)", (
                doc.request_number, json.dumps(as_json(doc, keep_none=True),
                                               ensure_ascii=False, default=str)))
            return None, None, None
        if isinstance(doc, TransferInNotice):
            # Forwarded to the former municipality (here: kept for the control API).
            cur.execute("INSERT OR REPLACE INTO transfer_notices VALUES (?, ?, ?, ?)",
                        (doc.update_seq, doc.resident_code, doc.former_municipality_code,
                         doc.move_in_date.isoformat()))
            return None, doc.resident_code, doc.update_seq
        return self._generate(cur, doc)

    def _generate(self, cur: sqlite3.Cursor, req: NumberRequest) -> tuple[None, str, int]:
        row = cur.execute("SELECT individual_number FROM numbers WHERE resident_code=?",
                          (req.resident_code,)).fetchone()
        number = row[0] if row else self._new_number(cur, req.resident_code)
        if not self.faults.get("hold_numbers"):  # else: generated, not yet notified
            self.queue_push(cur, encode_number_generated(NumberGenerated(
                req.update_seq, req.municipality_code, req.resident_code, number)))
        return None, req.resident_code, req.update_seq

    def _new_number(self, cur: sqlite3.Cursor, resident_code: str) -> str:
        while True:
            body = str(self.rng.randint(1, 9)) + "".join(
                str(self.rng.randint(0, 9)) for _ in range(10))
            number = body + individual_number_check_digit(body)
            try:
                cur.execute("INSERT INTO numbers VALUES (?, ?)", (number, resident_code))
                return number
            except sqlite3.IntegrityError:
                continue  # issued before: draw again

    def build_push(self, spec: dict[str, Any]) -> bytes:
        """``{"generated": {request_update_seq, resident_code, individual_number}}``: push
        a number notice by hand (a test harness repeating or contradicting one);
        ``{"moving_out": {the items of MovingOutCertificate}}``: 転出証明書情報 of someone
        moving here with a card (dates as YYYY-MM-DD; ``to_municipality_code`` defaults
        to this city); ``{"raw": "<xml/>"}``: any bytes."""
        if "raw" in spec:
            return str(spec["raw"]).encode()
        if "moving_out" in spec:  # held for the 転入 too, as POST /certificates does
            cert = self._certificate_of(spec["moving_out"])
            self._hold_certificates([cert])
            return encode_moving_out(cert)
        if "copy_request" in spec:  # another municipality's 広域交付 request
            c = {"municipality_code": self.municipality_code, "scope": "person",
                 "requested_at": dt.datetime.now().replace(microsecond=0).isoformat(),
                 **spec["copy_request"]}
            c["requested_at"] = dt.datetime.fromisoformat(c["requested_at"])
            return encode_copy_request(WideAreaCopyRequest(**c))
        if "transfer_in" in spec:  # a 転入通知 of any person (one the city never sent)
            t = {"update_seq": 1, "former_municipality_code": self.municipality_code,
                 "notified_date": None, **spec["transfer_in"]}
            t["move_in_date"] = dt.date.fromisoformat(t["move_in_date"])
            return encode_transfer_in(TransferInNotice(**t))
        g = spec["generated"]
        return encode_number_generated(NumberGenerated(
            int(g["request_update_seq"]), g.get("municipality_code", self.municipality_code),
            g["resident_code"], g["individual_number"]))

    def _moves_control(self, method: str, path: str, request: Any) -> Any | None:
        """The control API's moves between cities (see the module docstring)."""
        if method == "GET" and path.startswith("/wide-area-copies/"):
            row = self.db.execute("SELECT answer FROM copies WHERE request_number=?",
                                  (path.rsplit("/", 1)[1],)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "no answer yet"}
            return json.loads(row[0])
        if method == "POST" and path == "/next-code":
            self.faults["next_code"] = str(json.loads(request_body(request))["code"])
            return {"next_code": self.faults["next_code"]}
        if method == "POST" and path == "/certificates":
            # Another city's 特例転出 to this city: its 転出証明書情報, held for the 転入.
            certs = [self._certificate_of(c) for c in json.loads(request_body(request))]
            self._hold_certificates(certs)
            return {"stored": len(certs)}
        if method == "GET" and path == "/moving-outs":
            rows = self.db.execute("SELECT body, moved_in FROM moving_outs ORDER BY rowid")
            return [{**as_json(decode_to_national(r[0].encode())), "moved_in": bool(r[1])}
                    for r in rows]
        if method == "POST" and path.startswith("/moved-in/"):
            day = json.loads(request_body(request, b"{}")).get("move_in_date")
            with self.db:
                self.db.execute("BEGIN")
                notice = self._moved_in(self.db.cursor(), path.rsplit("/", 1)[1],
                                        dt.date.fromisoformat(day) if day else None)
            if notice is None:
                request.setResponseCode(404)
                return {"error": "no certificate for this resident"}
            self.flush_pushes()
            return as_json(notice)
        return None

    def _hold_certificates(self, certs: list[MovingOutCertificate]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO certificates VALUES (?, ?, ?)", [
                (c.resident_code, c.to_municipality_code, encode_moving_out(c).decode())
                for c in certs])

    def _certificate_of(self, items: dict[str, Any]) -> MovingOutCertificate:
        m = {"to_municipality_code": self.municipality_code, **items}
        for k in ("birth_date", "moving_out_date"):
            if m.get(k):
                m[k] = dt.date.fromisoformat(m[k])
        return MovingOutCertificate(**m)

    def describe(self) -> dict[str, Any]:
        return {"issued": self.db.execute("SELECT count(*) FROM numbers").fetchone()[0],
                "transfer_notices": self.db.execute(
                    "SELECT count(*) FROM transfer_notices").fetchone()[0],
                "persons": self.db.execute("SELECT count(*) FROM persons").fetchone()[0]}

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        if method == "GET" and path.startswith("/numbers/"):
            row = self.db.execute("SELECT individual_number FROM numbers WHERE resident_code=?",
                                  (path.rsplit("/", 1)[1],)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "not issued"}
            return {"individual_number": row[0]}
        if method == "GET" and path == "/transfer-notices":
            rows = self.db.execute("SELECT update_seq, resident_code, former_municipality_code,"
                                   " move_in_date FROM transfer_notices ORDER BY update_seq")
            return [{"update_seq": r[0], "resident_code": r[1],
                     "former_municipality_code": r[2], "move_in_date": r[3]} for r in rows]
        moves = self._moves_control(method, path, request)
        if moves is not None:
            return moves
        if method == "POST" and path == "/persons":
            rows = json.loads(request_body(request, b"[]"))
            if not isinstance(rows, list):
                raise ValueError("POST /persons takes a JSON list of people")
            return {"stored": self.put_persons(rows)}
        if path.startswith("/persons/"):
            code = path.rsplit("/", 1)[1]
            if method == "DELETE":
                with self.db:
                    n = self.db.execute("DELETE FROM persons WHERE resident_code=?",
                                        (code,)).rowcount
                return {"deleted": n}
            row = self.db.execute(f"SELECT {', '.join(PERSON_ITEMS)}, held_for FROM persons "
                                  "WHERE resident_code=?", (code,)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "not held"}
            person = dict(zip((*PERSON_ITEMS, "held_for"), row, strict=True))
            if method == "PATCH":  # plant a difference (a test of the consistency check)
                person.update(json.loads(request_body(request)))
                self.put_persons([person])
            return person
        return None


def _name_key(name: str) -> str:
    return name.replace("\u3000", "").replace(" ", "")

