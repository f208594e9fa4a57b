"""Moves between cities (転出・転入, 住基法 9条, 22条, 24条の2), both ends.

This city is the **destination** of a domestic 転入 (one with a 転入前 市町村コード): the
hub asks the national server for the former city's 転出証明書情報 before the change
goes to the store writer (``certificate_request``; ``hub.api.certificates`` asks), and
the change carries the answer (``with_certificate``).  In the writer the 転入 is
checked against it (``check_certificate``: another 住民票コード, birth date, sex, ふりがな
or 個人番号 is ``move_in_contradicts_certificate``) and keeps the 個人番号 from it when
the register's message has none (``kept_from_certificate``) — so a domestic arrival
never gets a second number from J-LIS (``hub.domain.routing`` asks for one only for a
birth or an arrival from abroad).  A 特例転入 (the certificate of a 特例転出) is
異動事由詳細 0103.

This city is the **former** city of a 転出: a 特例転出 sends its 転出証明書情報 to the
destination through the national server (``moving_out_certificate``, routed with the
change); the destination's 転入通知 comes back and confirms the 転出
(``confirmation``: matched by 住民票コード and destination, once).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hub.domain.changes import Change, Reason
from hub.domain.errors import HubError, LogicError
from hub.domain.resident import Resident
from protocols.charconv import seion_kana
from protocols.national import (
    CertificateAnswer,
    CertificateRequest,
    MovingOutCertificate,
    TransferInNotice,
)

# ---- the destination: a domestic 転入 -------------------------------------------------


def needs_certificate(change: Change) -> bool:
    """A 転入 from another city in Japan (one from abroad has no 転入前 市町村コード)."""
    return (change.reason is Reason.MOVE_IN
            and change.items.get("previous_municipality_code") is not None)


def certificate_request(change: Change, municipality_code: str) -> CertificateRequest:
    items = change.items
    return CertificateRequest(
        municipality_code=municipality_code,
        former_municipality_code=items["previous_municipality_code"],
        resident_code=change.resident_code, name_kana=items["name_kana"],
        birth_date=items["birth_date"], sex=items["sex"])


def with_certificate(change: Change, answer: CertificateAnswer) -> Change:
    """The change carrying the national server's answer, or raise: ``LogicError``
    ``moving_out_certificate_not_found`` (the former city has no 転出 of this person),
    ``HubError`` ``certificate_refused`` (502)."""
    if answer.status == "not_found" or (answer.status == "found" and answer.certificate is None):
        raise LogicError("moving_out_certificate_not_found",
                         "the national server has no 転出証明書情報 of this person from the "
                         "former municipality", "previous_address")
    if answer.status != "found":
        raise HubError("certificate_refused", "the national server refused the request for "
                       "the 転出証明書情報", status=502)
    return dataclasses.replace(change, certificate=answer.certificate, special=answer.special)


def check_certificate(change: Change) -> None:
    """``move_in_contradicts_certificate`` (naming the item, never its value) when the
    転入's items are not the certificate's."""
    cert = change.certificate
    if cert is None:
        return
    items = change.items
    register_number = items.get("individual_number")
    compared = (
        ("resident_code", change.resident_code, cert.resident_code),
        ("birth_date", items.get("birth_date"), cert.birth_date),
        ("sex", items.get("sex"), cert.sex),
        ("name_kana", seion_kana(items.get("name_kana") or ""), seion_kana(cert.name_kana)),
        ("individual_number", register_number, cert.individual_number
         if register_number is not None and cert.individual_number is not None
         else register_number),
        ("previous_municipality_code", items.get("previous_municipality_code"),
         cert.from_municipality_code),
    )
    for item, ours, theirs in compared:
        if ours != theirs:
            raise LogicError("move_in_contradicts_certificate",
                             f"{item} is not the 転出証明書情報's", item)


def kept_from_certificate(change: Change) -> Change:
    """The 転入 with the 個人番号 of its certificate when the register sent none."""
    cert = change.certificate
    if cert is None or cert.individual_number is None or change.items.get("individual_number"):
        return change
    return dataclasses.replace(change, items={**change.items,
                                              "individual_number": cert.individual_number})


# ---- the former city: a 転出 ------------------------------------------------------------


def moving_out_certificate(update_seq: int, municipality_code: str, before: Resident,
                           after: Resident) -> MovingOutCertificate | None:
    """The 転出証明書情報 of a 特例転出 (``None`` for any other change): ``before`` and
    ``after`` the resident before and after the 転出."""
    if not after.moving_out_special or not after.removed or before.removed:
        return None
    assert after.moving_out_municipality_code is not None  # a 特例転出 is to a city
    assert after.birth_date is not None
    return MovingOutCertificate(
        certificate_number=f"{municipality_code}-{update_seq}",
        from_municipality_code=municipality_code,
        to_municipality_code=after.moving_out_municipality_code,
        resident_code=after.resident_code, name_kanji=after.name_kanji,
        name_kana=after.name_kana, birth_date=after.birth_date, sex=after.sex,
        former_address=before.address, planned_address=after.moving_out_address,
        moving_out_date=after.moving_out_planned_date,
        relationship=after.relationship or None,
        individual_number=after.individual_number)


@dataclasses.dataclass(frozen=True, slots=True)
class Confirmation:
    """What a 転入通知 did to the 転出 it answers."""

    state: str                      # confirmed | no_matching_move_out | already_confirmed
    move_out_update_seq: int | None = None  # the 転出's 更新順番号
    confirmed_date: dt.date | None = None   # the destination's 転入 date


def confirmation(notice: TransferInNotice, municipality_code: str,
                 resident: Resident | None) -> Confirmation:
    """Whether ``notice`` confirms the 転出 of ``resident`` (who has its 住民票コード):
    a 転出 from this city to the notice's city, not confirmed before."""
    if (resident is None or notice.former_municipality_code != municipality_code
            or not resident.removed or resident.removed_reason != Reason.MOVE_OUT.value
            or resident.moving_out_municipality_code != notice.municipality_code):
        return Confirmation("no_matching_move_out")
    if resident.moving_out_confirmed_date is not None:
        return Confirmation("already_confirmed", resident.last_update_seq,
                            resident.moving_out_confirmed_date)
    return Confirmation("confirmed", resident.last_update_seq, notice.move_in_date)
