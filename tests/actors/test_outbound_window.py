"""The outbox cache and the send window, sans-IO: fed messages, acknowledgements,
refusals and hellos as plain calls; no actor, no reactor, no store, no bytes.  The
property test checks both parts' ``invariants()`` after every step."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.outbound_window import (
    DeadLetter,
    HelloVerdict,
    Hold,
    OutboxCache,
    Retry,
    Send,
    SendWindow,
    WindowLimits,
    Withdraw,
)
from hub.domain.outcomes import OutboxItem

LIMITS = WindowLimits(window=4, window_bytes=1 << 20, memory_queue=100,
                      memory_bytes=1 << 20, max_attempts=3)


def item(seq: int, resident: str = "", size: int = 10) -> OutboxItem:
    return OutboxItem("prefecture", seq, seq, resident or f"r{seq}", b"x" * size, 1000.0 + seq)


def empty(limits: WindowLimits = LIMITS) -> SendWindow:
    """A window over an empty cache, as a link starts."""
    w = SendWindow(limits, OutboxCache(limits))
    w.cache.restore(acked=0, known_upto=0)
    w.restore(acked=0, held=())
    return w


def window(n: int, limits: WindowLimits = LIMITS, **residents: str) -> SendWindow:
    """A window over messages 1..n (``r3="A"``: message 3 is about resident A)."""
    w = empty(limits)
    w.cache.appended([item(s, residents.get(f"r{s}", "")) for s in range(1, n + 1)])
    return w


def load(w: SendWindow, rows: list[tuple[OutboxItem, str]]) -> None:
    """Rows read back from the outbox, as ``LinkOutbound.refill`` gives them."""
    w.withdraw_stored(w.cache.loaded(rows))


def sent(w: SendWindow) -> list[tuple[str, int]]:
    hold, frames = w.next_frames()
    assert hold is None
    return [(type(f).__name__, f.seq) for f in frames]


def test_pipelines_a_window_and_a_cumulative_ack_moves_it() -> None:
    w = window(10)
    assert sent(w) == [("Send", 1), ("Send", 2), ("Send", 3), ("Send", 4)]
    assert sent(w) == []  # the window is full
    delivered = w.acked_upto(3)
    assert [i.seq for i in delivered] == [1, 2, 3]
    assert sent(w) == [("Send", 5), ("Send", 6), ("Send", 7)]
    assert (w.acked, w.sent_upto, w.depth, w.inflight) == (3, 7, 7, 4)


def test_bytes_in_flight_are_bounded_but_one_frame_always_goes() -> None:
    w = empty(WindowLimits(window=50, window_bytes=25, memory_queue=100,
                           memory_bytes=1 << 20, max_attempts=3))
    w.cache.appended([item(1, size=40), item(2), item(3), item(4)])
    assert sent(w) == [("Send", 1)]  # alone over the budget, yet it goes
    w.acked_upto(1)
    assert sent(w) == [("Send", 2), ("Send", 3)]  # 10 + 10 <= 25 < 30
    assert w.inflight_bytes == 20


def test_memory_keeps_what_fits_and_asks_for_the_rest() -> None:
    w = empty(WindowLimits(window=10, window_bytes=1 << 20, memory_queue=3,
                           memory_bytes=1 << 20, max_attempts=3))
    cache = w.cache
    cache.appended([item(s) for s in range(1, 6)])
    assert (len(cache), cache.loaded_upto, cache.known_upto) == (3, 3, 5)
    assert not cache.wants_rows()  # full
    assert sent(w) == [("Send", 1), ("Send", 2), ("Send", 3)]
    w.acked_upto(3)
    assert cache.wants_rows() and cache.wants_refill()
    assert cache.fit([(4, 10), (5, 10), (6, 10), (7, 10)]) == 6  # three fit in memory
    load(w, [(item(4), "pending"), (item(5), "held")])
    assert sent(w) == [("Send", 4), ("Withdraw", 5)]  # a held row is withdrawn


def test_a_temporary_refusal_goes_back_after_the_retry() -> None:
    w = window(6)
    sent(w)
    w.acked_upto(1)
    assert w.refused(2, False, "busy", "") == Retry(2, 1)
    assert sent(w) == []  # nothing until the backoff is over
    w.retry_due()
    assert sent(w) == [("Send", 2), ("Send", 3), ("Send", 4), ("Send", 5)]


def test_too_many_temporary_refusals_become_a_dead_letter() -> None:
    w = window(3)
    for attempt in (1, 2):
        sent(w)
        assert w.refused(1, False, "busy", "") == Retry(1, attempt)
        w.retry_due()
    sent(w)
    verdict = w.refused(1, False, "busy", "")
    assert isinstance(verdict, DeadLetter)
    assert (verdict.item.seq, verdict.code, verdict.reason) == (1, "too_many_attempts", "busy")


def test_a_dead_letter_holds_its_resident_and_withdraws_only_once_recorded() -> None:
    w = window(5, r1="A", r3="A", r5="A")
    sent(w)
    verdict = w.refused(1, True, "xsd_invalid", "bad")
    assert isinstance(verdict, DeadLetter) and verdict.item.resident_key == "A"
    hold, frames = w.next_frames()
    assert hold == Hold((3,))  # A's next message: held (durably) before its withdrawal
    assert frames == []  # and the withdrawal of 1 waits for its record
    w.recorded([1])
    assert sent(w) == [("Withdraw", 1), ("Send", 2)]  # 3 waits for its hold's record
    w.recorded([3])
    assert sent(w) == [("Withdraw", 3), ("Send", 4)]
    w.acked_upto(4)
    hold, frames = w.next_frames()
    assert hold == Hold((5,)) and frames == []
    delivered = [i.seq for i in w.acked_upto(4)]
    assert delivered == [] and w.held == {"A"}


def test_settled_withdrawals_are_not_counted_as_delivered() -> None:
    w = window(3, r1="A")
    sent(w)
    w.refused(1, True, "x", "")
    w.recorded([1])
    sent(w)
    assert [i.seq for i in w.acked_upto(3)] == [2, 3]


def test_refusals_of_settled_or_unknown_sequences_change_nothing() -> None:
    w = window(3)
    sent(w)
    w.acked_upto(2)
    assert w.refused(2, True, "x", "") is None
    assert w.refused(9, True, "x", "") is None
    assert w.sent_upto == 3 and not w.withdrawn


def test_reconnect_resumes_from_what_the_peer_applied() -> None:
    w = window(8)
    sent(w)  # 1..4 in flight when the connection breaks
    assert w.hello(2) is HelloVerdict.RESUME
    assert [i.seq for i in w.acked_upto(2)] == [1, 2]
    w.resume()
    assert sent(w) == [("Send", 3), ("Send", 4), ("Send", 5), ("Send", 6)]


def test_a_peer_ahead_of_the_outbox_is_refused() -> None:
    w = window(3)
    assert w.hello(7) is HelloVerdict.PEER_AHEAD


def test_a_peer_behind_is_resent_from_the_outbox_unless_purged() -> None:
    w = window(6)
    sent(w)
    w.acked_upto(5)
    assert w.hello(2) is HelloVerdict.PEER_BEHIND
    assert w.cache.wants_rows() and (w.acked, w.cache.loaded_upto) == (2, 2)
    load(w, [(item(3), "pending"), (item(4), "pending")])
    assert not w.lost_purged()
    w.resume()
    assert sent(w)[:2] == [("Send", 3), ("Send", 4)]
    purged = window(6)
    sent(purged)
    purged.acked_upto(6)
    assert purged.hello(1) is HelloVerdict.PEER_BEHIND
    assert purged.lost_purged()  # 2..6 were delivered long ago and are gone


# ---- whatever happens, the window keeps its promises ------------------------------

_OPS = st.lists(st.tuples(st.sampled_from(["ack", "refuse_temp", "refuse_perm", "record",
                                           "retry", "reconnect", "append", "refill",
                                           "peer_behind"]),
                          st.integers(0, 8)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(ops=_OPS, window_size=st.integers(1, 6), budget=st.integers(15, 60),
       memory_queue=st.integers(1, 8), memory_bytes=st.integers(10, 80))
def test_frames_go_in_order_within_the_window_and_its_bytes(
        ops: list[tuple[str, int]], window_size: int, budget: int, memory_queue: int,
        memory_bytes: int) -> None:
    limits = WindowLimits(window=window_size, window_bytes=budget, memory_queue=memory_queue,
                          memory_bytes=memory_bytes, max_attempts=3)
    w = empty(limits)
    residents = ["A", "B", "C"]
    outbox: dict[int, OutboxItem] = {}  # what the store holds, as the cache reads it
    sent_data: set[int] = set()
    for op, k in ops:
        if op == "append":
            new = [item(len(outbox) + 1 + i, residents[(len(outbox) + 1 + i) % 3],
                        size=5 + (len(outbox) + 1 + i) % 13) for i in range(k)]
            outbox.update((i.seq, i) for i in new)
            w.cache.appended(new)
        elif op == "refill":
            _refill(w, outbox)
        elif op == "ack":
            w.acked_upto(min(w.sent_upto, w.acked + k))
        elif op in ("refuse_temp", "refuse_perm") and w.sent_upto > w.acked:
            verdict = w.refused(w.acked + 1, op == "refuse_perm", "x", "")
            if isinstance(verdict, DeadLetter):
                w.recorded([verdict.item.seq])
        elif op == "record":
            w.recorded(list(w.unrecorded))
        elif op == "retry":
            w.retry_due()
        elif op in ("reconnect", "peer_behind"):
            # The peer says what it applied: all we settled, or less (restored from a
            # backup): the window reads back from the outbox and resends.
            applied = w.acked if op == "reconnect" else max(0, w.acked - k)
            w.hello(applied)
            _refill(w, outbox)
            w.acked_upto(applied)
            w.resume()
            sent_data.clear()
        _check(w, limits, sent_data)
        w.invariants()


def _refill(w: SendWindow, outbox: dict[int, OutboxItem]) -> None:
    """``LinkOutbound.refill`` over ``outbox``: sizes first, then the rows that fit."""
    cache = w.cache
    while cache.wants_rows():
        after = cache.loaded_upto
        upto = cache.fit((s, len(outbox[s].payload))
                         for s in range(after + 1, cache.known_upto + 1))
        if not upto:
            return
        load(w, [(outbox[s], "pending") for s in range(after + 1, upto + 1)])


def _check(w: SendWindow, limits: WindowLimits, sent_data: set[int]) -> None:
    w.invariants()
    before = w.sent_upto
    hold, frames = w.next_frames()
    seqs = [f.seq for f in frames]
    assert seqs == list(range(before + 1, before + 1 + len(seqs)))  # in order, no gap
    assert w.sent_upto == before + len(seqs) and w.sent_upto - w.acked <= limits.window
    for f in frames:
        assert f.seq not in w.unrecorded  # never withdrawn before its record
        if isinstance(f, Send):
            assert w.cache.get(f.seq).resident_key not in w.held or f.seq in sent_data
            sent_data.add(f.seq)
        else:
            assert isinstance(f, Withdraw) and f.seq in w.withdrawn
    data = [i for s in range(w.acked + 1, w.sent_upto + 1)
            if s not in w.withdrawn and (i := w.cache.get(s)) is not None]
    assert w.inflight_bytes == sum(len(i.payload) for i in data)
    assert len(data) <= 1 or w.inflight_bytes <= limits.window_bytes
    if hold is not None:
        assert all(w.cache.get(s).resident_key in w.held for s in hold.seqs)


def test_status_reports_the_figures() -> None:
    w = window(3)
    sent(w)
    w.acked_upto(1)
    status: dict[str, Any] = w.status()
    assert status == {"acked": 1, "sent_upto": 3, "known_upto": 3, "in_memory": 2,
                      "in_memory_bytes": 20, "held_residents": 0}
    assert w.oldest_enqueued() == 1002.0


def test_a_mended_dead_letter_releases_its_resident_and_withdraws_the_old_copies() -> None:
    w = window(4, r1="A", r2="A")
    sent(w)
    assert isinstance(w.refused(1, True, "xsd_invalid", "bad"), DeadLetter)
    hold, _ = w.next_frames()
    assert hold == Hold((2,))
    w.recorded([1, 2])
    assert sent(w) == [("Withdraw", 1), ("Withdraw", 2), ("Send", 3), ("Send", 4)]
    # Staff replay it: 1 and 2 go again as 5 and 6; A is no longer held.
    w.released("A", (1, 2), still_held=False)
    w.cache.appended([item(5, "A"), item(6, "A")])
    assert w.held == set()
    w.acked_upto(4)
    assert sent(w) == [("Send", 5), ("Send", 6)]


def test_a_release_while_another_dead_letter_holds_the_resident_keeps_holding() -> None:
    w = window(3, r1="A", r3="A")
    sent(w)
    w.refused(1, True, "xsd_invalid", "bad")
    w.next_frames()
    w.released("A", (1,), still_held=True)
    assert w.held == {"A"}
    w.recorded([1, 3])
    assert sent(w) == [("Withdraw", 1), ("Send", 2), ("Withdraw", 3)]
