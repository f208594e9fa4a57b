"""The operation log's hash chain, its anchors and the periodic review — the rules,
on entries made here (the CLI on a real store is in tests/integration/test_audit.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain import audit
from hub.store import AuditEntry, LoggedEntry
from hub.store.anchors import Anchor
from hub.store.audit import GENESIS, chain_hash

TOKYO = ZoneInfo("Asia/Tokyo")
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=TOKYO).timestamp()  # a Monday, 09:00


def chain(entries: list[AuditEntry]) -> list[LoggedEntry]:
    out, previous = [], GENESIS
    for i, e in enumerate(entries, start=1):
        previous = chain_hash(previous, i, e)
        out.append(LoggedEntry(i, e, previous))
    return out


def entries(n: int) -> list[AuditEntry]:
    return [AuditEntry(T0 + i * 60, f"op{i % 3}", "t1", "inbox.read", str(i), None, "t1",
                       i % 2 == 0) for i in range(n)]


def test_an_untouched_log_verifies_with_its_anchors() -> None:
    log = chain(entries(10))
    anchors = [Anchor(T0, 4, log[3].hash or ""), Anchor(T0, 10, log[9].hash or "")]
    v = audit.verify(log, anchors)
    assert v.intact and (v.entries, v.head_id, v.anchors) == (10, 10, 2)
    assert audit.verify([], []).intact


def test_a_changed_entry_is_named() -> None:
    log = chain(entries(10))
    log[6] = replace(log[6], entry=replace(log[6].entry, number_shown=False, result="ok",
                                           operator_id="someone-else"))
    v = audit.verify(log, [])
    assert (v.first_bad, v.intact) == (7, False) and "not as it was written" in str(v.problem)


def test_a_deleted_entry_is_named() -> None:
    log = chain(entries(10))
    del log[4]
    v = audit.verify(log, [])
    assert v.first_bad == 5 and "missing" in str(v.problem)


def test_an_inserted_or_reordered_entry_breaks_the_chain_there() -> None:
    log = chain(entries(10))
    forged = LoggedEntry(5, AuditEntry(T0, "op9", "t9", "login"), "f" * 64)
    inserted = log[:4] + [forged] + [replace(x, id=x.id + 1) for x in log[4:]]
    assert audit.verify(inserted, []).first_bad == 5
    swapped = log[:2] + [replace(log[3], id=3), replace(log[2], id=4)] + log[4:]
    assert audit.verify(swapped, []).first_bad == 3


def test_entries_cut_off_the_end_are_found_by_the_anchor() -> None:
    log = chain(entries(10))
    anchors = [Anchor(T0 + 3600, 10, log[9].hash or "")]
    v = audit.verify(log[:7], anchors)
    assert v.first_bad == 8 and "cut off" in str(v.problem)
    assert audit.verify(log[:7], []).intact  # without an anchor it cannot be seen


def test_a_log_rewritten_with_fresh_hashes_differs_from_its_anchor() -> None:
    log = chain(entries(10))
    anchors = [Anchor(T0, 8, log[7].hash or "")]
    rewritten = chain([replace(e, operator_id="op0") if i == 2 else e
                       for i, e in enumerate(entries(10))])
    assert audit.verify(rewritten, []).intact  # the chain alone is fooled ...
    v = audit.verify(rewritten, anchors)       # ... the anchor is not
    assert v.first_bad == 8 and "differs from the anchor" in str(v.problem)


@given(st.data())
def test_any_single_change_to_any_item_is_detected(data: st.DataObject) -> None:
    log = chain(entries(12))
    i = data.draw(st.integers(0, 11))
    field = data.draw(st.sampled_from(["at", "operator_id", "terminal_id", "action",
                                       "request_id", "number_shown", "result", "count"]))
    old = getattr(log[i].entry, field)
    new = (old + 0.001 if field == "at" else not old if field == "number_shown"
           else 7 if field == "count" else f"{old}x")
    log[i] = replace(log[i], entry=replace(log[i].entry, **{field: new}))
    assert audit.verify(log, []).first_bad == i + 1


def test_the_review_counts_per_operator() -> None:
    hours = audit.WorkingHours.parse("08:30-17:15", "mon-fri", "Asia/Tokyo")
    saturday = dt.datetime(2026, 11, 7, 10, 0, tzinfo=TOKYO).timestamp()
    late = dt.datetime(2026, 11, 2, 22, 0, tzinfo=TOKYO).timestamp()
    log = [
        AuditEntry(T0, "op1", "t1", "query.four_items"),
        AuditEntry(T0, "op1", "t1", "query.answered", count=3),
        AuditEntry(T0, "op1", "t2", "inbox.read", "7", number_shown=True),
        AuditEntry(late, "op1", "t1", "query.resident_code"),
        AuditEntry(T0, "op1", "t1", "query.refused", result="query_too_broad"),
        AuditEntry(saturday, "op2", "t1", "send_batch.start", "S0000000001"),
        AuditEntry(T0, "op2", "t1", "send_batch.read", result="not_permitted"),
    ]
    rows = {r.operator_id: r.row() for r in audit.review(log, hours)}
    assert rows == {
        "op1": ("op1", 5, 2, 1, 0, 1, 1, "t1 t2"),
        "op2": ("op2", 2, 0, 0, 1, 1, 1, "t1"),
    }
    assert audit.month_bounds("2026-11", TOKYO) == (
        dt.datetime(2026, 11, 1, tzinfo=TOKYO).timestamp(),
        dt.datetime(2026, 12, 1, tzinfo=TOKYO).timestamp())
    with pytest.raises(ValueError):
        audit.month_bounds("2026-13", TOKYO)


def test_appenders_racing_from_their_own_connections_keep_one_chain(store_url: str) -> None:
    """Two hubs' writers and an administrator's ``jukihub users …`` append from
    different processes, each in a ``Store.transaction``.  The chain's head is read
    inside it, and it has the store to itself from its start (the store's write lock:
    SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock): eight appenders, each with
    its own engine, released together, leave one unbroken chain, none refused."""
    import threading

    from hub.store import Store
    from hub.store.engine import make_engine, migrate

    migrate(store_url)
    store = Store(make_engine(store_url))
    appenders = [Store(make_engine(store_url)) for _ in range(8)]
    barrier, errors = threading.Barrier(8), []

    def append(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            with appenders[i].transaction("test") as db:
                appenders[i].audit.record(db, entries(3)[:1] * 2)
        except Exception as exc:  # the test's finding, not a crash
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        with store.reading() as db:
            log = list(store.audit.walk(db))
        assert errors == []
        assert [e.id for e in log] == list(range(1, 17))
        assert audit.verify(log, []).intact
    finally:
        store.dispose()
        for a in appenders:
            a.dispose()
