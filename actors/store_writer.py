"""The store writer: the only writer to the database, with group commit.

Messages pile up in the actor's inbox while a transaction runs; ``on_receive`` takes
each one into a pending batch and commits only when the inbox is empty (or the batch
is full).  Everything pending — register changes, acknowledgements, dead letters,
inbox records — goes into *one* transaction, so under load one commit carries hundreds
of writes and durability does not cost a commit per message; when idle, a lone change
commits at once.  A batch that holds only acknowledgements and purges (writes a power
failure may take back without harm: the peer restates what it applied in its next
hello, and a purge runs again) commits without waiting for the disk.

Each kind of message is a line of ``_OPS``: the store method it runs and whether it
needs a durable commit.  A failed group is retried in parts: the link-state writes on
their own (kept for the next flush if they fail again), the changes one transaction
each (``Register.apply_batch``).

Threads: this actor's thread is the only one that writes.  Replies are callables built
by whoever asked (they cross threads themselves: ``reactor.callFromThread`` for the
reactor, ``tell`` for an actor) and are called only after the commit; news of new
outbox rows goes to the link actors with ``tell``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import pykka

from actors.messages import (
    AckInbox,
    AnchorAudit,
    GetStatus,
    HoldMessages,
    OutboxAppended,
    PurgeDelivered,
    PurgeInbox,
    RecordAck,
    RecordAudit,
    RecordDeadLetter,
    RecordInbound,
    RecordLogin,
    RunJob,
    StartJob,
    SubmitChanges,
    Subscribe,
    tell_if_alive,
)
from hub import metrics
from hub.domain.errors import UnavailableError
from hub.domain.outcomes import OutboxItem, Outcome
from hub.domain.register import Register
from hub.store import AuditEntry, Conn, Store, anchors

log = logging.getLogger("jukihub.store")

Reply = Callable[[], None]


# ---- one function per kind of write: (writer, connection, message, now) -> reply -----


def _ack(w: StoreWriter, _conn: Conn, m: RecordAck, _now: float) -> None:
    w.acks[m.link] = max(w.acks.get(m.link, 0), m.seq)  # written once, at the end


def _dead_letter(w: StoreWriter, conn: Conn, m: RecordDeadLetter, now: float) -> Reply:
    w.store.dead_letters.record(conn, m.link, m.seq, m.code, m.reason, now)
    return m.reply


def _hold(w: StoreWriter, conn: Conn, m: HoldMessages, _now: float) -> Reply:
    w.store.outbox.hold(conn, m.link, m.seqs)
    return m.reply


def _inbound(w: StoreWriter, conn: Conn, m: RecordInbound, now: float) -> Reply:
    item_id = w.store.inbox.record(conn, m.link, m.seq, m.kind, m.body, m.refused_code, now)
    if (a := m.check) is not None:
        w.store.jobs.check_answered(conn, m.link, a.check_id, a.compared, a.held,
                                    a.differences, item_id, now)
    w.store.link_state.advance_inbound(conn, m.link, m.seq)
    return m.reply


def _ack_inbox(w: StoreWriter, conn: Conn, m: AckInbox, now: float) -> Reply:
    verdict = w.store.inbox.acknowledge(conn, m.item_id, m.operator_id, m.terminal_id, now)
    if verdict == "acknowledged":
        w.store.audit.record(conn, [AuditEntry(now, m.operator_id, m.terminal_id,
                                               "inbox.acknowledge", str(m.item_id))])
    return functools.partial(m.reply, verdict)


def _audit(w: StoreWriter, conn: Conn, m: RecordAudit, now: float) -> Reply | None:
    entry = m.entry if m.entry.at else dataclasses.replace(m.entry, at=now)
    w.store.audit.record(conn, [entry])
    return functools.partial(m.reply, None) if m.reply is not None else None


def _anchor(w: StoreWriter, conn: Conn, m: AnchorAudit, now: float) -> Reply:
    """The log's head to the anchor file, outside the database, once committed (the
    writer is the log's only appender, so the head it reads is the newest)."""
    head_id, head_hash = w.store.audit.head(conn)

    def after_commit() -> None:
        if head_id and head_id != w.anchored:
            anchors.append(m.path, anchors.Anchor(now, head_id, head_hash))
            w.anchored = head_id
            metrics.audit_anchor.info({"id": str(head_id), "digest": head_hash})
            metrics.audit_anchored.set(head_id)

    return after_commit


def _login(w: StoreWriter, conn: Conn, m: RecordLogin, now: float) -> Reply:
    w.store.accounts.record_login(conn, m.user_id, m.failed_logins, m.locked_until,
                                  now if m.succeeded else None)
    w.store.audit.record(conn, [dataclasses.replace(m.entry, at=now)])
    return functools.partial(m.reply, None)


def _purge_inbox(w: StoreWriter, conn: Conn, m: PurgeInbox, _now: float) -> None:
    # Small batches: a purge never holds the store for long.
    metrics.inbox_purged.inc(w.store.inbox.purge(conn, m.before, m.limit))


def _purge_delivered(w: StoreWriter, conn: Conn, m: PurgeDelivered, _now: float) -> None:
    metrics.outbox_purged.inc(w.store.outbox.purge_delivered(conn, m.before, m.limit))


def _log_committed(outcome: Outcome) -> None:
    """The messages a request caused, under its correlation id (keys only)."""
    first = outcome.outbox[0]
    # (Not the request id: the hub's own, for a designation, is made of the resident's
    # 住民票コード.)
    log.info("committed", extra={
        "event": "register.committed", "correlation_id": first.correlation_id,
        "update_seq": first.update_seq,
        "messages": [f"{i.link}:{i.seq}" for i in outcome.outbox]})


# message type -> (its write, whether its commit must reach the disk before replies)
_OPS: dict[type, tuple[Callable[..., Reply | None], bool]] = {
    RecordAck: (_ack, False),
    PurgeInbox: (_purge_inbox, False),
    PurgeDelivered: (_purge_delivered, False),
    RecordDeadLetter: (_dead_letter, True),
    HoldMessages: (_hold, True),
    RecordInbound: (_inbound, True),
    AckInbox: (_ack_inbox, True),
    RecordAudit: (_audit, True),
    RecordLogin: (_login, True),
    AnchorAudit: (_anchor, False),
}


class StoreWriter(pykka.ThreadingActor):
    """Single writer; see the module docstring."""

    def __init__(self, store: Store, register: Register, max_batch: int = 500,
                 wall_clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.store = store
        self.register = register
        self.max_batch = max_batch
        self.wall_clock = wall_clock
        self.subscribers: dict[str, Any] = {}
        self.anchored = 0  # the operation log's entry last anchored
        self.acks: dict[str, int] = {}  # link -> highest acknowledgement of this flush
        self._submits: list[SubmitChanges] = []
        self._ops: list[Any] = []
        self._pending = 0  # writes waiting in the two lists above
        for txn in ("group", "link_state", "job"):  # their series exist from the start
            metrics.store_errors.labels(txn)

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is SubmitChanges:
            self._submits.append(message)
            self._pending += len(message.changes)
        elif kind in _OPS:
            self._ops.append(message)
            self._pending += 1
        elif kind is Subscribe:
            self.subscribers[message.link] = message.actor
            return None
        elif kind is GetStatus:  # also a barrier: commits what is pending
            self._flush()
            return {"links": sorted(self.subscribers)}
        elif kind in (StartJob, RunJob):
            self._flush()  # what came before is committed (and numbered) first
            self._job(message)
            return None
        else:
            log.warning("store writer ignored %s", kind.__name__)
            return None
        if self._pending >= self.max_batch or self.actor_inbox.empty():
            self._flush()
        return None

    def on_stop(self) -> None:
        self._flush()

    # ---- the group commit ------------------------------------------------------------

    def _flush(self) -> None:
        ops, self._ops = self._ops, []
        submits, self._submits = self._submits, []
        self._pending = 0
        if not ops and not submits:
            return
        changes = [c for s in submits for c in s.changes]
        durable = bool(changes) or any(_OPS[type(op)][1] for op in ops)
        snapshot = self.register.numbers.snapshot()
        try:
            with self.store.transaction("group", durable=durable) as conn:
                replies = self._write_ops(conn, ops)
                outcomes = self.register.apply(conn, changes) if changes else []
        except Exception as exc:
            self.register.numbers.restore(snapshot)
            metrics.store_errors.labels("group").inc()
            log.error("group transaction failed; retried in parts", extra={
                "event": "store.error", "txn": "group", "error": type(exc).__name__})
            replies = self._ops_alone(ops)
            outcomes = self._changes_alone(changes)
        metrics.store_batch_size.labels("group").observe(len(ops) + len(changes))
        self._committed(replies, submits, outcomes)

    def _write_ops(self, conn: Conn, ops: list[Any]) -> list[Reply]:
        now = self.wall_clock()
        self.acks = {}
        replies = []
        for op in ops:
            reply = _OPS[type(op)][0](self, conn, op, now)
            if reply is not None:
                replies.append(reply)
        self.store.link_state.advance(conn, self.acks)
        return replies

    def _ops_alone(self, ops: list[Any]) -> list[Reply]:
        if not ops:
            return []
        try:
            with self.store.transaction("group") as conn:
                return self._write_ops(conn, ops)
        except Exception as exc:
            # Kept for the next flush: acknowledgements are idempotent (a maximum), and
            # a dead letter's or hold's reply waits for its commit.
            metrics.store_errors.labels("link_state").inc()
            log.error("link-state transaction failed; will retry", extra={
                "event": "store.error", "txn": "link_state", "error": type(exc).__name__})
            self._ops = ops + self._ops
            self._pending += len(ops)
            return []

    def _changes_alone(self, changes: list[Any]) -> list[Outcome]:
        if not changes:
            return []
        try:
            return self.register.apply_batch(changes)
        except Exception as exc:
            log.error("store transaction failed; changes refused as unavailable", extra={
                "event": "store.error", "txn": "changes", "count": len(changes),
                "error": type(exc).__name__})
            error = UnavailableError("store_unavailable",
                                     "the store could not commit; retry with the same request id")
            return [Outcome(c.request_id, error=error, reason="store") for c in changes]

    def _committed(self, replies: list[Reply], submits: list[SubmitChanges],
                   outcomes: list[Outcome]) -> None:
        """After the commit: the links may send, the callers may be answered."""
        new: list[OutboxItem] = []
        logging_ = log.isEnabledFor(logging.INFO)
        for outcome in outcomes:
            if outcome.error is not None:
                metrics.changes_refused.labels(outcome.reason or outcome.error.code).inc()
            elif outcome.duplicate:
                metrics.changes_repeated.inc()
            else:
                metrics.changes_accepted.labels(outcome.reason).inc()
                new.extend(outcome.outbox)
                if logging_ and outcome.outbox:
                    _log_committed(outcome)
        self._announce(new)
        for reply in replies:
            reply()
        i = 0
        for s in submits:
            s.reply(outcomes[i : i + len(s.changes)])
            i += len(s.changes)

    def _announce(self, items: Iterable[OutboxItem]) -> None:
        by_link: dict[str, list[OutboxItem]] = defaultdict(list)
        for item in items:
            by_link[item.link].append(item)
        for link, its in by_link.items():
            if (actor := self.subscribers.get(link)) is not None:
                tell_if_alive(actor, OutboxAppended(tuple(its)))

    # ---- long jobs, a slice per message ----------------------------------------------

    def _job(self, msg: StartJob | RunJob) -> None:
        """One transaction of a long job; then the next slice goes to the back of the
        mailbox, so changes that arrived meanwhile commit between slices."""
        now = self.wall_clock()
        nxt: Any = None
        try:
            if isinstance(msg, StartJob):
                value, nxt = msg.start(self.register, now)
                msg.reply(value)
            else:
                items, nxt = msg.slice.build(self.register, now)
                self._announce(items)
        except Exception as exc:
            metrics.store_errors.labels("job").inc()
            log.error("job transaction failed", extra={
                "event": "store.error", "txn": "job", "error": type(exc).__name__})
            if isinstance(msg, StartJob):
                msg.reply(None)
                return
            if msg.slice.attempts >= 3:
                log.error("job abandoned", extra={"event": "store.job_abandoned",
                                                  "job": type(msg.slice).__name__})
                return
            nxt = msg.slice.again()  # after what is queued (a busy or restarting store)
        if nxt is not None:
            self.actor_ref.tell(RunJob(nxt))
