"""File exports of the register for other work (他の業務から住民基本台帳ファイルを利用する
場合は、個人番号が含まれないファイルのみを提供する): the living residents' items without
the 個人番号, as CSV.  An export covering more than ``[controls] bulk_threshold`` people
is a bulk output and waits for a second supervisor's approval (``hub.domain.approvals``).
Every file written is recorded as a medium — who, what, how many, which approval, the
file's SHA-256 — with its 操作ログ entry, before the file's content is handed out."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from typing import Any

from hub.domain import approvals
from hub.domain.errors import HubError
from hub.domain.register import Register
from hub.store import AuditEntry, Conn, Store
from hub.store.approvals import EXPORT_FIELDS

KINDS = ("residents",)


def start(register: Register, kind: str, operator_id: str, terminal_id: str, now: float,
          bulk_threshold: int) -> tuple[dict[str, Any], None]:
    """Record an export request (a store-writer job); its answer."""
    store = register.store
    with store.transaction("job") as conn:
        export_id, people = store.approvals.add_export(conn, kind, operator_id, terminal_id,
                                                       now)
        answer: dict[str, Any] = {"export_id": export_id, "kind": kind, "people": people,
                                  "state": "ready"}
        if people > bulk_threshold:
            approval = approvals.request(store, conn, "export", export_id, people,
                                         operator_id, terminal_id, now)
            store.approvals.set_export(conn, export_id, state="awaiting_approval",
                                       approval_id=approval)
            answer.update(state="awaiting_approval", approval_id=approval)
        store.audit.record(conn, [AuditEntry(now, operator_id, terminal_id, "export.request",
                                             export_id, count=people)])
    return answer, None


def decided(store: Store, conn: Conn, export_id: str, approved: bool) -> None:
    """A supervisor's decision on an export waiting for one."""
    store.approvals.set_export(conn, export_id, state="approved" if approved else "refused")


def writable(export: dict[str, Any] | None, operator_id: str) -> None:
    """Refuse writing the file unless it was asked for by this operator and may go."""
    if export is None:
        raise HubError("unknown_export", "no export has this id", status=404)
    if export["requested_by"] != operator_id:
        raise HubError("not_the_requester", "the file is written by whoever asked for it",
                       status=403)
    if export["state"] not in ("ready", "approved"):
        raise HubError("not_approved", f"the export is {export['state'].replace('_', ' ')}",
                       status=409)


def as_csv(rows: list[tuple[Any, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    writer.writerows([v.isoformat() if isinstance(v, dt.date) else v for v in row]
                     for row in rows)
    return out.getvalue()


def record_written(register: Register, export_id: str, text: str, people: int,
                   operator_id: str, terminal_id: str, now: float,
                   ) -> tuple[dict[str, Any] | HubError, None]:
    """The medium written, on the record (a store-writer job); its answer.  Whether the
    file may be handed out is decided here, on the export as the writer has it (the
    caller's earlier look only spared reading the file for a refusal)."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    store = register.store
    with store.transaction("job") as conn:
        export = store.approvals.export(conn, export_id)
        try:
            writable(export, operator_id)
        except HubError as refused:
            return refused, None
        assert export is not None
        number = store.approvals.record_medium(conn, {
            "kind": f"export.{export['kind']}", "subject": export["export_id"],
            "people": people, "approval_id": export["approval_id"],
            "operator_id": operator_id, "terminal_id": terminal_id, "written_at": now,
            "sha256": digest})
        store.audit.record(conn, [AuditEntry(now, operator_id, terminal_id, "export.written",
                                             export["export_id"], count=people)])
    return {"export_id": export["export_id"], "medium": number, "people": people,
            "sha256": digest, "csv": text}, None
