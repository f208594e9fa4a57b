"""The per-link outboxes and their dead letters.

``outbox`` rows are the messages of each link, numbered by the link's transmission
sequence when the change that caused them commits; ``state`` is ``pending`` until the
peer settles them, ``held`` (withdrawn behind a dead letter) or ``dead``.
``dead_letters`` records what a peer refused for good, and whose messages are
therefore held back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.store.base import Db, Sql, named

OUTBOX_COLUMNS = ("link", "seq", "update_seq", "resident_key", "kind", "payload",
                  "enqueued_at", "state")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A message as a link actor reads it back from its outbox."""

    seq: int
    update_seq: int
    resident_key: str
    payload: bytes
    enqueued_at: float
    state: str


class OutboxStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._insert = sql.insert("outbox", OUTBOX_COLUMNS)
        self._sizes = sql.text("SELECT seq, length(payload) FROM outbox WHERE link = ? AND "
                               "seq > ? ORDER BY seq LIMIT ?")
        self._rows = sql.text("SELECT seq, update_seq, resident_key, payload, enqueued_at, "
                              "state FROM outbox WHERE link = ? AND seq > ? AND seq <= ? "
                              "ORDER BY seq")
        self._dead_row = sql.text("SELECT update_seq, resident_key FROM outbox WHERE "
                                  "link = ? AND seq = ?")
        self._dead = sql.text("INSERT INTO dead_letters (link, seq, update_seq, resident_key, "
                              "code, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        self._mark_dead = sql.text("UPDATE outbox SET state = 'dead' WHERE link = ? AND seq = ?")
        self._hold = sql.text("UPDATE outbox SET state = 'held' WHERE link = ? AND seq = ? AND "
                              "state = 'pending'")
        self._held = sql.text("SELECT DISTINCT resident_key FROM dead_letters WHERE link = ?")
        self._purgeable = sql.text("SELECT seq FROM outbox WHERE link = ? AND seq <= ? AND "
                                   "state = 'pending' AND enqueued_at < ? ORDER BY seq LIMIT ?")
        self._acked = sql.text("SELECT acked_seq FROM link_state WHERE link = ?")
        self._undelivered = sql.text("SELECT count(*) FROM outbox WHERE link = ? AND "
                                     "resident_key = ? AND (seq > ? OR state != 'pending')")

    @named("outbox.append")
    def append(self, db: Db, rows: Sequence[tuple[object, ...]]) -> None:
        """New messages, each a tuple in ``OUTBOX_COLUMNS`` order."""
        db.insert(self._insert, rows)

    @named("outbox.sizes_after")
    def sizes_after(self, db: Db, link: str, after: int, limit: int) -> list[tuple[int, int]]:
        """(seq, payload size) of the next ``limit`` messages after ``after``."""
        return [(int(s), int(n)) for s, n in db.rows(self._sizes, (link, after, limit))]

    @named("outbox.read")
    def read(self, db: Db, link: str, after: int, upto: int) -> list[OutboxRow]:
        """The messages ``after < seq <= upto`` of ``link``, in order."""
        return [OutboxRow(r[0], r[1], r[2], bytes(r[3]), r[4], r[5])
                for r in db.rows(self._rows, (link, after, upto))]

    @named("outbox.dead_letter")
    def dead_letter(self, db: Db, link: str, seq: int, code: str, reason: str,
                    now: float) -> None:
        """Record a message the peer refused for good, and mark it dead."""
        row = db.row(self._dead_row, (link, seq))
        if row is None:
            return
        db.run(self._dead, (link, seq, row[0], row[1], code[:40], reason[:200], now))
        db.run(self._mark_dead, (link, seq))

    @named("outbox.hold")
    def hold(self, db: Db, link: str, seqs: Sequence[int]) -> None:
        """Mark pending messages held: withdrawn behind a dead letter of their resident."""
        db.many(self._hold, [(link, s) for s in seqs])

    @named("outbox.held_residents")
    def held_residents(self, db: Db, link: str) -> set[str]:
        """The routing keys held back behind a dead letter on ``link``."""
        return {r[0] for r in db.rows(self._held, (link,))}

    @named("outbox.purge_delivered")
    def purge_delivered(self, db: Db, before: float, limit: int) -> int:
        """Delete up to ``limit`` messages their peer acknowledged, queued before
        ``before``; dead and held ones stay.  How many went."""
        purged = 0
        for link, upto in db.rows("SELECT link, acked_seq FROM link_state"):
            seqs = [r[0] for r in db.rows(self._purgeable, (link, upto, before, limit - purged))]
            if seqs:
                db.run(self.sql.text(f"DELETE FROM outbox WHERE link = ? AND seq IN "
                                     f"({self.sql.marks(len(seqs))})"), (link, *seqs))
                purged += len(seqs)
            if purged >= limit:
                break
        return purged

    @named("outbox.undelivered")
    def undelivered(self, db: Db, link: str, key: str) -> int:
        """Messages of ``link`` with routing key ``key`` the peer has not settled (or
        that were held or dead): delivered ones may have been purged, so progress is
        counted from these."""
        acked = db.scalar(self._acked, (link,)) or 0
        return int(db.scalar(self._undelivered, (link, key, acked)) or 0)
