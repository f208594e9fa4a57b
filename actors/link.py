"""A link actor: owns one outside link's session, outbox window and retries.

State machine (``_TRANSITIONS`` is the table)::

    idle ─▶ connecting ─▶ handshaking ─▶ ready ─┐
      ▲          │              │         │     │
      └─ backoff ◀──────────────┴─────────┘     │ (any failure)
                 ▲──────────────────────────────┘

Delivery: outbox rows carry link sequence numbers assigned when the change was
committed, contiguous per link.  The actor sends a window of them without waiting
(pipelining), the peer acknowledges cumulatively, and the acknowledged sequence is
recorded through the store writer.  After any reconnect the peer's hello says what it
has applied and sending resumes right after it.  A refusal of ``n`` makes the peer
discard what follows, so the actor goes back to ``n``: a temporary refusal is retried
after a backoff; a permanent one (or too many temporary ones) is recorded as a dead
letter *before* ``n`` is withdrawn at the peer, and the resident is held back: their
later messages are marked held (again durably, first) and withdrawn instead of sent,
while everybody else's keep flowing.  "Durably first" matters: once the peer has
settled a sequence, a restarted hub counts every still-pending row up to the peer's
applied sequence as delivered, so a withdrawal must never overtake its record.

Queries (``SendQuery``) are request/response pairs beside the stream: sent only while
the link is ready, matched back by correlation id, answered ``query_timeout`` after
the link's ``query_timeout`` and ``link_lost`` if the connection goes first.  They are
not durable; the caller may ask again.

Threads: this actor's state is touched only on its own thread.  The reactor side
(``hub/link_client.py``) reports network events with ``tell``; the actor hands bytes,
connects, closes and timers to the reactor with ``call_in_reactor`` (the reactor's
``callFromThread``).  Time comes from the injected ``clock``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import pykka
from sqlalchemy import Engine, func, select

from actors.backoff import Backoff
from actors.messages import (
    BytesIn,
    Connected,
    ConnectFailed,
    Designated,
    Disconnected,
    GetStatus,
    HoldMessages,
    InboundRecorded,
    OutboxAppended,
    RecordAck,
    RecordDeadLetter,
    Recorded,
    RecordInbound,
    SendQuery,
    SubmitChanges,
    Timer,
)
from hub import metrics
from hub.config import LinkConfig
from hub.domain.changes import number_designation
from hub.domain.errors import HubError
from hub.domain.register import OutboxItem
from hub.domain.routing import INBOUND, INBOX_KINDS
from hub.store.tables import dead_letters, link_state, outbox
from protocols.consistency import ConsistencyResult
from protocols.errors import BodyError, RemoteProtocolError
from protocols.national import NumberGenerated
from protocols.session import (
    Acked,
    DataFrame,
    Heartbeat,
    PeerHello,
    Refused,
    Response,
    Role,
    Session,
)

log = logging.getLogger("jukihub.link")

STATES = ("idle", "connecting", "handshaking", "ready", "backoff", "stopped")
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

    def __init__(
        self,
        cfg: LinkConfig,
        municipality_code: str,
        engine: Engine,
        writer: Any,
        transport: Any,
        clock: Any,
        call_in_reactor: Callable[..., Any],
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.link = cfg.name
        self.municipality_code = municipality_code
        self.engine = engine  # read-only use: loading the outbox
        self.writer = writer
        self.transport = transport
        self.clock = clock
        self.call_in_reactor = call_in_reactor
        self.wall_clock = wall_clock
        self.backoff = Backoff(cfg.backoff_initial, cfg.backoff_max, cfg.backoff_multiplier,
                               rng or random.Random())
        self.state = "idle"
        self.conn_id = 0
        self.session: Session | None = None
        self.epoch = 0  # bumps on every connection change; older timers are ignored
        self.acked = 0  # highest sequence the peer has settled
        self.sent_upto = 0  # highest sequence sent on this connection
        self.items: dict[int, OutboxItem] = {}  # seq -> message, for seq > acked in memory
        self.items_bytes = 0  # their payloads' size: bounded by ``memory_bytes``
        self.loaded_upto = 0  # highest sequence held in ``items``
        self.known_upto = 0  # highest sequence known to exist in the outbox
        self.held: set[str] = set()  # resident keys held back behind a dead letter
        self.withdrawn: set[int] = set()  # seqs to withdraw rather than send
        self.attempts: dict[int, int] = {}  # temporary refusals per seq
        self.blocked_on: int | None = None  # seq awaiting a retry timer
        self.unrecorded: set[int] = set()  # seqs to withdraw once their record commits
        self.inbound_applied = 0  # highest push of the peer recorded in the inbox
        self.inbound_expected = 1  # the push this connection waits for next
        self.last_rx = 0.0
        self.last_tx = 0.0
        self.queries: dict[str, tuple[Callable[[bytes | None, str | None], None], float]] = {}
        self.query_count = 0

    # ---- lifecycle -------------------------------------------------------------------

    def on_start(self) -> None:
        self._load_state()
        for state in STATES:
            metrics.link_state.labels(self.link, state).set(0)
        self.call_in_reactor(self.transport.attach, self.actor_ref)
        self._connect()

    def on_stop(self) -> None:
        self._fail_queries("link_lost")
        self._set_state("stopped")
        if self.session is not None:
            self.call_in_reactor(self.transport.close, self.conn_id)

    def _set_state(self, new: str) -> None:
        if new == self.state:
            return
        if new not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"link {self.link}: {self.state} -> {new} is not a transition")
        metrics.link_state.labels(self.link, self.state).set(0)
        metrics.link_state.labels(self.link, new).set(1)
        metrics.link_up.labels(self.link).set(1 if new == "ready" else 0)
        log.info("link state", extra={"event": "link.state", "link": self.link,
                                      "from": self.state, "to": new})
        self.state = new

    def _load_state(self) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(select(link_state).where(link_state.c.link == self.link)).first()
            self.acked = row.acked_seq if row else 0
            self.inbound_applied = row.inbound_applied if row else 0
            self.known_upto = (row.next_seq - 1) if row else 0
            self.held = set(conn.scalars(select(dead_letters.c.resident_key).where(
                dead_letters.c.link == self.link)).all())
        self.loaded_upto = self.acked
        self._forget_items()
        self._load_more()
        self._publish()

    def _forget_items(self) -> None:
        self.items.clear()
        self.items_bytes = 0

    def _has_room(self, size: int) -> bool:
        """Memory is bounded by count and by bytes (a chunk of a consistency check or a
        send-destination batch is ~100 KB); one item always fits."""
        return not self.items or (len(self.items) < self.cfg.memory_queue
                                  and self.items_bytes + size <= self.cfg.memory_bytes)

    def _keep(self, item: OutboxItem) -> None:
        self.items[item.seq] = item
        self.items_bytes += len(item.payload)
        self.loaded_upto = item.seq

    def _load_more(self) -> None:
        """Read the next rows from the outbox while memory has room (bounded memory):
        their sizes first, then the payloads of as many as fit — a page of big chunks is
        never read whole just to keep one of them."""
        while self.loaded_upto < self.known_upto and self._has_room(0):
            room = min(self.cfg.memory_queue - len(self.items), 500)
            after = outbox.c.seq > self.loaded_upto
            with self.engine.connect() as conn:
                sizes = conn.execute(
                    select(outbox.c.seq, func.length(outbox.c.payload))
                    .where(outbox.c.link == self.link, after)
                    .order_by(outbox.c.seq).limit(room)).all()
                count, total, upto = len(self.items), self.items_bytes, None
                for seq, size in sizes:
                    if count and (count >= self.cfg.memory_queue
                                  or total + size > self.cfg.memory_bytes):
                        break
                    count, total, upto = count + 1, total + size, seq
                if upto is None:
                    return
                rows = conn.execute(
                    select(outbox.c.seq, outbox.c.update_seq, outbox.c.resident_key,
                           outbox.c.payload, outbox.c.enqueued_at, outbox.c.state)
                    .where(outbox.c.link == self.link, after, outbox.c.seq <= upto)
                    .order_by(outbox.c.seq)).all()
            if not rows:
                return
            for r in rows:
                self._keep(OutboxItem(self.link, r.seq, r.update_seq, r.resident_key,
                                      bytes(r.payload), r.enqueued_at))
                if r.state != "pending":
                    self.withdrawn.add(r.seq)

    # ---- messages --------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        handler = self._HANDLERS.get(type(message))
        if handler is None:
            log.warning("link ignored message", extra={"event": "link.unknown_message",
                                                       "link": self.link})
            return None
        return handler(self, message)

    def _on_outbox(self, msg: OutboxAppended) -> None:
        for item in msg.items:
            self.known_upto = max(self.known_upto, item.seq)
            if item.seq == self.loaded_upto + 1 and self._has_room(len(item.payload)):
                self._keep(item)
        if self.loaded_upto < self.known_upto:
            self._load_more()  # rows that did not fit earlier
        self._pump()
        self._publish()

    def _on_connected(self, msg: Connected) -> None:
        if msg.conn_id != self.conn_id or self.state != "connecting":
            return
        self._set_state("handshaking")
        self.session = Session(Role.SENDER, self.municipality_code, self.link,
                               self.cfg.max_frame_bytes)
        self.last_rx = self.clock.seconds()
        self._send(self.session.hello(applied=self.inbound_applied))
        self.inbound_expected = self.inbound_applied + 1
        self._timer("hello_timeout", self.cfg.connect_timeout)

    def _on_connect_failed(self, msg: ConnectFailed) -> None:
        if msg.conn_id != self.conn_id:
            return
        metrics.connect_failures.labels(self.link, msg.stage).inc()
        log.warning("link connect failed", extra={"event": "link.connect_failed",
                                                  "link": self.link, "stage": msg.stage})
        self._fail("connect_" + msg.stage)

    def _on_disconnected(self, msg: Disconnected) -> None:
        if msg.conn_id != self.conn_id:
            return
        if self.state == "handshaking":
            # Closed before the peer's hello: the peer refused our certificate or hello.
            metrics.connect_failures.labels(self.link, "hello").inc()
            log.warning("link closed before hello", extra={"event": "link.connect_failed",
                                                           "link": self.link, "stage": "hello"})
        self._fail("disconnected")

    def _on_bytes(self, msg: BytesIn) -> None:
        if msg.conn_id != self.conn_id or self.session is None:
            return
        self.last_rx = self.clock.seconds()
        try:
            events = self.session.receive_data(msg.data)
        except RemoteProtocolError as err:
            metrics.protocol_errors.labels(self.link, err.code).inc()
            log.warning("link protocol error", extra={"event": "link.protocol_error",
                                                      "link": self.link, "code": err.code})
            self.call_in_reactor(self.transport.close, self.conn_id)
            self._fail("protocol_error")
            return
        for event in events:
            if isinstance(event, Acked):
                self._settle(event.seq)
            elif isinstance(event, Refused):
                self._on_refused(event)
            elif isinstance(event, PeerHello):
                self._on_hello(event)
            elif isinstance(event, Heartbeat) and not event.reply:
                self._send(self.session.heartbeat(reply=True))
            elif isinstance(event, DataFrame):
                self._on_push(event)
            elif isinstance(event, Response):
                self._on_response(event)
        self._pump()
        self._publish()

    def _on_hello(self, hello: PeerHello) -> None:
        if hello.applied > self.known_upto:
            # The peer has applied sequences this hub never issued (our store restored
            # from an older backup?).  Sending would reuse numbers the peer treats as
            # done, and lose those messages: stop and let an operator decide.
            metrics.protocol_errors.labels(self.link, "peer_ahead").inc()
            log.error("peer ahead of our outbox", extra={
                "event": "link.peer_ahead", "link": self.link,
                "peer_applied": hello.applied, "known_upto": self.known_upto})
            self.call_in_reactor(self.transport.close, self.conn_id)
            self._fail("peer_ahead")
            return
        if hello.applied < self.acked:
            # The peer lost what it had applied (restored from a backup?): resend from
            # where it is, reading the rows back from the outbox.
            log.error("peer behind our acknowledged sequence",
                      extra={"event": "link.peer_behind", "link": self.link,
                             "peer_applied": hello.applied, "acked": self.acked})
            self.acked = self.loaded_upto = hello.applied
            self._forget_items()
            self._load_more()
            if self.acked < self.known_upto and self.acked + 1 not in self.items:
                # What it lost was delivered long enough ago to be purged: it cannot be
                # sent again from here.  Stop and let an operator decide.
                metrics.protocol_errors.labels(self.link, "peer_behind_purged").inc()
                log.error("peer behind what the outbox still holds", extra={
                    "event": "link.peer_behind_purged", "link": self.link,
                    "peer_applied": hello.applied})
                self.call_in_reactor(self.transport.close, self.conn_id)
                self._fail("peer_behind_purged")
                return
        else:
            self._settle(hello.applied)
        self.sent_upto = self.acked
        self.blocked_on = None
        self.backoff.reset()
        self._set_state("ready")
        log.info("link ready", extra={"event": "link.ready", "link": self.link,
                                      "peer_applied": hello.applied})
        self._timer("heartbeat", self.cfg.heartbeat_interval)

    def _settle(self, upto: int) -> None:
        if upto <= self.acked:
            return
        now = self.wall_clock()
        delivered = 0
        for seq in range(self.acked + 1, upto + 1):
            item = self.items.pop(seq, None)
            if item is not None:
                self.items_bytes -= len(item.payload)
            self.attempts.pop(seq, None)
            if seq in self.withdrawn:
                self.withdrawn.discard(seq)
            elif item is not None:
                delivered += 1
                metrics.delivery_latency.labels(self.link).observe(max(0.0, now - item.enqueued_at))
        metrics.delivered.labels(self.link).inc(delivered)
        self.acked = upto
        self.sent_upto = max(self.sent_upto, upto)
        if upto > self.loaded_upto:  # the peer is past what we had in memory
            self.loaded_upto = upto
        if self.blocked_on is not None and self.blocked_on <= upto:
            self.blocked_on = None
        self.writer.tell(RecordAck(self.link, upto))
        if self.loaded_upto < self.known_upto and (
                len(self.items) < self.cfg.memory_queue // 2
                and self.items_bytes < self.cfg.memory_bytes // 2):
            self._load_more()

    def _on_refused(self, refusal: Refused) -> None:
        seq = refusal.seq
        if seq <= self.acked or seq not in self.items:
            return
        self.sent_upto = seq - 1  # the peer discards what follows: go back to seq
        item = self.items[seq]
        if not refusal.permanent:
            n = self.attempts[seq] = self.attempts.get(seq, 0) + 1
            if n < self.cfg.max_attempts:
                metrics.retries.labels(self.link, "refused").inc()
                self.blocked_on = seq
                self._timer("retry", self.backoff.next_delay())
                return
            refusal = Refused(seq, True, "too_many_attempts", refusal.code)
        metrics.dead_letters.labels(self.link, refusal.code[:40] or "unknown").inc()
        log.warning("dead letter", extra={"event": "link.dead_letter", "link": self.link,
                                          "seq": seq, "update_seq": item.update_seq,
                                          "code": refusal.code})
        self.held.add(item.resident_key)
        self.withdrawn.add(seq)
        self.unrecorded.add(seq)
        actor = self.actor_ref
        self.writer.tell(RecordDeadLetter(self.link, seq, refusal.code, refusal.reason,
                                          reply=lambda: actor.tell(Recorded((seq,)))))

    def _on_push(self, frame: DataFrame) -> None:
        """A document the peer pushed: into the inbox, then acknowledged (or refused)."""
        assert self.session is not None
        if frame.seq <= self.inbound_applied:
            self._send(self.session.ack(self.inbound_applied))  # a resend: already held
            return
        if frame.seq != self.inbound_expected:
            return  # after a gap; the peer goes back once it sees our acknowledgement
        self.inbound_expected += 1
        decode, kind = INBOUND.get(self.link, (None, f"{self.link}.unexpected"))
        code = None
        doc = None
        if decode is None:
            code = "unexpected_push"
        else:
            try:
                doc = decode(frame.body)
                kind = INBOX_KINDS[type(doc)]
            except BodyError as err:
                code = err.code
        if isinstance(doc, NumberGenerated):
            # A generated 個人番号: record it in the register first (an idempotent
            # change), then in the inbox, then acknowledge.  A crash anywhere in between
            # means the push comes again and the change answers with its first answer.
            try:
                change = number_designation(doc.resident_code, doc.individual_number,
                                            dt.date.fromtimestamp(self.wall_clock()))
            except HubError as err:
                self._record_push(frame, kind, err.code)
                return
            actor, seq, body = self.actor_ref, frame.seq, frame.body
            self.writer.tell(SubmitChanges([change], reply=lambda outcomes: actor.tell(
                Designated(seq, kind, body,
                           outcomes[0].error.code if outcomes[0].error else None))))
            return
        check = None
        if isinstance(doc, ConsistencyResult):
            check = (doc.check_id, doc.compared, doc.held, doc.difference_count)
            metrics.consistency_differences.labels(self.link).set(doc.difference_count)
            metrics.consistency_checks.labels(self.link).inc()
            log.info("consistency result", extra={
                "event": "consistency.result", "link": self.link, "check_id": doc.check_id,
                "compared": doc.compared, "held": doc.held,
                "differences": doc.difference_count})
        self._record_push(frame, kind, code, check)

    def _on_designated(self, msg: Designated) -> None:
        self._record_push(DataFrame(msg.seq, "", msg.body), msg.kind, msg.refused_code)

    def _record_push(self, frame: DataFrame, kind: str, code: str | None,
                     check: tuple[str, int, int, int] | None = None) -> None:
        if code is not None:
            metrics.inbound_refused.labels(self.link, code).inc()
        actor = self.actor_ref
        seq = frame.seq
        self.writer.tell(RecordInbound(self.link, seq, kind, frame.body, code,
                                       reply=lambda: actor.tell(InboundRecorded(seq, code)),
                                       check=check))

    def _on_inbound_recorded(self, msg: InboundRecorded) -> None:
        self.inbound_applied = max(self.inbound_applied, msg.seq)
        metrics.inbound.labels(self.link).inc()
        if self.session is not None and self.state == "ready":
            self._send(self.session.refuse(msg.seq, True, msg.refused_code)
                       if msg.refused_code else self.session.ack(msg.seq))

    def _on_recorded(self, msg: Recorded) -> None:
        self.unrecorded.difference_update(msg.seqs)
        self._pump()
        self._publish()

    # ---- queries (request/response) ------------------------------------------------

    def _on_query(self, msg: SendQuery) -> None:
        if self.state != "ready" or self.session is None:
            metrics.queries.labels(self.link, "link_unavailable").inc()
            msg.reply(None, "link_unavailable")
            return
        self.query_count += 1
        corr = f"q{self.query_count}"
        self.queries[corr] = (msg.reply, self.clock.seconds())
        self._send(self.session.request(corr, msg.body))
        self._timer(f"query:{corr}", self.cfg.query_timeout)

    def _on_response(self, resp: Response) -> None:
        pending = self.queries.pop(resp.corr, None)
        if pending is None:  # answered after its timeout: the caller has moved on
            metrics.queries.labels(self.link, "late").inc()
            return
        reply, sent_at = pending
        metrics.queries.labels(self.link, "answered").inc()
        metrics.query_seconds.labels(self.link).observe(self.clock.seconds() - sent_at)
        reply(resp.body, None)

    def _fail_queries(self, code: str) -> None:
        pending, self.queries = self.queries, {}
        for reply, _ in pending.values():
            metrics.queries.labels(self.link, code).inc()
            reply(None, code)

    def _on_timer(self, msg: Timer) -> None:
        if msg.epoch != self.epoch:
            return
        if msg.name.startswith("query:"):
            pending = self.queries.pop(msg.name[6:], None)
            if pending is not None:
                metrics.queries.labels(self.link, "query_timeout").inc()
                pending[0](None, "query_timeout")
            return
        if msg.name == "reconnect" and self.state == "backoff":
            self._connect()
        elif msg.name == "retry":
            self.blocked_on = None
            self._pump()
        elif msg.name == "hello_timeout" and self.state == "handshaking":
            metrics.connect_failures.labels(self.link, "hello").inc()
            self.call_in_reactor(self.transport.close, self.conn_id)
            self._fail("hello_timeout")
        elif msg.name == "heartbeat" and self.state == "ready" and self.session is not None:
            now = self.clock.seconds()
            if now - self.last_rx > self.cfg.heartbeat_timeout:
                log.warning("peer silent", extra={"event": "link.heartbeat_timeout",
                                                   "link": self.link})
                self.call_in_reactor(self.transport.close, self.conn_id)
                self._fail("heartbeat_timeout")
                return
            if now - self.last_tx >= self.cfg.heartbeat_interval:
                self._send(self.session.heartbeat())
            self._timer("heartbeat", self.cfg.heartbeat_interval)
        self._publish()

    def _on_status(self, _msg: GetStatus) -> dict[str, Any]:
        return {"link": self.link, "state": self.state, "acked": self.acked,
                "sent_upto": self.sent_upto, "known_upto": self.known_upto,
                "in_memory": len(self.items), "in_memory_bytes": self.items_bytes,
                "held_residents": len(self.held)}

    _HANDLERS: dict[type, Callable[[LinkActor, Any], Any]] = {
        OutboxAppended: _on_outbox,
        Connected: _on_connected,
        ConnectFailed: _on_connect_failed,
        Disconnected: _on_disconnected,
        BytesIn: _on_bytes,
        Timer: _on_timer,
        Recorded: _on_recorded,
        InboundRecorded: _on_inbound_recorded,
        Designated: _on_designated,
        SendQuery: _on_query,
        GetStatus: _on_status,
    }

    # ---- sending ---------------------------------------------------------------------

    def _pump(self) -> None:
        """Send (or withdraw) frames up to the window; one reactor call for all."""
        if self.state != "ready" or self.session is None or self.blocked_on is not None:
            return
        limit = min(self.loaded_upto, self.acked + self.cfg.window)
        if self.sent_upto >= limit:
            return
        newly_held = tuple(seq for seq in range(self.sent_upto + 1, limit + 1)
                           if seq not in self.withdrawn
                           and self.items[seq].resident_key in self.held)
        if newly_held:
            self.withdrawn.update(newly_held)
            self.unrecorded.update(newly_held)
            actor = self.actor_ref
            self.writer.tell(HoldMessages(self.link, newly_held,
                                          reply=lambda: actor.tell(Recorded(newly_held))))
        frames: list[bytes] = []
        # In flight is bounded by bytes too (big chunks would otherwise pile up in the
        # transport's buffer); the first frame always goes.
        inflight = sum(len(self.items[s].payload) for s in range(self.acked + 1,
                                                                  self.sent_upto + 1)
                       if s in self.items and s not in self.withdrawn)
        for seq in range(self.sent_upto + 1, limit + 1):
            if seq in self.unrecorded:
                limit = seq - 1  # not before its record has committed
                break
            if seq in self.withdrawn:
                frames.append(self.session.withdraw(seq))
                continue
            payload = self.items[seq].payload
            if inflight and inflight + len(payload) > self.cfg.window_bytes:
                limit = seq - 1
                break
            inflight += len(payload)
            frames.append(self.session.data(seq, payload))
        self.sent_upto = limit
        if frames:
            self._send(b"".join(frames))

    def _send(self, data: bytes) -> None:
        self.last_tx = self.clock.seconds()
        self.call_in_reactor(self.transport.send, self.conn_id, data)

    # ---- connection management ---------------------------------------------------------

    def _connect(self) -> None:
        self._set_state("connecting")
        self.conn_id += 1
        self.epoch += 1
        self.call_in_reactor(self.transport.connect, self.conn_id)

    def _fail(self, cause: str) -> None:
        if self.state in ("backoff", "stopped"):
            return
        self._fail_queries("link_lost")
        self.session = None
        self.blocked_on = None
        self.epoch += 1
        metrics.retries.labels(self.link, "reconnect").inc()
        self._set_state("backoff")
        delay = self.backoff.next_delay()
        log.info("link backing off", extra={"event": "link.backoff", "link": self.link,
                                            "cause": cause, "delay": round(delay, 3)})
        self._timer("reconnect", delay)

    def _timer(self, name: str, delay: float) -> None:
        """Ask the reactor for a timer whose expiry comes back as a ``Timer`` message."""
        self.call_in_reactor(self.clock.callLater, delay, self.actor_ref.tell,
                             Timer(name, self.epoch))

    def _publish(self) -> None:
        depth = self.known_upto - self.acked
        metrics.outbox_depth.labels(self.link).set(depth)
        metrics.link_inflight.labels(self.link).set(max(0, self.sent_upto - self.acked))
        metrics.link_held.labels(self.link).set(len(self.held))
        oldest = self.items.get(self.acked + 1)
        metrics.oldest_age.oldest_enqueued[self.link] = (
            oldest.enqueued_at if oldest is not None else None)
