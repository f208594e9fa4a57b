"""The hub: the one object that wires config, store, actors and listeners together.

``Hub(config, reactor).start()`` migrates the store, starts the store writer and one
link actor per enabled link, and opens the intake and metrics listeners; ``stop()``
undoes it in reverse order.  Call both on the reactor thread.

Threads: the reactor (one thread) owns every socket and timer; each pykka actor owns
its own state on its own thread; the store writer is the only writer to the
database.  Actors reach the reactor only through ``reactor.callFromThread``; the
reactor reaches actors only with ``tell``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from twisted.internet import task
from twisted.python.threadpool import ThreadPool
from twisted.web import server

from actors.link import LinkActor
from actors.messages import PurgeDelivered, PurgeInbox, Subscribe
from actors.store_writer import StoreWriter
from hub import metrics
from hub.api.context import Api, Reads
from hub.api.metrics_page import MetricsPage
from hub.api.openapi import Contract
from hub.api.server import ApiResource
from hub.config import Config
from hub.domain.register import Register
from hub.logs import emit
from hub.net.link_client import LinkTransport
from hub.store import Store
from hub.store.engine import make_engine, migrate
from hub.tls import client_options, server_options
from protocols.charconv import UnifiedCharset

log = logging.getLogger("jukihub.app")


@dataclass
class Ports:
    intake: int
    metrics: int


class Hub:
    """Wires and runs the hub; see the module docstring."""

    def __init__(self, config: Config, reactor: Any) -> None:
        self.config = config
        self.reactor = reactor
        self.store: Store | None = None
        self.writer: Any = None
        self.links: dict[str, Any] = {}
        self.listeners: list[Any] = []
        self.ports: Ports | None = None
        self.purge: Any = None
        self.checkpoint: Any = None
        self.workers: ThreadPool | None = None
        self.reads: Reads | None = None

    def start(self) -> Ports:
        cfg = self.config
        charset = UnifiedCharset.load(cfg.gaiji_table) if cfg.gaiji_table else None
        migrate(cfg.store_url)
        self.store = Store(make_engine(cfg.store_url))
        enabled = frozenset(name for name, link in cfg.links.items() if link.enabled)
        register = Register(self.store, cfg.municipality_code, enabled,
                            wall_clock=self.reactor.seconds)
        self.writer = StoreWriter.start(self.store, register, cfg.group_commit_max)
        for name in sorted(enabled):
            link = cfg.links[name]
            # TLS context built once per link and reused for every reconnect.
            tls = client_options(cfg.certs_dir, "hub", link.peer_name)
            transport = LinkTransport(self.reactor, name, link.host, link.port, tls,
                                      link.connect_timeout)
            actor = LinkActor.start(link, cfg.municipality_code, self.store, self.writer,
                                    transport, clock=self.reactor,
                                    call_in_reactor=self.reactor.callFromThread,
                                    wall_clock=self.reactor.seconds)
            self.links[name] = actor
            self.writer.tell(Subscribe(name, actor))
        # The intake workers check and prepare requests, the read pool reads the store:
        # both off the reactor thread, each bounded.
        self.workers = ThreadPool(minthreads=1, maxthreads=cfg.intake.workers, name="intake")
        self.reads = Reads(self.reactor, self.store, cfg.intake.read_threads,
                           cfg.intake.read_queue)
        self.workers.start()
        self.reads.start()
        api = Api(cfg, self.writer, self.links, self.reactor, self.reads, charset,
                  today=dt.date.today)
        # JSON only: Twisted need not look for form submissions in every POST.
        intake_site = server.Site(ApiResource(api, Contract(), self.workers),
                                  parsePOSTFormSubmission=False)
        metrics_site = server.Site(MetricsPage(cfg.metrics.allowed_clients, cfg.log_scrapes))
        for site in (intake_site, metrics_site):
            site.displayTracebacks = False  # a bug answers 500, never a traceback
        intake = self.reactor.listenSSL(cfg.intake.port, intake_site,
                                        server_options(cfg.certs_dir, "intake"),
                                        interface=cfg.intake.host)
        metrics_port = self.reactor.listenSSL(cfg.metrics.port, metrics_site,
                                              server_options(cfg.certs_dir, "metrics"),
                                              interface=cfg.metrics.host)
        self.listeners = [intake, metrics_port]
        # Retention purges of the inbox and of delivered messages (send-destination data
        # among them): a reactor timer that tells the store writer, 500 rows at a time.
        retention, writer, clock = cfg.inbox_retention, self.writer, self.reactor
        delivered = cfg.delivered_retention

        def purge() -> None:
            writer.tell(PurgeInbox(before=clock.seconds() - retention, limit=500))
            writer.tell(PurgeDelivered(before=clock.seconds() - delivered, limit=500))

        self.purge = task.LoopingCall(purge)
        self.purge.clock = self.reactor
        self.purge.start(cfg.purge_interval, now=True)
        # SQLite's WAL checkpoint, in the read pool every second (not in a commit).
        store, reads = self.store, self.reads
        self.checkpoint = task.LoopingCall(lambda: reads.run(store.checkpoint).addErrback(
            lambda f: log.warning("checkpoint failed", extra={
                "event": "store.checkpoint_failed", "error": f.type.__name__})))
        self.checkpoint.clock = self.reactor
        self.checkpoint.start(1.0, now=False)
        self.ports = Ports(intake.getHost().port, metrics_port.getHost().port)
        emit("hub.ready", intake_port=self.ports.intake, metrics_port=self.ports.metrics,
             links=sorted(enabled))
        return self.ports

    def stop(self) -> Any:
        """Stop listeners, then links, then the writer (which commits what it holds)."""
        from twisted.internet import defer

        for loop in (self.purge, self.checkpoint):
            if loop is not None and loop.running:
                loop.stop()
        ds = [defer.maybeDeferred(p.stopListening) for p in self.listeners]
        self.listeners = []
        for actor in self.links.values():
            actor.stop(block=True)
        self.links = {}
        if self.writer is not None:
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
