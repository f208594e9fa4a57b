"""The hub's own register, searched by staff (本人確認情報検索, locally): ``POST
/v1/residents/search`` under the same two-item rule as the national query, a list
without the 個人番号; ``GET /v1/residents/{resident_code}``, one record, with the
個人番号 only for a role granted ``number.view``.  A 住民票コード finds its resident also
after a 住民票コードの変更 (the record shows the code now).  Every search (its count, or why it
was refused) and every record shown (and whether the number was) is in the 操作ログ,
keyed by the 宛名番号, never the 住民票コード."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from hub.api.context import Answer, Api, Call
from hub.api.sessions import audit, fail_with
from hub.domain.errors import HubError
from hub.domain.queries import (
    MAX_LOCAL_MATCHES,
    local_matches,
    parse_query,
    search_items,
)
from protocols.jsonable import plain

_CANDIDATES = 2000  # rows read before the names are compared



def search(api: Api, call: Call) -> defer.Deferred[Answer]:
    try:
        req = parse_query(call.body, api.settings.municipality_code)
    except HubError as err:
        refusal = err
        return audit(api, call.who, call.client, "register.search", refusal.code).addCallback(
            lambda _: fail_with(refusal))
    store = api.reads.store
    d = api.reads.run(store.read, store.register.search, search_items(req.query), _CANDIDATES)

    def answered(rows: list[dict[str, Any]]) -> defer.Deferred[Answer]:
        matches = local_matches(rows, req.query)
        status = ("not_found" if not matches else "too_many"
                  if len(matches) > MAX_LOCAL_MATCHES or len(rows) >= _CANDIDATES else "found")
        shown = matches if status == "found" else []
        body = {"status": status, "count": len(matches), "matches": [plain(m) for m in shown]}
        return audit(api, call.who, call.client, "register.search", count=len(matches)
                     ).addCallback(lambda _: (200, body))

    return d.addCallback(answered)


def show(api: Api, call: Call) -> defer.Deferred[Answer]:
    store, code = api.reads.store, call.params["resident_code"]
    may_see_number = call.who.may("number.view")

    def answered(resident: dict[str, Any] | None) -> defer.Deferred[Answer]:
        if resident is None:
            raise HubError("unknown_resident", "no resident has this 住民票コード", status=404)
        record = {k: v for k, v in resident.items()
                  if v is not None and k not in ("last_update_seq", "integrated_atena")
                  and (may_see_number or k != "individual_number")}
        shown = "individual_number" in record
        return audit(api, call.who, call.client, "register.read",
                     target=resident["atena_number"], number_shown=shown).addCallback(
            lambda _: (200, plain(record)))

    # By the code now, or one the resident had before a 住民票コードの変更.
    return api.reads.run(store.read, store.register.resident_by_any_code, code).addCallback(
        answered)
