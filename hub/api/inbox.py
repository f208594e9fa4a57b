"""The inbox: what the outside systems pushed, for the register system and staff.
A list that shows many people never shows the 個人番号 (the assessment's rule): fetch
the one item for it.  Documents come in the register's own character codes (the
city's 外字 table), as the register system reads them."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from actors.messages import AckInbox
from hub.api.context import Answer, Api, Call
from hub.api.sessions import audit
from hub.domain import inbound
from hub.domain.errors import HubError
from hub.store import InboxItem
from protocols.jsonable import as_json

_NOT_IN_LISTS = frozenset({"individual_number"})


def list_items(api: Api, call: Call) -> defer.Deferred[Answer]:
    """Items oldest first, by kind, state, link and when received (a listing is in the
    操作ログ: it shows residents' data, without the 個人番号)."""
    store, p = api.reads.store, call.params
    d = api.reads.run(store.read, store.inbox.list, p.get("after", 0), p.get("limit", 100),
                      p.get("kind"), p.get("state"), p.get("link"), p.get("since"),
                      p.get("until"))

    def listed(rows: list[InboxItem]) -> defer.Deferred[Answer]:
        body = {"items": [api.intake.to_register(shown(r, listed=True), call) for r in rows]}
        return audit(api, call.who, call.client, "inbox.list", count=len(rows)).addCallback(
            lambda _: (200, body))

    return d.addCallback(listed)


def fetch(api: Api, call: Call) -> defer.Deferred[Answer]:
    """One item: with its 個人番号 for a caller with ``number.view``; every read of an
    item is in the 操作ログ, saying whether a 個人番号 was shown."""
    store, item_id = api.reads.store, call.params["item_id"]

    def answer(item: InboxItem | None) -> defer.Deferred[Answer]:
        if item is None:
            raise HubError("unknown_item", "no such inbox item", status=404)
        body = api.intake.to_register(
            shown(item, listed=not call.who.may("number.view")), call)
        number = "individual_number" in body.get("document", {})
        d = audit(api, call.who, call.client, "inbox.read", target=str(item_id),
                  number_shown=number)
        return d.addCallback(lambda _: (200, body))

    return api.reads.run(store.read, store.inbox.get, item_id).addCallback(answer)


def acknowledge(api: Api, call: Call) -> defer.Deferred[Answer]:
    item_id = call.params["item_id"]
    d: defer.Deferred[str | HubError] = defer.Deferred()
    api.writer.tell(AckInbox(item_id, call.who.operator_id, call.who.terminal_id,
                             reply=api.on_reactor(d)))

    def answered(verdict: str | HubError) -> Answer:
        if isinstance(verdict, HubError):  # the store could not write it
            raise verdict
        if verdict == "unknown":
            raise HubError("unknown_item", "no such inbox item", status=404)
        if verdict == "already":
            raise HubError("already_taken", "the item was already acknowledged", status=409)
        return 200, {"id": item_id, "state": "acknowledged"}

    return d.addCallback(answered)


def shown(item: InboxItem, listed: bool) -> dict[str, Any]:
    """An item as the API shows it, its document decoded (lists without the 個人番号)."""
    out: dict[str, Any] = {"id": item.id, "link": item.link, "kind": item.kind,
                           "peer_seq": item.peer_seq, "received_at": item.received_at,
                           "state": item.state}
    if item.code:
        out["code"] = item.code
    if item.result is not None:  # what the hub did with it (a 転入通知: 転出確定)
        out["result"] = item.result
    if item.state != "refused" and (doc := inbound.decode(item.link, item.body)) is not None:
        document = as_json(doc)
        if listed:
            document = {k: v for k, v in document.items() if k not in _NOT_IN_LISTS}
        out["document"] = document
    return out
