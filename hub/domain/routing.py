"""Routing: which links get which message for an accepted change — a table per link,
the rows of DESIGN.md's routing section that a change causes.

A pure function called by the store writer inside the transaction that records the
change, so a change and every message it causes commit together (DESIGN.md, Routing).

==============  =======================  ==============================================
link            message                  when
==============  =======================  ==============================================
prefecture      identity update          every change (本人確認情報)
moj             foreign-resident notice  every change of a foreign resident (住基法 30条の50)
national        number request           a birth or an arrival from abroad without a
                                         個人番号 (番号法 8条) — never a domestic 転入,
                                         which keeps its number from the 転出証明書情報
national        転入通知                 a 転入 from another city (住基法 9条1項)
national        転出証明書情報           a 特例転出 (住基法 24条の2), for the destination
national        identity update          a 住民票コードの変更 (住基法 30条の4): J-LIS's copy
                                         follows the new code (旧住民票コード in it)
intermediate    符号 request             the 団体内統合宛名番号 was just assigned
intermediate    copy (副本) update        every change of a resident who has one
                                         (番号法 19条8号)
==============  =======================  ==============================================

A resident's current record resent to mend a difference or a discarded dead letter
(``RESENDS``: prefecture and J-LIS an identity update with 異常時更新順番号, the
ministry a notice) is routed by ``resend``.

The rest of DESIGN.md's table is routed where it is recorded: card events
(``hub.domain.cards``), staff's manual answers (``hub.domain.manual_answers``),
send-destination batches and consistency checks (jobs), the answers to 広域交付 requests
(``hub.domain.wide_area``), queries (request/response).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from hub.domain import moves
from hub.domain.resident import Resident
from protocols.identity import IdentityRecord, IdentityUpdate, encode_identity_update
from protocols.intermediate import CodeRequest, CopyUpdate, encode, encode_copy_update
from protocols.moj import ForeignResidentNotice, encode_notice
from protocols.national import (
    NumberRequest,
    TransferInNotice,
    encode_moving_out,
    encode_number_request,
    encode_transfer_in,
)


@dataclass(frozen=True, slots=True)
class Outbound:
    link: str
    kind: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Routed:
    """One accepted change, as the routes read it."""

    reason: str                     # the hub's name of the reason (the record has its code)
    record: IdentityRecord          # the identity record it wrote
    previous_update_seq: int | None  # the resident's 更新順番号 before it
    resident: Resident              # the resident after it
    previous: Resident | None       # before it (``None``: a new resident)


@dataclass(frozen=True, slots=True)
class Route:
    kind: str
    when: Callable[[Routed], bool]
    build: Callable[[Routed], bytes]


def _identity_update(c: Routed) -> bytes:
    return encode_identity_update(IdentityUpdate(c.record, c.previous_update_seq))


def _foreign_notice(c: Routed) -> bytes:
    resident, record = c.resident, c.record
    # A foreign resident has both (the format checks on arrival; rules otherwise).
    assert resident.nationality is not None and resident.article_30_45 is not None
    # The previous notice is the previous change only if it too was a foreigner's.
    was_foreign = c.previous is not None and c.previous.resident_type == "foreign"
    return encode_notice(ForeignResidentNotice(
        update_seq=record.update_seq,
        previous_update_seq=c.previous_update_seq if was_foreign else None,
        municipality_code=record.municipality_code, resident_code=record.resident_code,
        reason=c.reason, event_date=record.event_date, name=record.name_kanji,
        name_kana=record.name_kana, common_name=resident.common_name,
        birth_date=record.birth_date, sex=record.sex,
        nationality=resident.nationality, article_30_45=resident.article_30_45,
        residence_status=resident.residence_status,
        residence_period_end=resident.residence_period_end,
        residence_card_number=resident.residence_card_number,
        address=record.address, record_status=record.record_status))


def _needs_number(c: Routed) -> bool:
    """A birth, or an arrival from abroad (no 転入前 市町村コード), without a 個人番号."""
    new = c.reason == "birth" or (c.reason == "move_in"
                                  and not c.record.previous_municipality_code)
    return new and c.resident.individual_number is None


def _number_request(c: Routed) -> bytes:
    r = c.record
    return encode_number_request(NumberRequest(r.update_seq, r.municipality_code,
                                               r.resident_code, r.birth_date, r.sex))


def _from_another_city(c: Routed) -> bool:
    r = c.record
    return (c.reason == "move_in" and bool(r.previous_municipality_code)
            and r.previous_municipality_code != r.municipality_code)


def _transfer_in(c: Routed) -> bytes:
    r = c.record
    assert r.previous_municipality_code is not None
    return encode_transfer_in(TransferInNotice(
        r.update_seq, r.municipality_code, r.previous_municipality_code, r.resident_code,
        r.event_date, r.notified_date, r.address))


def _special_move_out(c: Routed) -> bool:
    return c.reason == "move_out" and c.resident.moving_out_special


def _moving_out_certificate(c: Routed) -> bytes:
    assert c.previous is not None  # a 転出 is of a resident on the register
    cert = moves.moving_out_certificate(c.record.update_seq, c.record.municipality_code,
                                        c.previous, c.resident)
    assert cert is not None
    return encode_moving_out(cert)


def _copy_is_new(c: Routed) -> bool:
    return bool(c.resident.integrated_atena) and not _had_copy(c)


def _had_copy(c: Routed) -> bool:
    return c.previous is not None and c.previous.integrated_atena is not None


def _code_request(c: Routed) -> bytes:
    resident = c.resident
    assert resident.integrated_atena is not None and resident.individual_number is not None
    return encode(CodeRequest(resident.integrated_atena, c.record.update_seq,
                              c.record.municipality_code, resident.individual_number))


def _copy_update(c: Routed) -> bytes:
    resident, record = c.resident, c.record
    assert resident.integrated_atena is not None
    return encode_copy_update(CopyUpdate(
        integrated_atena=resident.integrated_atena, update_seq=record.update_seq,
        previous_update_seq=c.previous_update_seq if _had_copy(c) else None,
        municipality_code=record.municipality_code, reason=c.reason,
        event_date=record.event_date.isoformat(), name=record.name_kanji,
        name_kana=record.name_kana, birth_date=record.birth_date.isoformat(),
        sex=record.sex, address=record.address,
        household_number=resident.household_number,
        relationship=resident.relationship, resident_type=resident.resident_type,
        removed=bool(resident.removed)))


# link -> its routes, in the order their messages are queued
ROUTING: dict[str, tuple[Route, ...]] = {
    "prefecture": (Route("identity_update", lambda c: True, _identity_update),),
    "moj": (Route("foreign_resident_notice", lambda c: c.resident.resident_type == "foreign",
                  _foreign_notice),),
    "national": (Route("number_request", _needs_number, _number_request),
                 Route("transfer_in_notice", _from_another_city, _transfer_in),
                 Route("moving_out_certificate", _special_move_out, _moving_out_certificate),
                 Route("identity_update", lambda c: c.reason == "resident_code_change",
                       _identity_update)),
    "intermediate": (Route("code_request", _copy_is_new, _code_request),
                     Route("copy_update", lambda c: bool(c.resident.integrated_atena),
                           _copy_update)),
}


# link -> the message that carries a resident's whole current record again, as a
# correction (異常時更新: ``hub.domain.resends``); the links not here have none.
RESENDS: dict[str, Route] = {
    "prefecture": Route("identity_update", lambda c: True, _identity_update),
    "national": Route("identity_update", lambda c: True, _identity_update),
    # The ministry's notices are chained by 更新順番号: the resend takes the place of the
    # record it corrects (its own number stays in the identity record), chaining none.
    "moj": Route("foreign_resident_notice", lambda c: c.resident.resident_type == "foreign",
                 lambda c: _moj_resend(c)),
}


def _moj_resend(c: Routed) -> bytes:
    corrected = c.record.abnormal_update_seq
    assert corrected is not None  # a resend corrects a record
    return _foreign_notice(dataclasses.replace(
        c, record=dataclasses.replace(c.record, update_seq=corrected), previous=None))


def resend(link: str, record: IdentityRecord, resident: Resident) -> Outbound | None:
    """The message that resends ``resident``'s current record to ``link``, or ``None``
    (a link without one, or a resident it never hears of).  ``record`` is the
    correction, its 異常時更新順番号 the 更新順番号 it corrects."""
    found = RESENDS.get(link)
    c = Routed("correction", record, record.abnormal_update_seq, resident, None)
    if found is None or not found.when(c):
        return None
    return Outbound(link, found.kind, found.build(c))


def route(reason: str, record: IdentityRecord, previous_update_seq: int | None,
          resident: Resident, previous: Resident | None,
          enabled_links: frozenset[str]) -> list[Outbound]:
    """Messages caused by one change of ``reason`` (the hub's name for it; the record
    carries its 住基ネット code): ``resident`` is the resident after it, ``previous``
    before it (``None`` for a new resident)."""
    c = Routed(reason, record, previous_update_seq, resident, previous)
    return [Outbound(link, r.kind, r.build(c)) for link, routes in ROUTING.items()
            if link in enabled_links for r in routes if r.when(c)]
