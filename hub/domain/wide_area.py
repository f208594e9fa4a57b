"""The wide-area copy of the 住民票 (広域交付住民票, 住基法 12条の4; the seed's 住基GW ③).

The hub's register holds every item a copy needs — the mini register (ミニ住記) the
assessment's gateway keeps for this, current with every change because it *is* the
hub's register, written in the same transaction as each change.  Another municipality's
request comes through J-LIS as a push; the store writer, in the transaction that keeps
it in the inbox, reads the resident (and, for 世帯全員, their household), writes the
answer to the national link's outbox, records the provision (``wide_area_provisions``:
to whom, of whom — the 宛名番号 —, how many, when) and the 操作ログ entry
(``wide_area_copy.provide``, the 交付地 as terminal), all or nothing.  A request
repeated under the same 請求番号 is recorded once and answered once
(``already_answered``).  A removed (消除) resident's copy is not issued this way: the
answer says ``removed``; an unknown one ``not_found``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.domain.households import HEAD
from hub.domain.outcomes import OutboxItem
from hub.domain.register import Register
from hub.domain.resident import Resident
from hub.store import AuditEntry, Conn
from protocols.wide_area import (
    MAX_ENTRIES,
    Entry,
    WideAreaCopyAnswer,
    WideAreaCopyRequest,
    encode_answer,
)

KIND = "wide_area_copy"  # the outbox kind of the answer
OPERATOR = "jlis"        # who asks, in the 操作ログ (the 交付地 is the terminal)


@dataclass(frozen=True, slots=True)
class Provided:
    """What the writer did with a request: the inbox item's result, its refusal code
    (``None``: answered), and the answer to announce to the national link."""

    result: dict[str, Any]
    code: str | None
    items: tuple[OutboxItem, ...] = ()


def entry(r: Resident, head: Resident | None) -> Entry:
    """One person on the copy, from the register (the mini register's items)."""
    assert r.birth_date is not None  # every resident on the register has one
    return Entry(
        r.name_kanji, r.name_kana, r.birth_date, r.sex,
        head.name_kanji if head is not None else None, r.relationship,
        r.became_resident_date, r.address, r.address_set_date, r.previous_address,
        r.old_surname_kanji, r.resident_type, r.nationality, r.article_30_45,
        r.residence_status, r.residence_period_end, r.residence_card_number, r.common_name)


def answer(req: WideAreaCopyRequest, resident: Resident | None,
           household: list[Resident]) -> WideAreaCopyAnswer:
    """The answer: the resident (first), and for 世帯全員 the other living members of
    their household, each with the 世帯主's name."""
    def to(status: str, entries: tuple[Entry, ...] = ()) -> WideAreaCopyAnswer:
        return WideAreaCopyAnswer(req.request_number, req.municipality_code,
                                  req.issuing_municipality_code, status, entries)

    if resident is None:
        return to("not_found")
    if resident.removed:
        return to("removed")
    head = next((m for m in household if m.relationship == HEAD), None)
    people = [resident]
    if req.scope == "household":
        people += [m for m in household if m.atena_number != resident.atena_number]
    return to("issued", tuple(entry(p, head) for p in people[:MAX_ENTRIES]))


def provide(register: Register, conn: Conn, req: WideAreaCopyRequest,
            now: float) -> Provided:
    """Answer ``req`` inside the writer's transaction (see the module docstring)."""
    store = register.store
    if req.municipality_code != register.municipality_code:
        return Provided({"status": "refused"}, "wrong_municipality")
    if store.register.provided(conn, req.request_number):
        return Provided({"status": "already_answered"}, None)
    row = store.register.residents(conn, [req.resident_code]).get(req.resident_code)
    resident = Resident.from_row(row) if row is not None else None
    household = ([Resident.from_row(m) for m in store.register.household(
        conn, resident.household_number)] if resident is not None else [])
    doc = answer(req, resident, household)
    rows: list[tuple[object, ...]] = []
    item = register.enqueue(rows, "national", KIND, encode_answer(doc),
                            f"copy-{req.request_number}", 0, now, req.request_number)
    store.outbox.append(conn, rows)
    persons = len(doc.entries)
    store.register.provision(conn, {
        "request_number": req.request_number,
        "issuing_municipality_code": req.issuing_municipality_code,
        "atena_number": resident.atena_number if resident is not None else None,
        "scope": req.scope, "status": doc.status, "persons": persons,
        "requested_at": req.requested_at.timestamp(), "answered_at": now,
        "outbox_seq": item.seq})
    store.audit.record(conn, [AuditEntry(
        now, OPERATOR, req.issuing_municipality_code, "wide_area_copy.provide",
        req.request_number, result="ok" if doc.status == "issued" else doc.status,
        count=persons)])
    return Provided({"status": doc.status, "persons": persons}, None, (item,))
