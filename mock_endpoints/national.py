"""Mock national server (全国サーバ, J-LIS): generates individual numbers.

For each number request it generates a 12-digit 個人番号 with a valid check digit
(総務省令第85号 第5条) that it has never issued before, keeps it, and sends it back to
the hub on its own stream — queued in the same transaction that applies the request,
sent after the commit.  A request for a resident it already numbered gets the same
number again.  It refuses a body that is not a valid request (permanent) or one for
another municipality (permanent).
"""

from __future__ import annotations

import random
import sqlite3
from typing import Any

from stdnum.jp import in_ as individual_number_std

from mock_endpoints.base import MockEndpoint, Refusal
from protocols.errors import BodyError
from protocols.national import NumberGenerated, decode_number_request, encode_number_generated


class NationalMock(MockEndpoint):
    link = "national"
    extra_schema = """
    CREATE TABLE IF NOT EXISTS numbers (
        individual_number TEXT PRIMARY KEY, resident_code TEXT NOT NULL UNIQUE);
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rng = random.SystemRandom()

    def apply(self, cur: sqlite3.Cursor, seq: int, body: bytes) -> tuple[Refusal | None,
                                                                          str | None,
                                                                          int | None]:
        try:
            req = decode_number_request(body)
        except BodyError as err:
            return Refusal(True, err.code, err.message), None, None
        if req.municipality_code != self.municipality_code:
            return Refusal(True, "wrong_municipality", "not this municipality"), None, None
        row = cur.execute("SELECT individual_number FROM numbers WHERE resident_code=?",
                          (req.resident_code,)).fetchone()
        number = row[0] if row else self._new_number(cur, req.resident_code)
        self.queue_push(cur, encode_number_generated(NumberGenerated(
            req.update_seq, req.municipality_code, req.resident_code, number)))
        return None, req.resident_code, req.update_seq

    def _new_number(self, cur: sqlite3.Cursor, resident_code: str) -> str:
        while True:
            body = str(self.rng.randint(1, 9)) + "".join(
                str(self.rng.randint(0, 9)) for _ in range(10))
            number = body + individual_number_std.calc_check_digit(body)
            try:
                cur.execute("INSERT INTO numbers VALUES (?, ?)", (number, resident_code))
                return number
            except sqlite3.IntegrityError:
                continue  # issued before: draw again

    def build_push(self, spec: dict[str, Any]) -> bytes:
        """``{"generated": {request_update_seq, resident_code, individual_number}}``: push
        a number notice by hand (a test harness repeating or contradicting one)."""
        g = spec["generated"]
        return encode_number_generated(NumberGenerated(
            int(g["request_update_seq"]), g.get("municipality_code", self.municipality_code),
            g["resident_code"], g["individual_number"]))

    def describe(self) -> dict[str, Any]:
        return {"issued": self.db.execute("SELECT count(*) FROM numbers").fetchone()[0]}

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        if method == "GET" and path.startswith("/numbers/"):
            row = self.db.execute("SELECT individual_number FROM numbers WHERE resident_code=?",
                                  (path.rsplit("/", 1)[1],)).fetchone()
            if row is None:
                request.setResponseCode(404)
                return {"error": "not issued"}
            return {"individual_number": row[0]}
        return None
