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
