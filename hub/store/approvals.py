"""``approvals``: bulk outputs waiting for a supervisor (大量のデータ出力に際しては、事前に
管理責任者の承認を得る) — what is to be output, for how many people, who asked, and who
approved or refused it, when.  ``media``: every file or medium written (who, what, how
many, which approval, the file's SHA-256)."""

from __future__ import annotations

from typing import Any

from hub.store.base import Db, Sql, named

COLUMNS = ("approval_id", "kind", "subject", "people", "state", "requested_by",
           "requested_terminal", "requested_at", "decided_by", "decided_terminal",
           "decided_at")
EXPORT_COLUMNS = ("export_id", "kind", "people", "state", "requested_by",
                  "requested_terminal", "requested_at", "approval_id")
# What a register export holds: never the 個人番号 (他の業務には個人番号が含まれない
# ファイルのみを提供する).
EXPORT_FIELDS = ("atena_number", "resident_code", "household_number", "name_kanji",
                 "name_kana", "birth_date", "sex", "relationship", "postal_code", "address")
MEDIA_COLUMNS = ("id", "kind", "subject", "people", "approval_id", "operator_id",
                 "terminal_id", "written_at", "sha256")


class ApprovalStore:
    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._insert = sql.insert("approvals", COLUMNS)
        self._select = f"SELECT {', '.join(COLUMNS)} FROM approvals"
        self._insert_medium = sql.insert("media", MEDIA_COLUMNS)

    @named("approvals.last")
    def last(self, db: Db) -> int:
        """The number of the newest approval id (``A`` + 10 digits), 0 before any."""
        last = db.scalar("SELECT max(approval_id) FROM approvals")
        return int(last[1:]) if last else 0

    @named("approvals.add")
    def add(self, db: Db, approval: dict[str, Any]) -> None:
        db.insert(self._insert, [tuple(approval.get(c) for c in COLUMNS)])

    @named("approvals.get")
    def get(self, db: Db, approval_id: str) -> dict[str, Any] | None:
        row = db.row(self.sql.text(f"{self._select} WHERE approval_id = ?"), (approval_id,))
        return dict(zip(COLUMNS, row, strict=True)) if row is not None else None

    @named("approvals.list")
    def listed(self, db: Db, state: str | None, limit: int = 200) -> list[dict[str, Any]]:
        where = self.sql.text(" WHERE state = ?") if state else ""
        rows = db.rows(f"{self._select}{where} ORDER BY approval_id LIMIT {int(limit)}",
                       (state,) if state else ())
        return [dict(zip(COLUMNS, r, strict=True)) for r in rows]

    @named("approvals.decide")
    def decide(self, db: Db, approval_id: str, state: str, operator_id: str,
               terminal_id: str, now: float) -> bool:
        """Decide a pending approval, by someone other than its requester: whether this
        decided it (the update's row count decides, not a state read before)."""
        db.run(self.sql.text("UPDATE approvals SET state = ?, decided_by = ?, "
                             "decided_terminal = ?, decided_at = ? WHERE approval_id = ? "
                             "AND state = 'pending' AND requested_by <> ?"),
               (state, operator_id, terminal_id, now, approval_id, operator_id))
        return bool(db.cursor.rowcount == 1)

    # ---- exports ----------------------------------------------------------------------

    @named("exports.add")
    def add_export(self, db: Db, kind: str, operator_id: str, terminal_id: str,
                   now: float) -> tuple[str, int]:
        """A new export of the living residents; its id and how many it covers."""
        last = db.scalar("SELECT max(export_id) FROM exports")
        export_id = f"E{(int(last[1:]) if last else 0) + 1:010d}"
        people = int(db.scalar("SELECT count(*) FROM residents WHERE removed = "
                               + self.sql.mark, (False,)))
        db.insert(self.sql.insert("exports", EXPORT_COLUMNS),
                  [(export_id, kind, people, "ready", operator_id, terminal_id, now, None)])
        return export_id, people

    @named("exports.set")
    def set_export(self, db: Db, export_id: str, **items: Any) -> None:
        db.run(self.sql.update("exports", tuple(items), ("export_id",)),
               (*items.values(), export_id))

    @named("exports.get")
    def export(self, db: Db, export_id: str) -> dict[str, Any] | None:
        row = db.row(self.sql.text(f"SELECT {', '.join(EXPORT_COLUMNS)} FROM exports "
                                   "WHERE export_id = ?"), (export_id,))
        return dict(zip(EXPORT_COLUMNS, row, strict=True)) if row is not None else None

    @named("exports.rows")
    def export_rows(self, db: Db) -> list[tuple[Any, ...]]:
        """The living residents' exportable items, by 住民票コード."""
        return db.rows(f"SELECT {', '.join(EXPORT_FIELDS)} FROM residents WHERE removed = "
                       f"{self.sql.mark} ORDER BY resident_code", (False,))

    @named("approvals.medium")
    def record_medium(self, db: Db, medium: dict[str, Any]) -> int:
        """A file or medium written; its number."""
        number = int(db.scalar("SELECT coalesce(max(id), 0) FROM media")) + 1
        db.insert(self._insert_medium, [tuple({**medium, "id": number}.get(c)
                                              for c in MEDIA_COLUMNS)])
        return number
