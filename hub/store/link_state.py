"""``link_state``: per link, the highest sequence its peer acknowledged, the next
sequence to number a message with, and the highest of the peer's own pushes recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.store.base import Db, Sql, named


@dataclass(frozen=True, slots=True)
class LinkState:
    acked: int            # highest sequence the peer settled (may lag: the peer restates it)
    next_seq: int         # the next sequence a message of this link gets
    inbound_applied: int  # highest push of the peer recorded in the inbox
    mended: int = 0       # dead letters of the link mended so far (on any hub)


class LinkStateStore:
    def __init__(self, sql: Sql) -> None:
        self._create = sql.text("INSERT INTO link_state (link, acked_seq, next_seq, "
                                "inbound_applied) VALUES (?, 0, 1, 0)")
        self._next = sql.text("UPDATE link_state SET next_seq = ? WHERE link = ?")
        self._acked = sql.text("UPDATE link_state SET acked_seq = ? WHERE link = ? AND "
                               "acked_seq < ?")
        self._mended = sql.text("UPDATE link_state SET mended = mended + 1 WHERE link = ? "
                                "RETURNING mended")
        self._poll = sql.text("SELECT next_seq, mended FROM link_state WHERE link = ?")
        self._inbound = sql.text("UPDATE link_state SET inbound_applied = ? WHERE link = ? "
                                 "AND inbound_applied < ?")

    @named("link_state.all")
    def all(self, db: Db) -> dict[str, LinkState]:
        return {link: LinkState(a, n, i, md) for link, a, n, i, md in db.rows(
            "SELECT link, acked_seq, next_seq, inbound_applied, mended FROM link_state")}

    @named("link_state.create")
    def create(self, db: Db, links: Iterable[str]) -> None:
        """A row for each of ``links`` (that has none), from sequence 1."""
        db.many(self._create, [(link,) for link in links])

    @named("link_state.save_next")
    def save_next(self, db: Db, next_seqs: Mapping[str, int]) -> None:
        db.many(self._next, [(n, link) for link, n in next_seqs.items()])

    @named("link_state.advance")
    def advance(self, db: Db, acked: Mapping[str, int]) -> None:
        """The peers' acknowledgements: only ever forward."""
        db.many(self._acked, [(seq, link, seq) for link, seq in acked.items()])

    @named("link_state.mended")
    def count_mend(self, db: Db, link: str) -> int:
        """One more of ``link``'s dead letters mended: the count now."""
        return int(db.scalar(self._mended, (link,)))

    @named("link_state.poll")
    def poll(self, db: Db, link: str) -> tuple[int, int]:
        """What the owner of ``link`` watches for (another hub's writer may move them):
        the next sequence to be numbered, and the dead letters mended so far."""
        row = db.row(self._poll, (link,))
        return (int(row[0]), int(row[1])) if row is not None else (1, 0)

    @named("link_state.advance_inbound")
    def advance_inbound(self, db: Db, applied: Mapping[str, int]) -> None:
        """The peers' pushes kept (link -> the highest): only ever forward."""
        db.many(self._inbound, [(seq, link, seq) for link, seq in applied.items()])
