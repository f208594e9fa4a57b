"""Card events for the individual-number card management system (個人番号カード管理システム).

One document per event — issue (交付), revoke (廃止), collect (回収), suspend-lift
(一時停止解除), return (返還) — for one resident, numbered by the hub (``EventSeq``) in
the order the register recorded them.  The XSD is ``schemas/card_event.xsd``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from protocols.senddest import CHUNK as SEND_CHUNK
from protocols.senddest import SendDestinationChunk
from protocols.xmlrecord import XmlDispatch, XmlDocument

NAMESPACE = "urn:jukihub:card:card-event:1"
EVENTS = ("issue", "revoke", "collect", "suspend_lift", "return")


@dataclass(frozen=True, slots=True)
class CardEvent:
    event_seq: int                 # the hub's number for the event, in recording order
    municipality_code: str         # 市町村コード
    resident_code: str             # 住民票コード
    individual_number: str         # 個人番号
    event: str                     # issue / revoke / collect / suspend_lift / return
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
