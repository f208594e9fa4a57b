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

from hub.config import SendConfig
from hub.domain import approvals
from hub.domain.errors import HubError, LogicError
from hub.domain.outcomes import OutboxItem
from hub.domain.register import Register
from hub.domain.resident import Resident
from hub.store import AuditEntry, Conn, Store
from protocols.charconv import char_length, gaiji_count, substitute
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

    def build(self, register: Register, now: float
              ) -> tuple[list[OutboxItem], BatchSlice | None]:
        """The next chunk of the batch: its outbox item, and the next slice."""
        size = self.cfg.chunk_records
        with register.job_transaction() as conn:
            store = register.store
            members = store.jobs.members(conn, self.batch_id, self.after, size)
            today = dt.date.fromtimestamp(now)
            dests = tuple(destination(Resident.from_row(r), self, register.municipality_code,
                                      today) for r in members)
            built = self.built + len(dests)
            final = len(members) < size or built >= self.total
            chunk = SendDestinationChunk(self.batch_id, register.municipality_code,
                                         self.chunk_no, final, built if final else None, dests)
            rows: list[tuple[object, ...]] = []
            item = register.enqueue(rows, "card", "send_destination", encode_chunk(chunk),
                                    self.batch_id, 0, now, self.batch_id)
            store.outbox.append(conn, rows)
            store.jobs.batch_progress(conn, self.batch_id, built, self.chunk_no, final)
        nxt = None if final else dataclasses.replace(
            self, after=dests[-1].resident_code, chunk_no=self.chunk_no + 1, built=built,
            attempts=0)
        return [item], nxt

    def again(self) -> BatchSlice:
        return dataclasses.replace(self, attempts=self.attempts + 1)


class _Refused(Exception):
    def __init__(self, error: HubError) -> None:
        self.error = error


def start(register: Register, cfg: SendConfig, codes: list[str] | None,
          print_class: str, operator_id: str, terminal_id: str, now: float,
          bulk_threshold: int | None = None,
          ) -> tuple[dict[str, Any] | HubError, BatchSlice | None]:
    """Record a batch; (its answer, the first slice) or (the refusal, None).  A batch of
    more than ``bulk_threshold`` people is a bulk output: recorded with its members but
    not built until a supervisor other than the requester approves it (its answer
    names the approval; no first slice)."""
    store = register.store
    selection = "list" if codes is not None else "needing_notice"
    try:
        with store.transaction("job") as conn:
            batch_id = f"S{store.jobs.last_batch(conn) + 1:010d}"
            if codes is not None:
                refusal = _member_refusal(store.jobs.member_states(conn, list(set(codes))),
                                          codes)
                if refusal is not None:
                    raise _Refused(refusal)  # rolls the transaction back: nothing written
            total = store.jobs.add_members(conn, batch_id, codes)
            held = bulk_threshold is not None and total > bulk_threshold
            store.jobs.start_batch(conn, {
                "batch_id": batch_id, "selection": selection, "print_class": print_class,
                "state": "awaiting_approval" if held else "building",
                "operator_id": operator_id, "terminal_id": terminal_id,
                "created_at": now, "total": total, "built": 0, "chunks": 0})
            approval = (approvals.request(store, conn, "send_batch", batch_id, total,
                                          operator_id, terminal_id, now) if held else None)
            store.audit.record(conn, [AuditEntry(now, operator_id, terminal_id,
                                                 "send_batch.start", batch_id,
                                                 count=total)])
    except _Refused as refused:
        return refused.error, None
    answer: dict[str, Any] = {"batch_id": batch_id, "selection": selection, "total": total}
    if approval is not None:
        return {**answer, "approval_id": approval, "state": "awaiting_approval"}, None
    return answer, BatchSlice(batch_id, cfg, print_class, operator_id, terminal_id, total)


def decided(cfg: SendConfig) -> approvals.Decided:
    """What a supervisor's decision does to a batch awaiting it: approved, it is built
    (as its requester's) from its first slice; refused, it never is."""
    def then(store: Store, conn: Conn, batch_id: str, approved: bool) -> BatchSlice | None:
        batch = store.jobs.batch(conn, batch_id)
        assert batch is not None, "an approval names a batch that exists"
        store.jobs.set_batch_state(conn, batch_id, "building" if approved else "refused")
        if not approved:
            return None
        return BatchSlice(batch_id, cfg, batch["print_class"], batch["operator_id"],
                          batch["terminal_id"], batch["total"])

    return then


def _member_refusal(states: dict[str, tuple[bool, bool]], codes: list[str]) -> HubError | None:
    """Every listed resident must be on the register, living, with a 個人番号; the
    refusal names the position in the list, never the code."""
    for i, code in enumerate(codes):
        state = states.get(code)
        rule = ("unknown_resident" if state is None
                else "change_to_removed_record" if state[0]
                else "no_individual_number" if not state[1] else None)
        if rule is not None:
            return LogicError(rule, f"residents[{i}]: {rule.replace('_', ' ')}",
                              f"residents[{i}]")
    return None


def destination(r: Resident, s: BatchSlice, municipality_code: str,
                today: dt.date) -> SendDestination:
    """The 67 items for one resident (one destination: the resident's own address)."""
    name, kana, address = r.name_kanji, r.name_kana, r.address
    assert r.birth_date is not None and r.individual_number is not None  # a member has both
    sub_name = substitute(name, kana=kana)
    sub_address = substitute(address, geta=True)
    c, i, k = s.cfg.city, s.cfg.issue_place, s.cfg.card_place
    return SendDestination(
        s.batch_id, r.postal_code, char_length(address), address, gaiji_count(address),
        char_length(name), name, gaiji_count(name),
        municipality_code, char_length(s.cfg.municipality_name), s.cfg.municipality_name,
        c.postal_code, char_length(c.address), c.address, gaiji_count(c.address), c.phone,
        char_length(i.name), i.name, gaiji_count(i.name), i.postal_code, char_length(i.address), i.address,
        gaiji_count(i.address), i.phone,
        char_length(k.name), k.name, gaiji_count(k.name), k.postal_code, char_length(k.address), k.address,
        gaiji_count(k.address), k.phone,
        1, today, s.operator_id, s.terminal_id, s.print_class,
        r.resident_code, char_length(name), name, gaiji_count(name), char_length(kana), kana,
        r.postal_code, char_length(address), address, gaiji_count(address),
        r.birth_date, r.sex, r.individual_number, r.article_30_45,
        r.residence_period_end,
        max(sub_name.result, sub_address.result), char_length(sub_name.text), sub_name.text,
        char_length(sub_address.text), sub_address.text, sub_name.positions, sub_address.positions,
        gaiji_count(name) + gaiji_count(address) > 0, None,
        None, None, None, None, None, None)


def progress(batch: dict[str, Any], undelivered: int) -> dict[str, Any]:
    """The batch as the API shows it: with how many chunks the card system has
    acknowledged (counted from what is not delivered yet: delivered chunks may have
    been purged), and ``delivered`` once they all are."""
    out = dict(batch)
    out["chunks_delivered"] = batch["chunks"] - undelivered
    if batch["state"] == "built" and out["chunks_delivered"] == batch["chunks"]:
        out["state"] = "delivered"
    return out
