"""A slow read of the store never holds the reactor: while a GET is stuck in the read
pool, the same hub (in this process, on this test's reactor, over real mTLS) answers
its link peer's heartbeat, accepts a change and answers ``/healthz``.  Were the read on
the reactor thread, none of the three could happen before it ends."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, threads
from twisted.internet.protocol import Factory, Protocol

from devtools.synthetic import Synth
from hub.app import Hub
from hub.config import LINK_NAMES, load_config
from hub.store.inbox import InboxStore
from hub.support.client import HttpsClient
from hub.support.tls import server_options
from protocols.session import Heartbeat, PeerHello, Role, Session

ROOT = Path(__file__).resolve().parents[2]


class Peer(Protocol):
    """The prefecture's side, minimal: answers the hello, acknowledges what it gets, and
    sends a heartbeat when asked, firing ``replied`` at the hub's answer."""

    def __init__(self, ready: defer.Deferred[Peer]) -> None:
        self.ready = ready
        self.replied: defer.Deferred[None] | None = None
        self.session = Session(Role.RECEIVER, "222038", "prefecture")
        self.applied = 0

    def dataReceived(self, data: bytes) -> None:
        out = []
        for ev in self.session.receive_data(data):
            if isinstance(ev, PeerHello):
                out.append(self.session.hello(applied=self.applied))
                self.ready.callback(self)
            elif isinstance(ev, Heartbeat) and ev.reply and self.replied is not None:
                self.replied.callback(None)
            elif getattr(ev, "seq", 0) == self.applied + 1:
                self.applied += 1
                out.append(self.session.ack(self.applied))
        self.transport.write(b"".join(out))  # type: ignore[union-attr]

    def heartbeat(self) -> defer.Deferred[None]:
        self.replied = defer.Deferred()
        self.transport.write(self.session.heartbeat())  # type: ignore[union-attr]
        return self.replied


@pytest_twisted.inlineCallbacks
def test_a_held_read_leaves_the_reactor_free(tmp_path: Path, certs_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> Any:
    from twisted.internet import reactor

    peer_ready: defer.Deferred[Peer] = defer.Deferred()
    listener = reactor.listenSSL(0, Factory.forProtocol(lambda: Peer(peer_ready)),  # type: ignore[attr-defined]
                                 server_options(certs_dir, "prefecture"), interface="127.0.0.1")
    others = [f"links.{name}.enabled=false" for name in LINK_NAMES if name != "prefecture"]
    cfg = load_config(ROOT / "config.toml", [
        f'hub.data_dir="{tmp_path}"', f'certs.dir="{certs_dir}"', "intake.port=0",
        "metrics.port=0", f"links.prefecture.port={listener.getHost().port}", *others])
    entered, release = threading.Event(), threading.Event()
    listed = InboxStore.list

    def held_list(self: InboxStore, *args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)  # a read stuck in the store (a lock, a slow disk)
        return listed(self, *args, **kwargs)

    monkeypatch.setattr(InboxStore, "list", held_list)
    hub = Hub(cfg, reactor)
    ports = hub.start()
    try:
        peer = yield peer_ready.addTimeout(10, reactor)

        def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            client = HttpsClient("127.0.0.1", ports.intake, certs_dir, "register", timeout=15)
            try:
                return client.request(method, path, body)
            finally:
                client.close()

        held = threads.deferToThread(call, "GET", "/v1/inbox")
        yield threads.deferToThread(entered.wait, 10)
        assert entered.is_set() and not held.called
        # Meanwhile, on the reactor: the link's heartbeat, a change, /healthz.
        yield peer.heartbeat().addTimeout(5, reactor)
        change = next(Synth(seed=3).stream(1))
        status, answer = yield threads.deferToThread(call, "POST", "/v1/changes", change)
        assert (status, answer["status"]) == (201, "accepted")
        status, _ = yield threads.deferToThread(call, "GET", "/healthz")
        assert status == 200
        assert not held.called  # the read is still held all this while
        release.set()
        status, listing = yield held.addTimeout(15, reactor)
        assert (status, listing) == (200, {"items": []})
    finally:
        release.set()
        yield hub.stop()
        yield listener.stopListening()
