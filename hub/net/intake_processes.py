"""The intake worker processes: the hub binds the intake's listening socket, spawns
``[intake] processes`` workers (``python -m hub.worker``) that all accept on it, and
talks with each over a socketpair (``hub.net.ipc``).  Before ``/metrics`` is rendered,
the workers are asked for the meters they hold (``flush_meters``).  A worker that dies is spawned
again (after a backoff); the workers stop with the hub, and stop by themselves if the
hub is gone (their end of the socketpair closes).

Each worker reads its configuration as JSON on its standard input and logs to the hub's
standard output.  Its first message is ``Ready``; the API's go to ``on_message`` with a
``send`` for the answer.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, protocol
from twisted.python.failure import Failure

from hub.config import Config
from hub.net.ipc import Flush, Flushed, Gate, GateApplied, MessageProtocol, Ready

log = logging.getLogger("jukihub.intake")

OnMessage = Callable[[Any, Callable[[Any], None]], None]


class _Worker(protocol.ProcessProtocol):
    def __init__(self, owner: IntakeProcesses, number: int) -> None:
        self.owner, self.number = owner, number
        self.ipc: MessageProtocol | None = None
        self.ended: defer.Deferred[None] = defer.Deferred()
        self.pid = 0

    def start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        reactor = self.owner.reactor
        ipc = self.ipc = MessageProtocol(self._message, lambda: None)
        reactor.adoptStreamConnection(parent.fileno(), socket.AF_UNIX,
                                      protocol.Factory.forProtocol(lambda: ipc))
        parent.close()  # adopted: the reactor has its own descriptor
        transport = reactor.spawnProcess(
            self, sys.executable, [sys.executable, "-m", "hub.worker", str(self.number)],
            env=os.environ.copy(), childFDs={0: "w", 1: 1, 2: 2, 3: child.fileno(),
                                             4: self.owner.listener.fileno()})
        child.close()
        self.pid = transport.pid
        transport.write(json.dumps(self.owner.config).encode())
        transport.closeStdin()

    def _message(self, message: Any) -> None:
        kind = type(message)
        if kind is Flushed:
            self.owner.flushed(self)
        elif kind is GateApplied:
            self.owner.gate_applied(self, message.generation)
        elif kind is Ready:
            log.info("intake worker ready", extra={"event": "intake.worker_ready",
                                                   "worker": self.number, "pid": message.pid})
            self.owner.worker_ready(self)
        else:  # the API's (``hub.api.remote``)
            assert self.ipc is not None
            self.owner.on_message(message, self.ipc.send)

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(None)
        self.owner.worker_ended(self, reason)


def _bind(host: str, port: int, patience: float = 10.0) -> socket.socket:
    """The intake's listening socket.  After a crash the previous hub's intake workers
    still hold the port for a moment (each closes it when it sees the hub gone): a fixed
    port is retried for up to ``patience`` seconds before the start fails.  Only at the
    hub's start (``jukihub run`` spawns the intake before the reactor runs)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return socket.create_server((host, port), backlog=512, reuse_port=False)
        except OSError as err:
            if err.errno != errno.EADDRINUSE or port == 0 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class IntakeProcesses:
    """See the module docstring."""

    def __init__(self, reactor: Any, count: int, config: dict[str, Any],
                 on_message: OnMessage) -> None:
        self.reactor, self.count, self.config = reactor, count, config
        self.on_message = on_message
        self.workers: dict[int, _Worker] = {}
        self.listener: socket.socket = socket.socket()
        self.port = 0
        self.ready: defer.Deferred[None] = defer.Deferred()
        self._ready: set[int] = set()
        self._stopping = False
        self._restarts: dict[int, int] = {}
        self._flushes: list[tuple[set[int], defer.Deferred[None]]] = []
        self._gate = Gate(None, 0)  # the intake's gate, for all
        self._gate_gen = 0
        self._gates: list[tuple[int, set[int], defer.Deferred[None]]] = []

    def start(self, host: str, port: int) -> int:
        """Bind the listening socket, spawn the workers; the port bound."""
        self.listener = _bind(host, port)
        self.listener.setblocking(False)
        for number in range(1, self.count + 1):
            self._spawn(number)
        self.port = int(self.listener.getsockname()[1])
        return self.port

    def _spawn(self, number: int) -> None:
        worker = _Worker(self, number)
        self.workers[number] = worker
        worker.start()

    def set_gate(self, closed: Any, timeout: float = 1.0) -> defer.Deferred[None]:
        """Whether the intake takes changes (``hub.api.operations.Gate``): to every
        worker now, and to each one that starts later.  Fires once every serving worker
        has applied it (each answers ``gate_applied``), or after ``timeout`` (a worker
        that died meanwhile is restarted with the gate as it is then)."""
        self._gate_gen += 1
        self._gate = Gate(closed, self._gate_gen)
        done: defer.Deferred[None] = defer.Deferred()
        waiting = {w.number for w in self.workers.values()
                   if w.number in self._ready and w.ipc is not None}
        for number in waiting:
            ipc = self.workers[number].ipc
            assert ipc is not None
            ipc.send(self._gate)
        if not waiting:
            done.callback(None)
            return done
        self._gates.append((self._gate_gen, waiting, done))

        def give_up() -> None:
            if not done.called:
                done.callback(None)

        return done.addBoth(_cancelling(self.reactor.callLater(timeout, give_up)))

    def gate_applied(self, worker: _Worker, gen: int) -> None:
        for entry in list(self._gates):
            wanted, waiting, done = entry
            if wanted <= gen:
                waiting.discard(worker.number)
            if not waiting:
                self._gates.remove(entry)
                if not done.called:
                    done.callback(None)

    def worker_ready(self, worker: _Worker) -> None:
        if worker.ipc is not None and self._gate.closed is not None:
            worker.ipc.send(self._gate)
        self._ready.add(worker.number)
        self._restarts.pop(worker.number, None)
        if len(self._ready) == self.count and not self.ready.called:
            self.ready.callback(None)

    def worker_ended(self, worker: _Worker, reason: Failure) -> None:
        if self._stopping or self.workers.get(worker.number) is not worker:
            return
        self._ready.discard(worker.number)
        n = self._restarts[worker.number] = self._restarts.get(worker.number, 0) + 1
        delay = min(30.0, 0.5 * 2 ** (n - 1))
        log.error("intake worker ended; starting it again", extra={
            "event": "intake.worker_ended", "worker": worker.number, "pid": worker.pid,
            "error": reason.type.__name__ if reason.type else "unknown",
            "delay": delay})
        self.reactor.callLater(delay, self._respawn, worker.number)

    def _respawn(self, number: int) -> None:
        if not self._stopping:
            self._spawn(number)

    def flush_meters(self, timeout: float = 1.0) -> defer.Deferred[None]:
        """Fires once every serving worker has sent the meters it holds (a scrape of
        ``/metrics`` then shows all counted before it), or after ``timeout``."""
        done: defer.Deferred[None] = defer.Deferred()
        waiting = {w.number for w in self.workers.values()
                   if w.number in self._ready and w.ipc is not None}
        if not waiting:
            done.callback(None)
            return done
        self._flushes.append((waiting, done))
        for number in waiting:
            ipc = self.workers[number].ipc
            assert ipc is not None
            ipc.send(Flush())
        def give_up() -> None:
            if not done.called:
                done.callback(None)

        return done.addBoth(_cancelling(self.reactor.callLater(timeout, give_up)))

    def flushed(self, worker: _Worker) -> None:
        for waiting, done in list(self._flushes):
            waiting.discard(worker.number)
            if not waiting:
                self._flushes.remove((waiting, done))
                if not done.called:
                    done.callback(None)

    def stop(self) -> defer.Deferred[Any]:
        """Ask every worker to stop (its socketpair closes); kill one that lingers."""
        self._stopping = True
        ended = []
        for worker in self.workers.values():
            if worker.ended.called:
                continue
            transport: Any = worker.ipc.transport if worker.ipc is not None else None
            if transport is not None:
                transport.loseConnection()
            worker.ended.addBoth(_cancelling(self.reactor.callLater(10, self._kill, worker)))
            ended.append(worker.ended)
        self.listener.close()
        return defer.gatherResults(ended)

    @staticmethod
    def _kill(worker: _Worker) -> None:
        try:
            os.kill(worker.pid, signal.SIGKILL)
        except OSError:
            pass  # gone already


def _cancelling(timer: Any) -> Callable[[Any], Any]:
    """A callback that cancels ``timer`` (if still pending) and passes its result on."""
    def cancel(result: Any) -> Any:
        if timer.active():
            timer.cancel()
        return result
    return cancel


def spawn_intake(reactor: Any, cfg: Config, on_message: OnMessage | None = None,
                 ) -> IntakeProcesses:
    """The intake's ``[intake] processes`` workers for ``cfg``, bound and spawned
    (their ``on_message`` may be set later, before the reactor reads)."""
    processes = IntakeProcesses(reactor, cfg.intake.processes,
                                {"path": str(cfg.path), "raw": cfg.raw},
                                on_message or _unwired)
    processes.start(cfg.intake.host, cfg.intake.port)
    return processes


def _unwired(message: Any, _send: Callable[[Any], None]) -> None:
    raise RuntimeError(f"an intake worker's {type(message).__name__} came before the hub "
                       "was wired")
