"""The identity-update document (本人確認情報の更新) sent to the prefectural server.

One document carries the 40 items of the identity-information file (本人確認情報ファイル,
別添1 (2) of the assessment) for one resident after one change, plus the previous
更新順番号 of that resident so the receiver can check per-resident order.  The XSD is
``schemas/identity_update.xsd``; ``FIELDS`` below lists the same elements in the same
order (a test keeps the two in step).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from protocols.xmlrecord import XmlRecord
from protocols.xmlsafe import load_schema, parse_xml, validate

NAMESPACE = "urn:jukihub:juki:identity-update:1"
_NS = "{" + NAMESPACE + "}"


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """本人確認情報: the 40 items of the identity-information file, in file order."""

    resident_code: str  # 1 住民票コード
    name_kanji: str  # 2 漢字氏名
    name_gaiji_count: int  # 3 外字数（氏名）
    name_kana: str  # 4 ふりがな氏名
    name_seion_kana: str | None  # 5 清音化かな氏名
    birth_date: dt.date  # 6 生年月日
    sex: str  # 7 性別 (1 男, 2 女)
    municipality_code: str  # 8 市町村コード
    aza_code: str | None  # 9 大字・字コード
    postal_code: str | None  # 10 郵便番号
    address: str  # 11 住所
    address_gaiji_count: int  # 12 外字数（住所）
    individual_number: str | None  # 13 個人番号
    became_resident_date: dt.date | None  # 14 住民となった日
    address_set_date: dt.date | None  # 15 住所を定めた日
    notified_date: dt.date | None  # 16 届出の年月日
    previous_municipality_code: str | None  # 17 市町村コード（転入前）
    previous_address: str | None  # 18 転入前住所
    previous_address_gaiji_count: int  # 19 外字数（転入前住所）
    relationship: str | None  # 20 続柄
    reason: str  # 21 異動事由
    event_date: dt.date  # 22 異動年月日
    reason_detail: str | None  # 23 異動事由詳細
    old_resident_code: str | None  # 24 旧住民票コード
    resident_code_used_date: dt.date | None  # 25 住民票コード使用年月日
    request_id: str  # 26 依頼管理番号
    operator_id: str  # 27 操作者ID
    terminal_id: str  # 28 操作端末ID
    update_seq: int  # 29 更新順番号
    abnormal_update_seq: int | None  # 30 異常時更新順番号
    update_prohibited: bool  # 31 更新禁止フラグ
    prospective: bool  # 32 予定者フラグ
    exclusive: bool  # 33 排他フラグ
    gaiji_flag: bool  # 34 外字フラグ
    record_status: str  # 35 レコード状況フラグ (active / removed)
    timestamp: dt.datetime  # 36 タイムスタンプ
    old_surname_kanji: str | None  # 37 旧氏 漢字
    old_surname_gaiji_count: int  # 38 旧氏 外字数
    old_surname_kana: str | None  # 39 旧氏 ふりがな
    old_surname_gaiji_change_seq: int | None  # 40 旧氏 外字変更連番


_RECORD = XmlRecord(IdentityRecord)
FIELDS: tuple[tuple[str, str], ...] = _RECORD.fields


@dataclass(frozen=True, slots=True)
class IdentityUpdate:
    """An identity-update message: the record after the change, and the resident's
    previous 更新順番号 (``None`` for the first record the receiver will hold)."""

    record: IdentityRecord
    previous_update_seq: int | None


def schema() -> etree.XMLSchema:
    return load_schema("identity_update.xsd")


def encode_identity_update(msg: IdentityUpdate) -> bytes:
    """Serialise to UTF-8 XML that validates against the XSD."""
    prev = ("" if msg.previous_update_seq is None
            else f"<PreviousUpdateSeq>{int(msg.previous_update_seq)}</PreviousUpdateSeq>")
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n<IdentityUpdate xmlns=\"{NAMESPACE}\">"
            f"{prev}<Record>{_RECORD.encode(msg.record)}</Record></IdentityUpdate>"
            ).encode()


def decode_identity_update(data: bytes) -> IdentityUpdate:
    """Parse and validate an identity-update document, or raise ``BodyError``."""
    return IDENTITY_UPDATE.load_root(parse_xml(data))


class _IdentityUpdateDocument:
    """The document for ``XmlDispatch`` (a stream that carries other documents too)."""

    root = "IdentityUpdate"

    @staticmethod
    def load_root(root: etree._Element) -> IdentityUpdate:
        return _load(root)


IDENTITY_UPDATE = _IdentityUpdateDocument()


def _load(root: etree._Element) -> IdentityUpdate:
    validate(schema(), root)
    prev = root.find(_NS + "PreviousUpdateSeq")
    rec = root.find(_NS + "Record")
    assert rec is not None  # guaranteed by the schema
    return IdentityUpdate(
        record=_RECORD.decode(rec),
        previous_update_seq=int(prev.text) if prev is not None and prev.text else None,
    )
