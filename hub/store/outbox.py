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

from sqlalchemy import Connection

from hub.store.base import Sql, executemany, named

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

    @named("outbox.append")
    def append(self, conn: Connection, rows: Sequence[tuple[object, ...]]) -> None:
        """New messages, each a tuple in ``OUTBOX_COLUMNS`` order."""
        executemany(conn, self._insert, rows)

    @named("outbox.sizes_after")
    def sizes_after(self, conn: Connection, link: str, after: int,
                    limit: int) -> list[tuple[int, int]]:
        """(seq, payload size) of the next ``limit`` messages after ``after``."""
        return [(int(s), int(n)) for s, n in conn.exec_driver_sql(self._sizes,
                                                                   (link, after, limit))]

    @named("outbox.read")
    def read(self, conn: Connection, link: str, after: int, upto: int) -> list[OutboxRow]:
        """The messages ``after < seq <= upto`` of ``link``, in order."""
        return [OutboxRow(r[0], r[1], r[2], bytes(r[3]), r[4], r[5])
                for r in conn.exec_driver_sql(self._rows, (link, after, upto))]

    @named("outbox.dead_letter")
    def dead_letter(self, conn: Connection, link: str, seq: int, code: str, reason: str,
                    now: float) -> None:
        """Record a message the peer refused for good, and mark it dead."""
        row = conn.exec_driver_sql(self.sql.text(
            "SELECT update_seq, resident_key FROM outbox WHERE link = ? AND seq = ?"),
            (link, seq)).first()
        if row is None:
            return
        conn.exec_driver_sql(self.sql.text(
            "INSERT INTO dead_letters (link, seq, update_seq, resident_key, code, reason, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
            (link, seq, row[0], row[1], code[:40], reason[:200], now))
        conn.exec_driver_sql(self.sql.text(
            "UPDATE outbox SET state = 'dead' WHERE link = ? AND seq = ?"), (link, seq))

    @named("outbox.hold")
    def hold(self, conn: Connection, link: str, seqs: Sequence[int]) -> None:
        """Mark pending messages held: withdrawn behind a dead letter of their resident."""
        executemany(conn, self.sql.text(
            "UPDATE outbox SET state = 'held' WHERE link = ? AND seq = ? AND state = 'pending'"),
            [(link, s) for s in seqs])

    @named("outbox.held_residents")
    def held_residents(self, conn: Connection, link: str) -> set[str]:
        """The routing keys held back behind a dead letter on ``link``."""
        return {r[0] for r in conn.exec_driver_sql(self.sql.text(
            "SELECT DISTINCT resident_key FROM dead_letters WHERE link = ?"), (link,))}

    @named("outbox.purge_delivered")
    def purge_delivered(self, conn: Connection, before: float, limit: int) -> int:
        """Delete up to ``limit`` messages their peer acknowledged, queued before
        ``before``; dead and held ones stay.  How many went."""
        purged = 0
        acked = conn.exec_driver_sql("SELECT link, acked_seq FROM link_state").all()
        for link, upto in acked:
            seqs = [r[0] for r in conn.exec_driver_sql(self.sql.text(
                "SELECT seq FROM outbox WHERE link = ? AND seq <= ? AND state = 'pending' "
                "AND enqueued_at < ? ORDER BY seq LIMIT ?"),
                (link, upto, before, limit - purged))]
            if seqs:
                conn.exec_driver_sql(self.sql.text(
                    f"DELETE FROM outbox WHERE link = ? AND seq IN ({self.sql.marks(len(seqs))})"),
                    (link, *seqs))
                purged += len(seqs)
            if purged >= limit:
                break
        return purged

    @named("outbox.undelivered")
    def undelivered(self, conn: Connection, link: str, key: str) -> int:
        """Messages of ``link`` with routing key ``key`` the peer has not settled (or
        that were held or dead): delivered ones may have been purged, so progress is
        counted from these."""
        acked = conn.exec_driver_sql(self.sql.text(
            "SELECT acked_seq FROM link_state WHERE link = ?"), (link,)).scalar() or 0
        return int(conn.exec_driver_sql(self.sql.text(
            "SELECT count(*) FROM outbox WHERE link = ? AND resident_key = ? AND "
            "(seq > ? OR state != 'pending')"), (link, key, acked)).scalar() or 0)
