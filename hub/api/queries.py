"""Identity queries (本人確認情報照会) at the national server: ``POST
/v1/queries/identity``.  The two-of-four rule is checked (``prepare``) before anything is
sent or logged; the 操作ログ entry is committed before the query goes out."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from actors.messages import RecordAudit, SendQuery
from hub.api.context import Answer, Api, Call, Intake
from hub.domain.errors import HubError, UnavailableError
from hub.domain.queries import QueryRequest, parse_query
from protocols.errors import BodyError
from protocols.jsonable import as_json
from protocols.national import decode_query_result, encode_query


def prepare(intake: Intake, body: Any, _params: dict[str, Any]) -> QueryRequest:
    return parse_query(body, intake.settings.municipality_code)


def post(api: Api, call: Call) -> defer.Deferred[Answer]:
    req: QueryRequest = call.prepared
    national = api.links.get("national")
    if national is None:
        raise UnavailableError("link_disabled", "the national link is not enabled")
    logged: defer.Deferred[Any] = defer.Deferred()
    api.writer.tell(RecordAudit(req.operator_id, req.terminal_id, f"query.{req.key}",
                                reply=api.on_reactor(logged)))

    def ask(_: Any) -> defer.Deferred[Answer]:
        # To the link actor with a tell; its reply crosses back with callFromThread.
        answer: defer.Deferred[tuple[bytes | None, str | None]] = defer.Deferred()
        national.tell(SendQuery(encode_query(req.query), reply=api.on_reactor(answer)))
        return answer.addCallback(_answered)

    return logged.addCallback(ask)


def _answered(reply: tuple[bytes | None, str | None]) -> Answer:
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
        raise HubError("bad_answer", "the national server's answer was not a valid result "
                       "document", status=502) from None
    if result.status == "refused":
        raise HubError("query_refused", "the national server refused the query", status=502)
    return 200, {"status": result.status, "count": result.count,
                 "matches": [as_json(m) for m in result.matches]}
