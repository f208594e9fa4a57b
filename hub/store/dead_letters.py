"""``dead_letters``: the messages a peer refused for good (or too often), whose
resident's later messages are held back behind them until staff mend them — replay
(send it again, and what was held behind it) or discard (with a reason; what was held
behind it is sent).  Rows carry keys, codes and the correlation id, never a resident's
data; the message itself stays in ``outbox``.  Also ``hub_flags``: the switches staff
set (maintenance mode)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.store.base import Db, Sql, named

_COLUMNS = ("id, link, seq, update_seq, resident_key, code, reason, created_at, "
            "correlation_id, state, resolved_at, resolved_by, resolution, resent_from, "
            "resent_count")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    link: str
    seq: int
    update_seq: int
    resident_key: str     # the routing key: a 住民票コード, or a job's id
    code: str
    reason: str
    created_at: float
    correlation_id: str
    state: str            # open / replayed / discarded
    resolved_at: float | None
    resolved_by: str | None
    resolution: str | None  # why it was discarded
    resent_from: int | None  # the first new sequence it (and what it held) went as
    resent_count: int | None


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    value: str
    set_at: float
    set_by: str


class DeadLetterStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._row = sql.text("SELECT update_seq, resident_key, correlation_id FROM outbox "
                             "WHERE link = ? AND seq = ?")
        self._insert = sql.text("INSERT INTO dead_letters (link, seq, update_seq, "
                                "resident_key, code, reason, created_at, correlation_id, "
                                "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open')")
        self._mark_dead = sql.text("UPDATE outbox SET state = 'dead' WHERE link = ? AND seq = ?")
        self._held = sql.text("SELECT DISTINCT resident_key FROM dead_letters WHERE link = ? "
                              "AND state = 'open'")
        self._get = sql.text(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?")
        self._open_of_key = sql.text("SELECT count(*) FROM dead_letters WHERE link = ? AND "
                                     "resident_key = ? AND state = 'open' AND id != ?")
        self._resolve = sql.text("UPDATE dead_letters SET state = ?, resolved_at = ?, "
                                 "resolved_by = ?, resolution = ?, resent_from = ?, "
                                 "resent_count = ? WHERE id = ? AND state = 'open'")
        self._counts = sql.text("SELECT link, count(*) FROM dead_letters WHERE state = 'open' "
                                "GROUP BY link")

    @named("dead_letters.record")
    def record(self, db: Db, link: str, seq: int, code: str, reason: str, now: float) -> None:
        """A message the peer refused for good: recorded, and marked dead."""
        row = db.row(self._row, (link, seq))
        if row is None:
            return
        db.run(self._insert, (link, seq, row[0], row[1], code[:40], reason[:200], now, row[2]))
        db.run(self._mark_dead, (link, seq))

    @named("dead_letters.held_residents")
    def held_residents(self, db: Db, link: str) -> set[str]:
        """The routing keys held back behind an open dead letter on ``link``."""
        return {r[0] for r in db.rows(self._held, (link,))}

    @named("dead_letters.open_counts")
    def open_counts(self, db: Db) -> dict[str, int]:
        """Open dead letters per link."""
        return {link: int(n) for link, n in db.rows(self._counts)}

    @named("dead_letters.list")
    def list(self, db: Db, state: str | None, link: str | None, after: int,
             limit: int) -> list[DeadLetter]:
        """Dead letters in id order after ``after``, of ``state`` and ``link`` if given."""
        where: list[str] = ["id > ?"]
        params: list[object] = [after]
        for column, value in (("state", state), ("link", link)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = (f"SELECT {_COLUMNS} FROM dead_letters WHERE {' AND '.join(where)} "
               f"ORDER BY id LIMIT ?")
        return [_dead_letter(r) for r in db.rows(self.sql.text(sql), (*params, limit))]

    @named("dead_letters.get")
    def get(self, db: Db, dead_letter_id: int) -> DeadLetter | None:
        row = db.row(self._get, (dead_letter_id,))
        return _dead_letter(row) if row is not None else None

    @named("dead_letters.others_open")
    def others_open(self, db: Db, letter: DeadLetter) -> int:
        """Open dead letters of the same routing key on the same link, besides this one."""
        return int(db.scalar(self._open_of_key, (letter.link, letter.resident_key, letter.id))
                   or 0)

    @named("dead_letters.resolve")
    def resolve(self, db: Db, dead_letter_id: int, state: str, now: float, by: str,
                resolution: str | None, resent: Sequence[int]) -> bool:
        """Close an open dead letter; ``False`` if it was not open."""
        db.run(self._resolve, (state, now, by[:40], (resolution or None) and resolution[:200],
                               resent[0] if resent else None, len(resent), dead_letter_id))
        return bool(db.cursor.rowcount == 1)


def _dead_letter(r: Any) -> DeadLetter:
    return DeadLetter(int(r[0]), r[1], int(r[2]), int(r[3]), r[4], r[5], r[6], float(r[7]),
                      r[8] or "", r[9], r[10], r[11], r[12], r[13], r[14])


class FlagStore:
    """``hub_flags``: the switches staff set, who set them and when."""

    def __init__(self, sql: Sql) -> None:
        self._flag = sql.text("SELECT name, value, set_at, set_by FROM hub_flags WHERE name = ?")
        self._unflag = sql.text("DELETE FROM hub_flags WHERE name = ?")
        self._set_flag = sql.text("INSERT INTO hub_flags (name, value, set_at, set_by) "
                                  "VALUES (?, ?, ?, ?)")
        self._advance = sql.text("UPDATE hub_flags SET set_at = ? WHERE name = ? AND "
                                 "set_at <= ?")

    @named("hub_flags.get")
    def get(self, db: Db, name: str) -> Flag | None:
        row = db.row(self._flag, (name,))
        return Flag(row[0], row[1], float(row[2]), row[3]) if row is not None else None

    @named("hub_flags.advance")
    def advance(self, db: Db, name: str, every: float, now: float) -> bool:
        """Move the flag's time to ``now`` if it is at least ``every`` old: whether it
        moved (one statement decides, whoever else asks at the same moment)."""
        db.run(self._advance, (now, name, now - every))
        return bool(db.cursor.rowcount)

    @named("hub_flags.set")
    def set(self, db: Db, name: str, value: str | None, now: float, by: str) -> None:
        """Set (or with ``None`` clear) the flag ``name``."""
        db.run(self._unflag, (name,))
        if value is not None:
            db.run(self._set_flag, (name, value[:200], now, by[:40]))
