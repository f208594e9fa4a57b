"""The engine and the schema: ``make_engine(url)`` for SQLite or PostgreSQL, and
``migrate(url)``, which brings any database to the newest Alembic revision.

SQLite runs in WAL mode with ``synchronous=FULL`` so a committed change survives a
crash of the process or the machine.  Its automatic checkpoint is off: it would run
inside whichever commit crossed the threshold (a 4 MB copy and an fsync in the middle of
someone's answer); ``Store.checkpoint`` runs one on a timer instead, beside the writer.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).with_name("migrations")
# How long PostgreSQL lets a hub's session sit inside a transaction between statements
# before it ends the session (rolling back, releasing the write lock).
PG_IDLE_IN_TRANSACTION_MS = 4000

# Dates and times written to SQLite by the store's driver-level SQL, as the text
# SQLAlchemy's Date and DateTime types store and read (explicit: Python 3.12 deprecates
# the sqlite3 module's default adapters).
sqlite3.register_adapter(dt.date, dt.date.isoformat)
sqlite3.register_adapter(dt.datetime, lambda v: v.isoformat(" "))


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the head revision (creating it if new)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


def make_engine(url: str, busy_timeout: float = 30.0) -> Engine:
    """Create the engine; for SQLite, WAL, full sync, foreign keys and a busy timeout
    (how long a write waits for another process's lock before it fails)."""
    # hide_parameters: an error's text must never carry a resident's values into a log.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout,
                                                  "check_same_thread": False},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages per connection
            cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()
            # Transactions are begun by SQLAlchemy (below), not by the driver, which would
            # begin one only at its first write — after the reads that decide it.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A write transaction takes SQLite's write lock when it begins: every read in
            # it sees the newest commit of any process (an administrator's ``jukihub
            # users …``), and nothing commits under it until it ends.  Reads outside a
            # transaction (``Store.reading``) never wait for it (WAL).
            # (The driver's own connection: SQLAlchemy's statement path would cost more
            # than the statement, once per transaction of the store writer.)
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE")

        return engine
    # PostgreSQL, shared by every hub of a city: a hub cut off from the server must not
    # hold the store's write lock (``Store.transaction``) for longer than a few seconds —
    # the server ends a session left idle inside a transaction, which rolls it back —
    # and must itself notice a connection that went silent rather than wait on it.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args={
        "options": f"-c idle_in_transaction_session_timeout={PG_IDLE_IN_TRANSACTION_MS}",
        "connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5,
        "keepalives_interval": 2, "keepalives_count": 3, "tcp_user_timeout": 10_000})
