"""Identity queries (本人確認情報照会) at the national server: ``POST
/v1/queries/identity``.  The two-of-four rule is checked before anything is sent; a
query refused by it is in the 操作ログ too (the assessment: searches no work needs are
looked for there).  The entry is committed before the query goes out, and the answer's
count follows it."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from actors.messages import SendQuery
from hub.api.context import Answer, Api, Call
from hub.api.sessions import audit, fail_with
from hub.domain.errors import HubError, UnavailableError
from hub.domain.queries import parse_query
from protocols.errors import BodyError
from protocols.jsonable import as_json
from protocols.national import decode_query_result, encode_query


def post(api: Api, call: Call) -> defer.Deferred[Answer]:
    try:
        req = parse_query(call.body, api.settings.municipality_code)
    except HubError as err:
        refusal = err
        d = audit(api, call.who, call.client, "query.refused", refusal.code)
        return d.addCallback(lambda _: fail_with(refusal))
    national = api.links.get("national")
    if national is None:
        # Configuration, not a passing state: asking again will not help (422, as the
        # jobs that need a disabled link answer); a link that is down answers 503.
        raise HubError("link_disabled", "the national link is not enabled", status=422)
    logged = audit(api, call.who, call.client, f"query.{req.key}")

    def ask(_: Any) -> defer.Deferred[Answer]:
        # To the link actor with a tell; its reply crosses back with callFromThread.
        answer: defer.Deferred[tuple[bytes | None, str | None]] = defer.Deferred()
        national.tell(SendQuery(encode_query(req.query), reply=api.on_reactor(answer)))
        return answer.addCallback(_answered).addCallback(
            lambda a: (a[0], api.intake.to_register(a[1], call))).addCallback(counted)

    def counted(answer: Answer) -> Answer:
        audit(api, call.who, call.client, "query.answered", count=answer[1]["count"])
        return answer

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
