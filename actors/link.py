"""A link actor: owns one outside link's connection; its mailbox dispatches everything
that happens to the link.

Connection states (``_TRANSITIONS`` is the table)::

    idle ─▶ connecting ─▶ handshaking ─▶ ready ─┐
      ▲          │              │         │     │
      └─ backoff ◀──────────────┴─────────┘     │ (any failure)
                 ▲──────────────────────────────┘

The actor keeps the connection (session, timers, backoff) and the queries waiting on
it; its two halves keep the rest — ``LinkOutbound`` (the outbound window, fed from
the outbox) and ``LinkInbound`` (the peer's pushes) — and the fiddly state in them is
sans-IO (``OutboundWindow``, ``InboundStream``).

Threads: this actor's state is touched only on its own thread.  The reactor side
(``hub/net/link_client.py``) reports network events with ``tell``; the actor hands
bytes, connects, closes and timers to the reactor with ``call_in_reactor`` (the
reactor's ``callFromThread``).  Time comes from the injected ``clock``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import pykka

from actors import messages as m
from actors.backoff import Backoff
from actors.link_inbound import LinkInbound
from actors.link_metrics import LinkMetrics
from actors.link_outbound import LinkOutbound
from actors.queries import LinkQueries
from hub.config import LinkConfig
from hub.store import Store
from protocols import session as s
from protocols.errors import RemoteProtocolError

log = logging.getLogger("jukihub.link")

STATES = ("idle", "connecting", "handshaking", "ready", "backoff", "stopped")
# Seconds between records of the peer's acknowledgement in the store (see LinkOutbound).
ACK_RECORD_INTERVAL = 0.2
_TRANSITIONS: dict[str, frozenset[str]] = {
    "idle": frozenset({"connecting", "stopped"}),
    "connecting": frozenset({"handshaking", "backoff", "stopped"}),
    "handshaking": frozenset({"ready", "backoff", "stopped"}),
    "ready": frozenset({"backoff", "stopped"}),
    "backoff": frozenset({"connecting", "stopped"}),
    "stopped": frozenset(),
}


class LinkActor(pykka.ThreadingActor):
    """One per outside link; see the module docstring."""

    def __init__(self, cfg: LinkConfig, municipality_code: str, store: Store, writer: Any,
                 transport: Any, clock: Any, call_in_reactor: Callable[..., Any],
                 wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        super().__init__()
        self.cfg, self.link, self.municipality_code = cfg, cfg.name, municipality_code
        self.store, self.transport = store, transport
        self.clock, self.call_in_reactor = clock, call_in_reactor
        self.backoff = Backoff(cfg.backoff_initial, cfg.backoff_max, cfg.backoff_multiplier,
                               rng or random.Random())
        self.metrics = LinkMetrics(self.link)
        self.outbound = LinkOutbound(cfg, store, writer, self.metrics, self._later, wall_clock)
        self.inbound = LinkInbound(self.link, writer, self.metrics, self._later, wall_clock)
        self.queries = LinkQueries(self.metrics)
        self.state = "idle"
        self.conn_id = 0
        self.epoch = 0  # bumps on every connection change; older timers are ignored
        self.session: s.Session | None = None
        self.last_rx = self.last_tx = 0.0
        self.ack_timer = False  # a record of the acknowledgement is due

    def on_start(self) -> None:
        state = self.store.read(self.store.link_state.all).get(self.link)
        if state is not None:
            self.inbound.stream.applied = state.inbound_applied
        self.outbound.restore(state.acked if state else 0, state.next_seq - 1 if state else 0)
        self.metrics.started(STATES)
        self.metrics.publish(self.outbound.window)
        self.call_in_reactor(self.transport.attach, self.actor_ref)
        self._connect()

    def on_stop(self) -> None:
        self.outbound.record_ack()
        self.queries.fail_all("link_lost")
        self._set_state("stopped")
        if self.session is not None:
            self.call_in_reactor(self.transport.close, self.conn_id)

    def on_receive(self, message: Any) -> Any:
        handler = _HANDLERS.get(type(message))
        if handler is None:
            log.warning("link ignored message", extra={"event": "link.unknown_message",
                                                       "link": self.link})
            return None
        result = handler(self, message)
        if self.state == "ready" and self.session is not None:
            self._send(self.outbound.frames(self.session))
        if self.outbound.ack_unrecorded and not self.ack_timer:
            self.ack_timer = True
            self._timer("record_ack", ACK_RECORD_INTERVAL)
        self.metrics.publish(self.outbound.window)
        return result

    # ---- the connection ------------------------------------------------------------

    def _set_state(self, new: str) -> None:
        if new == self.state:
            return
        if new not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"link {self.link}: {self.state} -> {new} is not a transition")
        self.metrics.state(self.state, new)
        log.info("link state", extra={"event": "link.state", "link": self.link,
                                      "from": self.state, "to": new})
        self.state = new

    def _connect(self) -> None:
        self._set_state("connecting")
        self.conn_id += 1
        self.epoch += 1
        self.call_in_reactor(self.transport.connect, self.conn_id)

    def _on_connected(self, msg: m.Connected) -> None:
        if msg.conn_id != self.conn_id or self.state != "connecting":
            return
        self._set_state("handshaking")
        self.session = s.Session(s.Role.SENDER, self.municipality_code, self.link,
                                 self.cfg.max_frame_bytes)
        self.last_rx = self.clock.seconds()
        self._send(self.session.hello(applied=self.inbound.stream.connected()))
        self._timer("hello_timeout", self.cfg.connect_timeout)

    def _on_connect_failed(self, msg: m.ConnectFailed) -> None:
        if msg.conn_id == self.conn_id:
            self.metrics.connect_failed(msg.stage)
            self._fail("connect_" + msg.stage)

    def _on_disconnected(self, msg: m.Disconnected) -> None:
        if msg.conn_id != self.conn_id:
            return
        if self.state == "handshaking":  # closed before the peer's hello: refused us
            self.metrics.connect_failed("hello")
        self._fail("disconnected")

    def _on_hello(self, hello: s.PeerHello) -> None:
        stop = self.outbound.hello(hello.applied)
        if stop is not None:  # sending would reuse or skip numbers: an operator decides
            self.metrics.protocol_error(stop)
            log.error("peer's hello does not fit our outbox", extra={
                "event": f"link.{stop}", "link": self.link, "peer_applied": hello.applied})
            self._close(stop)
            return
        self.backoff.reset()
        self._set_state("ready")
        log.info("link ready", extra={"event": "link.ready", "link": self.link,
                                      "peer_applied": hello.applied})
        self._timer("heartbeat", self.cfg.heartbeat_interval)

    def _close(self, cause: str) -> None:
        self.call_in_reactor(self.transport.close, self.conn_id)
        self._fail(cause)

    def _fail(self, cause: str) -> None:
        if self.state in ("backoff", "stopped"):
            return
        self.queries.fail_all("link_lost")
        self.session = None
        self.epoch += 1
        self.metrics.retried("reconnect")
        self._set_state("backoff")
        delay = self.backoff.next_delay()
        log.info("link backing off", extra={"event": "link.backoff", "link": self.link,
                                            "cause": cause, "delay": round(delay, 3)})
        self._timer("reconnect", delay)

    def _on_bytes(self, msg: m.BytesIn) -> None:
        if msg.conn_id != self.conn_id or self.session is None:
            return
        self.last_rx = self.clock.seconds()
        try:
            events = self.session.receive_data(msg.data)
        except RemoteProtocolError as err:
            self.metrics.protocol_error(err.code)
            self._close("protocol_error")
            return
        for event in events:
            _EVENTS[type(event)](self, event)

    def _on_refused(self, refusal: s.Refused) -> None:
        if self.outbound.refused(refusal):
            self._timer("retry", self.backoff.next_delay())

    def _on_push(self, frame: s.DataFrame) -> None:
        assert self.session is not None
        self._send(self.inbound.push(frame, self.session))

    def _on_inbound_recorded(self, msg: m.InboundRecorded) -> None:
        ready = self.session if self.state == "ready" else None
        self._send(self.inbound.recorded(msg, ready))

    def _on_heartbeat(self, beat: s.Heartbeat) -> None:
        if not beat.reply and self.session is not None:
            self._send(self.session.heartbeat(reply=True))

    def _heartbeat(self) -> None:
        assert self.session is not None
        now = self.clock.seconds()
        if now - self.last_rx > self.cfg.heartbeat_timeout:
            log.warning("peer silent", extra={"event": "link.heartbeat_timeout",
                                               "link": self.link})
            self._close("heartbeat_timeout")
            return
        if now - self.last_tx >= self.cfg.heartbeat_interval:
            self._send(self.session.heartbeat())
        self._timer("heartbeat", self.cfg.heartbeat_interval)

    def _on_timer(self, msg: m.Timer) -> None:
        if msg.name == "record_ack":  # whatever the connection since
            self.ack_timer = False
            self.outbound.record_ack()
            return
        if msg.epoch != self.epoch:
            return
        if msg.name.startswith("query:"):
            self.queries.expired(msg.name[6:])
        elif msg.name == "reconnect" and self.state == "backoff":
            self._connect()
        elif msg.name == "retry":
            self.outbound.window.retry_due()
        elif msg.name == "hello_timeout" and self.state == "handshaking":
            self.metrics.connect_failed("hello")
            self._close("hello_timeout")
        elif msg.name == "heartbeat" and self.state == "ready":
            self._heartbeat()

    def _timer(self, name: str, delay: float) -> None:
        """Ask the reactor for a timer whose expiry comes back as a ``Timer`` message."""
        self.call_in_reactor(self.clock.callLater, delay, self.actor_ref.tell,
                             m.Timer(name, self.epoch))

    def _send(self, data: bytes) -> None:
        if data:
            self.last_tx = self.clock.seconds()
            self.call_in_reactor(self.transport.send, self.conn_id, data)

    def _later(self, message: Any) -> Callable[[], None]:
        """A reply for the store writer: ``message`` back to this actor, after commit."""
        actor = self.actor_ref
        return lambda: actor.tell(message)

    def _on_query(self, msg: m.SendQuery) -> None:
        ready = self.session if self.state == "ready" else None
        sent = self.queries.ask(msg.body, msg.reply, ready, self.clock.seconds())
        if sent is not None:
            self._send(sent[1])
            self._timer(f"query:{sent[0]}", self.cfg.query_timeout)

    def _on_status(self, _msg: m.GetStatus) -> dict[str, Any]:
        return {"link": self.link, "state": self.state, **self.outbound.window.status()}


_HANDLERS: dict[type, Callable[[LinkActor, Any], Any]] = {
    m.OutboxAppended: lambda a, msg: a.outbound.appended(msg.items),
    m.Connected: LinkActor._on_connected,
    m.ConnectFailed: LinkActor._on_connect_failed,
    m.Disconnected: LinkActor._on_disconnected,
    m.BytesIn: LinkActor._on_bytes,
    m.Timer: LinkActor._on_timer,
    m.Recorded: lambda a, msg: a.outbound.window.recorded(msg.seqs),
    m.InboundRecorded: LinkActor._on_inbound_recorded,
    m.Designated: lambda a, msg: a.inbound.record(msg.seq, msg.kind, msg.body,
                                                  msg.refused_code),
    m.SendQuery: LinkActor._on_query,
    m.GetStatus: LinkActor._on_status,
}
_EVENTS: dict[type, Callable[[LinkActor, Any], None]] = {
    s.Acked: lambda a, ev: a.outbound.settle(ev.seq),
    s.Refused: LinkActor._on_refused,
    s.PeerHello: LinkActor._on_hello,
    s.Heartbeat: LinkActor._on_heartbeat,
    s.DataFrame: LinkActor._on_push,
    s.Response: lambda a, ev: a.queries.answered(ev, a.clock.seconds()),
}
