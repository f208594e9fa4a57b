"""Backups of the store (「データバックアップを毎日実施」): an online, consistent copy, its
check, the copies kept, and bringing one back into a stopped hub.

- **SQLite**: the driver's backup API copies the database page by page while the hub
  writes (each step sees one consistent state; pages changed meanwhile are copied
  again), into ``jukihub-<UTC time>.db``.
- **PostgreSQL**: ``pg_dump --format=custom`` (one snapshot of the database), into
  ``jukihub-<UTC time>.pgdump``; ``pg_restore`` brings it back.

A copy is checked before it counts: opened (a SQLite copy directly; a PostgreSQL dump
restored into a scratch database made for the check and dropped after it), its tables
counted, and the 操作ログ's hash chain in it walked from the first entry to the last
(``hub.domain.audit.verify``).  Only checked copies are kept; beyond ``keep`` the oldest
are deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

PREFIX = "jukihub-"
SUFFIXES = (".db", ".pgdump")
COUNTED = ("residents", "identity_records", "outbox", "inbox", "audit_log", "staff_accounts")


@dataclass(frozen=True, slots=True)
class Copy:
    path: Path
    size: int
    counts: dict[str, int]
    audit_entries: int
    audit_intact: bool
    problem: str | None = None


class BackupError(Exception):
    """The copy could not be made, or is not sound."""


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BackupError("the store URL names no SQLite file")
    return Path(database)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _libpq(url: str) -> str:
    """The URL as libpq's tools take it (no SQLAlchemy driver suffix)."""
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def make_copy(url: str, folder: Path, now: float) -> Path:
    """An online, consistent copy of the store in ``folder``, under a ``.partial`` name
    until it is checked (``publish``); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    if is_sqlite(url):
        target = folder / f"{PREFIX}{stamp}.db.partial"
        with contextlib.closing(sqlite3.connect(_sqlite_path(url), timeout=30)) as src, \
                contextlib.closing(sqlite3.connect(target)) as dst:
            src.backup(dst, pages=4096)  # a step at a time: the hub's writes go on between
        return target
    target = folder / f"{PREFIX}{stamp}.pgdump.partial"
    run = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(target),
                          _libpq(url)], capture_output=True, text=True, timeout=3600)
    if run.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed ({run.returncode})")  # its text may name rows
    return target


def publish(partial: Path) -> Path:
    """A checked copy under its final name (``….partial`` dropped)."""
    final = partial.with_suffix("")
    os.replace(partial, final)
    return final


@contextlib.contextmanager
def opened(copy: Path, url: str) -> Iterator[str]:
    """A store URL that reads the copy: the SQLite file itself, or a scratch PostgreSQL
    database the dump is restored into (dropped afterwards)."""
    if ".db" in copy.suffixes:
        yield f"sqlite:///{copy}"
        return
    u = make_url(url)
    scratch = f"jukihub_check_{uuid.uuid4().hex[:12]}"
    admin = _libpq(url)
    _psql(admin, f'CREATE DATABASE "{scratch}"')
    try:
        scratch_url = u.set(database=scratch).render_as_string(hide_password=False)
        run = subprocess.run(["pg_restore", "--no-owner", "--dbname", _libpq(scratch_url),
                              str(copy)], capture_output=True, text=True, timeout=3600)
        if run.returncode != 0:
            raise BackupError(f"pg_restore failed ({run.returncode})")
        yield scratch_url
    finally:
        _psql(admin, f'DROP DATABASE IF EXISTS "{scratch}"')


def _psql(url: str, sql: str) -> None:
    run = subprocess.run(["psql", "--no-psqlrc", "--quiet", "--dbname", url, "-c", sql],
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise BackupError(f"psql failed ({run.returncode})")


def copies(folder: Path) -> list[Path]:
    """The copies in ``folder``, oldest first (their names sort by time)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(PREFIX) and p.suffix in SUFFIXES)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` copies; the ones deleted."""
    found = copies(folder)
    gone = found[:-keep] if keep > 0 else found
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def restore(copy: Path, url: str) -> None:
    """Bring ``copy`` back as the store (the hub stopped)."""
    if is_sqlite(url):
        target = _sqlite_path(url)
        partial = target.with_name(target.name + ".restoring")
        shutil.copyfile(copy, partial)
        for extra in ("-wal", "-shm"):  # the old file's journal is not the copy's
            Path(str(target) + extra).unlink(missing_ok=True)
        os.replace(partial, target)
        return
    run = subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner",
                          "--single-transaction", "--dbname", _libpq(url), str(copy)],
                         capture_output=True, text=True, timeout=3600)
    if run.returncode != 0:
        raise BackupError(f"pg_restore failed ({run.returncode})")
