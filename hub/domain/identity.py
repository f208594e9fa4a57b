"""A resident after a change, and the identity record (本人確認情報, the 40 items) the
change writes: what the register keeps, and what the prefecture receives."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.domain import resident_codes
from hub.domain.changes import CREATING, REMOVING, Change, Reason
from hub.domain.numbering import Numbering
from hub.domain.resident import Resident
from protocols.charconv import gaiji_count, seion_kana
from protocols.identity import IdentityRecord, detail_code, reason_code


def resident_after(change: Change, current: Resident | None, update_seq: int,
                   numbering: Numbering) -> Resident:
    """The resident after ``change`` (a new one for a new resident): the items the
    register sent, the 消除 of a 転出 or 死亡 and its undoing by a new 転入 or 出生;
    assigns the 団体内統合宛名番号 when the first 個人番号 is recorded.  Dates the
    register records (住民となった日, 住所を定めた日) come with the change, never
    derived here."""
    before = current or Resident(change.items["atena_number"], change.resident_code)
    items: dict[str, Any] = {**change.items, "resident_code": change.resident_code,
                             "last_update_seq": update_seq}
    reason, event = change.reason, change.event_date
    if reason in CREATING:
        items.update(removed=False, removed_date=None, removed_reason=None)
    if reason in REMOVING:
        items.update(removed=True, removed_date=event, removed_reason=reason.value)
    if reason is Reason.RESIDENT_CODE_CHANGE:
        items.update(resident_codes.items_after(change))
    state = before.with_items(items)
    if state.individual_number is not None and state.integrated_atena is None:
        state = state.with_items({"integrated_atena": numbering.next_integrated_atena()})
    return state


def reason_detail(change: Change, state: Resident) -> str:
    """23 異動事由詳細: the kind of the change — a 転入 from another city, from abroad or
    特例; a 転出 to another city, abroad or 特例; else the reason's plain kind."""
    if change.reason is Reason.MOVE_IN:
        kind = ("03" if change.special else "01" if state.previous_municipality_code
                else "02")
    elif change.reason is Reason.MOVE_OUT:
        kind = ("03" if state.moving_out_special else "01"
                if state.moving_out_municipality_code else "02")
    else:
        kind = "01"
    return detail_code(change.reason.value, kind)


def identity_record(change: Change, state: Resident, update_seq: int, now: float,
                    abnormal_update_seq: int | None = None) -> IdentityRecord:
    """The 40 items after ``change`` (``state``: the resident after it), each from its
    source as ``protocols.identity`` lists them: ``abnormal_update_seq`` for a
    correction resent to mend a difference."""
    assert state.birth_date is not None  # every resident on the register has one
    name_gaiji = gaiji_count(state.name_kanji)
    address_gaiji = gaiji_count(state.address)
    previous_gaiji = gaiji_count(state.previous_address)
    old_surname_gaiji = gaiji_count(state.old_surname_kanji)
    return IdentityRecord(
        resident_code=state.resident_code,                               # 1
        name_kanji=state.name_kanji,                                     # 2
        name_gaiji_count=name_gaiji,                                     # 3
        name_kana=state.name_kana,                                       # 4
        name_seion_kana=seion_kana(state.name_kana) or None,             # 5
        birth_date=state.birth_date,                                     # 6
        sex=state.sex,                                                   # 7
        municipality_code=state.municipality_code,                       # 8
        aza_code=state.aza_code,                                         # 9
        postal_code=state.postal_code,                                   # 10
        address=state.address,                                           # 11
        address_gaiji_count=address_gaiji,                               # 12
        individual_number=state.individual_number,                       # 13
        became_resident_date=state.became_resident_date,                 # 14
        address_set_date=state.address_set_date,                         # 15
        notified_date=change.notified_date,                              # 16
        previous_municipality_code=state.previous_municipality_code,     # 17
        previous_address=state.previous_address,                         # 18
        previous_address_gaiji_count=previous_gaiji,                     # 19
        relationship=state.relationship,                                 # 20
        reason=reason_code(change.reason.value),                         # 21
        event_date=change.event_date,                                    # 22
        reason_detail=reason_detail(change, state),                      # 23
        old_resident_code=change.resident_code                           # 24
        if change.new_resident_code is not None else None,
        resident_code_used_date=state.resident_code_used_date,           # 25
        request_id=change.request_id,                                    # 26
        operator_id=change.operator_id,                                  # 27
        terminal_id=change.terminal_id,                                  # 28
        update_seq=update_seq,                                           # 29
        abnormal_update_seq=abnormal_update_seq,                         # 30
        update_prohibited=state.update_prohibited,                       # 31
        prospective=state.prospective,                                   # 32
        exclusive=state.exclusive,                                       # 33
        gaiji_flag=name_gaiji + address_gaiji + previous_gaiji + old_surname_gaiji > 0,  # 34
        record_status="removed" if state.removed else "active",          # 35
        timestamp=dt.datetime.fromtimestamp(now),                        # 36
        old_surname_kanji=state.old_surname_kanji,                       # 37
        old_surname_gaiji_count=old_surname_gaiji,                       # 38
        old_surname_kana=state.old_surname_kana,                         # 39
        old_surname_gaiji_change_seq=state.old_surname_gaiji_change_seq,  # 40
    )
