"""The staff console's pages (served by ``hub.api.console.Console``).  Each page is made of
JSON API calls (``Visit.call``, the API's own dispatch) and a template in
``hub/api/templates``; a form posts back here, and the action goes to the API as well,
so the rights and the 操作ログ are the API's.  Nothing here reads the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from hub.api.console.visit import COOKIE, Page, Visit
from hub.api.context import Answer
from hub.domain.progress import job_progress
from hub.support.i18n import N_

Shown = tuple[str, dict[str, Any]]  # the template, and what it shows


def _one(rest: list[str]) -> int | None:
    """The item id in ``/console/<page>/<id>``, if any."""
    if not rest:
        return None
    if not rest[0].isdigit() or len(rest) > 2:
        raise Page(404, message=N_("no such page"), code="not_found")
    return int(rest[0])


def _progress(job: dict[str, Any], now: float) -> dict[str, Any]:
    """A long job with its rate, time left and share done, for ``_jobs.html``."""
    p = job_progress(job, now)
    return {**job, "rate": p.rate, "left": p.left, "percent": p.percent}


# ---- login, logout --------------------------------------------------------------------


def login_form(visit: Visit, _rest: list[str]) -> defer.Deferred[Shown]:
    return defer.succeed(("login.html", {"error": None}))


def login(visit: Visit, _rest: list[str]) -> defer.Deferred[Shown]:
    fields = visit.form()
    body = {"user_id": fields.get("user_id", ""), "password": fields.get("password", "")}

    def answered(answer: Answer) -> Shown:
        status, out = answer
        if status != 201:
            raise Page(401 if status in (400, 401) else status, "login.html",
                       error=out.get("error", {}).get("code", "login_failed"))
        visit.request.addCookie(COOKIE.encode(), out["token"].encode(), path=b"/console",
                                secure=True, httpOnly=True, sameSite="strict")
        raise Page(303, location="/console/")

    return visit.call("POST", "/v1/sessions", body).addCallback(answered)


def logout(visit: Visit, _rest: list[str]) -> defer.Deferred[Shown]:
    visit.form()

    def ended(_: Answer) -> Shown:
        visit.request.addCookie(COOKIE.encode(), b"", path=b"/console", secure=True,
                                httpOnly=True, sameSite="strict", max_age=b"0")
        raise Page(303, location="/console/login")

    return visit.call("DELETE", "/v1/sessions/current").addCallback(ended)


# ---- overview, inbox ----------------------------------------------------------------------


def overview(visit: Visit, _rest: list[str]) -> defer.Deferred[Shown]:
    if "status.read" not in visit.rights:  # a clerk: the menu only
        return defer.succeed(("overview.html", {"hub": None, "jobs": []}))

    def shown(answer: Answer) -> Shown:
        hub = visit.need(answer)
        return "overview.html", {"hub": hub, "jobs": [_progress(j, hub["at"])
                                                      for j in hub["jobs"]]}

    return visit.call("GET", "/v1/status").addCallback(shown)


def inbox(visit: Visit, _rest: list[str]) -> defer.Deferred[Shown]:
    args: dict[bytes, list[bytes]] = visit.request.args or {}
    state = args.get(b"state", [b"new"])[0].decode("utf-8", "replace")
    return visit.call("GET", "/v1/inbox", query={"state": state, "limit": 200}).addCallback(
        lambda a: ("inbox.html", {"items": visit.need(a)["items"], "state": state}))


# ---- manual answers -------------------------------------------------------------------------


def manual_answers(visit: Visit, rest: list[str]) -> defer.Deferred[Shown]:
    item_id = _one(rest)
    if item_id is None:
        return visit.call("GET", "/v1/inbox", query={
            "kind": "intermediate.manual_answer_request", "state": "new", "limit": 200}
        ).addCallback(lambda a: ("manual_answers.html", {"items": visit.need(a)["items"]}))
    return visit.call("GET", f"/v1/manual-answers/{item_id}").addCallback(
        lambda a: ("manual_answer.html", {"preview": visit.need(a)}))


def decide_manual_answer(visit: Visit, rest: list[str]) -> defer.Deferred[Shown]:
    item_id, fields = _one(rest), visit.form_lists()
    if item_id is None:
        raise Page(404, message=N_("no such page"), code="not_found")
    decision = (fields.get("decision") or [""])[0]
    body: dict[str, Any] = {"decision": decision}
    if decision == "approve":  # the items ticked go; nothing else
        body["items"] = fields.get("items", [])
    return visit.call("POST", f"/v1/manual-answers/{item_id}", body).addCallback(
        lambda a: _done(visit, a, "/console/manual-answers"))


def _done(visit: Visit, answer: Answer, back: str, ok: int = 200) -> Shown:
    visit.need(answer, ok)
    raise Page(303, location=back)


# ---- bulk outputs -----------------------------------------------------------------------


def approvals(visit: Visit, _rest: list[str]) -> defer.Deferred[Shown]:
    return visit.call("GET", "/v1/approvals", query={"state": "pending"}).addCallback(
        lambda a: ("approvals.html", {"approvals": visit.need(a)["approvals"]}))


def decide_approval(visit: Visit, rest: list[str]) -> defer.Deferred[Shown]:
    fields = visit.form()
    if len(rest) != 1:
        raise Page(404, message=N_("no such page"), code="not_found")
    return visit.call("POST", f"/v1/approvals/{rest[0]}",
                      {"decision": fields.get("decision", "")}).addCallback(
        lambda a: _done(visit, a, "/console/approvals"))


# ---- dead letters ------------------------------------------------------------------------


def dead_letters(visit: Visit, rest: list[str]) -> defer.Deferred[Shown]:
    letter_id = _one(rest)
    if letter_id is None:
        return visit.call("GET", "/v1/dead-letters", query={"state": "open", "limit": 500}
                          ).addCallback(lambda a: ("dead_letters.html", {
                              "letters": visit.need(a)["dead_letters"]}))
    return visit.call("GET", f"/v1/dead-letters/{letter_id}").addCallback(
        lambda a: ("dead_letter.html", visit.need(a)))


def mend_dead_letter(visit: Visit, rest: list[str]) -> defer.Deferred[Shown]:
    letter_id, fields = _one(rest), visit.form()
    action = rest[1] if len(rest) == 2 else ""
    if letter_id is None or action not in ("replay", "discard"):
        raise Page(404, message=N_("no such page"), code="not_found")
    body = {"reason": fields["reason"]} if fields.get("reason") else {}
    return visit.call("POST", f"/v1/dead-letters/{letter_id}/{action}", body).addCallback(
        lambda a: _done(visit, a, "/console/dead-letters"))


# ---- consistency checks ------------------------------------------------------------------


def checks(visit: Visit, rest: list[str]) -> defer.Deferred[Shown]:
    if rest:
        if len(rest) != 1:
            raise Page(404, message=N_("no such page"), code="not_found")
        return visit.call("GET", f"/v1/consistency-checks/{rest[0]}").addCallback(
            lambda a: ("check.html", {"check": visit.need(a)}))
    if "status.read" not in visit.rights:
        return defer.succeed(("checks.html", {"jobs": None}))

    def shown(answer: Answer) -> Shown:
        hub = visit.need(answer)
        return "checks.html", {"jobs": [_progress(j, hub["at"]) for j in hub["jobs"]
                                        if j["kind"] == "consistency_check"]}

    return visit.call("GET", "/v1/status").addCallback(shown)


# ---- the operation log (auditors) ---------------------------------------------------------


def audit(visit: Visit, _rest: list[str]) -> defer.Deferred[Shown]:
    args: dict[bytes, list[bytes]] = visit.request.args or {}
    query = {k: args[k.encode()][0].decode("utf-8", "replace")
             for k in ("operator", "action", "target") if args.get(k.encode(), [b""])[0]}
    return visit.call("GET", "/v1/audit", query={**query, "limit": 500}).addCallback(
        lambda a: ("audit.html", {"entries": visit.need(a)["entries"], "query": query}))


Pages = dict[tuple[str, str], Callable[[Visit, list[str]], defer.Deferred[Shown]]]
PAGES: Pages = {
    ("GET", "login"): login_form,
    ("POST", "login"): login,
    ("POST", "logout"): logout,
    ("GET", ""): overview,
    ("GET", "inbox"): inbox,
    ("GET", "manual-answers"): manual_answers,
    ("POST", "manual-answers"): decide_manual_answer,
    ("GET", "approvals"): approvals,
    ("POST", "approvals"): decide_approval,
    ("GET", "dead-letters"): dead_letters,
    ("POST", "dead-letters"): mend_dead_letter,
    ("GET", "checks"): checks,
    ("GET", "audit"): audit,
}
