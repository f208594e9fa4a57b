"""A department's feed (庁内連携): the register's changes in 更新順番号 order after a
cursor, each filtered to the department's fields (``hub.config.departments.shown``).  Its
first extract — everything from the start — is a bulk output: while the register holds
more than ``[controls] bulk_threshold`` people, a department's feed opens only once a
supervisor approves it (``hub.domain.approvals``); below that it opens at once."""

from __future__ import annotations

from hub.domain import approvals
from hub.domain.register import Register
from hub.store import AuditEntry, Conn, Store


def open_feed(register: Register, department: str, certificate: str, now: float,
              bulk_threshold: int) -> tuple[dict[str, str | None], None]:
    """The department's feed state, asking for approval on its first pull (a store-writer
    job): ``{"state": open | awaiting_approval | refused, "approval_id"}``."""
    store = register.store
    with store.transaction("job") as conn:
        known = store.feeds.state(conn, department)
        if known is not None:
            return {"state": known[0], "approval_id": known[1]}, None
        people = store.feeds.people(conn)
        approval = None
        if people > bulk_threshold:
            approval = approvals.request(store, conn, "feed", department, people,
                                         certificate, certificate, now)
        state = "awaiting_approval" if approval else "open"
        store.feeds.set_state(conn, department, state, approval, now)
        store.audit.record(conn, [AuditEntry(now, certificate, certificate, "feed.open",
                                             department, client=certificate,
                                             count=people)])
    return {"state": state, "approval_id": approval}, None


def decided(store: Store, conn: Conn, department: str, approved: bool) -> None:
    """A supervisor's decision on a department's first extract."""
    store.feeds.set_state(conn, department, "open" if approved else "refused", None, 0.0)
