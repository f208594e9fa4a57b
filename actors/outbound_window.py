"""A link's outbound side, sans-IO, in two parts: the ``OutboxCache`` (the part of the
outbox held in memory) and the ``SendWindow`` (which of those messages to send, withdraw
or hold next).

The link's messages carry transmission sequences assigned when they were committed,
contiguous per link.  The cache keeps a bounded part of the outbox in memory (by count
and by bytes: ``memory_queue``, ``memory_bytes``), the messages right after the peer's
cumulative acknowledgement; it never reads the store: ``wants_rows``/``fit``/``loaded``
say what to read and take the rows the caller read.  The window sends up to ``window``
frames (and ``window_bytes``) ahead of that acknowledgement, and follows the session's
rules:

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

Each part has ``invariants()``, which the property tests check after every step.  Time,
I/O and threads are the caller's (the link actor's).
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


class OutboxCache:
    """The link's messages from the peer's acknowledgement on, as far as memory allows:
    sequences ``after + 1 .. loaded_upto`` without a gap (``after``: what the window has
    settled), of the ``known_upto`` the outbox holds."""

    def __init__(self, limits: WindowLimits) -> None:
        self.limits = limits
        self.loaded_upto = 0    # highest sequence held
        self.known_upto = 0     # highest sequence known to be in the outbox
        self._items: dict[int, OutboxItem] = {}
        self.bytes = 0          # payload bytes held

    def restore(self, acked: int, known_upto: int) -> None:
        """The outbox as stored (at start): nothing held, from ``acked`` on."""
        self.known_upto = known_upto
        self.rewind(acked)

    def rewind(self, upto: int) -> None:
        """Hold nothing; the next message to read is ``upto + 1``."""
        self.loaded_upto = upto
        self._items.clear()
        self.bytes = 0

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

    def wants_refill(self) -> bool:
        """Memory is at most half full and messages wait in the outbox."""
        return (self.loaded_upto < self.known_upto
                and len(self._items) < self.limits.memory_queue // 2
                and self.bytes < self.limits.memory_bytes // 2)

    def fit(self, sizes: Iterable[tuple[int, int]]) -> int | None:
        """Of the next messages' (seq, size), the last sequence that fits in memory."""
        count, total, upto = len(self._items), self.bytes, None
        for seq, size in sizes:
            if count and (count >= self.limits.memory_queue
                          or total + size > self.limits.memory_bytes):
                break
            count, total, upto = count + 1, total + size, seq
        return upto

    def loaded(self, rows: Iterable[tuple[OutboxItem, str]]) -> list[int]:
        """Messages read back from the outbox, each with its stored state: the sequences
        kept whose state says they are not to be sent (withdrawn or held)."""
        not_pending = []
        for item, state in rows:
            if item.seq != self.loaded_upto + 1:
                continue  # not contiguous: read again later
            self.known_upto = max(self.known_upto, item.seq)  # (another hub numbered it)
            self._keep(item)
            if state != "pending":
                not_pending.append(item.seq)
        return not_pending

    def settle(self, after: int, upto: int) -> list[OutboxItem]:
        """The peer settled ``after + 1 .. upto``: those held, in order, leave memory."""
        gone = [item for seq in range(after + 1, upto + 1)
                if (item := self._items.pop(seq, None)) is not None]
        self.bytes -= sum(len(item.payload) for item in gone)
        self.loaded_upto = max(self.loaded_upto, upto)  # the peer is past what was held
        return gone

    def get(self, seq: int) -> OutboxItem | None:
        return self._items.get(seq)

    def __len__(self) -> int:
        return len(self._items)

    def invariants(self, after: int) -> None:
        """Holds after every call (``after``: the window's acknowledgement)."""
        assert set(self._items) == set(range(after + 1, self.loaded_upto + 1)), \
            "the messages held are exactly those after the acknowledgement, no gap"
        assert self.loaded_upto <= max(self.known_upto, after)
        assert self.bytes == sum(len(i.payload) for i in self._items.values())
        assert len(self._items) <= max(1, self.limits.memory_queue)
        assert len(self._items) <= 1 or self.bytes <= self.limits.memory_bytes

    def _has_room(self, size: int) -> bool:
        """Memory is bounded by count and by bytes (a chunk of a consistency check or a
        send-destination batch is ~100 KB); one item always fits."""
        return not self._items or (len(self._items) < self.limits.memory_queue
                                   and self.bytes + size <= self.limits.memory_bytes)

    def _keep(self, item: OutboxItem) -> None:
        self._items[item.seq] = item
        self.bytes += len(item.payload)
        self.loaded_upto = item.seq


class SendWindow:
    """What to put on the wire next, from the ``cache``; see the module docstring."""

    def __init__(self, limits: WindowLimits, cache: OutboxCache) -> None:
        self.limits, self.cache = limits, cache
        self.acked = 0          # highest sequence the peer settled
        self.sent_upto = 0      # highest sequence sent on this connection
        self.inflight_bytes = 0  # payload bytes of the frames sent and not settled
        self.held: set[str] = set()        # resident keys held back behind a dead letter
        self.withdrawn: set[int] = set()   # sequences to withdraw rather than send
        self.unrecorded: set[int] = set()  # withdrawals waiting for their record
        self.attempts: dict[int, int] = {}  # temporary refusals per sequence
        self.blocked_on: int | None = None  # a sequence waiting for its retry timer

    def restore(self, acked: int, held: Iterable[str]) -> None:
        """The link's state as stored (at start): acknowledged, held back."""
        self.acked = self.sent_upto = acked
        self.inflight_bytes = 0
        self.held = set(held)

    def withdraw_stored(self, seqs: Iterable[int]) -> None:
        """Messages read back whose stored state is withdrawn or held."""
        self.withdrawn.update(seqs)

    # ---- the peer's answers -------------------------------------------------------------

    def hello(self, applied: int) -> HelloVerdict:
        """A new connection's hello: the peer has applied up to ``applied``.  Then the
        caller reads back what the cache ``wants_rows``, settles ``acked_upto(applied)``
        and calls ``resume``."""
        if applied > self.cache.known_upto:
            return HelloVerdict.PEER_AHEAD
        if applied < self.acked:
            # The peer lost what it had applied (restored from a backup?): resend from
            # where it is, reading the messages back from the outbox.
            self.acked = self.sent_upto = applied
            self.inflight_bytes = 0
            self.cache.rewind(applied)
            return HelloVerdict.PEER_BEHIND
        return HelloVerdict.RESUME

    def lost_purged(self) -> bool:
        """After a hello behind what we held and the read-back: the peer needs messages
        the outbox no longer holds (delivered long ago and purged)."""
        return self.acked < self.cache.known_upto and self.cache.get(self.acked + 1) is None

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
        for item in self.cache.settle(self.acked, upto):
            if item.seq in self.withdrawn:
                continue
            delivered.append(item)
            if item.seq <= self.sent_upto:
                self.inflight_bytes -= len(item.payload)
        if self.withdrawn:  # (what is left is all after the acknowledgement)
            self.withdrawn = {s for s in self.withdrawn if s > upto}
        if self.attempts:
            self.attempts = {s: n for s, n in self.attempts.items() if s > upto}
        self.acked = upto
        if upto > self.sent_upto:
            self.sent_upto = upto
            self.inflight_bytes = 0
        if self.blocked_on is not None and self.blocked_on <= upto:
            self.blocked_on = None
        return delivered

    def refused(self, seq: int, permanent: bool, code: str,
                reason: str) -> Retry | DeadLetter | None:
        """The peer refused ``seq`` (and discards what follows it)."""
        item = self.cache.get(seq)
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
            if seq > self.acked and self.cache.get(seq) is not None:
                self.withdrawn.add(seq)

    def retry_due(self) -> None:
        """The backoff after a temporary refusal is over: send again."""
        self.blocked_on = None

    # ---- what to send -------------------------------------------------------------------

    def next_frames(self) -> tuple[Hold | None, list[Send | Withdraw]]:
        """The frames to send now, in order, and the hold to record first (if any)."""
        if self.blocked_on is not None:
            return None, []
        limit = min(self.cache.loaded_upto, self.acked + self.limits.window)
        if self.sent_upto >= limit:
            return None, []
        hold = self._hold(limit) if self.held else None
        frames: list[Send | Withdraw] = []
        inflight, window_bytes = self.inflight_bytes, self.limits.window_bytes
        withdrawn, unrecorded, get = self.withdrawn, self.unrecorded, self.cache.get
        seq = self.sent_upto
        while seq < limit:
            seq += 1
            if seq in unrecorded:
                seq -= 1  # not before its record has committed
                break
            if seq in withdrawn:
                frames.append(Withdraw(seq))
                continue
            item = get(seq)
            assert item is not None  # the cache holds every sequence up to the limit
            if inflight and inflight + len(item.payload) > window_bytes:
                seq -= 1
                break
            inflight += len(item.payload)
            frames.append(Send(seq, item.payload))
        self.sent_upto, self.inflight_bytes = seq, inflight
        return hold, frames

    def _hold(self, limit: int) -> Hold | None:
        get = self.cache.get
        seqs = tuple(s for s in range(self.sent_upto + 1, limit + 1)
                     if s not in self.withdrawn and (i := get(s)) is not None
                     and i.resident_key in self.held)
        if not seqs:
            return None
        self.withdrawn.update(seqs)
        self.unrecorded.update(seqs)
        return Hold(seqs)

    def _go_back(self, upto: int) -> None:
        """The peer discards what follows ``upto``: send from there again."""
        self.sent_upto = upto
        self.inflight_bytes = self._sent_bytes()

    def _sent_bytes(self) -> int:
        """Payload bytes of the data frames sent and not yet settled."""
        return sum(len(i.payload) for s in range(self.acked + 1, self.sent_upto + 1)
                   if s not in self.withdrawn and (i := self.cache.get(s)) is not None)

    # ---- figures --------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Messages not yet acknowledged."""
        return self.cache.known_upto - self.acked

    @property
    def inflight(self) -> int:
        return max(0, self.sent_upto - self.acked)

    def status(self) -> dict[str, int]:
        return {"acked": self.acked, "sent_upto": self.sent_upto,
                "known_upto": self.cache.known_upto, "in_memory": len(self.cache),
                "in_memory_bytes": self.cache.bytes, "held_residents": len(self.held)}

    def oldest_enqueued(self) -> float | None:
        oldest = self.cache.get(self.acked + 1)
        return oldest.enqueued_at if oldest is not None else None

    def invariants(self) -> None:
        """Holds after every call (and its cache's, from this acknowledgement on)."""
        self.cache.invariants(self.acked)
        assert self.acked <= self.sent_upto <= max(self.cache.loaded_upto, self.acked)
        assert self.sent_upto - self.acked <= self.limits.window, "at most a window in flight"
        assert self.unrecorded <= self.withdrawn, "a withdrawal waits only for its record"
        assert all(s > self.acked for s in self.withdrawn | set(self.attempts))
        assert self.blocked_on is None or self.blocked_on > self.acked
        assert self.inflight_bytes == self._sent_bytes()
