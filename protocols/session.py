"""The link session, sans-IO: a state machine that turns bytes into events and back.

Both ends of every link run a ``Session``: the hub as the *sender*, the outside system
(or its mock) as the *receiver*.  The exchange is::

    sender                               receiver
      HELLO {municipality, link} ───────▶
      ◀──────── HELLO {municipality, link, applied}   (highest sequence it has applied)
      DATA seq=n body ─────────────────▶             (pipelined, a window of them)
      ◀──────────────────────── ACK seq=m            (cumulative: all ≤ m are done)
      ◀──────── REFUSE seq=n permanent?              (n is not applied; later ones are
                                                      discarded until n is settled)
      WITHDRAW seq=n ──────────────────▶             (n is settled without applying it)
      HEARTBEAT ◀────────────────────▶ HEARTBEAT
      REQUEST corr=c body ─────────────▶             (a query: not sequenced, not stored)
      ◀──────────────── RESPONSE corr=c body         (its answer, matched by ``corr``)

The receiver applies sequence numbers strictly in order, so after a refusal the sender
goes back to ``n``: it resends it (temporary refusal) or withdraws it (permanent
refusal, after recording a dead letter).  Which frames each side may receive in each
state is the table ``_ALLOWED`` below, not a chain of ifs.

The outside system has a stream of its own for what it pushes (ministry notices, …):
it sends DATA with its own sequence numbers, the hub acknowledges or refuses them, and
each hello carries what the sender of the hello has applied of the *other* side's
stream, so both streams resume after a reconnect.  An ACK or REFUSE always concerns
the stream of the side that receives it.

Queries (identity searches at the national server) are request/response pairs beside
the streams: the sender names each request with a correlation id, the receiver answers
with the same id, and the sender gives up after its own timeout.  Nothing about them is
durable: a query lost with its connection is answered "unavailable" and may be asked
again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocols.envelope import PROTOCOL_VERSION, Envelope, Kind, decode_envelope, encode_envelope
from protocols.errors import LocalProtocolError, RemoteProtocolError
from protocols.framing import DEFAULT_MAX_FRAME, FrameDecoder, encode_frame


class Role(enum.Enum):
    SENDER = "sender"
    RECEIVER = "receiver"


class State(enum.Enum):
    AWAIT_HELLO = "await_hello"  # sender: hello sent; receiver: waiting for it
    READY = "ready"
    CLOSED = "closed"


# ---- events handed to the user of the session ------------------------------------


@dataclass(frozen=True, slots=True)
class PeerHello:
    municipality: str
    link: str
    applied: int  # receiver's highest applied sequence (0 when the sender says hello)


@dataclass(frozen=True, slots=True)
class DataFrame:
    seq: int
    corr: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Acked:
    seq: int


@dataclass(frozen=True, slots=True)
class Refused:
    seq: int
    permanent: bool
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Withdrawn:
    seq: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    reply: bool  # True when this heartbeat answers one of ours


@dataclass(frozen=True, slots=True)
class Request:
    corr: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    corr: str
    body: bytes


Event = PeerHello | DataFrame | Acked | Refused | Withdrawn | Heartbeat | Request | Response

# (role, state) -> kinds that may arrive in that state.
_ALLOWED: dict[tuple[Role, State], frozenset[Kind]] = {
    (Role.SENDER, State.AWAIT_HELLO): frozenset({Kind.HELLO, Kind.HEARTBEAT}),
    (Role.SENDER, State.READY): frozenset({Kind.ACK, Kind.REFUSE, Kind.HEARTBEAT, Kind.DATA,
                                           Kind.RESPONSE}),
    (Role.RECEIVER, State.AWAIT_HELLO): frozenset({Kind.HELLO}),
    (Role.RECEIVER, State.READY): frozenset({Kind.DATA, Kind.WITHDRAW, Kind.HEARTBEAT,
                                             Kind.ACK, Kind.REFUSE, Kind.REQUEST}),
}


class Session:
    """One end of a link session.  Feed it bytes; it returns events and builds frames."""

    def __init__(
        self,
        role: Role,
        municipality: str,
        link: str,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.role = role
        self.municipality = municipality
        self.link = link
        self.max_frame = max_frame
        self.state = State.AWAIT_HELLO
        self._decoder = FrameDecoder(max_frame)
        self._hello_sent = False

    # ---- outgoing ----------------------------------------------------------------

    def _frame(self, env: Envelope) -> bytes:
        if self.state is State.CLOSED:
            raise LocalProtocolError("session_closed", "session is closed")
        return encode_frame(encode_envelope(env), self.max_frame)

    def hello(self, applied: int = 0) -> bytes:
        """The hello frame; a receiver states ``applied``, only after the peer's hello."""
        if self._hello_sent:
            raise LocalProtocolError("hello_twice", "hello already sent")
        if self.role is Role.RECEIVER and self.state is not State.READY:
            raise LocalProtocolError("hello_order", "receiver answers the sender's hello")
        self._hello_sent = True
        body = {"municipality": self.municipality, "link": self.link, "applied": applied}
        return self._frame(Envelope(Kind.HELLO, body=body))

    def data(self, seq: int, body: bytes, corr: str = "") -> bytes:
        """A data frame carrying transmission ``seq`` of this side's own stream."""
        self._require_ready()
        if seq <= 0:
            raise LocalProtocolError("bad_sequence", "sequence numbers start at 1")
        return self._frame(Envelope(Kind.DATA, seq=seq, corr=corr, body=body))

    def withdraw(self, seq: int) -> bytes:
        """Settle ``seq`` at the receiver without applying anything."""
        self._require(Role.SENDER)
        return self._frame(Envelope(Kind.WITHDRAW, seq=seq))

    def ack(self, seq: int) -> bytes:
        """Cumulative acknowledgement of the peer's stream: all up to ``seq`` settled."""
        self._require_ready()
        return self._frame(Envelope(Kind.ACK, seq=seq))

    def refuse(self, seq: int, permanent: bool, code: str, reason: str = "") -> bytes:
        """Refuse the peer's ``seq``; ``permanent`` tells the peer not to retry it."""
        self._require_ready()
        body = {"permanent": permanent, "code": code, "reason": reason[:200]}
        return self._frame(Envelope(Kind.REFUSE, seq=seq, body=body))

    def request(self, corr: str, body: bytes) -> bytes:
        """A query the receiver answers with a RESPONSE carrying the same ``corr``."""
        self._require(Role.SENDER)
        if not corr:
            raise LocalProtocolError("bad_correlation", "a request needs a correlation id")
        return self._frame(Envelope(Kind.REQUEST, corr=corr, body=body))

    def respond(self, corr: str, body: bytes) -> bytes:
        """The answer to the request ``corr``."""
        self._require(Role.RECEIVER)
        if not corr:  # the sender would take it for a broken frame and close the link
            raise LocalProtocolError("bad_correlation", "a response names its request")
        return self._frame(Envelope(Kind.RESPONSE, corr=corr, body=body))

    def heartbeat(self, reply: bool = False) -> bytes:
        return self._frame(Envelope(Kind.HEARTBEAT, body={"reply": reply}))

    def close(self) -> None:
        self.state = State.CLOSED

    def _require(self, role: Role) -> None:
        if self.role is not role:
            raise LocalProtocolError("wrong_role", f"only the {role.value} sends this")
        self._require_ready()

    def _require_ready(self) -> None:
        if self.state is not State.READY:
            raise LocalProtocolError("not_ready", f"session is {self.state.value}")

    # ---- incoming ----------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer; return the events they complete, in order.

        Raises ``RemoteProtocolError`` (and closes the session) on anything malformed.
        """
        if self.state is State.CLOSED:
            raise LocalProtocolError("session_closed", "session is closed")
        self._decoder.receive_data(data)
        events: list[Event] = []
        try:
            while (payload := self._decoder.next_frame()) is not None:
                events.append(self._handle(decode_envelope(payload)))
        except RemoteProtocolError:
            self.state = State.CLOSED
            raise
        return events

    def _handle(self, env: Envelope) -> Event:
        allowed = _ALLOWED.get((self.role, self.state), frozenset())
        if env.kind not in allowed:
            raise RemoteProtocolError("unexpected_frame", f"{env.kind.value} in {self.state.value}")
        body = env.body
        if env.kind is Kind.HELLO:
            return self._handle_hello(body)
        if env.kind is Kind.DATA:
            if not isinstance(body, bytes) or env.seq <= 0:
                raise RemoteProtocolError("bad_data", "data frame needs a sequence and bytes")
            return DataFrame(env.seq, env.corr, body)
        if env.kind is Kind.ACK:
            return Acked(env.seq)
        if env.kind is Kind.WITHDRAW:
            return Withdrawn(env.seq)
        if env.kind in (Kind.REQUEST, Kind.RESPONSE):
            if not isinstance(body, bytes) or not env.corr:
                raise RemoteProtocolError("bad_query", "a query frame needs an id and bytes")
            return (Request if env.kind is Kind.REQUEST else Response)(env.corr, body)
        if env.kind is Kind.REFUSE:
            if not isinstance(body, dict) or not isinstance(body.get("permanent"), bool):
                raise RemoteProtocolError("bad_refusal", "refusal needs a permanent flag")
            return Refused(env.seq, body["permanent"], str(body.get("code", "")),
                           str(body.get("reason", "")))
        # Kind.HEARTBEAT
        return Heartbeat(reply=bool(isinstance(body, dict) and body.get("reply")))

    def _handle_hello(self, body: object) -> PeerHello:
        if not isinstance(body, dict):
            raise RemoteProtocolError("bad_hello", "hello body is not a map")
        municipality, link = body.get("municipality"), body.get("link")
        if municipality != self.municipality or link != self.link:
            raise RemoteProtocolError("hello_mismatch", "peer names another municipality or link")
        applied = body.get("applied", 0)
        if not isinstance(applied, int) or isinstance(applied, bool) or applied < 0:
            raise RemoteProtocolError("bad_hello", "hello needs the applied sequence")
        self.state = State.READY
        return PeerHello(municipality, link, applied)


__all__ = [
    "PROTOCOL_VERSION", "Role", "State", "Session", "Event", "PeerHello", "DataFrame",
    "Acked", "Refused", "Withdrawn", "Heartbeat", "Request", "Response",
]
