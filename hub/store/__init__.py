"""The store: tables, Alembic migrations, and the store classes whose methods are the
named transactions (``outbox.append``, ``inbox.record``, …).  Every SQL statement of
the hub lives in this package.

``Store`` holds one store class per table group — ``register``, ``outbox``,
``dead_letters``, ``flags``, ``link_state``, ``leases``, ``link_queries``, ``inbox``,
``audit``, ``accounts``, ``approvals``, ``feeds``, ``jobs``, ``heartbeat``, ``loads``,
``sessions`` —
over one engine, and the database transactions they run in:

- ``transaction(name)``: a read-write transaction; only the store writer actor opens
  one (it is the only writer of its hub).  Hubs sharing one database take turns: every
  such transaction first takes the store's write lock — SQLite's own (``BEGIN
  IMMEDIATE``), PostgreSQL's transaction-scoped advisory lock ``WRITE_LOCK`` — so the
  store writers of all hubs commit one after another, each reading what the previous
  one committed (the numbers the register hands out among it).  ``durable=False``
  lets the commit return before the disk has it (SQLite ``synchronous=NORMAL``,
  PostgreSQL ``synchronous_commit=off``):
  for writes a power failure may take back without harm — acknowledgements, which the
  peer states again in its next hello, and purges, which run again.  Order is kept: a
  later durable commit makes everything before it durable too.
- ``reading()``: a connection for reads, from any thread.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import OperationalError as SAOperationalError

from hub.config.departments import FEED_FIELDS
from hub.store.accounts import AccountStore, SessionStore, StaffAccount, StaffSession
from hub.store.approvals import ApprovalStore
from hub.store.audit import AuditEntry, AuditStore, LoggedEntry
from hub.store.base import Db, Sql, forget_session
from hub.store.dead_letters import DeadLetter, DeadLetterStore, Flag, FlagStore
from hub.store.feeds import FeedStore
from hub.store.heartbeat import HeartbeatStore
from hub.store.inbox import InboxItem, InboxStore
from hub.store.jobs import JobStore
from hub.store.leases import LeaseStore
from hub.store.link_queries import LinkQueryStore
from hub.store.link_state import LinkState, LinkStateStore
from hub.store.loads import LoadRefusal, LoadState, LoadStore
from hub.store.outbox import OutboxRow, OutboxStore
from hub.store.register import RegisterStore, RegisterWrites
from hub.support import metrics

# The connection a named transaction runs in, for the layers above (which never use
# SQLAlchemy or a driver themselves).
Conn = Db
P = ParamSpec("P")
# PostgreSQL's advisory lock every writing transaction takes first (any constant; the
# ASCII of "jukihub" in one bigint).  Released by the commit or rollback — and by the
# server ending the session of a hub cut off mid-transaction (``make_engine``).
WRITE_LOCK = 0x6A756B69687562
_PG_BEGIN_DURABLE = f"SELECT pg_advisory_xact_lock({WRITE_LOCK})"
_PG_BEGIN_RELAXED = (f"SELECT pg_advisory_xact_lock({WRITE_LOCK}), "
                     "set_config('synchronous_commit', 'off', true)")
R = TypeVar("R")

__all__ = ["AuditEntry", "Conn", "DeadLetter", "Flag", "InboxItem", "LinkState", "LoadRefusal",
           "LoadState", "LoggedEntry", "OutboxRow",
           "RegisterWrites", "StaffAccount", "StaffSession", "Store"]


class Store:
    """Every store class over one engine; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._writer: Connection | None = None  # the single writer's own connection
        sql = Sql(self.dialect)
        self.register = RegisterStore(sql)
        self.outbox = OutboxStore(sql)
        self.dead_letters = DeadLetterStore(sql)
        self.flags = FlagStore(sql)
        self.link_state = LinkStateStore(sql)
        self.leases = LeaseStore(sql)
        self.link_queries = LinkQueryStore(sql)
        self.inbox = InboxStore(sql)
        self.audit = AuditStore(sql)
        self.accounts = AccountStore(sql)
        self.sessions = SessionStore(sql)
        self.approvals = ApprovalStore(sql)
        self.feeds = FeedStore(sql, FEED_FIELDS)
        self.jobs = JobStore(sql, self.register)
        self.heartbeat = HeartbeatStore(sql)
        self.loads = LoadStore(sql)

    @contextmanager
    def transaction(self, name: str, durable: bool = True) -> Iterator[Db]:
        """A read-write database transaction, timed as ``name``; commits on leaving.
        It runs on the writer's own connection, kept open (one writer, one thread at a
        time: the store writer actor, or whoever starts the hub before it runs)."""
        started = time.perf_counter()
        if self._writer is None or self._writer.invalidated or self._writer.closed:
            self._writer = self.engine.connect()
        conn = self._writer
        db = Db(conn)
        relaxed = not durable and self.dialect == "sqlite"
        if relaxed:  # outside the transaction: SQLite applies it to the next commit
            db.run("PRAGMA synchronous=NORMAL")
        try:
            with conn.begin():
                if self.dialect == "postgresql":  # one round trip: the lock, the commit
                    db.run(_PG_BEGIN_DURABLE if durable else _PG_BEGIN_RELAXED)
                yield db
        except Exception:
            if self.dialect == "postgresql" and not conn.invalidated:
                forget_session(conn.connection.driver_connection)
            if conn.invalidated:
                self._reset_writer()  # a broken connection is not reused
            raise
        finally:
            if relaxed and self._writer is not None:
                db.run("PRAGMA synchronous=FULL")
        self._commit_seconds(name).observe(time.perf_counter() - started)

    def _reset_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            except Exception:  # closing a broken connection may fail too
                pass

    @contextmanager
    def reading(self) -> Iterator[Db]:
        """A connection for reads (any thread; the store writer is the only writer)."""
        with self.engine.connect() as conn:
            yield Db(conn)

    def backup_counts(self, db: Db, tables: tuple[str, ...]) -> dict[str, int]:
        """Rows in each of ``tables`` (names from the code, never from input)."""
        return {t: int(db.scalar(f"SELECT count(*) FROM {t}") or 0) for t in tables}

    def checkpoint(self) -> None:
        """Copy what the WAL holds into the database file (SQLite; a passive checkpoint:
        it never waits for the writer nor holds it up).  Run on a timer, off the
        writer's thread."""
        if self.dialect == "sqlite":
            with self.reading() as db:
                db.run("PRAGMA wal_checkpoint(PASSIVE)")

    def unavailable(self, error: BaseException) -> bool:
        """Whether ``error`` is the store's, not the write's: the database cannot be
        reached, written or committed to now (a full or read-only disk, a lock held too
        long, a lost connection) — the same write may succeed later.  Anything else (a
        value the column cannot hold, a constraint) fails that write every time."""
        if isinstance(error, sqlite3.OperationalError | SAOperationalError |
                      SAInterfaceError | OSError):
            return True
        if self.dialect == "postgresql":
            import psycopg  # installed with the postgresql extra, and only then used

            return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
        return False

    def free_bytes(self) -> int | None:
        """Free space on the file system of the SQLite file (``None`` for a database
        server: its disk is not this machine's to see)."""
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database:
            return None
        stat = os.statvfs(Path(database).resolve().parent)
        return stat.f_bavail * stat.f_frsize

    def read(self, method: Callable[Concatenate[Db, P], R], *args: P.args,
             **kwargs: P.kwargs) -> R:
        """Run one named read (``store.read(store.inbox.get, 7)``) on its own connection."""
        with self.reading() as conn:
            return method(conn, *args, **kwargs)

    @staticmethod
    @functools.cache
    def _commit_seconds(name: str) -> Any:
        return metrics.store_commit_seconds.labels(name)

    def dispose(self) -> None:
        self._reset_writer()
        self.engine.dispose()
