"""A link's outbound window, sans-IO: which messages to send, withdraw or hold next.

The link's messages carry transmission sequences assigned when they were committed,
contiguous per link.  The window keeps a bounded part of the outbox in memory (by
count and by bytes: ``memory_queue``, ``memory_bytes``), sends up to ``window`` frames
(and ``window_bytes``) ahead of the peer's cumulative acknowledgement, and follows the
session's rules:

- ``acked(upto)``: the peer settled everything up to ``upto``; the delivered messages
  come back (for their latency) and memory is freed.
- ``refused(...)``: a refusal of ``n`` makes the peer discard what follows, so the
  window goes back to ``n``.  A temporary refusal is retried (``Retry``: the caller
  sets a backoff timer, then calls ``retry_due``); a permanent one, or ``max_attempts``
  temporary ones, becomes a ``DeadLetter``: its resident is held back, ``n`` is
  withdrawn — but only once the caller reports the dead letter recorded
  (``recorded``), because a withdrawal must never overtake its record.  When staff
  mend the dead letter, ``released``: the resident is no longer held, and what it
  held is sent again as new messages (``appended``).
- ``next_frames()``: what to put on the wire now — ``Send`` and ``Withdraw`` frames in
  sequence order, and first a ``Hold`` of the later messages of held residents, which
  are withdrawn once their hold is recorded too.
- ``hello(applied)``: after a reconnect, the peer says what it applied; sending resumes
  right after it (``HelloVerdict``, then ``resume``).

It never reads the store: ``wants_rows``/``fit``/``loaded`` say what to read and take
the rows the caller read.  Time, I/O and threads are the caller's (the link actor's).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from hub.domain.outcomes import OutboxItem


@dataclass(frozen=True, slots=True)
class Send:
    seq: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Withdraw:
    seq: int


@dataclass(frozen=True, slots=True)
class Hold:
    """Record these sequences as held (durably) before they are withdrawn."""

    seqs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Retry:
    """Send ``seq`` again after a backoff; ``attempt`` temporary refusals so far."""

    seq: int
    attempt: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Record ``item`` as a dead letter; ``recorded((seq,))`` once it is committed."""

    item: OutboxItem
    code: str
    reason: str


class HelloVerdict(enum.Enum):
    RESUME = "resume"            # send from the peer's applied sequence on
    PEER_AHEAD = "peer_ahead"    # the peer applied sequences we never issued: stop
    PEER_BEHIND = "peer_behind"  # the peer lost what it applied: read back, resend
                                 # (unless ``lost_purged``: then stop)


@dataclass(frozen=True, slots=True)
class WindowLimits:
    window: int         # frames in flight at most
    window_bytes: int   # and their bytes (the first frame always goes)
    memory_queue: int   # messages held in memory at most
    memory_bytes: int   # and their bytes (one always fits)
    max_attempts: int   # temporary refusals before a dead letter


class OutboundWindow:
    """See the module docstring."""

    def __init__(self, limits: WindowLimits) -> None:
        self.limits = limits
        self.acked = 0          # highest sequence the peer settled
        self.sent_upto = 0      # highest sequence sent on this connection
        self.loaded_upto = 0    # highest sequence held in ``items``
        self.known_upto = 0     # highest sequence known to be in the outbox
        self.items: dict[int, OutboxItem] = {}  # seq -> message, for acked < seq
        self.items_bytes = 0
        self.inflight_bytes = 0  # payload bytes of the frames sent and not settled
        self.held: set[str] = set()        # resident keys held back behind a dead letter
        self.withdrawn: set[int] = set()   # sequences to withdraw rather than send
        self.unrecorded: set[int] = set()  # withdrawals waiting for their record
        self.attempts: dict[int, int] = {}  # temporary refusals per sequence
        self.blocked_on: int | None = None  # a sequence waiting for its retry timer

    # ---- what is in the outbox --------------------------------------------------------

    def restore(self, acked: int, known_upto: int, held: Iterable[str]) -> None:
        """The link's state as stored (at start): acknowledged, issued, held back."""
        self.acked = self.sent_upto = self.loaded_upto = acked
        self.known_upto = known_upto
        self.held = set(held)
        self._forget()

    def appended(self, items: Iterable[OutboxItem]) -> None:
        """Messages just committed; kept if they follow what is in memory and fit."""
        for item in items:
            if item.seq > self.known_upto:
                self.known_upto = item.seq
            if item.seq == self.loaded_upto + 1 and self._has_room(len(item.payload)):
                self._keep(item)

    def numbered(self, upto: int) -> bool:
        """The outbox holds messages up to ``upto``: whether that is more than known."""
        if upto <= self.known_upto:
            return False
        self.known_upto = upto
        return True

    def wants_rows(self) -> bool:
        """Messages wait in the outbox, and memory has room for some."""
        return self.loaded_upto < self.known_upto and self._has_room(0)

    def fit(self, sizes: Iterable[tuple[int, int]]) -> int | None:
        """Of the next messages' (seq, size), the last sequence that fits in memory."""
        count, total, upto = len(self.items), self.items_bytes, None
        for seq, size in sizes:
            if count and (count >= self.limits.memory_queue
                          or total + size > self.limits.memory_bytes):
                break
            count, total, upto = count + 1, total + size, seq
        return upto

    def loaded(self, rows: Iterable[tuple[OutboxItem, str]]) -> None:
        """Messages read back from the outbox, each with its stored state."""
        for item, state in rows:
            if item.seq != self.loaded_upto + 1:
                continue  # not contiguous: read again later
            self._keep(item)
            if state != "pending":
                self.withdrawn.add(item.seq)

    # ---- the peer's answers -------------------------------------------------------------

    def hello(self, applied: int) -> HelloVerdict:
        """A new connection's hello: the peer has applied up to ``applied``.  Then the
        caller reads back what ``wants_rows``, settles ``acked_upto(applied)`` and
        calls ``resume``."""
        if applied > self.known_upto:
            return HelloVerdict.PEER_AHEAD
        if applied < self.acked:
            # The peer lost what it had applied (restored from a backup?): resend from
            # where it is, reading the messages back from the outbox.
            self.acked = self.sent_upto = self.loaded_upto = applied
            self._forget()
            return HelloVerdict.PEER_BEHIND
        return HelloVerdict.RESUME

    def lost_purged(self) -> bool:
        """After a hello behind what we held and the read-back: the peer needs messages
        the outbox no longer holds (delivered long ago and purged)."""
        return self.acked < self.known_upto and self.acked + 1 not in self.items

    def resume(self) -> None:
        """Sending starts again right after what the peer has settled."""
        self.sent_upto = self.acked
        self.inflight_bytes = 0
        self.blocked_on = None

    def acked_upto(self, upto: int) -> list[OutboxItem]:
        """The peer settled everything up to ``upto``: the messages delivered by it
        (withdrawn ones are settled, not delivered)."""
        if upto <= self.acked:
            return []
        delivered = []
        for seq in range(self.acked + 1, upto + 1):
            item = self.items.pop(seq, None)
            self.attempts.pop(seq, None)
            if seq in self.withdrawn:
                self.withdrawn.discard(seq)
            elif item is not None:
                delivered.append(item)
                if seq <= self.sent_upto:
                    self.inflight_bytes -= len(item.payload)
            if item is not None:
                self.items_bytes -= len(item.payload)
        self.acked = upto
        if upto > self.sent_upto:
            self.sent_upto = upto
            self.inflight_bytes = 0
        if upto > self.loaded_upto:  # the peer is past what was in memory
            self.loaded_upto = upto
        if self.blocked_on is not None and self.blocked_on <= upto:
            self.blocked_on = None
        return delivered

    def wants_refill(self) -> bool:
        """Memory is at most half full and messages wait in the outbox."""
        return (self.loaded_upto < self.known_upto
                and len(self.items) < self.limits.memory_queue // 2
                and self.items_bytes < self.limits.memory_bytes // 2)

    def refused(self, seq: int, permanent: bool, code: str,
                reason: str) -> Retry | DeadLetter | None:
        """The peer refused ``seq`` (and discards what follows it)."""
        item = self.items.get(seq)
        if seq <= self.acked or item is None:
            return None
        self._go_back(seq - 1)
        if not permanent:
            n = self.attempts[seq] = self.attempts.get(seq, 0) + 1
            if n < self.limits.max_attempts:
                self.blocked_on = seq
                return Retry(seq, n)
            code, reason = "too_many_attempts", code
        self.held.add(item.resident_key)
        self.withdrawn.add(seq)
        self.unrecorded.add(seq)
        return DeadLetter(item, code, reason)

    def recorded(self, seqs: Iterable[int]) -> None:
        """The dead letter or hold of these sequences is committed: withdraw them."""
        self.unrecorded.difference_update(seqs)

    def released(self, key: str, superseded: Iterable[int], still_held: bool) -> None:
        """Staff mended a dead letter of ``key``: the ``superseded`` sequences were sent
        again as new messages (or discarded) and are withdrawn rather than sent — their
        new state is on the record already; ``key`` is no longer held back unless
        another of its dead letters is still open."""
        if not still_held:
            self.held.discard(key)
        for seq in superseded:
            if seq > self.acked and seq in self.items:
                self.withdrawn.add(seq)

    def retry_due(self) -> None:
        """The backoff after a temporary refusal is over: send again."""
        self.blocked_on = None

    # ---- what to send -------------------------------------------------------------------

    def next_frames(self) -> tuple[Hold | None, list[Send | Withdraw]]:
        """The frames to send now, in order, and the hold to record first (if any)."""
        if self.blocked_on is not None:
            return None, []
        limit = min(self.loaded_upto, self.acked + self.limits.window)
        if self.sent_upto >= limit:
            return None, []
        hold = self._hold(limit) if self.held else None
        frames: list[Send | Withdraw] = []
        inflight, window_bytes = self.inflight_bytes, self.limits.window_bytes
        withdrawn, unrecorded, items = self.withdrawn, self.unrecorded, self.items
        seq = self.sent_upto
        while seq < limit:
            seq += 1
            if seq in unrecorded:
                seq -= 1  # not before its record has committed
                break
            if seq in withdrawn:
                frames.append(Withdraw(seq))
                continue
            payload = items[seq].payload
            if inflight and inflight + len(payload) > window_bytes:
                seq -= 1
                break
            inflight += len(payload)
            frames.append(Send(seq, payload))
        self.sent_upto, self.inflight_bytes = seq, inflight
        return hold, frames

    def _hold(self, limit: int) -> Hold | None:
        seqs = tuple(s for s in range(self.sent_upto + 1, limit + 1)
                     if s not in self.withdrawn and self.items[s].resident_key in self.held)
        if not seqs:
            return None
        self.withdrawn.update(seqs)
        self.unrecorded.update(seqs)
        return Hold(seqs)

    # ---- figures --------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Messages not yet acknowledged."""
        return self.known_upto - self.acked

    @property
    def inflight(self) -> int:
        return max(0, self.sent_upto - self.acked)

    def status(self) -> dict[str, int]:
        return {"acked": self.acked, "sent_upto": self.sent_upto,
                "known_upto": self.known_upto, "in_memory": len(self.items),
                "in_memory_bytes": self.items_bytes, "held_residents": len(self.held)}

    def oldest_enqueued(self) -> float | None:
        oldest = self.items.get(self.acked + 1)
        return oldest.enqueued_at if oldest is not None else None

    # ---- memory -----------------------------------------------------------------------

    def _has_room(self, size: int) -> bool:
        """Memory is bounded by count and by bytes (a chunk of a consistency check or a
        send-destination batch is ~100 KB); one item always fits."""
        return not self.items or (len(self.items) < self.limits.memory_queue
                                  and self.items_bytes + size <= self.limits.memory_bytes)

    def _keep(self, item: OutboxItem) -> None:
        self.items[item.seq] = item
        self.items_bytes += len(item.payload)
        self.loaded_upto = item.seq

    def _forget(self) -> None:
        self.items.clear()
        self.items_bytes = 0
        self.inflight_bytes = 0

    def _go_back(self, upto: int) -> None:
        """The peer discards what follows ``upto``: send from there again."""
        self.sent_upto = upto
        self.inflight_bytes = sum(len(self.items[s].payload)
                                  for s in range(self.acked + 1, upto + 1)
                                  if s in self.items and s not in self.withdrawn)
