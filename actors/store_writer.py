"""The store writer: the only writer to the database, with group commit.

Messages pile up in the actor's inbox while a transaction runs; ``on_receive`` takes
each one into a pending batch and commits only when the inbox is empty (or the batch
is full).  Under load one commit carries hundreds of changes, so durability does not
cost a commit per change; when idle, a lone change commits at once.

Threads: this actor's thread is the only one that writes.  Replies to the reactor are
callables built by the reactor side (they use ``reactor.callFromThread``); news of new
outbox rows goes to the link actors with ``tell``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pykka
from sqlalchemy import Engine, delete, insert, select, update

from actors.messages import (
    AckInbox,
    GetStatus,
    HoldMessages,
    OutboxAppended,
    PurgeDelivered,
    PurgeInbox,
    RecordAck,
    RecordAudit,
    RecordDeadLetter,
    RecordInbound,
    RunJob,
    StartJob,
    SubmitChanges,
    Subscribe,
)
from hub import metrics
from hub.domain.errors import UnavailableError
from hub.domain.register import OutboxItem, Outcome, RegisterWriter
from hub.store.tables import audit_log, consistency_checks, dead_letters, inbox, link_state, outbox

log = logging.getLogger("jukihub.store")


class StoreWriter(pykka.ThreadingActor):
    """Single writer; see the module docstring."""

    def __init__(self, engine: Engine, register: RegisterWriter, max_batch: int = 500,
                 wall_clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.engine = engine
        self.register = register
        self.max_batch = max_batch
        self.wall_clock = wall_clock
        self.subscribers: dict[str, Any] = {}
        self._submits: list[SubmitChanges] = []
        self._ops: list[Any] = []
        self._pending = 0  # writes waiting in the two lists above

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Subscribe):
            self.subscribers[message.link] = message.actor
            return None
        if isinstance(message, GetStatus):  # also a barrier: commits what is pending
            self._flush()
            return {"links": sorted(self.subscribers)}
        if isinstance(message, StartJob | RunJob):
            self._flush()  # what came before is committed (and numbered) first
            self._job(message)
            return None
        if isinstance(message, SubmitChanges):
            self._submits.append(message)
            self._pending += len(message.changes)
        elif isinstance(message, RecordAck | RecordDeadLetter | HoldMessages | RecordInbound
                        | AckInbox | PurgeInbox | PurgeDelivered | RecordAudit):
            self._ops.append(message)
            self._pending += 1
        else:
            log.warning("store writer ignored %s", type(message).__name__)
            return None
        if self.actor_inbox.empty() or self._pending >= self.max_batch:
            self._flush()
        return None

    def on_stop(self) -> None:
        self._flush()

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
                by_link: dict[str, list[OutboxItem]] = defaultdict(list)
                for item in items:
                    by_link[item.link].append(item)
                for link, its in by_link.items():
                    if (actor := self.subscribers.get(link)) is not None:
                        actor.tell(OutboxAppended(tuple(its)))
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

    # ---- the group commit ------------------------------------------------------------

    def _flush(self) -> None:
        self._pending = 0
        if self._ops:
            ops, self._ops = self._ops, []
            try:
                self._commit_ops(ops)
            except Exception as exc:
                # Keep them for the next flush: acknowledgements are idempotent (a
                # maximum), and a dead letter's or hold's reply waits for its commit.
                metrics.store_errors.labels("link_state").inc()
                log.error("link-state transaction failed; will retry", extra={
                    "event": "store.error", "txn": "link_state",
                    "error": type(exc).__name__})
                self._ops = ops + self._ops
                self._pending = len(self._ops)
        if self._submits:
            submits, self._submits = self._submits, []
            self._commit_changes(submits)

    def _commit_changes(self, submits: list[SubmitChanges]) -> None:
        changes = [c for s in submits for c in s.changes]
        started = time.perf_counter()
        try:
            outcomes = self.register.apply_batch(changes)
        except Exception as exc:
            metrics.store_errors.labels("changes").inc()
            log.error("store transaction failed; changes refused as unavailable", extra={
                "event": "store.error", "txn": "changes", "count": len(changes),
                "error": type(exc).__name__})
            error = UnavailableError("store_unavailable",
                                     "the store could not commit; retry with the same request id")
            outcomes = [Outcome(c.request_id, error=error, reason="store") for c in changes]
        metrics.store_commit_seconds.labels("changes").observe(time.perf_counter() - started)
        metrics.store_batch_size.labels("changes").observe(len(changes))
        by_link: dict[str, list[OutboxItem]] = defaultdict(list)
        for outcome in outcomes:
            if outcome.error is not None:
                metrics.changes_refused.labels(outcome.reason or outcome.error.code).inc()
            elif outcome.duplicate:
                metrics.changes_repeated.inc()
            else:
                metrics.changes_accepted.labels(outcome.reason).inc()
                for item in outcome.outbox:
                    by_link[item.link].append(item)
        # Committed: now the links may send, and the intake may answer.
        for link, items in by_link.items():
            if (actor := self.subscribers.get(link)) is not None:
                actor.tell(OutboxAppended(tuple(items)))
        i = 0
        for s in submits:
            s.reply(outcomes[i : i + len(s.changes)])
            i += len(s.changes)

    def _commit_ops(self, ops: list[Any]) -> None:
        started = time.perf_counter()
        acks: dict[str, int] = {}
        replies: list[Callable[[], None]] = []
        now = self.wall_clock()
        with self.engine.begin() as conn:
            for op in ops:
                if isinstance(op, RecordAck):
                    acks[op.link] = max(acks.get(op.link, 0), op.seq)
                elif isinstance(op, RecordDeadLetter):
                    row = conn.execute(select(outbox.c.update_seq, outbox.c.resident_key).where(
                        outbox.c.link == op.link, outbox.c.seq == op.seq)).first()
                    if row is not None:
                        conn.execute(insert(dead_letters).values(
                            link=op.link, seq=op.seq, update_seq=row.update_seq,
                            resident_key=row.resident_key, code=op.code[:40],
                            reason=op.reason[:200], created_at=now))
                        conn.execute(update(outbox).where(
                            outbox.c.link == op.link, outbox.c.seq == op.seq).values(
                            state="dead"))
                    replies.append(op.reply)
                elif isinstance(op, RecordInbound):
                    held = conn.scalar(select(inbox.c.id).where(
                        inbox.c.link == op.link, inbox.c.peer_seq == op.seq))
                    if held is None:  # a resend after a reconnect is recorded once
                        key = conn.execute(insert(inbox).values(
                            link=op.link, peer_seq=op.seq, kind=op.kind, body=op.body,
                            received_at=now, state="refused" if op.refused_code else "new",
                            code=op.refused_code)).inserted_primary_key
                        held = key[0] if key is not None else None
                    if op.check is not None:
                        check_id, compared, held_n, differences = op.check
                        conn.execute(update(consistency_checks).where(
                            consistency_checks.c.check_id == check_id,
                            consistency_checks.c.link == op.link).values(
                            state="answered", answered_at=now, compared=compared,
                            held=held_n, differences=differences, inbox_id=held))
                    conn.execute(update(link_state).where(
                        link_state.c.link == op.link,
                        link_state.c.inbound_applied < op.seq).values(inbound_applied=op.seq))
                    replies.append(op.reply)
                elif isinstance(op, AckInbox):
                    row = conn.execute(select(inbox.c.state).where(
                        inbox.c.id == op.item_id)).first()
                    if row is None or row.state not in ("new", "refused"):
                        verdict = "unknown" if row is None else "already"
                    else:
                        verdict = "acknowledged"
                        conn.execute(update(inbox).where(inbox.c.id == op.item_id).values(
                            state="acknowledged", acknowledged_at=now,
                            operator_id=op.operator_id, terminal_id=op.terminal_id))
                        conn.execute(insert(audit_log).values(
                            at=now, operator_id=op.operator_id, terminal_id=op.terminal_id,
                            action="inbox.acknowledge"))
                    replies.append(functools.partial(op.reply, verdict))
                elif isinstance(op, RecordAudit):
                    conn.execute(insert(audit_log).values(
                        at=now, operator_id=op.operator_id, terminal_id=op.terminal_id,
                        action=op.action[:40]))
                    replies.append(functools.partial(op.reply, None))
                elif isinstance(op, PurgeInbox):
                    # Small batches: a purge never holds the store for long.
                    ids = conn.scalars(select(inbox.c.id).where(
                        inbox.c.state == "acknowledged", inbox.c.acknowledged_at < op.before)
                        .order_by(inbox.c.id).limit(op.limit)).all()
                    if ids:
                        conn.execute(delete(inbox).where(inbox.c.id.in_(ids)))
                        metrics.inbox_purged.inc(len(ids))
                elif isinstance(op, PurgeDelivered):
                    acked = {r.link: r.acked_seq for r in conn.execute(select(link_state))}
                    purged = 0
                    for link, upto in acked.items():
                        seqs = conn.scalars(select(outbox.c.seq).where(
                            outbox.c.link == link, outbox.c.seq <= upto,
                            outbox.c.state == "pending", outbox.c.enqueued_at < op.before)
                            .order_by(outbox.c.seq).limit(op.limit - purged)).all()
                        if seqs:
                            conn.execute(delete(outbox).where(outbox.c.link == link,
                                                              outbox.c.seq.in_(seqs)))
                            purged += len(seqs)
                        if purged >= op.limit:
                            break
                    metrics.outbox_purged.inc(purged)
                elif isinstance(op, HoldMessages):
                    conn.execute(update(outbox).where(
                        outbox.c.link == op.link, outbox.c.seq.in_(op.seqs),
                        outbox.c.state == "pending").values(state="held"))
                    replies.append(op.reply)
            for link, seq in acks.items():
                conn.execute(update(link_state).where(
                    link_state.c.link == link, link_state.c.acked_seq < seq).values(
                    acked_seq=seq))
        metrics.store_commit_seconds.labels("link_state").observe(time.perf_counter() - started)
        metrics.store_batch_size.labels("link_state").observe(len(ops))
        for reply in replies:
            reply()
