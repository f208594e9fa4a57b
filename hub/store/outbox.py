"""The per-link outboxes and their dead letters.

``outbox`` rows are the messages of each link, numbered by the link's transmission
sequence when the change that caused them commits; ``state`` is ``pending`` until the
peer settles them, ``held`` (withdrawn behind a dead letter) or ``dead``; once staff
mend the dead letter (``hub.store.dead_letters``), ``replayed`` or ``released`` (sent
again as new messages) or ``discarded``.  Each row keeps the correlation id of the
request or job that caused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.store.base import Db, Sql, named

OUTBOX_COLUMNS = ("link", "seq", "update_seq", "resident_key", "kind", "payload",
                  "enqueued_at", "state", "correlation_id")
# Rows the retention purge may delete once old enough, besides acknowledged ones: the
# dead letters staff discarded, the messages sent again as new ones, and those a resend
# of the resident's current record took the place of.
SETTLED = ("replayed", "released", "discarded", "superseded")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A message as a link actor reads it back from its outbox."""

    seq: int
    update_seq: int
    resident_key: str
    payload: bytes
    enqueued_at: float
    state: str
    correlation_id: str


class OutboxStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._insert = sql.insert("outbox", OUTBOX_COLUMNS)
        self._sizes = sql.text("SELECT seq, length(payload) FROM outbox WHERE link = ? AND "
                               "seq > ? ORDER BY seq LIMIT ?")
        self._rows = sql.text("SELECT seq, update_seq, resident_key, payload, enqueued_at, "
                              "state, correlation_id FROM outbox WHERE link = ? AND seq > ? AND seq <= ? "
                              "ORDER BY seq")
        self._hold = sql.text("UPDATE outbox SET state = 'held' WHERE link = ? AND seq = ? AND "
                              "state = 'pending'")
        # Only what the peer has settled (acknowledged or seen withdrawn): a link
        # actor reads its outbox back in sequence, without gaps.
        self._purgeable = sql.text("SELECT seq FROM outbox WHERE link = ? AND enqueued_at < ? "
                                   "AND seq <= ? AND state IN "
                                   f"({', '.join(repr(s) for s in ('pending', *SETTLED))}) "
                                   "ORDER BY seq LIMIT ?")
        self._message = sql.text("SELECT kind, payload FROM outbox WHERE link = ? AND seq = ?")
        self._mark = sql.text("UPDATE outbox SET state = ? WHERE link = ? AND seq = ?")
        self._of_key = sql.text("SELECT seq, update_seq, kind, payload, state, correlation_id "
                                "FROM outbox WHERE link = ? AND resident_key = ? AND seq >= ? "
                                "AND state IN ('pending', 'held', 'dead') ORDER BY seq")
        self._acked = sql.text("SELECT acked_seq FROM link_state WHERE link = ?")
        self._unacked = sql.text("SELECT count(*) FROM outbox WHERE link = ? AND seq > ? "
                                 "AND resident_key = ?")
        self._ever_dead = sql.text("SELECT 1 FROM dead_letters WHERE link = ? AND "
                                   "resident_key = ? LIMIT 1")
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
        return [OutboxRow(r[0], r[1], r[2], bytes(r[3]), r[4], r[5], r[6] or "")
                for r in db.rows(self._rows, (link, after, upto))]

    @named("outbox.hold")
    def hold(self, db: Db, link: str, seqs: Sequence[int]) -> None:
        """Mark pending messages held: withdrawn behind a dead letter of their resident."""
        db.many(self._hold, [(link, s) for s in seqs])

    @named("outbox.message")
    def message(self, db: Db, link: str, seq: int) -> tuple[str, bytes] | None:
        """(kind, payload) of one message, if the outbox still has it."""
        row = db.row(self._message, (link, seq))
        return (row[0], bytes(row[1])) if row is not None else None

    @named("outbox.unsent_of_key")
    def unsent_of_key(self, db: Db, link: str, key: str, from_seq: int,
                      ) -> list[tuple[int, int, str, bytes, str, str]]:
        """(seq, update_seq, kind, payload, state, correlation id) of ``link``'s messages
        with routing key ``key`` from ``from_seq`` on that are not settled: the dead
        one, those held behind it, and those not sent yet."""
        return [(r[0], r[1], r[2], bytes(r[3]), r[4], r[5] or "")
                for r in db.rows(self._of_key, (link, key, from_seq))]

    @named("outbox.mark")
    def mark(self, db: Db, link: str, seqs: Sequence[int], state: str) -> None:
        """Set the state of these messages (staff mended their dead letter)."""
        db.many(self._mark, [(state, link, s) for s in seqs])

    @named("outbox.purge_delivered")
    def purge_delivered(self, db: Db, before: float, limit: int) -> int:
        """Delete up to ``limit`` messages queued before ``before`` that their peer
        settled: acknowledged, or withdrawn after staff mended their dead letter
        (discarded, or sent again as new messages); dead and held ones stay.  How
        many went."""
        purged = 0
        for link, upto in db.rows("SELECT link, acked_seq FROM link_state"):
            seqs = [r[0] for r in db.rows(self._purgeable, (link, before, upto, limit - purged))]
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
        # A message leaves 'pending' only through a dead letter of its key (held behind
        # one, dead, then mended).  Without one, only the unacknowledged window counts,
        # read along the primary key; reading every row's state would read every
        # payload before it (a send batch's chunks are ~150 KB each) — a long-poll of
        # a city's batch did that twenty times a second.
        if db.scalar(self._ever_dead, (link, key)) is None:
            return int(db.scalar(self._unacked, (link, acked, key)) or 0)
        return int(db.scalar(self._undelivered, (link, key, acked)) or 0)
