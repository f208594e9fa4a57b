"""One request to the staff console (``Visit``: who, the API calls made as them, the
form they posted) and a page answered at once (``Page``)."""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.web import server

from hub.api.context import Answer
from hub.support.i18n import N_
from hub.support.tls import peer_common_name

COOKIE = "jukihub_console"
_MAX_FORM = 64 << 10

# An API call made in-process through the API's own dispatch (``ApiResource.invoke``):
# (client certificate name, session token, method, path, query, body) -> the answer.
Invoke = Callable[[str, str | None, str, str, dict[str, str], Any], "defer.Deferred[Answer]"]

# The console's menu: page, its title, the right that shows it.
MENU = (
    ("", N_("Overview"), "status.read"),
    ("inbox", N_("Inbox"), "inbox.list"),
    ("manual-answers", N_("Manual answers"), "manual_answer.decide"),
    ("approvals", N_("Bulk outputs"), "bulk.approve"),
    ("dead-letters", N_("Dead letters"), "deadletters.list"),
    ("checks", N_("Consistency checks"), "consistency.read"),
    ("audit", N_("Operation log"), "audit.read"),
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

    def __init__(self, invoke: Invoke, request: server.Request) -> None:
        self.invoke, self.request = invoke, request
        self.client = peer_common_name(request.transport) or ""
        self.token = (request.getCookie(COOKIE.encode()) or b"").decode("latin-1") or None
        self.session: dict[str, Any] | None = None
        self.rights: frozenset[str] = frozenset()

    def call(self, method: str, path: str, body: Any = None,
             query: dict[str, Any] | None = None) -> defer.Deferred[Answer]:
        """An API call, as this staff member, through the API's own dispatch."""
        q = {k: str(v) for k, v in (query or {}).items() if v not in (None, "")}
        return self.invoke(self.client, self.token, method, path, q, body)

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
            raise Page(413, message=N_("the form is too large"), code="body_too_large")
        fields = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        if self.token is not None and not hmac.compare_digest(
                (fields.get("csrf") or [""])[0], self.csrf()):
            raise Page(403, message=N_("the form is stale; open the page again"),
                       code="form_expired")
        return fields
