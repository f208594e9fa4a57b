"""``store_heartbeat``: one row per hub, rewritten by every readiness check (through the
store writer, in a transaction of its own), so that readiness means a write reached the
store's file and committed — a ``SELECT 1`` would answer from a disk that is full or
read-only."""

from __future__ import annotations

from hub.store.base import Db, Sql, named


class HeartbeatStore:
    def __init__(self, sql: Sql) -> None:
        self._update = sql.text("UPDATE store_heartbeat SET beats = CASE WHEN beats < "
                                "2147483647 THEN beats + 1 ELSE 1 END, at = ? WHERE name = ?")
        self._insert = sql.text("INSERT INTO store_heartbeat (name, beats, at) VALUES (?, 1, ?)")

    @named("heartbeat.beat")
    def beat(self, db: Db, name: str, now: float) -> None:
        """Rewrite ``name``'s row (made on its first beat)."""
        db.run(self._update, (now, name[:64]))
        if not db.cursor.rowcount:
            db.run(self._insert, (name[:64], now))

    @named("heartbeat.newest")
    def newest(self, db: Db) -> float | None:
        """When any hub last beat into this store."""
        at = db.scalar("SELECT max(at) FROM store_heartbeat")
        return float(at) if at is not None else None
