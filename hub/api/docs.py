"""``/openapi.yaml``: the document the intake enforces (the very file the validators
are compiled from), and ``/docs/``: Redoc's rendering of it, from Redoc's released bundle
kept in ``static/redoc/`` (its release and checksum in ``RELEASE.json``, taken by
``jukihub-dev redoc``; nothing from a CDN).  To any client whose certificate has an
account (a system's or a staff terminal's); no session needed.

Threads: the reactor thread of the process that serves the intake.
"""

from __future__ import annotations

import json

from twisted.web import resource, server

from hub.api.openapi import OPENAPI_PATH
from hub.api.web import HERE, send
from hub.config.access import AccessConfig, Admission
from hub.support.tls import peer_common_name

REDOC_BUNDLE = HERE / "static" / "redoc" / "redoc.standalone.js"


class Docs(resource.Resource):
    """The API's document and its reference page; see the module docstring."""

    isLeaf = True

    def __init__(self, access: AccessConfig) -> None:
        super().__init__()
        self.access = access
        self.document = OPENAPI_PATH.read_bytes()  # the file the validators come from
        self._redoc: bytes | None = None  # 1 MB, read when first asked for

    @property
    def redoc(self) -> bytes:
        if self._redoc is None:
            self._redoc = REDOC_BUNDLE.read_bytes()
        return self._redoc

    def render(self, request: server.Request) -> int:
        path = request.path.decode("latin-1")
        client = peer_common_name(request.transport) or ""
        if self.access.admission(client) is Admission.UNKNOWN:
            send(request, 403, "application/json", json.dumps({"error": {
                "code": "client_not_allowed", "message": "this client certificate may not "
                "read the API's documents"}}).encode())
        elif path == "/openapi.yaml":
            send(request, 200, "application/yaml; charset=utf-8", self.document)
        elif path in ("/docs", "/docs/"):
            send(request, 200, "text/html; charset=utf-8", _REDOC_PAGE)
        elif path == "/docs/redoc.standalone.js":
            send(request, 200, "text/javascript; charset=utf-8", self.redoc, cache=True)
        else:
            send(request, 404, "application/json",
                 b'{"error": {"code": "not_found", "message": "no such document"}}')
        return server.NOT_DONE_YET


_REDOC_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jukihub intake API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.yaml"></redoc>
<script src="/docs/redoc.standalone.js"></script></body></html>
"""
