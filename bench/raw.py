"""The raw limit of the transport: pipelined mTLS frames, no storage, no XML.

``python -m bench.raw server CERTS`` runs a receiver that acknowledges cumulatively
after each read (what the mock does, minus SQLite and the XSD).  ``send(...)`` connects
with the hub's TLS options and session code, keeps ``window`` frames in flight, and
returns frames per second.  Both sides are the product's own code (framing, session,
TLS contexts), so the ratio to the end-to-end figure is the cost of durability,
validation and routing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from twisted.internet import defer, endpoints
from twisted.internet.protocol import Factory, Protocol

from hub.support.tls import client_options, server_options
from protocols.session import Acked, DataFrame, PeerHello, Role, Session

M, LINK = "222038", "prefecture"


class _Receiver(Protocol):
    @property
    def tr(self) -> Any:
        """The TLS transport (Twisted's interfaces do not declare its methods)."""
        return self.transport

    def connectionMade(self) -> None:
        self.tr.setTcpNoDelay(True)
        self.session = Session(Role.RECEIVER, M, LINK)
        self.applied = 0

    def dataReceived(self, data: bytes) -> None:
        out = []
        for ev in self.session.receive_data(data):
            if isinstance(ev, PeerHello):
                out.append(self.session.hello(applied=0))
            elif isinstance(ev, DataFrame) and ev.seq == self.applied + 1:
                self.applied = ev.seq
        if self.session.state.value == "ready" and self.applied:
            out.append(self.session.ack(self.applied))
        self.tr.write(b"".join(out))


def serve(certs: Path) -> None:
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor  # the installed reactor (typed as a module by Twisted)
    port = reactor.listenSSL(0, Factory.forProtocol(_Receiver),
                             server_options(certs, "prefecture"), interface="127.0.0.1")
    print(json.dumps({"event": "raw.ready", "port": port.getHost().port}), flush=True)
    reactor.run()


class _Sender(Protocol):
    @property
    def tr(self) -> Any:
        return self.transport

    def __init__(self, n: int, window: int, payload: bytes, done: defer.Deferred[float]) -> None:
        self.n, self.window, self.payload, self.done = n, window, payload, done
        self.session = Session(Role.SENDER, M, LINK)
        self.sent = self.acked = 0
        self.started = 0.0

    def connectionMade(self) -> None:
        self.tr.setTcpNoDelay(True)
        self.tr.write(self.session.hello())

    def dataReceived(self, data: bytes) -> None:
        for ev in self.session.receive_data(data):
            if isinstance(ev, PeerHello):
                self.started = time.perf_counter()
            elif isinstance(ev, Acked):
                self.acked = max(self.acked, ev.seq)
        if self.acked >= self.n:
            elapsed = time.perf_counter() - self.started
            self.tr.loseConnection()
            if not self.done.called:
                self.done.callback(self.n / elapsed)
            return
        limit = min(self.n, self.acked + self.window)
        if self.sent < limit:
            frames = [self.session.data(s, self.payload) for s in range(self.sent + 1, limit + 1)]
            self.sent = limit
            self.tr.write(b"".join(frames))


def send(reactor: Any, certs: Path, port: int, n: int, window: int,
         payload_size: int) -> defer.Deferred[float]:
    done: defer.Deferred[float] = defer.Deferred()
    ep = endpoints.SSL4ClientEndpoint(reactor, "127.0.0.1", port,
                                      client_options(certs, "hub", "prefecture.jukihub.test"))
    endpoints.connectProtocol(ep, _Sender(n, window, b"x" * payload_size, done))
    return done


if __name__ == "__main__":
    serve(Path(sys.argv[2]))
