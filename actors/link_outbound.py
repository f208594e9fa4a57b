"""The outbound half of a link, on its actor's thread: the ``OutboxCache`` fed from the
outbox (read through the store when it has room), the ``SendWindow`` over it settled by
the peer's answers, and what must be recorded before the window may act — dead
letters, holds — told to the store writer.  Frames are built with the actor's session.

The peer's acknowledgements are recorded lazily (``record_ack``, on the actor's timer
and when it stops): the peer restates what it applied in every hello, so a record that
lags costs a few resends after a crash, never a message; writing each one would cost
the store a transaction per acknowledgement."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from actors.link_metrics import LinkMetrics
from actors.messages import HoldMessages, RecordAck, RecordDeadLetter, Recorded
from actors.outbound_window import (
    DeadLetter,
    HelloVerdict,
    OutboxCache,
    Retry,
    Send,
    SendWindow,
    WindowLimits,
)
from hub.config import LinkConfig
from hub.domain.dead_letters import Mended
from hub.domain.outcomes import OutboxItem
from hub.store import Store
from protocols.session import Refused, Session

log = logging.getLogger("jukihub.link")


class LinkOutbound:
    def __init__(self, cfg: LinkConfig, store: Store, writer: Any, metrics: LinkMetrics,
                 later: Callable[[Any], Callable[[], None]],
                 wall_clock: Callable[[], float]) -> None:
        self.link, self.memory_queue = cfg.name, cfg.memory_queue
        self.store, self.writer, self.metrics = store, writer, metrics
        self.later = later  # a reply that tells the actor a message after the commit
        self.wall_clock = wall_clock
        self.limits = WindowLimits(cfg.window, cfg.window_bytes, cfg.memory_queue,
                                   cfg.memory_bytes, cfg.max_attempts)
        self.window = SendWindow(self.limits, OutboxCache(self.limits))
        self.recorded_ack = 0  # the acknowledgement the store has (or has been told)
        self.open_dead_letters = 0  # staff have not mended them yet
        self.token = 0  # the fencing token of the link's lease, carried by every record

    def reset(self) -> None:
        """Forget the window (the link was given up, or is reloaded): ``restore`` next."""
        self.window = SendWindow(self.limits, OutboxCache(self.limits))

    @property
    def cache(self) -> OutboxCache:
        """The part of the outbox in memory, which the window sends from."""
        return self.window.cache

    def restore(self, acked: int, known_upto: int) -> None:
        with self.store.reading() as conn:
            held = self.store.dead_letters.held_residents(conn, self.link)
            self.open_dead_letters = self.store.dead_letters.open_counts(conn).get(self.link, 0)
        self.cache.restore(acked, known_upto)
        self.window.restore(acked, held)
        self.recorded_ack = acked
        self.refill()

    def numbered(self, upto: int) -> bool:
        """The outbox holds messages up to ``upto`` (another hub's writer may have
        numbered them): read them as the window has room.  Whether that was news."""
        if not self.cache.numbered(upto):
            return False
        self.refill()
        return True

    def appended(self, items: tuple[OutboxItem, ...]) -> None:
        self.cache.appended(items)
        self.refill()

    def refill(self) -> None:
        """Read the next messages from the outbox while the window has room for them:
        their sizes first, then only the payloads that fit."""
        cache = self.cache
        while cache.wants_rows():
            after = cache.loaded_upto
            room = min(self.memory_queue - len(cache), 500)
            with self.store.reading() as conn:
                upto = cache.fit(self.store.outbox.sizes_after(conn, self.link, after, room))
                rows = self.store.outbox.read(conn, self.link, after, upto) if upto else []
            if not rows:
                return
            self.window.withdraw_stored(cache.loaded(
                (OutboxItem(self.link, r.seq, r.update_seq, r.resident_key, r.payload,
                            r.enqueued_at, r.correlation_id), r.state) for r in rows))

    def hello(self, applied: int) -> str | None:
        """A new connection's hello; why the link must stop, or ``None`` to go on."""
        verdict = self.window.hello(applied)
        if verdict is HelloVerdict.PEER_AHEAD:
            return "peer_ahead"
        if verdict is HelloVerdict.PEER_BEHIND:
            log.error("peer behind our acknowledged sequence", extra={
                "event": "link.peer_behind", "link": self.link, "peer_applied": applied})
            self.refill()
            if self.window.lost_purged():
                return "peer_behind_purged"
        self.settle(applied)
        self.window.resume()
        return None

    def settle(self, upto: int) -> None:
        """The peer settled everything up to ``upto``."""
        before = self.window.acked
        delivered = self.window.acked_upto(upto)
        if self.window.acked > before:
            self.metrics.delivered(delivered, self.wall_clock())
        if self.cache.wants_refill():
            self.refill()

    @property
    def ack_unrecorded(self) -> bool:
        return self.window.acked > self.recorded_ack

    def record_ack(self) -> None:
        """Tell the store writer the peer's acknowledgement (it keeps the highest)."""
        if self.ack_unrecorded:
            self.recorded_ack = self.window.acked
            self.writer.tell(RecordAck(self.link, self.recorded_ack, self.token))

    def refused(self, refusal: Refused) -> bool:
        """The peer refused a message; ``True`` when it is to be retried after a backoff."""
        verdict = self.window.refused(refusal.seq, refusal.permanent, refusal.code,
                                      refusal.reason)
        if isinstance(verdict, Retry):
            self.metrics.retried("refused")
            return True
        if isinstance(verdict, DeadLetter):
            item = verdict.item
            self.metrics.dead_letter(verdict.code)
            self.open_dead_letters += 1
            self.writer.tell(RecordDeadLetter(self.link, item.seq, verdict.code,
                                              verdict.reason,
                                              reply=self.later(Recorded((item.seq,))),
                                              token=self.token))
            # Logged once told: anything told the writer after this event (a change, a
            # read's wait) comes after the record in its mailbox.
            log.warning("dead letter", extra={"event": "link.dead_letter", "link": self.link,
                                              "seq": item.seq, "update_seq": item.update_seq,
                                              "code": verdict.code,
                                              "correlation_id": item.correlation_id})
        return False

    def mended(self, result: Mended) -> None:
        """Staff mended a dead letter (committed): release its resident, send again."""
        self.open_dead_letters = max(0, self.open_dead_letters - 1)
        self.window.released(result.resident_key, result.superseded, result.still_held)
        log.info("dead letter mended", extra={
            "event": f"link.dead_letter_{result.state}", "link": self.link,
            "dead_letter_id": result.dead_letter_id, "resent": len(result.items),
            "correlation_id": result.items[0].correlation_id if result.items else ""})
        self.appended(result.items)

    def frames(self, session: Session) -> bytes:
        """The frames the window allows now (a hold is recorded first, and its
        sequences withdrawn once that has committed)."""
        hold, frames = self.window.next_frames()
        if hold is not None:
            self.writer.tell(HoldMessages(self.link, hold.seqs,
                                          reply=self.later(Recorded(hold.seqs)),
                                          token=self.token))
        return b"".join(session.data(f.seq, f.payload) if type(f) is Send
                        else session.withdraw(f.seq) for f in frames)
