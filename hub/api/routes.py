"""The route table: every operation of the HTTP API, one line each — method, path (the
OpenAPI document's template), the name that labels its metrics, its handler, and the
optional steps the intake workers run before it (``precheck`` on the raw JSON,
``prepare`` after the schema).  The right each needs is declared in the document
(``x-jukihub-right``), next to its schemas.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.api import (
    changes,
    dead_letters,
    exports,
    feeds,
    inbox,
    jobs,
    manual_answers,
    operations,
    queries,
    residents,
    sessions,
)
from hub.api.context import Api, Call, Intake

Handler = Callable[[Api, Call], Any]  # an Answer, or a Deferred of one (hub process)
Prepare = Callable[[Intake, Any, dict[str, Any]], Any]
# Requests for the store writer, and how its outcomes make the answer (in a worker).
Submit = Callable[[Intake, Call], tuple[list[Any], Callable[[list[Any]], Any]]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str                  # as in openapi.yaml: /v1/inbox/{item_id}
    name: str                  # the label of the intake metrics
    handler: Handler | None = None  # on the reactor thread ...
    submit: Submit | None = None    # ... or, for the store writer, from a worker
    prepare: Prepare | None = None
    precheck: Callable[[Intake, Any], None] | None = None
    counts_changes: bool = False  # its refusals count in jukihub_intake_changes_refused
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        assert (self.handler is None) != (self.submit is None), "a handler or a submit"
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "pattern", re.compile(regex))


ROUTES = (
    Route("POST", "/v1/changes", "change", submit=changes.submit_one,
          prepare=changes.prepare_change, counts_changes=True),
    Route("POST", "/v1/changes/batch", "batch", submit=changes.submit_batch,
          prepare=changes.prepare_batch, precheck=changes.batch_size, counts_changes=True),
    Route("POST", "/v1/card-events", "card", submit=changes.submit_one,
          prepare=changes.prepare_card_event, counts_changes=True),
    Route("GET", "/healthz", "health", operations.health),
    Route("GET", "/readyz", "ready", operations.ready),
    Route("GET", "/v1/status", "status", operations.status),
    Route("POST", "/v1/maintenance", "maintenance", operations.set_maintenance),
    Route("GET", "/v1/dead-letters", "dead_letter", dead_letters.list_letters),
    Route("GET", "/v1/dead-letters/{dead_letter_id}", "dead_letter", dead_letters.show),
    Route("POST", "/v1/dead-letters/{dead_letter_id}/replay", "dead_letter_mend",
          dead_letters.replay),
    Route("POST", "/v1/dead-letters/{dead_letter_id}/discard", "dead_letter_mend",
          dead_letters.discard),
    Route("GET", "/v1/audit", "audit", operations.search_audit),
    Route("GET", "/v1/inbox", "inbox", inbox.list_items),
    Route("GET", "/v1/inbox/{item_id}", "inbox", inbox.fetch),
    Route("POST", "/v1/inbox/{item_id}/ack", "inbox_ack", inbox.acknowledge),
    Route("POST", "/v1/queries/identity", "query", queries.post),
    Route("POST", "/v1/manual-answers/{item_id}", "manual_answer", manual_answers.decide),
    Route("GET", "/v1/manual-answers/{item_id}", "manual_answer", manual_answers.preview),
    Route("POST", "/v1/consistency-checks", "consistency", jobs.start_check),
    Route("GET", "/v1/consistency-checks/{check_id}", "consistency",
          jobs.show_check),
    Route("POST", "/v1/consistency-checks/{check_id}/mends", "consistency",
          jobs.mend_difference),
    Route("POST", "/v1/send-destination-batches", "send_batch",
          jobs.start_batch, prepare=jobs.prepare_batch),
    Route("GET", "/v1/send-destination-batches/{batch_id}", "send_batch",
          jobs.show_batch),
    Route("GET", "/v1/approvals", "approval", jobs.list_approvals),
    Route("POST", "/v1/approvals/{approval_id}", "approval", jobs.decide_approval),
    Route("GET", "/v1/feed", "feed", feeds.pull),
    Route("POST", "/v1/exports", "export", exports.request),
    Route("POST", "/v1/exports/{export_id}/file", "export", exports.write),
    Route("POST", "/v1/residents/search", "resident_search", residents.search),
    Route("GET", "/v1/residents/{resident_code}", "resident", residents.show),
    Route("POST", "/v1/sessions", "session", sessions.log_in),
    Route("GET", "/v1/sessions/current", "session", sessions.show),
    Route("DELETE", "/v1/sessions/current", "session", sessions.log_out),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for ``path`` (of any method, so a wrong one answers 405), or ``None``.
    A path the document names literally is that path, never a template's value
    (``/v1/residents/search`` is not the resident ``search``)."""
    found: tuple[Route, dict[str, str]] | None = None
    for route in _LITERAL_FIRST:
        m = route.pattern.fullmatch(path)
        if m is not None:
            if found is not None and found[0].path != route.path:
                break  # a literal path matched: templates do not get it
            if route.method == method:
                return route, m.groupdict()
            found = found or (route, m.groupdict())
    return found


_LITERAL_FIRST = tuple(sorted(ROUTES, key=lambda r: "{" in r.path))


def methods_of(template: str) -> list[str]:
    """Every method the document serves ``template`` with (a 405's ``Allow``)."""
    return [r.method for r in ROUTES if r.path == template]
