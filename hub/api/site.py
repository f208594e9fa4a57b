"""The intake listener's resource tree, built by the wiring (``hub.app`` in the hub
process, ``hub.worker`` in an intake worker process): the staff console under
``/console``, the API's document and reference page at ``/openapi.yaml`` and under
``/docs``, and every other path to the JSON API's one dispatch (``ApiResource``).  Each
resource admits its callers itself, by certificate first (and the console by session,
the API by session and right)."""

from __future__ import annotations

import json

from twisted.web import resource, server

from hub.api.console import Console
from hub.api.docs import Docs
from hub.api.server import ApiResource, Site
from hub.api.web import send


class _Off(resource.Resource):
    """The console switched off (``[operations] console = false``)."""

    isLeaf = True

    def render(self, request: server.Request) -> int:
        send(request, 404, "application/json", json.dumps({"error": {
            "code": "not_found", "message": "the console is switched off"}}).encode())
        return server.NOT_DONE_YET  # (answered already)


class Root(resource.Resource):
    """Routes by the path's first segment; see the module docstring."""

    def __init__(self, api: ApiResource, docs: Docs, console: resource.Resource) -> None:
        super().__init__()
        self.api, self.docs, self.console = api, docs, console

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:  # noqa: N802
        if path == b"console":
            return self.console
        if path in (b"docs", b"openapi.yaml"):
            return self.docs
        return self.api  # a leaf: it reads the whole path itself

    def render(self, request: server.Request) -> bytes | int:
        return self.api.render(request)  # "/" is the API's (404, no such endpoint)


def intake_site(api: ApiResource) -> Site:
    """The site of the intake listener around ``api`` (whose configuration says whether
    the console is served)."""
    settings = api.intake.settings
    access = settings.access
    console = Console(api.invoke, access) if settings.operations.console else _Off()
    return Site(Root(api, Docs(access), console), api.cfg.max_body_bytes)
