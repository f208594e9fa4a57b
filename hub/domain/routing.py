"""Routing: which links get which message for an accepted change.

A pure function called by the store writer inside the transaction that records the
change, so a change and every message it causes commit together (DESIGN.md, Routing).
Routed here: identity updates to the prefectural server (every change);
foreign-resident notices to the legal-affairs ministry (every change of a foreign
resident, 住基法 30条の50); to the national server, number-generation requests (a new
resident without a 個人番号, 番号法 8条) and 転入通知 (a 転入 from another city, 住基法 9条);
to the intermediate server, a 符号 request when a 団体内統合宛名番号 is assigned and copy
(副本) updates for every change of a resident who has one (番号法 19条8号).  Card events
and staff answers are routed where they are recorded (``hub/domain/register.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.domain.resident import Resident
from protocols.identity import IdentityRecord, IdentityUpdate, encode_identity_update
from protocols.intermediate import CodeRequest, CopyUpdate, encode, encode_copy_update
from protocols.moj import ForeignResidentNotice, encode_notice
from protocols.national import (
    NumberRequest,
    TransferInNotice,
    encode_number_request,
    encode_transfer_in,
)


@dataclass(frozen=True, slots=True)
class Outbound:
    link: str
    kind: str
    payload: bytes


def route(reason: str, record: IdentityRecord, previous_update_seq: int | None,
          resident: Resident, previous: Resident | None,
          enabled_links: frozenset[str]) -> list[Outbound]:
    """Messages caused by one change of ``reason`` (the hub's name for it; the record
    carries its 住基ネット code): ``resident`` is the resident after it, ``previous``
    before it (``None`` for a new resident)."""
    out: list[Outbound] = []
    if "prefecture" in enabled_links:
        body = encode_identity_update(IdentityUpdate(record, previous_update_seq))
        out.append(Outbound("prefecture", "identity_update", body))
    if "moj" in enabled_links and resident.resident_type == "foreign":
        # A foreign resident has both (the format checks on arrival; rules otherwise).
        assert resident.nationality is not None and resident.article_30_45 is not None
        # The previous notice is the previous change only if it too was a foreigner's.
        was_foreign = previous is not None and previous.resident_type == "foreign"
        notice = ForeignResidentNotice(
            update_seq=record.update_seq,
            previous_update_seq=previous_update_seq if was_foreign else None,
            municipality_code=record.municipality_code, resident_code=record.resident_code,
            reason=reason, event_date=record.event_date, name=record.name_kanji,
            name_kana=record.name_kana, common_name=resident.common_name,
            birth_date=record.birth_date, sex=record.sex,
            nationality=resident.nationality, article_30_45=resident.article_30_45,
            residence_status=resident.residence_status,
            residence_period_end=resident.residence_period_end,
            residence_card_number=resident.residence_card_number,
            address=record.address, record_status=record.record_status)
        out.append(Outbound("moj", "foreign_resident_notice", encode_notice(notice)))
    if ("national" in enabled_links and reason in ("birth", "move_in")
            and resident.individual_number is None):
        # A new resident without a 個人番号: ask J-LIS to generate one (番号法 8条).
        req = NumberRequest(record.update_seq, record.municipality_code,
                            record.resident_code, record.birth_date, record.sex)
        out.append(Outbound("national", "number_request", encode_number_request(req)))
    if ("national" in enabled_links and reason == "move_in"
            and record.previous_municipality_code
            and record.previous_municipality_code != record.municipality_code):
        # 転入通知 (住基法 9条1項) to the former municipality, through the national server.
        transfer = TransferInNotice(
            record.update_seq, record.municipality_code, record.previous_municipality_code,
            record.resident_code, record.event_date, record.notified_date, record.address)
        out.append(Outbound("national", "transfer_in_notice", encode_transfer_in(transfer)))
    if "intermediate" in enabled_links and resident.integrated_atena:
        had_copy = previous is not None and previous.integrated_atena is not None
        if not had_copy:
            # The 団体内統合宛名番号 was just assigned: ask for the resident's 符号.
            assert resident.individual_number is not None  # assigned with the number
            code_req = CodeRequest(resident.integrated_atena, record.update_seq,
                                   record.municipality_code, resident.individual_number)
            out.append(Outbound("intermediate", "code_request", encode(code_req)))
        copy = CopyUpdate(
            integrated_atena=resident.integrated_atena, update_seq=record.update_seq,
            previous_update_seq=previous_update_seq if had_copy else None,
            municipality_code=record.municipality_code, reason=reason,
            event_date=record.event_date.isoformat(), name=record.name_kanji,
            name_kana=record.name_kana, birth_date=record.birth_date.isoformat(),
            sex=record.sex, address=record.address,
            household_number=resident.household_number,
            relationship=resident.relationship, resident_type=resident.resident_type,
            removed=bool(resident.removed))
        out.append(Outbound("intermediate", "copy_update", encode_copy_update(copy)))
    return out
