"""What a handler of the HTTP API works with: the checked ``Call``, its ``Answer``, and
``Api`` — the configuration, the actors, and ``Reads``, the bounded pool where reads of
the store run (never on the reactor thread)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from twisted.internet import defer, threads
from twisted.python.threadpool import ThreadPool

from hub.config import Config
from hub.domain.errors import UnavailableError
from hub.store import Store
from protocols.charconv import UnifiedCharset

Answer = tuple[int, dict[str, Any]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    """A request that passed its checks, as its handler sees it."""

    client: str
    params: dict[str, Any]   # path and query parameters, typed
    body: Any                # the decoded JSON body (None for GET)
    prepared: Any            # what the route's ``prepare`` made of it


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


class Api:
    """What handlers work with: the configuration, the actors, the store's reads."""

    def __init__(self, settings: Config, writer: Any, links: dict[str, Any], reactor: Any,
                 reads: Reads, charset: UnifiedCharset | None,
                 today: Callable[[], Any]) -> None:
        self.settings, self.intake = settings, settings.intake
        self.writer, self.links, self.reactor = writer, links, reactor
        self.reads, self.charset, self.today = reads, charset, today

    def on_reactor(self, d: defer.Deferred[Any]) -> Callable[..., None]:
        """A reply callable for another thread: fires ``d`` on the reactor thread."""
        reactor = self.reactor
        return lambda *value: reactor.callFromThread(
            d.callback, value[0] if len(value) == 1 else value)
