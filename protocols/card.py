"""Card events for the individual-number card management system (個人番号カード管理システム).

One document per event — issue (交付), suspend (一時停止), suspend-lift (一時停止解除),
revoke (廃止), collect (回収), return (返還) — for one resident, numbered by the hub
(``EventSeq``) in the order the register recorded them.  The XSD is
``schemas/card_event.xsd``.

``LIFE`` is the card's life as a table: for each event, the states a card may be in for
it, the state after it, and the rule that refuses it otherwise — 交付 of a card only
when none is in use, 一時停止 and 回収 only of a card in use, 一時停止解除 only of a
suspended card, 廃止 of an issued or suspended card, 返還 only of an issued card.  The
hub refuses an event out of order before it is recorded; the card system's mock holds
each card to the same table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from protocols.senddest import CHUNK as SEND_CHUNK
from protocols.senddest import SendDestinationChunk
from protocols.xmlrecord import XmlDispatch, XmlDocument

NAMESPACE = "urn:jukihub:card:card-event:1"
EVENTS = ("issue", "suspend", "suspend_lift", "revoke", "collect", "return")
# A card's states: none yet (or none since it ended), in use, suspended, ended three ways.
STATES = ("none", "issued", "suspended", "revoked", "collected", "returned")
_ENDED = frozenset({"none", "revoked", "collected", "returned"})


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a card's life: the states it may follow, the state after it, and the
    rule (a stable code) that refuses it from any other state."""

    after: frozenset[str]
    becomes: str
    refused_as: str


LIFE: dict[str, Step] = {
    "issue": Step(_ENDED, "issued", "card_already_issued"),                       # 交付
    "suspend": Step(frozenset({"issued"}), "suspended", "card_not_in_use"),        # 一時停止
    "suspend_lift": Step(frozenset({"suspended"}), "issued", "card_not_suspended"),  # 一時停止解除
    "revoke": Step(frozenset({"issued", "suspended"}), "revoked", "card_not_issued"),  # 廃止
    "collect": Step(frozenset({"issued"}), "collected", "card_not_in_use"),        # 回収
    "return": Step(frozenset({"issued"}), "returned", "card_not_issued"),          # 返還
}
assert set(LIFE) == set(EVENTS)


def card_after(state: str, event: str) -> tuple[str, str | None]:
    """The card's state after ``event`` from ``state``, and ``None``; or ``state``
    unchanged and the rule that refuses the event."""
    step = LIFE[event]
    if state in step.after:
        return step.becomes, None
    return state, step.refused_as


@dataclass(frozen=True, slots=True)
class CardEvent:
    event_seq: int                 # the hub's number for the event, in recording order
    municipality_code: str         # 市町村コード
    resident_code: str             # 住民票コード
    individual_number: str         # 個人番号
    event: str                     # one of EVENTS
    event_date: dt.date            # 処理年月日
    operator_id: str               # 操作者ID
    terminal_id: str               # 操作端末ID


_RECORD = XmlDocument(CardEvent, "CardEvent", NAMESPACE, "card_event.xsd")
FIELDS = _RECORD.fields
_TO_CARD = XmlDispatch(_RECORD, SEND_CHUNK)


def encode_card_event(event: CardEvent) -> bytes:
    return _RECORD.dumps(event)


def decode_to_card(data: bytes) -> CardEvent | SendDestinationChunk:
    """A document of the hub's card stream: a card event or a send-destination chunk."""
    doc: CardEvent | SendDestinationChunk = _TO_CARD.loads(data)
    return doc


def decode_card_event(data: bytes) -> CardEvent:
    """Parse and validate a card event, or raise ``BodyError``."""
    event: CardEvent = _RECORD.loads(data)
    return event
