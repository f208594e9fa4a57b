"""Consistency check (本人確認情報整合) with the prefectural and national servers.

The city proves that its identity-information file matches the copies the prefecture
(都道府県知事保存本人確認情報) and J-LIS (機構保存本人確認情報) keep: the hub streams the
whole file, in 住民票コード order, as ``ConsistencyChunk`` documents on the link's
ordered stream — so each record is compared with the peer's copy at the same point of
the stream as the updates before it — and the peer answers on its own stream with a
``ConsistencyResult``: what it compared and held, and the differences, each named by
住民票コード, kind and the *names* of the items that differ (never their values).

``CHECK_ITEMS`` are the items compared; a difference of kind ``only_at_peer`` is a
record the peer holds for this city that the hub did not send.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from protocols.xmlrecord import XmlDispatch, XmlListDocument

NAMESPACE = "urn:jukihub:juki:consistency:1"
MAX_RECORDS = 1000      # per chunk (the XSD's maxOccurs)
MAX_DIFFERENCES = 1000  # listed per result; DifferenceCount counts them all


@dataclass(frozen=True, slots=True)
class CheckRecord:
    resident_code: str               # 住民票コード
    individual_number: str | None    # 個人番号
    name_kanji: str                  # 漢字氏名
    name_kana: str                   # ふりがな氏名
    birth_date: dt.date              # 生年月日
    sex: str                         # 性別
    municipality_code: str           # 市町村コード
    address: str                     # 住所
    record_status: str               # レコード状況 (active / removed)
    update_seq: int                  # 更新順番号


CHECK_ITEMS = tuple(f for f in CheckRecord.__dataclass_fields__ if f != "resident_code")


@dataclass(frozen=True, slots=True)
class ConsistencyChunk:
    check_id: str
    municipality_code: str
    chunk_no: int                    # from 1, no gaps
    final: bool                      # the last chunk of the check
    total: int | None                # records sent in the whole check (on the final)
    records: tuple[CheckRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class Difference:
    resident_code: str
    kind: str                        # differs | only_at_hub | only_at_peer
    items: str | None                # names of the differing items, space-separated


@dataclass(frozen=True, slots=True)
class ConsistencyResult:
    check_id: str
    municipality_code: str
    compared: int                    # records received from the hub
    held: int                        # records the peer holds for this city
    difference_count: int
    differences: tuple[Difference, ...] = ()


CHUNK = XmlListDocument(ConsistencyChunk, "ConsistencyChunk", NAMESPACE,
                        "consistency_chunk.xsd", "records", CheckRecord, "Record", MAX_RECORDS,
                        max_bytes=1 << 20)
RESULT = XmlListDocument(ConsistencyResult, "ConsistencyResult", NAMESPACE,
                         "consistency_result.xsd", "differences", Difference, "Difference",
                         MAX_DIFFERENCES)


def encode_chunk(chunk: ConsistencyChunk) -> bytes:
    return CHUNK.dumps(chunk)


def encode_result(result: ConsistencyResult) -> bytes:
    return RESULT.dumps(result)


def decode_result(data: bytes) -> ConsistencyResult:
    r: ConsistencyResult = XmlDispatch(RESULT).loads(data)
    return r


def compare(ours: CheckRecord, theirs: CheckRecord) -> list[str]:
    """The names of the items that differ."""
    return [k for k in CHECK_ITEMS if getattr(ours, k) != getattr(theirs, k)]
