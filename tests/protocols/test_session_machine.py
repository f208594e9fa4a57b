"""The link session as a state machine under hypothesis: a sender and a receiver call
any operation in any order — hellos, data, acknowledgements, refusals, withdrawals,
heartbeats, queries — and the bytes between them arrive cut anywhere.  A model says what
each side must see: every frame allowed in the receiving side's state arrives as its
event, in order, exactly once; a frame not allowed there closes that side with
``RemoteProtocolError``; an operation its own side may not do now is a
``LocalProtocolError`` that sends nothing and changes nothing."""

from __future__ import annotations

from collections import deque
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from protocols.envelope import Kind
from protocols.errors import LocalProtocolError, RemoteProtocolError
from protocols.session import (
    Acked,
    DataFrame,
    Event,
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
# The model's own table of what each side takes in each state, from the protocol as
# ``protocols.session``'s docstring draws it (not the module's table: a model copied
# from the code could not find the code wrong).  The sender waits for the receiver's
# hello (and may hear heartbeats meanwhile); the receiver first needs the sender's hello.
TAKES: dict[tuple[Role, State], frozenset[Kind]] = {
    (Role.SENDER, State.AWAIT_HELLO): frozenset({Kind.HELLO, Kind.HEARTBEAT}),
    (Role.SENDER, State.READY): frozenset({Kind.ACK, Kind.REFUSE, Kind.HEARTBEAT,
                                           Kind.DATA, Kind.RESPONSE}),  # DATA: the peer's pushes
    (Role.RECEIVER, State.AWAIT_HELLO): frozenset({Kind.HELLO}),
    (Role.RECEIVER, State.READY): frozenset({Kind.DATA, Kind.WITHDRAW, Kind.HEARTBEAT,
                                             Kind.ACK, Kind.REFUSE, Kind.REQUEST}),
}
SIDES = st.sampled_from(["sender", "receiver"])
SEQS = st.integers(min_value=-2, max_value=2**40)
BODIES = st.binary(max_size=80)
CORRS = st.text(alphabet="abc0123456789-", max_size=12)


class Wire:
    """Bytes on their way to one side, and the frames they are (kind, event) in order."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.frames: deque[tuple[int, Kind, Event]] = deque()  # (end offset, kind, event)
        self.delivered = 0  # bytes already handed over (offsets count from the start)


class LinkSessions(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.side = {"sender": Session(Role.SENDER, M, L),
                     "receiver": Session(Role.RECEIVER, M, L)}
        self.to = {"sender": Wire(), "receiver": Wire()}
        # The model of each side's state as its peer's frames reach it.
        self.model = {"sender": State.AWAIT_HELLO, "receiver": State.AWAIT_HELLO}
        self.closed = {"sender": False, "receiver": False}

    @staticmethod
    def other(side: str) -> str:
        return "receiver" if side == "sender" else "sender"

    def send(self, side: str, build: Any, kind: Kind, event: Event) -> None:
        """Call ``build`` on ``side``: a frame queued for the other side, or a local
        error that queues nothing and leaves the session as it was."""
        session = self.side[side]
        before = (session.state, session._hello_sent)
        try:
            frame = build(session)
        except LocalProtocolError:
            assert (session.state, session._hello_sent) == before
            return
        wire = self.to[self.other(side)]
        wire.data += frame
        wire.frames.append((wire.delivered + len(wire.data), kind, event))

    # ---- what each side may do -------------------------------------------------------

    @rule()
    def sender_hello(self) -> None:
        self.send("sender", lambda s: s.hello(), Kind.HELLO, PeerHello(M, L, 0))

    @rule(applied=st.integers(0, 2**40))
    def receiver_hello(self, applied: int) -> None:
        self.send("receiver", lambda s: s.hello(applied), Kind.HELLO, PeerHello(M, L, applied))

    @rule(side=SIDES, seq=SEQS, body=BODIES, corr=CORRS)
    def data(self, side: str, seq: int, body: bytes, corr: str) -> None:
        self.send(side, lambda s: s.data(seq, body, corr), Kind.DATA, DataFrame(seq, corr, body))

    @rule(side=SIDES, seq=SEQS)
    def ack(self, side: str, seq: int) -> None:
        self.send(side, lambda s: s.ack(seq), Kind.ACK, Acked(seq))

    @rule(side=SIDES, seq=SEQS, permanent=st.booleans(), code=CORRS,
          reason=st.text(max_size=250))
    def refuse(self, side: str, seq: int, permanent: bool, code: str, reason: str) -> None:
        self.send(side, lambda s: s.refuse(seq, permanent, code, reason), Kind.REFUSE,
                  Refused(seq, permanent, code, reason[:200]))

    @rule(side=SIDES, seq=SEQS)
    def withdraw(self, side: str, seq: int) -> None:
        self.send(side, lambda s: s.withdraw(seq), Kind.WITHDRAW, Withdrawn(seq))

    @rule(side=SIDES, reply=st.booleans())
    def heartbeat(self, side: str, reply: bool) -> None:
        self.send(side, lambda s: s.heartbeat(reply), Kind.HEARTBEAT, Heartbeat(reply))

    @rule(side=SIDES, corr=CORRS, body=BODIES)
    def request(self, side: str, corr: str, body: bytes) -> None:
        self.send(side, lambda s: s.request(corr, body), Kind.REQUEST, Request(corr, body))

    @rule(side=SIDES, corr=CORRS, body=BODIES)
    def respond(self, side: str, corr: str, body: bytes) -> None:
        self.send(side, lambda s: s.respond(corr, body), Kind.RESPONSE, Response(corr, body))

    # ---- the bytes arrive, cut anywhere ----------------------------------------------

    @precondition(lambda self: any(w.data for w in self.to.values()))
    @rule(side=SIDES, cut=st.integers(1, 400))
    def deliver(self, side: str, cut: int) -> None:
        wire, session = self.to[side], self.side[side]
        if not wire.data or self.closed[side]:
            return
        chunk = bytes(wire.data[:cut])
        del wire.data[:cut]
        wire.delivered += len(chunk)
        expected: list[Event] = []
        fails = False
        while wire.frames and wire.frames[0][0] <= wire.delivered:
            _, kind, event = wire.frames.popleft()
            if kind not in TAKES[(session.role, self.model[side])]:
                fails = True
                break
            expected.append(event)
            if kind is Kind.HELLO:
                self.model[side] = State.READY
        try:
            events = session.receive_data(chunk)
        except RemoteProtocolError:
            assert fails, "a frame allowed in this state was refused"
            assert session.state is State.CLOSED
            self.closed[side] = True
            return
        assert not fails, "a frame not allowed in this state was taken"
        assert events == expected

    @invariant()
    def states_agree_with_the_model(self) -> None:
        for name, session in self.side.items():
            if self.closed[name]:
                assert session.state is State.CLOSED
            else:
                assert session.state is self.model[name]


LinkSessions.TestCase.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_the_session_keeps_its_promises_under_any_calls_and_cuts = LinkSessions.TestCase
