"""The staff console, ``/console/…``: server-rendered pages (Jinja2) for staff at a staff
terminal.  A page is built from calls to the JSON API made in-process through the same
dispatch (an injected ``invoke``: ``ApiResource.invoke`` — the same rights check, the
same OpenAPI checks, the same handlers, the same 操作ログ), with the session token the
login put in a cookie (``HttpOnly; Secure; SameSite=Strict``); every form carries a
token derived from the session as well.  A page shows the menus the viewer's rights
allow, and a page the viewer may not see answers 403, as the API does.  The pages are
``pages``; a request and its answer, ``visit``.

Every page is in Japanese unless the viewer asked for English (the language button in
the header sets a cookie; else ``Accept-Language``): the templates' text comes from the
message catalogs (``hub.support.i18n``), codes are shown by their names with the code
beside them (``hub.support.words``), times in Asia/Tokyo with the zone named.

Threads: everything here runs on the reactor thread of the process that serves the
intake; the API calls answer on it (``invoke``), and templates are small.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape
from twisted.internet import defer
from twisted.web import resource, server

from hub.api.console.pages import PAGES
from hub.api.console.visit import MENU, Invoke, Page, Visit
from hub.api.context import Answer
from hub.api.web import HERE, send
from hub.config.access import AccessConfig, Admission
from hub.support import words
from hub.support.i18n import LANGUAGES, N_, Speaker, language

log = logging.getLogger("jukihub.console")

Handler = Callable[[Visit, list[str]], "defer.Deferred[tuple[str, dict[str, Any]]]"]
LANGUAGE_COOKIE = "jukihub_lang"


class Console(resource.Resource):
    """``/console/…``; see the module docstring."""

    isLeaf = True

    def __init__(self, invoke: Invoke, access: AccessConfig,
                 pages: dict[tuple[str, str], Handler] = PAGES) -> None:
        import jinja2  # only where the console is served

        super().__init__()
        self.invoke, self.access, self.pages = invoke, access, pages
        self.templates = {lang: _environment(jinja2, Speaker(lang)) for lang in LANGUAGES}
        self.css = (HERE / "static" / "console.css").read_bytes()

    def render(self, request: server.Request) -> int:
        path = request.path.decode("latin-1")
        if path == "/console":
            request.redirect(b"/console/")
            request.finish()
        elif path == "/console/language" and request.method == b"POST":
            self._language(request)
        elif path == "/console/static/console.css":
            send(request, 200, "text/css; charset=utf-8", self.css, cache=True)
        else:
            self._serve(request, path)
        return server.NOT_DONE_YET

    def _language(self, request: server.Request) -> None:
        """The language button: a cookie for this browser (a year), then back.  A staff
        terminal's certificate first, as for every page."""
        visit = Visit(self.invoke, request)
        if self.access.admission(visit.client) is not Admission.TERMINAL:
            self._page(visit, Page(403, message=N_("the console is for staff terminals"),
                                   code="client_not_allowed"))
            return
        try:
            chosen = visit.form().get("lang", "")
        except Page as refused:
            self._page(visit, refused)
            return
        if chosen in LANGUAGES:
            request.addCookie(LANGUAGE_COOKIE.encode(), chosen.encode(), path=b"/console",
                              secure=True, sameSite="strict", max_age=b"31536000")
        referer = (request.getHeader("referer") or "").partition("/console")[2]
        self._page(visit, Page(303, location="/console" + (referer or "/")))

    def _serve(self, request: server.Request, path: str) -> None:
        visit = Visit(self.invoke, request)
        if self.access.admission(visit.client) is not Admission.TERMINAL:
            self._page(visit, Page(403, message=N_("the console is for staff terminals"),
                                   code="client_not_allowed"))
            return
        parts = [p for p in path[len("/console"):].split("/") if p]
        method = request.method.decode("latin-1")
        key = (method, parts[0] if parts else "")
        handler = self.pages.get(key)
        if handler is None:
            self._page(visit, Page(404 if method == "GET" else 405,
                                   message=N_("no such page"), code="not_found"))
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
            visit.rights = self.access.staff(
                visit.session["user_id"], visit.client, tuple(roles)).rights

        return visit.call("GET", "/v1/sessions/current").addCallback(known)

    def _failed(self, visit: Visit, failure: Any) -> None:
        if isinstance(failure.value, Page):
            self._page(visit, failure.value)
            return
        log.error("console failure", extra={"event": "console.error",
                                            "error": failure.type.__name__})
        try:
            self._page(visit, Page(500, message=N_("internal error"), code="internal"))
        except Exception:  # not even the error page: a bare 500, never a traceback
            send(visit.request, 500, "text/plain; charset=utf-8", b"internal error")

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
        lang = language(request.getHeader("accept-language"),
                        (request.getCookie(LANGUAGE_COOKIE.encode()) or b"").decode("latin-1"))
        html = self.templates[lang].get_template(page.template).render(context)
        request.setHeader("content-language", lang)
        request.setHeader("vary", "Accept-Language, Cookie")
        send(request, page.status, "text/html; charset=utf-8", html.encode())


def _environment(jinja2: Any, speaker: Speaker) -> Any:
    """The templates in one language: its catalog, and its way with times and names."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=jinja2.select_autoescape(["html"]),
                             extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(speaker.catalog, newstyle=True)
    env.globals["lang"] = speaker.lang
    env.filters.update(when=speaker.when, ago=speaker.ago, duration=speaker.duration,
                       date=speaker.date, t=speaker.gettext,
                       word=lambda code, table: _word(speaker, table, code))
    return env


def _word(speaker: Speaker, table: str, code: str | None) -> Markup:
    """A code as staff read it: its name, with the code beside it for a vendor call."""
    if code is None or code == "":
        return Markup("—")
    named = words.name(speaker, table, code)
    shown = Markup('<code class="code">{}</code>').format(code)
    return shown if named is None else escape(named) + Markup(" ") + shown
