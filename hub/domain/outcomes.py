"""What applying a request produces: its answer (``Outcome``) and the messages it put in
the links' outboxes (``OutboxItem``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.domain.changes import CardEventRequest, Change, ManualDecision
from hub.domain.errors import HubError

# What the store writer applies in a batch.
Request = Change | CardEventRequest | ManualDecision


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message committed to a link's outbox, as the link actor needs it."""

    link: str
    seq: int
    update_seq: int
    resident_key: str
    payload: bytes
    enqueued_at: float
    correlation_id: str = ""  # the intake request (or job) that caused it: for the logs

    def row(self, kind: str) -> tuple[object, ...]:
        """The outbox row (``hub.store.outbox.OUTBOX_COLUMNS`` order)."""
        return (self.link, self.seq, self.update_seq, self.resident_key, kind, self.payload,
                self.enqueued_at, "pending", self.correlation_id or None)


@dataclass(slots=True)
class Outcome:
    """The answer to one change: accepted (with the response body) or refused."""

    request_id: str
    response: dict[str, Any] | None = None
    error: HubError | None = None
    duplicate: bool = False
    reason: str = ""
    outbox: list[OutboxItem] = field(default_factory=list)
