"""What a link reports: its Prometheus series — label children resolved once, as the
hot path counts every message — and the log events that go with them.  Label values
are link names, states, stages and codes; never personal data."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from actors.outbound_window import SendWindow
from hub.domain.inbound import CheckAnswer
from hub.domain.outcomes import OutboxItem
from hub.support import metrics

log = logging.getLogger("jukihub.link")


class LinkMetrics:
    def __init__(self, link: str) -> None:
        self.link = link
        self._up = metrics.link_up.labels(link)
        self._depth = metrics.outbox_depth.labels(link)
        self._inflight = metrics.link_inflight.labels(link)
        self._held = metrics.link_held.labels(link)
        self._delivered = metrics.delivered.labels(link)
        self._latency = metrics.delivery_latency.labels(link)
        self._inbound = metrics.inbound.labels(link)
        self._inflight_bytes = metrics.link_inflight_bytes.labels(link)
        self._dead_open = metrics.dead_letters_open.labels(link)
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    def started(self, states: Iterable[str], differences: int | None = None,
                checked: bool = False) -> None:
        """Every series of the link from its start (at 0), so dashboards and alerts
        see a link that never failed as well as one that did; a link that is checked
        for consistency shows its newest check's differences as the store has them
        (0 before any check), not a blank until the next check after a restart."""
        for state in states:
            metrics.link_state.labels(self.link, state).set(0)
        if checked:
            metrics.consistency_differences.labels(self.link).set(differences or 0)
        for cause in ("reconnect", "refused"):
            metrics.retries.labels(self.link, cause)
        for stage in ("connect", "handshake", "hello"):
            metrics.connect_failures.labels(self.link, stage)

    def state(self, old: str, new: str) -> None:
        metrics.link_state.labels(self.link, old).set(0)
        metrics.link_state.labels(self.link, new).set(1)
        self._up.set(1 if new == "ready" else 0)

    def publish(self, window: SendWindow, state: str, open_dead: int) -> None:
        """The window's figures, as gauges and on the link board (``/readyz``, the
        status view; the oldest message's age is computed from it at scrape time)."""
        depth, inflight, oldest = window.depth, window.inflight, window.oldest_enqueued()
        self._depth.set(depth)
        self._inflight.set(inflight)
        self._inflight_bytes.set(window.inflight_bytes)
        self._held.set(len(window.held))
        self._dead_open.set(open_dead)
        metrics.link_board.links[self.link] = metrics.LinkFigures(
            state, depth, inflight, window.inflight_bytes, len(window.held), open_dead,
            oldest, self.last_error, self.last_error_at)

    def failed(self, cause: str, now: float) -> None:
        """Why the link last failed (a code: connect_refused, heartbeat_timeout, …)."""
        self.last_error, self.last_error_at = cause, now

    def delivered(self, items: list[OutboxItem], now: float) -> None:
        self._delivered.inc(len(items))
        logging_ = log.isEnabledFor(logging.INFO)
        for item in items:
            latency = max(0.0, now - item.enqueued_at)
            self._latency.observe(latency)
            if logging_:
                log.info("delivered", extra={
                    "event": "link.delivered", "link": self.link, "seq": item.seq,
                    "update_seq": item.update_seq, "correlation_id": item.correlation_id,
                    "latency_ms": round(latency * 1000, 1)})

    def retried(self, cause: str) -> None:
        metrics.retries.labels(self.link, cause).inc()

    def connect_failed(self, stage: str) -> None:
        metrics.connect_failures.labels(self.link, stage).inc()
        log.warning("link connect failed", extra={"event": "link.connect_failed",
                                                  "link": self.link, "stage": stage})

    def protocol_error(self, code: str) -> None:
        metrics.protocol_errors.labels(self.link, code).inc()
        log.warning("link protocol error", extra={"event": "link.protocol_error",
                                                  "link": self.link, "code": code})

    def dead_letter(self, code: str) -> None:
        metrics.dead_letters.labels(self.link, code[:40] or "unknown").inc()

    def inbound(self) -> None:
        self._inbound.inc()

    def inbound_refused(self, code: str | None) -> None:
        if code is not None:
            metrics.inbound_refused.labels(self.link, code).inc()

    def query(self, outcome: str, seconds: float | None = None) -> None:
        metrics.queries.labels(self.link, outcome).inc()
        if seconds is not None:
            metrics.query_seconds.labels(self.link).observe(seconds)

    def consistency_answered(self, check: CheckAnswer) -> None:
        metrics.consistency_differences.labels(self.link).set(check.differences)
        metrics.consistency_checks.labels(self.link).inc()
        log.info("consistency result", extra={
            "event": "consistency.result", "link": self.link, "check_id": check.check_id,
            "compared": check.compared, "held": check.held, "differences": check.differences})
