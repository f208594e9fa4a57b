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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hub.config import SendConfig
from hub.domain import approvals
from hub.domain.errors import HubError, LogicError
from hub.domain.outcomes import OutboxItem
from hub.domain.register import Register
from hub.domain.resident import Resident
from hub.store import AuditEntry, Conn, Store
from protocols.charconv import char_length, characters, gaiji_count, is_gaiji, substitute
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
    after: tuple[str, str] = ("", "")  # (世帯番号, 住民票コード) of the last member built
    chunk_no: int = 1
    built: int = 0
    attempts: int = 0
    destinations: int = 0  # destinations numbered so far (送付先管理番号)
    last_to: Resident | None = None  # the last destination (a household may go on)

    def build(self, register: Register, now: float
              ) -> tuple[list[OutboxItem], BatchSlice | None]:
        """The next chunk of the batch: its outbox item, and the next slice."""
        size = self.cfg.chunk_records
        with register.job_transaction() as conn:
            store = register.store
            members = [Resident.from_row(r)
                       for r in store.jobs.members(conn, self.batch_id, self.after, size)]
            today = dt.date.fromtimestamp(now)
            destinations, last_to, dests = self.destinations, self.last_to, []
            for member, to, persons in self._addressed(store, conn, members):
                if last_to is None or _key(to, self.cfg) != _key(last_to, self.cfg):
                    destinations += 1
                last_to = to
                number = f"{self.batch_id}{destinations:07d}"
                dests.append(destination(member, to, number, persons, self,
                                         register.municipality_code, today))
            built = self.built + len(dests)
            final = len(members) < size or built >= self.total
            chunk = SendDestinationChunk(self.batch_id, register.municipality_code,
                                         self.chunk_no, final, built if final else None,
                                         tuple(dests))
            rows: list[tuple[object, ...]] = []
            item = register.enqueue(rows, "card", "send_destination", encode_chunk(chunk),
                                    self.batch_id, 0, now, self.batch_id)
            store.outbox.append(conn, rows)
            store.jobs.batch_progress(conn, self.batch_id, built, self.chunk_no, final)
        nxt = None if final else dataclasses.replace(
            self, after=(members[-1].household_number, members[-1].resident_code),
            chunk_no=self.chunk_no + 1, built=built, attempts=0, destinations=destinations,
            last_to=last_to)
        return [item], nxt

    def _addressed(self, store: Store, conn: Conn, members: list[Resident],
                   ) -> Iterator[tuple[Resident, Resident, int]]:
        """Each member with the destination of their notice and how many go there: per
        household (the 世帯主, or without one its first member in the batch; every
        member of the batch in it), or each to their own address."""
        if not self.cfg.per_household:
            for m in members:
                yield m, m, 1
            return
        numbers = list(dict.fromkeys(m.household_number for m in members))
        sizes = store.jobs.household_sizes(conn, self.batch_id, numbers)
        heads = {n: Resident.from_row(r)
                 for n, r in store.jobs.household_heads(conn, numbers).items()}
        if self.last_to is not None:  # a household the last chunk began goes on
            heads.setdefault(self.last_to.household_number, self.last_to)
        for m in members:
            to = heads.setdefault(m.household_number, m)  # no 世帯主: its first member
            yield m, to, sizes[m.household_number]


def _key(to: Resident, cfg: SendConfig) -> str:
    """What makes a destination one: its household, or its resident."""
    return to.household_number if cfg.per_household else to.resident_code

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


def destination(r: Resident, to: Resident, number: str, persons: int, s: BatchSlice,
                municipality_code: str, today: dt.date) -> SendDestination:
    """The 67 items for one resident ``r`` whose notice goes to ``to`` (the 世帯主, or
    themselves) under 送付先管理番号 ``number``, with ``persons`` going there."""
    name, kana, address = r.name_kanji, r.name_kana, r.address
    assert r.birth_date is not None and r.individual_number is not None  # a member has both
    sub_name = substitute(name, kana=kana)
    sub_address = substitute(address, geta=True)
    c, i, k = s.cfg.city, s.cfg.issue_place, s.cfg.card_place
    old = r.old_surname_kanji
    return SendDestination(
        number, to.postal_code, char_length(to.address), to.address, gaiji_count(to.address),
        char_length(to.name_kanji), to.name_kanji, gaiji_count(to.name_kanji),
        municipality_code, char_length(s.cfg.municipality_name), s.cfg.municipality_name,
        c.postal_code, char_length(c.address), c.address, gaiji_count(c.address), c.phone,
        char_length(i.name), i.name, gaiji_count(i.name), i.postal_code, char_length(i.address), i.address,
        gaiji_count(i.address), i.phone,
        char_length(k.name), k.name, gaiji_count(k.name), k.postal_code, char_length(k.address), k.address,
        gaiji_count(k.address), k.phone,
        persons, today, s.operator_id, s.terminal_id, s.print_class,
        r.resident_code, char_length(name), name, gaiji_count(name), char_length(kana), kana,
        r.postal_code, char_length(address), address, gaiji_count(address),
        r.birth_date, r.sex, r.individual_number, r.article_30_45,
        r.residence_period_end,
        max(sub_name.result, sub_address.result), char_length(sub_name.text), sub_name.text,
        char_length(sub_address.text), sub_address.text, sub_name.positions, sub_address.positions,
        gaiji_count(name) + gaiji_count(address) > 0,
        gaiji_pattern(name, address, old),
        old, gaiji_count(old) if old is not None else None, r.old_surname_kana,
        r.old_surname_gaiji_change_seq if old is not None else None,
        r.romaji_name, r.romaji_old_surname)


def gaiji_pattern(*texts: str | None) -> str | None:
    """61 外字パターン: the 外字 the printer needs for the person's name, address and
    旧氏 — each once, in order, as its code points (``U+9089_U+E0102`` for a kanji with
    its variation selector); ``None`` when there is none."""
    seen = dict.fromkeys(ch for text in texts for ch in characters(text or "")
                         if is_gaiji(ch))
    if not seen:
        return None
    return " ".join("_".join(f"U+{ord(c):04X}" for c in ch) for ch in seen)


def progress(batch: dict[str, Any], undelivered: int) -> dict[str, Any]:
    """The batch as the API shows it: with how many chunks the card system has
    acknowledged (counted from what is not delivered yet: delivered chunks may have
    been purged), and ``delivered`` once they all are."""
    out = dict(batch)
    out["chunks_delivered"] = batch["chunks"] - undelivered
    if batch["state"] == "built" and out["chunks_delivered"] == batch["chunks"]:
        out["state"] = "delivered"
    return out
