"""``audit_log``: the 操作ログ — who (operator, terminal) did what, when; keys only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.store.base import Db, Sql, named


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    operator_id: str        # 操作者ID
    terminal_id: str        # 操作端末ID
    action: str             # change.move_in, query.four_items, inbox.acknowledge, …
    request_id: str | None = None  # the request (依頼管理番号) or job it concerns
    update_seq: int | None = None  # the 更新順番号 it made


class AuditStore:
    def __init__(self, sql: Sql) -> None:
        self._insert = sql.insert("audit_log", ("at", "operator_id", "terminal_id", "action",
                                                "request_id", "update_seq"))

    @named("audit.record")
    def record(self, db: Db, entries: Sequence[AuditEntry]) -> None:
        db.insert(self._insert, [(e.at, e.operator_id, e.terminal_id, e.action[:40],
                                e.request_id, e.update_seq) for e in entries])
