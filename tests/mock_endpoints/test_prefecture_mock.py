"""The mock prefecture's rules, fed session events directly (no sockets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_endpoints import PrefectureMock
from protocols.identity import IdentityUpdate, encode_identity_update
from protocols.session import DataFrame, Withdrawn
from tests.protocols.test_identity import record


def body(code: str, upd: int, prev: int | None, **over: object) -> bytes:
    return encode_identity_update(IdentityUpdate(record(resident_code=code, update_seq=upd,
                                                        **over), prev))


def mock(tmp_path: Path) -> PrefectureMock:
    return PrefectureMock("222038", tmp_path / "m.db", "hub.jukihub.test")


A, B = "12345678903", "00000000000"


def test_applies_in_order_and_never_twice(tmp_path: Path) -> None:
    m = mock(tmp_path)
    refused, drop = m.process([DataFrame(1, "", body(A, 1, None)),
                               DataFrame(2, "", body(B, 2, None)),
                               DataFrame(3, "", body(A, 3, 1))])
    assert refused is None and not drop and m.applied == 3
    m.process([DataFrame(2, "", body(B, 2, None)), DataFrame(3, "", body(A, 3, 1))])
    assert m.applied == 3
    rows = m.db.execute("SELECT seq, resident_code, update_seq FROM applied_log").fetchall()
    assert rows == [(1, A, 1), (2, B, 2), (3, A, 3)]


def test_out_of_order_is_a_temporary_refusal_and_later_frames_wait(tmp_path: Path) -> None:
    m = mock(tmp_path)
    m.process([DataFrame(1, "", body(A, 1, None))])
    refused, _ = m.process([DataFrame(2, "", body(A, 5, 4)),  # the update before 5 is missing
                            DataFrame(3, "", body(B, 6, None))])
    assert refused is not None
    seq, refusal = refused
    assert (seq, refusal.permanent, refusal.code) == (2, False, "out_of_order")
    assert m.applied == 1  # 3 was discarded, not applied past the gap


def test_malformed_and_foreign_bodies_are_permanent_refusals(tmp_path: Path) -> None:
    m = mock(tmp_path)
    refused, _ = m.process([DataFrame(1, "", b"<IdentityUpdate>")])
    assert refused is not None and refused[1].permanent and refused[1].code == "xml_syntax"
    m.process([Withdrawn(1)])
    assert m.applied == 1
    other = body(A, 2, None, municipality_code="131016")
    refused, _ = m.process([DataFrame(2, "", other)])
    assert refused is not None and refused[1].code == "wrong_municipality"


def test_state_survives_a_restart(tmp_path: Path) -> None:
    m = mock(tmp_path)
    m.process([DataFrame(1, "", body(A, 1, None))])
    m.db.close()
    again = mock(tmp_path)
    assert again.applied == 1
    assert again.process([DataFrame(2, "", body(A, 2, 1))])[0] is None


def test_injected_faults(tmp_path: Path) -> None:
    m = mock(tmp_path)
    m.faults["refuse"] = {"kind": "permanent", "count": 1, "code": "injected"}
    refused, _ = m.process([DataFrame(1, "", body(A, 1, None))])
    assert refused is not None and refused[1].permanent and m.applied == 0
    m.faults["drop_after"] = 1
    refused, drop = m.process([DataFrame(1, "", body(A, 1, None)),
                               DataFrame(2, "", body(B, 2, None))])
    assert refused is None and drop and m.applied == 1


def test_record_fields_are_kept(tmp_path: Path) -> None:
    m = mock(tmp_path)
    m.process([DataFrame(1, "", body(A, 1, None))])
    held = m.db.execute("SELECT record FROM identities WHERE resident_code=?", (A,)).fetchone()
    assert "タカハシ" in held[0]


def test_a_seed_is_held_outside_the_stream_and_a_refused_one_keeps_nothing(
        tmp_path: Path) -> None:
    m = mock(tmp_path)
    with pytest.raises(ValueError, match="document 1 refused: out_of_order"):
        m.seed([body(A, 7, None), body(B, 9, 8)])  # B's previous is not held
    assert m.db.execute("SELECT count(*) FROM identities").fetchone() == (0,)
    assert m.seed([body(A, 7, None), body(B, 9, None)]) == 2
    assert m.db.execute("SELECT count(*) FROM applied_log").fetchone() == (0,)
    # The stream chains on from what was seeded.
    refused, _ = m.process([DataFrame(1, "", body(A, 10, 7))])
    assert refused is None and m.applied == 1
