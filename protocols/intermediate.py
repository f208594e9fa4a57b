"""Documents exchanged with the intermediate server (中間サーバ), as msgpack maps.

The information-provision network reads 住民票関係情報 from the intermediate server's
copy (副本), keyed by the 団体内統合宛名番号 (the city's integrated atena number, assigned
by the hub when a resident's 個人番号 is first recorded).  On the hub's stream:

- ``CopyUpdate``: every change of such a resident sends the whole copy with its
  更新順番号 and the previous one, so the receiver can check order;
- ``CodeRequest``: when the 団体内統合宛名番号 is assigned, the request for the
  resident's 符号 (番号法 19条8号 information provision needs it);
- ``ManualAnswer``: staff's answer to a request for items flagged 自動応答不可 —
  exactly the items staff approved (a subset of those asked), or none.

On the intermediate server's own stream (into the hub's inbox):

- ``CodeIssued``: the 符号 was obtained; its 処理通番 is offered to the register system;
- ``ManualAnswerRequest``: a request staff must approve or refuse (never automatic),
  naming the items it asks for;
- ``ProvisionRecord``: a 情報提供等記録 of the network, kept and listed.

Each map carries ``kind``; its schema is the dataclass (exact keys, each of its type)
plus a pattern per text item — ``MsgpackDoc`` checks both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import msgpack

from protocols.errors import BodyError

_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_ATENA = r"[0-9]{15}"
_CODE6 = r"[0-9]{6}"
_ID = r"[0-9A-Za-z_.\-]{1,40}"
_REASONS = (r"move_in|birth|move_within|move_out|death|name_change|correction"
            r"|number_designation")


@dataclass(frozen=True, slots=True)
class CopyUpdate:
    integrated_atena: str              # 団体内統合宛名番号
    update_seq: int                    # 更新順番号
    previous_update_seq: int | None    # the previous copy update of this resident
    municipality_code: str
    reason: str                        # 異動事由
    event_date: str                    # 異動年月日 (ISO)
    name: str                          # 氏名
    name_kana: str                     # ふりがな
    birth_date: str                    # 生年月日 (ISO)
    sex: str                           # 性別
    address: str                       # 住所
    household_number: str              # 世帯番号
    relationship: str                  # 続柄
    resident_type: str                 # 住民区分
    removed: bool                      # 消除


@dataclass(frozen=True, slots=True)
class CodeRequest:
    integrated_atena: str   # 団体内統合宛名番号, newly assigned
    update_seq: int         # 更新順番号 of the change that assigned it
    municipality_code: str
    individual_number: str  # 個人番号: the 符号 is derived from it (by J-LIS)


@dataclass(frozen=True, slots=True)
class CodeIssued:
    integrated_atena: str
    request_update_seq: int  # the CodeRequest's 更新順番号
    municipality_code: str
    processing_number: str   # 処理通番 of the 符号 acquisition


# The 住民票関係情報 items a request may ask for, and what staff see them as.
ANSWER_ITEMS: dict[str, str] = {
    "name": "氏名", "name_kana": "ふりがな", "birth_date": "生年月日", "sex": "性別",
    "address": "住所", "household_number": "世帯番号", "relationship": "続柄"}


@dataclass(frozen=True, slots=True)
class ManualAnswerRequest:
    request_number: str     # the network's number for the request
    integrated_atena: str
    municipality_code: str
    requester: str          # 情報照会者 (an institution code)
    procedure: str          # 事務手続 (番号法 別表第二 item)
    item: str               # 特定個人情報名: the information flagged 自動応答不可
    items: list[str]        # the items of it asked for (keys of ANSWER_ITEMS)
    requested_at: str       # ISO date-time


@dataclass(frozen=True, slots=True)
class ManualAnswer:
    request_number: str
    integrated_atena: str
    municipality_code: str
    decision: str           # approved | refused
    decided_on: str         # ISO date
    # Approved: exactly the items staff approved (a subset of those asked), each with
    # the register's value; refused: none.
    items: dict[str, str]


@dataclass(frozen=True, slots=True)
class ProvisionRecord:
    record_number: str      # 情報提供等記録 number
    integrated_atena: str
    municipality_code: str
    requester: str          # 情報照会者
    provider: str           # 情報提供者
    procedure: str          # 事務手続
    item: str               # 特定個人情報名
    provided_at: str        # ISO date-time
    outcome: str            # provided | refused | manual


Members = Callable[[Any], str | None]  # what is wrong with a list's or map's members


class MsgpackDoc:
    """One document type: its ``kind``, dataclass and text patterns; a list or map
    item is checked by its ``members`` function."""

    def __init__(self, cls: type, kind: str, patterns: dict[str, str],
                 members: dict[str, Members] | None = None) -> None:
        self.cls, self.kind = cls, kind
        hints = typing.get_type_hints(cls)
        self.types: dict[str, tuple[type, ...]] = {}
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
            self.types[f.name] = tuple(typing.get_origin(a) or a for a in args)
        self.members = members or {}
        self.patterns = {k: re.compile(p) for k, p in patterns.items()}
        self.dates = tuple(k for k, p in patterns.items() if p == _DATE)
        self._names = ("kind", *self.types)
        self._values = attrgetter(*self.types)

    def encode(self, doc: Any) -> bytes:
        """The document as a msgpack map (its fields are flat: no copying walk needed);
        ``BodyError`` for a value msgpack cannot carry (an integer past 64 bits, a string
        with a lone surrogate), as the XML documents refuse what their schema does not
        allow."""
        try:
            return msgpack.packb(dict(zip(self._names, (self.kind, *self._values(doc)),
                                          strict=True)), use_bin_type=True)
        except (OverflowError, UnicodeEncodeError, TypeError, ValueError):
            raise BodyError("bad_value", f"a {self.kind} item cannot be encoded") from None

    def check(self, obj: dict[str, Any]) -> Any:
        """Exactly the dataclass's keys (and ``kind``), each of its type and form."""
        if set(obj) - self.types.keys() - {"kind"}:
            raise BodyError("schema_invalid", "the body has an unknown key")
        for key, allowed in self.types.items():
            if key not in obj:
                raise BodyError("schema_invalid", f"{key} is missing")
            value = obj[key]
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise BodyError("schema_invalid", f"{key} has the wrong type")
            pattern = self.patterns.get(key)
            if isinstance(value, str) and pattern is not None and not pattern.fullmatch(value):
                raise BodyError("schema_invalid", f"{key} has the wrong form")
            members = self.members.get(key)
            if members is not None and (wrong := members(value)) is not None:
                raise BodyError("schema_invalid", f"{key}: {wrong}")
        for key in self.dates:
            if obj[key] is not None:
                try:
                    dt.date.fromisoformat(obj[key])
                except ValueError:
                    raise BodyError("schema_invalid", f"{key} is not a date") from None
        return self.cls(**{k: v for k, v in obj.items() if k != "kind"})


_KANA = r"[\u30A1-\u30F6\u30FC\u3000]{1,100}"
# Text lengths in code points: a kanji with its variation selector is two (one character).
_COPY_TEXT = {"name": r".{1,100}", "name_kana": _KANA, "birth_date": _DATE, "sex": r"[12]",
              "address": r".{1,300}", "household_number": _ID, "relationship": r".{1,80}"}
COPY = MsgpackDoc(CopyUpdate, "copy_update", {
    "integrated_atena": _ATENA, "municipality_code": _CODE6, "reason": _REASONS,
    "event_date": _DATE, "resident_type": r"japanese|foreign", **_COPY_TEXT})
CODE_REQUEST = MsgpackDoc(CodeRequest, "code_request", {
    "integrated_atena": _ATENA, "municipality_code": _CODE6, "individual_number": r"[0-9]{12}"})
CODE_ISSUED = MsgpackDoc(CodeIssued, "code_issued", {
    "integrated_atena": _ATENA, "municipality_code": _CODE6, "processing_number": _ID})
_ITEM_FORMS = {k: re.compile(p) for k, p in _COPY_TEXT.items()}


def asked_items(value: Any) -> str | None:
    """A request's items: one to all of ``ANSWER_ITEMS``, each once."""
    if not value or len(value) > len(ANSWER_ITEMS) or len(set(value)) != len(value):
        return "one to seven items, each once"
    if any(not isinstance(v, str) or v not in ANSWER_ITEMS for v in value):
        return "an item that is not one of the answer's items"
    return None


def answered_items(value: Any) -> str | None:
    """An answer's items: each an answer item with a value of that item's form."""
    for k, v in value.items():
        if not isinstance(k, str) or k not in ANSWER_ITEMS:
            return "an item that is not one of the answer's items"
        if not isinstance(v, str) or not _ITEM_FORMS[k].fullmatch(v):
            return f"{k} has the wrong form"
    return None


MANUAL_REQUEST = MsgpackDoc(ManualAnswerRequest, "manual_answer_request", {
    "request_number": _ID, "integrated_atena": _ATENA, "municipality_code": _CODE6,
    "requester": _ID, "procedure": r".{1,40}", "item": r".{1,60}", "requested_at": r".{1,40}"},
    {"items": asked_items})
MANUAL_ANSWER = MsgpackDoc(ManualAnswer, "manual_answer", {
    "request_number": _ID, "integrated_atena": _ATENA, "municipality_code": _CODE6,
    "decision": r"approved|refused", "decided_on": _DATE}, {"items": answered_items})
PROVISION = MsgpackDoc(ProvisionRecord, "provision_record", {
    "record_number": _ID, "integrated_atena": _ATENA, "municipality_code": _CODE6,
    "requester": _ID, "provider": _ID, "procedure": r".{1,40}", "item": r".{1,60}",
    "provided_at": r".{1,40}", "outcome": r"provided|refused|manual"})

TO_INTERMEDIATE = {d.kind: d for d in (COPY, CODE_REQUEST, MANUAL_ANSWER)}
FROM_INTERMEDIATE = {d.kind: d for d in (CODE_ISSUED, MANUAL_REQUEST, PROVISION)}
_BY_CLASS = {d.cls: d for d in (*TO_INTERMEDIATE.values(), *FROM_INTERMEDIATE.values())}


def encode(doc: Any) -> bytes:
    return _BY_CLASS[type(doc)].encode(doc)


def encode_copy_update(update: CopyUpdate) -> bytes:
    return COPY.encode(update)


def _decode(data: bytes, docs: dict[str, MsgpackDoc], max_bytes: int) -> Any:
    if len(data) > max_bytes:
        raise BodyError("too_large", f"{len(data)} > {max_bytes} bytes")
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types
        raise BodyError("undecodable", type(exc).__name__) from None
    if not isinstance(obj, dict):
        raise BodyError("schema_invalid", "the body is not a map")
    kind = obj.get("kind")
    doc = docs.get(kind) if isinstance(kind, str) else None
    if doc is None:
        raise BodyError("schema_invalid", "kind is not a known document")
    return doc.check(obj)


def decode_to_intermediate(data: bytes, max_bytes: int = 64 * 1024) -> Any:
    """A document of the hub's stream (the mock's side), checked, or ``BodyError``."""
    return _decode(data, TO_INTERMEDIATE, max_bytes)


def decode_from_intermediate(data: bytes, max_bytes: int = 64 * 1024) -> Any:
    """A document the intermediate server pushed (the hub's side), or ``BodyError``."""
    return _decode(data, FROM_INTERMEDIATE, max_bytes)


def decode_copy_update(data: bytes, max_bytes: int = 64 * 1024) -> CopyUpdate:
    """msgpack bytes to a checked ``CopyUpdate``, or ``BodyError``."""
    doc = _decode(data, {COPY.kind: COPY}, max_bytes)
    assert isinstance(doc, CopyUpdate)
    return doc
