"""Validation and errors of every route of the API, in-process (``ApiResource.invoke``:
the one dispatch without the HTTP, over a fake backend, no hub): a body of the wrong
shape, a path or query parameter that fails its schema, an unknown query parameter —
each a 400 ``schema_invalid`` (or the route's own code) that reaches neither the store
writer nor a handler; a handler's failure a 500 that says nothing of it; an answer that
does not match the document a 500 too.  HTTP-level refusals (415, 413, bad JSON) and
what crosses processes stay in the end-to-end tests."""

from __future__ import annotations

import re
from typing import Any

import pytest

from devtools.harness import CONFIG
from hub.api.admission import internal
from hub.api.context import Answer, Call, Intake, IntakeMeters
from hub.api.openapi import Contract, ResponseMismatch
from hub.api.routes import ROUTES, Route
from hub.api.server import ApiResource
from hub.config import load_config

SETTINGS = load_config(CONFIG)
CONTRACT = Contract()
REGISTER, TERMINAL = "register.jukihub.test", "operator.jukihub.test"
INTERNAL = internal()


class Now:
    """The reactor and the intake workers, both run at once on the caller's thread."""

    def callFromThread(self, f: Any, *args: Any) -> None:  # noqa: N802 (Twisted's name)
        f(*args)

    def callInThread(self, f: Any, *args: Any) -> None:  # noqa: N802
        f(*args)


class Backend:
    """Admits whoever asks (admission is tested in ``test_admission``); counts what
    reaches the store writer or a handler, and answers as told."""

    def __init__(self, answer: Answer | None = (200, {})) -> None:
        self.answer = answer
        self.reached: list[str] = []

    def record(self, _entry: Any, done: Any) -> None:
        done(None)

    def authorize(self, call: Call, done: Any) -> None:
        done(call)

    def submit(self, requests: list[Any], _done: Any) -> None:
        self.reached.append("submit")

    def call(self, route: Route, _call: Call, done: Any) -> None:
        self.reached.append(route.name)
        done(self.answer)


def invoke(route: Route, body: Any = None, path: str | None = None,
           query: dict[str, str] | None = None, backend: Backend | None = None,
           ) -> tuple[Answer, Backend]:
    backend = backend or Backend()
    intake = Intake(SETTINGS, None, lambda: None, IntakeMeters())
    api = ApiResource(intake, backend, CONTRACT, Now(), Now())  # type: ignore[arg-type]
    client, token = (REGISTER, None) if route.submit is not None else (TERMINAL, "t")
    d = api.invoke(client, token, route.method, path or concrete(route), query or {}, body)
    assert d.called, "the fake reactor and workers answer at once"
    return d.result, backend


def concrete(route: Route, value: str = "1") -> str:
    """A path of the route's template, each parameter given ``value``."""
    return re.sub(r"\{\w+\}", value, route.path)


def with_body(route: Route) -> bool:
    return CONTRACT.operation(route.method, route.path).body is not None


def path_params(route: Route) -> list[str]:
    return re.findall(r"\{(\w+)\}", route.path)


@pytest.mark.parametrize("route", [r for r in ROUTES if with_body(r)],
                         ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.parametrize("body", [[], "text", 7, {"no_such_field": 1}],
                         ids=["list", "string", "number", "unknown_field"])
def test_a_body_of_the_wrong_shape_is_refused_before_any_work(route: Route, body: Any) -> None:
    (status, answer), backend = invoke(route, body)
    assert status == 400, answer
    assert answer["error"]["code"] in ("schema_invalid", "batch_too_large"), answer
    assert backend.reached == []


@pytest.mark.parametrize("route", [r for r in ROUTES if path_params(r)],
                         ids=lambda r: f"{r.method} {r.path}")
def test_a_path_parameter_that_fails_its_schema_is_refused(route: Route) -> None:
    """Every path parameter is an id, a code or a name of a bounded form; a 200-character
    value of stray characters fits none of them."""
    (status, answer), backend = invoke(route, {} if with_body(route) else None,
                                       path=concrete(route, "%00" + "x" * 200))
    assert status == 400 and answer["error"]["code"] == "schema_invalid", answer
    assert backend.reached == []


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_an_unknown_query_parameter_is_refused(route: Route) -> None:
    (status, answer), backend = invoke(route, None, query={"no_such_parameter": "1"})
    assert status == 400 and answer["error"]["code"] == "schema_invalid", answer
    assert backend.reached == []


HANDLED = [r for r in ROUTES if r.handler is not None and not with_body(r)
           and not path_params(r)]
OFF_THE_DOCUMENT = (200, {"not": "what the document says", "x": [1]})


def off_the_document(route: Route) -> bool:
    try:
        CONTRACT.operation(route.method, route.path).check_response(*OFF_THE_DOCUMENT)
    except ResponseMismatch:
        return True
    return False


@pytest.mark.parametrize("route", HANDLED, ids=lambda r: f"{r.method} {r.path}")
def test_a_handler_that_fails_or_answers_off_the_document_is_a_bare_500(route: Route) -> None:
    (status, body), backend = invoke(route, backend=Backend(None))  # the handler failed
    assert backend.reached == [route.name]
    assert status == 500 and body == INTERNAL, body
    (status, body), _ = invoke(route, backend=Backend(OFF_THE_DOCUMENT))
    if off_the_document(route):
        assert status == 500 and body == INTERNAL, body
    else:  # an operation whose answer may be any object (none today: see below)
        assert status == 200


def test_the_document_describes_every_handled_answer() -> None:
    """The check above is not empty: every such operation's answer has a shape."""
    assert HANDLED and all(off_the_document(r) for r in HANDLED), [
        r.path for r in HANDLED if not off_the_document(r)]
