"""What the HTTP API works with.

- ``Intake``: what checking a request needs — the configuration, the city's 外字
  table, today's date, the intake's meters.  Every intake process has one.
- ``Api``: what a route's handler needs besides — the store writer, the link actors,
  the reactor, and ``Reads``, the bounded pool where reads of the store run (never on
  the reactor thread).  Only the hub process has one.
- ``Call``, a request that passed its checks, and ``Answer``, ``(status, body)``.
- ``IntakeMeters``: the intake's Prometheus series, behind methods, so an intake worker
  process can relay them to the hub (``RelayedMeters``), whose ``/metrics`` shows them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from twisted.internet import defer, threads
from twisted.python.threadpool import ThreadPool

from actors.writer_health import WriterBoard
from hub.config import Config, IntakeConfig
from hub.config.access import Principal
from hub.domain.errors import UnavailableError
from hub.domain.operations import Closed
from hub.store import Flag, StaffSession, Store
from hub.support import metrics
from protocols.charconv import UnifiedCharset

Answer = tuple[int, dict[str, Any]]
T = TypeVar("T")


class GateView(Protocol):
    """What handlers see of the intake's gate (``hub.api.operations.Gate``): maintenance
    mode as the hub last read it, and the switch that tells the gate of a new flag."""

    maintenance: Flag | None

    def switched(self, flag: Flag | None) -> None: ...


class ReadinessView(Protocol):
    """What handlers see of ``/readyz``'s checks (``hub.api.operations.Readiness``)."""

    cached: tuple[float, Answer] | None

    def answer(self) -> defer.Deferred[Answer]: ...


@dataclass(frozen=True, slots=True)
class Call:
    """A request that passed its checks, as its handler sees it."""

    client: str
    params: dict[str, Any]   # path and query parameters, typed
    body: Any                # the decoded JSON body (None for GET)
    prepared: Any            # what the route's ``prepare`` made of it
    right: str = ""          # the right the operation needs (the document's)
    token: str | None = None  # a staff session's bearer token, as sent
    principal: Principal | None = None  # who calls: set before any handler runs
    correlation_id: str = ""  # ties this request to what it causes, in the logs
    # Text answered in the register's own codes (the city's 外字 table); the console,
    # which renders for a browser, keeps the 住基ネット's unified characters.
    register_codes: bool = True
    session: StaffSession | None = None  # a staff caller's session, as ``authorize`` read it

    @property
    def who(self) -> Principal:
        assert self.principal is not None, "handlers run for an authorized caller only"
        return self.principal


class Reads:
    """Store reads from the reactor side: in a bounded thread pool, at most ``queue``
    waiting; beyond that the caller is told to come back (503 ``busy``)."""

    def __init__(self, reactor: Any, store: Store, threads_: int, queue: int) -> None:
        self.reactor, self.store = reactor, store
        self.pool = ThreadPool(minthreads=1, maxthreads=threads_, name="store-reads")
        self.limit = threads_ + queue
        self.outstanding = 0

    def run(self, read: Callable[..., T], *args: Any) -> defer.Deferred[T]:
        """``read(*args)`` on a pool thread (``read`` opens its own connection)."""
        if self.outstanding >= self.limit:
            return defer.fail(UnavailableError("busy", "too many reads waiting; try again"))
        self.outstanding += 1
        d = threads.deferToThreadPool(self.reactor, self.pool, read, *args)

        def done(result: Any) -> Any:
            self.outstanding -= 1
            return result

        return d.addBoth(done)

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.pool.stop()

    def until(self, read: Callable[[], Answer], done: Callable[[Answer], bool],
              wait: float) -> defer.Deferred[Answer]:
        """``read()`` now, or — waiting up to ``wait`` seconds — as soon as ``done``
        holds for it (read again every 50 ms on the reactor's clock)."""
        deadline = self.reactor.seconds() + min(wait, 120.0)

        def check(answer: Answer) -> Answer | defer.Deferred[Answer]:
            if done(answer) or self.reactor.seconds() >= deadline:
                return answer
            return task_later(self.reactor, 0.05).addCallback(lambda _: again())

        def again() -> defer.Deferred[Answer]:
            return self.run(read).addCallback(check)

        return again()


def task_later(reactor: Any, delay: float) -> defer.Deferred[None]:
    d: defer.Deferred[None] = defer.Deferred()
    reactor.callLater(delay, d.callback, None)
    return d


class IntakeMeters:
    """The intake's series, counted here (the hub process)."""

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        metrics.intake_requests.labels(endpoint, str(status)).inc()
        metrics.intake_seconds.labels(endpoint).observe(seconds)

    def hop(self, name: str, seconds: float) -> None:
        """One hop of a change request (``jukihub_intake_hop_seconds``)."""
        metrics.intake_hop_seconds.labels(name).observe(seconds)

    def client_refused(self) -> None:
        metrics.intake_client_refused.inc()

    def change_refused(self, rule: str) -> None:
        metrics.changes_refused.labels(rule).inc()

    def apply(self, events: list[tuple[Any, ...]]) -> None:
        """Events an intake worker process counted (``RelayedMeters.take``)."""
        for name, *args in events:
            getattr(self, name)(*args)


class RelayedMeters(IntakeMeters):
    """In an intake worker process: events kept until they are taken and sent to the
    hub (any thread counts; the sender takes them on the reactor)."""

    def __init__(self) -> None:
        self._events: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def _add(self, event: tuple[Any, ...]) -> None:
        with self._lock:
            self._events.append(event)

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self._add(("request", endpoint, status, seconds))

    def hop(self, name: str, seconds: float) -> None:
        self._add(("hop", name, seconds))

    def client_refused(self) -> None:
        self._add(("client_refused",))

    def change_refused(self, rule: str) -> None:
        self._add(("change_refused", rule))

    def take(self) -> list[tuple[Any, ...]]:
        with self._lock:
            events, self._events = self._events, []
        return events


@dataclass
class Intake:
    """What checking requests needs (every intake process has one)."""

    settings: Config
    charset: UnifiedCharset | None
    today: Callable[[], Any]
    meters: IntakeMeters
    # Why the intake takes no change now (maintenance, backpressure), or None: set on
    # the reactor thread (by the hub's gate, or from it in a worker process), read by
    # the workers (a reference read).
    closed: Closed | None = None

    @property
    def config(self) -> IntakeConfig:
        return self.settings.intake

    def to_register(self, value: T, call: Call | None = None) -> T:
        """Text handed back to the register's side (inbox documents — 転出証明書情報 among
        them — query answers, department feeds) in the register's own codes: every
        string of ``value`` through the city's 外字 table (``UnifiedCharset.to_register``)
        — unless ``call`` is the console's (a browser shows unified characters)."""
        charset = self.charset
        if charset is None or (call is not None and not call.register_codes):
            return value
        return _text_mapped(value, charset.to_register)


def _text_mapped(value: Any, convert: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return convert(value)
    if isinstance(value, dict):
        return {k: _text_mapped(v, convert) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_mapped(v, convert) for v in value]
    return value


class Api:
    """What handlers work with: the configuration, the actors, the store's reads."""

    def __init__(self, intake: Intake, writer: Any, links: dict[str, Any], reactor: Any,
                 reads: Reads, writer_board: WriterBoard,
                 clock: Callable[[], float] = time.time) -> None:
        self.intake, self.settings = intake, intake.settings
        self.writer, self.links, self.reactor, self.reads = writer, links, reactor, reads
        self.writer_board = writer_board  # what the store writer is doing (any thread)
        self.clock = clock  # wall-clock time, for what is recorded
        self.gate: GateView | None = None            # set by the hub once it is wired
        self.readiness: ReadinessView | None = None

    def on_reactor(self, d: defer.Deferred[Any]) -> Callable[..., None]:
        """A reply callable for another thread: fires ``d`` on the reactor thread."""
        reactor = self.reactor
        return lambda *value: reactor.callFromThread(
            d.callback, value[0] if len(value) == 1 else value)
