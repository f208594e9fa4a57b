"""What the intake listener serves besides the JSON API: the API's own document and
reference page, and the staff console.  Both are behind the same mutual TLS.

- ``/openapi.yaml``: the document the intake enforces (the very file the validators
  are compiled from), and ``/docs/``: Redoc's rendering of it, from the Redoc bundle
  installed with the hub (``drf-spectacular-sidecar``'s copy of the released files;
  nothing from a CDN).  To any client whose certificate has an account (a system's or
  a staff terminal's); no session needed.
- ``/console/…``: server-rendered pages (Jinja2) for staff at a staff terminal.  A
  page is built from calls to the JSON API made in-process through the same dispatch
  (``ApiResource.invoke``: the same rights check, the same OpenAPI checks, the same
  handlers, the same 操作ログ), with the session token the login put in a cookie
  (``HttpOnly; Secure; SameSite=Strict``); every form carries a token derived from
  the session as well.  A page shows the menus the viewer's rights allow, and a page
  the viewer may not see answers 403, as the API does.

Threads: everything here runs on the reactor thread of the process that serves the
intake; the API calls answer on it (``invoke``), and templates are small.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.web import server

from hub.api.context import Answer
from hub.api.openapi import OPENAPI_PATH
from hub.config.access import Admission
from hub.domain.operations import short_duration
from hub.support.tls import peer_common_name

if TYPE_CHECKING:
    from hub.api.server import ApiResource

log = logging.getLogger("jukihub.console")

HERE = Path(__file__).parent
COOKIE = "jukihub_console"
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; "
        "form-action 'self'")
_MAX_FORM = 64 << 10


REDOC_BUNDLE = HERE / "static" / "redoc" / "redoc.standalone.js"


def _send(request: server.Request, status: int, ctype: str, data: bytes,
          cache: bool = False) -> None:
    if request._disconnected or request.finished:
        return
    request.setResponseCode(status)
    request.setHeader("content-type", ctype)
    request.setHeader("content-length", str(len(data)))
    request.setHeader("content-security-policy", _CSP)
    request.setHeader("x-content-type-options", "nosniff")
    request.setHeader("referrer-policy", "no-referrer")
    request.setHeader("cache-control", "max-age=3600" if cache else "no-store")
    request.write(data)
    request.finish()


class Docs:
    """``/openapi.yaml`` and ``/docs/``; see the module docstring."""

    def __init__(self, api: ApiResource) -> None:
        self.api = api
        self.document = OPENAPI_PATH.read_bytes()  # the file the validators come from
        self._redoc: bytes | None = None  # 1 MB, read when first asked for

    @property
    def redoc(self) -> bytes:
        if self._redoc is None:
            self._redoc = REDOC_BUNDLE.read_bytes()
        return self._redoc

    def render(self, request: server.Request, path: str) -> None:
        client = peer_common_name(request.transport) or ""
        if self.api.intake.settings.access.admission(client) is Admission.UNKNOWN:
            _send(request, 403, "application/json", json.dumps({"error": {
                "code": "client_not_allowed", "message": "this client certificate may not "
                "read the API's documents"}}).encode())
            return
        if path == "/openapi.yaml":
            _send(request, 200, "application/yaml; charset=utf-8", self.document)
        elif path in ("/docs", "/docs/"):
            _send(request, 200, "text/html; charset=utf-8", _REDOC_PAGE)
        elif path == "/docs/redoc.standalone.js":
            _send(request, 200, "text/javascript; charset=utf-8", self.redoc, cache=True)
        else:
            _send(request, 404, "application/json",
                  b'{"error": {"code": "not_found", "message": "no such document"}}')


_REDOC_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jukihub intake API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.yaml"></redoc>
<script src="/docs/redoc.standalone.js"></script></body></html>
"""


# ---- the staff console -------------------------------------------------------------------


# The console's menu: page, its title, the right that shows it.
MENU = (
    ("", "Overview", "status.read"),
    ("inbox", "Inbox", "inbox.list"),
    ("manual-answers", "Manual answers", "manual_answer.decide"),
    ("approvals", "Bulk outputs", "bulk.approve"),
    ("dead-letters", "Dead letters", "deadletters.list"),
    ("checks", "Consistency checks", "consistency.read"),
    ("audit", "Operation log", "audit.read"),
)


class Page(Exception):
    """A page answered at once (a redirect, a refusal, a form error)."""

    def __init__(self, status: int, template: str = "message.html",
                 location: str | None = None, **context: Any) -> None:
        super().__init__(status)
        self.status, self.template, self.location, self.context = (status, template,
                                                                    location, context)


class Visit:
    """One request to the console: who (terminal, session), and the API calls."""

    def __init__(self, console: Console, request: server.Request) -> None:
        self.console, self.request = console, request
        self.client = peer_common_name(request.transport) or ""
        self.token = (request.getCookie(COOKIE.encode()) or b"").decode("latin-1") or None
        self.session: dict[str, Any] | None = None
        self.rights: frozenset[str] = frozenset()

    def call(self, method: str, path: str, body: Any = None,
             query: dict[str, Any] | None = None) -> defer.Deferred[Answer]:
        """An API call, as this staff member, through the API's own dispatch."""
        q = {k: str(v) for k, v in (query or {}).items() if v not in (None, "")}
        return self.console.api.invoke(self.client, self.token, method, path, q, body)

    def need(self, answer: Answer, ok: int = 200) -> dict[str, Any]:
        """The body of a successful answer; a refusal becomes the page's answer."""
        status, body = answer
        if status == 401:
            raise Page(303, location="/console/login")
        if status != ok:
            error = body.get("error", {})
            raise Page(status, message=error.get("message", "refused"),
                       code=error.get("code", str(status)))
        return body

    def csrf(self) -> str:
        return hmac.new((self.token or "").encode(), b"console-form", hashlib.sha256
                        ).hexdigest()[:32]

    def form(self) -> dict[str, str]:
        """A POSTed form (url-encoded), after its CSRF token is checked: each field's
        first value (``form_lists`` has every value of a repeated field)."""
        return {k: v[0] for k, v in self.form_lists().items()}

    def form_lists(self) -> dict[str, list[str]]:
        """A POSTed form with every value of each field (checkboxes), CSRF checked."""
        content = self.request.content
        if content is not None:
            content.seek(0)
        raw = content.read(_MAX_FORM + 1) if content is not None else b""
        if len(raw) > _MAX_FORM:
            raise Page(413, message="the form is too large", code="body_too_large")
        fields = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        if self.token is not None and not hmac.compare_digest(
                (fields.get("csrf") or [""])[0], self.csrf()):
            raise Page(403, message="the form is stale; open the page again",
                       code="form_expired")
        return fields


Handler = Callable[["Visit", list[str]], "defer.Deferred[tuple[str, dict[str, Any]]]"]


class Console:
    """``/console/…``; see the module docstring.  The pages are ``hub.api.console``."""

    def __init__(self, api: ApiResource, pages: dict[tuple[str, str], Any]) -> None:
        import jinja2  # only where the console is served

        self.api, self.pages = api, pages
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=jinja2.select_autoescape(["html"]))
        self.templates.filters["when"] = _when
        self.templates.filters["ago"] = short_duration
        self.css = (HERE / "static" / "console.css").read_bytes()

    def render(self, request: server.Request, path: str) -> None:
        if path == "/console/static/console.css":
            _send(request, 200, "text/css; charset=utf-8", self.css, cache=True)
            return
        visit = Visit(self, request)
        access = self.api.intake.settings.access
        if access.admission(visit.client) is not Admission.TERMINAL:
            self._page(visit, Page(403, message="the console is for staff terminals",
                                   code="client_not_allowed"))
            return
        parts = [p for p in path[len("/console"):].split("/") if p]
        method = request.method.decode("latin-1")
        key = (method, parts[0] if parts else "")
        handler = self.pages.get(key)
        if handler is None:
            self._page(visit, Page(404 if method == "GET" else 405, message="no such page",
                                   code="not_found"))
            return
        d: defer.Deferred[Any] = defer.maybeDeferred(self._who, visit, key[1])
        d.addCallback(lambda _: handler(visit, parts[1:]))
        d.addCallback(lambda out: self._page(visit, Page(200, out[0], **out[1])))
        d.addErrback(lambda f: self._failed(visit, f))  # the page's own failure too

    def _who(self, visit: Visit, page: str) -> defer.Deferred[None] | None:
        """The session behind the cookie, and the rights its roles give."""
        if page == "login":
            return None
        if visit.token is None:
            raise Page(303, location="/console/login")

        def known(answer: Answer) -> None:
            visit.session = visit.need(answer)
            roles = visit.session["roles"]
            visit.rights = self.api.intake.settings.access.staff(
                visit.session["user_id"], visit.client, tuple(roles)).rights

        return visit.call("GET", "/v1/sessions/current").addCallback(known)

    def _failed(self, visit: Visit, failure: Any) -> None:
        if isinstance(failure.value, Page):
            self._page(visit, failure.value)
            return
        log.error("console failure", extra={"event": "console.error",
                                            "error": failure.type.__name__})
        try:
            self._page(visit, Page(500, message="internal error", code="internal"))
        except Exception:  # not even the error page: a bare 500, never a traceback
            _send(visit.request, 500, "text/plain; charset=utf-8", b"internal error")

    def _page(self, visit: Visit, page: Page) -> None:
        request = visit.request
        if page.location is not None:
            if request._disconnected or request.finished:
                return
            request.setResponseCode(page.status)
            request.setHeader("location", page.location)
            request.setHeader("content-length", "0")
            request.finish()
            return
        menu = [(href, title) for href, title, right in MENU if right in visit.rights]
        context = {"menu": menu, "session": visit.session, "csrf": visit.csrf(),
                   "now": time.time(), "status": page.status, **page.context}
        html = self.templates.get_template(page.template).render(context)
        _send(request, page.status, "text/html; charset=utf-8", html.encode())


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
