"""The register system's changes: ``POST /v1/changes``, ``/v1/changes/batch`` and
``/v1/card-events``.  Their format checks (``prepare``) run in the intake workers,
which hand the changes to the store writer (``submit``); the writer answers after the
commit, and only then is the answer written."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hub.api.context import Answer, Call, Intake
from hub.domain.changes import parse_card_event, parse_change
from hub.domain.errors import FormatError, RequestError
from hub.domain.outcomes import Outcome, Request

Parsed = list[Request | FormatError]
Answering = Callable[[list[Outcome]], Answer]


def batch_size(intake: Intake, body: Any) -> None:
    """Before the schema check, whose cost grows with the batch: at most ``max_batch``
    (400 naming the item, as every bound of the document is refused)."""
    if isinstance(body, dict) and isinstance(body.get("changes"), list) and (
            len(body["changes"]) > intake.config.max_batch):
        raise RequestError("batch_too_large", f"at most {intake.config.max_batch} changes",
                           "changes")


def _parse(intake: Intake, items: list[dict[str, Any]], parse: Any) -> Parsed:
    parsed: Parsed = []
    for item in items:
        try:
            parsed.append(parse(item))
        except FormatError as err:
            intake.meters.change_refused(f"{err.code}:{err.item}")
            parsed.append(err)
    return parsed


def prepare_change(intake: Intake, body: Any, _params: dict[str, Any]) -> Parsed:
    today = intake.today()
    return _parse(intake, [body], lambda item: parse_change(item, today, intake.charset))


def prepare_batch(intake: Intake, body: Any, _params: dict[str, Any]) -> Parsed:
    today = intake.today()
    return _parse(intake, body["changes"],
                  lambda item: parse_change(item, today, intake.charset))


def prepare_card_event(intake: Intake, body: Any, _params: dict[str, Any]) -> Parsed:
    today = intake.today()
    return _parse(intake, [body], lambda item: parse_card_event(item, today))


def _results(parsed: Parsed, outcomes: list[Outcome]) -> list[tuple[int, dict[str, Any]]]:
    it = iter(outcomes)
    results: list[tuple[int, dict[str, Any]]] = []
    for p in parsed:
        if isinstance(p, FormatError):
            results.append((p.status, {"error": p.to_json()}))
            continue
        o = next(it)
        if o.error is not None:
            results.append((o.error.status, {"request_id": o.request_id,
                                             "error": o.error.to_json()}))
        else:
            assert o.response is not None
            results.append((201, o.response))
    return results


def _requests(parsed: Parsed, correlation_id: str) -> list[Request]:
    """The requests that passed their format checks, each carrying the request's
    correlation id (to its messages, their acknowledgements and dead letters)."""
    return [dataclasses.replace(p, correlation_id=correlation_id) for p in parsed
            if not isinstance(p, FormatError)]


def submit_one(_intake: Intake, call: Call) -> tuple[list[Request], Answering]:
    """One change (or card event): 201 with its answer, or its refusal."""
    def answer(outcomes: list[Outcome]) -> Answer:
        status, body = _results(call.prepared, outcomes)[0]
        return status, ({"error": body["error"]} if "error" in body else body)

    return _requests(call.prepared, call.correlation_id), answer


def submit_batch(_intake: Intake, call: Call) -> tuple[list[Request], Answering]:
    """Many changes, each accepted or refused on its own, in order."""
    def answer(outcomes: list[Outcome]) -> Answer:
        out = []
        for (_, body), item in zip(_results(call.prepared, outcomes), call.body["changes"],
                                   strict=True):
            if "error" in body:
                out.append({"request_id": str(item.get("request_id", "")), "status": "refused",
                            "error": body["error"]})
            else:
                out.append(body)
        return 200, {"results": out}

    return _requests(call.prepared, call.correlation_id), answer
