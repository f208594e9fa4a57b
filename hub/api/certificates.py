"""A domestic 転入's 転出証明書情報, asked of the national server before the change goes
to the store writer (``hub.domain.moves`` says which changes need one and what the
answer makes of them).

On the reactor thread: each question goes to the national link actor with a ``tell``
(``SendQuery``, request/response beside the link's stream, with the link's
``query_timeout``); its reply crosses back with ``callFromThread``.  The batch waits for
every answer, then goes to the writer whole and in order — the changes whose
certificate did not come are answered on their own, and write nothing:

- ``certificate_timeout`` (504): the national server did not answer in time;
- ``certificate_unavailable`` (503): the national link is not connected;
- ``moving_out_certificate_not_found`` (422): J-LIS has no 転出 of this person from the
  former city;
- ``certificate_refused``/``bad_answer`` (502): the national server refused the
  request, or answered something that is not an answer.

The register may post the change again (with the same request id) once the state has
passed.  Without a national link (a city that runs without one, the tests of other
links) a 転入 goes on with what the register sent.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from actors.messages import SendQuery
from hub.api.context import Api
from hub.domain import moves
from hub.domain.changes import Change
from hub.domain.errors import HubError, UnavailableError
from hub.domain.outcomes import Outcome, Request
from protocols.errors import BodyError
from protocols.national import decode_certificate_answer, encode_certificate_request

# A request ready for the writer, or the outcome that answers it already.
Prepared = Request | Outcome


def wanted(api: Api, requests: list[Request]) -> bool:
    """Whether any of ``requests`` waits for a certificate."""
    return "national" in api.links and any(
        isinstance(r, Change) and moves.needs_certificate(r) for r in requests)


def attach(api: Api, requests: list[Request]) -> defer.Deferred[list[Prepared]]:
    """``requests`` with their certificates (reactor thread): each domestic 転入 carries
    its answer, or is replaced by the outcome that refuses it."""
    asked: list[defer.Deferred[Prepared]] = [
        _ask(api, r) if isinstance(r, Change) and moves.needs_certificate(r)
        else defer.succeed(r) for r in requests]
    return defer.gatherResults(asked, consumeErrors=True)


def _ask(api: Api, change: Change) -> defer.Deferred[Prepared]:
    national = api.links["national"]
    req = moves.certificate_request(change, api.settings.municipality_code)
    reply: defer.Deferred[tuple[bytes | None, str | None]] = defer.Deferred()
    # To the link actor with a tell; its reply crosses back with callFromThread.
    national.tell(SendQuery(encode_certificate_request(req), reply=api.on_reactor(reply)))

    def answered(result: tuple[bytes | None, str | None]) -> Prepared:
        try:
            return moves.with_certificate(change, _answer(*result))
        except HubError as err:
            api.intake.meters.change_refused(err.code)
            return Outcome(change.request_id, error=err, reason=err.code)

    return reply.addCallback(answered)


def _answer(body: bytes | None, code: str | None) -> Any:
    if code == "query_timeout":
        raise HubError("certificate_timeout", "the national server did not send the "
                       "転出証明書情報 in time; nothing was written — post the change again",
                       status=504)
    if code is not None or body is None:
        raise UnavailableError("certificate_unavailable", "the national link is not "
                               "connected, so the 転出証明書情報 cannot be asked for; "
                               "nothing was written — post the change again later")
    try:
        return decode_certificate_answer(body)
    except BodyError:
        raise HubError("bad_answer", "the national server's answer was not a 転出証明書情報 "
                       "answer", status=502) from None


def merged(prepared: list[Prepared], outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes of all the requests, in order: those the writer gave for the ones it
    got, and the refusals made here in their places."""
    it = iter(outcomes)
    return [p if isinstance(p, Outcome) else next(it) for p in prepared]
