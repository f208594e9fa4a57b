"""The intake's resource tree (``hub.api.site``), in-process with Twisted's
``DummyRequest``: which resource each path reaches, the console switched off, and the
API's documents refused to a caller without a certificate that has an account."""

from __future__ import annotations

import json
from typing import Any

from twisted.web import resource
from twisted.web.test.requesthelper import DummyRequest

from devtools.harness import CONFIG
from hub.api.docs import Docs
from hub.api.site import Root, _Off
from hub.config import load_config


class _Named(resource.Resource):
    isLeaf = True

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def request_for(path: bytes) -> Any:
    """A request of ``path`` with no TLS under it (no client certificate)."""
    request: Any = DummyRequest(path.lstrip(b"/").split(b"/"))
    request.path, request.transport, request._disconnected = path, None, False
    return request


def answered(r: resource.Resource, path: bytes) -> tuple[int, Any]:
    request = request_for(path)
    r.render(request)
    assert request.finished
    return request.responseCode, json.loads(b"".join(request.written))


def test_each_path_reaches_its_resource() -> None:
    api, docs, console = _Named("api"), _Named("docs"), _Named("console")
    root = Root(api, docs, console)  # type: ignore[arg-type]  # stand-ins
    reached = {path: root.getChild(path, request_for(b"/" + path)) for path in
               (b"console", b"docs", b"openapi.yaml", b"v1", b"healthz", b"consoles")}
    assert {p: r.name for p, r in reached.items()} == {  # type: ignore[attr-defined]
        b"console": "console", b"docs": "docs", b"openapi.yaml": "docs", b"v1": "api",
        b"healthz": "api", b"consoles": "api"}


def test_a_console_switched_off_answers_a_clear_404() -> None:
    status, body = answered(_Off(), b"/console/")
    assert status == 404 and body["error"] == {"code": "not_found",
                                               "message": "the console is switched off"}


def test_the_documents_are_refused_without_a_certificate_that_has_an_account() -> None:
    docs = Docs(load_config(CONFIG).access)
    for path in (b"/openapi.yaml", b"/docs/", b"/docs/redoc.standalone.js"):
        status, body = answered(docs, path)
        assert status == 403 and body["error"]["code"] == "client_not_allowed"


def test_the_language_button_asks_for_a_staff_terminal_first() -> None:
    from hub.api.console import Console

    console = Console(lambda *a: None, load_config(CONFIG).access)  # type: ignore[arg-type]
    request = request_for(b"/console/language")
    request.method, request.getCookie = b"POST", lambda _key: None  # no cookie sent
    console.render(request)
    assert request.finished and request.responseCode == 403
    assert not getattr(request, "cookies", [])
