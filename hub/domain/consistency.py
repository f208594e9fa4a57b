"""Building a consistency check (本人確認情報整合) in the store writer, slice by slice.

``start`` records one check per link (and the 操作ログ entry); ``Slice.build`` reads the
next ``size`` residents' current identity records in 住民票コード order (keyset paging,
so memory stays bounded whatever the register's size), writes one ``ConsistencyChunk``
per link into that link's outbox and the progress into ``consistency_checks`` — all in
one transaction — and says where the next slice starts (``None`` after the final).

The store writer runs a slice (a job), then tells itself to run the next, so changes posted
meanwhile are committed between slices and never wait for a whole check.  Each chunk
is compared by the peer with its copy at the same point of the link's stream, so a
change committed between two slices is seen the same way on both sides.

Every chunk of a check has the check id as its routing key: if the peer refuses one for
good, the rest of that check is held back behind it, and nothing else.

**On a schedule** (``[consistency] every``: the assessment's about once a year with
the prefecture and J-LIS; a city may choose monthly): ``start_scheduled`` starts a check
of each link whose newest check — staff's or the schedule's — is older than the
interval, counted from the schedule's first start when there was none.  It decides in
the store writer, so two ticks (or two hubs) never start two checks for one interval.

**Mending a difference** (``mend``): staff resend the hub's record to the peer as a
correction (``hub.domain.resends``: its own 更新順番号, 異常時更新順番号 the one it
corrects), or mark the difference explained with a reason.  One decision per
difference (``already_mended``), on the record (``consistency_mends``) and in the
操作ログ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hub.domain import resends
from hub.domain.errors import ConflictError, HubError, RequestError
from hub.domain.outcomes import OutboxItem
from hub.domain.register import Register
from hub.store import AuditEntry, Conn, Store
from protocols.consistency import ConsistencyChunk, decode_result, encode_chunk

CHECK_LINKS = ("prefecture", "national")


@dataclass(frozen=True, slots=True)
class Slice:
    """A store-writer job (see ``actors.store_writer``): the next slice of some checks."""

    checks: dict[str, str]  # link -> check id
    size: int               # records per chunk
    after: str = ""         # the last 住民票コード sent ("" to begin)
    chunk_no: int = 1
    sent: int = 0           # records sent before this slice
    attempts: int = 0       # failed transactions of this slice so far

    def build(self, register: Register, now: float) -> tuple[list[OutboxItem], Slice | None]:
        """One slice of every check: the outbox items written, and the next slice."""
        with register.job_transaction() as conn:
            store = register.store
            records = tuple(store.jobs.current_identities(conn, self.after, self.size))
            final = len(records) < self.size
            sent = self.sent + len(records)
            rows: list[tuple[object, ...]] = []
            items = []
            for link, check_id in self.checks.items():
                chunk = ConsistencyChunk(check_id, register.municipality_code, self.chunk_no,
                                         final, sent if final else None, records)
                items.append(register.enqueue(rows, link, "consistency_chunk",
                                              encode_chunk(chunk), check_id, 0, now, check_id))
            store.outbox.append(conn, rows)
            store.jobs.check_progress(conn, list(self.checks.values()), sent, self.chunk_no,
                                      final)
        nxt = None if final else dataclasses.replace(
            self, after=records[-1].resident_code, chunk_no=self.chunk_no + 1, sent=sent,
            attempts=0)
        return items, nxt

    def again(self) -> Slice:
        return dataclasses.replace(self, attempts=self.attempts + 1)


SCHEDULE = "consistency_schedule"  # the hub_flags row: the schedule's first start
SCHEDULER = ("schedule", "hub")     # who starts a scheduled check (操作者ID, 端末ID)


def due(links: list[str], last: dict[str, float], since: float, every: float,
        now: float) -> list[str]:
    """The links whose newest check (or, without one, the schedule's start) is
    ``every`` seconds old or older."""
    return [link for link in links if now >= last.get(link, since) + every]


def start_scheduled(register: Register, links: list[str], every: float, size: int,
                    now: float) -> tuple[dict[str, str], Slice | None]:
    """The schedule's tick, in the store writer: start a check of each link that is
    due (link -> check id, and the first slice), else nothing.  Due and started in one
    transaction, under the store's write lock: however many hubs tick, each check
    starts once."""
    store = register.store
    with store.transaction("job") as conn:
        flag = store.flags.get(conn, SCHEDULE)
        if flag is None:  # the first tick: the schedule counts from now
            store.flags.set(conn, SCHEDULE, f"every {every:g} s", now, SCHEDULER[0])
            return {}, None
        links = due(links, store.jobs.last_checks(conn), flag.set_at, every, now)
        if not links:
            return {}, None
        checks = _record(store, conn, links, *SCHEDULER, now)
    return checks, Slice(checks, size)


def start(register: Register, links: list[str], operator_id: str, terminal_id: str,
          size: int, now: float) -> tuple[dict[str, str], Slice]:
    """Record a new check for each of ``links``: link -> check id, and the first slice."""
    store = register.store
    with store.transaction("job") as conn:
        checks = _record(store, conn, links, operator_id, terminal_id, now)
    return checks, Slice(checks, size)


def _record(store: Store, conn: Conn, links: list[str], operator_id: str, terminal_id: str,
            now: float) -> dict[str, str]:
    n = store.jobs.last_check(conn)
    checks = {link: f"C{n + i:010d}" for i, link in enumerate(links, start=1)}
    store.jobs.start_checks(conn, checks, operator_id, terminal_id, now)
    store.audit.record(conn, [AuditEntry(now, operator_id, terminal_id,
                                         f"consistency.{link}", check_id)
                              for link, check_id in checks.items()])
    return checks


# ---- mending a difference -------------------------------------------------------------

MEND_ACTIONS = ("resend", "explain")


@dataclass(frozen=True, slots=True)
class Announce:
    """A job's last step: the messages its start committed, told to their links."""

    items: tuple[OutboxItem, ...]
    attempts: int = 0

    def build(self, register: Register, now: float) -> tuple[list[OutboxItem], None]:
        return list(self.items), None

    def again(self) -> Announce:
        return self


def mend(register: Register, check_id: str, resident_code: str, action: str,
         reason: str | None, operator_id: str, terminal_id: str,
         now: float) -> tuple[dict[str, Any] | HubError, Announce | None]:
    """Resend or explain one difference of an answered check, in one transaction of
    the store writer: (the mend as shown, the resend to announce) or (the refusal,
    ``None``), nothing written then."""
    if action not in MEND_ACTIONS:
        return RequestError("unknown_action", "resend or explain", "action"), None
    if action == "explain" and not (reason or "").strip():
        return RequestError("reason_required", "say why the difference is explained",
                            "reason"), None
    store = register.store
    try:
        with register.job_transaction() as conn:
            found = store.jobs.check(conn, check_id)
            if found is None:
                raise HubError("unknown_check", "no consistency check has this id",
                               status=404)
            check, body = found
            differences = decode_result(body).differences if body is not None else ()
            if not any(d.resident_code == resident_code for d in differences):
                raise HubError("unknown_difference", "the check found no difference for "
                               "this resident", "resident_code", status=404)
            if resident_code in store.jobs.mends(conn, check_id):
                raise ConflictError("already_mended", "this difference was resent or "
                                    "explained already")
            item = (resends.resend_current(register, conn, check["link"], resident_code,
                                           operator_id, terminal_id, now)
                    if action == "resend" else None)
            done = "resent" if item is not None else "explained"
            update_seq = item.update_seq if item is not None else None
            store.jobs.record_mend(conn, check_id, resident_code, done, reason, update_seq,
                                   operator_id, terminal_id, now)
            store.audit.record(conn, [AuditEntry(now, operator_id, terminal_id,
                                                 f"consistency.mend.{action}", check_id,
                                                 update_seq)])
    except HubError as refused:  # rolled back: nothing written, the numbers given back
        return refused, None
    shown: dict[str, Any] = {"check_id": check_id, "resident_code": resident_code,
                             "action": done, "operator_id": operator_id,
                             "terminal_id": terminal_id, "decided_at": now}
    if reason:
        shown["reason"] = reason
    if item is not None:
        shown.update(update_seq=item.update_seq, link=item.link)
    return shown, Announce((item,) if item is not None else ())
