"""Where a checked request goes next: ``LocalBackend`` in the hub process — the store
writer for the register's changes, the route's handler on the reactor for the rest;
``hub.api.remote.RemoteBackend`` in an intake worker process, which sends both to the
hub.  ``done`` callables may be called on any thread; the dispatch (``hub.api.server``)
takes it from there."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from twisted.python.failure import Failure
from twisted.python.threadable import isInIOThread

from actors.messages import RecordAudit, SubmitChanges
from hub.api import national_first
from hub.api.context import Answer, Api, Call
from hub.api.routes import Route
from hub.api.sessions import authorize
from hub.domain.errors import HubError, UnavailableError
from hub.domain.outcomes import Outcome, Request
from hub.store import AuditEntry

log = logging.getLogger("jukihub.intake")

Outcomes = Callable[[list[Outcome]], None]
Answered = Callable[[Answer | None], None]  # None: the handler failed (a bug)
Authorized = Callable[[Call | Answer | None], None]  # the caller, a refusal, or a bug
Recorded = Callable[[HubError | None], None]  # None: committed


def on_reactor(reactor: Any, work: Callable[..., None], *args: Any) -> None:
    """``work(*args)`` on the reactor thread: now if this is it, else ``callFromThread``
    (which from the reactor thread itself would cost a turn of the loop)."""
    if isInIOThread():
        work(*args)
    else:
        reactor.callFromThread(work, *args)


class Backend(Protocol):
    def submit(self, requests: list[Request], done: Outcomes) -> None:
        """Requests to the store writer; ``done`` gets their outcomes after the commit."""

    def call(self, route: Route, call: Call, done: Answered) -> None:
        """The route's handler with ``call``; ``done`` gets its answer."""

    def authorize(self, call: Call, done: Authorized) -> None:
        """A staff member's session and right, decided by the hub (its sessions): ``done``
        gets ``call`` with its principal, or the refusal's answer once it is in the
        操作ログ (``None``: a bug), on the reactor thread."""

    def record(self, entry: AuditEntry, done: Recorded) -> None:
        """An entry for the 操作ログ (a refused call); ``done`` is called on the reactor
        thread once it is committed (with ``None``), or with the error if it could not
        be."""


class LocalBackend:
    """In the hub process."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def submit(self, requests: list[Request], done: Outcomes) -> None:
        closed = self.api.intake.closed  # the gate once more: nothing passes it shut
        if closed is not None:
            error = UnavailableError(closed.code, closed.message)
            done([Outcome(r.request_id, error=error, reason=closed.code) for r in requests])
            return
        if national_first.wanted(self.api, requests):
            # A change that needs J-LIS's answer first (asked on the reactor thread).
            on_reactor(self.api.reactor, self._asking_national, requests, done)
            return
        # To the store writer's thread with a tell; it calls ``done`` after the commit.
        self.api.writer.tell(SubmitChanges(requests, reply=done))

    def _asking_national(self, requests: list[Request], done: Outcomes) -> None:
        def ready(prepared: list[national_first.Prepared]) -> None:
            go = [p for p in prepared if not isinstance(p, Outcome)]
            if not go:
                done(national_first.merged(prepared, []))
                return
            # To the store writer's thread with a tell; it calls back after the commit.
            self.api.writer.tell(SubmitChanges(go, reply=lambda outcomes: done(
                national_first.merged(prepared, outcomes))))

        def failed(failure: Failure) -> None:  # a bug: every request answered 500
            log.error("asking J-LIS first failed", extra={
                "event": "intake.error", "error": failure.type.__name__ if failure.type
                else "unknown"})
            done([Outcome(r.request_id, error=HubError("internal_error", "the hub failed "
                                                         "to handle this request", status=500),
                          reason="internal_error") for r in requests])

        national_first.attach(self.api, requests).addCallbacks(ready, failed)

    def call(self, route: Route, call: Call, done: Answered) -> None:
        on_reactor(self.api.reactor, self._call, route, call, done)

    def _call(self, route: Route, call: Call, done: Answered) -> None:
        """On the reactor thread: who calls (a staff member's session), then the
        handler; its answer or refusal to ``done``."""
        handler = route.handler
        assert handler is not None  # a route has a handler or a submit
        d = authorize(self.api, call).addCallback(lambda c: handler(self.api, c))
        d.addCallbacks(done, lambda failure: done(_refusal(failure)))

    def authorize(self, call: Call, done: Authorized) -> None:
        on_reactor(self.api.reactor, self._authorize, call, done)

    def _authorize(self, call: Call, done: Authorized) -> None:
        authorize(self.api, call).addCallbacks(done, lambda failure: done(_refusal(failure)))

    def record(self, entry: AuditEntry, done: Recorded) -> None:
        # To the store writer with a tell; its reply crosses back with callFromThread.
        reactor = self.api.reactor
        self.api.writer.tell(RecordAudit(entry, reply=lambda error: reactor.callFromThread(
            done, error)))


def _refusal(failure: Failure) -> Answer | None:
    """A ``HubError`` as its answer; anything else is a bug, logged by type only."""
    err = failure.value
    if isinstance(err, HubError):
        return err.status, {"error": err.to_json()}
    log.error("intake failure", extra={"event": "intake.error",
                                       "error": failure.type.__name__ if failure.type
                                       else "unknown"})
    return None


def outcomes_for_a_worker(outcomes: list[Outcome]) -> list[Outcome]:
    """What an intake worker needs of outcomes: not the messages they queued."""
    return [Outcome(o.request_id, o.response, o.error, o.duplicate, o.reason)
            for o in outcomes]


__all__ = ["Answered", "Authorized", "Backend", "LocalBackend", "Outcomes", "Recorded",
           "on_reactor",
           "outcomes_for_a_worker"]
