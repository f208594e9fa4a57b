"""The store writer: the only writer to the database, with group commit.

Messages pile up in the actor's inbox while a transaction runs; ``on_receive`` takes
each one into a pending batch and commits only when the inbox is empty (or the batch
is full).  Everything pending — register changes, acknowledgements, dead letters,
inbox records — goes into *one* transaction, so under load one commit carries hundreds
of writes and durability does not cost a commit per message; when idle, a lone change
commits at once.  A batch that holds only acknowledgements and purges (writes a power
failure may take back without harm: the peer restates what it applied in its next
hello, and a purge runs again) commits without waiting for the disk.

Each kind of message is a line of ``_OPS``: the store method it runs, whether it needs
a durable commit, and what its sender hears when it cannot be written.

**No write can sink another.**  When a group fails, the writer tells the store's
failure from a write's (``Store.unavailable``, and a probe write when in doubt):

- the store is failing (full, read-only, unreachable): the requests in the group are
  answered 503 ``store_unavailable`` (safe to retry), the links' own records
  (acknowledgements, dead letters, holds, pushes) are kept for the next flush, and the
  writer's board says *failing* (``/healthz``, ``/readyz``) until a commit succeeds;
- otherwise the group is split in halves and each half tried again, down to the write
  that fails on its own: that one is refused (``write_failed``, never retried, logged
  by its kind), everything else commits, and nothing it carried stays behind to fail
  the next group.

``ProbeWrite`` (readiness) rewrites the hub's heartbeat row in a transaction of its own,
after whatever is pending.  The writer publishes what it is doing on a ``WriterBoard``.

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
from dataclasses import dataclass
from typing import Any

import pykka

from actors.messages import (
    AckInbox,
    AnchorAudit,
    BackupDue,
    Barrier,
    DecideApproval,
    GetStatus,
    HoldMessages,
    KeepLeases,
    KeepSession,
    Leases,
    MendDifference,
    OpenFeed,
    OutboxAppended,
    ProbeWrite,
    PurgeDelivered,
    PurgeInbox,
    RecordAck,
    RecordAudit,
    RecordDeadLetter,
    RecordExportWritten,
    RecordInbound,
    RecordLogin,
    RelayQuery,
    RunJob,
    StartCheck,
    StartExport,
    StartScheduledChecks,
    StartSendBatch,
    SubmitChanges,
    Subscribe,
    SwitchMaintenance,
    WriteMend,
    tell_if_alive,
)
from actors.writer_health import WriterBoard
from hub.domain import (
    approvals,
    backups,
    consistency,
    dead_letters,
    exports,
    feeds,
    operations,
    send_batches,
    wide_area,
)
from hub.domain.errors import HubError, UnavailableError
from hub.domain.outcomes import OutboxItem, Outcome
from hub.domain.register import Register
from hub.domain.staff import decide_login
from hub.store import AuditEntry, Conn, Store, anchors
from hub.store.inbox import push_row
from hub.support import metrics

log = logging.getLogger("jukihub.store")

Reply = Callable[[], None]


def store_unavailable() -> UnavailableError:
    return UnavailableError("store_unavailable", "the store could not commit; nothing was "
                            "written — retry (with the same request id, for a change)")


def write_failed() -> HubError:
    return HubError("write_failed", "the store could not hold what this request carries; "
                    "nothing was written, and sending it again will not help", status=500)


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
    code, result = m.refused_code, None
    answers: tuple[OutboxItem, ...] = ()
    asks = m.transfer_in is not None or m.copy_request is not None
    if asks:
        w._keep_pushes(conn)  # (the inbox as it stands, for the resend's question)
    if asks and (held := w.store.inbox.find(conn, m.link, m.seq)) is not None:
        code = held.code  # a resend: answered as the first time
    elif m.copy_request is not None and code is None:
        # A 広域交付 request: answered, and recorded as a provision, here, once.
        provided = wide_area.provide(w.register, conn, m.copy_request, now)
        code, result, answers = provided.code, provided.result, provided.items
    elif m.transfer_in is not None:
        # A 転入通知: the 転出 it answers is confirmed here, in the writer, once.
        confirmed = w.register.transfer_in(conn, m.transfer_in)
        result = {"move_out": confirmed.state,
                  "move_out_update_seq": confirmed.move_out_update_seq,
                  "confirmed_date": confirmed.confirmed_date.isoformat()
                  if confirmed.confirmed_date else None}
        code = "no_matching_move_out" if confirmed.state == "no_matching_move_out" else None
        log.info("transfer-in notice", extra={"event": "moves.transfer_in",
                                              "state": confirmed.state,
                                              "update_seq": confirmed.move_out_update_seq})
    if (a := m.check) is not None:  # the check's answer names its inbox item
        w._keep_pushes(conn)  # (kept in the order they came)
        item_id = w.store.inbox.record(conn, m.link, m.seq, m.kind, m.body, code, now, result)
        w.store.jobs.check_answered(conn, m.link, a.check_id, a.compared, a.held,
                                    a.differences, item_id, now)
    else:  # written with the others of this transaction, at the end
        w.pushes.append(push_row(m.link, m.seq, m.kind, m.body, code, now, result))
    w.inbound[m.link] = max(w.inbound.get(m.link, 0), m.seq)  # written once, at the end
    if answers:  # after the commit: the answer to its link, then the push acknowledged
        def after_commit() -> None:
            w._announce(answers)
            m.reply(code)
        return after_commit
    return functools.partial(m.reply, code)


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
    verdict = decide_login(w.store, conn, m.user_id, m.password_ok, m.lockout, now)
    if verdict.ok and m.session is not None:
        w.store.sessions.open(conn, m.session[0], m.user_id, m.session[1], now)
    w.store.audit.record(conn, [dataclasses.replace(m.entry, at=now, result=verdict.reason)])
    return functools.partial(m.reply, verdict)


def _session(w: StoreWriter, conn: Conn, m: KeepSession, _now: float) -> None:
    sessions = w.store.sessions
    if m.what == "touch":
        sessions.touch(conn, m.digest, m.at)
    elif m.what == "end":
        sessions.end(conn, m.digest)
    elif m.what == "end_user":
        sessions.end_user(conn, m.user_id)
    else:
        sessions.prune(conn, m.idle_since, m.started_before)


def _leases(w: StoreWriter, conn: Conn, m: KeepLeases, now: float) -> Reply:
    """Claim or give up this hub's links (``hub/store/leases.py``), in the writer's own
    transaction under the store's write lock, so no other hub's claim interleaves."""
    leases = w.store.leases
    if m.release:
        leases.release(conn, m.instance)
        held: dict[str, int] = {}
    else:
        held = leases.claim(conn, m.links, m.owner, m.instance, m.seconds,
                            leases.now(conn, now))
    found = Leases(held, w.register.maintenance)
    return functools.partial(m.reply, found)


def _relay(w: StoreWriter, conn: Conn, m: RelayQuery, now: float) -> Reply | None:
    """A query relayed to the hub that owns its link, its answer, and their rows."""
    queries = w.store.link_queries
    if m.what == "ask":
        assert m.body is not None and m.reply is not None
        return functools.partial(m.reply, queries.ask(conn, m.link, m.body, now))
    if m.what == "answer":
        queries.answer(conn, m.query_id, m.body, m.code, now)
    elif m.what == "forget":
        queries.forget(conn, m.ids)
    else:
        queries.purge(conn, m.before)
    return None


def _purge_inbox(w: StoreWriter, conn: Conn, m: PurgeInbox, _now: float) -> None:
    # Small batches: a purge never holds the store for long.
    metrics.inbox_purged.inc(w.store.inbox.purge(conn, m.before, m.limit))


def _purge_delivered(w: StoreWriter, conn: Conn, m: PurgeDelivered, _now: float) -> None:
    metrics.outbox_purged.inc(w.store.outbox.purge_delivered(conn, m.before, m.limit))


def _fenced_off(op: Any) -> None:
    """A record of a link this hub no longer owns (another hub's actor has it): not
    written, and its sender — which has stopped sending on that link — is not answered."""
    metrics.fenced_writes.labels(op.link).inc()
    log.warning("a record of a link owned by another hub was not written", extra={
        "event": "store.fenced_off", "link": op.link, "op": type(op).__name__})


def _log_committed(outcome: Outcome) -> None:
    """The messages a request caused, under its correlation id (keys only)."""
    first = outcome.outbox[0]
    # (Not the request id: the hub's own, for a designation, is made of the resident's
    # 住民票コード.)
    log.info("committed", extra={
        "event": "register.committed", "correlation_id": first.correlation_id,
        "update_seq": first.update_seq,
        "messages": [f"{i.link}:{i.seq}" for i in outcome.outbox]})


@dataclass(frozen=True, slots=True)
class _Op:
    """A kind of write: the function that writes it, whether its commit must reach the
    disk before replies, whether it is kept for the next flush when the store fails (a
    link's own record: the link waits for it), and what its sender hears when it
    cannot be written (``None``: nobody waits for an answer)."""

    write: Callable[..., Reply | None]
    durable: bool
    kept: bool = False
    refusal: Callable[[Any, HubError], Reply | None] | None = None


def _tell_error(m: Any, error: HubError) -> Reply | None:
    return functools.partial(m.reply, error) if m.reply is not None else None


_OPS: dict[type, _Op] = {
    RecordAck: _Op(_ack, False, kept=True),
    PurgeInbox: _Op(_purge_inbox, False),
    PurgeDelivered: _Op(_purge_delivered, False),
    RecordDeadLetter: _Op(_dead_letter, True, kept=True),
    HoldMessages: _Op(_hold, True, kept=True),
    RecordInbound: _Op(_inbound, True, kept=True),
    AckInbox: _Op(_ack_inbox, True, refusal=_tell_error),
    RecordAudit: _Op(_audit, True, refusal=_tell_error),
    RecordLogin: _Op(_login, True, refusal=_tell_error),
    # A logout is on disk before the caller hears of it (its 操作ログ entry follows it
    # through this writer); a touch or a prune rides along with it.
    KeepSession: _Op(_session, True),
    AnchorAudit: _Op(_anchor, False),
    # Durable: a renewal a crash of the database took back would leave the lease
    # shorter than the hub believes.
    KeepLeases: _Op(_leases, True, refusal=lambda m, _e: functools.partial(m.reply, None)),
    # Not durable: a relayed query lost in a crash is answered by its timeout.
    RelayQuery: _Op(_relay, False, refusal=lambda m, _e: functools.partial(m.reply, None)
                    if m.reply is not None else None),
}
# ---- the long jobs: what each message that starts one does, in the store writer ------
# (writer, message, now) -> (the reply's value, the job's first slice or None)


def _decide_approval(w: StoreWriter, m: DecideApproval, now: float) -> tuple[Any, Any]:
    then: dict[str, approvals.Decided] = {"export": exports.decided, "feed": feeds.decided}
    if m.send_config is not None:
        then["send_batch"] = send_batches.decided(m.send_config)
    return approvals.decide(w.register, then, m.approval_id, m.decision, m.operator_id,
                            m.terminal_id, now)


_JOBS: dict[type, Callable[[Any, Any, float], tuple[Any, Any]]] = {
    StartCheck: lambda w, m, now: consistency.start(
        w.register, m.links, m.operator_id, m.terminal_id, m.size, now),
    StartScheduledChecks: lambda w, m, now: consistency.start_scheduled(
        w.register, m.links, m.every, m.size, now),
    MendDifference: lambda w, m, now: consistency.mend(
        w.register, m.check_id, m.resident_code, m.action, m.reason, m.operator_id,
        m.terminal_id, now),
    StartSendBatch: lambda w, m, now: send_batches.start(
        w.register, m.config, m.residents, m.print_class, m.operator_id, m.terminal_id, now,
        m.bulk_threshold),
    DecideApproval: _decide_approval,
    StartExport: lambda w, m, now: exports.start(
        w.register, m.kind, m.operator_id, m.terminal_id, now, m.bulk_threshold),
    RecordExportWritten: lambda w, m, now: exports.record_written(
        w.register, m.export_id, m.text, m.people, m.operator_id, m.terminal_id, now),
    OpenFeed: lambda w, m, now: feeds.open_feed(
        w.register, m.department, m.certificate, now, m.bulk_threshold),
    SwitchMaintenance: lambda w, m, _now: (operations.switch_maintenance(
        w.store, m.on, m.reason, m.operator_id, m.terminal_id, m.at), None),
    WriteMend: lambda w, m, now: (dead_letters.mend(w.register, m.mend, now), None),
    BackupDue: lambda w, m, now: (backups.due(w.store, m.folder, m.every, now), None),
}

# A link's own records: written only under the token of the link's current lease.
_FENCED = frozenset({RecordAck, RecordDeadLetter, HoldMessages, RecordInbound})
# Writes that neither read nor take the inbox: the pushes set aside may wait past them.
_AFTER_PUSHES = frozenset({RecordAck, RecordInbound})


class _Group:
    """One flush's writes, in order — the ops, then the changes — and what became of
    each: its reply (an op) or its outcome (a change)."""

    def __init__(self, ops: list[Any], changes: list[Any]) -> None:
        self.ops, self.changes = ops, changes
        self.replies: dict[int, Reply] = {}
        self.outcomes: dict[int, Outcome] = {}
        self.kept: list[Any] = []       # link records for the next flush
        self.store_down = False

    def size(self) -> int:
        return len(self.ops) + len(self.changes)

    def split(self, part: list[int]) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
        n = len(self.ops)
        return ([(i, self.ops[i]) for i in part if i < n],
                [(i, self.changes[i - n]) for i in part if i >= n])


_WRITER_WAIT = metrics.intake_hop_seconds.labels("writer_wait")
_COMMIT = metrics.intake_hop_seconds.labels("commit")


class StoreWriter(pykka.ThreadingActor):
    """Single writer; see the module docstring."""

    def __init__(self, store: Store, register: Register, max_batch: int = 500,
                 wall_clock: Callable[[], float] = time.time,
                 board: WriterBoard | None = None) -> None:
        super().__init__()
        self.store = store
        self.register = register
        self.max_batch = max_batch
        self.wall_clock = wall_clock
        self.board = board if board is not None else WriterBoard(time.monotonic)
        self.subscribers: dict[str, Any] = {}
        self.anchored = 0  # the operation log's entry last anchored
        self.acks: dict[str, int] = {}  # link -> highest acknowledgement of this flush
        self.inbound: dict[str, int] = {}  # link -> highest push of the peer's kept in it
        self.pushes: list[tuple[object, ...]] = []  # inbox rows of this flush
        self._submits: list[SubmitChanges] = []
        self._ops: list[Any] = []
        self._pending = 0  # writes waiting in the two lists above
        for txn in ("group", "probe", "job"):  # their series exist from the start
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
        elif kind is Barrier:
            self._flush()
            message.reply()
            return None
        elif kind is ProbeWrite:
            self._flush()  # what came before first: the probe is a write of its own
            message.reply(self._probe(message.name))
            self._flush()  # what was kept while the store failed, now it may work
            return None
        elif kind in _JOBS or kind is RunJob:
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
        group = _Group(ops, [c for s in submits for c in s.changes])
        began = time.perf_counter()
        self._commit(group, list(range(group.size())))
        ended = time.perf_counter()
        for s in submits:
            _WRITER_WAIT.observe(began - s.told)
            _COMMIT.observe(ended - began)
        if group.kept:  # the store failed: the links' records wait for the next flush
            self._ops = group.kept + self._ops
            self._pending += len(group.kept)
        metrics.store_batch_size.labels("group").observe(group.size())
        outcomes = [group.outcomes[len(ops) + i] for i in range(len(group.changes))]
        self._committed([group.replies[i] for i in sorted(group.replies)], submits, outcomes)

    def _commit(self, group: _Group, part: list[int]) -> None:
        """Write the items ``part`` of ``group`` in one transaction; if it fails, find
        out why (see the module docstring) and answer each item accordingly."""
        if group.store_down:
            self._unavailable(group, part)
            return
        error = self._try(group, part)
        if error is None:
            return
        metrics.store_errors.labels("group").inc()
        if self.store.unavailable(error) or (len(part) == 1 and self._probe() is not None):
            group.store_down = True
            self.board.failed(type(error).__name__)
            log.error("store transaction failed; the store is unavailable", extra={
                "event": "store.error", "txn": "group", "error": type(error).__name__,
                "writes": len(part)})
            self._unavailable(group, part)
        elif len(part) == 1:
            self._refuse_alone(group, part[0], error)
        else:
            half = len(part) // 2
            self._commit(group, part[:half])
            self._commit(group, part[half:])

    def _try(self, group: _Group, part: list[int]) -> Exception | None:
        ops, changes = group.split(part)
        durable = bool(changes) or any(_OPS[type(op)].durable for _, op in ops)
        self.board.began()
        try:
            with self.store.transaction("group", durable=durable) as conn, \
                    self.register.writing(conn):
                replies = self._write_ops(conn, ops)
                outcomes = self.register.apply(conn, [c for _, c in changes]) if changes else []
        except Exception as exc:
            self.board.idle()
            return exc
        self.board.committed()
        group.replies.update(replies)
        group.outcomes.update((i, o) for (i, _), o in zip(changes, outcomes, strict=True))
        return None

    def _write_ops(self, conn: Conn, ops: list[tuple[int, Any]]) -> dict[int, Reply]:
        now = self.wall_clock()
        self.acks, self.inbound, self.pushes = {}, {}, []
        replies = {}
        tokens: dict[str, int] | None = None
        for i, op in ops:
            if type(op) in _FENCED:
                if tokens is None:  # in this transaction, under the store's write lock
                    tokens = self.store.leases.tokens(conn)
                if tokens.get(op.link) != op.token:
                    _fenced_off(op)
                    continue
            if self.pushes and type(op) not in _AFTER_PUSHES:
                self._keep_pushes(conn)  # what comes next may read the inbox
            reply = _OPS[type(op)].write(self, conn, op, now)
            if reply is not None:
                replies[i] = reply
        self.store.link_state.advance(conn, self.acks)
        self._keep_pushes(conn)
        self.store.link_state.advance_inbound(conn, self.inbound)
        return replies

    def _keep_pushes(self, conn: Conn) -> None:
        """The pushes ``_inbound`` set aside, into the inbox in one statement."""
        self.store.inbox.record_many(conn, self.pushes)
        self.pushes = []

    def _unavailable(self, group: _Group, part: list[int]) -> None:
        """The store failed these writes: requests hear 503, links' records wait."""
        ops, changes = group.split(part)
        for i, op in ops:
            kind = _OPS[type(op)]
            if kind.kept:
                group.kept.append(op)
            elif kind.refusal is not None and (reply := kind.refusal(op, store_unavailable())):
                group.replies[i] = reply
        for i, change in changes:
            group.outcomes[i] = Outcome(change.request_id, error=store_unavailable(),
                                        reason="store")

    def _refuse_alone(self, group: _Group, i: int, error: Exception) -> None:
        """A write that fails on its own while the store works: refused, not kept."""
        self.board.refused_alone()
        ops, changes = group.split([i])
        what = type(ops[0][1]).__name__ if ops else "change"
        metrics.store_writes_refused.labels(what).inc()
        log.error("a write failed on its own and was refused", extra={
            "event": "store.write_refused", "op": what, "error": type(error).__name__,
            "correlation_id": changes[0][1].correlation_id if changes else None})
        if ops:
            kind = _OPS[type(ops[0][1])]
            if kind.refusal is not None and (reply := kind.refusal(ops[0][1], write_failed())):
                group.replies[i] = reply
        else:
            group.outcomes[i] = Outcome(changes[0][1].request_id, error=write_failed(),
                                        reason="write_failed")

    def _probe(self, name: str = "writer") -> str | None:
        """Rewrite the heartbeat row of ``name`` in a transaction of its own: ``None``
        once committed, else the error's type name (the store is failing)."""
        self.board.began()
        try:
            with self.store.transaction("probe") as conn:
                self.store.heartbeat.beat(conn, name, self.wall_clock())
        except Exception as exc:
            metrics.store_errors.labels("probe").inc()
            self.board.failed(type(exc).__name__)
            return type(exc).__name__
        self.board.committed()
        return None

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

    def _job(self, msg: Any) -> None:
        """One transaction of a long job (its start, ``_JOBS``, or a ``RunJob`` slice);
        then the next slice goes to the back of the mailbox, so changes that arrived
        meanwhile commit between slices.  A start that fails for want of the store is
        answered ``None`` (503, try again); one that fails on its own, ``write_failed``."""
        now = self.wall_clock()
        nxt: Any = None
        starting = type(msg) is not RunJob
        self.board.began()
        try:
            if starting:
                value, nxt = _JOBS[type(msg)](self, msg, now)
                self.board.committed()
                msg.reply(value)
            else:
                items, nxt = msg.slice.build(self.register, now)
                self.board.committed()
                self._announce(items)
        except Exception as exc:
            metrics.store_errors.labels("job").inc()
            down = self.store.unavailable(exc) or self._probe() is not None
            if down:
                self.board.failed(type(exc).__name__)
            else:
                self.board.refused_alone()
            log.error("job transaction failed", extra={
                "event": "store.error", "txn": "job", "error": type(exc).__name__,
                "job": type(msg.slice if not starting else msg).__name__,
                "store_unavailable": down})
            if starting:
                msg.reply(None if down else write_failed())
                return
            if msg.slice.attempts >= 3:
                log.error("job abandoned", extra={"event": "store.job_abandoned",
                                                  "job": type(msg.slice).__name__})
                return
            nxt = msg.slice.again()  # after what is queued (a busy or restarting store)
        if nxt is not None:
            self.actor_ref.tell(RunJob(nxt))
