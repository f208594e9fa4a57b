"""The wide-area copy of the 住民票 (広域交付住民票, 住基法 12条の4): a resident asks for a
copy of their 住民票 at another municipality's window (the 交付地); that municipality asks
through J-LIS, and the city where they live (住所地: this hub) answers from its mini
register (ミニ住記, the seed's 住基GW ③) with the items a copy carries.

- ``WideAreaCopyRequest`` (national server -> hub, pushed): the request's number, the
  交付地, the resident (住民票コード, as the window read it from their card), and whether
  the copy is of the resident alone or their whole household (本人のみ / 世帯全員).
- ``WideAreaCopyAnswer`` (hub -> national server): ``issued`` with one ``Entry`` per
  person, or ``not_found`` / ``removed`` with none.

An entry is the 住民票's items (住基法 7条) less what a wide-area copy never carries: 本籍
and 筆頭者 (12条の4 第1項), the 住民票コード and the 個人番号 (not asked for through this
procedure).  XML (``schemas/national_copy_request.xsd``, ``national_copy_answer.xsd``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from protocols.xmlrecord import XmlDocument, XmlListDocument

NAMESPACE = "urn:jukihub:national:wide-area-copy:1"
MAX_ENTRIES = 50  # a household's members on one copy (the XSD's maxOccurs)
SCOPES = ("person", "household")  # 本人のみ, 世帯全員


@dataclass(frozen=True, slots=True)
class WideAreaCopyRequest:
    request_number: str              # 請求番号 (the 交付地's)
    municipality_code: str           # 住所地: the city asked
    issuing_municipality_code: str   # 交付地: the city whose window issues the copy
    resident_code: str               # 住民票コード of the resident who asked
    scope: str                       # person | household
    requested_at: dt.datetime        # 請求日時


@dataclass(frozen=True, slots=True)
class Entry:
    """One person on the copy (住民票の記載事項)."""

    name_kanji: str                          # 氏名
    name_kana: str                           # ふりがな
    birth_date: dt.date                      # 出生の年月日
    sex: str                                 # 男女の別
    household_head: str | None               # 世帯主の氏名
    relationship: str                        # 世帯主との続柄
    became_resident_date: dt.date | None     # 住民となった年月日
    address: str                             # 住所
    address_set_date: dt.date | None         # 住所を定めた年月日
    previous_address: str | None             # 従前の住所 (転入前住所)
    old_surname_kanji: str | None            # 旧氏
    resident_type: str                       # japanese | foreign
    nationality: str | None                  # 国籍・地域 (外国人住民)
    article_30_45: str | None                # 法30条45規定区分
    residence_status: str | None             # 在留資格
    residence_period_end: dt.date | None     # 在留期間の満了の日
    residence_card_number: str | None        # 在留カード等の番号
    common_name: str | None                  # 通称


@dataclass(frozen=True, slots=True)
class WideAreaCopyAnswer:
    request_number: str
    municipality_code: str
    issuing_municipality_code: str
    status: str                      # issued | not_found | removed
    entries: tuple[Entry, ...] = ()


REQUEST = XmlDocument(WideAreaCopyRequest, "WideAreaCopyRequest", NAMESPACE,
                      "national_copy_request.xsd")
ANSWER = XmlListDocument(WideAreaCopyAnswer, "WideAreaCopyAnswer", NAMESPACE,
                         "national_copy_answer.xsd", "entries", Entry, "Entry", MAX_ENTRIES)


def encode_request(req: WideAreaCopyRequest) -> bytes:
    return REQUEST.dumps(req)


def encode_answer(answer: WideAreaCopyAnswer) -> bytes:
    return ANSWER.dumps(answer)


def decode_answer(data: bytes) -> WideAreaCopyAnswer:
    a: WideAreaCopyAnswer = ANSWER.loads(data)
    return a
