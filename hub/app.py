"""The hub: the one object that wires config, store, actors and listeners together.

``Hub(config, reactor).start()`` migrates the store, starts the store writer and one
link actor per enabled link, and opens the intake and metrics listeners; ``stop()``
undoes it in reverse order.  Call both on the reactor thread.  ``ready`` fires (and
the ``hub.ready`` event is logged) once the intake serves and every gauge holds its
real value: each actor has published what it started with (a ``Barrier`` through
it) and the first readiness check is done.  A scrape that comes sooner waits for that,
so ``/metrics`` never answers with a gauge that is only unset.

The intake is served by ``[intake] processes`` worker processes sharing its listening
socket (``hub.net.intake_processes``): they do the TLS, HTTP, JSON and checks, the hub
process the store writer, the links and the routes' handlers — so the hub works on more
than one core.  With 0, the hub process serves the intake itself.

Several hubs may share one PostgreSQL store (README, *Two hubs*): each link is owned by
one hub at a time, under a lease this hub's lease keeper claims through its store
writer every ``[cluster] renew`` seconds (``_start_leases``); the link actors connect
only while they hold it.

Threads: the reactor (one thread) owns every socket and timer; each pykka actor owns
its own state on its own thread; the store writer is the only writer to the
database.  Actors reach the reactor only through ``reactor.callFromThread``; the
reactor reaches actors only with ``tell``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer, task, threads
from twisted.python.threadpool import ThreadPool
from twisted.web import server

from actors.link import LinkActor
from actors.messages import (
    AnchorAudit,
    BackupDue,
    Barrier,
    KeepLeases,
    KeepSession,
    Lease,
    Leases,
    PurgeDelivered,
    PurgeInbox,
    RecordAudit,
    RelayQuery,
    StartScheduledChecks,
    Subscribe,
)
from actors.store_writer import StoreWriter
from actors.writer_health import WriterBoard
from hub.api.backend import LocalBackend
from hub.api.context import Api, Intake, IntakeMeters, Reads
from hub.api.metrics_page import MetricsPage
from hub.api.openapi import Contract
from hub.api.operations import Gate, Readiness
from hub.api.remote import Dispatcher
from hub.api.server import ApiResource
from hub.api.site import intake_site
from hub.config import Config
from hub.domain import backups
from hub.domain.operations import MAINTENANCE, OWN_CERTIFICATES
from hub.domain.register import Register
from hub.net.intake_processes import IntakeProcesses, spawn_intake
from hub.net.link_client import LinkTransport
from hub.store import AuditEntry, Store
from hub.store.engine import make_engine, migrate
from hub.support import metrics
from hub.support.logs import emit
from hub.support.tls import client_options, server_options
from protocols.charconv import UnifiedCharset
from protocols.consistency import MAX_RECORDS

log = logging.getLogger("jukihub.app")


@dataclass
class Ports:
    intake: int
    metrics: int


class Hub:
    """Wires and runs the hub; see the module docstring."""

    def __init__(self, config: Config, reactor: Any,
                 intake_processes: IntakeProcesses | None = None) -> None:
        """``intake_processes``: the intake's workers if the caller spawned them already
        (``jukihub run`` does, before importing this module); else ``start`` does."""
        self.config = config
        self.reactor = reactor
        self.store: Store | None = None
        self.writer: Any = None
        self.links: dict[str, Any] = {}
        self.listeners: list[Any] = []
        self.ports: Ports | None = None
        self.loops: list[task.LoopingCall] = []
        self.workers: ThreadPool | None = None
        self.reads: Reads | None = None
        self.intake_processes: IntakeProcesses | None = intake_processes
        self.gate: Gate | None = None
        self.readiness: Readiness | None = None
        self.writer_board = WriterBoard(time.monotonic)
        self.ready: defer.Deferred[Ports] = defer.Deferred()
        self._warm_waiters: list[defer.Deferred[None]] | None = []  # None once warm
        self.instance = secrets.token_hex(8)  # this run of the hub, in its leases
        self.lease_loop: task.LoopingCall | None = None

    def start(self) -> Ports:
        cfg = self.config
        enabled = frozenset(name for name, link in cfg.links.items() if link.enabled)
        # The intake's worker processes first: their start (a Python process importing
        # the API) overlaps the store's migration and the actors' start.  Nothing they
        # send is read before this method returns (the reactor thread is ours), and by
        # then everything they ask for is wired.
        intake = self._intake()
        early = self._spawn_intake(intake)
        self._start_store(enabled)
        self._start_links(enabled)
        self._start_leases()
        self.reads = Reads(self.reactor, self._store, cfg.intake.read_threads,
                           cfg.intake.read_queue)
        self.reads.start()
        intake_port, serving = self._start_intake(intake, early)
        processes = self.intake_processes
        # The hub's own certificates, as /readyz judges them (the CA's is always watched).
        metrics.certificate_days.watch(cfg.certs_dir,
                                       [p for p in OWN_CERTIFICATES if p != "ca"])
        flush = processes.flush_meters if processes is not None else None
        metrics_site = server.Site(MetricsPage(
            cfg.access.systems_with("metrics.read"), cfg.log_scrapes,
            before=lambda: self._warm().addCallback(
                lambda _: flush() if flush is not None else None)))
        metrics_site.displayTracebacks = False  # a bug answers 500, never a traceback
        metrics_port = self.reactor.listenSSL(cfg.metrics.port, metrics_site,
                                              server_options(cfg.certs_dir, "metrics"),
                                              interface=cfg.metrics.host)
        self.listeners.append(metrics_port)
        self._start_timers()
        ports = self.ports = Ports(intake_port, metrics_port.getHost().port)

        def serving_now(_: Any) -> Ports:
            emit("hub.ready", intake_port=ports.intake, metrics_port=ports.metrics,
                 links=sorted(enabled), intake_processes=cfg.intake.processes)
            return ports

        warmed = defer.gatherResults([serving, self._gauges_true()])
        warmed.addCallback(lambda _: serving_now(None)).chainDeferred(self.ready)
        return ports

    def _gauges_true(self) -> defer.Deferred[Any]:
        """Fires once every gauge holds its real value: each actor has published what it
        started with (a ``Barrier`` it answers after its start and everything told to
        it before), and the first readiness check is done; then scrapes are let in."""
        assert self.readiness is not None
        reactor = self.reactor
        waits: list[defer.Deferred[Any]] = [self.readiness.start()]
        for actor in [*self.links.values(), self.writer]:
            d: defer.Deferred[None] = defer.Deferred()
            # The reply crosses from the actor's thread to the reactor's.
            actor.tell(Barrier(reply=functools.partial(reactor.callFromThread, d.callback,
                                                       None)))
            waits.append(d)

        def warm(_: Any) -> None:
            waiters, self._warm_waiters = self._warm_waiters or [], None
            for w in waiters:
                w.callback(None)

        return defer.gatherResults(waits).addCallback(warm)

    def _warm(self) -> defer.Deferred[None]:
        """What a scrape waits for first (nothing once the hub is warm)."""
        if self._warm_waiters is None:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._warm_waiters.append(d)
        return d

    @property
    def _store(self) -> Store:
        assert self.store is not None, "started"
        return self.store

    def _start_store(self, enabled: frozenset[str]) -> None:
        cfg = self.config
        migrate(cfg.store_url)
        self.store = Store(make_engine(cfg.store_url))
        register = Register(self.store, cfg.municipality_code, enabled,
                            wall_clock=self.reactor.seconds)
        board = self.writer_board
        self.writer = StoreWriter.start(self.store, register, cfg.group_commit_max,
                                        board=board)
        board.alive = self.writer.is_alive
        metrics.store_writer_busy.set_function(board.busy_seconds)
        metrics.store_writer_failing.set(0)

    def _start_links(self, enabled: frozenset[str]) -> None:
        cfg = self.config
        for name in sorted(enabled):
            link = cfg.links[name]
            # TLS context built once per link and reused for every reconnect.
            tls = client_options(cfg.certs_dir, "hub", link.peer_name)
            transport = LinkTransport(self.reactor, name, link.host, link.port, tls,
                                      link.connect_timeout)
            actor = LinkActor.start(link, cfg.municipality_code, self._store, self.writer,
                                    transport, clock=self.reactor,
                                    call_in_reactor=self.reactor.callFromThread,
                                    wall_clock=self.reactor.seconds,
                                    poll_every=cfg.cluster.poll)
            self.links[name] = actor
            self.writer.tell(Subscribe(name, actor))

    def _start_leases(self) -> None:
        """The lease keeper, on the reactor: every ``renew`` seconds the store writer
        claims this hub's links; each link actor hears whether it owns its link and
        until when it may send — counted from *before* the claim went to the writer, so
        a claim that is slow or never answered (a store out of reach) only shortens it.
        The claim's answer also brings maintenance mode as the store has it, so the
        intake's gate follows a switch made on another hub."""
        cluster, reactor, writer = self.config.cluster, self.reactor, self.writer
        links = tuple(sorted(self.links))

        def granted(issued: float, found: Leases | None) -> None:  # on the reactor
            if found is None or self.lease_loop is None:
                return  # the store failed (the grants run out) or the hub is stopping
            for link, actor in self.links.items():
                token = found.held.get(link)
                actor.tell(Lease(token, issued + cluster.send_window) if token else Lease(None))
            gate = self.gate
            if gate is not None and found.maintenance != gate.maintenance:
                gate.switched(found.maintenance)

        def claim() -> None:
            issued = time.monotonic()
            # The writer's reply crosses back to the reactor with callFromThread.
            writer.tell(KeepLeases(cluster.name, self.instance, links, cluster.lease,
                                   reply=lambda found: reactor.callFromThread(
                                       granted, issued, found)))

        self.lease_loop = task.LoopingCall(claim)
        self.lease_loop.clock = reactor
        self.lease_loop.start(cluster.renew, now=True)

    def _intake(self) -> Intake:
        cfg = self.config
        charset = UnifiedCharset.load(cfg.gaiji_table) if cfg.gaiji_table else None
        return Intake(cfg, charset, dt.date.today, IntakeMeters())

    def _spawn_intake(self, intake: Intake) -> tuple[Dispatcher, int] | None:
        """The intake's worker processes, spawned; their dispatcher (its backend is set
        by ``_start_intake``) and the port they share.  ``None``: the hub serves it."""
        cfg = self.config
        if cfg.intake.processes <= 0:
            return None
        dispatcher = Dispatcher(None, intake.meters, self.reactor)
        if self.intake_processes is None:
            self.intake_processes = spawn_intake(self.reactor, cfg)
        self.intake_processes.on_message = dispatcher.received
        return dispatcher, self.intake_processes.port

    def _start_intake(self, intake: Intake, early: tuple[Dispatcher, int] | None,
                      ) -> tuple[int, defer.Deferred[Any]]:
        """The intake wired to the store writer, the links and the reads: in the worker
        processes spawned early, or here.  Its port, and when it serves."""
        cfg = self.config
        assert self.reads is not None
        api = Api(intake, self.writer, self.links, self.reactor, self.reads, self.writer_board)
        backend = LocalBackend(api)
        processes = self.intake_processes
        # Maintenance mode as the store has it (it survives a restart), before serving.
        maintenance = self._store.read(self._store.flags.get, MAINTENANCE)
        api.gate = self.gate = Gate(api, maintenance,
                                    processes.set_gate if processes is not None else None)
        api.readiness = self.readiness = Readiness(api)
        self.gate.start()
        if early is not None and processes is not None:
            dispatcher, port = early
            dispatcher.backend = backend
            return port, processes.ready
        # The intake workers check and prepare requests off the reactor thread.
        self.workers = ThreadPool(minthreads=1, maxthreads=cfg.intake.workers, name="intake")
        self.workers.start()
        site = intake_site(ApiResource(intake, backend, Contract(), self.workers, self.reactor))
        listener = self.reactor.listenSSL(cfg.intake.port, site,
                                          server_options(cfg.certs_dir, "intake"),
                                          interface=cfg.intake.host)
        self.listeners.append(listener)
        return listener.getHost().port, defer.succeed(None)

    def _start_timers(self) -> None:
        cfg, writer, clock, store = self.config, self.writer, self.reactor, self._store
        reads = self.reads
        assert reads is not None

        def purge() -> None:
            # Retention of the inbox and of delivered messages (send-destination data
            # among them): the store writer deletes 500 rows at a time.
            writer.tell(PurgeInbox(before=clock.seconds() - cfg.inbox_retention, limit=500))
            writer.tell(PurgeDelivered(before=clock.seconds() - cfg.delivered_retention,
                                       limit=500))
            # Relayed queries an asker never came back for (it stopped meanwhile).
            writer.tell(RelayQuery("purge", before=clock.seconds() - 3600))

        def checkpoint() -> None:
            # SQLite's WAL checkpoint, in the read pool every second (not in a commit).
            reads.run(store.checkpoint).addErrback(lambda f: log.warning(
                "checkpoint failed", extra={"event": "store.checkpoint_failed",
                                            "error": f.type.__name__}))

        def anchor() -> None:
            # The operation log's head, outside the database (the store writer writes it).
            writer.tell(AnchorAudit(cfg.audit.anchor_file))

        def forget_sessions() -> None:
            # Staff sessions past their idle or absolute limit (the store writer deletes
            # them; any hub's timer may, the same rows for all).
            now, access = time.time(), cfg.access
            writer.tell(KeepSession("prune", idle_since=now - access.session_idle,
                                    started_before=now - access.session_max))

        timers = [(purge, cfg.purge_interval, True), (checkpoint, 1.0, False),
                  (forget_sessions, 60.0, False), (anchor, cfg.audit.anchor_interval, True)]
        if cfg.check_every is not None:
            timers.append((self._scheduled_checks(cfg.check_every),
                           min(cfg.check_every / 4, 60.0), True))
        if cfg.backup is not None and cfg.backup.every is not None:
            timers.append((self._scheduled_backups(cfg.backup.every),
                           min(cfg.backup.every / 4, 60.0), True))
        for work, interval, now in timers:
            loop = task.LoopingCall(work)
            loop.clock = self.reactor
            loop.start(interval, now=now)
            self.loops.append(loop)

    def _scheduled_checks(self, every: float) -> Callable[[], None]:
        """The consistency checks' schedule (``[consistency] every``): each tick asks the
        store writer, which alone decides whether a link's check is due (one check per
        interval, however many ticks or hubs ask)."""
        cfg, writer, reactor = self.config, self.writer, self.reactor
        links = [link for link in cfg.check_links if link in self.links]
        size = min(cfg.check_chunk, MAX_RECORDS)

        def started(checks: Any) -> None:  # on the reactor thread
            if isinstance(checks, dict) and checks:
                emit("consistency.scheduled", checks=checks)

        def tick() -> None:
            # The writer's reply crosses back to the reactor with callFromThread.
            writer.tell(StartScheduledChecks(
                links, every, size, reply=lambda value: reactor.callFromThread(started, value)))

        return tick

    def _scheduled_backups(self, every: float) -> Callable[[], None]:
        """The daily backup (``[backup] every``): the store writer says whether a copy is
        due (the schedule's first tick is on the record there); the copy is made and
        checked in a pool thread, never on the reactor or in the writer, and recorded in
        the 操作ログ through the writer."""
        cfg, writer, reactor = self.config, self.writer, self.reactor
        assert cfg.backup is not None
        folder, keep = cfg.backup.folder, cfg.backup.keep
        busy = [False]

        def take(due: Any) -> None:  # on the reactor thread
            if due is not True or busy[0]:
                return
            busy[0] = True
            d = threads.deferToThreadPool(reactor, reactor.getThreadPool(), backups.take,
                                          cfg.store_url, folder, keep, cfg.audit.anchor_file,
                                          reactor.seconds())
            d.addCallbacks(taken, failed).addBoth(lambda _: busy.__setitem__(0, False))

        def taken(t: backups.Taken) -> None:
            metrics.backup_last_success.set(t.copy.path.stat().st_mtime)
            writer.tell(RecordAudit(AuditEntry(0, "schedule", "hub", "backup.made",
                                               t.copy.path.name,
                                               count=t.copy.counts["residents"])))
            emit("backup.made", copy=t.copy.path.name, size=t.copy.size,
                 pruned=len(t.pruned))

        def failed(f: Any) -> None:
            metrics.backup_failures.inc()
            writer.tell(RecordAudit(AuditEntry(0, "schedule", "hub", "backup.made",
                                               result="backup_failed")))
            log.error("backup failed", extra={"event": "backup.failed",
                                               "error": f.type.__name__})

        def tick() -> None:
            # The writer's reply crosses back to the reactor with callFromThread.
            writer.tell(BackupDue(folder, every,
                                  reply=lambda due: reactor.callFromThread(take, due)))

        return tick

    def _stop_links(self) -> None:
        for actor in self.links.values():
            actor.stop(block=True)
        if self.writer is not None and self.links:
            # The links have stopped sending: another hub may take them at once.
            cluster = self.config.cluster
            self.writer.tell(KeepLeases(cluster.name, self.instance, tuple(self.links),
                                        cluster.lease, reply=lambda _: None, release=True))
        self.links = {}

    def stop(self) -> defer.Deferred[Any]:
        """Stop the intake and listeners, then links, then the writer (which commits
        what it holds)."""
        if self.gate is not None:
            self.gate.stop()
        if self.readiness is not None:
            self.readiness.stop()
        lease_loop, self.lease_loop = self.lease_loop, None
        for loop in [*self.loops, *([lease_loop] if lease_loop else [])]:
            if loop.running:
                loop.stop()
        self.loops = []
        ds = [defer.maybeDeferred(p.stopListening) for p in self.listeners]
        self.listeners = []
        if self.intake_processes is not None:
            ds.append(self.intake_processes.stop())
            self.intake_processes = None
        self._stop_links()
        if self.writer is not None:
            self.writer.tell(AnchorAudit(self.config.audit.anchor_file))  # the last head
            self.writer.stop(block=True)
            self.writer = None
        for pool in (self.workers, self.reads):
            if pool is not None:
                pool.stop()
        self.workers = self.reads = None
        if self.store is not None:
            self.store.dispose()
        for name in self.config.links:
            metrics.link_up.labels(name).set(0)
        return defer.gatherResults(ds)
