"""The identity-update document (本人確認情報の更新) sent to the prefectural server.

One document carries the 40 items of the identity-information file (本人確認情報ファイル,
別添1 (2) of the assessment) for one resident after one change, plus the previous
更新順番号 of that resident so the receiver can check per-resident order.  The XSD is
``schemas/identity_update.xsd``; ``FIELDS`` below lists the same elements in the same
order (a test keeps the two in step).

Where each item's value comes from (the register's change, the resident after it as the
register keeps it, or the hub) — ``hub.domain.identity.identity_record`` builds it so,
and ``tests/hub/test_identity_items.py`` checks every item against this for each reason:

==  ==========================  ==========================================================
 1  住民票コード                the change's 住民票コード (after a code change, the new one)
 2  漢字氏名                    the resident's 氏名, in 住基ネット unified characters
 3  外字数（氏名）              外字 in 2 (``charconv.gaiji_count``)
 4  ふりがな氏名                the resident's ふりがな
 5  清音化かな氏名              4 by the 標準仕様書's rules (``charconv.seion_kana``)
 6  生年月日                    the resident's
 7  性別                        the resident's
 8  市町村コード                the resident's address: 市町村コード
 9  大字・字コード              the resident's address: 大字・字コード
10  郵便番号                    the resident's address: 郵便番号
11  住所                        the resident's address
12  外字数（住所）              外字 in 11
13  個人番号                    the resident's (set only by a designation)
14  住民となった日              the register's 住民となった年月日 (sent with 転入 and 出生)
15  住所を定めた日              the register's 住所を定めた年月日 (転入, 出生, 転居)
16  届出の年月日                the change's notified date
17  市町村コード（転入前）      the resident's 転入前住所: 市町村コード (転入)
18  転入前住所                  the resident's 転入前住所
19  外字数（転入前住所）        外字 in 18
20  続柄                        the resident's 続柄
21  異動事由                    the change's reason as its code (``REASONS``)
22  異動年月日                  the change's event date
23  異動事由詳細                the code of the reason's kind (``DETAILS``: from abroad,
                                to another city, 特例, …)
24  旧住民票コード              a 住民票コードの変更's code before it (else none)
25  住民票コード使用年月日      the day the resident's code came into use, from a code
                                change (else none)
26  依頼管理番号                the change's request id
27  操作者ID                    the change's operator
28  操作端末ID                  the change's terminal
29  更新順番号                  the hub's next number
30  異常時更新順番号            a correction resent to mend a difference: the 更新順番号 of
                                the record it restates (else none)
31  更新禁止フラグ              the register's state of the resident (更新禁止)
32  予定者フラグ                the register's state of the resident (予定者: e.g. a 転出予定者)
33  排他フラグ                  the register's state of the resident (排他)
34  外字フラグ                  any 外字 in 2, 11, 18 or 37
35  レコード状況フラグ          removed (消除) or active
36  タイムスタンプ              the commit's time
37  旧氏 漢字                   the resident's 旧氏 (where they have one)
38  旧氏 外字数                 外字 in 37
39  旧氏 ふりがな               the resident's 旧氏 ふりがな
40  旧氏 外字変更連番           the register's 外字変更連番 of the 旧氏
==  ==========================  ==========================================================
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
    reason: str  # 21 異動事由 (a code of REASONS)
    event_date: dt.date  # 22 異動年月日
    reason_detail: str | None  # 23 異動事由詳細 (a code of DETAILS)
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


# 21 異動事由: the 住基ネット's code of each kind of change (the hub's reason -> code,
# what staff call it).  J-LIS's CS specification, which fixes the official values, is not
# published; this is the one table to change if its values differ (README, Assumptions).
REASONS: dict[str, tuple[str, str]] = {
    "move_in": ("01", "転入"),
    "birth": ("02", "出生"),
    "move_within": ("11", "転居"),
    "household_change": ("12", "世帯変更"),
    "household_head_change": ("13", "世帯主変更"),
    "move_out": ("21", "転出"),
    "death": ("22", "死亡"),
    "name_change": ("31", "氏名の変更"),
    "correction": ("32", "職権修正"),
    "number_designation": ("33", "個人番号の指定"),
    "resident_code_change": ("34", "住民票コードの変更"),
}
# 23 異動事由詳細: the reason's code and the kind of it.
DETAILS: dict[str, str] = {
    "0101": "国内からの転入", "0102": "国外からの転入", "0103": "特例転入",
    "0201": "出生", "1101": "転居", "1201": "世帯変更", "1301": "世帯主変更",
    "2101": "国内への転出", "2102": "国外への転出", "2103": "特例転出",
    "2201": "死亡", "3101": "氏名の変更", "3201": "職権修正", "3301": "個人番号の指定",
    "3401": "住民票コードの変更（請求）",
}
REASON_NAMES = {code: name for code, name in REASONS.values()}


def reason_code(reason: str) -> str:
    """21 異動事由 of the hub's ``reason``."""
    return REASONS[reason][0]


def detail_code(reason: str, kind: str = "01") -> str:
    """23 異動事由詳細: the reason's code and ``kind`` (``01`` the plain case; for 転入
    ``02`` from abroad, ``03`` 特例転入; for 転出 ``02`` abroad, ``03`` 特例転出)."""
    code = REASONS[reason][0] + kind
    assert code in DETAILS, code
    return code


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
