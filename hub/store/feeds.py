"""``department_feeds`` (may a department pull yet) and the feed itself: the identity
records in 更新順番号 order after a cursor (keyset paging, one page a read)."""

from __future__ import annotations

from typing import Any

from hub.store.base import Db, Sql, named, to_date


class FeedStore:
    def __init__(self, sql: Sql, fields: tuple[str, ...]) -> None:
        self.sql = sql
        self.fields = ("update_seq", *(f for f in fields if f != "update_seq"))
        self._page = sql.text(f"SELECT {', '.join(self.fields)} FROM identity_records "
                              "WHERE update_seq > ? ORDER BY update_seq LIMIT ?")

    @named("feeds.state")
    def state(self, db: Db, department: str) -> tuple[str, str | None] | None:
        row = db.row(self.sql.text("SELECT state, approval_id FROM department_feeds "
                                   "WHERE department = ?"), (department,))
        return (row[0], row[1]) if row is not None else None

    @named("feeds.open")
    def set_state(self, db: Db, department: str, state: str, approval_id: str | None,
                  now: float) -> None:
        if self.state(db, department) is None:
            db.insert(self.sql.insert("department_feeds", (
                "department", "state", "approval_id", "requested_at")),
                [(department, state, approval_id, now)])
        else:
            db.run(self.sql.text("UPDATE department_feeds SET state = ? WHERE department = ?"),
                   (state, department))

    @named("feeds.page")
    def page(self, db: Db, after: int, limit: int) -> list[dict[str, Any]]:
        out = []
        for row in db.rows(self._page, (after, limit)):
            record = dict(zip(self.fields, row, strict=True))
            for k, v in record.items():
                if k.endswith("_date"):
                    record[k] = to_date(v)
            out.append(record)
        return out

    @named("feeds.people")
    def people(self, db: Db) -> int:
        """Residents on the register (living or not): what a first extract covers."""
        return int(db.scalar("SELECT count(*) FROM residents"))
