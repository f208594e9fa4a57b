from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.envelope import Envelope, Kind, encode_envelope
from protocols.errors import LocalProtocolError, RemoteProtocolError
from protocols.framing import encode_frame
from protocols.session import (
    Acked,
    DataFrame,
    Heartbeat,
    PeerHello,
    Refused,
    Request,
    Response,
    Role,
    Session,
    State,
    Withdrawn,
)

M, L = "222038", "prefecture"


def pair() -> tuple[Session, Session]:
    """A sender and a receiver that have exchanged hellos; receiver applied 7."""
    s, r = Session(Role.SENDER, M, L), Session(Role.RECEIVER, M, L)
    assert r.receive_data(s.hello()) == [PeerHello(M, L, 0)]
    assert s.receive_data(r.hello(applied=7)) == [PeerHello(M, L, 7)]
    assert s.state is State.READY and r.state is State.READY
    return s, r


def test_data_ack_refuse_withdraw_heartbeat_round_trip() -> None:
    s, r = pair()
    wire = s.data(8, b"<x/>", corr="c1") + s.data(9, b"<y/>") + s.withdraw(9) + s.heartbeat()
    assert r.receive_data(wire) == [
        DataFrame(8, "c1", b"<x/>"), DataFrame(9, "", b"<y/>"), Withdrawn(9),
        Heartbeat(reply=False),
    ]
    back = r.ack(8) + r.refuse(9, permanent=True, code="xsd_invalid", reason="bad") + r.heartbeat(True)
    assert s.receive_data(back) == [
        Acked(8), Refused(9, True, "xsd_invalid", "bad"), Heartbeat(reply=True),
    ]


def test_one_byte_at_a_time_and_trailing_partial() -> None:
    s, r = pair()
    wire = s.data(8, b"a") + s.data(9, b"b")
    events = []
    for i in range(len(wire) - 2):
        events.extend(r.receive_data(wire[i : i + 1]))
    assert events == [DataFrame(8, "", b"a")]  # second frame still incomplete
    assert r.receive_data(wire[-2:]) == [DataFrame(9, "", b"b")]


def test_receiver_refuses_data_before_hello() -> None:
    r = Session(Role.RECEIVER, M, L)
    bogus = encode_frame(encode_envelope(Envelope(Kind.DATA, seq=1, body=b"x")))
    with pytest.raises(RemoteProtocolError) as err:
        r.receive_data(bogus)
    assert err.value.code == "unexpected_frame"
    assert r.state is State.CLOSED


def test_hello_for_another_link_is_refused() -> None:
    s = Session(Role.SENDER, M, "national")
    r = Session(Role.RECEIVER, M, L)
    with pytest.raises(RemoteProtocolError) as err:
        r.receive_data(s.hello())
    assert err.value.code == "hello_mismatch"


def test_undecodable_and_unknown_kind() -> None:
    _, r = pair()
    with pytest.raises(RemoteProtocolError) as err:
        r.receive_data(encode_frame(b"\xc1\xc1"))
    assert err.value.code == "undecodable_envelope"
    _, r = pair()
    with pytest.raises(RemoteProtocolError) as err:
        r.receive_data(encode_frame(msgpack.packb({"v": 1, "k": "nope"})))
    assert err.value.code == "unknown_kind"
    _, r = pair()
    with pytest.raises(RemoteProtocolError) as err:
        r.receive_data(encode_frame(msgpack.packb({"v": 9, "k": "data"})))
    assert err.value.code == "unsupported_version"


def test_misuse_is_a_local_error() -> None:
    s = Session(Role.SENDER, M, L)
    with pytest.raises(LocalProtocolError):
        s.data(1, b"x")  # not ready yet
    s, r = pair()
    with pytest.raises(LocalProtocolError):
        r.withdraw(1)  # only the sender withdraws
    with pytest.raises(LocalProtocolError):
        s.data(0, b"x")  # sequences start at 1


def test_the_receiver_pushes_on_its_own_stream() -> None:
    s, r = Session(Role.SENDER, M, L), Session(Role.RECEIVER, M, L)
    assert r.receive_data(s.hello(applied=4)) == [PeerHello(M, L, 4)]  # what the hub holds
    s.receive_data(r.hello(applied=0))
    assert s.receive_data(r.data(5, b"<push/>")) == [DataFrame(5, "", b"<push/>")]
    assert r.receive_data(s.ack(5) + s.refuse(6, True, "xsd_invalid")) == [
        Acked(5), Refused(6, True, "xsd_invalid", "")]


def test_queries_are_request_response_pairs_beside_the_streams() -> None:
    s, r = pair()
    wire = s.request("q1", b"<Query/>") + s.data(8, b"<x/>")
    assert r.receive_data(wire) == [Request("q1", b"<Query/>"), DataFrame(8, "", b"<x/>")]
    assert s.receive_data(r.respond("q1", b"<Answer/>") + r.ack(8)) == [
        Response("q1", b"<Answer/>"), Acked(8)]
    with pytest.raises(LocalProtocolError):
        r.request("q2", b"x")  # only the hub asks
    with pytest.raises(LocalProtocolError):
        s.request("", b"x")  # an answer could not be matched
    # A response sent to the receiver, or a request without an id, is the peer's error.
    s2, r2 = pair()
    with pytest.raises(RemoteProtocolError) as err:
        s2.receive_data(encode_frame(encode_envelope(Envelope(Kind.REQUEST, corr="x",
                                                              body=b"y"))))
    assert err.value.code == "unexpected_frame"
    with pytest.raises(RemoteProtocolError) as err:
        r2.receive_data(encode_frame(encode_envelope(Envelope(Kind.REQUEST, body=b"y"))))
    assert err.value.code == "bad_query"


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_garbage_never_raises_anything_but_a_protocol_error(data: bytes) -> None:
    for role in (Role.SENDER, Role.RECEIVER):
        s = Session(role, M, L, max_frame=64)
        try:
            s.receive_data(data)
        except RemoteProtocolError as err:
            assert err.code and s.state is State.CLOSED


@given(st.lists(st.tuples(st.integers(1, 10**9), st.binary(max_size=50)), max_size=10))
def test_data_frames_round_trip(frames: list[tuple[int, bytes]]) -> None:
    s, r = pair()
    wire = b"".join(s.data(seq, body) for seq, body in frames)
    assert r.receive_data(wire) == [DataFrame(seq, "", body) for seq, body in frames]
