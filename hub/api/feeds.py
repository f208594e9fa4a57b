"""A department's feed: ``GET /v1/feed?after=N&limit=M`` from the department's own
certificate — the register's changes after the cursor ``after`` (a 更新順番号), in
order, each with only the department's fields (never a 個人番号 for work that does not
use it), and ``next``, the cursor to ask with next time.  Every pull is in the 操作ログ.
The first pull opens the feed: at once for a small register, after a supervisor's
approval for a bulk one (409 ``awaiting_approval`` until then)."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from actors.messages import OpenFeed
from hub.api.context import Answer, Api, Call
from hub.api.jobs import start_job
from hub.api.sessions import audit
from hub.config.departments import Department, shown
from hub.domain.errors import HubError
from protocols.jsonable import plain


def _department(api: Api, call: Call) -> Department:
    found = next((d for d in api.settings.departments.values()
                  if d.certificate == call.client), None)
    if found is None:  # the role is the departments' own; its certificates are theirs
        raise HubError("not_a_department", "this certificate is no department's", status=403)
    return found


def pull(api: Api, call: Call) -> defer.Deferred[Answer]:
    dept, store = _department(api, call), api.reads.store
    after, limit = call.params.get("after", 0), call.params.get("limit", 500)
    threshold = api.settings.bulk_threshold

    def opened(known: tuple[str, str | None] | None) -> Any:
        if known is not None:
            return {"state": known[0], "approval_id": known[1]}
        return start_job(api, lambda reply: OpenFeed(dept.name, call.client, threshold, reply),
                         "feed")

    def read(state: dict[str, Any]) -> defer.Deferred[list[dict[str, Any]]]:
        if state["state"] == "awaiting_approval":
            raise HubError("awaiting_approval", "the first extract is a bulk output: it "
                           f"waits for a supervisor's approval ({state['approval_id']})",
                           status=409)
        if state["state"] != "open":
            raise HubError("feed_refused", "a supervisor refused this department's first "
                           "extract", status=403)
        return api.reads.run(store.read, store.feeds.page, after, limit)

    def answer(rows: list[dict[str, Any]]) -> defer.Deferred[Answer]:
        records = api.intake.to_register([plain(shown(r, dept)) for r in rows], call)
        body = {"department": dept.name, "basis": dept.basis, "records": records,
                "next": rows[-1]["update_seq"] if rows else after}
        return audit(api, call.who, call.client, "feed.read", target=dept.name,
                     count=len(records), number_shown=any(
                         "individual_number" in r and r["individual_number"]
                         for r in records)).addCallback(lambda _: (200, body))

    d = api.reads.run(store.read, store.feeds.state, dept.name)
    return d.addCallback(opened).addCallback(read).addCallback(answer)

