"""``staff_accounts``: one account per person (the assessment's 個人ごとにユーザーID).

The password is kept only as its argon2id hash (``hub.domain.staff``).  The hub's
store writer records logins; the ``jukihub users`` commands add, disable and change
accounts in transactions of their own (an administrator's process, like ``migrate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.store.base import Db, Sql, named

COLUMNS = ("user_id", "password_hash", "roles", "state", "expires_at", "failed_logins",
           "locked_until", "created_at", "password_changed_at", "last_login_at")


@dataclass(frozen=True, slots=True)
class StaffAccount:
    user_id: str
    password_hash: str
    roles: tuple[str, ...]
    state: str                  # active / disabled
    expires_at: float | None
    failed_logins: int          # in a row
    locked_until: float | None
    created_at: float
    password_changed_at: float
    last_login_at: float | None


def _account(row: Sequence[Any]) -> StaffAccount:
    values = list(row)
    values[2] = tuple(r for r in values[2].split(",") if r)
    return StaffAccount(*values)


class AccountStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._select = f"SELECT {', '.join(COLUMNS)} FROM staff_accounts"
        self._insert = sql.insert("staff_accounts", COLUMNS)
        # (SQL evaluates every right-hand side on the row as it was: the new count and
        # the lock are decided together.)
        self._failed = sql.text(
            "UPDATE staff_accounts SET "
            "failed_logins = CASE WHEN failed_logins + 1 >= ? THEN 0 "
            "ELSE failed_logins + 1 END, "
            "locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE NULL END "
            "WHERE user_id = ? AND (locked_until IS NULL OR locked_until <= ?) "
            "RETURNING failed_logins, locked_until")
        self._succeeded = sql.text(
            "UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL, "
            "last_login_at = ? WHERE user_id = ? AND state = 'active' "
            "AND (locked_until IS NULL OR locked_until <= ?) "
            "AND (expires_at IS NULL OR expires_at > ?)")

    @named("accounts.get")
    def get(self, db: Db, user_id: str) -> StaffAccount | None:
        row = db.row(self.sql.text(f"{self._select} WHERE user_id = ?"), (user_id,))
        return _account(row) if row is not None else None

    @named("accounts.list")
    def list(self, db: Db) -> list[StaffAccount]:
        return [_account(r) for r in db.rows(f"{self._select} ORDER BY user_id")]

    @named("accounts.add")
    def add(self, db: Db, a: StaffAccount) -> None:
        db.insert(self._insert, [(a.user_id, a.password_hash, ",".join(a.roles), a.state,
                                  a.expires_at, a.failed_logins, a.locked_until, a.created_at,
                                  a.password_changed_at, a.last_login_at)])

    @named("accounts.update")
    def update(self, db: Db, user_id: str, **items: Any) -> bool:
        """Set ``items`` (column=value) of one account; whether it exists."""
        if "roles" in items:
            items["roles"] = ",".join(items["roles"])
        sql = self.sql.update("staff_accounts", tuple(items), ("user_id",))
        db.run(sql, (*items.values(), user_id))
        return bool(db.cursor.rowcount)

    @named("accounts.login_failed")
    def login_failed(self, db: Db, user_id: str, now: float, lockout_after: int,
                     lockout_seconds: float) -> tuple[int, float | None] | None:
        """One more failed login in a row, counted and judged in one statement (so
        failures that come together each count): the ``lockout_after``-th locks the
        account until ``now + lockout_seconds`` and starts the count again.  The new
        (count, lock); ``None`` if the account is locked now (nothing changes)."""
        row = db.row(self._failed, (lockout_after, lockout_after, now + lockout_seconds,
                                    user_id, now))
        return (int(row[0]), row[1]) if row is not None else None

    @named("accounts.login_succeeded")
    def login_succeeded(self, db: Db, user_id: str, now: float) -> bool:
        """Record a login with the right password, in one statement that also decides
        whether the account may log in now (active, not expired, not locked); whether
        it might."""
        db.run(self._succeeded, (now, user_id, now, now))
        return bool(db.cursor.rowcount)


SESSION_COLUMNS = ("token_digest", "user_id", "terminal", "started_at", "last_used_at")


@dataclass(frozen=True, slots=True)
class StaffSession:
    token_digest: str   # SHA-256 of the token
    user_id: str
    terminal: str       # the terminal certificate it is bound to
    started_at: float
    last_used_at: float


class SessionStore:
    """``staff_sessions``: written by the store writer (a login, a touch, a logout, a
    prune), read by any hub for every staff call."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._insert = sql.insert("staff_sessions", SESSION_COLUMNS)
        self._get = sql.text(f"SELECT {', '.join(SESSION_COLUMNS)} FROM staff_sessions "
                             "WHERE token_digest = ?")

    @named("sessions.open")
    def open(self, db: Db, digest: str, user_id: str, terminal: str, now: float) -> None:
        db.insert(self._insert, [(digest, user_id, terminal[:255], now, now)])

    @named("sessions.get")
    def get(self, db: Db, digest: str) -> StaffSession | None:
        row = db.row(self._get, (digest,))
        return StaffSession(*row) if row is not None else None

    @named("sessions.touch")
    def touch(self, db: Db, digest: str, now: float) -> None:
        """Its last use, never moved back (two hubs may touch it out of order)."""
        db.run(self.sql.text("UPDATE staff_sessions SET last_used_at = ? WHERE "
                             "token_digest = ? AND last_used_at < ?"), (now, digest, now))

    @named("sessions.end")
    def end(self, db: Db, digest: str) -> None:
        db.run(self.sql.text("DELETE FROM staff_sessions WHERE token_digest = ?"), (digest,))

    @named("sessions.end_user")
    def end_user(self, db: Db, user_id: str) -> None:
        db.run(self.sql.text("DELETE FROM staff_sessions WHERE user_id = ?"), (user_id,))

    @named("sessions.prune")
    def prune(self, db: Db, idle_since: float, started_before: float) -> int:
        """Sessions unused since ``idle_since`` or older than ``started_before``."""
        db.run(self.sql.text("DELETE FROM staff_sessions WHERE last_used_at <= ? OR "
                             "started_at <= ?"), (idle_since, started_before))
        return int(db.cursor.rowcount or 0)
