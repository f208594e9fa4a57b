"""The mock endpoints' side of a link connection (``mock_endpoints.serve`` listens): a
thin adapter — bytes into the session, events to the endpoint, frames out.  The endpoint
applies what arrives in one read in one transaction, and only then is it acknowledged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from hub.support.tls import peer_common_name
from mock_endpoints.base import MockEndpoint
from protocols.errors import RemoteProtocolError
from protocols.session import (
    Acked,
    DataFrame,
    Heartbeat,
    PeerHello,
    Refused,
    Request,
    Role,
    Session,
    Withdrawn,
)

log = logging.getLogger("jukihub.mock")


@implementer(IHandshakeListener)
class MockProtocol(Protocol):
    """Thin adapter: bytes into the session, events into the endpoint, frames out."""

    def __init__(self, endpoint: MockEndpoint) -> None:
        self.ep = endpoint
        self.session = Session(Role.RECEIVER, endpoint.municipality_code, endpoint.link,
                               endpoint.max_frame)
        self.verified = False
        self.ready = False
        self.push_sent = 0  # highest push sent on this connection

    @property
    def tr(self) -> Any:
        """The TLS transport (Twisted's interfaces do not declare its methods)."""
        return self.transport

    def connectionMade(self) -> None:
        self.tr.setTcpNoDelay(True)  # acks are small; do not let Nagle hold them
        self.ep.connections.append(self)
        self.ep.connections_made += 1
        self.number = self.ep.connections_made
        if self.ep.faults.get("stall"):
            self.tr.pauseProducing()

    def handshakeCompleted(self) -> None:
        name = peer_common_name(self.transport)
        if name != self.ep.hub_name:
            self.ep.handshakes_refused += 1
            log.warning("client certificate refused", extra={
                "event": "mock.client_refused", "link": self.ep.link})
            self.ep.wake()
            self.tr.abortConnection()
            return
        self.verified = True

    def send_pushes(self) -> None:
        """Send the pending pushes this connection has not sent yet."""
        rows = self.ep.pushes_after(self.push_sent)
        if rows:
            self.push_sent = rows[-1][0]
            self.tr.write(b"".join(self.session.data(seq, body) for seq, body in rows))

    def connectionLost(self, reason: Any = None) -> None:
        if self in self.ep.connections:
            self.ep.connections.remove(self)
        self.ep.wake()

    def dataReceived(self, data: bytes) -> None:
        if not self.verified:
            return
        # A cut in the middle of a frame (a fault): the whole frames before the cut are
        # applied, none is acknowledged, and the connection goes.
        cut = self.ready and bool(self.ep.faults.pop("cut_mid_frame", False))
        if cut:
            data = data[: max(1, len(data) // 2)]
        try:
            events = self.session.receive_data(data)
        except RemoteProtocolError as err:
            log.warning("protocol error", extra={"event": "mock.protocol_error",
                                                 "link": self.ep.link, "code": err.code})
            self.tr.abortConnection()
            return
        out: list[bytes] = []
        work: list[DataFrame | Withdrawn] = []
        for ev in events:
            if isinstance(ev, DataFrame | Withdrawn):
                work.append(ev)
            else:
                self._EVENTS[type(ev)](self, ev, out)
        if work:
            now = time.monotonic()
            seen = self.ep.senders.setdefault(self.number, [now, now, 0])
            seen[1], seen[2] = now, seen[2] + len(work)
        if work and self._apply(work, out):
            return  # a drop fault closed the connection
        if cut:
            self.ep.flush_pushes()
            self.tr.abortConnection()
            return
        if out:
            self.tr.write(b"".join(out))
        if work:
            self.ep.flush_pushes()  # what applying queued, now that it is committed

    def _apply(self, work: list[DataFrame | Withdrawn], out: list[bytes]) -> bool:
        """Apply the data of one read, acknowledge (or refuse); ``True`` if dropped."""
        before = self.ep.applied
        refused, drop = self.ep.process(work)
        if self.ep.applied != before or any(ev.seq <= before for ev in work):
            out.append(self.session.ack(self.ep.applied))
        if refused is not None:
            seq, refusal = refused
            out.append(self.session.refuse(seq, refusal.permanent, refusal.code,
                                           refusal.reason))
        if drop:
            self.tr.write(b"".join(out))
            self.tr.abortConnection()
        return drop

    def _on_hello(self, ev: PeerHello, out: list[bytes]) -> None:
        out.append(self.session.hello(applied=self.ep.applied))
        self.tr.write(b"".join(out))
        out.clear()
        self.ready = True
        self.ep.settle_pushes(ev.applied)  # what the hub already holds
        self.push_sent = ev.applied
        self.send_pushes()

    def _on_acked(self, ev: Acked, _out: list[bytes]) -> None:
        self.ep.settle_pushes(ev.seq)

    def _on_refused(self, ev: Refused, _out: list[bytes]) -> None:
        if ev.permanent:
            self.ep.settle_pushes(ev.seq - 1, refused=(ev.seq, ev.code, ev.reason))

    def _on_heartbeat(self, ev: Heartbeat, out: list[bytes]) -> None:
        if not ev.reply:
            out.append(self.session.heartbeat(reply=True))

    def _on_request(self, ev: Request, out: list[bytes]) -> None:
        if self.ep.faults.get("mute_queries"):
            return
        answer = self.ep.answer(ev.body)
        if answer is not None:
            out.append(self.session.respond(ev.corr, answer))
            self.ep.queries_answered += 1
            self.ep.wake()

    _EVENTS: dict[type, Callable[[MockProtocol, Any, list[bytes]], None]] = {
        PeerHello: _on_hello, Acked: _on_acked, Refused: _on_refused,
        Heartbeat: _on_heartbeat, Request: _on_request,
    }


