"""Building a consistency check (本人確認情報整合) in the store writer, slice by slice.

``start`` records one check per link (and the 操作ログ entry); ``build_slice`` reads the
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
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from hub.domain.register import OutboxItem, RegisterWriter
from hub.store.tables import audit_log, consistency_checks, identity_records, outbox, residents
from protocols.consistency import CheckRecord, ConsistencyChunk, encode_chunk

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

    def build(self, register: RegisterWriter, now: float
              ) -> tuple[list[OutboxItem], Slice | None]:
        return build_slice(register, self, now)

    def again(self) -> Slice:
        return dataclasses.replace(self, attempts=self.attempts + 1)


def start(register: RegisterWriter, links: list[str], operator_id: str, terminal_id: str,
          size: int, now: float) -> tuple[dict[str, str], Slice]:
    """Record a new check for each of ``links``: link -> check id, and the first slice."""
    checks: dict[str, str] = {}
    with register.engine.begin() as conn:
        last = conn.scalar(select(func.max(consistency_checks.c.check_id))) or "C0"
        n = int(last[1:])
        for link in links:
            n += 1
            checks[link] = f"C{n:010d}"
            conn.execute(insert(consistency_checks).values(
                check_id=checks[link], link=link, state="building", operator_id=operator_id,
                terminal_id=terminal_id, started_at=now, sent=0, chunks=0))
            conn.execute(insert(audit_log).values(
                at=now, operator_id=operator_id, terminal_id=terminal_id,
                request_id=checks[link], action=f"consistency.{link}"))
    return checks, Slice(checks, size)


_CURRENT = (select(residents.c.resident_code, identity_records.c.individual_number,
                   identity_records.c.name_kanji, identity_records.c.name_kana,
                   identity_records.c.birth_date, identity_records.c.sex,
                   identity_records.c.municipality_code, identity_records.c.address,
                   identity_records.c.record_status, identity_records.c.update_seq)
            .select_from(residents.join(
                identity_records, identity_records.c.update_seq == residents.c.last_update_seq))
            .order_by(residents.c.resident_code))


def build_slice(register: RegisterWriter, s: Slice,
                now: float) -> tuple[list[OutboxItem], Slice | None]:
    """One slice of every check in ``s``: the outbox items written, and the next slice."""
    with register.job_transaction() as conn:
        return _build(conn, register, s, now)


def _build(conn: Connection, register: RegisterWriter, s: Slice,
           now: float) -> tuple[list[OutboxItem], Slice | None]:
    rows = conn.execute(_CURRENT.where(residents.c.resident_code > s.after).limit(s.size)).all()
    records = tuple(CheckRecord(**r._mapping) for r in rows)
    final = len(rows) < s.size
    sent = s.sent + len(records)
    items: list[OutboxItem] = []
    out_rows = []
    for link, check_id in s.checks.items():
        chunk = ConsistencyChunk(check_id, register.municipality_code, s.chunk_no, final,
                                 sent if final else None, records)
        row, item = register.outbox_row(link, "consistency_chunk", encode_chunk(chunk),
                                        check_id, 0, now)
        out_rows.append(row)
        items.append(item)
        conn.execute(update(consistency_checks).where(
            consistency_checks.c.check_id == check_id).values(
            sent=sent, chunks=s.chunk_no, state="sent" if final else "building"))
    conn.execute(insert(outbox), out_rows)
    nxt = None if final else dataclasses.replace(
        s, after=records[-1].resident_code, chunk_no=s.chunk_no + 1, sent=sent, attempts=0)
    return items, nxt
