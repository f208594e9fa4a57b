"""A change posted by the register system, after its format checks.

The intake API validates the JSON against ``hub/api/openapi.yaml`` (structure, types,
enumerations) and then calls ``parse_change``, which applies the format checks
(形式チェック) that a schema cannot express — check digits, calendar dates, kana — and
the per-reason rules about which items a change must carry.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.domain import checks
from hub.domain.errors import FormatError
from protocols.card import EVENTS
from protocols.charconv import UnifiedCharset
from protocols.errors import BodyError
from protocols.national import MovingOutCertificate


class Reason(enum.StrEnum):
    """異動事由."""

    MOVE_IN = "move_in"          # 転入
    BIRTH = "birth"              # 出生
    MOVE_WITHIN = "move_within"  # 転居
    MOVE_OUT = "move_out"        # 転出
    DEATH = "death"              # 死亡
    NAME_CHANGE = "name_change"  # 氏名変更
    CORRECTION = "correction"    # 職権修正
    NUMBER_DESIGNATION = "number_designation"  # 個人番号の指定 (from the national server)
    RESIDENT_CODE_CHANGE = "resident_code_change"  # 住民票コードの変更 (住基法 30条の4)
    HOUSEHOLD_CHANGE = "household_change"  # 世帯変更 (hub.domain.households)
    HOUSEHOLD_HEAD_CHANGE = "household_head_change"  # 世帯主変更


ADDRESS_ITEMS = frozenset({"municipality_code", "aza_code", "postal_code", "address",
                           "address_set_date"})
FULL_ITEMS = frozenset({"atena_number", "household_number", "name_kanji", "name_kana",
                        "birth_date", "sex", "relationship", "resident_type",
                        "municipality_code", "address", "became_resident_date",
                        "address_set_date"})
# The register's state of the resident (更新禁止, 予定者, 排他): sent with any change.
STATE_ITEMS = frozenset({"update_prohibited", "prospective", "exclusive"})
OLD_SURNAME_ITEMS = frozenset({"old_surname_kanji", "old_surname_kana",
                               "old_surname_gaiji_change_seq"})
MOVING_OUT_ITEMS = frozenset({"moving_out_planned_date", "moving_out_municipality_code",
                              "moving_out_address", "moving_out_special"})
REQUIRED_ITEMS: dict[Reason, frozenset[str]] = {
    Reason.MOVE_IN: FULL_ITEMS | {"previous_address"},  # 転入前住所 (abroad: its text)
    Reason.BIRTH: FULL_ITEMS,
    Reason.MOVE_WITHIN: frozenset({"municipality_code", "address", "address_set_date"}),
    Reason.MOVE_OUT: frozenset({"moving_out_planned_date", "moving_out_address"}),
    Reason.DEATH: frozenset(),
    Reason.NAME_CHANGE: frozenset({"name_kanji", "name_kana"}),
    Reason.CORRECTION: frozenset(),
    Reason.NUMBER_DESIGNATION: frozenset({"individual_number"}),
    Reason.RESIDENT_CODE_CHANGE: frozenset(),
    Reason.HOUSEHOLD_CHANGE: frozenset({"household_number", "relationship"}),
    Reason.HOUSEHOLD_HEAD_CHANGE: frozenset(),
}
# Reasons that carry only some items (and the register's state): what each may carry.
ONLY_ITEMS: dict[Reason, frozenset[str]] = {
    Reason.RESIDENT_CODE_CHANGE: frozenset(),  # J-LIS issues the new code
    Reason.HOUSEHOLD_CHANGE: frozenset({"household_number", "relationship"}),
    Reason.HOUSEHOLD_HEAD_CHANGE: frozenset({"former_head_relationship"}),
}
# Reasons that create a resident record; the others change an existing one.
CREATING = frozenset({Reason.MOVE_IN, Reason.BIRTH})
# Reasons that remove the record (消除).
REMOVING = frozenset({Reason.MOVE_OUT, Reason.DEATH})


@dataclass(frozen=True, slots=True)
class Change:
    """One register change: who, why, when, whom, and the items it sets."""

    request_id: str      # 依頼管理番号
    operator_id: str     # 操作者ID
    terminal_id: str     # 操作端末ID
    reason: Reason       # 異動事由
    event_date: dt.date  # 異動年月日
    notified_date: dt.date | None  # 届出の年月日
    resident_code: str   # 住民票コード
    items: dict[str, Any]  # resident items this change sets, flattened (residents columns)
    fingerprint: str     # sha256 of the request item, to recognise a repeated request id
    correlation_id: str = ""  # the intake request it came in (for the logs)
    # A domestic 転入: the former city's 転出証明書情報 (``hub.domain.moves``), and
    # whether it is a 特例転出's (a 特例転入).
    certificate: MovingOutCertificate | None = None
    special: bool = False
    # A 住民票コードの変更: the new code J-LIS issued (``hub.domain.resident_codes``).
    new_resident_code: str | None = None
    # A 世帯主変更: the former 世帯主's 続柄 to the new one (``hub.domain.households``).
    former_head_relationship: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its values in order: a frozen dataclass with slots otherwise
        unpickles field by field through ``dataclasses.fields``, several times slower
        (changes cross processes: the intake's workers, the initial load's)."""
        return Change, tuple(getattr(self, name) for name in Change.__slots__)


def fingerprint(obj: dict[str, Any]) -> str:
    canonical = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


FOREIGN_ITEMS = frozenset({"nationality", "article_30_45", "residence_status",
                           "residence_period_end", "residence_card_number", "common_name"})


def _flatten(resident: dict[str, Any]) -> dict[str, Any]:
    items = {k: v for k, v in resident.items()
             if k not in ("address", "previous_address", "foreign", "old_surname",
                          "moving_out")}
    items.update(resident.get("foreign") or {})
    if (addr := resident.get("address")) is not None:
        items["municipality_code"] = addr.get("municipality_code")
        items["address"] = addr.get("text")
        if "aza_code" in addr:
            items["aza_code"] = addr["aza_code"]
        if "postal_code" in addr:
            items["postal_code"] = addr["postal_code"]
    if (prev := resident.get("previous_address")) is not None:
        items["previous_municipality_code"] = prev.get("municipality_code")
        items["previous_address"] = prev.get("text")
    if (old := resident.get("old_surname")) is not None:
        items["old_surname_kanji"], items["old_surname_kana"] = old["kanji"], old["kana"]
        items["old_surname_gaiji_change_seq"] = old.get("gaiji_change_seq")
    if (out := resident.get("moving_out")) is not None:
        items["moving_out_planned_date"] = out["planned_date"]
        items["moving_out_municipality_code"] = out.get("municipality_code")
        items["moving_out_address"] = out["address"]
        items["moving_out_special"] = bool(out.get("special", False))
    return items


def _aza_code(value: str, name: str) -> None:
    if not (isinstance(value, str) and value.isascii() and value.isdigit()
            and 1 <= len(value) <= 12):
        raise FormatError("invalid_digits", "aza_code must be 1–12 digits", name)


_RESIDENCE_CARD = re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}")


def _residence_card_number(value: str, name: str) -> None:
    if not isinstance(value, str) or not _RESIDENCE_CARD.fullmatch(value):
        raise FormatError("invalid_residence_card_number", "residence_card_number must be "
                          "two letters, eight digits and two letters", name)


def _romaji(value: str, name: str) -> None:
    """ローマ字: as a card shows it — Latin capitals, spaces, hyphens, apostrophes,
    commas and full stops, at most 100."""
    if not (isinstance(value, str) and 1 <= len(value) <= 100 and value.isascii()
            and value.strip() == value
            and all(c.isupper() or c in " -',." for c in value)):
        raise FormatError("invalid_format", f"{name} is ローマ字 in capitals (A–Z, space, "
                          "-, ', comma, full stop), at most 100", name)


def _text(max_len: int) -> Callable[[str, str], None]:
    return lambda value, name: checks.check_text(value, name, max_len)


# The format check of each resident item (the dates are parsed separately).
_ITEM_CHECKS: dict[str, Callable[[Any, str], None]] = {
    "atena_number": checks.check_identifier,
    "household_number": checks.check_identifier,
    "individual_number": checks.check_individual_number,
    "municipality_code": checks.check_municipality_code,
    "previous_municipality_code": checks.check_municipality_code,
    "postal_code": checks.check_postal_code,
    "aza_code": _aza_code,
    "name_kanji": _text(50),
    "name_kana": lambda value, name: checks.check_kana(value, name, 100),
    "address": _text(150),
    "previous_address": _text(150),
    "relationship": _text(40),
    "former_head_relationship": _text(40),
    "romaji_name": _romaji,
    "romaji_old_surname": _romaji,
    "nationality": _text(40),
    "residence_status": _text(40),
    "common_name": _text(50),
    "residence_card_number": _residence_card_number,
    "old_surname_kanji": _text(50),
    "old_surname_kana": lambda value, name: checks.check_kana(value, name, 100),
    "moving_out_municipality_code": checks.check_municipality_code,
    "moving_out_address": _text(150),
}
_DATE_ITEMS = frozenset({"birth_date", "residence_period_end", "became_resident_date",
                         "address_set_date", "moving_out_planned_date"})


def _check_items(items: dict[str, Any]) -> None:
    for name, value in items.items():
        if value is None:  # an optional part left out (転入前 市町村コード from abroad)
            continue
        if name in _DATE_ITEMS:
            items[name] = checks.parse_date(value, name)
        elif (check := _ITEM_CHECKS.get(name)) is not None:
            check(value, name)


_TEXT_ITEMS = ("name_kanji", "address", "previous_address", "relationship",
               "former_head_relationship",
               "old_surname_kanji", "moving_out_address")


def _to_unified(items: dict[str, Any], charset: UnifiedCharset) -> None:
    """The register's 外字 (private-use code points) into 住基ネット unified characters."""
    for name in _TEXT_ITEMS:
        if isinstance(items.get(name), str):
            try:
                items[name] = charset.to_unified(items[name])
            except BodyError:
                raise FormatError("unmapped_gaiji", f"{name} has a 外字 missing from the "
                                  "city's 外字 table", name) from None


def _check_only_items(reason: Reason, items: dict[str, Any]) -> None:
    """A reason that carries only some items carries no other."""
    if reason in ONLY_ITEMS and (extra := sorted(items.keys() - STATE_ITEMS
                                                 - ONLY_ITEMS[reason])):
        allowed = sorted(ONLY_ITEMS[reason]) or ["none"]
        raise FormatError("unexpected_item", f"{reason.value} carries no {extra[0]}: only "
                          f"{', '.join(allowed)} and the register's state", extra[0])
    if "former_head_relationship" in items and reason is not Reason.HOUSEHOLD_HEAD_CHANGE:
        raise FormatError("unexpected_item", "only household_head_change names the former "
                          "世帯主's 続柄", "former_head_relationship")


def _check_reason_items(reason: Reason, items: dict[str, Any]) -> None:
    """The items a change of ``reason`` must, may and must not carry."""
    missing = sorted(REQUIRED_ITEMS[reason] - {k for k, v in items.items() if v is not None})
    if missing:
        raise FormatError("missing_item", f"{reason.value} requires {missing[0]}", missing[0])
    if reason is Reason.CORRECTION and not items:
        raise FormatError("missing_item", "correction must set at least one item", "resident")
    allowed_removing = STATE_ITEMS | (MOVING_OUT_ITEMS if reason is Reason.MOVE_OUT
                                      else frozenset())
    _check_only_items(reason, items)
    if reason in REMOVING and items.keys() - allowed_removing:
        raise FormatError("unexpected_item", f"{reason.value} carries no resident items "
                          "but where to (move_out) and the register's state", "resident")
    if MOVING_OUT_ITEMS & items.keys() and reason is not Reason.MOVE_OUT:
        raise FormatError("unexpected_item", "only move_out says where to", "moving_out")
    if items.get("moving_out_special") and not items.get("moving_out_municipality_code"):
        raise FormatError("missing_item", "a 特例転出 (special) is to a city in Japan: it "
                          "needs the destination's municipality_code",
                          "moving_out_municipality_code")
    if reason in CREATING:
        foreign = items["resident_type"] == "foreign"
        if not foreign and FOREIGN_ITEMS & items.keys():
            raise FormatError("unexpected_item", "foreign-resident items are only for "
                              "resident_type foreign", "foreign")
        for needed in ("nationality", "article_30_45"):
            if foreign and items.get(needed) is None:
                raise FormatError("missing_item", f"a foreign resident requires {needed}",
                                  needed)
    if "previous_municipality_code" in items and reason is not Reason.MOVE_IN:
        raise FormatError("unexpected_item", "only move_in has a previous address",
                          "previous_address")


def parse_change(obj: dict[str, Any], today: dt.date,
                 charset: UnifiedCharset | None = None) -> Change:
    """Turn one schema-valid change object into a ``Change``, or raise ``FormatError``.

    With ``charset``, text items are converted to unified characters first, so what is
    stored and sent is the 住基ネット's text, not the register system's codes."""
    checks.check_identifier(obj["request_id"], "request_id")
    checks.check_identifier(obj["operator_id"], "operator_id")
    checks.check_identifier(obj["terminal_id"], "terminal_id")
    reason = Reason(obj["reason"])
    event_date = checks.parse_date(obj["event_date"], "event_date")
    notified = obj.get("notified_date")
    notified_date = checks.parse_date(notified, "notified_date") if notified else None
    if event_date > today:
        raise FormatError("date_in_future", "event_date is after today", "event_date")
    if notified_date is not None and notified_date > today:
        raise FormatError("date_in_future", "notified_date is after today", "notified_date")
    checks.check_resident_code(obj["resident_code"])
    items = _flatten(obj.get("resident") or {})
    _check_reason_items(reason, items)
    if charset is not None:
        _to_unified(items, charset)
    _check_items(items)
    birth = items.get("birth_date")
    if birth is not None and birth > event_date and reason is not Reason.CORRECTION:
        raise FormatError("invalid_date", "birth_date is after event_date", "birth_date")
    for item in ("became_resident_date", "address_set_date"):
        if items.get(item) is not None and items[item] > today:
            raise FormatError("date_in_future", f"{item} is after today", item)
    former_head = items.pop("former_head_relationship", None)
    if reason is Reason.HOUSEHOLD_HEAD_CHANGE:
        items["relationship"] = "世帯主"  # the resident becomes the 世帯主
    return Change(
        former_head_relationship=former_head,
        request_id=obj["request_id"],
        operator_id=obj["operator_id"],
        terminal_id=obj["terminal_id"],
        reason=reason,
        event_date=event_date,
        notified_date=notified_date,
        resident_code=obj["resident_code"],
        items=items,
        fingerprint=fingerprint(obj),
    )


CARD_EVENTS = EVENTS  # 交付, 一時停止, 一時停止解除, 廃止, 回収, 返還 (protocols.card)


@dataclass(frozen=True, slots=True)
class CardEventRequest:
    """A card event posted by the register system (``hub.domain.cards``)."""

    request_id: str      # 依頼管理番号
    operator_id: str     # 操作者ID
    terminal_id: str     # 操作端末ID
    resident_code: str   # 住民票コード
    event: str           # one of CARD_EVENTS
    event_date: dt.date  # 処理年月日
    fingerprint: str
    correlation_id: str = ""


def parse_card_event(obj: dict[str, Any], today: dt.date) -> CardEventRequest:
    """One schema-valid card event, after its format checks, or ``FormatError``."""
    for item in ("request_id", "operator_id", "terminal_id"):
        checks.check_identifier(obj[item], item)
    checks.check_resident_code(obj["resident_code"])
    event_date = checks.parse_date(obj["event_date"], "event_date")
    if event_date > today:
        raise FormatError("date_in_future", "event_date is after today", "event_date")
    if obj["event"] not in CARD_EVENTS:
        raise FormatError("invalid_event", "event is not a card event", "event")
    return CardEventRequest(obj["request_id"], obj["operator_id"], obj["terminal_id"],
                            obj["resident_code"], obj["event"], event_date, fingerprint(obj))


def number_designation(resident_code: str, individual_number: str,
                       event_date: dt.date) -> Change:
    """The register change that records a 個人番号 generated by the national server.

    Its request id is derived from the resident, so a resent notice (after any crash
    or reconnect) is answered with the first answer, never applied twice; a different
    number for the same resident is refused as ``request_id_reused``."""
    checks.check_individual_number(individual_number)
    request_id = f"NUMGEN-{resident_code}"
    obj: dict[str, Any] = {"request_id": request_id, "operator_id": "jukihub",
           "terminal_id": "national-link", "reason": Reason.NUMBER_DESIGNATION.value,
           "event_date": event_date.isoformat(), "resident_code": resident_code,
           "resident": {"individual_number": individual_number}}
    return Change(request_id=request_id, operator_id="jukihub",
                  terminal_id="national-link", reason=Reason.NUMBER_DESIGNATION,
                  event_date=event_date, notified_date=None, resident_code=resident_code,
                  items={"individual_number": individual_number}, fingerprint=fingerprint(obj))


@dataclass(frozen=True, slots=True)
class ManualDecision:
    """Staff's decision on a manual-answer request of the intermediate server (an item
    flagged 自動応答不可): approve (answer with ``items``, the register's values of the
    items approved) or refuse (``hub.domain.manual_answers``)."""

    request_id: str   # derived from the inbox item: one decision per request
    item_id: int      # the inbox item holding the request
    decision: str     # approve | refuse
    operator_id: str  # 操作者ID
    terminal_id: str  # 操作端末ID
    fingerprint: str
    correlation_id: str = ""
    items: tuple[str, ...] = ()  # the items approved (none when refused)
