"""The store's lists as the console pages through them (on SQLite and PostgreSQL): the
inbox by link and by when received, after a cursor; the operation log after an id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.store import AuditEntry, Store
from hub.store.engine import make_engine, migrate


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    migrate(store_url)
    s = Store(make_engine(store_url))
    with s.transaction("seed") as db:
        for n in range(1, 31):  # three links, received a minute apart
            link = ("national", "intermediate", "moj")[n % 3]
            s.inbox.record(db, link, n, f"{link}.x", b"<x/>", None, 1000.0 + 60 * n)
        s.audit.record(db, [AuditEntry(2000.0 + n, f"op{n % 2}", "t1", "inbox.list")
                            for n in range(10)])
    yield s
    s.dispose()


def test_the_inbox_by_link_and_time_received_a_page_at_a_time(store: Store) -> None:
    with store.reading() as db:
        moj = store.inbox.list(db, 0, 100, link="moj")
        window = store.inbox.list(db, 0, 100, since=1000.0 + 60 * 10, until=1000.0 + 60 * 20)
        first = store.inbox.list(db, 0, 4, link="national")
        second = store.inbox.list(db, first[-1].id, 4, link="national")
    assert {i.link for i in moj} == {"moj"} and len(moj) == 10
    assert [i.peer_seq for i in window] == list(range(10, 20))  # [since, until)
    assert [i.peer_seq for i in first + second] == [3, 6, 9, 12, 15, 18, 21, 24]


def test_the_operation_log_after_an_id(store: Store) -> None:
    with store.reading() as db:
        everything = store.audit.search(db, limit=100)
        page = store.audit.search(db, operator="op1", after=everything[2].id, limit=2)
    assert [e.entry.operator_id for e in page] == ["op1", "op1"]
    assert [e.id for e in page] == [everything[3].id, everything[5].id]
