"""``inbox``: what the outside systems pushed, kept until staff (or the register
system) take it; refused documents are kept too, with the code they were refused by."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.store.base import Db, Sql, named

_COLUMNS = "id, link, peer_seq, kind, body, received_at, state, code, result"


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    link: str
    peer_seq: int
    kind: str
    body: bytes
    received_at: float
    state: str          # new | acknowledged | refused
    code: str | None    # why it was refused
    result: dict[str, Any] | None = None  # what the hub did with it (a 転入通知: 転出確定)


def push_row(link: str, peer_seq: int, kind: str, body: bytes, refused_code: str | None,
             now: float, result: dict[str, Any] | None = None) -> tuple[object, ...]:
    """A push's ``inbox`` row, as ``record`` and ``record_many`` take it."""
    return (link, peer_seq, kind, body, now, "refused" if refused_code else "new",
            refused_code, json.dumps(result, sort_keys=True) if result is not None else None)


class InboxStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._id = sql.text("SELECT id FROM inbox WHERE link = ? AND peer_seq = ?")
        # A resend of a push kept before inserts nothing (and returns no id).
        self._keep = sql.text("INSERT INTO inbox (link, peer_seq, kind, body, received_at, "
                              "state, code, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                              "ON CONFLICT (link, peer_seq) DO NOTHING")
        self._insert = self._keep + " RETURNING id"
        self._state = sql.text("SELECT state FROM inbox WHERE id = ?")
        self._take = ("UPDATE inbox SET state = 'acknowledged', acknowledged_at = ?, "
                      "operator_id = ?, terminal_id = ? WHERE id = ?")
        self._get = sql.text(f"SELECT {_COLUMNS} FROM inbox WHERE id = ?")
        self._find = sql.text(f"SELECT {_COLUMNS} FROM inbox WHERE link = ? AND peer_seq = ?")
        self._purgeable = sql.text("SELECT id FROM inbox WHERE state = 'acknowledged' AND "
                                   "acknowledged_at < ? ORDER BY id LIMIT ?")

    @named("inbox.record")
    def record(self, db: Db, link: str, peer_seq: int, kind: str, body: bytes,
               refused_code: str | None, now: float,
               result: dict[str, Any] | None = None) -> int:
        """Keep a push (once: a resend after a reconnect finds the first); its id.  One
        statement for a new push, the common case."""
        made = db.scalar(self._insert, push_row(link, peer_seq, kind, body, refused_code, now,
                                                result))
        return int(made if made is not None else db.scalar(self._id, (link, peer_seq)))

    @named("inbox.record_many")
    def record_many(self, db: Db, rows: list[tuple[object, ...]]) -> None:
        """Keep pushes whose ids no one needs now (``push_row`` each), in one statement;
        a resend among them is kept once, as ``record`` keeps it."""
        db.many(self._keep, rows)

    @named("inbox.find")
    def find(self, db: Db, link: str, peer_seq: int) -> InboxItem | None:
        """The push ``peer_seq`` of ``link``, if it is kept already (a resend)."""
        row = db.row(self._find, (link, peer_seq))
        return _item(row) if row is not None else None

    @named("inbox.acknowledge")
    def acknowledge(self, db: Db, item_id: int, operator_id: str, terminal_id: str,
                    now: float, states: tuple[str, ...] = ("new", "refused")) -> str:
        """Take an item in one of ``states``: ``acknowledged``, or ``already`` (taken
        before), or ``unknown`` — decided by the update itself (its row count), not by
        a state read before it."""
        marks = self.sql.marks(len(states))
        db.run(self.sql.text(f"{self._take} AND state IN ({marks})"),
               (now, operator_id, terminal_id, item_id, *states))
        if db.cursor.rowcount:
            return "acknowledged"
        return "unknown" if db.scalar(self._state, (item_id,)) is None else "already"

    @named("inbox.get")
    def get(self, db: Db, item_id: int) -> InboxItem | None:
        row = db.row(self._get, (item_id,))
        return _item(row) if row is not None else None

    @named("inbox.list")
    def list(self, db: Db, after: int, limit: int, kind: str | None = None,
             state: str | None = None, link: str | None = None, since: float | None = None,
             until: float | None = None) -> list[InboxItem]:
        """Items after ``after``, oldest first: of a kind, state and link if given, and
        received in ``[since, until)`` if given."""
        where: list[str] = ["id > ?"]
        args: list[object] = [after]
        for clause, value in (("kind = ?", kind), ("state = ?", state), ("link = ?", link),
                              ("received_at >= ?", since), ("received_at < ?", until)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = self.sql.text(f"SELECT {_COLUMNS} FROM inbox WHERE {' AND '.join(where)} "
                            "ORDER BY id LIMIT ?")
        return [_item(r) for r in db.rows(sql, (*args, limit))]

    @named("inbox.purge")
    def purge(self, db: Db, before: float, limit: int) -> int:
        """Delete up to ``limit`` items acknowledged before ``before``; how many went."""
        ids = [r[0] for r in db.rows(self._purgeable, (before, limit))]
        if ids:
            db.run(f"DELETE FROM inbox WHERE id IN ({self.sql.marks(len(ids))})", ids)
        return len(ids)


def _item(r: Any) -> InboxItem:
    return InboxItem(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6], r[7],
                     json.loads(r[8]) if r[8] is not None else None)
