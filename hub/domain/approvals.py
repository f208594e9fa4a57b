"""Bulk outputs need a supervisor first (大量のデータ出力に際しては、事前に管理責任者の
承認を得る): an output covering more than ``[controls] bulk_threshold`` people is
recorded, built but unsent, with an approval request; a supervisor other than the one
who asked approves it (and the output goes) or refuses it (and it never does).  Four
eyes: the requester can never decide their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.domain.errors import HubError
from hub.domain.register import Register
from hub.store import AuditEntry, Conn, Store


def request(store: Store, conn: Conn, kind: str, subject: str, people: int,
            operator_id: str, terminal_id: str, now: float) -> str:
    """Record an approval request (inside the caller's transaction); its id."""
    approval_id = f"A{store.approvals.last(conn) + 1:010d}"
    store.approvals.add(conn, {
        "approval_id": approval_id, "kind": kind, "subject": subject, "people": people,
        "state": "pending", "requested_by": operator_id, "requested_terminal": terminal_id,
        "requested_at": now})
    return approval_id


# What a decision does to the output it is about, by kind: (store, transaction, subject,
# approved) -> the output's first slice (a store-writer job) or None.
Decided = Callable[[Store, Conn, str, bool], Any]


def decide(register: Register, then: dict[str, Decided], approval_id: str, decision: str,
           operator_id: str, terminal_id: str, now: float) -> tuple[Any, Any]:
    """A supervisor's decision; (the approval as now shown, or the refusal; what
    ``then[kind]`` returns: the output's first slice, or None).  A store-writer job; the
    conditional update decides (pending, and not the requester's own), so two decisions
    at once give one."""
    store = register.store
    state = "approved" if decision == "approve" else "refused"
    with store.transaction("job") as conn:
        decided = store.approvals.decide(conn, approval_id, state, operator_id, terminal_id,
                                         now)
        a = store.approvals.get(conn, approval_id)
        if a is None:
            return HubError("unknown_approval", "no approval has this id", status=404), None
        if not decided and a["state"] != "pending":
            return HubError("already_decided", f"this approval was {a['state']} already",
                            status=409), None
        if not decided:  # pending still: it was its requester's own
            return HubError("second_person_required", "a bulk output is approved by a "
                            "supervisor other than the one who asked for it",
                            status=403), None
        store.audit.record(conn, [AuditEntry(now, operator_id, terminal_id,
                                             f"approval.{decision}", approval_id,
                                             count=a["people"])])
        nxt = then[a["kind"]](store, conn, a["subject"], state == "approved")
        shown = {**a, "state": state, "decided_by": operator_id,
                 "decided_terminal": terminal_id, "decided_at": now}
    return shown, nxt
