"""Foreign-resident notice (住基法 30条の50) to the legal-affairs ministry (法務省).

For every recorded change of a foreign resident (住民区分 外国人) the city notifies the
ministry; the notice carries the 30条の45 items and names the resident's previous
notice (``PreviousUpdateSeq``) so the receiver can check order.  The XSD is
``schemas/moj_notice.xsd``; ``FIELDS`` lists its elements in the same order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from protocols.errors import BodyError
from protocols.xmlrecord import XmlDocument

NAMESPACE = "urn:jukihub:moj:foreign-resident-notice:1"


@dataclass(frozen=True, slots=True)
class ForeignResidentNotice:
    """法務大臣への通知 (住基法 30条の50) of one change of a foreign resident."""

    update_seq: int                      # 更新順番号 of the change
    previous_update_seq: int | None      # the resident's previous notice, if any
    municipality_code: str               # 市町村コード
    resident_code: str                   # 住民票コード
    reason: str                          # 異動事由
    event_date: dt.date                  # 異動年月日
    name: str                            # 氏名
    name_kana: str | None                # ふりがな
    common_name: str | None              # 通称
    birth_date: dt.date                  # 生年月日
    sex: str                             # 性別
    nationality: str                     # 国籍・地域
    article_30_45: str                   # 法30条45規定区分
    residence_status: str | None         # 在留資格
    residence_period_end: dt.date | None  # 在留期間の満了の日
    residence_card_number: str | None    # 在留カード等の番号
    address: str                         # 住所
    record_status: str                   # active / removed


_NOTICE = XmlDocument(ForeignResidentNotice, "ForeignResidentNotice", NAMESPACE,
                      "moj_notice.xsd")
FIELDS: tuple[tuple[str, str], ...] = _NOTICE.fields


def encode_notice(notice: ForeignResidentNotice) -> bytes:
    return _NOTICE.dumps(notice)


def decode_notice(data: bytes) -> ForeignResidentNotice:
    """Parse and validate a notice, or raise ``BodyError``."""
    notice: ForeignResidentNotice = _NOTICE.loads(data)
    return notice


# ---- inbound: the ministry's notices to the city (入管法 61条の8の2) -------------------

CHANGE_NAMESPACE = "urn:jukihub:moj:residence-change-notice:1"


@dataclass(frozen=True, slots=True)
class ResidenceChangeNotice:
    """A change the ministry recorded for a foreign resident of the city: 在留資格,
    在留期間, 在留カード番号, 国籍・地域 or 氏名.  The register system applies it."""

    notice_number: str                    # the ministry's number for this notice
    municipality_code: str                # 市町村コード
    residence_card_number: str            # 在留カード等の番号 the resident held
    change_date: dt.date                  # 変更年月日
    nationality: str | None               # 国籍・地域 (new)
    residence_status: str | None          # 在留資格 (new)
    residence_period_end: dt.date | None  # 在留期間の満了の日 (new)
    new_residence_card_number: str | None  # 在留カード等の番号 (new)
    name: str | None                      # 氏名 (new)


_CHANGE = XmlDocument(ResidenceChangeNotice, "ResidenceChangeNotice", CHANGE_NAMESPACE,
                      "moj_change.xsd")
CHANGE_FIELDS: tuple[tuple[str, str], ...] = _CHANGE.fields
_CHANGED_ITEMS = ("nationality", "residence_status", "residence_period_end",
                  "new_residence_card_number", "name")


def encode_change_notice(notice: ResidenceChangeNotice) -> bytes:
    return _CHANGE.dumps(notice)


def decode_change_notice(data: bytes) -> ResidenceChangeNotice:
    """Parse and validate a ministry notice, or raise ``BodyError``."""
    notice: ResidenceChangeNotice = _CHANGE.loads(data)
    if all(getattr(notice, item) is None for item in _CHANGED_ITEMS):
        raise BodyError("nothing_changed", "the notice changes no item")
    return notice
