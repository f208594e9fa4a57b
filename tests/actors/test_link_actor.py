"""The link actor with a fake reactor: injected clock, no sockets, no sleeps.

The test thread plays the reactor: everything the actor hands over with
``call_in_reactor`` lands in a queue that the test drains, exactly as the real
reactor would run it.  ``ask(GetStatus())`` is the barrier that says the actor has
handled everything told before it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import queue
import time
from typing import Any

import pykka
import pytest
from sqlalchemy import select
from twisted.internet.testing import MemoryReactorClock

from actors.link import ACK_RECORD_INTERVAL, LinkActor
from actors.messages import (
    BytesIn,
    Connected,
    ConnectFailed,
    GetStatus,
    Lease,
    OutboxAppended,
    Subscribe,
)
from actors.store_writer import StoreWriter
from devtools.synthetic import Synth
from hub.config import LinkConfig
from hub.domain.changes import parse_change
from hub.domain.register import Register
from hub.store import Store
from hub.store.engine import make_engine, migrate
from hub.store.tables import dead_letters, link_state, outbox
from protocols.session import DataFrame, Role, Session, Withdrawn
from tests.actors.helpers import claim_lease

TODAY = dt.date(2026, 11, 27)
M = "222038"

LINK = LinkConfig(name="prefecture", enabled=True, host="127.0.0.1", port=1,
                  peer_name="prefecture.jukihub.test", window=4, max_frame_bytes=1 << 20,
                  heartbeat_interval=5.0, heartbeat_timeout=15.0, connect_timeout=10.0,
                  backoff_initial=1.0, backoff_max=8.0, backoff_multiplier=2.0,
                  max_attempts=3, memory_queue=100)


class FakeTransport:
    def __init__(self) -> None:
        self.connects: list[int] = []
        self.sent: list[tuple[int, bytes]] = []
        self.closed: list[int] = []

    def attach(self, actor: Any) -> None:
        self.actor = actor

    def connect(self, conn_id: int) -> None:
        self.connects.append(conn_id)

    def send(self, conn_id: int, data: bytes, until: float | None = None) -> None:
        self.sent.append((conn_id, data))

    def close(self, conn_id: int) -> None:
        self.closed.append(conn_id)


class Rig:
    def __init__(self, url: str, link: LinkConfig = LINK, claim: bool = True) -> None:
        migrate(url)
        self.store = Store(make_engine(url))
        self.engine = self.store.engine
        self.register = Register(self.store, M, frozenset({"prefecture"}), lambda: 1e9)
        self.writer = StoreWriter.start(self.store, self.register)
        # The link's lease, granted in ``start`` (a second hub's rig claims none).
        self.token = claim_lease(self.writer, "prefecture") if claim else 0
        self.calls: queue.Queue[tuple[Any, tuple[Any, ...]]] = queue.Queue()
        self.clock = MemoryReactorClock()
        self.transport = FakeTransport()
        self.synth = Synth(seed=11, today=TODAY)
        self.link = link
        self.actor: Any = None

    def start(self, lease_clock: Any = time.monotonic, until: float | None = None,
              poll_every: float = 0.0) -> None:
        self.actor = LinkActor.start(self.link, M, self.store, self.writer, self.transport,
                                     clock=self.clock,
                                     call_in_reactor=lambda f, *a: self.calls.put((f, a)),
                                     wall_clock=lambda: 1e9, lease_clock=lease_clock,
                                     poll_every=poll_every)
        self.writer.tell(Subscribe("prefecture", self.actor))
        if self.token:
            self.actor.tell(Lease(self.token, lease_clock() + 3600 if until is None
                                  else until))
        self.settle()

    def settle(self) -> dict[str, Any]:
        """Barrier on the actor and the writer, then run what they handed the 'reactor'."""
        self.actor.ask(GetStatus(), timeout=10)
        self.writer.ask(GetStatus(), timeout=10)
        status = self.actor.ask(GetStatus(), timeout=10)
        while not self.calls.empty():
            f, a = self.calls.get()
            f(*a)
        return status

    def commit(self, changes: list[dict[str, Any]]) -> list[Any]:
        outcomes = self.register.apply_batch([parse_change(c, TODAY) for c in changes])
        items = tuple(i for o in outcomes for i in o.outbox)
        if self.actor is not None:
            self.actor.tell(OutboxAppended(items))
        return outcomes

    def connect(self, applied: int) -> Session:
        """Complete the current connection attempt with a peer that has ``applied``."""
        conn = self.transport.connects[-1]
        self.actor.tell(Connected(conn))
        self.settle()
        peer = Session(Role.RECEIVER, M, "prefecture")
        _, hello = self.transport.sent[-1]
        peer.receive_data(hello)
        self.transport.sent.clear()
        self.actor.tell(BytesIn(conn, peer.hello(applied=applied)))
        self.settle()
        return peer

    def peer_events(self, peer: Session) -> list[Any]:
        data = b"".join(d for _, d in self.transport.sent)
        self.transport.sent.clear()
        return [e for e in peer.receive_data(data) if isinstance(e, DataFrame | Withdrawn)]

    def timer(self, name: str) -> Any:
        """The pending reactor call of the actor's timer ``name``."""
        [call] = [c for c in self.clock.getDelayedCalls() if c.args[-1].name == name]
        return call

    def fire(self, name: str) -> float:
        """Advance the clock to the timer ``name`` and let it fire; its delay."""
        delay: float = self.timer(name).getTime() - self.clock.seconds()
        self.clock.advance(delay)
        self.settle()
        return delay

    def record_acks(self) -> None:
        """Let the timer that records the peer's acknowledgement in the store fire."""
        self.clock.advance(ACK_RECORD_INTERVAL)
        self.settle()
        self.writer.ask(GetStatus(), timeout=10)

    def reply(self, data: bytes) -> None:
        self.actor.tell(BytesIn(self.transport.connects[-1], data))
        self.settle()

    def stop(self) -> None:
        pykka.ActorRegistry.stop_all()
        self.engine.dispose()


@pytest.fixture
def rig(store_url: str) -> Any:
    r = Rig(store_url)
    yield r
    r.stop()


def seqs(events: list[Any]) -> list[tuple[str, int]]:
    return [(type(e).__name__, e.seq) for e in events]


def test_reconnects_with_growing_jittered_backoff(rig: Rig) -> None:
    rig.start()
    assert rig.transport.connects == [1]
    for attempt, nominal in enumerate([1.0, 2.0, 4.0, 8.0, 8.0], start=1):
        rig.actor.tell(ConnectFailed(attempt, "connect"))
        rig.settle()
        delay = rig.fire("reconnect")
        assert nominal / 2 <= delay <= nominal
        assert rig.transport.connects[-1] == attempt + 1



def test_a_timer_that_fires_after_the_actor_stopped_is_dropped(rig: Rig) -> None:
    rig.start()
    rig.actor.tell(ConnectFailed(1, "connect"))
    rig.settle()
    call = rig.timer("reconnect")
    rig.actor.stop()
    call.func(*call.args, **call.kw)  # what the reactor does at expiry: no ActorDeadError
    assert not rig.actor.is_alive()

def test_window_pipelines_and_cumulative_ack_advances(rig: Rig) -> None:
    rig.commit(list(rig.synth.stream(10)))
    rig.start()
    peer = rig.connect(applied=0)
    assert seqs(rig.peer_events(peer)) == [("DataFrame", s) for s in (1, 2, 3, 4)]
    rig.reply(peer.ack(3))
    assert seqs(rig.peer_events(peer)) == [("DataFrame", s) for s in (5, 6, 7)]
    status = rig.settle()
    assert status["acked"] == 3 and status["sent_upto"] == 7


def test_resume_after_reconnect_from_peer_applied(rig: Rig) -> None:
    rig.commit(list(rig.synth.stream(6)))
    rig.start()
    peer = rig.connect(applied=0)
    rig.peer_events(peer)
    rig.actor.tell(ConnectFailed(rig.transport.connects[-1], "handshake"))
    rig.settle()
    rig.clock.advance(10)
    rig.settle()
    peer = rig.connect(applied=2)  # the peer applied 1 and 2 before the break
    assert seqs(rig.peer_events(peer)) == [("DataFrame", s) for s in (3, 4, 5, 6)]
    rig.record_acks()
    with rig.engine.connect() as c:
        assert c.scalar(select(link_state.c.acked_seq)) == 2


def test_temporary_refusal_goes_back_after_backoff(rig: Rig) -> None:
    rig.commit(list(rig.synth.stream(5)))
    rig.start()
    peer = rig.connect(applied=0)
    rig.peer_events(peer)
    rig.reply(peer.ack(1) + peer.refuse(2, permanent=False, code="busy"))
    assert rig.peer_events(peer) == []  # nothing until the retry timer
    rig.fire("retry")
    assert seqs(rig.peer_events(peer)) == [("DataFrame", s) for s in (2, 3, 4, 5)]


def test_permanent_refusal_dead_letters_and_holds_only_that_resident(rig: Rig) -> None:
    synth = rig.synth
    a, b = synth.arrival(), synth.arrival()
    person_a = synth.people[-2]
    move_a = synth.change("move_within", person_a)
    c = synth.arrival()
    rig.commit([a, b, move_a, c])  # seqs: 1 a, 2 b, 3 a again, 4 c
    rig.start()
    peer = rig.connect(applied=0)
    rig.peer_events(peer)
    rig.reply(peer.refuse(1, permanent=True, code="xsd_invalid"))
    # After the dead letter is committed: 1 withdrawn, 2 sent, 3 (same resident) withdrawn
    # and held, 4 sent.
    rig.settle()
    events = rig.peer_events(peer)
    assert seqs(events) == [("Withdrawn", 1), ("DataFrame", 2), ("Withdrawn", 3),
                            ("DataFrame", 4)]
    rig.reply(peer.ack(4))
    rig.record_acks()
    with rig.engine.connect() as conn:
        [dl] = conn.execute(select(dead_letters)).all()
        assert (dl.seq, dl.code, dl.resident_key) == (1, "xsd_invalid", person_a.code)
        states = dict(conn.execute(select(outbox.c.seq, outbox.c.state)).all())
        assert states == {1: "dead", 2: "pending", 3: "held", 4: "pending"}
        assert conn.scalar(select(link_state.c.acked_seq)) == 4


def test_too_many_temporary_refusals_become_a_dead_letter(rig: Rig) -> None:
    rig.commit(list(rig.synth.stream(2)))
    rig.start()
    peer = rig.connect(applied=0)
    rig.peer_events(peer)
    for _ in range(LINK.max_attempts - 1):
        rig.reply(peer.refuse(1, permanent=False, code="busy"))
        rig.fire("retry")
        assert seqs(rig.peer_events(peer))[0] == ("DataFrame", 1)
    rig.reply(peer.refuse(1, permanent=False, code="busy"))
    rig.settle()
    assert seqs(rig.peer_events(peer))[0] == ("Withdrawn", 1)


def test_silent_peer_is_dropped_after_heartbeat_timeout(rig: Rig) -> None:
    rig.start()
    rig.connect(applied=0)
    rig.clock.advance(LINK.heartbeat_interval)  # idle: a heartbeat goes out
    rig.settle()
    assert rig.transport.sent and rig.transport.closed == []
    rig.clock.advance(LINK.heartbeat_timeout)  # and nothing ever comes back
    rig.settle()
    assert rig.transport.closed == [1]
    assert rig.settle()["state"] == "backoff"


def test_oversize_frame_closes_the_connection_not_the_process(rig: Rig) -> None:
    rig.start()
    rig.connect(applied=0)
    rig.reply((LINK.max_frame_bytes + 1).to_bytes(4, "big"))  # a header announcing too much
    assert rig.transport.closed == [1]
    assert rig.settle()["state"] == "backoff"
    rig.clock.advance(LINK.backoff_max)
    rig.settle()
    assert rig.transport.connects[-1] == 2  # and it connects again


def test_a_peer_ahead_of_our_outbox_gets_nothing(rig: Rig) -> None:
    rig.commit(list(rig.synth.stream(3)))
    rig.start()
    rig.connect(applied=7)  # the peer has applied sequences this hub never issued
    assert rig.transport.closed == [1] and rig.transport.sent == []
    assert rig.settle()["state"] == "stopped"  # for good: an operator realigns it
    rig.clock.advance(LINK.backoff_max * 2)
    rig.settle()
    assert rig.transport.connects == [1]  # never connects again by itself


def test_bounded_memory_reads_the_rest_from_the_store(store_url: str) -> None:
    r = Rig(store_url, dataclasses.replace(LINK, memory_queue=5, window=3))
    try:
        r.commit(list(r.synth.stream(12)))
        r.start()
        assert r.settle()["in_memory"] == 5
        peer = r.connect(applied=0)
        got = seqs(r.peer_events(peer))
        for _ in range(12):
            if got[-1][1] == 12:
                break
            r.reply(peer.ack(got[-1][1]))  # acknowledge all received so far
            got += seqs(r.peer_events(peer))
            assert r.settle()["in_memory"] <= 5
        assert got == [("DataFrame", s) for s in range(1, 13)]
    finally:
        r.stop()


def test_memory_and_frames_in_flight_are_bounded_by_bytes_too(store_url: str) -> None:
    """Identity updates are ~2 KB; with a budget of three of them in memory and two in
    flight, the actor holds and sends no more, whatever the count limits allow."""
    r = Rig(store_url, dataclasses.replace(LINK, memory_queue=100, window=50))
    try:
        r.commit(list(r.synth.stream(12)))
        with r.engine.connect() as c:
            sizes = [len(p) for p in c.scalars(select(outbox.c.payload).order_by(outbox.c.seq))]
        r.link = dataclasses.replace(r.link, memory_bytes=sum(sizes[:3]),
                                     window_bytes=sum(sizes[:2]))
        r.start()
        status = r.settle()
        assert status["in_memory"] == 3 and status["in_memory_bytes"] <= sum(sizes[:3])
        peer = r.connect(applied=0)
        got = seqs(r.peer_events(peer))
        assert got == [("DataFrame", 1), ("DataFrame", 2)]  # the window in bytes
        while got[-1][1] < 12:
            r.reply(peer.ack(got[-1][1]))
            more = seqs(r.peer_events(peer))
            assert 1 <= len(more) <= 2
            got += more
            assert r.settle()["in_memory_bytes"] <= max(sizes) * 3
        assert got == [("DataFrame", s) for s in range(1, 13)]
    finally:
        r.stop()


def test_inbox_records_once_and_purges_after_retention(store_url: str) -> None:
    from actors.messages import AckInbox, PurgeInbox, RecordInbound
    from hub.store.tables import inbox

    now = [1000.0]
    url = store_url
    migrate(url)
    store = Store(make_engine(url))
    engine = store.engine
    register = Register(store, M, frozenset({"moj"}), lambda: now[0])
    writer = StoreWriter.start(store, register, wall_clock=lambda: now[0])
    try:
        token = claim_lease(writer, "moj")
        for seq in (1, 1, 2):  # a resend of 1 after a reconnect is recorded once
            writer.tell(RecordInbound("moj", seq, "moj.residence_change", b"<x/>", None,
                                      reply=lambda _code: None, token=token))
        verdicts: list[str] = []
        writer.tell(AckInbox(1, "op001", "t01", reply=verdicts.append))
        writer.tell(AckInbox(1, "op001", "t01", reply=verdicts.append))
        writer.ask(GetStatus(), timeout=10)
        assert verdicts == ["acknowledged", "already"]
        with engine.connect() as c:
            assert c.scalar(select(link_state.c.inbound_applied)) == 2
        writer.tell(PurgeInbox(before=now[0] - 1, limit=10))  # not yet past retention
        writer.ask(GetStatus(), timeout=10)
        with engine.connect() as c:  # (PostgreSQL's ids skip the resend's: by peer_seq)
            assert sorted(c.scalars(select(inbox.c.peer_seq)).all()) == [1, 2]
        writer.tell(PurgeInbox(before=now[0] + 1, limit=10))
        writer.ask(GetStatus(), timeout=10)
        with engine.connect() as c:  # the unacknowledged stays
            assert c.scalars(select(inbox.c.peer_seq)).all() == [2]
    finally:
        pykka.ActorRegistry.stop_all()
        engine.dispose()


def test_delivered_messages_are_purged_after_retention_and_no_others(store_url: str) -> None:
    from actors.messages import HoldMessages, PurgeDelivered, RecordAck

    r = Rig(store_url)
    try:
        r.commit(list(r.synth.stream(10)))  # enqueued at 1e9
        r.writer.tell(RecordAck("prefecture", 6, r.token))  # the peer has 1..6
        r.writer.ask(GetStatus(), timeout=10)  # acks are written at the end of a commit
        r.writer.tell(HoldMessages("prefecture", (2,), reply=lambda: None,  # never sent
                                   token=r.token))
        r.writer.tell(PurgeDelivered(before=1e9, limit=100))  # not older than that
        r.writer.ask(GetStatus(), timeout=10)
        with r.engine.connect() as c:
            assert len(c.scalars(select(outbox.c.seq)).all()) == 10
        r.writer.tell(PurgeDelivered(before=1e9 + 1, limit=3))  # 500 at a time in the hub
        r.writer.tell(PurgeDelivered(before=1e9 + 1, limit=3))
        r.writer.ask(GetStatus(), timeout=10)
        with r.engine.connect() as c:
            assert c.scalars(select(outbox.c.seq).order_by(outbox.c.seq)).all() == [
                2, 7, 8, 9, 10]  # the held one, and what the peer has not acknowledged
    finally:
        r.stop()


def test_a_peer_behind_what_was_purged_gets_nothing(store_url: str) -> None:
    from actors.messages import PurgeDelivered, RecordAck

    r = Rig(store_url)
    try:
        r.commit(list(r.synth.stream(5)))
        r.writer.tell(RecordAck("prefecture", 5, r.token))
        r.writer.ask(GetStatus(), timeout=10)  # acks are written at the end of a commit
        r.writer.tell(PurgeDelivered(before=1e9 + 1, limit=100))
        r.writer.ask(GetStatus(), timeout=10)
        r.start()
        r.connect(applied=2)  # restored from an old backup: 3..5 are gone from here
        status = r.settle()
        assert status["state"] == "stopped" and r.transport.closed == [1]
        assert [f for f in r.transport.sent if f[0] == 1] == []  # nothing was sent
    finally:
        r.stop()


def test_a_link_whose_lease_runs_out_sends_nothing_more_until_granted_again(
        store_url: str) -> None:
    """The fence on the sending side: past its lease's deadline (no renewal came — a hub
    cut off from the store) the actor hands the reactor no byte more, closes the
    connection and stands by; granted again, it reads the link's state afresh and
    goes on from what the peer applied.  Told another hub owns the link, it stops."""
    lease_now = [1000.0]
    r = Rig(store_url)
    try:
        r.start(lease_clock=lambda: lease_now[0], until=1010.0)
        peer = r.connect(applied=0)
        r.commit(list(r.synth.stream(2)))
        r.settle()
        assert [e.seq for e in r.peer_events(peer)] == [1, 2]
        r.reply(peer.ack(2))
        lease_now[0] = 1010.5  # past the deadline: no renewal came
        r.commit(list(r.synth.stream(2)))
        status = r.settle()
        assert r.peer_events(peer) == [] and status["state"] == "standby"
        assert r.transport.closed[-1] == r.transport.connects[-1]
        r.actor.tell(Lease(r.token, 1100.0))  # renewed (the store answered again)
        status = r.settle()
        assert status["state"] == "connecting" and len(r.transport.connects) == 2
        peer = r.connect(applied=2)
        assert [e.seq for e in r.peer_events(peer)] == [3, 4]
        r.actor.tell(Lease(None))  # the other hub holds it now
        status = r.settle()
        assert status["state"] == "standby" and len(r.transport.closed) == 2
        r.commit(list(r.synth.stream(1)))
        r.settle()
        assert r.peer_events(peer) == [] and len(r.transport.connects) == 2
        r.settle()
    finally:
        r.stop()


def test_records_of_a_link_under_an_old_token_are_not_written(store_url: str) -> None:
    """The fence on the store's side: once another run of a hub has taken the link
    (a new token), what the old owner's actor still tells the writer is dropped."""
    from actors.messages import RecordAck

    r = Rig(store_url)
    try:
        r.commit(list(r.synth.stream(6)))
        old = r.token
        new = claim_lease(r.writer, "prefecture", instance="another-run")
        assert new == old + 1
        r.writer.tell(RecordAck("prefecture", 5, old))  # the old owner's, too late
        r.writer.ask(GetStatus(), timeout=10)
        with r.engine.connect() as c:
            assert c.scalar(select(link_state.c.acked_seq)) == 0
        r.writer.tell(RecordAck("prefecture", 3, new))
        r.writer.ask(GetStatus(), timeout=10)
        with r.engine.connect() as c:
            assert c.scalar(select(link_state.c.acked_seq)) == 3
    finally:
        r.stop()


def test_the_reactor_drops_bytes_whose_lease_ran_out_on_their_way_to_it() -> None:
    """The last check is at the socket: bytes handed over before the deadline but
    written after it are dropped with the connection."""
    import types

    from hub.net.link_client import LinkTransport

    class Socket:
        def __init__(self) -> None:
            self.written: list[bytes] = []
            self.aborted = 0

        def write(self, data: bytes) -> None:
            self.written.append(data)

        def abortConnection(self) -> None:  # noqa: N802 (Twisted's name)
            self.aborted += 1

    transport = LinkTransport(None, "prefecture", "127.0.0.1", 1, None, 1.0)
    sock = Socket()
    transport.protocol = types.SimpleNamespace(conn_id=1, transport=sock)  # type: ignore[assignment]
    transport.send(1, b"in time", time.monotonic() + 60)
    transport.send(1, b"too late", time.monotonic() - 0.001)
    assert sock.written == [b"in time"] and sock.aborted == 1


def test_a_query_asked_of_the_hub_without_the_link_is_relayed_to_its_owner(
        store_url: str) -> None:
    """Two hubs' link actors on one store: the one without the link writes the query
    through its writer; the owner finds it on its poll, asks the peer, records the
    answer; the asker reads it and its caller has the peer's answer.  A query the owner
    never answers ends in the asker's own timeout."""
    from actors.messages import SendQuery
    from protocols.session import Request

    owner, asker = Rig(store_url), Rig(store_url, claim=False)
    try:
        owner.start(poll_every=0.2)
        peer = owner.connect(applied=0)
        asker.start(poll_every=0.2)
        assert asker.settle()["state"] == "standby"
        answers: list[tuple[bytes | None, str | None]] = []
        asker.actor.tell(SendQuery(b"<query/>", reply=lambda b, c: answers.append((b, c))))
        asker.settle()
        asker.writer.ask(GetStatus(), timeout=10)
        asker.settle()  # the row is written: the asker waits for its answer
        owner.fire("poll")
        data = b"".join(d for _, d in owner.transport.sent)
        owner.transport.sent.clear()
        [request] = [e for e in peer.receive_data(data) if isinstance(e, Request)]
        assert request.body == b"<query/>"
        owner.reply(peer.respond(request.corr, b"<answer/>"))
        owner.writer.ask(GetStatus(), timeout=10)  # the answer is written
        asker.fire("relay_answers")
        assert answers == [(b"<answer/>", None)]
        with asker.engine.connect() as c:  # read, then forgotten
            asker.writer.ask(GetStatus(), timeout=10)
            assert c.exec_driver_sql("SELECT count(*) FROM link_queries").scalar() == 0

        asker.actor.tell(SendQuery(b"<lost/>", reply=lambda b, c: answers.append((b, c))))
        asker.settle()
        asker.writer.ask(GetStatus(), timeout=10)
        asker.settle()
        expiries = {c.args[-1].name for c in asker.clock.getDelayedCalls()
                    if c.args[-1].name.startswith("relay:")}
        assert expiries == {"relay:1", "relay:2"}  # ids never reused, not even on SQLite
        asker.fire("relay:2")  # nobody answered in the link's query_timeout
        assert answers[-1] == (None, "query_timeout")
    finally:
        owner.stop()
        asker.engine.dispose()
