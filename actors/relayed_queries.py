"""Queries relayed between hubs through the store, on a link actor's thread.

A query (照会, a 転入's 転出証明書情報) may be asked of a hub whose link is owned by the
other hub.  The asker's actor writes it through its store writer and polls for the
answer; the owner's actor finds it on its own poll, asks the peer as it asks its own
queries, and has its writer record the answer — or why there is none (``query_timeout``,
``link_lost``, ``link_unavailable``): the same codes a local query gets.  The asker's
``query_timeout`` bounds the whole round; a row is deleted once read or given up.

Threads: only the actor's thread calls these methods; the writer's replies come back as
``Relayed`` tells (``later``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.messages import Relayed, RelayQuery
from actors.queries import QueryReply
from hub.store import Store


class RelayedQueries:
    def __init__(self, link: str, store: Store, writer: Any,
                 later: Callable[[Any], Callable[[], None]]) -> None:
        self.link, self.store, self.writer, self.later = link, store, writer, later
        self.asking: dict[int, QueryReply] = {}   # key -> reply, until its row is written
        self.waiting: dict[int, QueryReply] = {}  # query id -> reply, until answered
        self.keys = 0
        self.served_upto = 0  # as the owner: the highest query id taken to the peer

    # ---- as the asker ----------------------------------------------------------------

    def ask(self, body: bytes, reply: QueryReply) -> None:
        self.keys += 1
        key, later = self.keys, self.later
        self.asking[key] = reply
        self.writer.tell(RelayQuery("ask", self.link, body, reply=lambda query_id: later(
            Relayed(key, query_id))()))

    def written(self, msg: Relayed) -> int | None:
        """The query's row is written: its id, to wait for (``None``: it could not be,
        and the caller has its answer)."""
        reply = self.asking.pop(msg.key)
        if msg.query_id is None:
            reply(None, "link_unavailable")
            return None
        self.waiting[msg.query_id] = reply
        return msg.query_id

    def collect(self) -> None:
        """The answers written so far: to their callers, and their rows deleted."""
        answers = self.store.read(self.store.link_queries.answers, list(self.waiting))
        for query_id, (body, code) in answers.items():
            reply = self.waiting.pop(query_id)
            reply(body, None) if code is None else reply(None, code)
        if answers:
            self.writer.tell(RelayQuery("forget", ids=tuple(answers)))

    def expired(self, query_id: int) -> None:
        if (reply := self.waiting.pop(query_id, None)) is not None:
            reply(None, "query_timeout")
            self.writer.tell(RelayQuery("forget", ids=(query_id,)))

    # ---- as the owner ----------------------------------------------------------------

    def to_serve(self, since: float) -> list[tuple[int, QueryReply, bytes]]:
        """Queries other hubs asked since ``since`` and nobody took yet: each with the
        reply that records its answer."""
        rows = self.store.read(self.store.link_queries.asked, self.link, self.served_upto,
                               since)
        if rows:
            self.served_upto = rows[-1][0]
        return [(query_id, self._answer(query_id), body) for query_id, body in rows]

    def _answer(self, query_id: int) -> QueryReply:
        writer = self.writer

        def answer(body: bytes | None, code: str | None) -> None:  # on the actor's thread
            writer.tell(RelayQuery("answer", query_id=query_id, body=body, code=code))

        return answer
