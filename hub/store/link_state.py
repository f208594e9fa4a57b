"""``link_state``: per link, the highest sequence its peer acknowledged, the next
sequence to number a message with, and the highest of the peer's own pushes recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection

from hub.store.base import Sql, executemany, named


@dataclass(frozen=True, slots=True)
class LinkState:
    acked: int            # highest sequence the peer settled (may lag: the peer restates it)
    next_seq: int         # the next sequence a message of this link gets
    inbound_applied: int  # highest push of the peer recorded in the inbox


class LinkStateStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    @named("link_state.all")
    def all(self, conn: Connection) -> dict[str, LinkState]:
        return {link: LinkState(a, n, i) for link, a, n, i in conn.exec_driver_sql(
            "SELECT link, acked_seq, next_seq, inbound_applied FROM link_state")}

    @named("link_state.create")
    def create(self, conn: Connection, links: Iterable[str]) -> None:
        """A row for each of ``links`` (that has none), from sequence 1."""
        executemany(conn, self.sql.text(
            "INSERT INTO link_state (link, acked_seq, next_seq, inbound_applied) "
            "VALUES (?, 0, 1, 0)"), [(link,) for link in links])

    @named("link_state.save_next")
    def save_next(self, conn: Connection, next_seqs: Mapping[str, int]) -> None:
        executemany(conn, self.sql.text("UPDATE link_state SET next_seq = ? WHERE link = ?"),
                    [(n, link) for link, n in next_seqs.items()])

    @named("link_state.advance")
    def advance(self, conn: Connection, acked: Mapping[str, int]) -> None:
        """The peers' acknowledgements: only ever forward."""
        executemany(conn, self.sql.text(
            "UPDATE link_state SET acked_seq = ? WHERE link = ? AND acked_seq < ?"),
            [(seq, link, seq) for link, seq in acked.items()])

    @named("link_state.advance_inbound")
    def advance_inbound(self, conn: Connection, link: str, seq: int) -> None:
        conn.exec_driver_sql(self.sql.text(
            "UPDATE link_state SET inbound_applied = ? WHERE link = ? AND inbound_applied < ?"),
            (seq, link, seq))
