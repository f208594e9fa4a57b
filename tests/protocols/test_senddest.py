"""The 67 items of the send-destination file, as the XSD and the dataclass say them."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from lxml import etree

from protocols.errors import BodyError
from protocols.senddest import (
    SendDestination,
    SendDestinationChunk,
    decode_chunk,
    encode_chunk,
)
from protocols.xmlrecord import element_name
from protocols.xmlsafe import SCHEMA_DIR

XS = "{http://www.w3.org/2001/XMLSchema}"


def test_the_schema_lists_the_67_items_in_the_dataclass_order() -> None:
    tree = etree.parse(str(SCHEMA_DIR / "send_destination.xsd"))
    dest = tree.find(f"{XS}complexType[@name='Destination']")
    assert dest is not None
    names = [el.get("name") for el in dest.iter(f"{XS}element")]
    assert len(names) == 67
    assert names == [element_name(f.name) for f in dataclasses.fields(SendDestination)]
    docs = [el.findtext(f"{XS}annotation/{XS}documentation") for el in dest.iter(f"{XS}element")]
    assert docs[0] == "1 送付先管理番号" and docs[-1] == "67 ローマ字 旧氏"


def sample(**over: object) -> SendDestination:
    values: dict[str, object] = {}
    for f in dataclasses.fields(SendDestination):
        t = str(f.type)
        values[f.name] = (0 if "int" in t else dt.date(2026, 11, 27) if "date" in t
                          else False if "bool" in t else None if "None" in t else "x")
    values.update(management_number="S00000000010000001", municipality_code="222038",
                  municipality_postal_code="4108601", issue_place_postal_code="4108601",
                  card_place_postal_code="4108601", municipality_phone="055-934-4720",
                  issue_place_phone="055-934-4720", card_place_phone="055-934-4720",
                  operator_id="op1", terminal_id="t1", print_class="2",
                  resident_code="12345678901", name_kana="タカハシ", sex="1",
                  individual_number="123456789018", substitution_result="1",
                  substitute_name_positions="10", substitute_address_positions="", persons=1)
    values.update(over)
    return SendDestination(**values)  # type: ignore[arg-type]


def test_chunks_round_trip_and_bad_items_are_refused() -> None:
    chunk = SendDestinationChunk("S0000000001", "222038", 1, True, 2,
                                 (sample(), sample(resident_code="12345678912")))
    assert decode_chunk(encode_chunk(chunk)) == chunk
    with pytest.raises(BodyError) as err:
        decode_chunk(encode_chunk(SendDestinationChunk(
            "S0000000001", "222038", 1, True, 1, (sample(print_class="9"),))))
    assert err.value.code == "xsd_invalid"
    with pytest.raises(ValueError):
        encode_chunk(SendDestinationChunk("S0000000001", "222038", 1, False, None,
                                          (sample(),) * 301))
