"""A resident after a change, and the identity record (本人確認情報, the 40 items) the
change writes: what the register keeps, and what the prefecture receives."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.domain.changes import CREATING, REMOVING, Change, Reason
from hub.domain.numbering import Numbering
from hub.domain.resident import Resident
from protocols.charconv import gaiji_count, seion_kana
from protocols.identity import IdentityRecord


def resident_after(change: Change, current: Resident | None, update_seq: int,
                   numbering: Numbering) -> Resident:
    """The resident after ``change`` (a new one for a new resident); assigns the
    団体内統合宛名番号 when the first 個人番号 is recorded."""
    before = current or Resident(change.items["atena_number"], change.resident_code)
    items: dict[str, Any] = {**change.items, "resident_code": change.resident_code,
                             "last_update_seq": update_seq}
    reason, event = change.reason, change.event_date
    if reason in CREATING:
        items.update(removed=False, removed_date=None, removed_reason=None,
                     became_resident_date=event)
    if reason in CREATING or reason is Reason.MOVE_WITHIN:
        items["address_set_date"] = event
    if reason in REMOVING:
        items.update(removed=True, removed_date=event, removed_reason=reason.value)
    state = before.with_items(items)
    if state.individual_number is not None and state.integrated_atena is None:
        state = state.with_items({"integrated_atena": numbering.next_integrated_atena()})
    return state


def identity_record(change: Change, state: Resident, update_seq: int,
                    now: float) -> IdentityRecord:
    """The 40 items after ``change`` (``state``: the resident after it)."""
    assert state.birth_date is not None  # every resident on the register has one
    name_gaiji = gaiji_count(state.name_kanji)
    address_gaiji = gaiji_count(state.address)
    return IdentityRecord(
        resident_code=change.resident_code,
        name_kanji=state.name_kanji,
        name_gaiji_count=name_gaiji,
        name_kana=state.name_kana,
        name_seion_kana=seion_kana(state.name_kana) or None,
        birth_date=state.birth_date,
        sex=state.sex,
        municipality_code=state.municipality_code,
        aza_code=state.aza_code,
        postal_code=state.postal_code,
        address=state.address,
        address_gaiji_count=address_gaiji,
        individual_number=state.individual_number,
        became_resident_date=state.became_resident_date,
        address_set_date=state.address_set_date,
        notified_date=change.notified_date,
        previous_municipality_code=state.previous_municipality_code,
        previous_address=state.previous_address,
        previous_address_gaiji_count=gaiji_count(state.previous_address),
        relationship=state.relationship,
        reason=change.reason.value,
        event_date=change.event_date,
        reason_detail=None,
        old_resident_code=None,
        resident_code_used_date=None,
        request_id=change.request_id,
        operator_id=change.operator_id,
        terminal_id=change.terminal_id,
        update_seq=update_seq,
        abnormal_update_seq=None,
        update_prohibited=False,
        prospective=False,
        exclusive=False,
        gaiji_flag=name_gaiji + address_gaiji > 0,
        record_status="removed" if state.removed else "active",
        timestamp=dt.datetime.fromtimestamp(now),
        old_surname_kanji=None,
        old_surname_gaiji_count=0,
        old_surname_kana=None,
        old_surname_gaiji_change_seq=None,
    )
