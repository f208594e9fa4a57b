"""Card events (個人番号カード): 交付 issue, 一時停止 suspend, 一時停止解除 suspend_lift, 廃止
revoke, 回収 collect, 返還 return — recorded on the register and sent to the card
management system on the card link, after that link's earlier messages.

A card event is for a living resident with a 個人番号, and follows the card's life
(``protocols.card.LIFE``, a table); each refusal is a ``LogicError`` naming its rule:

- ``unknown_resident``, ``change_to_removed_record``, ``no_individual_number``
- ``card_already_issued``  交付 while a card is in use or suspended
- ``card_not_in_use``      一時停止 or 回収 of a card that is not in use
- ``card_not_suspended``   一時停止解除 of a card that is not suspended
- ``card_not_issued``      廃止 or 返還 of a card that was never issued (or has ended)

The card's state (and the day it took it) is on the resident's record; a refused event
writes nothing.
"""

from __future__ import annotations

import dataclasses

from hub.domain.changes import CardEventRequest
from hub.domain.errors import LogicError
from hub.domain.outcomes import Outcome
from hub.domain.resident import Card, Resident
from hub.domain.working_set import Ledger, WorkingSet
from hub.store import AuditEntry
from protocols.card import CardEvent, card_after, encode_card_event


def refusal(event: str, current: Resident | None) -> LogicError | None:
    """Why ``event`` may not be recorded for ``current`` (the resident), or ``None``."""
    rule = ("unknown_resident" if current is None
            else "change_to_removed_record" if current.removed
            else "no_individual_number" if current.individual_number is None
            else card_after(current.card.state, event)[1])
    if rule is None:
        return None
    return LogicError(rule, f"card event {event} refused: {rule.replace('_', ' ')}")


def record(register: Ledger, ws: WorkingSet, ev: CardEventRequest) -> Outcome:
    """Record ``ev`` (inside the store writer's transaction) and queue its message."""
    current = ws.residents[ev.resident_code]
    refused = refusal(ev.event, current)
    if refused is not None:
        return Outcome(ev.request_id, reason=refused.code, error=refused)
    assert current is not None and current.individual_number is not None  # refusal() saw to it
    now = register.wall_clock()
    event_seq = register.numbers.next_card_event()
    after = dataclasses.replace(current, card=Card(card_after(current.card.state, ev.event)[0],
                                                   ev.event_date))
    ws.put_resident(ev.resident_code, current, after)
    items = []
    if "card" in register.enabled_links:
        body = encode_card_event(CardEvent(
            event_seq, register.municipality_code, ev.resident_code,
            current.individual_number, ev.event, ev.event_date, ev.operator_id,
            ev.terminal_id))
        items.append(register.enqueue(ws.outbox, "card", "card_event", body,
                                      ev.resident_code, 0, now, ev.correlation_id))
    response = {"request_id": ev.request_id, "status": "accepted",
                "event_seq": event_seq, "links": [o.link for o in items]}
    ws.remember(ev, None, response, now)
    ws.writes.card_events.append({
        "id": event_seq, "request_id": ev.request_id, "resident_code": ev.resident_code,
        "event": ev.event, "event_date": ev.event_date, "operator_id": ev.operator_id,
        "terminal_id": ev.terminal_id, "created_at": now})
    ws.audit.append(AuditEntry(now, ev.operator_id, ev.terminal_id, f"card.{ev.event}",
                               ev.request_id))
    return Outcome(ev.request_id, response=response, reason=f"card_{ev.event}",
                   outbox=items)
