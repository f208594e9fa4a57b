"""What every store class shares: named transactions, and SQL written for the driver.

A store class holds the SQL of one group of tables; each of its public methods is a
*named transaction* (``outbox.append``, ``inbox.record``, …) whose time labels
``jukihub_store_transaction_seconds{txn}``.  Methods take the connection of the
database transaction they run in: the store writer calls several inside its group
commit (``Store.transaction``), readers inside ``Store.reading``.

Statements go straight to the driver's cursor (``Db``), in the driver's parameter style
(``Sql``), and the rows of every change as one insert per table and batch — SQLite's
``executemany``, PostgreSQL's ``COPY`` (one round trip): no per-statement or
per-parameter processing on the way.  A change is about ten statements, and
SQLAlchemy's own execution path cost more than they did.  SQLAlchemy still owns the
engine, the pool and the transactions, and the tables and migrations are its.  SQLite
receives dates and times as ISO text (adapters registered by ``hub.store.engine``) in
the format SQLAlchemy's own types read back.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection

from hub import metrics

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


@dataclass(frozen=True, slots=True)
class Insert:
    """Rows into one table: ``sql`` for ``executemany`` (SQLite), ``copy`` (PostgreSQL's
    ``COPY … FROM STDIN``: one round trip, each row formatted by psycopg in C)."""

    sql: str
    copy: str | None


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

    def insert(self, into: Insert, rows: Sequence[Sequence[Any]]) -> None:
        """New rows, in the columns' order."""
        if not rows:
            return
        if into.copy is None:
            self.cursor.executemany(into.sql, rows)
            return
        with self.cursor.copy(into.copy) as copy:
            for row in rows:
                copy.write_row(row)


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
