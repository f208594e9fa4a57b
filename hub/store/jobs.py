"""The long jobs' tables: ``consistency_checks`` (整合性確認 runs per link and their
progress), ``send_batches`` and ``send_batch_members`` (送付先情報 batches for the card
system).  Jobs are built slice by slice in the store writer, each slice reading the next
residents in 住民票コード order (keyset paging: memory stays bounded whatever the size
of the register)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.store.base import Db, Sql, chunks, named, to_date
from hub.store.register import RESIDENT_COLUMNS, RegisterStore
from protocols.consistency import CHECK_ITEMS, CheckRecord

CHECK_COLUMNS = ("check_id", "link", "state", "operator_id", "terminal_id", "started_at",
                 "sent", "chunks", "answered_at", "compared", "held", "differences", "inbox_id")
_MEND_COLUMNS = ("resident_code", "action", "reason", "update_seq", "operator_id",
                 "terminal_id", "decided_at")
BATCH_COLUMNS = ("batch_id", "selection", "print_class", "state", "operator_id",
                 "terminal_id", "created_at", "total", "built", "chunks")


class JobStore:
    def __init__(self, sql: Sql, register: RegisterStore) -> None:
        self.sql = sql
        self.register = register
        self._current = sql.text(
            "SELECT r.resident_code, " + ", ".join(f"i.{c}" for c in CHECK_ITEMS)
            + " FROM residents r JOIN identity_records i ON i.update_seq = r.last_update_seq"
            " WHERE r.resident_code > ? ORDER BY r.resident_code LIMIT ?")
        # Walks the residents in (世帯番号, 住民票コード) order from the key, along their
        # index, keeping the batch's members, and stops at the limit: a slice costs what
        # it reads, never a sort of the whole batch (which made a city's batch quadratic).
        self._members = sql.text(
            "SELECT " + ", ".join(f"r.{c}" for c in RESIDENT_COLUMNS)
            + " FROM residents r WHERE (r.household_number, r.resident_code) > (?, ?)"
            " AND EXISTS (SELECT 1 FROM send_batch_members m WHERE m.batch_id = ? AND"
            " m.resident_code = r.resident_code)"
            " ORDER BY r.household_number, r.resident_code LIMIT ?")

    # ---- consistency checks -------------------------------------------------------------

    @named("jobs.last_check")
    def last_check(self, db: Db) -> int:
        """The number of the newest check id (``C`` + 10 digits), 0 before any."""
        last = db.scalar("SELECT max(check_id) FROM consistency_checks")
        return int(last[1:]) if last else 0

    @named("jobs.start_checks")
    def start_checks(self, db: Db, checks: dict[str, str], operator_id: str,
                     terminal_id: str, now: float) -> None:
        """Record a check per link (link -> check id), building, nothing sent."""
        db.many(self.sql.text(
            "INSERT INTO consistency_checks (check_id, link, state, operator_id, terminal_id, "
            "started_at, sent, chunks) VALUES (?, ?, 'building', ?, ?, ?, 0, 0)"),
            [(c, link, operator_id, terminal_id, now) for link, c in checks.items()])

    @named("jobs.current_identities")
    def current_identities(self, db: Db, after: str,
                           limit: int) -> list[CheckRecord]:
        """The next ``limit`` residents' current identity items after 住民票コード ``after``."""
        return [_check_record(r) for r in db.rows(self._current, (after, limit))]

    @named("jobs.check_progress")
    def check_progress(self, db: Db, check_ids: Sequence[str], sent: int,
                       chunks_sent: int, final: bool) -> None:
        db.many(self.sql.text(
            "UPDATE consistency_checks SET sent = ?, chunks = ?, state = ? WHERE check_id = ?"),
            [(sent, chunks_sent, "sent" if final else "building", c) for c in check_ids])

    @named("jobs.check_answered")
    def check_answered(self, db: Db, link: str, check_id: str, compared: int,
                       held: int, differences: int, inbox_id: int, now: float) -> None:
        db.run(self.sql.text(
            "UPDATE consistency_checks SET state = 'answered', answered_at = ?, compared = ?, "
            "held = ?, differences = ?, inbox_id = ? WHERE check_id = ? AND link = ?"),
            (now, compared, held, differences, inbox_id, check_id, link))

    @named("jobs.latest_differences")
    def latest_differences(self, db: Db, link: str) -> int | None:
        """How many differences the newest answered check of ``link`` found (``None``
        before any)."""
        found = db.scalar(self.sql.text(
            "SELECT differences FROM consistency_checks WHERE link = ? AND state = 'answered' "
            "ORDER BY answered_at DESC, check_id DESC LIMIT 1"), (link,))
        return int(found) if found is not None else None

    @named("jobs.check")
    def check(self, db: Db, check_id: str) -> tuple[dict[str, Any], bytes | None] | None:
        """A check's row, and the peer's result document once answered."""
        row = db.row(self.sql.text(
            f"SELECT {', '.join(CHECK_COLUMNS)} FROM consistency_checks WHERE check_id = ?"),
            (check_id,))
        if row is None:
            return None
        check = dict(zip(CHECK_COLUMNS, row, strict=True))
        body = None
        if check["inbox_id"] is not None:
            body = db.scalar(self.sql.text("SELECT body FROM inbox WHERE id = ?"),
                             (check["inbox_id"],))
        return check, bytes(body) if body is not None else None

    @named("jobs.last_checks")
    def last_checks(self, db: Db) -> dict[str, float]:
        """link -> when its newest check (staff's or the schedule's) started."""
        return {link: float(at) for link, at in db.rows(
            "SELECT link, max(started_at) FROM consistency_checks GROUP BY link")}

    @named("jobs.mends")
    def mends(self, db: Db, check_id: str) -> dict[str, dict[str, Any]]:
        """住民票コード -> what staff did about that difference of the check."""
        return {r[0]: {k: v for k, v in zip(_MEND_COLUMNS[1:], r[1:], strict=True)
                       if v is not None}
                for r in db.rows(self.sql.text(
                    f"SELECT {', '.join(_MEND_COLUMNS)} FROM consistency_mends "
                    "WHERE check_id = ?"), (check_id,))}

    @named("jobs.record_mend")
    def record_mend(self, db: Db, check_id: str, resident_code: str, action: str,
                    reason: str | None, update_seq: int | None, operator_id: str,
                    terminal_id: str, now: float) -> None:
        db.insert(self.sql.insert("consistency_mends", (
            "check_id", "resident_code", *_MEND_COLUMNS[1:])),
            [(check_id, resident_code, action, reason, update_seq, operator_id,
              terminal_id, now)])

    # ---- send-destination batches -------------------------------------------------------

    @named("jobs.last_batch")
    def last_batch(self, db: Db) -> int:
        last = db.scalar("SELECT max(batch_id) FROM send_batches")
        return int(last[1:]) if last else 0

    @named("jobs.member_states")
    def member_states(self, db: Db,
                      codes: Sequence[str]) -> dict[str, tuple[bool, bool]]:
        """住民票コード -> (removed, has a 個人番号), for those on the register."""
        found: dict[str, tuple[bool, bool]] = {}
        for part in chunks(codes):
            for code, removed, number in db.rows(
                    "SELECT resident_code, removed, individual_number FROM residents WHERE "
                    f"resident_code IN ({self.sql.marks(len(part))})", part):
                found[code] = (bool(removed), number is not None)
        return found

    @named("jobs.add_members")
    def add_members(self, db: Db, batch_id: str, codes: Sequence[str] | None) -> int:
        """Put the listed residents in the batch — or, with ``None``, everyone living
        with a 個人番号 who was never in a batch, chosen inside the database.  How many."""
        if codes is not None:
            db.many(self.sql.text(
                "INSERT INTO send_batch_members (batch_id, resident_code) VALUES (?, ?)"),
                [(batch_id, c) for c in dict.fromkeys(codes)])
        else:
            db.run(self.sql.text(
                "INSERT INTO send_batch_members (batch_id, resident_code) SELECT ?, "
                "resident_code FROM residents WHERE individual_number IS NOT NULL AND "
                "removed = ? AND resident_code NOT IN (SELECT resident_code FROM "
                "send_batch_members)"), (batch_id, False))
        return int(db.scalar(self.sql.text(
            "SELECT count(*) FROM send_batch_members WHERE batch_id = ?"), (batch_id,)) or 0)

    @named("jobs.start_batch")
    def start_batch(self, db: Db, batch: dict[str, Any]) -> None:
        db.insert(self.sql.insert("send_batches", BATCH_COLUMNS),
                  [tuple(batch[c] for c in BATCH_COLUMNS)])

    @named("jobs.members")
    def members(self, db: Db, batch_id: str, after: tuple[str, str],
                limit: int) -> list[dict[str, Any]]:
        """The batch's next residents (whole rows), household by household: after
        (世帯番号, 住民票コード) ``after``."""
        household, code = after
        return [self.register.row(r) for r in db.rows(self._members, (
            household, code, batch_id, limit))]

    @named("jobs.household_sizes")
    def household_sizes(self, db: Db, batch_id: str,
                        households: Sequence[str]) -> dict[str, int]:
        """世帯番号 -> how many of the batch's members are of that household."""
        found: dict[str, int] = {}
        for part in chunks(households):
            for number, n in db.rows(self.sql.text(
                    "SELECT r.household_number, count(*) FROM residents r JOIN "
                    "send_batch_members m ON m.resident_code = r.resident_code WHERE "
                    f"m.batch_id = ? AND r.household_number IN ({self.sql.marks(len(part))})"
                    " GROUP BY r.household_number"), (batch_id, *part)):
                found[number] = int(n)
        return found

    @named("jobs.household_heads")
    def household_heads(self, db: Db, households: Sequence[str]) -> dict[str, dict[str, Any]]:
        """世帯番号 -> its living 世帯主 (a whole row), for those that have one."""
        found: dict[str, dict[str, Any]] = {}
        for part in chunks(households):
            for r in db.rows(self.sql.text(
                    f"SELECT {', '.join(RESIDENT_COLUMNS)} FROM residents WHERE "
                    f"household_number IN ({self.sql.marks(len(part))}) AND removed = ? "
                    "AND relationship = ? ORDER BY resident_code"), (*part, False, "世帯主")):
                row = self.register.row(r)
                found.setdefault(row["household_number"], row)
        return found

    @named("jobs.batch_progress")
    def batch_progress(self, db: Db, batch_id: str, built: int, chunks_sent: int,
                       final: bool) -> None:
        db.run(self.sql.text(
            "UPDATE send_batches SET built = ?, chunks = ?, state = ? WHERE batch_id = ?"),
            (built, chunks_sent, "built" if final else "building", batch_id))

    @named("jobs.batch_state")
    def set_batch_state(self, db: Db, batch_id: str, state: str) -> None:
        db.run(self.sql.text("UPDATE send_batches SET state = ? WHERE batch_id = ?"),
               (state, batch_id))

    @named("jobs.batch")
    def batch(self, db: Db, batch_id: str) -> dict[str, Any] | None:
        row = db.row(self.sql.text(
            f"SELECT {', '.join(BATCH_COLUMNS)} FROM send_batches WHERE batch_id = ?"),
            (batch_id,))
        return dict(zip(BATCH_COLUMNS, row, strict=True)) if row is not None else None


    # ---- every job, for the status view ----------------------------------------------

    @named("jobs.recent")
    def recent(self, db: Db, limit: int) -> list[dict[str, Any]]:
        """The newest consistency checks, send-destination batches and exports, newest
        first: what each has done so far (records) of how many."""
        out: list[dict[str, Any]] = []
        for c, link, state, sent, started, answered, diffs in db.rows(self.sql.text(
                "SELECT check_id, link, state, sent, started_at, answered_at, differences "
                "FROM consistency_checks ORDER BY started_at DESC LIMIT ?"), (limit,)):
            out.append({"kind": "consistency_check", "id": c, "link": link, "state": state,
                        "done": sent, "total": None, "started_at": started,
                        "finished_at": answered, "differences": diffs})
        for b, state, total, built, created in db.rows(self.sql.text(
                "SELECT batch_id, state, total, built, created_at FROM send_batches "
                "ORDER BY created_at DESC LIMIT ?"), (limit,)):
            out.append({"kind": "send_batch", "id": b, "state": state, "done": built,
                        "total": total, "started_at": created, "finished_at": None})
        for e, state, people, at, written in db.rows(self.sql.text(
                "SELECT e.export_id, e.state, e.people, e.requested_at, (SELECT max("
                "m.written_at) FROM media m WHERE m.subject = e.export_id) FROM exports e "
                "ORDER BY e.requested_at DESC LIMIT ?"), (limit,)):
            out.append({"kind": "export", "id": e, "state": "written" if written else state,
                        "done": people if written else 0, "total": people,
                        "started_at": at, "finished_at": written})
        out.sort(key=lambda j: -j["started_at"])
        return out[:limit]

    @named("jobs.residents")
    def residents(self, db: Db) -> int:
        """Residents in the register (a consistency check's size)."""
        return int(db.scalar("SELECT count(*) FROM residents") or 0)


def _check_record(r: Any) -> CheckRecord:
    birth = to_date(r[4])
    assert birth is not None  # NOT NULL
    return CheckRecord(r[0], r[1], r[2], r[3], birth, *r[5:])
