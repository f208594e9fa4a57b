"""The reactor side of a link: TLS connections, bytes in and out, nothing else.

``LinkTransport`` lives on the reactor thread.  The link actor calls its methods
through ``reactor.callFromThread``; it reports back with ``tell``.  The protocol is a
thin adapter: it never parses frames (the actor's sans-IO session does that) and it
keeps no delivery state.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from twisted.internet import endpoints
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from actors.messages import BytesIn, Connected, ConnectFailed, Disconnected, tell_if_alive

log = logging.getLogger("jukihub.link")


@implementer(IHandshakeListener)
class _LinkProtocol(Protocol):
    def __init__(self, owner: LinkTransport, conn_id: int) -> None:
        self.owner = owner
        self.conn_id = conn_id
        self.handshake_done = False

    def connectionMade(self) -> None:
        # Small frames and cumulative acks: Nagle's algorithm would hold them back.
        transport: Any = self.transport  # a TCP transport under TLS
        transport.setTcpNoDelay(True)

    def handshakeCompleted(self) -> None:
        self.handshake_done = True
        self.owner.report(Connected(self.conn_id))

    def dataReceived(self, data: bytes) -> None:
        self.owner.report(BytesIn(self.conn_id, data))

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        if self.owner.protocol is self:
            self.owner.protocol = None
        if self.handshake_done:
            self.owner.report(Disconnected(self.conn_id, clean=False))
        else:
            # TLS refused (peer name, CA, protocol version) before the handshake finished.
            log.warning("TLS handshake failed", extra={
                "event": "link.tls_failed", "link": self.owner.link,
                "error": reason.type.__name__ if reason else "unknown"})
            self.owner.report(ConnectFailed(self.conn_id, "handshake"))


class LinkTransport:
    """Connects to one peer with the link's prebuilt TLS options (reactor thread only)."""

    def __init__(self, reactor: Any, link: str, host: str, port: int, tls_options: Any,
                 connect_timeout: float) -> None:
        self.reactor = reactor
        self.link = link
        self.host = host
        self.port = port
        self.tls_options = tls_options
        self.connect_timeout = connect_timeout
        self.actor: Any = None
        self.protocol: _LinkProtocol | None = None

    def attach(self, actor: Any) -> None:
        """Name the link actor that network events go to (called first, by the actor)."""
        self.actor = actor

    def report(self, message: Any) -> None:
        """Tell the link actor about a network event; after it stopped, drop it."""
        tell_if_alive(self.actor, message)

    def connect(self, conn_id: int) -> None:
        endpoint = endpoints.SSL4ClientEndpoint(self.reactor, self.host, self.port,
                                                self.tls_options, timeout=self.connect_timeout)
        proto = _LinkProtocol(self, conn_id)
        d = endpoints.connectProtocol(endpoint, proto)

        def connected(p: _LinkProtocol) -> None:
            self.protocol = p

        def failed(failure: Failure) -> None:
            log.warning("connect failed", extra={"event": "link.tcp_failed", "link": self.link,
                                                 "error": failure.type.__name__})
            self.report(ConnectFailed(conn_id, "connect"))

        d.addCallbacks(connected, failed)

    def send(self, conn_id: int, data: bytes, until: float | None = None) -> None:
        """Write ``data`` on connection ``conn_id`` — unless the link's lease ran out
        (``until``, ``time.monotonic``) while it crossed threads: then the connection
        is dropped and nothing written (the actor learns it from the lease too)."""
        p = self.protocol
        if p is not None and p.conn_id == conn_id and p.transport is not None:
            transport: Any = p.transport
            if until is not None and time.monotonic() >= until:
                transport.abortConnection()
                return
            transport.write(data)

    def close(self, conn_id: int) -> None:
        p = self.protocol
        if p is not None and p.conn_id == conn_id and p.transport is not None:
            p.transport.abortConnection()
