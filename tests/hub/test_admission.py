"""Admission of every route of the API, in-process (``hub.api.admission``, no HTTP, no
hub): a certificate without an account is refused 403 whatever it asks, a system account
without the route's right 403, a staff terminal without a session 401 (but to log in),
each refusal on the record (the 操作ログ) before it is answered; a system account with
the right, and a terminal with a bearer token, go on to the next step without the body
having been looked at.  The end-to-end tests keep what crosses processes."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.harness import CONFIG
from hub.api.admission import Admitter
from hub.api.context import Answer, Call, IntakeMeters
from hub.api.openapi import Contract
from hub.api.routes import ROUTES, Route, match
from hub.config import load_config
from hub.config.access import SESSION_LOGIN
from hub.store import AuditEntry

ACCESS = load_config(CONFIG).access
CONTRACT = Contract()
NOBODY, REGISTER, MONITOR, TERMINAL = ("stranger.example", "register.jukihub.test",
                                       "monitor.jukihub.test", "operator.jukihub.test")


class Backend:
    """Records what the admitter puts on the record, and answers ``authorize`` with the
    caller (the session check is the hub process's, tested end to end)."""

    def __init__(self) -> None:
        self.recorded: list[AuditEntry] = []
        self.asked: list[Call] = []

    def record(self, entry: AuditEntry, done: Any) -> None:
        self.recorded.append(entry)
        done(None)  # committed

    def authorize(self, call: Call, done: Any) -> None:
        self.asked.append(call)
        done(call)

    def submit(self, *_: Any) -> None:
        raise AssertionError("admission never submits")

    def call(self, *_: Any) -> None:
        raise AssertionError("admission never calls a handler")


def admit(route: Route, client: str, authorization: str | None = None,
          ) -> tuple[Backend, list[Call], list[Answer]]:
    backend = Backend()
    admitter = Admitter(ACCESS, CONTRACT, backend, IntakeMeters())  # type: ignore[arg-type]
    passed: list[Call] = []
    refused: list[Answer] = []
    path = route.path.replace("{", "").replace("}", "")  # a concrete path of the template
    found = match(route.method, path)
    assert found is not None and found[0] is route
    try:
        got, _params = admitter.caller_and_route(client, None, route.method, found)
    except Exception as err:  # noqa: BLE001 (a refusal: answered the way the dispatch does)
        admitter.answer_refusal(err, refused.append)  # type: ignore[arg-type]
        return backend, passed, refused
    admitter.authorized(client, authorization, got, "cid", passed.append, refused.append)
    return backend, passed, refused


def right(route: Route) -> str:
    return CONTRACT.operation(route.method, route.path).right


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_a_certificate_without_an_account_is_refused_and_recorded(route: Route) -> None:
    backend, passed, refused = admit(route, NOBODY, "Bearer some-token")
    assert not passed and [a[0] for a in refused] == [403]
    assert refused[0][1]["error"]["code"] == "client_not_allowed"
    [entry] = backend.recorded
    assert (entry.action, entry.result) == (right(route), "client_not_allowed")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_a_system_account_passes_with_the_right_and_is_refused_without(route: Route) -> None:
    for client in (REGISTER, MONITOR):
        backend, passed, refused = admit(route, client)
        if ACCESS.system(client).may(right(route)):
            assert [c.principal is not None for c in passed] == [True] and not refused
            assert not backend.recorded and not backend.asked  # decided here, by role
        else:
            assert not passed and [a[0] for a in refused] == [403]
            assert refused[0][1]["error"]["code"] == "not_permitted"
            assert [e.result for e in backend.recorded] == ["not_permitted"]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_a_staff_terminal_needs_a_session_but_to_log_in(route: Route) -> None:
    backend, passed, refused = admit(route, TERMINAL)  # no Authorization
    if route.submit is not None:  # the register's changes: system accounts only
        assert [a[0] for a in refused] == [403] and not passed
    elif right(route) == SESSION_LOGIN:
        assert len(passed) == 1 and passed[0].principal is None and not backend.asked
    else:
        assert [a[0] for a in refused] == [401] and not passed
        assert refused[0][1]["error"]["code"] == "login_required"
        assert [e.result for e in backend.recorded] == ["login_required"]
    if route.submit is None:  # with a session token: the hub process decides
        backend, passed, refused = admit(route, TERMINAL, "Bearer a-token")
        assert len(passed) == 1 and not refused
        assert [c.token for c in backend.asked] == ["a-token"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/no-such-thing"),
                                               ("DELETE", "/v1/changes"), ("GET", "/")])
def test_the_certificate_comes_before_the_route(method: str, path: str) -> None:
    """A stranger learns not even whether a path exists (403, not 404 or 405); a known
    system account does."""
    admitter = Admitter(ACCESS, CONTRACT, Backend(), IntakeMeters())  # type: ignore[arg-type]
    for client, status in ((NOBODY, 403), (REGISTER, 404 if method == "GET" else 405)):
        refused: list[Answer] = []
        try:
            admitter.caller_and_route(client, None, method, match(method, path))
        except Exception as err:  # noqa: BLE001 (the refusal, answered as the dispatch does)
            admitter.answer_refusal(err, refused.append)  # type: ignore[arg-type]
        assert [a[0] for a in refused] == [status], (client, method, path)
