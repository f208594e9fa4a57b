"""``python -m hub.worker N``: intake worker process N, spawned by the hub (see
``hub.net.intake_processes``), never by hand.

It reads its configuration as JSON on standard input, takes the intake's listening
socket (descriptor 4) and its end of a socketpair to the hub (descriptor 3), and serves
the intake API with the same dispatch as the hub process (``hub.api.server``): TLS,
HTTP, JSON, the OpenAPI document and the format checks here; the store writer and the
routes' handlers in the hub, asked through ``RemoteBackend``.  Its meters go to the
hub every 0.2 s, and at once when a scrape of the hub's ``/metrics`` asks.  When the
hub's end of the socketpair closes, it stops.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from twisted.internet import protocol, task
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.threadpool import ThreadPool

from hub.api.context import Intake, RelayedMeters
from hub.api.openapi import Contract
from hub.api.remote import Meters, RemoteBackend
from hub.api.server import ApiResource
from hub.api.site import intake_site
from hub.config import config_from_raw
from hub.net.ipc import Flush, Flushed, Gate, GateApplied, MessageProtocol, Ready
from hub.support.logs import emit, setup_logging
from hub.support.tls import server_options
from protocols.charconv import UnifiedCharset

IPC_FD, LISTEN_FD = 3, 4
# Bodies smaller than this are checked on this process's reactor thread, larger ones in
# its pool (see ``hub.api.server``): a single change is 1-2 KB, a batch of 200 ~300 KB.
INLINE_BELOW = 32 << 10


def main() -> int:
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor  # the installed reactor (typed as a module by Twisted)
    given = json.load(sys.stdin)
    cfg = config_from_raw(given["raw"], Path(given["path"]))
    setup_logging(cfg.log_level)
    sys.setswitchinterval(cfg.switch_interval)
    number = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    meters = RelayedMeters()
    charset = UnifiedCharset.load(cfg.gaiji_table) if cfg.gaiji_table else None
    intake = Intake(cfg, charset, dt.date.today, meters)

    def lost() -> None:  # the hub is gone, or wants us gone
        if reactor.running:
            reactor.stop()

    def received(message: Any) -> None:
        if type(message) is Flush:  # a scrape of the hub's /metrics is waiting for ours
            ipc.send(Meters(meters.take()))
            ipc.send(Flushed())
        elif type(message) is Gate:  # maintenance or backpressure: the hub's Gate
            intake.closed = message.closed
            ipc.send(GateApplied(message.generation))  # the hub says so only after this
        else:  # an answer to one of the backend's questions
            backend.received(message)

    ipc = MessageProtocol(received, lost)
    backend = RemoteBackend(reactor, ipc.send)
    reactor.adoptStreamConnection(IPC_FD, socket.AF_UNIX,
                                  protocol.Factory.forProtocol(lambda: ipc))
    workers = ThreadPool(minthreads=1, maxthreads=cfg.intake.workers, name="intake")
    workers.start()
    site = intake_site(ApiResource(intake, backend, Contract(), workers, reactor,
                                   inline_below=INLINE_BELOW))
    tls: Any = server_options(cfg.certs_dir, "intake")  # (typed as the wrong interface)
    web: Any = site
    reactor.adoptStreamPort(LISTEN_FD, socket.AF_INET, TLSMemoryBIOFactory(tls, False, web))

    def relay() -> None:
        if events := meters.take():
            ipc.send(Meters(events))

    relaying = task.LoopingCall(relay)
    relaying.clock = reactor
    relaying.start(0.2, now=False)
    ipc.send(Ready(os.getpid()))
    emit("intake.worker_started", worker=number)
    reactor.addSystemEventTrigger("before", "shutdown", workers.stop)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
