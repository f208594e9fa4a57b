"""A link actor: owns one outside link's connection; its mailbox dispatches everything
that happens to the link.

The fiddly state is sans-IO, in the actor's parts: ``Connection`` (states, attempts,
liveness), ``LinkOutbound`` (the outbound window, fed from the outbox), ``LinkInbound``
(the peer's pushes) and ``LinkQueries``.  The actor wires them to the session, the
store writer and the reactor, and sets the timers.

**Ownership.**  With several hubs on one store, each link is owned by one hub at a time
(``hub/store/leases.py``).  The actor starts in ``standby`` and connects only once it
is granted its link's lease (``Lease``: a fencing token, and a deadline on this
machine's monotonic clock that the lease keeper set a fifth of the lease short of its
expiry in the database, counted from *before* the claim was sent).  Past the deadline
without a renewal it closes the connection and goes back to ``standby``; every write
of bytes checks the deadline again on the reactor thread (``LinkTransport.send``).  So
a hub cut off from the store stops sending before the other hub can take the link.
While it owns the link it polls the store every ``poll_every`` seconds for what other
hubs' writers did to it: messages they numbered, dead letters their staff mended,
queries they relay (``actors/relayed_queries.py``); while it does not, it relays its
own hub's queries to the owner that way.

Threads: this actor's state is touched only on its own thread.  The reactor side
(``hub/net/link_client.py``) reports network events with ``tell``; the actor hands
bytes, connects, closes and timers to the reactor with ``call_in_reactor`` (the
reactor's ``callFromThread``).  Time comes from the injected ``clock``; lease deadlines
from ``lease_clock`` (monotonic).
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
from actors.connection import STATES, Connection, Tick
from actors.inbound_stream import InboundStream
from actors.link_inbound import LinkInbound
from actors.link_metrics import LinkMetrics
from actors.link_outbound import LinkOutbound
from actors.queries import LinkQueries
from actors.relayed_queries import RelayedQueries
from hub.config import LinkConfig
from hub.domain.consistency import CHECK_LINKS
from hub.domain.dead_letters import Mended
from hub.store import Store
from hub.support import metrics
from protocols import session as s
from protocols.errors import RemoteProtocolError

log = logging.getLogger("jukihub.link")

# Seconds between records of the peer's acknowledgement in the store (see LinkOutbound).
ACK_RECORD_INTERVAL = 0.2


class LinkActor(pykka.ThreadingActor):
    """One per outside link; see the module docstring."""

    def __init__(self, cfg: LinkConfig, municipality_code: str, store: Store, writer: Any,
                 transport: Any, clock: Any, call_in_reactor: Callable[..., Any],
                 wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None,
                 lease_clock: Callable[[], float] = time.monotonic,
                 poll_every: float = 0.0) -> None:
        super().__init__()
        self.cfg, self.link, self.municipality_code = cfg, cfg.name, municipality_code
        self.store, self.transport = store, transport
        self.clock, self.call_in_reactor = clock, call_in_reactor
        self.wall_clock = wall_clock
        self.backoff = Backoff(cfg.backoff_initial, cfg.backoff_max, cfg.backoff_multiplier,
                               rng or random.Random())
        self.metrics = LinkMetrics(self.link)
        self.outbound = LinkOutbound(cfg, store, writer, self.metrics, self._later, wall_clock)
        self.inbound = LinkInbound(self.link, writer, self.metrics, self._later, wall_clock)
        self.queries = LinkQueries(self.metrics)
        self.conn = Connection(cfg.heartbeat_interval, cfg.heartbeat_timeout, self._moved)
        self.session: s.Session | None = None
        self.ack_timer = False  # a record of the acknowledgement is due
        self.lease_clock, self.poll_every = lease_clock, poll_every
        self.token: int | None = None  # the lease's fencing token, while this hub owns it
        self.until = 0.0               # ... and until when it may send (lease_clock)
        self.mended_seen = 0           # the link's mends this actor has taken in
        self.relay = RelayedQueries(self.link, store, writer, self._later)
        self.relay_timer = False       # a look for relayed answers is due

    def on_start(self) -> None:
        checked = self.link in CHECK_LINKS
        self.metrics.started(STATES, self.store.read(self.store.jobs.latest_differences,
                                                     self.link) if checked else None, checked)
        self.conn.move("standby")  # until the lease keeper grants the link
        metrics.link_owned.labels(self.link).set(0)
        self.metrics.publish(self.outbound.window, self.conn.state,
                             self.outbound.open_dead_letters)
        self.call_in_reactor(self.transport.attach, self.actor_ref)

    # ---- ownership -----------------------------------------------------------------

    def _on_lease(self, msg: m.Lease) -> None:
        if self.conn.state == "stopped":
            return  # halted: an operator decides (it keeps the lease, sending nothing)
        if msg.token is None or msg.until <= self.lease_clock():
            self._lose("lease_lost")
            return
        if msg.token != self.token:
            if self.token is not None:
                self._lose("lease_changed")
            self.until = msg.until
            self._lease_timer()
            self._own(msg.token)
        elif msg.until > self.until:
            self.until = msg.until
            self._lease_timer()

    def _own(self, token: int, poll: bool = True) -> None:
        """The link is this hub's under ``token``: its state as the store has it now
        (whatever another hub did to it), then connect."""
        try:
            state = self.store.read(self.store.link_state.all).get(self.link)
        except Exception as exc:  # the store out of reach: not ours until it answers
            log.warning("link state unreadable", extra={"event": "link.state_unreadable",
                                                        "link": self.link,
                                                        "error": type(exc).__name__})
            return
        self.token = self.outbound.token = self.inbound.token = token
        self.inbound.stream = InboundStream()
        if state is not None:
            self.inbound.stream.applied = state.inbound_applied
            self.mended_seen = state.mended
        self.outbound.reset()
        self.outbound.restore(state.acked if state else 0, state.next_seq - 1 if state else 0)
        metrics.link_owned.labels(self.link).set(1)
        log.info("link owned", extra={"event": "link.owned", "link": self.link,
                                      "token": token})
        self._connect()
        if poll and self.poll_every > 0:
            self._timer("poll", self.poll_every, lease=True)

    def _lose(self, cause: str) -> None:
        """Stop sending on the link at once: closed, ``standby`` until granted again."""
        if self.token is None:
            return
        self.outbound.record_ack()  # still ours if nobody took it (the writer checks)
        self.token = None
        self.call_in_reactor(self.transport.close, self.conn.attempt)
        self.queries.fail_all("link_lost")
        self.session = None
        self.conn.stand_by()
        metrics.link_owned.labels(self.link).set(0)
        log.warning("link given up", extra={"event": "link.standby", "link": self.link,
                                            "cause": cause})

    def _may_send(self) -> bool:
        if self.token is not None and self.lease_clock() < self.until:
            return True
        self._lose("lease_expired")
        return False

    def _lease_timer(self) -> None:
        self._timer("lease", max(0.0, self.until - self.lease_clock()), lease=True)

    def _lease_due(self) -> None:
        if self.token is not None and self.lease_clock() >= self.until:
            self._lose("lease_expired")

    def _poll(self) -> None:
        """What other hubs' writers did to the link: messages numbered (sent from the
        outbox like this hub's own), dead letters mended (the window reloaded)."""
        if self.token is None:
            return
        try:
            next_seq, mended = self.store.read(self.store.link_state.poll, self.link)
        except Exception as exc:  # the store out of reach: the lease runs out meanwhile
            log.warning("link poll failed", extra={"event": "link.poll_failed",
                                                   "link": self.link,
                                                   "error": type(exc).__name__})
            self._timer("poll", self.poll_every, lease=True)
            return
        if mended > self.mended_seen:
            self._reload("mended_elsewhere")
        else:
            self.outbound.numbered(next_seq - 1)  # read from the outbox as there is room
        try:
            relayed = self.relay.to_serve(self.wall_clock() - self.cfg.query_timeout)
        except Exception:  # as above; asked again at the next poll
            relayed = []
        for _query_id, answer, body in relayed:  # other hubs' queries, asked of the peer
            self._on_query(m.SendQuery(body, answer))
        self._timer("poll", self.poll_every, lease=True)

    def _reload(self, cause: str) -> None:
        """Take the link's state from the store again, on a new connection."""
        token = self.token
        assert token is not None
        log.info("link reloads its state", extra={"event": "link.reload", "link": self.link,
                                                  "cause": cause})
        self.outbound.record_ack()
        self.call_in_reactor(self.transport.close, self.conn.attempt)
        self.queries.fail_all("link_lost")
        self.session = None
        self.conn.stand_by()
        self._own(token, poll=False)  # the poll that called this goes on

    def _on_mended(self, msg: m.Mended) -> None:
        """A mend this hub's staff made, committed: taken in here, unless the link's
        state must be read again (mended elsewhere meanwhile, or not ours)."""
        generation = msg.result.generation
        if self.token is None or generation <= self.mended_seen:
            return  # read with the state since
        if generation == self.mended_seen + 1:
            self.mended_seen = generation
            self.outbound.mended(msg.result)
        else:
            self._reload("mended_elsewhere")

    def on_stop(self) -> None:
        self.outbound.record_ack()
        self.queries.fail_all("link_lost")
        self.conn.move("stopped")
        if self.session is not None:
            self.call_in_reactor(self.transport.close, self.conn.attempt)

    def on_receive(self, message: Any) -> Any:
        handler = _HANDLERS.get(type(message))
        if handler is None:
            log.warning("link ignored message", extra={"event": "link.unknown_message",
                                                       "link": self.link})
            return None
        result = handler(self, message)
        if (ready := self._ready()) is not None:
            self._send(self.outbound.frames(ready))
        if self.outbound.ack_unrecorded and not self.ack_timer:
            self.ack_timer = True
            self._timer("record_ack", ACK_RECORD_INTERVAL)
        self.metrics.publish(self.outbound.window, self.conn.state,
                             self.outbound.open_dead_letters)
        return result

    # ---- the connection ------------------------------------------------------------

    def _ready(self) -> s.Session | None:
        return self.session if self.conn.state == "ready" else None

    def _moved(self, old: str, new: str) -> None:
        self.metrics.state(old, new)
        log.info("link state", extra={"event": "link.state", "link": self.link,
                                      "from": old, "to": new})

    def _connect(self) -> None:
        if self._may_send():
            self.call_in_reactor(self.transport.connect, self.conn.connect())

    def _on_connected(self, msg: m.Connected) -> None:
        if not self.conn.current(msg.conn_id) or self.conn.state != "connecting":
            return
        self.conn.move("handshaking")
        self.session = s.Session(s.Role.SENDER, self.municipality_code, self.link,
                                 self.cfg.max_frame_bytes)
        self.conn.heard(self.clock.seconds())
        self._send(self.session.hello(applied=self.inbound.stream.connected()))
        self._timer("hello_timeout", self.cfg.connect_timeout)

    def _on_connect_failed(self, msg: m.ConnectFailed) -> None:
        if self.conn.current(msg.conn_id):
            self.metrics.connect_failed(msg.stage)
            self._fail("connect_" + msg.stage)

    def _on_disconnected(self, msg: m.Disconnected) -> None:
        if not self.conn.current(msg.conn_id):
            return
        if self.conn.state == "handshaking":  # closed before the peer's hello: refused us
            self.metrics.connect_failed("hello")
        self._fail("disconnected")

    def _on_hello(self, hello: s.PeerHello) -> None:
        metrics.link_peer_applied.labels(self.link).set(hello.applied)
        stop = self.outbound.hello(hello.applied)
        if stop is not None:  # sending would reuse or skip numbers: an operator decides
            self.metrics.protocol_error(stop)
            log.error("peer's hello does not fit our outbox", extra={
                "event": f"link.{stop}", "link": self.link, "peer_applied": hello.applied})
            self._halt(stop)
            return
        self.backoff.reset()
        self.conn.move("ready")
        log.info("link ready", extra={"event": "link.ready", "link": self.link,
                                      "peer_applied": hello.applied})
        self._timer("heartbeat", self.cfg.heartbeat_interval)

    def _halt(self, cause: str) -> None:
        """Stop the link for good (no reconnect): the peer's numbers and ours disagree
        (a store restored behind the peer, or a purged gap), and sending anything would
        reuse or skip a sequence number.  Shown as ``stopped`` (``jukihub_link_state``,
        ``/readyz``, ``jukihub status``) until staff realign it (README, *Backup and
        restore*) and start the hub again."""
        self.call_in_reactor(self.transport.close, self.conn.attempt)
        self.metrics.failed(cause, self.wall_clock())
        self.queries.fail_all("link_stopped")
        self.session = None
        self.conn.move("stopped")
        log.error("link stopped", extra={"event": "link.stopped", "link": self.link,
                                         "cause": cause})

    def _close(self, cause: str) -> None:
        self.call_in_reactor(self.transport.close, self.conn.attempt)
        self._fail(cause)

    def _fail(self, cause: str) -> None:
        if not self.conn.fail():
            return
        self.metrics.failed(cause, self.wall_clock())
        self.queries.fail_all("link_lost")
        self.session = None
        self.metrics.retried("reconnect")
        delay = self.backoff.next_delay()
        log.info("link backing off", extra={"event": "link.backoff", "link": self.link,
                                            "cause": cause, "delay": round(delay, 3)})
        self._timer("reconnect", delay)

    def _on_bytes(self, msg: m.BytesIn) -> None:
        if not self.conn.current(msg.conn_id) or self.session is None:
            return
        self.conn.heard(self.clock.seconds())
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
        assert self.session is not None  # frames come only from a session
        self._send(self.inbound.push(frame, self.session))

    def _on_inbound_recorded(self, msg: m.InboundRecorded) -> None:
        self._send(self.inbound.recorded(msg, self._ready()))

    def _on_heartbeat(self, beat: s.Heartbeat) -> None:
        if not beat.reply and self.session is not None:
            self._send(self.session.heartbeat(reply=True))

    def _heartbeat(self) -> None:
        tick = self.conn.tick(self.clock.seconds())
        if tick is Tick.SILENT:
            log.warning("peer silent", extra={"event": "link.heartbeat_timeout",
                                               "link": self.link})
            self._close("heartbeat_timeout")
            return
        if tick is Tick.SPEAK and self.session is not None:
            self._send(self.session.heartbeat())
        self._timer("heartbeat", self.cfg.heartbeat_interval)

    def _hello_timeout(self) -> None:
        self.metrics.connect_failed("hello")
        self._close("hello_timeout")

    def _on_timer(self, msg: m.Timer) -> None:
        if msg.name == "record_ack":  # whatever the connection since
            self.ack_timer = False
            self.outbound.record_ack()
        elif msg.name == "lease":
            self._lease_due()
        elif msg.name == "poll":
            if msg.epoch == self.token:  # a poll of the current ownership
                self._poll()
        elif msg.name.startswith("relay"):  # whatever the connection or the lease
            self._relay_due(msg.name)
        elif msg.epoch != self.conn.epoch:
            return  # set for a connection that is gone
        elif msg.name.startswith("query:"):
            self.queries.expired(msg.name[6:])
        elif (due := _TIMERS.get((msg.name, self.conn.state))) is not None:
            due(self)

    def _timer(self, name: str, delay: float, lease: bool = False) -> None:
        """Ask the reactor for a timer whose expiry comes back as a ``Timer`` message
        (of this connection; with ``lease``, of this ownership)."""
        self.call_in_reactor(self.clock.callLater, delay, m.tell_if_alive, self.actor_ref,
                             m.Timer(name, (self.token or 0) if lease else self.conn.epoch))

    def _send(self, data: bytes) -> None:
        if data and self._may_send():
            self.conn.spoke(self.clock.seconds())
            # The deadline goes along: the reactor drops bytes it would write after it.
            self.call_in_reactor(self.transport.send, self.conn.attempt, data, self.until)

    def _later(self, message: Any) -> Callable[[], None]:
        """A reply for the store writer: ``message`` back to this actor, after commit."""
        actor = self.actor_ref
        return lambda: m.tell_if_alive(actor, message)

    def _on_query(self, msg: m.SendQuery) -> None:
        if self.token is None and self.poll_every > 0:  # another hub owns the link
            log.info("query relayed to the owner", extra={"event": "link.query_relayed",
                                                          "link": self.link})
            self.relay.ask(msg.body, msg.reply)
            return
        sent = self.queries.ask(msg.body, msg.reply, self._ready(), self.clock.seconds())
        if sent is not None:
            self._send(sent[1])
            self._timer(f"query:{sent[0]}", self.cfg.query_timeout)

    def _on_relayed(self, msg: m.Relayed) -> None:
        query_id = self.relay.written(msg)
        if query_id is None:
            return
        self._timer(f"relay:{query_id}", self.cfg.query_timeout)
        if not self.relay_timer:
            self.relay_timer = True
            self._timer("relay_answers", self.poll_every)

    def _relay_due(self, name: str) -> None:
        if name != "relay_answers":
            self.relay.expired(int(name.removeprefix("relay:")))
            return
        self.relay_timer = False
        try:
            self.relay.collect()
        except Exception as exc:  # the store out of reach: the timeouts answer
            log.warning("relayed answers unreadable", extra={
                "event": "link.relay_unreadable", "link": self.link,
                "error": type(exc).__name__})
        if self.relay.waiting:
            self.relay_timer = True
            self._timer("relay_answers", self.poll_every)

    def _on_mend(self, msg: m.MendDeadLetter) -> None:
        """To the store writer as a job, behind the holds this actor asked for."""
        actor, reply = self.actor_ref, msg.reply

        def done(value: Any) -> None:  # on the store writer's thread, after the commit
            if isinstance(value, Mended):
                m.tell_if_alive(actor, m.Mended(value))
            reply(value)

        self.outbound.writer.tell(m.WriteMend(msg.mend, done))

    def _on_status(self, _msg: m.GetStatus) -> dict[str, Any]:
        return {"link": self.link, "state": self.conn.state, **self.outbound.window.status()}


_HANDLERS: dict[type, Callable[[LinkActor, Any], Any]] = {
    m.OutboxAppended: lambda a, msg: a.outbound.appended(msg.items) if a.token else None,
    m.Lease: LinkActor._on_lease,
    m.Relayed: LinkActor._on_relayed,
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
    m.Barrier: lambda a, msg: msg.reply(),
    m.MendDeadLetter: LinkActor._on_mend,
    m.Mended: LinkActor._on_mended,
}
# (timer, the state it is for) -> what happens when it fires
_TIMERS: dict[tuple[str, str], Callable[[LinkActor], None]] = {
    ("reconnect", "backoff"): LinkActor._connect,
    ("retry", "ready"): lambda a: a.outbound.window.retry_due(),
    ("retry", "backoff"): lambda a: a.outbound.window.retry_due(),
    ("hello_timeout", "handshaking"): LinkActor._hello_timeout,
    ("heartbeat", "ready"): LinkActor._heartbeat,
}
_EVENTS: dict[type, Callable[[LinkActor, Any], None]] = {
    s.Acked: lambda a, ev: a.outbound.settle(ev.seq),
    s.Refused: LinkActor._on_refused,
    s.PeerHello: LinkActor._on_hello,
    s.Heartbeat: LinkActor._on_heartbeat,
    s.DataFrame: LinkActor._on_push,
    s.Response: lambda a, ev: a.queries.answered(ev, a.clock.seconds()),
}
