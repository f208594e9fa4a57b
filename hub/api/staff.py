"""Staff and register-system operations on the intake listener: the inbox, identity
queries, and (with later issues) batches and checks.

Each route is a line of ``ROUTES``: method, path pattern, the metrics name, who may
call it (a client list of ``[intake]``) and the handler.  ``StaffRoutes.staff`` does
the common part — client certificate, JSON body, the OpenAPI document — then calls the
handler, which answers ``(status, body)`` or a Deferred of it; the answer too is
checked against the document.  A handler raises ``HubError`` for a refusal.

Threads: handlers run on the reactor thread.  They reach the store writer and the link
actors with ``tell``; replies come back through ``reactor.callFromThread``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openapi_core.datatypes import RequestParameters
from twisted.internet import defer, task
from twisted.web import server

from actors.messages import (
    AckInbox,
    RecordAudit,
    SendQuery,
    StartJob,
    SubmitChanges,
)
from hub import metrics
from hub.domain import checks, consistency, inbound, send_batches
from hub.domain.changes import parse_manual_decision
from hub.domain.consistency import CHECK_LINKS
from hub.domain.errors import HubError, UnavailableError
from hub.domain.queries import parse_query
from hub.tls import peer_common_name
from protocols.consistency import MAX_RECORDS, decode_result
from protocols.errors import BodyError
from protocols.jsonable import as_json
from protocols.national import decode_query_result, encode_query

Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str   # the label of the intake metrics
    clients: str    # the [intake] option listing who may call it
    handler: str    # the method of StaffRoutes


ROUTES = (
    Route("GET", re.compile(r"/v1/inbox"), "inbox", "inbox_clients", "_inbox_list"),
    Route("GET", re.compile(r"/v1/inbox/(?P<item_id>[0-9]+)"), "inbox", "inbox_clients",
          "_inbox_fetch"),
    Route("POST", re.compile(r"/v1/inbox/(?P<item_id>[0-9]+)/ack"), "inbox_ack",
          "inbox_clients", "_inbox_ack"),
    Route("POST", re.compile(r"/v1/queries/identity"), "query", "staff_clients", "_query"),
    Route("POST", re.compile(r"/v1/manual-answers/(?P<item_id>[0-9]+)"), "manual_answer",
          "staff_clients", "_manual_answer"),
    Route("POST", re.compile(r"/v1/consistency-checks"), "consistency", "staff_clients",
          "_check_start"),
    Route("GET", re.compile(r"/v1/consistency-checks/(?P<check_id>C[0-9]{10})"),
          "consistency", "staff_clients", "_check_show"),
    Route("POST", re.compile(r"/v1/send-destination-batches"), "send_batch", "staff_clients",
          "_batch_start"),
    Route("GET", re.compile(r"/v1/send-destination-batches/(?P<batch_id>S[0-9]{10})"),
          "send_batch", "staff_clients", "_batch_show"),
)


def match_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for ``path`` (any method, so a wrong one answers 405), or ``None``."""
    found = None
    for route in ROUTES:
        m = route.pattern.fullmatch(path)
        if m is not None:
            if route.method == method:
                return route, m.groupdict()
            found = found or (route, m.groupdict())
    return found


class StaffRoutes:
    """Mixed into ``IntakeAPI``, whose helpers (``_read_body``, ``_validate``,
    ``_answer``, ``_finish``, ``_oa_request``) it uses."""

    cfg: Any
    store: Any  # hub.store.Store
    writer: Any
    reactor: Any
    links: dict[str, Any]
    settings: Any  # hub.config.Config
    _read_body: Callable[..., tuple[bytes, Any]]
    _validate: Callable[..., None]
    _answer: Callable[..., bytes]
    _finish: Callable[..., None]
    _internal_error: Callable[..., None]
    _oa_request: Callable[..., Any]

    def staff(self, request: server.Request, route: Route, params: dict[str, str],
              path: str, started: float) -> bytes | int:
        method = request.method.decode()
        try:
            if route.method != method:
                request.setHeader("allow", route.method)
                raise HubError("method_not_allowed", f"use {route.method}", status=405)
            if peer_common_name(request.transport) not in getattr(self.cfg, route.clients):
                metrics.intake_client_refused.inc()
                raise HubError("client_not_allowed", "this client certificate may not use "
                               "this operation", status=403)
            raw, obj = self._read_body(request) if method == "POST" else (None, None)
            args: dict[bytes, list[bytes]] = request.args or {}
            query = {k.decode(): v[0].decode() for k, v in args.items()}
            oa = self._oa_request(path, method.lower(), raw,
                                  RequestParameters(path=params, query=query))
            self._validate(oa)
        except HubError as err:
            return self._answer(request, route.endpoint, started, err.status,
                                {"error": err.to_json()})
        # The handler's refusals (HubError) and its bugs (anything else: a 500 without
        # a traceback) both arrive as failures, raised at once or later.
        d = defer.maybeDeferred(getattr(self, route.handler), obj, params, query)
        d.addCallbacks(lambda answer: self._finish(request, route.endpoint, started,
                                                   answer[0], answer[1], oa),
                       lambda f: self._refused_later(f, request, route.endpoint, started, oa))
        return server.NOT_DONE_YET

    def _refused_later(self, failure: Any, request: server.Request, endpoint: str,
                       started: float, oa: Any) -> None:
        if failure.check(HubError):
            err = failure.value
            self._finish(request, endpoint, started, err.status, {"error": err.to_json()}, oa)
        else:
            self._internal_error(failure, request, endpoint, started)

    def _on_reactor(self, d: defer.Deferred[Any]) -> Callable[..., None]:
        """A reply callable for another thread: fires ``d`` on the reactor thread."""
        reactor = self.reactor
        return lambda *value: reactor.callFromThread(
            d.callback, value[0] if len(value) == 1 else value)

    def _when(self, read: Callable[[], Answer], done: Callable[[Answer], bool],
              args: dict[str, str]) -> Answer | defer.Deferred[Answer]:
        """``read()`` now, or — with ``?wait=SECONDS`` — as soon as ``done`` holds for it
        (re-read every 50 ms on the reactor's clock), or when the wait is over."""
        first = read()
        wait = min(float(args.get("wait", 0)), 120.0)
        if wait <= 0 or done(first):
            return first
        deadline = self.reactor.seconds() + wait

        def again(_: Any = None) -> Answer | defer.Deferred[Answer]:
            answer = read()
            if done(answer) or self.reactor.seconds() >= deadline:
                return answer
            return task.deferLater(self.reactor, 0.05, lambda: None).addCallback(again)

        return task.deferLater(self.reactor, 0.05, lambda: None).addCallback(again)

    def _audited(self, operator_id: str, terminal_id: str, action: str,
                 then: Callable[[], Any]) -> defer.Deferred[Any]:
        """Commit the 操作ログ entry first, then run ``then`` on the reactor thread."""
        d: defer.Deferred[Any] = defer.Deferred()
        self.writer.tell(RecordAudit(operator_id, terminal_id, action,
                                     reply=self._on_reactor(d)))
        d.addCallback(lambda _: then())
        return d

    # ---- the inbox ---------------------------------------------------------------------

    def _inbox_list(self, _obj: None, _params: dict[str, str], args: dict[str, str]) -> Answer:
        """Items oldest first.  A list that shows many people never shows the 個人番号
        (the assessment's rule): fetch the one item for it."""
        rows = self.store.read(self.store.inbox.list, int(args.get("after", 0)),
                               int(args.get("limit", 100)), args.get("kind"), args.get("state"))
        return 200, {"items": [_inbox_item(r, listed=True) for r in rows]}

    def _inbox_fetch(self, _obj: None, params: dict[str, str], _args: dict[str, str]) -> Answer:
        row = self.store.read(self.store.inbox.get, int(params["item_id"]))
        if row is None:
            raise HubError("unknown_item", "no such inbox item", status=404)
        return 200, _inbox_item(row, listed=False)

    def _inbox_ack(self, obj: dict[str, Any], params: dict[str, str],
                   _args: dict[str, str]) -> defer.Deferred[Answer]:
        item_id = int(params["item_id"])
        d: defer.Deferred[str] = defer.Deferred()
        self.writer.tell(AckInbox(item_id, obj["operator_id"], obj["terminal_id"],
                                  reply=self._on_reactor(d)))

        def answered(verdict: str) -> Answer:
            if verdict == "unknown":
                raise HubError("unknown_item", "no such inbox item", status=404)
            if verdict == "already":
                raise HubError("already_taken", "the item was already acknowledged",
                               status=409)
            return 200, {"id": item_id, "state": "acknowledged"}

        return d.addCallback(answered)

    # ---- manual answers (自動応答不可): only ever on a staff decision ------------------

    def _manual_answer(self, obj: dict[str, Any], params: dict[str, str],
                       _args: dict[str, str]) -> defer.Deferred[Answer]:
        decision = parse_manual_decision(obj, int(params["item_id"]))
        d: defer.Deferred[list[Any]] = defer.Deferred()
        self.writer.tell(SubmitChanges([decision], reply=self._on_reactor(d)))

        def answered(outcomes: list[Any]) -> Answer:
            (outcome,) = outcomes
            if outcome.error is not None:
                raise outcome.error
            return 200, outcome.response

        return d.addCallback(answered)

    # ---- consistency checks (本人確認情報整合) ------------------------------------------

    def _check_start(self, obj: dict[str, Any], _params: dict[str, str],
                     _args: dict[str, str]) -> defer.Deferred[Answer]:
        links = list(dict.fromkeys(obj.get("links") or CHECK_LINKS))
        off = [link for link in links if link not in self.links]
        if off:
            raise HubError("link_disabled", f"the {off[0]} link is not enabled", "links",
                           status=422)
        d: defer.Deferred[dict[str, str] | None] = defer.Deferred()
        who, size = (obj["operator_id"], obj["terminal_id"]), min(self.settings.check_chunk,
                                                                    MAX_RECORDS)
        self.writer.tell(StartJob(
            lambda register, now: consistency.start(register, links, *who, size, now),
            reply=self._on_reactor(d)))

        def started(checks: dict[str, str] | None) -> Answer:
            if not checks:
                raise UnavailableError("store_unavailable", "the check could not be "
                                       "recorded; try again")
            return 202, {"checks": [{"check_id": c, "link": link}
                                    for link, c in checks.items()]}

        return d.addCallback(started)

    def _check_show(self, _obj: None, params: dict[str, str],
                    args: dict[str, str]) -> Answer | defer.Deferred[Answer]:
        return self._when(lambda: self._check_read(params["check_id"]),
                          lambda a: a[1]["state"] == "answered", args)

    def _check_read(self, check_id: str) -> Answer:
        found = self.store.read(self.store.jobs.check, check_id)
        if found is None:
            raise HubError("unknown_check", "no consistency check has this id", status=404)
        row, body = found
        out: dict[str, Any] = {k: v for k, v in row.items()
                               if v is not None and k not in ("inbox_id", "differences")}
        if row["differences"] is not None:
            out["difference_count"] = row["differences"]
        if body is not None:
            out["differences"] = [as_json(d) for d in decode_result(body).differences]
        return 200, out

    # ---- send-destination batches (送付先情報) -----------------------------------------

    def _batch_start(self, obj: dict[str, Any], _params: dict[str, str],
                     _args: dict[str, str]) -> defer.Deferred[Answer]:
        for item in ("operator_id", "terminal_id"):
            checks.check_identifier(obj[item], item)
        codes = obj.get("residents")
        if (codes is None) == (not obj.get("needing_notice")):
            raise HubError("ambiguous_selection", "give residents, or needing_notice: true "
                           "— one of them")
        for i, code in enumerate(codes or []):
            checks.check_resident_code(code, f"residents[{i}]")
        cfg = self.settings.send
        if cfg is None or "card" not in self.links:
            raise HubError("link_disabled", "the card link or [send_destination] is not "
                           "configured", status=422)
        print_class = obj.get("print_class", cfg.print_class)
        who = (obj["operator_id"], obj["terminal_id"])
        d: defer.Deferred[Any] = defer.Deferred()
        self.writer.tell(StartJob(
            lambda register, now: send_batches.start(register, cfg, codes, print_class, *who,
                                                     now),
            reply=self._on_reactor(d)))

        def started(answer: Any) -> Answer:
            if answer is None:
                raise UnavailableError("store_unavailable", "the batch could not be "
                                       "recorded; try again")
            if isinstance(answer, HubError):
                raise answer
            return 202, answer

        return d.addCallback(started)

    def _batch_show(self, _obj: None, params: dict[str, str],
                    args: dict[str, str]) -> Answer | defer.Deferred[Answer]:
        return self._when(lambda: self._batch_read(params["batch_id"]),
                          lambda a: a[1]["state"] == "delivered", args)

    def _batch_read(self, batch_id: str) -> Answer:
        with self.store.reading() as conn:
            batch = self.store.jobs.batch(conn, batch_id)
            undelivered = self.store.outbox.undelivered(conn, "card", batch_id)
        if batch is None:
            raise HubError("unknown_batch", "no send-destination batch has this id",
                           status=404)
        return 200, send_batches.progress(batch, undelivered)

    # ---- identity queries (本人確認情報照会) -------------------------------------------

    def _query(self, obj: dict[str, Any], _params: dict[str, str],
               _args: dict[str, str]) -> defer.Deferred[Answer]:
        req = parse_query(obj, self.settings.municipality_code)
        national = self.links.get("national")
        if national is None:
            raise UnavailableError("link_disabled", "the national link is not enabled")
        answer: defer.Deferred[tuple[bytes | None, str | None]] = defer.Deferred()

        def ask() -> defer.Deferred[Answer]:
            # To the link actor with a tell; its reply crosses back with callFromThread.
            national.tell(SendQuery(encode_query(req.query), reply=self._on_reactor(answer)))
            return answer.addCallback(self._query_answered)

        return self._audited(req.operator_id, req.terminal_id, f"query.{req.key}", ask)

    @staticmethod
    def _query_answered(reply: tuple[bytes | None, str | None]) -> Answer:
        body, code = reply
        if code == "query_timeout":
            raise HubError("query_timeout", "the national server did not answer in time; "
                           "ask again", status=504)
        if code is not None or body is None:
            raise UnavailableError(code or "link_unavailable", "the national link is not "
                                   "connected; ask again later")
        try:
            result = decode_query_result(body)
        except BodyError:
            raise HubError("bad_answer", "the national server's answer was not a valid "
                           "result document", status=502) from None
        if result.status == "refused":
            raise HubError("query_refused", "the national server refused the query",
                           status=502)
        return 200, {"status": result.status, "count": result.count,
                     "matches": [as_json(m) for m in result.matches]}


_NOT_IN_LISTS = frozenset({"individual_number"})


def _inbox_item(r: Any, listed: bool) -> dict[str, Any]:  # a hub.store.InboxItem
    item: dict[str, Any] = {"id": r.id, "link": r.link, "kind": r.kind, "peer_seq": r.peer_seq,
                            "received_at": r.received_at, "state": r.state}
    if r.code:
        item["code"] = r.code
    if r.state != "refused" and (decoded := inbound.decode(r.link, r.body)) is not None:
        doc = as_json(decoded)
        if listed:
            doc = {k: v for k, v in doc.items() if k not in _NOT_IN_LISTS}
        item["document"] = doc
    return item


