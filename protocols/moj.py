"""Foreign-resident notice (住基法 30条の50) to the legal-affairs ministry (法務省).

For every recorded change of a foreign resident (住民区分 外国人) the city notifies the
ministry; the notice carries the 30条の45 items and names the resident's previous
notice (``PreviousUpdateSeq``) so the receiver can check order.  The XSD is
``schemas/moj_notice.xsd``; ``FIELDS`` lists its elements in the same order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from protocols.errors import BodyError
from protocols.xmlsafe import load_schema, parse_xml, validate

NAMESPACE = "urn:jukihub:moj:foreign-resident-notice:1"
_NS = "{" + NAMESPACE + "}"


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


def _element(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f.name, _element(f.name)) for f in fields(ForeignResidentNotice))
_TYPES = {f.name: f.type for f in fields(ForeignResidentNotice)}
_TAGS = tuple((attr, f"<{el}>", f"</{el}>") for attr, el in FIELDS)
_SCHEMA: etree.XMLSchema | None = None


def schema() -> etree.XMLSchema:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = load_schema("moj_notice.xsd")
    return _SCHEMA


def encode_notice(notice: ForeignResidentNotice) -> bytes:
    """UTF-8 XML that validates against the XSD (values escaped)."""
    parts = ["<?xml version='1.0' encoding='UTF-8'?>\n<ForeignResidentNotice xmlns=\"",
             NAMESPACE, "\">"]
    for attr, open_tag, close_tag in _TAGS:
        value = getattr(notice, attr)
        if value is not None:
            text = value.isoformat() if isinstance(value, dt.date) else str(value)
            parts += [open_tag, escape(text), close_tag]
    parts.append("</ForeignResidentNotice>")
    return "".join(parts).encode("utf-8")


def _parse(attr: str, text: str) -> Any:
    kind = _TYPES[attr]
    if "int" in kind:
        return int(text)
    if "date" in kind:
        return dt.date.fromisoformat(text)
    return text


def decode_notice(data: bytes) -> ForeignResidentNotice:
    """Parse and validate a notice, or raise ``BodyError``."""
    root = parse_xml(data)
    validate(schema(), root)
    values: dict[str, Any] = {attr: None for attr, _ in FIELDS}
    by_element = {el: attr for attr, el in FIELDS}
    for child in root:
        attr = by_element[etree.QName(child).localname]
        try:
            values[attr] = _parse(attr, child.text or "")
        except ValueError:
            raise BodyError("bad_value", f"{etree.QName(child).localname} is not valid") from None
    return ForeignResidentNotice(**values)


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


CHANGE_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f.name, _element(f.name)) for f in fields(ResidenceChangeNotice))
_CHANGE_TYPES = {f.name: f.type for f in fields(ResidenceChangeNotice)}
_CHANGED_ITEMS = ("nationality", "residence_status", "residence_period_end",
                  "new_residence_card_number", "name")
_CHANGE_SCHEMA: etree.XMLSchema | None = None


def encode_change_notice(notice: ResidenceChangeNotice) -> bytes:
    parts = ["<?xml version='1.0' encoding='UTF-8'?>\n<ResidenceChangeNotice xmlns=\"",
             CHANGE_NAMESPACE, "\">"]
    for attr, element in CHANGE_FIELDS:
        value = getattr(notice, attr)
        if value is not None:
            text = value.isoformat() if isinstance(value, dt.date) else str(value)
            parts += [f"<{element}>", escape(text), f"</{element}>"]
    parts.append("</ResidenceChangeNotice>")
    return "".join(parts).encode("utf-8")


def decode_change_notice(data: bytes) -> ResidenceChangeNotice:
    """Parse and validate a ministry notice, or raise ``BodyError``."""
    global _CHANGE_SCHEMA
    if _CHANGE_SCHEMA is None:
        _CHANGE_SCHEMA = load_schema("moj_change.xsd")
    root = parse_xml(data)
    validate(_CHANGE_SCHEMA, root)
    values: dict[str, Any] = {attr: None for attr, _ in CHANGE_FIELDS}
    by_element = {el: attr for attr, el in CHANGE_FIELDS}
    for child in root:
        attr = by_element[etree.QName(child).localname]
        try:
            values[attr] = (dt.date.fromisoformat(child.text or "")
                            if "date" in _CHANGE_TYPES[attr] else child.text or "")
        except ValueError:
            raise BodyError("bad_value", f"{etree.QName(child).localname} is not valid") from None
    notice = ResidenceChangeNotice(**values)
    if all(getattr(notice, item) is None for item in _CHANGED_ITEMS):
        raise BodyError("nothing_changed", "the notice changes no item")
    return notice
