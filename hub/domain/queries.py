"""Identity queries (本人確認情報照会) to the national server: what a query may ask.

A query names a 住民票コード, or a 個人番号, or a combination of the four items (氏名,
住所, 性別, 生年月日).  The assessment (III, 特定個人情報の入手) requires at least two
items other than sex — 氏名 with 住所, or 氏名 with 生年月日 — so that searches cannot be
used to build a database of people: ``parse_query`` refuses anything broader with
``query_too_broad`` before anything is sent or logged.  The name may be given in kanji
or kana (matched by its 清音化かな at the national server).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hub.domain import checks
from hub.domain.errors import FormatError
from protocols.charconv import seion_kana
from protocols.national import IdentityQuery


@dataclass(frozen=True, slots=True)
class QueryRequest:
    key: str           # resident_code | individual_number | four_items (for the 操作ログ)
    query: IdentityQuery


_FOUR = ("name", "name_kana", "birth_date", "sex", "address")

# 都道府県: 東京都, 北海道, 京都府 and 大阪府, or any name ending in 県.
_PREFECTURE = re.compile(r"^(?:東京都|北海道|京都府|大阪府|[^都道府県]{2,3}県)")
_SUFFIXES = "市区町村"
_WARD = re.compile(rf"^[^{_SUFFIXES}]{{1,5}}区")  # a 政令市's ward: 静岡市葵区


def _municipality_end(text: str) -> int:
    """Where the municipality named at the start of ``text`` ends (0: none named):
    a 郡 and its 町 or 村, or a 市 (with its 区), or a 特別区 — the first suffix not
    followed by another suffix (四日市市, 市川市), at most 10 characters in."""
    county = text.find("郡", 1, 10)
    start = county + 1 if county > 0 else 0
    for i in range(start + 1, min(len(text), start + 10)):
        if text[i] in _SUFFIXES and (i + 1 == len(text) or text[i + 1] not in _SUFFIXES):
            if county > 0 and text[i] not in "町村":
                return 0
            end = i + 1
            ward = _WARD.match(text[end:]) if text[i] == "市" else None
            return end + ward.end() if ward else end
    return 0


def address_names_a_town(address: str) -> bool:
    """Whether ``address`` names at least the town (町字) of a municipality it names:
    ``静岡県沼津市大手町`` or ``沼津市大手町`` does; ``静岡県``, ``沼津市`` or ``静岡県駿東郡清水町``
    alone does not (a prefecture or a whole municipality is not a search item)."""
    text = _bare(address)
    prefecture = _PREFECTURE.match(text)
    rest = text[prefecture.end():] if prefecture else text
    end = _municipality_end(rest)
    return end > 0 and len(rest) > end


def parse_query(obj: dict[str, Any], municipality_code: str) -> QueryRequest:
    """A schema-valid query body, after its checks, or ``FormatError``."""
    given = {k for k in ("resident_code", "individual_number", *_FOUR) if obj.get(k)}
    if "address" in given and not address_names_a_town(obj["address"]):
        # Still searched by, but not one of the two items: a prefecture or a city
        # alone narrows nothing.
        counted = given - {"address"}
    else:
        counted = given
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
    has_name = bool(counted & {"name", "name_kana"})
    if not (has_name and counted & {"birth_date", "address"}):
        raise FormatError("query_too_broad", "a search by the four items needs the name with "
                          "the address or with the birth date (two items other than sex); "
                          "an address counts when it names the municipality and the town "
                          "(町字), e.g. 沼津市大手町", status=422)
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


# ---- the local search of the hub's own register (本人確認情報検索) ------------------------

MAX_LOCAL_MATCHES = 100
_SHOWN = ("resident_code", "name_kanji", "name_kana", "birth_date", "sex", "address",
          "removed", "card_state")


def _bare(text: str | None) -> str:
    return (text or "").replace("　", "").replace(" ", "")


def search_items(q: IdentityQuery) -> dict[str, Any]:
    """What the store matches exactly (the names are compared here, after)."""
    return {"resident_code": q.resident_code, "individual_number": q.individual_number,
            "birth_date": q.birth_date, "sex": q.sex, "address": q.address}


def local_matches(rows: list[dict[str, Any]], q: IdentityQuery) -> list[dict[str, Any]]:
    """The rows that match the query's names too, as a list shows them: never the
    個人番号 (a list shows many people)."""
    kana = seion_kana(_bare(q.name_kana)) if q.name_kana else None
    out = []
    for r in rows:
        if q.name_kanji and _bare(r["name_kanji"]) != _bare(q.name_kanji):
            continue
        if kana is not None and seion_kana(_bare(r["name_kana"])) != kana:
            continue
        out.append({k: r[k] for k in _SHOWN})
    return out
