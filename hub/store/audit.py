"""``audit_log``: the 操作ログ — who (operator, terminal, certificate) did what, to which
key, when, whether the 個人番号 was shown, and how it ended.  Keys only: never a name,
a number or an address.

The log is a hash chain.  Entry ``n`` carries ``hash = SHA-256(hash(n-1) ‖ entry n)``
over all its items and its id (ids run 1, 2, 3 … with no gap), the first entry's
predecessor being 64 zeros; so a changed, deleted, inserted or reordered entry breaks
the chain at that entry.  What the chain alone cannot show — the newest entries cut
off — the anchors show: the head's id and hash, written outside the database
(``hub.audit_anchor``).  Only the store writer appends (one writer, so ids are
``max(id) + 1`` read in the same transaction).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hub.store.base import Db, Sql, named

GENESIS = "0" * 64
COLUMNS = ("id", "at", "operator_id", "terminal_id", "action", "request_id", "update_seq",
           "client", "number_shown", "result", "count", "hash")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    operator_id: str        # 操作者ID: the user id, or the system account's certificate
    terminal_id: str        # 操作端末ID: the terminal's certificate
    action: str             # the function: change.move_in, query.four_items, login, …
    request_id: str | None = None  # the target's key (依頼管理番号, inbox item, batch id …)
    update_seq: int | None = None  # the 更新順番号 it made
    client: str | None = None      # the client certificate the call came with
    number_shown: bool = False     # was a 個人番号 shown
    result: str = "ok"             # ok, or the refusal's code
    count: int | None = None       # a query's matches, an output's records


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """An entry as stored: its id and chain hash too."""

    id: int
    entry: AuditEntry
    hash: str | None


def chain_hash(previous: str, entry_id: int, e: AuditEntry) -> str:
    """The chain link of entry ``entry_id``: over its predecessor's hash and every item."""
    items = [entry_id, repr(float(e.at)), e.operator_id, e.terminal_id, e.action, e.request_id,
             e.update_seq, e.client, bool(e.number_shown), e.result, e.count]
    text = previous + json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _entry(row: Sequence[Any]) -> LoggedEntry:
    (id_, at, operator, terminal, action, target, seq, client, shown, result, count,
     hash_) = row
    return LoggedEntry(id_, AuditEntry(at, operator, terminal, action, target, seq, client,
                                       bool(shown), result, count), hash_)


class AuditStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._insert = sql.insert("audit_log", COLUMNS)
        self._head = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"
        self._select = f"SELECT {', '.join(COLUMNS)} FROM audit_log"

    @named("audit.record")
    def record(self, db: Db, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` to the chain (inside the caller's transaction)."""
        if not entries:
            return
        # Every appender — each hub's store writer, an administrator's command — is in a
        # ``Store.transaction``, which holds the store's write lock: one at a time, each
        # reading the head the last one wrote.
        head = db.row(self._head)
        last, previous = (head[0], head[1] or GENESIS) if head is not None else (0, GENESIS)
        rows = []
        for e in entries:
            last += 1
            previous = chain_hash(previous, last, e)
            rows.append((last, e.at, e.operator_id[:40], e.terminal_id[:40], e.action[:40],
                         e.request_id, e.update_seq, e.client, bool(e.number_shown),
                         e.result[:40], e.count, previous))
        db.insert(self._insert, rows)

    @named("audit.head")
    def head(self, db: Db) -> tuple[int, str]:
        """The newest entry's id and hash (0 and the genesis hash when empty)."""
        row = db.row(self._head)
        return (row[0], row[1] or GENESIS) if row is not None else (0, GENESIS)

    def walk(self, db: Db, page: int = 5000) -> Iterator[LoggedEntry]:
        """Every entry in id order, read a page at a time."""
        after = -1
        while True:
            rows = db.rows(self.sql.text(f"{self._select} WHERE id > ? ORDER BY id LIMIT ?"),
                           (after, page))
            for row in rows:
                yield _entry(row)
            if len(rows) < page:
                return
            after = rows[-1][0]

    @named("audit.search")
    def search(self, db: Db, operator: str | None = None, action: str | None = None,
               target: str | None = None, since: float | None = None,
               until: float | None = None, limit: int = 1000,
               after: int = 0) -> list[LoggedEntry]:
        """Entries after the entry ``after`` matching every filter given, oldest first.
        ``action`` may end in ``*`` (``query.*``)."""
        where, params = self._filters(operator, action, target, since, until)
        if after:
            where = f"{where} AND id > ?" if where else " WHERE id > ?"
            params.append(after)
        sql = f"{self._select}{where} ORDER BY id LIMIT ?"
        return [_entry(r) for r in db.rows(self.sql.text(sql), (*params, limit))]

    def _filters(self, operator: str | None, action: str | None, target: str | None,
                 since: float | None, until: float | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (("operator_id = ?", operator), ("request_id = ?", target),
                              ("at >= ?", since), ("at < ?", until)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if action is not None:
            if action.endswith("*"):
                clauses.append(f"substr(action, 1, {len(action) - 1}) = ?")
                params.append(action[:-1])
            else:
                clauses.append("action = ?")
                params.append(action)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    @named("audit.between")
    def between(self, db: Db, since: float, until: float) -> list[AuditEntry]:
        """Every entry of a period (for the periodic review)."""
        rows = db.rows(self.sql.text(f"{self._select} WHERE at >= ? AND at < ? ORDER BY id"),
                       (since, until))
        return [_entry(r).entry for r in rows]
