"""Identity queries (本人確認情報照会) to the national server: what a query may ask.

A query names a 住民票コード, or a 個人番号, or a combination of the four items (氏名,
住所, 性別, 生年月日).  The assessment (III, 特定個人情報の入手) requires at least two
items other than sex — 氏名 with 住所, or 氏名 with 生年月日 — so that searches cannot be
used to build a database of people: ``parse_query`` refuses anything broader with
``query_too_broad`` before anything is sent or logged.  The name may be given in kanji
or kana (matched by its 清音化かな at the national server).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.domain import checks
from hub.domain.errors import FormatError
from protocols.national import IdentityQuery


@dataclass(frozen=True, slots=True)
class QueryRequest:
    key: str           # resident_code | individual_number | four_items (for the 操作ログ)
    query: IdentityQuery


_FOUR = ("name", "name_kana", "birth_date", "sex", "address")


def parse_query(obj: dict[str, Any], municipality_code: str) -> QueryRequest:
    """A schema-valid query body, after its checks, or ``FormatError``."""
    given = {k for k in ("resident_code", "individual_number", *_FOUR) if obj.get(k)}
    keys = given & {"resident_code", "individual_number"}
    if len(keys) > 1 or (keys and given - keys):
        raise FormatError("ambiguous_query", "give a resident_code, or an individual_number, "
                          "or items of the four — one kind of key")
    if "resident_code" in keys:
        checks.check_resident_code(obj["resident_code"])
        q = IdentityQuery(municipality_code, resident_code=obj["resident_code"])
        return QueryRequest("resident_code", q)
    if "individual_number" in keys:
        checks.check_individual_number(obj["individual_number"])
        q = IdentityQuery(municipality_code, individual_number=obj["individual_number"])
        return QueryRequest("individual_number", q)
    has_name = bool(given & {"name", "name_kana"})
    if not (has_name and given & {"birth_date", "address"}):
        raise FormatError("query_too_broad", "a search by the four items needs the name with "
                          "the address or with the birth date (two items other than sex)",
                          status=422)
    if "name" in given:
        checks.check_text(obj["name"], "name", 50)
    if "name_kana" in given:
        checks.check_kana(obj["name_kana"], "name_kana")
    if "address" in given:
        checks.check_text(obj["address"], "address", 150)
    birth = checks.parse_date(obj["birth_date"], "birth_date") if "birth_date" in given else None
    q = IdentityQuery(municipality_code, name_kanji=obj.get("name") or None,
                      name_kana=obj.get("name_kana") or None, birth_date=birth,
                      sex=obj.get("sex") or None, address=obj.get("address") or None)
    return QueryRequest("four_items", q)
