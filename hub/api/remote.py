"""The intake in worker processes: the two ends of the conversation between an intake
worker process and the hub, over a private socketpair (``hub.net.ipc`` carries the
messages, and the processes' own).

A worker checks and prepares requests itself (TLS, HTTP, JSON, the OpenAPI document,
the format checks), then asks the hub — ``Submit`` for the store writer, ``Handle`` for
any other route's handler (the ``Call`` carries the caller's certificate name, session
token or system principal) — and the hub answers ``OutcomesReply`` or ``AnswerReply``
with the question's number.  The worker's meters go along as ``Meters``; a refusal's
操作ログ entry is ``Record``, answered once committed; a staff caller's session and right
are ``Authorize``, answered with the caller or the refusal before the worker looks at
the request's body.

The messages are dataclasses, pickled by ``hub.net.ipc``: the socketpair is the hub's
own, inherited by the processes it spawned, never reachable from outside.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
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


# ---- worker → hub --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submit:
    """Requests for the store writer."""

    n: int
    requests: list[Request]


@dataclass(frozen=True, slots=True)
class Handle:
    """A call of the route ``method path``'s handler."""

    n: int
    method: str
    path: str
    call: Call


@dataclass(frozen=True, slots=True)
class Authorize:
    """A staff caller's session and right."""

    n: int
    call: Call


@dataclass(frozen=True, slots=True)
class Record:
    """A refused call's 操作ログ entry."""

    n: int
    entry: AuditEntry


@dataclass(frozen=True, slots=True)
class Meters:
    """What the worker counted (``RelayedMeters.take``); not answered."""

    events: list[tuple[Any, ...]]


Question = Submit | Handle | Authorize | Record


# ---- hub → worker --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutcomesReply:
    """The store writer's outcomes of ``Submit`` number ``n``."""

    n: int
    outcomes: list[Outcome]


@dataclass(frozen=True, slots=True)
class AnswerReply:
    """The answer to question ``n`` (a handler's, a caller, a refusal; ``None``: a bug)."""

    n: int
    value: Any


class RemoteBackend:
    """In an intake worker process: asks the hub."""

    def __init__(self, reactor: Any, send: Send) -> None:
        self.reactor, self.send = reactor, send
        self._pending: dict[int, Callable[[Any], None]] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def _ask(self, done: Callable[[Any], None], question: Callable[[int], Question]) -> None:
        with self._lock:
            n = next(self._numbers)
            self._pending[n] = done
        on_reactor(self.reactor, self.send, question(n))

    def submit(self, requests: list[Request], done: Outcomes) -> None:
        self._ask(done, lambda n: Submit(n, requests))

    def call(self, route: Route, call: Call, done: Answered) -> None:
        self._ask(done, lambda n: Handle(n, route.method, route.path, call))

    def authorize(self, call: Call, done: Authorized) -> None:
        self._ask(done, lambda n: Authorize(n, call))

    def record(self, entry: AuditEntry, done: Recorded) -> None:
        self._ask(done, lambda n: Record(n, entry))

    def received(self, message: OutcomesReply | AnswerReply) -> None:
        """The hub's answer to question ``n`` (reactor thread)."""
        with self._lock:
            done = self._pending.pop(message.n, None)
        if done is not None:
            done(message.outcomes if isinstance(message, OutcomesReply) else message.value)

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

    def received(self, message: Meters | Question, reply: Send) -> None:
        if isinstance(message, Meters):
            self.meters.apply(message.events)
            return
        n = message.n

        def outcomes(result: list[Outcome]) -> None:  # from the store writer's thread
            self.reactor.callFromThread(reply, OutcomesReply(n, outcomes_for_a_worker(result)))

        def answer(result: Answer | Call | None) -> None:
            on_reactor(self.reactor, reply, AnswerReply(n, result))

        backend = self.backend
        assert backend is not None, "wired before the reactor reads a worker's message"
        if isinstance(message, Submit):
            backend.submit(message.requests, outcomes)
        elif isinstance(message, Record):
            backend.record(message.entry, lambda error: reply(AnswerReply(n, error)))
        elif isinstance(message, Authorize):
            backend.authorize(message.call, answer)
        else:
            backend.call(self._ROUTES[(message.method, message.path)], message.call, answer)
