"""Logic checks (論理チェック): a change against the register as it stands.

Each refusal is a ``LogicError`` whose code names the rule:

- ``move_in_existing_resident``   転入 for a person who is already a resident
- ``birth_existing_resident``     出生 for a 住民票コード already on the register
- ``unknown_resident``            any other change for a person not on the register
- ``change_to_removed_record``    any change to a removed (消除) record
- ``move_within_changes_more_than_address``  転居 that changes anything but the address
- ``move_within_leaves_city``     転居 to an address in another municipality
- ``address_outside_city``        転入 or 出生 to an address in another municipality
- ``name_change_changes_more_than_name``     氏名変更 that changes other items
- ``number_designation_changes_more_than_number``, ``individual_number_already_designated``
- ``special_move_out_without_card``  a 特例転出 of a resident whose 個人番号カード is not in
  use (住基法 24条の2: the procedure is for a card holder)
- ``move_in_contradicts_certificate``  a domestic 転入 whose 住民票コード, birth date, sex,
  ふりがな, 個人番号 or former city is not its 転出証明書情報's (``hub.domain.moves``)
- ``resident_code_in_use``  a 住民票コードの変更 to a code another resident holds, or one
  given up before (by anyone)
- ``correction_sets_individual_number``  a 職権修正 that sets or replaces the 個人番号: only
  a designation of the number J-LIS generated may (番号法 7条)
- ``foreign_items_for_japanese_resident``
- ``foreign_items_missing``  a resident made foreign (a correction) without 国籍・地域 or
  the 法30条45規定区分
- ``individual_number_in_use``    the 個人番号 belongs to another resident
- ``atena_number_in_use``         the 宛名番号 belongs to another resident

(card events have their rules in ``hub.domain.cards``).  Checks run before any write,
so a refused change writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.domain.changes import (
    ADDRESS_ITEMS,
    CREATING,
    FOREIGN_ITEMS,
    OLD_SURNAME_ITEMS,
    STATE_ITEMS,
    Change,
    Reason,
)
from hub.domain.errors import LogicError
from hub.domain.resident import Resident

# (unique item, value) -> the 宛名番号 of the resident who holds it
Holders = Mapping[tuple[str, Any], str]


def check_change(change: Change, current: Resident | None, holders: Holders,
                 municipality_code: str) -> None:
    """Raise ``LogicError`` if ``change`` contradicts the register (``current`` is the
    resident before it, ``None`` if not on the register)."""
    _check_existence(change, current, municipality_code)
    check = _BY_REASON.get(change.reason)
    if check is not None:
        assert current is not None  # every reason with its own rule changes a resident
        check(change, current, municipality_code)
    if change.reason is Reason.RESIDENT_CODE_CHANGE:
        assert current is not None
        _resident_code_change(change, current, holders)
    items = change.items
    resident_type = items.get("resident_type") or (current.resident_type if current else None)
    if resident_type == "japanese" and any(items.get(k) is not None for k in FOREIGN_ITEMS):
        raise LogicError("foreign_items_for_japanese_resident",
                         "foreign-resident items are only for foreign residents")
    if resident_type == "foreign":
        missing = next((k for k in ("nationality", "article_30_45")
                        if items.get(k) is None and (current is None
                                                     or getattr(current, k) is None)), None)
        if missing is not None:
            raise LogicError("foreign_items_missing", f"a foreign resident has {missing}",
                             missing)
    own_atena = current.atena_number if current else None
    for item, rule in (("individual_number", "individual_number_in_use"),
                       ("atena_number", "atena_number_in_use")):
        value = items.get(item)
        holder = holders.get((item, value)) if value is not None else None
        if holder is not None and holder != own_atena:
            raise LogicError(rule, f"{item} belongs to another resident")


def _check_existence(change: Change, current: Resident | None, municipality_code: str) -> None:
    reason = change.reason
    if reason in CREATING:
        if current is not None and (reason is Reason.BIRTH or not current.removed):
            rule = ("birth_existing_resident" if reason is Reason.BIRTH
                    else "move_in_existing_resident")
            raise LogicError(rule, f"{reason.value} for a person already on the register")
        if change.items["municipality_code"] != municipality_code:
            raise LogicError("address_outside_city",
                             f"{reason.value} must be to an address in this city")
    elif current is None:
        raise LogicError("unknown_resident", f"{reason.value} for a person not on the register")
    elif current.removed:
        raise LogicError("change_to_removed_record", f"{reason.value} for a removed (消除) record")


def _changed_besides(change: Change, current: Resident, allowed: frozenset[str]) -> str | None:
    """An item ``change`` changes other than ``allowed`` (the register's state flags may
    come with any change)."""
    return next((k for k, v in change.items.items()
                 if k not in allowed and k not in STATE_ITEMS and getattr(current, k) != v),
                None)


def _move_within(change: Change, current: Resident, municipality_code: str) -> None:
    other = _changed_besides(change, current, ADDRESS_ITEMS)
    if other is not None:
        raise LogicError("move_within_changes_more_than_address",
                         f"move_within may change only the address, not {other}")
    if change.items["municipality_code"] != municipality_code:
        raise LogicError("move_within_leaves_city",
                         "move_within must stay in this city; use move_out")


def _number_designation(change: Change, current: Resident, _municipality_code: str) -> None:
    if set(change.items) - STATE_ITEMS != {"individual_number"}:
        raise LogicError("number_designation_changes_more_than_number",
                         "number_designation may set only the individual number")
    if current.individual_number not in (None, change.items["individual_number"]):
        raise LogicError("individual_number_already_designated",
                         "the resident already has another individual number")


_NAME_ITEMS = frozenset({"name_kanji", "name_kana"}) | OLD_SURNAME_ITEMS  # 旧氏 too


def _name_change(change: Change, current: Resident, _municipality_code: str) -> None:
    other = _changed_besides(change, current, _NAME_ITEMS)
    if other is not None:
        raise LogicError("name_change_changes_more_than_name",
                         f"name_change may change only the name, not {other}")


def _correction(change: Change, current: Resident, _municipality_code: str) -> None:
    number = change.items.get("individual_number")
    if number is not None and number != current.individual_number:
        raise LogicError("correction_sets_individual_number",
                         "a correction may not set or replace the individual number; only "
                         "the designation of the number J-LIS generated does")


def _move_out(change: Change, current: Resident, _municipality_code: str) -> None:
    if change.items.get("moving_out_special") and current.card.state != "issued":
        raise LogicError("special_move_out_without_card",
                         "a 特例転出 is for a resident whose 個人番号カード is in use",
                         "moving_out")


def _resident_code_change(change: Change, current: Resident, holders: Holders) -> None:
    holder = holders.get(("resident_code", change.new_resident_code))
    if (holder is not None and holder != current.atena_number) or (
            ("old_resident_code", change.new_resident_code) in holders):
        raise LogicError("resident_code_in_use", "the new 住民票コード is in use, or was "
                         "used before", "resident_code")


_BY_REASON = {Reason.MOVE_WITHIN: _move_within, Reason.NUMBER_DESIGNATION: _number_designation,
              Reason.NAME_CHANGE: _name_change, Reason.CORRECTION: _correction,
              Reason.MOVE_OUT: _move_out}
