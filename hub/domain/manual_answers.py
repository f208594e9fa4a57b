"""Manual answers (自動応答不可): the intermediate server's requests for items staff must
approve or refuse, and nothing else ever answers.

A request names the items of 住民票関係情報 it asks for (``protocols.intermediate
.ANSWER_ITEMS``); staff see those items with the register's values (``preview``), and
an approval names the items that go — some or all of those asked, never another one.
The answer carries exactly those items and nothing else; a refusal carries none.  The
decision, who made it and from which terminal, the inbox item taken and the answer
queued are one transaction of the store writer (``record``).  Refusals:

- ``unknown_item``   no manual-answer request has this inbox id (404)
- ``already_decided``  the request was approved or refused before (409)
- ``link_disabled``  the intermediate link is not enabled
- ``unknown_person`` nobody on the register holds its 団体内統合宛名番号 (refuse it)
- ``items_not_asked`` an approved item the request did not ask for
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from hub.domain.changes import ManualDecision, fingerprint
from hub.domain.errors import ConflictError, FormatError, HubError, LogicError
from hub.domain.outcomes import Outcome
from hub.domain.resident import Resident
from hub.domain.working_set import Ledger, WorkingSet
from hub.store import AuditEntry, Conn, Store
from protocols.intermediate import (
    ANSWER_ITEMS,
    ManualAnswer,
    ManualAnswerRequest,
    decode_from_intermediate,
    encode,
)
from protocols.jsonable import plain

DECISIONS = ("approve", "refuse")


def parse_decision(obj: dict[str, Any], item_id: int, operator_id: str,
                   terminal_id: str) -> ManualDecision:
    """The decision of the staff member ``operator_id`` (from their session) at the
    terminal ``terminal_id`` (its certificate): approve with the items that go, or
    refuse with none."""
    decision, items = obj["decision"], tuple(obj.get("items") or ())
    if decision not in DECISIONS:
        raise FormatError("invalid_decision", "decision is approve or refuse", "decision")
    if decision == "approve" and not items:
        raise FormatError("missing_item", "an approval names the items that go", "items")
    if decision == "refuse" and items:
        raise FormatError("unexpected_item", "a refusal sends no item", "items")
    unknown = next((i for i in items if i not in ANSWER_ITEMS), None)
    if unknown is not None or len(set(items)) != len(items):
        raise FormatError("invalid_item", "items are answer items, each once", "items")
    return ManualDecision(f"MANUAL-{item_id}", item_id, decision, operator_id, terminal_id,
                          fingerprint({"decision": decision, "items": sorted(items)}),
                          items=items)


def record(register: Ledger, ws: WorkingSet, d: ManualDecision) -> Outcome:
    """Answer a manual-answer request as staff decided (inside the store writer's
    transaction): the inbox item is taken, the answer queued on the intermediate link."""
    refusal, req, person = _refusal(register, ws, d)
    if refusal is not None:
        return Outcome(d.request_id, reason=refusal.code, error=refusal)
    assert req is not None
    now = register.wall_clock()
    answer = manual_answer(req, register.municipality_code, d.items, person,
                           dt.date.fromtimestamp(now).isoformat())
    key = person.resident_code if person is not None else ""
    item = register.enqueue(ws.outbox, "intermediate", "manual_answer", encode(answer), key,
                            0, now, d.correlation_id)
    ws.decided[d.item_id] = (d.operator_id, d.terminal_id, now)
    response = {"request_id": d.request_id, "status": "accepted", "item_id": d.item_id,
                "decision": d.decision, "items": list(answer.items), "links": [item.link]}
    ws.remember(d, None, response, now)
    ws.audit.append(AuditEntry(now, d.operator_id, d.terminal_id,
                               f"manual_answer.{d.decision}", d.request_id,
                               count=len(answer.items)))
    return Outcome(d.request_id, response=response, reason=f"manual_{d.decision}",
                   outbox=[item])


def _refusal(register: Ledger, ws: WorkingSet, d: ManualDecision) -> tuple[
        HubError | None, ManualAnswerRequest | None, Resident | None]:
    """(why the decision is refused, or None; the request; the person it is about)."""
    store = register.store
    item = store.inbox.get(ws.conn, d.item_id)
    if item is None or item.kind != "intermediate.manual_answer_request":
        return HubError("unknown_item", "no manual-answer request has this id",
                        status=404), None, None
    if item.state != "new" or d.item_id in ws.decided:
        return ConflictError("already_decided", "the request was already approved or "
                             "refused"), None, None
    if "intermediate" not in register.enabled_links:
        return LogicError("link_disabled", "the intermediate link is not enabled"), None, None
    req = decode_from_intermediate(item.body)
    assert isinstance(req, ManualAnswerRequest)
    person = _holder(store, ws.conn, req.integrated_atena)
    if d.decision == "approve" and person is None:
        return LogicError("unknown_person", "nobody on the register holds this "
                          "団体内統合宛名番号; refuse the request"), None, None
    extra = next((i for i in d.items if i not in req.items), None)
    if extra is not None:
        return LogicError("items_not_asked", "the request did not ask for this item",
                          "items"), None, None
    return None, req, person


def preview(store: Store, conn: Conn, item_id: int, municipality_code: str,
            today: str) -> dict[str, Any]:
    """A manual-answer request and what each decision would send (what staff see before
    they decide): the items asked for, each with its name and the register's value —
    an approval sends the ones it names — or the refusal, which sends none."""
    item = store.inbox.get(conn, item_id)
    if item is None or item.kind != "intermediate.manual_answer_request":
        raise HubError("unknown_item", "no manual-answer request has this id", status=404)
    req = decode_from_intermediate(item.body)
    assert isinstance(req, ManualAnswerRequest)
    person = _holder(store, conn, req.integrated_atena)
    out: dict[str, Any] = {
        "item_id": item_id, "state": item.state, "request": plain(dataclasses.asdict(req)),
        "items_asked": [{"item": i, "name": ANSWER_ITEMS[i]} for i in req.items],
        "if_refused": plain(dataclasses.asdict(manual_answer(
            req, municipality_code, (), None, today)))}
    if person is not None:
        out["if_approved"] = plain(dataclasses.asdict(manual_answer(
            req, municipality_code, tuple(req.items), person, today)))
    return out


def manual_answer(req: ManualAnswerRequest, municipality_code: str, items: tuple[str, ...],
                  person: Resident | None, today: str) -> ManualAnswer:
    """The answer to ``req``: approved with exactly ``items`` (the register's values), or
    refused (no items) when ``items`` is empty."""
    if not items:
        return ManualAnswer(req.request_number, req.integrated_atena, municipality_code,
                            "refused", today, {})
    assert person is not None
    return ManualAnswer(req.request_number, req.integrated_atena, municipality_code,
                        "approved", today, {i: _value(person, i) for i in items})


def _holder(store: Store, conn: Conn, integrated_atena: str) -> Resident | None:
    """Who holds ``integrated_atena`` on the register (``None``: nobody)."""
    row = store.register.resident_by_integrated_atena(conn, integrated_atena)
    return Resident.from_row(row) if row is not None else None


def _value(person: Resident, item: str) -> str:
    """An answer item's value, as the register holds it."""
    value = getattr(person, {"name": "name_kanji"}.get(item, item))
    return value.isoformat() if isinstance(value, dt.date) else str(value)
