"""The peer's stream and the pending queries, sans-IO: plain calls, no I/O."""

from __future__ import annotations

from actors.inbound_stream import InboundStream, Push
from actors.queries import PendingQueries


def test_new_pushes_in_order_resends_and_gaps() -> None:
    stream = InboundStream(applied=0)
    assert stream.connected() == 0
    assert stream.frame(1) is Push.NEW
    assert stream.frame(3) is Push.GAP  # 2 is missing: wait for the peer to go back
    assert stream.frame(2) is Push.NEW
    assert stream.frame(1) is Push.GAP  # not yet recorded: neither new nor a resend
    stream.recorded(1)
    assert stream.frame(1) is Push.DUPLICATE  # recorded: acknowledge it again
    stream.recorded(2)
    assert stream.applied == 2


def test_a_reconnect_waits_for_what_follows_what_was_recorded() -> None:
    stream = InboundStream(applied=4)
    assert stream.connected() == 4  # said in our hello
    assert stream.frame(5) is Push.NEW
    assert stream.frame(6) is Push.NEW
    stream.recorded(5)  # 6 was lost with the connection before its record
    assert stream.connected() == 5
    assert stream.frame(6) is Push.NEW  # sent again by the peer: new again
    stream.recorded(6)
    stream.recorded(3)  # an old record never moves it back
    assert stream.applied == 6


def test_queries_are_answered_once_expired_or_dropped() -> None:
    got: list[tuple[bytes | None, str | None]] = []

    def reply(body: bytes | None, code: str | None) -> None:
        got.append((body, code))

    queries = PendingQueries()
    first, second, third = (queries.add(reply, now) for now in (1.0, 2.0, 3.0))
    assert len({first, second, third}) == 3
    answered = queries.answered(first)
    assert answered is not None and answered[1] == 1.0
    assert queries.answered(first) is None  # a late second answer finds nothing
    assert queries.expired(second) is reply
    assert queries.expired(second) is None
    assert queries.drop_all() == [reply]  # the third, when the connection goes
    assert queries.drop_all() == []
