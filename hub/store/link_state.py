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


class LinkStateStore:
    def __init__(self, sql: Sql) -> None:
        self._create = sql.text("INSERT INTO link_state (link, acked_seq, next_seq, "
                                "inbound_applied) VALUES (?, 0, 1, 0)")
        self._next = sql.text("UPDATE link_state SET next_seq = ? WHERE link = ?")
        self._acked = sql.text("UPDATE link_state SET acked_seq = ? WHERE link = ? AND "
                               "acked_seq < ?")
        self._inbound = sql.text("UPDATE link_state SET inbound_applied = ? WHERE link = ? "
                                 "AND inbound_applied < ?")

    @named("link_state.all")
    def all(self, db: Db) -> dict[str, LinkState]:
        return {link: LinkState(a, n, i) for link, a, n, i in db.rows(
            "SELECT link, acked_seq, next_seq, inbound_applied FROM link_state")}

    @named("link_state.next_seqs")
    def next_seqs(self, db: Db) -> dict[str, int]:
        """Each link's next sequence (read by the writer inside its write lock)."""
        return {link: int(n) for link, n in db.rows("SELECT link, next_seq FROM link_state")}

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

    @named("link_state.advance_inbound")
    def advance_inbound(self, db: Db, link: str, seq: int) -> None:
        db.run(self._inbound, (seq, link, seq))
