"""The staff console's pages (served by ``hub.api.console.Console``).  Each page is made of
JSON API calls (``Visit.call``, the API's own dispatch) and a template in
``hub/api/templates``; a form posts back here, and the action goes to the API as well,
so the rights and the 操作ログ are the API's.  Nothing here reads the store."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from hub.api.console.visit import COOKIE, Page, Visit
from hub.api.context import Answer
from hub.domain.progress import job_progress
from hub.support.i18n import N_, TOKYO
from hub.support.words import INBOX_KINDS, LINKS

Shown = tuple[str, dict[str, Any]]  # the template, and what it shows


def _one(rest: list[str]) -> int | None:
    """The item id in ``/console/<page>/<id>``, if any."""
    if not rest:
        return None
    if not rest[0].isdigit() or len(rest) > 2:
        raise Page(404, message=N_("no such page"), code="not_found")
    return int(rest[0])


# A list's page: this many rows unless the viewer asks for another size (up to the API's
# most, 1,000); the next page starts after the last row's id.
PAGE, MOST = 100, 1000


def _args(visit: Visit, *names: str) -> dict[str, str]:
    """The query's fields named (their first value, stripped; empty ones left out)."""
    raw: dict[bytes, list[bytes]] = visit.request.args or {}
    out = {n: raw[n.encode()][0].decode("utf-8", "replace").strip()[:60]
           for n in names if raw.get(n.encode(), [b""])[0].strip()}
    return out


def _page_size(args: dict[str, str]) -> int:
    per = args.get("per", "")
    return min(MOST, max(1, int(per))) if per.isdigit() else PAGE


def _day_start(text: str | None, days: int = 0) -> float | None:
    """``2026-12-03`` → the epoch of that day's start in Asia/Tokyo (``days`` later);
    ``None`` for no date or not a date."""
    try:
        day = dt.date.fromisoformat(text or "")
    except ValueError:
        return None
    start = dt.datetime.combine(day + dt.timedelta(days=days), dt.time(), TOKYO)
    return start.timestamp()


def _ask(per: int) -> int:
    """The rows to ask the API for: one more than a page shows, which says whether
    there is a next page (at the API's most, a full page is taken to have one)."""
    return min(per + 1, MOST)


def _paging(path: str, args: dict[str, str], rows: list[dict[str, Any]], key: str,
            per: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The page's rows (of the ``_ask(per)`` fetched), and links to the first page and,
    when there are more rows, to the next (the filters kept)."""
    shown = rows[:per]
    more = len(rows) > per or len(rows) == per == MOST
    kept = {k: v for k, v in args.items() if k != "after"}
    first = f"{path}?{urllib.parse.urlencode(kept)}" if kept else path
    following = (f"{path}?{urllib.parse.urlencode({**kept, 'after': shown[-1][key]})}"
                 if more else None)
    return shown, {"first": first if "after" in args else None, "next": following,
                   "per": per, "shown": len(shown)}


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
    """The inbox a page at a time, filtered by state (new unless asked), link, kind and
    the days received; a clerk ticks items and takes them at once (``take``)."""
    args = _args(visit, "state", "link", "kind", "from", "to", "after", "per", "taken",
                 "already")
    args.setdefault("state", "new")
    per = _page_size(args)
    query = {"state": args["state"], "link": args.get("link"), "kind": args.get("kind"),
             "since": _day_start(args.get("from")), "until": _day_start(args.get("to"), 1),
             "after": args.get("after"), "limit": _ask(per)}

    def shown(answer: Answer) -> Shown:
        items, paging = _paging("/console/inbox", args, visit.need(answer)["items"], "id",
                                per)
        return "inbox.html", {"items": items, "filters": args, "kinds": sorted(INBOX_KINDS),
                              "links": sorted(LINKS), "paging": paging}

    return visit.call("GET", "/v1/inbox", query=query).addCallback(shown)


def take(visit: Visit, _rest: list[str]) -> defer.Deferred[Shown]:
    """The items ticked, each acknowledged through the API — so each is its own entry
    in the 操作ログ, under this staff member — then back to the list with how many
    were taken and how many someone had taken already."""
    fields = visit.form_lists()
    ids = [i for i in dict.fromkeys(fields.get("items", [])) if i.isdigit()][:MOST]
    back = {k: fields[k][0] for k in ("state", "link", "kind", "from", "to") if fields.get(k)}
    if not ids:
        raise Page(303, location="/console/inbox?" + urllib.parse.urlencode(back))
    calls = [visit.call("POST", f"/v1/inbox/{i}/ack", {}) for i in ids]

    def counted(answers: list[Answer]) -> Shown:
        for answer in answers:
            if answer[0] not in (200, 409, 404):  # 404: gone meanwhile, nothing to take
                visit.need(answer)  # a refusal: the page says why
        taken = sum(1 for status, _ in answers if status == 200)
        already = sum(1 for status, _ in answers if status == 409)
        raise Page(303, location="/console/inbox?" + urllib.parse.urlencode(
            {**back, "taken": taken, "already": already}))

    return defer.gatherResults(calls).addCallback(counted)


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
    args = _args(visit, "state", "page")
    args.setdefault("state", "pending")
    return visit.call("GET", "/v1/approvals", query={"state": args["state"]}).addCallback(
        lambda a: ("approvals.html", {"filters": args, **_slice(
            "/console/approvals", args, visit.need(a)["approvals"], "approvals")}))


def _slice(path: str, args: dict[str, str], rows: list[Any], name: str) -> dict[str, Any]:
    """A list the API answers whole (bulk outputs, a check's differences), shown a
    page at a time by its position."""
    page = int(args["page"]) if args.get("page", "").isdigit() else 1
    start = (page - 1) * PAGE
    kept = {k: v for k, v in args.items() if k != "page"}

    def link(n: int) -> str:
        return f"{path}?{urllib.parse.urlencode({**kept, 'page': n})}"

    return {name: rows[start:start + PAGE], "total": len(rows), "paging": {
        "first": link(1) if page > 1 else None,
        "next": link(page + 1) if start + PAGE < len(rows) else None,
        "per": PAGE, "shown": len(rows[start:start + PAGE])}}


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
        args = _args(visit, "state", "link", "after", "per")
        args.setdefault("state", "open")
        per = _page_size(args)

        def listed(answer: Answer) -> Shown:
            letters, paging = _paging("/console/dead-letters", args,
                                      visit.need(answer)["dead_letters"], "id", per)
            return "dead_letters.html", {"letters": letters, "filters": args,
                                         "links": sorted(LINKS), "paging": paging}

        return visit.call("GET", "/v1/dead-letters", query={
            "state": args["state"], "link": args.get("link"), "after": args.get("after"),
            "limit": _ask(per)}).addCallback(listed)
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
        return _check(visit, rest[0])
    if "status.read" not in visit.rights:
        return defer.succeed(("checks.html", {"jobs": None}))

    def shown(answer: Answer) -> Shown:
        hub = visit.need(answer)
        return "checks.html", {"jobs": [_progress(j, hub["at"]) for j in hub["jobs"]
                                        if j["kind"] == "consistency_check"]}

    return visit.call("GET", "/v1/status").addCallback(shown)


def _check(visit: Visit, check_id: str) -> defer.Deferred[Shown]:
    """One check, its differences a page at a time (of one kind if asked)."""
    args = _args(visit, "page", "kind")

    def shown(answer: Answer) -> Shown:
        check = visit.need(answer)
        found = [d for d in check.get("differences", [])
                 if d["kind"] == args.get("kind", d["kind"])]
        return "check.html", {"check": check, "filters": args, **_slice(
            f"/console/checks/{check_id}", args, found, "differences")}

    return visit.call("GET", f"/v1/consistency-checks/{check_id}").addCallback(shown)


# ---- the operation log (auditors) ---------------------------------------------------------


def audit(visit: Visit, _rest: list[str]) -> defer.Deferred[Shown]:
    """The operation log a page at a time, by operator, action, target and day."""
    args = _args(visit, "operator", "action", "target", "from", "to", "after", "per")
    per = _page_size(args)
    query = {"operator": args.get("operator"), "action": args.get("action"),
             "target": args.get("target"), "since": _day_start(args.get("from")),
             "until": _day_start(args.get("to"), 1), "after": args.get("after"),
             "limit": _ask(per)}

    def shown(answer: Answer) -> Shown:
        entries, paging = _paging("/console/audit", args, visit.need(answer)["entries"],
                                  "id", per)
        return "audit.html", {"entries": entries, "filters": args, "paging": paging}

    return visit.call("GET", "/v1/audit", query=query).addCallback(shown)


Pages = dict[tuple[str, str], Callable[[Visit, list[str]], defer.Deferred[Shown]]]
PAGES: Pages = {
    ("GET", "login"): login_form,
    ("POST", "login"): login,
    ("POST", "logout"): logout,
    ("GET", ""): overview,
    ("GET", "inbox"): inbox,
    ("POST", "inbox"): take,
    ("GET", "manual-answers"): manual_answers,
    ("POST", "manual-answers"): decide_manual_answer,
    ("GET", "approvals"): approvals,
    ("POST", "approvals"): decide_approval,
    ("GET", "dead-letters"): dead_letters,
    ("POST", "dead-letters"): mend_dead_letter,
    ("GET", "checks"): checks,
    ("GET", "audit"): audit,
}
