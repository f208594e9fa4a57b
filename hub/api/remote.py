"""The intake in worker processes: the two ends of the conversation between an intake
worker process and the hub, over a private socketpair (``hub.net.ipc`` carries the
messages).

A worker checks and prepares requests itself (TLS, HTTP, JSON, the OpenAPI document,
the format checks), then asks the hub — ``("submit", n, requests)`` for the store
writer, ``("call", n, method, path, call)`` for any other route's handler (the
``Call`` carries the caller's certificate name, session token or system principal) —
and the hub answers ``("outcomes", n, outcomes)`` or ``("answer", n, answer)``.  The
worker's meters go along as ``("meters", events)``; a refusal's 操作ログ entry is
``("audit", n, entry)``, answered once committed; a staff caller's session and right
are ``("authorize", n, call)``, answered with the caller or the refusal before the
worker looks at the request's body.

The messages are Python objects (pickled by ``hub.net.ipc``): the socketpair is the
hub's own, inherited by the processes it spawned, never reachable from outside.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from hub.api.backend import (
    Answered,
    Authorized,
    LocalBackend,
    Outcomes,
    Recorded,
    on_reactor,
    outcomes_for_a_worker,
)
from hub.api.context import Answer, Call, IntakeMeters
from hub.api.routes import ROUTES, Route
from hub.domain.outcomes import Outcome, Request
from hub.store import AuditEntry

Send = Callable[[Any], None]  # sends one message (on the reactor thread)


class RemoteBackend:
    """In an intake worker process: asks the hub."""

    def __init__(self, reactor: Any, send: Send) -> None:
        self.reactor, self.send = reactor, send
        self._pending: dict[int, Callable[[Any], None]] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def _ask(self, done: Callable[[Any], None], *message: Any) -> None:
        with self._lock:
            n = next(self._numbers)
            self._pending[n] = done
        on_reactor(self.reactor, self.send, (message[0], n, *message[1:]))

    def submit(self, requests: list[Request], done: Outcomes) -> None:
        self._ask(done, "submit", requests)

    def call(self, route: Route, call: Call, done: Answered) -> None:
        self._ask(done, "call", route.method, route.path, call)

    def authorize(self, call: Call, done: Authorized) -> None:
        self._ask(done, "authorize", call)

    def record(self, entry: AuditEntry, done: Recorded) -> None:
        self._ask(done, "audit", entry)

    def received(self, message: tuple[Any, ...]) -> None:
        """The hub's answer to question ``n`` (reactor thread)."""
        _kind, n, value = message
        with self._lock:
            done = self._pending.pop(n, None)
        if done is not None:
            done(value)

    def lost(self) -> None:
        """The hub is gone: every question waiting gets no answer (a 500)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for done in pending.values():
            done(None)


class Dispatcher:
    """In the hub process: a worker's questions to the ``LocalBackend``, and their
    answers back on ``reply`` (which must be called on the reactor thread)."""

    _ROUTES = {(r.method, r.path): r for r in ROUTES}

    def __init__(self, backend: LocalBackend | None, meters: IntakeMeters,
                 reactor: Any) -> None:
        # ``backend`` may come later (the hub spawns its workers before the store is
        # up), but before the reactor reads anything a worker sent.
        self.backend, self.meters, self.reactor = backend, meters, reactor

    def received(self, message: tuple[Any, ...], reply: Send) -> None:
        kind = message[0]
        if kind == "meters":
            self.meters.apply(message[1])
            return
        n = message[1]

        def outcomes(result: list[Outcome]) -> None:  # from the store writer's thread
            self.reactor.callFromThread(reply, ("outcomes", n, outcomes_for_a_worker(result)))

        def answer(result: Answer | Call | None) -> None:
            on_reactor(self.reactor, reply, ("answer", n, result))

        backend = self.backend
        assert backend is not None, "wired before the reactor reads a worker's message"
        if kind == "submit":
            backend.submit(message[2], outcomes)
        elif kind == "audit":
            backend.record(message[2], lambda error: reply(("answer", n, error)))
        elif kind == "authorize":
            backend.authorize(message[2], answer)
        elif kind == "call":
            _, _, method, path, call = message
            backend.call(self._ROUTES[(method, path)], call, answer)
