"""What operations staff use: ``/readyz``, ``/v1/status``, maintenance mode, the
intake's gate (maintenance and backpressure), and the 操作ログ search for auditors.

``Gate`` lives on the hub's reactor thread.  Every quarter second (and at once when
maintenance mode is switched) it decides whether the intake takes changes
(``hub.domain.operations.intake_closed``, from the maintenance flag and the links'
outbox depths on ``metrics.link_board``) and, when that changes, sets it on the hub's
own ``Intake`` and sends it to the intake worker processes, which answer 503 with
Retry-After before any change reaches the store writer.  The hub checks it again
before the store writer (``LocalBackend.submit``), so a change that was on its way
when the gate shut is refused too: nothing is written while it is shut.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import pykka
from twisted.internet import defer, task

from actors.messages import ProbeWrite, SwitchMaintenance
from hub.api.context import Answer, Api, Call
from hub.api.jobs import start_job
from hub.api.sessions import audit
from hub.domain import operations as ops
from hub.store import Flag
from hub.support import metrics

log = logging.getLogger("jukihub.operations")


class Gate:
    """See the module docstring.  Reactor thread only."""

    def __init__(self, api: Api, maintenance: Flag | None,
                 broadcast: Callable[[ops.Closed | None], defer.Deferred[None]] | None,
                 ) -> None:
        self.api, self.maintenance, self.broadcast = api, maintenance, broadcast
        self.limit = api.settings.operations.outbox_limit
        self.loop: task.LoopingCall | None = None
        self.refresh()

    def start(self) -> None:
        self.loop = task.LoopingCall(self.refresh)
        self.loop.clock = self.api.reactor
        self.loop.start(0.25, now=False)

    def stop(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def switched(self, flag: Flag | None) -> None:
        self.maintenance = flag
        self.refresh()

    def refresh(self) -> None:
        depths = {link: f.depth for link, f in metrics.link_board.links.items()}
        closed = ops.intake_closed(self.maintenance, depths, self.limit)
        intake = self.api.intake
        # The gauge every time, not only on a change: true from the first scrape.
        metrics.intake_open.set(0 if closed else 1)
        if closed == intake.closed:
            return
        intake.closed = closed

        def said(_: Any = None) -> None:  # once every intake process applies it
            log.warning("intake closed" if closed else "intake open", extra={
                "event": "intake.closed" if closed else "intake.open",
                "code": closed.code if closed else None})

        if self.broadcast is not None:
            self.broadcast(closed).addCallback(said)
        else:
            said()


# ---- /healthz and /readyz ---------------------------------------------------------------


def health(api: Api, _call: Call) -> Answer:
    """Alive: the intake answers (this is it) and the store writer is neither stopped,
    wedged nor failing (``actors.writer_health``).  Reads nothing."""
    trouble = api.writer_board.trouble(api.settings.operations.writer_stall)
    if trouble is not None:
        return 503, {"status": "unhealthy", "detail": trouble}
    return 200, {"status": "ok"}


class Readiness:
    """``/readyz``'s checks, run every ``readiness_cache`` seconds (from the hub's start,
    so ``jukihub_ready`` is true from the first scrape) and on a probe that finds the
    result older; probes that come meanwhile share one run.  Reactor thread only."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.cfg = api.settings.operations
        self.name = socket.gethostname()  # the heartbeat row this hub rewrites
        self.cached: tuple[float, Answer] | None = None
        self.pending: list[defer.Deferred[Answer]] = []
        self.loop: task.LoopingCall | None = None

    def start(self) -> defer.Deferred[Answer]:
        """Check now and every ``readiness_cache`` seconds; fires with the first result."""
        first = self.check()
        self.loop = task.LoopingCall(self.check)
        self.loop.clock = self.api.reactor
        self.loop.start(self.cfg.readiness_cache, now=False)
        return first

    def stop(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def answer(self) -> defer.Deferred[Answer]:
        """The checks as last run (run again if older than ``readiness_cache``), with
        each link's state as it is now."""
        now = self.api.reactor.seconds()
        if self.cached is not None and now - self.cached[0] < self.cfg.readiness_cache:
            return defer.succeed(_with_links(self.cached[1]))
        return self.check().addCallback(_with_links)

    def check(self) -> defer.Deferred[Answer]:
        """A run of the checks (or the one under way)."""
        d: defer.Deferred[Answer] = defer.Deferred()
        self.pending.append(d)
        if len(self.pending) == 1:
            self._store_check().addCallback(self._done)
        return d

    def _store_check(self) -> defer.Deferred[dict[str, Any]]:
        """A write of this hub's heartbeat row through the store writer, in a
        transaction of its own, within ``readiness_timeout``."""
        started = time.perf_counter()
        reactor = self.api.reactor
        d: defer.Deferred[str | None] = defer.Deferred()

        def replied(error: str | None) -> None:  # on the reactor; maybe after the timeout
            if not d.called:
                d.callback(error)

        try:
            self.api.writer.tell(ProbeWrite(self.name, reply=lambda error: (
                reactor.callFromThread(replied, error))))
        except pykka.ActorDeadError:
            d.callback("the store writer has stopped")
        d.addTimeout(self.cfg.readiness_timeout, reactor)

        def ms() -> float:
            return round((time.perf_counter() - started) * 1000, 1)

        def written(error: str | None) -> dict[str, Any]:
            if error is None:
                return {"ok": True, "detail": "a write committed", "ms": ms()}
            return {"ok": False, "detail": f"a write did not commit ({error})", "ms": ms()}

        def timed_out(f: Any) -> dict[str, Any]:
            f.trap(defer.TimeoutError, defer.CancelledError)
            return {"ok": False, "detail": "a write did not commit within "
                    f"{self.cfg.readiness_timeout:g} s", "ms": ms()}

        return d.addCallbacks(written, timed_out)

    def _done(self, store_check: dict[str, Any]) -> None:
        closed = self.api.intake.closed
        trouble = self.api.writer_board.trouble(self.cfg.writer_stall)
        checks = {
            "store": store_check,
            "store_space": ops.space_check(self.api.reads.store.free_bytes(),
                                           self.cfg.store_free_floor),
            "store_writer": {"ok": True, "detail": "committing"} if trouble is None
            else {"ok": False, "detail": trouble},
            "certificates": ops.certificates_check(metrics.certificate_days.days_left(),
                                                   self.cfg.certificate_warning_days),
            "intake": ({"ok": True, "detail": "open"} if closed is None
                       else {"ok": False, "detail": closed.message}),
        }
        ready = all(c["ok"] for c in checks.values())
        metrics.ready.set(1 if ready else 0)
        now = self.api.reactor.seconds()
        answer: Answer = (200 if ready else 503, {
            "ready": ready, "checked_at": self.api.clock(), "checks": checks, "links": {}})
        was = self.cached[1][1]["ready"] if self.cached is not None else None
        if ready != was:  # a change (and the first check): the log says which failed
            failed = sorted(name for name, c in checks.items() if not c["ok"])
            (log.info if ready else log.warning)("readiness", extra={
                "event": "hub.readiness", "ready": ready, "failed": failed})
        self.cached = (now, answer)
        pending, self.pending = self.pending, []
        for d in pending:
            d.callback(answer)


def _with_links(answer: Answer) -> Answer:
    """Each link's state now (a link that is down does not make the hub unready)."""
    links = {link: {"state": f.state, "ok": f.state == "ready", "depth": f.depth}
             for link, f in sorted(metrics.link_board.links.items())}
    return answer[0], {**answer[1], "links": links}


def ready(api: Api, _call: Call) -> defer.Deferred[Answer]:
    assert api.readiness is not None
    return api.readiness.answer()


# ---- /v1/status -------------------------------------------------------------------------


def status(api: Api, _call: Call) -> defer.Deferred[Answer]:
    store, now = api.reads.store, api.clock()

    def read() -> tuple[list[dict[str, Any]], int, dict[str, str]]:  # a pool thread
        with store.reading() as db:
            owners = {link: owner for link, owner, _token, _until in store.leases.all(db)}
            return store.jobs.recent(db, 20), store.jobs.residents(db), owners

    def answer(found: tuple[list[dict[str, Any]], int, dict[str, str]]) -> Answer:
        jobs, residents, owners = found
        closed = api.intake.closed
        gate = api.gate
        links = [{"link": link, "state": f.state, "depth": f.depth, "inflight": f.inflight,
                  "inflight_bytes": f.inflight_bytes, "held_residents": f.held_residents,
                  "dead_letters": f.dead_letters,
                  "oldest_age_seconds": round(max(0.0, now - f.oldest_enqueued), 1)
                  if f.oldest_enqueued else 0.0,
                  "last_error": f.last_error, "last_error_at": f.last_error_at,
                  "owner": owners.get(link)}  # the hub holding its lease (two hubs)
                 for link, f in sorted(metrics.link_board.links.items())]
        return 200, {
            "at": now,
            "maintenance": ops.maintenance_shown(gate.maintenance if gate else None),
            "intake": {"open": True} if closed is None else {
                "open": False, "code": closed.code, "message": closed.message},
            "links": links,
            "certificates": [{"party": p, "days_left": round(d, 1)}
                             for p, d in metrics.certificate_days.days_left().items()],
            "jobs": [_job(j, residents) for j in jobs]}

    return api.reads.run(read).addCallback(answer)


def _job(job: dict[str, Any], residents: int) -> dict[str, Any]:
    """A long job's progress; a consistency check's total is the register's size now."""
    if job["kind"] == "consistency_check" and job.get("total") is None:
        job = {**job, "total": residents if job["state"] == "building" else job["done"]}
    return {k: v for k, v in job.items() if v is not None or k in ("total", "finished_at")}


# ---- maintenance mode ------------------------------------------------------------------


def set_maintenance(api: Api, call: Call) -> defer.Deferred[Answer]:
    on, reason, who = bool(call.body["on"]), call.body.get("reason"), call.who
    d = start_job(api, lambda reply: SwitchMaintenance(
        on, reason, who.operator_id, who.terminal_id, api.clock(), reply),
        "maintenance switch")

    def switched(done: ops.Switched) -> Answer:
        flag = done.flag
        assert api.gate is not None
        api.gate.switched(flag)
        if api.readiness is not None:
            api.readiness.cached = None  # /readyz says so at once
        log.warning("maintenance mode", extra={"event": f"maintenance.{'on' if on else 'off'}",
                                               "operator": who.operator_id})
        return 200, ops.maintenance_shown(flag)

    return d.addCallback(switched)


# ---- the 操作ログ, for auditors ------------------------------------------------------------


def search_audit(api: Api, call: Call) -> defer.Deferred[Answer]:
    store, p = api.reads.store, call.params
    d = api.reads.run(store.read, store.audit.search, p.get("operator"), p.get("action"),
                      p.get("target"), p.get("since"), p.get("until"), p.get("limit", 200),
                      p.get("after", 0))

    def answer(rows: list[Any]) -> defer.Deferred[Answer]:
        entries = [{"id": r.id, "at": r.entry.at, "operator_id": r.entry.operator_id,
                    "terminal_id": r.entry.terminal_id, "action": r.entry.action,
                    "target": r.entry.request_id, "update_seq": r.entry.update_seq,
                    "client": r.entry.client, "number_shown": r.entry.number_shown,
                    "result": r.entry.result, "count": r.entry.count} for r in rows]
        # Reading the log is itself on the log.
        return audit(api, call.who, call.client, "audit.search", count=len(entries)
                     ).addCallback(lambda _: (200, {"entries": entries}))

    return d.addCallback(answer)
