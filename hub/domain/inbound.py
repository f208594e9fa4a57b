"""What each link's peer pushes, and what the hub does with it (its inbound effects).

Every push is decoded by its link's decoder and kept in the inbox under its kind
(``national.number_generated``, ``moj.residence_change``, …) before it is
acknowledged; a push that cannot be read is kept too, as refused, with the code.  Two
kinds do more:

- a generated 個人番号 (``NumberGenerated``, 番号法 8条) is first applied to the register
  as a number designation — an idempotent change, so a resent notice is answered with
  its first answer and never applied twice;
- a consistency check's result (``ConsistencyResult``) also completes the check it
  answers;
- a destination's 転入通知 (``TransferInNotice``) confirms the city's 転出 it answers
  (``hub.domain.moves``; decided in the store writer, which refuses one that answers
  no 転出 of this city: ``no_matching_move_out``);
- another municipality's request for a wide-area copy of a 住民票
  (``WideAreaCopyRequest``) is answered from the register and recorded as a provision
  (``hub.domain.wide_area``; in the store writer, with the inbox item).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.domain.changes import Change, number_designation
from hub.domain.errors import HubError
from protocols.consistency import ConsistencyResult, decode_result
from protocols.errors import BodyError
from protocols.intermediate import (
    CodeIssued,
    ManualAnswerRequest,
    ProvisionRecord,
    decode_from_intermediate,
)
from protocols.moj import ResidenceChangeNotice, decode_change_notice
from protocols.national import (
    MovingOutCertificate,
    NumberGenerated,
    TransferInNotice,
    decode_from_national,
)
from protocols.wide_area import WideAreaCopyRequest

# The decoder that checks what each link's peer pushes, and the inbox kind of a push it
# could not read (kept, refused, for staff).
DECODERS: dict[str, tuple[Callable[[bytes], Any], str]] = {
    "prefecture": (decode_result, "prefecture.unreadable"),
    "moj": (decode_change_notice, "moj.residence_change"),
    "national": (decode_from_national, "national.unreadable"),
    "intermediate": (decode_from_intermediate, "intermediate.unreadable"),
}
# The inbox kind of each document a peer may push.
INBOX_KINDS: dict[type, str] = {
    ResidenceChangeNotice: "moj.residence_change",
    NumberGenerated: "national.number_generated",
    MovingOutCertificate: "national.moving_out",
    TransferInNotice: "national.transfer_in",
    CodeIssued: "intermediate.code_issued",
    ManualAnswerRequest: "intermediate.manual_answer_request",
    ProvisionRecord: "intermediate.provision_record",
    ConsistencyResult: "consistency.result",
    WideAreaCopyRequest: "national.wide_area_copy_request",
}


@dataclass(frozen=True, slots=True)
class CheckAnswer:
    """A peer's answer to a consistency check: its counts."""

    check_id: str
    compared: int
    held: int
    differences: int


@dataclass(frozen=True, slots=True)
class Keep:
    """Keep the push in the inbox as ``kind`` (refused with ``refused`` if set)."""

    kind: str
    refused: str | None = None
    check: CheckAnswer | None = None
    transfer_in: TransferInNotice | None = None  # confirms a 転出 (in the writer)
    copy_request: WideAreaCopyRequest | None = None  # answered (in the writer)


@dataclass(frozen=True, slots=True)
class Designate:
    """Apply ``change`` (a generated 個人番号) to the register, then keep the push as
    ``kind`` — refused with the change's refusal code, if it was refused."""

    change: Change
    kind: str


def effect(link: str, body: bytes, today: dt.date) -> Keep | Designate:
    """What to do with a push of ``link``'s peer."""
    decode, kind = DECODERS.get(link, (None, f"{link}.unexpected"))
    if decode is None:
        return Keep(kind, "unexpected_push")
    try:
        doc = decode(body)
    except BodyError as err:
        return Keep(kind, err.code)
    kind = INBOX_KINDS[type(doc)]
    if isinstance(doc, NumberGenerated):
        try:
            return Designate(number_designation(doc.resident_code, doc.individual_number,
                                                today), kind)
        except HubError as err:
            return Keep(kind, err.code)
    if isinstance(doc, TransferInNotice):
        return Keep(kind, transfer_in=doc)
    if isinstance(doc, WideAreaCopyRequest):
        return Keep(kind, copy_request=doc)
    if isinstance(doc, ConsistencyResult):
        return Keep(kind, check=CheckAnswer(doc.check_id, doc.compared, doc.held,
                                            doc.difference_count))
    return Keep(kind)


def decode(link: str, body: bytes) -> Any:
    """A kept push's document (for the API), or ``None`` if the link pushes none."""
    decoder = DECODERS.get(link)
    return decoder[0](body) if decoder is not None else None
