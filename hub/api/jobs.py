"""Long jobs staff start and follow: consistency checks (本人確認情報整合,
``/v1/consistency-checks``) and send-destination batches (送付先情報,
``/v1/send-destination-batches``).  Each is recorded by the store writer and built there
slice by slice; ``GET …/{id}?wait=S`` holds the answer until the job is done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from actors.messages import DecideApproval, MendDifference, StartCheck, StartSendBatch
from hub.api.context import Answer, Api, Call, Intake
from hub.domain import checks, consistency, send_batches
from hub.domain.errors import HubError, UnavailableError
from protocols.consistency import MAX_RECORDS, decode_result
from protocols.jsonable import as_json


def start_job(api: Api, job: Callable[[Callable[[Any], None]], Any],
              what: str) -> defer.Deferred[Any]:
    """Tell the store writer ``job(reply)`` (a message that names a long job: see
    ``actors.messages``); its value, or a refusal if the store could not record it."""
    d: defer.Deferred[Any] = defer.Deferred()
    api.writer.tell(job(api.on_reactor(d)))  # the reply crosses back with callFromThread

    def started(value: Any) -> Any:
        if value is None:
            raise UnavailableError("store_unavailable", f"the {what} could not be recorded; "
                                   "try again")
        if isinstance(value, HubError):
            raise value
        return value

    return d.addCallback(started)


# ---- consistency checks -----------------------------------------------------------------


def start_check(api: Api, call: Call) -> defer.Deferred[Answer]:
    body = call.body
    links = list(dict.fromkeys(body.get("links") or consistency.CHECK_LINKS))
    off = [link for link in links if link not in api.links]
    if off:
        raise HubError("link_disabled", f"the {off[0]} link is not enabled", "links", status=422)
    who, size = (call.who.operator_id, call.who.terminal_id), min(api.settings.check_chunk,
                                                                  MAX_RECORDS)
    d = start_job(api, lambda reply: StartCheck(links, *who, size, reply), "check")
    return d.addCallback(lambda ids: (202, {"checks": [{"check_id": c, "link": link}
                                                       for link, c in ids.items()]}))


def show_check(api: Api, call: Call) -> defer.Deferred[Answer]:
    store, check_id = api.reads.store, call.params["check_id"]

    def read() -> Answer:
        found = store.read(store.jobs.check, check_id)
        if found is None:
            raise HubError("unknown_check", "no consistency check has this id", status=404)
        row, body = found
        out: dict[str, Any] = {k: v for k, v in row.items()
                               if v is not None and k not in ("inbox_id", "differences")}
        if row["differences"] is not None:
            out["difference_count"] = row["differences"]
        if body is not None:
            mends = store.read(store.jobs.mends, check_id)
            out["differences"] = [_with_mend(as_json(d), mends)
                                  for d in decode_result(body).differences]
        return 200, out

    return api.reads.until(read, lambda a: a[1]["state"] == "answered",
                           call.params.get("wait", 0.0))


def _with_mend(difference: dict[str, Any], mends: dict[str, Any]) -> dict[str, Any]:
    mend = mends.get(difference["resident_code"])
    return {**difference, "mend": mend} if mend is not None else difference


def mend_difference(api: Api, call: Call) -> defer.Deferred[Answer]:
    body, check_id, who = call.body, call.params["check_id"], call.who
    checks.check_resident_code(body["resident_code"])
    d = start_job(api, lambda reply: MendDifference(
        check_id, body["resident_code"], body["action"], body.get("reason"),
        who.operator_id, who.terminal_id, reply), "mend")
    return d.addCallback(lambda shown: (201, shown))


# ---- send-destination batches -------------------------------------------------------------


def prepare_batch(_intake: Intake, body: Any, _params: dict[str, Any]) -> Any:
    codes = body.get("residents")
    if (codes is None) == (not body.get("needing_notice")):
        raise HubError("ambiguous_selection", "give residents, or needing_notice: true — one "
                       "of them")
    for i, code in enumerate(codes or []):
        checks.check_resident_code(code, f"residents[{i}]")
    return codes


def start_batch(api: Api, call: Call) -> defer.Deferred[Answer]:
    cfg, codes = api.settings.send, call.prepared
    if cfg is None or "card" not in api.links:
        raise HubError("link_disabled", "the card link or [send_destination] is not "
                       "configured", status=422)
    print_class = call.body.get("print_class", cfg.print_class)
    who = (call.who.operator_id, call.who.terminal_id)
    threshold = api.settings.bulk_threshold
    d = start_job(api, lambda reply: StartSendBatch(cfg, codes, print_class, *who, threshold,
                                                    reply), "batch")
    return d.addCallback(lambda answer: (202, answer))


def show_batch(api: Api, call: Call) -> defer.Deferred[Answer]:
    store, batch_id = api.reads.store, call.params["batch_id"]

    def read() -> Answer:
        with store.reading() as conn:
            batch = store.jobs.batch(conn, batch_id)
            undelivered = store.outbox.undelivered(conn, "card", batch_id)
        if batch is None:
            raise HubError("unknown_batch", "no send-destination batch has this id",
                           status=404)
        return 200, send_batches.progress(batch, undelivered)

    return api.reads.until(read, lambda a: a[1]["state"] == "delivered",
                           call.params.get("wait", 0.0))


# ---- bulk outputs waiting for a supervisor ---------------------------------------------------


def list_approvals(api: Api, call: Call) -> defer.Deferred[Answer]:
    store = api.reads.store
    d = api.reads.run(store.read, store.approvals.listed, call.params.get("state"))
    return d.addCallback(lambda rows: (200, {"approvals": [_approval(r) for r in rows]}))


def decide_approval(api: Api, call: Call) -> defer.Deferred[Answer]:
    approval_id, decision, who = call.params["approval_id"], call.body["decision"], call.who
    d = start_job(api, lambda reply: DecideApproval(
        approval_id, decision, who.operator_id, who.terminal_id, api.settings.send, reply),
        "decision")
    return d.addCallback(lambda shown: (200, _approval(shown)))


def _approval(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None}
