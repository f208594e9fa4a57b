"""What every store class shares: named transactions, and SQL written for the driver.

A store class holds the SQL of one group of tables; each of its public methods is a
*named transaction* (``outbox.append``, ``inbox.record``, …) whose time labels
``jukihub_store_transaction_seconds{txn}``.  Methods take the connection of the
database transaction they run in: the store writer calls several inside its group
commit (``Store.transaction``), readers inside ``Store.reading``.

Statements go straight to the driver's cursor (``Db``), in the driver's parameter style
(``Sql``), and the rows of every change as one insert per table and batch — SQLite's
``executemany``, PostgreSQL's ``COPY`` (one round trip): no per-statement or
per-parameter processing on the way.  Rows a batch changes go the same way
(``Update``): SQLite's ``executemany`` of the ``UPDATE``; on PostgreSQL a ``COPY`` into
a temporary table of the session, then one ``UPDATE … FROM`` it (a few rows go by
``executemany``, one pipelined round trip: ``COPY_FROM``).  A change is about ten
statements, and SQLAlchemy's own execution path cost more than they did.  SQLAlchemy
still owns the engine, the pool and the transactions, and the tables and migrations are
its.  SQLite receives dates and times as ISO text (adapters registered by
``hub.store.engine``) in the format SQLAlchemy's own types read back.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection

from hub.support import metrics

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


def named(name: str) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Make a store method a named transaction: its time is observed as ``name``."""
    histogram = metrics.store_seconds.labels(name)

    def wrap(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        @functools.wraps(method)
        def timed(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return timed

    return wrap


# Rows from which PostgreSQL's COPY pays: below it, ``executemany`` (which psycopg sends
# as one pipeline: one round trip, where a COPY takes two) — a single change's rows.
COPY_FROM = 8


@dataclass(frozen=True, slots=True)
class Insert:
    """Rows into one table: ``sql`` for ``executemany`` (SQLite), ``copy`` (PostgreSQL's
    ``COPY … FROM STDIN``: one round trip, each row formatted by psycopg in C)."""

    sql: str
    copy: str | None


@dataclass(frozen=True, slots=True)
class Update:
    """Whole rows of one table, each found by its ``key`` columns' stored values (given
    after the new values; each key at most once in a batch): ``sql`` for
    ``executemany`` (SQLite); on PostgreSQL the temporary table's ``create`` (once per
    session: it keeps no rows past a commit), its ``copy`` and the ``UPDATE … FROM`` it
    (``apply``)."""

    sql: str
    create: str | None = None
    copy: str | None = None
    apply: str | None = None


class Db:
    """A database transaction's connection as the store classes use it: the driver's
    own cursor.  (``conn`` is the SQLAlchemy connection it belongs to.)"""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        driver: Any = conn.connection.driver_connection  # sqlite3's or psycopg's connection
        self.cursor: Any = driver.cursor()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self.cursor.execute(sql, params)
        return list(self.cursor.fetchall())

    def row(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.cursor.execute(sql, params)
        return self.cursor.fetchone()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.row(sql, params)
        return row[0] if row is not None else None

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(sql, params)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(sql, rows)

    def update(self, rows_of: Update, rows: Sequence[Sequence[Any]]) -> None:
        """Changed rows: each row's new values in the columns' order, then its key's
        stored values."""
        if not rows:
            return
        if rows_of.copy is None or len(rows) < COPY_FROM:
            self.cursor.executemany(rows_of.sql, rows)
            return
        assert rows_of.create is not None and rows_of.apply is not None
        made = _PREPARED.setdefault(self.cursor.connection, set())
        if rows_of.create not in made:
            self.cursor.execute(rows_of.create)
            made.add(rows_of.create)
        with self.cursor.copy(rows_of.copy) as copy:
            for row in rows:
                copy.write_row(row)
        self.cursor.execute(rows_of.apply)

    def insert(self, into: Insert, rows: Sequence[Sequence[Any]]) -> None:
        """New rows, in the columns' order."""
        if not rows:
            return
        if into.copy is None or len(rows) < COPY_FROM:
            self.cursor.executemany(into.sql, rows)
            return
        with self.cursor.copy(into.copy) as copy:
            for row in rows:
                copy.write_row(row)


# PostgreSQL sessions (driver connections) whose temporary tables exist already.  A
# table created in a transaction that then fails is gone with it: ``forget_session``.
_PREPARED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def forget_session(driver_connection: Any) -> None:
    """The session's transaction failed: what it created may be gone."""
    _PREPARED.pop(driver_connection, None)


class Sql:
    """SQL text in the driver's parameter style."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.mark = "?" if dialect == "sqlite" else "%s"

    def insert(self, table: str, columns: Sequence[str]) -> Insert:
        marks = ", ".join(self.mark for _ in columns)
        names = ", ".join(columns)
        return Insert(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                      f"COPY {table} ({names}) FROM STDIN" if self.dialect == "postgresql"
                      else None)

    def update(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        sets = ", ".join(f"{c} = {self.mark}" for c in columns)
        where = " AND ".join(f"{k} = {self.mark}" for k in key)
        return f"UPDATE {table} SET {sets} WHERE {where}"

    def update_rows(self, table: str, columns: Sequence[str], key: Sequence[str]) -> Update:
        """Whole rows of ``table`` changed in a batch (see ``Update``); ``columns`` are
        all of the table's, in its order."""
        sql = self.update(table, columns, key)
        if self.dialect != "postgresql":
            return Update(sql)
        temp = f"{table}_changed"
        stored = [f"stored_{k}" for k in key]
        keys = ", ".join(f"{k} AS stored_{k}" for k in key)
        sets = ", ".join(f"{c} = t.{c}" for c in columns)
        where = " AND ".join(f"{table}.{k} = t.stored_{k}" for k in key)
        return Update(
            sql,
            create=(f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS "
                    f"SELECT {', '.join(columns)}, {keys} FROM {table} WITH NO DATA"),
            copy=f"COPY {temp} ({', '.join([*columns, *stored])}) FROM STDIN",
            apply=f"UPDATE {table} SET {sets} FROM {temp} AS t WHERE {where}")

    def marks(self, n: int) -> str:
        """``?, ?, ?`` for an ``IN (…)`` of ``n`` values."""
        return ", ".join(self.mark for _ in range(n))

    def text(self, sql: str) -> str:
        """``sql`` written with ``?`` marks, in this driver's style."""
        return sql if self.mark == "?" else sql.replace("?", self.mark)


def chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    """``values`` in parts of at most ``size`` (bound parameters per ``IN (…)``)."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def to_date(value: Any) -> dt.date | None:
    """A date column as read by the driver (SQLite: ISO text; PostgreSQL: a date)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)
