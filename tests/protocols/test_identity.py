from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from lxml import etree

from protocols.errors import BodyError
from protocols.identity import (
    DETAILS,
    FIELDS,
    REASONS,
    IdentityRecord,
    IdentityUpdate,
    decode_identity_update,
    encode_identity_update,
    schema,
)
from protocols.xmlsafe import SCHEMA_DIR, parse_xml


def record(**over: object) -> IdentityRecord:
    base = dict(
        resident_code="12345678903", name_kanji="髙橋　花子", name_gaiji_count=0,
        name_kana="タカハシ　ハナコ", name_seion_kana=None, birth_date=dt.date(1990, 4, 1),
        sex="2", municipality_code="222038", aza_code="1234", postal_code="4100000",
        address="静岡県沼津市御幸町１６番１号", address_gaiji_count=0,
        individual_number="123456789018", became_resident_date=dt.date(2020, 1, 1),
        address_set_date=dt.date(2020, 1, 1), notified_date=dt.date(2020, 1, 5),
        previous_municipality_code=None, previous_address=None,
        previous_address_gaiji_count=0, relationship="世帯主", reason="01",
        event_date=dt.date(2020, 1, 1), reason_detail=None, old_resident_code=None,
        resident_code_used_date=None, request_id="REQ-1", operator_id="op1",
        terminal_id="t1", update_seq=42, abnormal_update_seq=None,
        update_prohibited=False, prospective=False, exclusive=False, gaiji_flag=False,
        record_status="active", timestamp=dt.datetime(2020, 1, 5, 9, 0, 0, 123456),
        old_surname_kanji=None, old_surname_gaiji_count=0, old_surname_kana=None,
        old_surname_gaiji_change_seq=None,
    )
    base.update(over)
    return IdentityRecord(**base)  # type: ignore[arg-type]


def test_round_trip_validates() -> None:
    msg = IdentityUpdate(record(), previous_update_seq=41)
    data = encode_identity_update(msg)
    assert decode_identity_update(data) == msg
    first = IdentityUpdate(record(update_seq=1), previous_update_seq=None)
    assert decode_identity_update(encode_identity_update(first)) == first


def test_fields_match_the_xsd_in_order_and_count() -> None:
    assert len(FIELDS) == 40
    xsd = etree.parse(str(SCHEMA_DIR / "identity_update.xsd"))
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    names = xsd.xpath("//xs:element[@name='Record']//xs:element/@name", namespaces=ns)
    assert names == [element for _, element in FIELDS]
    assert schema() is not None


def test_schema_refuses_a_bad_resident_code() -> None:
    data = encode_identity_update(IdentityUpdate(record(resident_code="12AB"), None))
    with pytest.raises(BodyError) as err:
        decode_identity_update(data)
    assert err.value.code == "xsd_invalid"


def test_entities_and_doctype_are_refused() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><r>&b;</r>"""
    with pytest.raises(BodyError) as err:
        parse_xml(bomb)
    assert err.value.code == "xml_doctype"
    xxe = b"""<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>"""
    with pytest.raises(BodyError):
        parse_xml(xxe)


def test_size_and_depth_bounds() -> None:
    with pytest.raises(BodyError) as err:
        parse_xml(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)
    assert err.value.code == "xml_too_large"
    deep = b"<a>" * 40 + b"</a>" * 40
    with pytest.raises(BodyError) as err:
        parse_xml(deep)
    assert err.value.code == "xml_too_deep"
    with pytest.raises(BodyError) as err:
        parse_xml(b"<a><b></a>")
    assert err.value.code == "xml_syntax"


def test_every_field_survives_with_all_optionals_set() -> None:
    full = record(
        name_seion_kana="タカハシ　ハナコ", previous_municipality_code="131016",
        previous_address="東京都千代田区", reason_detail="0102", old_resident_code="12345678903",
        resident_code_used_date=dt.date(2020, 1, 1), abnormal_update_seq=3,
        old_surname_kanji="邊見", old_surname_kana="ヘンミ", old_surname_gaiji_change_seq=0,
    )
    assert all(getattr(full, f.name) is not None for f in dataclasses.fields(full))
    msg = IdentityUpdate(full, 7)
    assert decode_identity_update(encode_identity_update(msg)) == msg


def test_reason_codes_in_the_xsd_are_the_tables() -> None:
    """The XSD's 異動事由 and 異動事由詳細 enumerations are REASONS and DETAILS, with the
    same names, so a code the hub sends is one the receiver's schema knows."""
    xsd = etree.parse(str(SCHEMA_DIR / "identity_update.xsd"))
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}

    def listed(name: str) -> dict[str, str]:
        return {e.get("value"): e.findtext("xs:annotation/xs:documentation", namespaces=ns)
                for e in xsd.xpath(f"//xs:simpleType[@name='{name}']//xs:enumeration",
                                   namespaces=ns)}

    assert listed("Reason") == {code: name for code, name in REASONS.values()}
    assert listed("ReasonDetail") == DETAILS
    assert all(code[:2] in listed("Reason") for code in DETAILS)


def test_an_unknown_reason_code_is_refused_by_the_schema() -> None:
    data = encode_identity_update(IdentityUpdate(record(reason="move_in"), None))
    with pytest.raises(BodyError) as err:
        decode_identity_update(data)
    assert err.value.code == "xsd_invalid"
