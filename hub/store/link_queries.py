"""``link_queries``: a query relayed from a hub that does not own its link to the hub
that does (``actors/link.py``).  The asker's store writer writes the query (``ask``);
the owner finds it on its poll (``asked``), asks the peer, and its writer writes the
answer once (``answer``); the asker finds it (``answers``) and deletes the row
(``forget``); rows an asker never came back for go with the purge."""

from __future__ import annotations

from collections.abc import Sequence

from hub.store.base import Db, Sql, named


class LinkQueryStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._ask = sql.text("INSERT INTO link_queries (link, body, asked_at) VALUES (?, ?, ?) "
                             "RETURNING id")
        self._asked = sql.text("SELECT id, body FROM link_queries WHERE link = ? AND id > ? "
                               "AND answered_at IS NULL AND asked_at >= ? ORDER BY id "
                               "LIMIT 100")
        self._answer = sql.text("UPDATE link_queries SET answer = ?, code = ?, answered_at = ? "
                                "WHERE id = ? AND answered_at IS NULL")
        self._purge = sql.text("DELETE FROM link_queries WHERE asked_at < ?")

    @named("link_queries.ask")
    def ask(self, db: Db, link: str, body: bytes, now: float) -> int:
        return int(db.scalar(self._ask, (link, body, now)))

    @named("link_queries.asked")
    def asked(self, db: Db, link: str, after: int, since: float) -> list[tuple[int, bytes]]:
        """Queries of ``link`` after id ``after``, asked since ``since``, unanswered."""
        return [(int(i), bytes(b)) for i, b in db.rows(self._asked, (link, after, since))]

    @named("link_queries.answer")
    def answer(self, db: Db, query_id: int, body: bytes | None, code: str | None,
               now: float) -> None:
        db.run(self._answer, (body, code, now, query_id))

    @named("link_queries.answers")
    def answers(self, db: Db, ids: Sequence[int]) -> dict[int, tuple[bytes | None, str | None]]:
        if not ids:
            return {}
        rows = db.rows(f"SELECT id, answer, code FROM link_queries WHERE id IN "
                       f"({self.sql.marks(len(ids))}) AND answered_at IS NOT NULL", list(ids))
        return {int(i): (bytes(a) if a is not None else None, c) for i, a, c in rows}

    @named("link_queries.forget")
    def forget(self, db: Db, ids: Sequence[int]) -> None:
        if ids:
            db.run(f"DELETE FROM link_queries WHERE id IN ({self.sql.marks(len(ids))})",
                   list(ids))

    @named("link_queries.purge")
    def purge(self, db: Db, before: float) -> None:
        db.run(self._purge, (before,))
