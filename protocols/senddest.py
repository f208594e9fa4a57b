"""Send-destination data (送付先情報) for the card management system, 67 items.

個人番号通知書 and card application forms are printed and posted by J-LIS (the
機構, 個人番号カード省令 35条) from the 送付先情報ファイル the city sends.  The hub builds
it from the register for a batch — a given list of residents, or everyone whose number
notice has not been sent — and streams it to the card link as ``SendDestinationChunk``
documents (XML, ``schemas/send_destination.xsd``), each destination one ``Destination``
element whose children are the 67 items of the file in their order (別添1 (3)).

Layout decisions (documented in the README):

- XML rather than the fixed-length layout; the 項目長 items are kept and carry the
  length, in characters, of the item that follows them, as the file defines.
- One record per person (items 38–67 theirs); the records of one destination share
  items 1–37: its own 送付先管理番号 (the batch's number and a 7-digit serial), the
  送付先 (items 2–8: the household's 世帯主, or the resident's own name and address
  when the city sends per resident) and 対象となる人数 (how many of the batch go there).
- 代替文字 (items 53–59) by ``charconv.substitute``: the name falls back to its kana,
  the address to 〓; 外字数 by ``charconv.gaiji_count``.
- The city's own items (9–32) come from ``[send_destination]`` in config.toml.
- 旧氏 (62–65) and ローマ字 (66–67) where the register has them; 外字パターン (61) the
  外字 the printer needs for the person's name, address and 旧氏, each once, as code
  points (``U+9089_U+E0102`` for a kanji with its variation selector).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from protocols.xmlrecord import XmlDispatch, XmlListDocument

NAMESPACE = "urn:jukihub:card:send-destination:1"
MAX_RECORDS = 300  # per chunk (the XSD's maxOccurs)
MAX_CHUNK_BYTES = 1 << 20  # a chunk is one frame: the links' largest frame


@dataclass(frozen=True, slots=True)
class SendDestination:
    management_number: str                  # 1 送付先管理番号
    dest_postal_code: str | None            # 2 送付先郵便番号
    dest_address_len: int                   # 3 送付先住所 漢字項目長
    dest_address: str                       # 4 送付先住所 漢字
    dest_address_gaiji: int                 # 5 送付先住所 漢字外字数
    dest_name_len: int                      # 6 送付先氏名 漢字項目長
    dest_name: str                          # 7 送付先氏名 漢字
    dest_name_gaiji: int                    # 8 送付先氏名 漢字 外字数
    municipality_code: str                  # 9 市町村コード
    municipality_name_len: int              # 10 市町村名 項目長
    municipality_name: str                  # 11 市町村名
    municipality_postal_code: str           # 12 市町村郵便番号
    municipality_address_len: int           # 13 市町村住所 項目長
    municipality_address: str               # 14 市町村住所
    municipality_address_gaiji: int         # 15 市町村住所 外字数
    municipality_phone: str                 # 16 市町村電話番号
    issue_place_name_len: int               # 17 交付場所名 項目長
    issue_place_name: str                   # 18 交付場所名
    issue_place_name_gaiji: int             # 19 交付場所名 外字数
    issue_place_postal_code: str            # 20 交付場所郵便番号
    issue_place_address_len: int            # 21 交付場所住所 項目長
    issue_place_address: str                # 22 交付場所住所
    issue_place_address_gaiji: int          # 23 交付場所住所 外字数
    issue_place_phone: str                  # 24 交付場所電話番号
    card_place_name_len: int                # 25 カード送付場所名 項目長
    card_place_name: str                    # 26 カード送付場所名
    card_place_name_gaiji: int              # 27 カード送付場所名 外字数
    card_place_postal_code: str             # 28 カード送付場所郵便番号
    card_place_address_len: int             # 29 カード送付場所住所 項目長
    card_place_address: str                 # 30 カード送付場所住所
    card_place_address_gaiji: int           # 31 カード送付場所住所 外字数
    card_place_phone: str                   # 32 カード送付場所電話番号
    persons: int                            # 33 対象となる人数
    processing_date: dt.date                # 34 処理年月日
    operator_id: str                        # 35 操作者ID
    terminal_id: str                        # 36 操作端末ID
    print_class: str                        # 37 印刷区分
    resident_code: str                      # 38 住民票コード
    name_len: int                           # 39 氏名 漢字項目長
    name: str                               # 40 氏名 漢字
    name_gaiji: int                         # 41 氏名 漢字 外字数
    name_kana_len: int                      # 42 氏名 かな項目長
    name_kana: str                          # 43 氏名 かな
    postal_code: str | None                 # 44 郵便番号
    address_len: int                        # 45 住所 項目長
    address: str                            # 46 住所
    address_gaiji: int                      # 47 住所 外字数
    birth_date: dt.date                     # 48 生年月日
    sex: str                                # 49 性別
    individual_number: str                  # 50 個人番号
    article_30_45: str | None               # 51 第30条の45に規定する区分
    residence_period_end: dt.date | None    # 52 在留期間の満了の日
    substitution_result: str                # 53 代替文字変換結果
    substitute_name_len: int                # 54 代替文字氏名 項目長
    substitute_name: str                    # 55 代替文字氏名
    substitute_address_len: int             # 56 代替文字住所 項目長
    substitute_address: str                 # 57 代替文字住所
    substitute_name_positions: str          # 58 代替文字氏名位置情報
    substitute_address_positions: str       # 59 代替文字住所位置情報
    gaiji_flag: bool                        # 60 外字フラグ
    gaiji_pattern: str | None               # 61 外字パターン
    old_surname: str | None                 # 62 旧氏 漢字
    old_surname_gaiji: int | None           # 63 旧氏 外字数
    old_surname_kana: str | None            # 64 旧氏 ふりがな
    old_surname_gaiji_change_seq: int | None  # 65 旧氏 外字変更連番
    romaji_name: str | None                 # 66 ローマ字 氏名
    romaji_old_surname: str | None          # 67 ローマ字 旧氏


@dataclass(frozen=True, slots=True)
class SendDestinationChunk:
    management_number: str                  # the batch's 送付先管理番号
    municipality_code: str
    chunk_no: int                           # from 1, no gaps
    final: bool
    total: int | None                       # destinations in the whole batch (on the final)
    destinations: tuple[SendDestination, ...] = ()


CHUNK = XmlListDocument(SendDestinationChunk, "SendDestinationChunk", NAMESPACE,
                        "send_destination.xsd", "destinations", SendDestination,
                        "Destination", MAX_RECORDS, max_bytes=MAX_CHUNK_BYTES)
DECODER = XmlDispatch(CHUNK)


def encode_chunk(chunk: SendDestinationChunk) -> bytes:
    return CHUNK.dumps(chunk)


def decode_chunk(data: bytes) -> SendDestinationChunk:
    c: SendDestinationChunk = DECODER.loads(data)
    return c
