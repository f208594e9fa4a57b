"""Changes that need J-LIS's answer before they go to the store writer — asked of the
national server, request/response beside its stream (``hub.domain`` says which
changes, what to ask and what the answer makes of them):

- a domestic 転入: the former city's 転出証明書情報 (``hub.domain.moves``);
- a 住民票コードの変更: the new 住民票コード (``hub.domain.resident_codes``).

On the reactor thread: each question goes to the national link actor with a ``tell``
(``SendQuery``, with the link's ``query_timeout``); its reply crosses back with
``callFromThread``.  The batch waits for every answer, then goes to the writer whole
and in order — the changes whose answer did not come are answered on their own, and
write nothing:

- ``certificate_timeout`` / ``code_change_timeout`` (504): J-LIS did not answer in time;
- ``certificate_unavailable`` / ``code_change_unavailable`` (503): the national link is
  not connected;
- ``moving_out_certificate_not_found`` (422): J-LIS has no 転出 of this person from the
  former city;
- ``certificate_refused``, ``code_change_refused``, ``bad_answer`` (502): J-LIS refused
  the request, or answered something that is not an answer.

The register may post the change again (with the same request id) once the state has
passed.  Without a national link a 転入 goes on with what the register sent; a
住民票コードの変更 cannot be made (422 ``link_disabled``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet import defer

from actors.messages import SendQuery
from hub.api.context import Api
from hub.domain import moves, resident_codes
from hub.domain.changes import Change
from hub.domain.errors import HubError, UnavailableError
from hub.domain.outcomes import Outcome, Request
from protocols.errors import BodyError
from protocols.national import (
    decode_certificate_answer,
    decode_code_change_answer,
    encode_certificate_request,
    encode_code_change_request,
)

# A request ready for the writer, or the outcome that answers it already.
Prepared = Request | Outcome


@dataclass(frozen=True, slots=True)
class Question:
    """One kind of question a change asks J-LIS before the writer."""

    code: str                                   # certificate | code_change
    what: str                                   # what is asked for (in messages)
    needed: Callable[[Change], bool]
    ask: Callable[[Change, str], bytes]         # the question (the city's code given)
    answer: Callable[[Change, bytes], Change]   # the change carrying the answer


QUESTIONS = (
    Question("certificate", "the 転出証明書情報", moves.needs_certificate,
             lambda c, city: encode_certificate_request(moves.certificate_request(c, city)),
             lambda c, body: moves.with_certificate(c, decode_certificate_answer(body))),
    Question("code_change", "a new 住民票コード", resident_codes.needs_new_code,
             lambda c, city: encode_code_change_request(resident_codes.code_request(c, city)),
             lambda c, body: resident_codes.with_new_code(c, decode_code_change_answer(body))),
)


def _question(request: Request) -> Question | None:
    if not isinstance(request, Change):
        return None
    return next((q for q in QUESTIONS if q.needed(request)), None)


def wanted(api: Api, requests: list[Request]) -> bool:
    """Whether any of ``requests`` asks J-LIS first (a 転入 only when there is a
    national link to ask)."""
    linked = "national" in api.links
    return any((q := _question(r)) is not None and (linked or q.code != "certificate")
               for r in requests)


def attach(api: Api, requests: list[Request]) -> defer.Deferred[list[Prepared]]:
    """``requests`` with J-LIS's answers (reactor thread): each change that asks one
    carries its answer, or is replaced by the outcome that refuses it."""
    asked: list[defer.Deferred[Prepared]] = []
    for r in requests:
        question = _question(r)
        if question is None:
            asked.append(defer.succeed(r))
        else:
            assert isinstance(r, Change)  # only a change asks
            asked.append(_ask(api, question, r))
    return defer.gatherResults(asked, consumeErrors=True)


def _ask(api: Api, question: Question, change: Change) -> defer.Deferred[Prepared]:
    national = api.links.get("national")

    def refused(err: HubError) -> Outcome:
        api.intake.meters.change_refused(err.code)
        return Outcome(change.request_id, error=err, reason=err.code)

    if national is None:
        if question.code == "certificate":  # a city without the link: as the register sent
            return defer.succeed(change)
        return defer.succeed(refused(HubError(
            "link_disabled", f"the national link is not enabled: {question.what} cannot be "
            "asked for", status=422)))
    reply: defer.Deferred[tuple[bytes | None, str | None]] = defer.Deferred()
    body = question.ask(change, api.settings.municipality_code)
    # To the link actor with a tell; its reply crosses back with callFromThread.
    national.tell(SendQuery(body, reply=api.on_reactor(reply)))

    def answered(result: tuple[bytes | None, str | None]) -> Prepared:
        body, code = result
        try:
            if code == "query_timeout":
                raise HubError(f"{question.code}_timeout", f"J-LIS did not send {question.what}"
                               " in time; nothing was written — post the change again",
                               status=504)
            if code is not None or body is None:
                raise UnavailableError(f"{question.code}_unavailable", "the national link is "
                                       f"not connected, so {question.what} cannot be asked "
                                       "for; nothing was written — post the change again later")
            try:
                return question.answer(change, body)
            except BodyError:
                raise HubError("bad_answer", f"J-LIS's answer was not {question.what}",
                               status=502) from None
        except HubError as err:
            return refused(err)

    return reply.addCallback(answered)


def merged(prepared: list[Prepared], outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes of all the requests, in order: those the writer gave for the ones it
    got, and the refusals made here in their places."""
    it = iter(outcomes)
    return [p if isinstance(p, Outcome) else next(it) for p in prepared]
