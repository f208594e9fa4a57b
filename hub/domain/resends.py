"""Resending a resident's current record to one peer as a correction (異常時更新).

When a peer's copy differs from the hub's (a consistency check's difference), or a
message on a chained link was discarded (a dead letter: the peer never applied it, and
every later one names it as the previous), staff resend the hub's record: the resident's
newest identity record, again, with its own 更新順番号 (the next one; logged, in
``identity_records``) and the 更新順番号 it corrects in item 30 異常時更新順番号.  The
peer takes it in place of what it holds, whatever it held before, and the resident's
chain of updates goes on from the corrected number: the register's own next change
still names it as the previous (the correction is not a change of the resident).

Runs in the store writer, inside the caller's transaction (it takes an 更新順番号 and a
link sequence).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hub.domain.errors import LogicError
from hub.domain.outcomes import OutboxItem
from hub.domain.register import Register
from hub.domain.resident import Resident
from hub.domain.routing import RESENDS, resend
from hub.store import Conn, RegisterWrites

LINKS = tuple(RESENDS)


def resend_current(register: Register, conn: Conn, link: str, resident_code: str,
                   operator_id: str, terminal_id: str, now: float) -> OutboxItem:
    """The resident's current record, queued for ``link`` as a correction; a
    ``LogicError`` when there is nothing to resend (``nothing_to_resend``: the hub holds
    no such resident, or the link never hears of them)."""
    store = register.store
    row = store.register.residents(conn, [resident_code]).get(resident_code)
    resident = Resident.from_row(row) if row is not None else None
    last = (store.register.identity_record(conn, resident.last_update_seq)
            if resident is not None else None)
    if resident is None or last is None:
        raise LogicError("nothing_to_resend", "the hub holds no record of this resident: "
                         "mark the difference explained", "resident_code")
    update_seq = register.numbers.next_update_seq()
    record = dataclasses.replace(
        last, update_seq=update_seq, abnormal_update_seq=resident.last_update_seq,
        operator_id=operator_id, terminal_id=terminal_id,
        timestamp=dt.datetime.fromtimestamp(now))
    msg = resend(link, record, resident)
    if msg is None:
        raise LogicError("nothing_to_resend", f"the {link} link carries no record of this "
                         "resident", "resident_code")
    store.register.write(conn, RegisterWrites(identities=[(record, resident.last_update_seq)]))
    rows: list[tuple[object, ...]] = []
    item = register.enqueue(rows, link, msg.kind, msg.payload, resident.resident_code,
                            update_seq, now)
    store.outbox.append(conn, rows)
    return item
