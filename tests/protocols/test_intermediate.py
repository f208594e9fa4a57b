from __future__ import annotations

import msgpack
import pytest

from protocols.errors import BodyError
from protocols.intermediate import CopyUpdate, decode_copy_update, encode_copy_update


def copy(**over: object) -> CopyUpdate:
    base = dict(integrated_atena="000000000000001", update_seq=5, previous_update_seq=None,
                municipality_code="222038", reason="move_in", event_date="2026-11-01",
                name="髙橋　花子", name_kana="タカハシ　ハナコ", birth_date="1990-04-01",
                sex="2", address="静岡県沼津市御幸町１６番１号", household_number="H00000001",
                relationship="世帯主", resident_type="japanese", removed=False)
    base.update(over)
    return CopyUpdate(**base)  # type: ignore[arg-type]


def test_round_trip() -> None:
    assert decode_copy_update(encode_copy_update(copy())) == copy()
    assert decode_copy_update(encode_copy_update(copy(previous_update_seq=4))).previous_update_seq == 4


@pytest.mark.parametrize("mutate", [
    lambda o: o.pop("name"),
    lambda o: o.update(extra=1),
    lambda o: o.update(update_seq="5"),
    lambda o: o.update(removed=0),
    lambda o: o.update(integrated_atena="12"),
    lambda o: o.update(birth_date="2026-02-30"),
    lambda o: o.update(kind="other"),
])
def test_schema_refusals(mutate) -> None:  # type: ignore[no-untyped-def]
    obj = msgpack.unpackb(encode_copy_update(copy()))
    mutate(obj)
    with pytest.raises(BodyError) as err:
        decode_copy_update(msgpack.packb(obj))
    assert err.value.code == "schema_invalid"


def test_garbage() -> None:
    with pytest.raises(BodyError) as err:
        decode_copy_update(b"\xc1")
    assert err.value.code == "undecodable"


def test_every_document_round_trips_and_each_stream_takes_only_its_own() -> None:
    from protocols.intermediate import (
        CodeIssued,
        CodeRequest,
        ManualAnswer,
        ManualAnswerRequest,
        ProvisionRecord,
        decode_from_intermediate,
        decode_to_intermediate,
        encode,
    )

    atena, city = "000000000000042", "222038"
    ours = [copy(), CodeRequest(atena, 7, city, "123456789018"),
            ManualAnswer("REQ-1", atena, city, "refused", "2026-11-27", {}),
            ManualAnswer("REQ-2", atena, city, "approved", "2026-11-27", {
                "name": "髙橋　花子", "name_kana": "タカハシ　ハナコ", "birth_date": "1990-04-01",
                "address": "静岡県沼津市御幸町"})]
    theirs = [CodeIssued(atena, 7, city, "P0000000001"),
              ManualAnswerRequest("REQ-1", atena, city, "INST-9", "別表第二 1", "住民票関係情報",
                                  ["name", "address"], "2026-11-27T10:00:00"),
              ProvisionRecord("REC-1", atena, city, "INST-9", "CITY-222038", "別表第二 1",
                              "住民票関係情報", "2026-11-27T10:00:01", "provided")]
    for doc in ours:
        assert decode_to_intermediate(encode(doc)) == doc
        with pytest.raises(BodyError):
            decode_from_intermediate(encode(doc))
    for doc in theirs:
        assert decode_from_intermediate(encode(doc)) == doc
        with pytest.raises(BodyError):
            decode_to_intermediate(encode(doc))
    obj = msgpack.unpackb(encode(ours[3]))
    obj["decision"] = "maybe"
    with pytest.raises(BodyError) as err:
        decode_to_intermediate(msgpack.packb(obj))
    assert err.value.code == "schema_invalid"
    # An answer's items are answer items of their form; a request asks for one to seven.
    for items in ({"income": "1"}, {"sex": "9"}, {"name": 1}):
        obj = msgpack.unpackb(encode(ours[3]))
        obj["items"] = items
        with pytest.raises(BodyError):
            decode_to_intermediate(msgpack.packb(obj))
    for asked in ([], ["name", "name"], ["income"], ["name"] * 8, "name"):
        obj = msgpack.unpackb(encode(theirs[1]))
        obj["items"] = asked
        with pytest.raises(BodyError):
            decode_from_intermediate(msgpack.packb(obj))
