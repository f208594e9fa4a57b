"""Whole rows a batch changes (``Db.update``): SQLite's ``executemany``; PostgreSQL's
``COPY`` into a temporary table of the session and one ``UPDATE … FROM`` it (from
``COPY_FROM`` rows; fewer go as ``executemany``).  Both change exactly the rows named,
and a transaction that fails after the temporary table was made (so the table is gone
with it) leaves the next one working (the ``store_url`` fixture runs each test on
both)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.store import Store
from hub.store.base import COPY_FROM, Sql
from hub.store.engine import make_engine, migrate

COLUMNS = ("name", "value", "set_at", "set_by")
OTHERS = [f"x{i}" for i in range(COPY_FROM)]  # enough rows for PostgreSQL's COPY


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    migrate(store_url)
    s = Store(make_engine(store_url))
    with s.transaction("seed") as db:
        for name in ("a", "b", "c", *OTHERS):
            s.flags.set(db, name, f"{name}0", 1.0, "seed")
    yield s
    s.dispose()


def flags(s: Store) -> dict[str, tuple[Any, ...]]:
    with s.reading() as db:
        return {r[0]: tuple(r) for r in db.rows(
            "SELECT name, value, set_at, set_by FROM hub_flags ORDER BY name")
            if r[0] not in OTHERS}


def touch_others(n: float) -> list[tuple[Any, ...]]:
    """Rows that rewrite the other flags as they are (so a batch is COPY_FROM long)."""
    return [(x, f"{x}0", 1.0, "seed", x) for x in OTHERS[: int(n)]]


def test_the_rows_named_change_and_no_other(store: Store) -> None:
    update = Sql(store.dialect).update_rows("hub_flags", COLUMNS, ("name",))
    with store.transaction("test") as db:
        # "c" is renamed "d": the row is found by its stored key.
        db.update(update, [("a", "a1", 2.0, "op1", "a"), ("d", "c1", 3.0, "op2", "c"),
                           *touch_others(COPY_FROM)])
    assert flags(store) == {"a": ("a", "a1", 2.0, "op1"), "b": ("b", "b0", 1.0, "seed"),
                            "d": ("d", "c1", 3.0, "op2")}
    with store.transaction("test") as db:  # the session's table again, emptied at commit
        db.update(update, [("b", "b1", 4.0, "op3", "b"), *touch_others(COPY_FROM)])
    assert flags(store)["b"] == ("b", "b1", 4.0, "op3") and len(flags(store)) == 3
    with store.transaction("test") as db:  # a single row: executemany
        db.update(update, [("b", "b2", 5.0, "op5", "b")])
    assert flags(store)["b"] == ("b", "b2", 5.0, "op5")


def test_a_failed_transaction_leaves_the_next_working(store: Store) -> None:
    update = Sql(store.dialect).update_rows("hub_flags", COLUMNS, ("name",))
    with pytest.raises(RuntimeError), store.transaction("test") as db:
        # (makes the table, then fails)
        db.update(update, [("a", "lost", 9.0, "x", "a"), *touch_others(COPY_FROM)])
        raise RuntimeError("the batch failed")
    assert flags(store)["a"] == ("a", "a0", 1.0, "seed")
    with store.transaction("test") as db:
        db.update(update, [("a", "a2", 5.0, "op4", "a"), *touch_others(COPY_FROM)])
    assert flags(store)["a"] == ("a", "a2", 5.0, "op4")
