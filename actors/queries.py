"""Queries on one link (request/response pairs beside the sequenced stream), on its
actor's thread.  Not durable: a query lost with its connection, or unanswered within
the link's ``query_timeout``, is answered with a code, and its caller may ask again.

``PendingQueries`` is the bookkeeping, sans-IO (correlation ids, replies, send times);
``LinkQueries`` adds the session's frames and the link's metrics."""

from __future__ import annotations

from collections.abc import Callable

from actors.link_metrics import LinkMetrics
from protocols.session import Response, Session

# reply(body, None) with the peer's answer, or reply(None, code)
QueryReply = Callable[[bytes | None, str | None], None]


class PendingQueries:
    def __init__(self) -> None:
        self._pending: dict[str, tuple[QueryReply, float]] = {}
        self._count = 0

    def add(self, reply: QueryReply, now: float) -> str:
        """A new query; its correlation id."""
        self._count += 1
        corr = f"q{self._count}"
        self._pending[corr] = (reply, now)
        return corr

    def answered(self, corr: str) -> tuple[QueryReply, float] | None:
        """The reply and send time of ``corr``; ``None`` if it was given up already."""
        return self._pending.pop(corr, None)

    def expired(self, corr: str) -> QueryReply | None:
        """``corr``'s time is up: its reply, if it is still waiting."""
        pending = self._pending.pop(corr, None)
        return pending[0] if pending is not None else None

    def drop_all(self) -> list[QueryReply]:
        """The connection is gone: every waiting reply."""
        pending, self._pending = self._pending, {}
        return [reply for reply, _ in pending.values()]


class LinkQueries:
    def __init__(self, metrics: LinkMetrics) -> None:
        self.metrics = metrics
        self.pending = PendingQueries()

    def ask(self, body: bytes, reply: QueryReply, session: Session | None,
            now: float) -> tuple[str, bytes] | None:
        """A query to send on ``session`` (``None``: the link is not ready, and the
        caller has its answer already): its correlation id and frame."""
        if session is None:
            self.metrics.query("link_unavailable")
            reply(None, "link_unavailable")
            return None
        corr = self.pending.add(reply, now)
        return corr, session.request(corr, body)

    def answered(self, resp: Response, now: float) -> None:
        pending = self.pending.answered(resp.corr)
        if pending is None:  # answered after its timeout: the caller has moved on
            self.metrics.query("late")
            return
        reply, sent_at = pending
        self.metrics.query("answered", now - sent_at)
        reply(resp.body, None)

    def expired(self, corr: str) -> None:
        if (reply := self.pending.expired(corr)) is not None:
            self.metrics.query("query_timeout")
            reply(None, "query_timeout")

    def fail_all(self, code: str) -> None:
        for reply in self.pending.drop_all():
            self.metrics.query(code)
            reply(None, code)
