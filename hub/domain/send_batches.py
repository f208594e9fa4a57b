"""Send-destination batches (送付先情報) for the card management system, built by the
store writer slice by slice.

``start`` checks and records a batch — a given list of residents, or everyone with a
個人番号 whose number notice has not been in any batch yet — with its 送付先管理番号 and
its members, in one transaction (the members are selected inside the database, so no
list of the whole city is ever held in memory).  Each ``BatchSlice`` then reads the
next members in 住民票コード order (keyset paging), builds their 67 items, writes one
``SendDestinationChunk`` to the card link's outbox and the progress to
``send_batches`` — one transaction each, changes committing in between.

Progress is what ``send_batches`` says (built, chunks) and what the card link has
acknowledged of the batch's chunks (their outbox rows carry the batch id as routing
key: a chunk the card system refuses holds back the rest of its batch only).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, literal, select, update

from hub.config import SendConfig
from hub.domain.errors import HubError, LogicError
from hub.domain.register import OutboxItem, RegisterWriter
from hub.store.tables import audit_log, link_state, outbox, residents, send_batch_members, send_batches
from protocols.charconv import gaiji_count, substitute
from protocols.senddest import SendDestination, SendDestinationChunk, encode_chunk


@dataclass(frozen=True, slots=True)
class BatchSlice:
    """A store-writer job: the next slice of one batch."""

    batch_id: str
    cfg: SendConfig
    print_class: str
    operator_id: str
    terminal_id: str
    total: int
    after: str = ""
    chunk_no: int = 1
    built: int = 0
    attempts: int = 0

    def build(self, register: RegisterWriter, now: float
              ) -> tuple[list[OutboxItem], BatchSlice | None]:
        with register.job_transaction() as conn:
            return _build(conn, register, self, now)

    def again(self) -> BatchSlice:
        return dataclasses.replace(self, attempts=self.attempts + 1)


def start(register: RegisterWriter, cfg: SendConfig, codes: list[str] | None,
          print_class: str, operator_id: str, terminal_id: str,
          now: float) -> tuple[dict[str, Any] | HubError, BatchSlice | None]:
    """Record a batch; (its answer, the first slice) or (the refusal, None)."""
    with register.engine.begin() as conn:
        last = conn.scalar(select(func.max(send_batches.c.batch_id))) or "S0"
        batch_id = f"S{int(last[1:]) + 1:010d}"
        if codes is not None:
            refusal = _check_members(conn, codes)
            if refusal is not None:
                conn.rollback()
                return refusal, None
            conn.execute(insert(send_batch_members), [
                {"batch_id": batch_id, "resident_code": c} for c in dict.fromkeys(codes)])
        else:
            # Everyone living with a 個人番号 not yet in any batch, chosen in the database.
            already = select(send_batch_members.c.resident_code)
            conn.execute(insert(send_batch_members).from_select(
                ["batch_id", "resident_code"],
                select(literal(batch_id), residents.c.resident_code).where(
                    residents.c.individual_number.is_not(None),
                    residents.c.removed.is_(False),
                    residents.c.resident_code.not_in(already))))
        total = conn.scalar(select(func.count()).select_from(send_batch_members).where(
            send_batch_members.c.batch_id == batch_id)) or 0
        selection = "list" if codes is not None else "needing_notice"
        conn.execute(insert(send_batches).values(
            batch_id=batch_id, selection=selection, print_class=print_class, state="building",
            operator_id=operator_id, terminal_id=terminal_id, created_at=now, total=total,
            built=0, chunks=0))
        conn.execute(insert(audit_log).values(
            at=now, operator_id=operator_id, terminal_id=terminal_id, request_id=batch_id,
            action=f"send_destination.{selection}"))
    answer = {"batch_id": batch_id, "selection": selection, "total": total}
    return answer, BatchSlice(batch_id, cfg, print_class, operator_id, terminal_id, total)


def _check_members(conn: Connection, codes: list[str]) -> HubError | None:
    """Every listed resident must be on the register, living, with a 個人番号; the
    refusal names the position in the list, never the code."""
    found: dict[str, Any] = {}
    unique = list(dict.fromkeys(codes))
    for i in range(0, len(unique), 500):
        part = unique[i : i + 500]
        for row in conn.execute(select(residents.c.resident_code, residents.c.removed,
                                       residents.c.individual_number)
                                .where(residents.c.resident_code.in_(part))):
            found[row.resident_code] = row
    for i, code in enumerate(codes):
        member = found.get(code)
        rule = ("unknown_resident" if member is None
                else "change_to_removed_record" if member.removed
                else "no_individual_number" if member.individual_number is None else None)
        if rule is not None:
            return LogicError(rule, f"residents[{i}]: {rule.replace('_', ' ')}",
                              f"residents[{i}]")
    return None


_MEMBERS = (select(residents)
            .join(send_batch_members, and_(
                send_batch_members.c.resident_code == residents.c.resident_code))
            .order_by(residents.c.resident_code))


def _build(conn: Connection, register: RegisterWriter, s: BatchSlice,
           now: float) -> tuple[list[OutboxItem], BatchSlice | None]:
    size = s.cfg.chunk_records
    rows = conn.execute(_MEMBERS.where(send_batch_members.c.batch_id == s.batch_id,
                                       residents.c.resident_code > s.after).limit(size)).all()
    today = dt.date.fromtimestamp(now)
    dests = tuple(destination(r._mapping, s, register.municipality_code, today) for r in rows)
    built = s.built + len(dests)
    final = len(rows) < size or built >= s.total
    chunk = SendDestinationChunk(s.batch_id, register.municipality_code, s.chunk_no, final,
                                 built if final else None, dests)
    row, item = register.outbox_row("card", "send_destination", encode_chunk(chunk),
                                    s.batch_id, 0, now)
    conn.execute(insert(outbox), [row])
    conn.execute(update(send_batches).where(send_batches.c.batch_id == s.batch_id).values(
        built=built, chunks=s.chunk_no, state="built" if final else "building"))
    nxt = None if final else dataclasses.replace(
        s, after=dests[-1].resident_code, chunk_no=s.chunk_no + 1, built=built, attempts=0)
    return [item], nxt


def destination(r: Any, s: BatchSlice, municipality_code: str,
                today: dt.date) -> SendDestination:
    """The 67 items for one resident (one destination: the resident's own address)."""
    name, kana, address = r["name_kanji"], r["name_kana"], r["address"]
    sub_name = substitute(name, kana=kana)
    sub_address = substitute(address, geta=True)
    c, i, k = s.cfg.city, s.cfg.issue_place, s.cfg.card_place
    return SendDestination(
        s.batch_id, r["postal_code"], len(address), address, gaiji_count(address),
        len(name), name, gaiji_count(name),
        municipality_code, len(s.cfg.municipality_name), s.cfg.municipality_name,
        c.postal_code, len(c.address), c.address, gaiji_count(c.address), c.phone,
        len(i.name), i.name, gaiji_count(i.name), i.postal_code, len(i.address), i.address,
        gaiji_count(i.address), i.phone,
        len(k.name), k.name, gaiji_count(k.name), k.postal_code, len(k.address), k.address,
        gaiji_count(k.address), k.phone,
        1, today, s.operator_id, s.terminal_id, s.print_class,
        r["resident_code"], len(name), name, gaiji_count(name), len(kana), kana,
        r["postal_code"], len(address), address, gaiji_count(address),
        r["birth_date"], r["sex"], r["individual_number"], r["article_30_45"],
        r["residence_period_end"],
        max(sub_name.result, sub_address.result), len(sub_name.text), sub_name.text,
        len(sub_address.text), sub_address.text, sub_name.positions, sub_address.positions,
        gaiji_count(name) + gaiji_count(address) > 0, None,
        None, None, None, None, None, None)


def progress(conn: Connection, batch_id: str) -> dict[str, Any] | None:
    """The batch as the API shows it, with how many chunks the card system acknowledged."""
    row = conn.execute(select(send_batches).where(send_batches.c.batch_id == batch_id)).first()
    if row is None:
        return None
    acked = conn.scalar(select(link_state.c.acked_seq).where(link_state.c.link == "card")) or 0
    # Counted from what is not delivered yet: delivered chunks may have been purged.
    waiting = conn.scalar(select(func.count()).select_from(outbox).where(
        outbox.c.link == "card", outbox.c.resident_key == batch_id,
        (outbox.c.seq > acked) | (outbox.c.state != "pending"))) or 0
    delivered = row.chunks - waiting
    out = dict(row._mapping)
    out["chunks_delivered"] = delivered
    if row.state == "built" and delivered == row.chunks:
        out["state"] = "delivered"
    return out
