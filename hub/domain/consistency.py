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
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hub.domain.outcomes import OutboxItem
from hub.domain.register import Register
from hub.store import AuditEntry
from protocols.consistency import ConsistencyChunk, encode_chunk

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


def start(register: Register, links: list[str], operator_id: str, terminal_id: str,
          size: int, now: float) -> tuple[dict[str, str], Slice]:
    """Record a new check for each of ``links``: link -> check id, and the first slice."""
    store = register.store
    with store.transaction("job") as conn:
        n = store.jobs.last_check(conn)
        checks = {link: f"C{n + i:010d}" for i, link in enumerate(links, start=1)}
        store.jobs.start_checks(conn, checks, operator_id, terminal_id, now)
        store.audit.record(conn, [AuditEntry(now, operator_id, terminal_id,
                                             f"consistency.{link}", check_id)
                                  for link, check_id in checks.items()])
    return checks, Slice(checks, size)
