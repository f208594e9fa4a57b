"""Applying requests to the register: the logic checks, then the writes, in one
transaction.

A batch reads what it needs up front (``WorkingSet``: request ids already answered,
the residents concerned, who holds each unique item), applies each request in order
against that working set — so a batch sees its own earlier changes — and writes every
table once at the end.  A request is a register change (``hub.domain.rules`` checks
it), a card event, or staff's decision on a manual-answer request of the intermediate
server (refused with ``unknown_item``, ``already_decided`` or ``unknown_person``).

A repeated 依頼管理番号 returns its first answer (``request_id_reused`` if the body
differs).  A refused request writes nothing.

One ``Register`` exists per hub, used only by its store writer actor.  The numbers it
hands out (``Numbering``: 更新順番号, card event numbers, 団体内統合宛名番号, each link's
sequence) come from the database: read inside each writing transaction the first time
one is needed (``writing``) and saved with it.  Every writing transaction holds the
store's write lock (``Store.transaction``), so however many hubs share the store, a
number is read after the last commit that took one — never used twice nor skipped — and
a transaction that fails gives back nothing, because nothing was kept.  The working
set's reads come after that lock too: no other hub's writer can change a resident
between this batch's read and its write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hub.domain import cards, households, identity, manual_answers, moves, rules
from hub.domain.changes import CardEventRequest, Change, ManualDecision
from hub.domain.errors import ConflictError, LogicError, UnavailableError
from hub.domain.numbering import Numbering
from hub.domain.operations import MAINTENANCE, intake_closed
from hub.domain.outcomes import OutboxItem, Outcome, Request
from hub.domain.resident import Resident
from hub.domain.routing import route
from hub.domain.working_set import WorkingSet
from hub.store import AuditEntry, Conn, Flag, Store
from protocols.national import TransferInNotice


class Register:
    """Applies requests to the store; see the module docstring."""

    def __init__(self, store: Store, municipality_code: str, enabled_links: frozenset[str],
                 wall_clock: Callable[[], float]) -> None:
        self.store = store
        self.municipality_code = municipality_code
        self.enabled_links = enabled_links
        self.wall_clock = wall_clock
        # Every enabled link has its link_state row from the start, so acknowledgements
        # and inbound records always find one.
        with store.transaction("startup") as conn:
            store.link_state.create(conn, sorted(enabled_links - store.link_state.all(conn).keys()))
        self._conn: Conn | None = None           # the writing transaction, while open
        self._numbers: Numbering | None = None   # read in it when first needed
        self._taken_from: Numbering | None = None
        self._maintenance: tuple[Flag | None] | None = None

    @contextmanager
    def writing(self, conn: Conn) -> Iterator[Conn]:
        """A writing transaction of the store writer's (``conn``, holding the store's
        write lock): the numbers it takes are read in it when first needed, and the
        links' next sequences it moved are saved in it at the end."""
        self._conn, self._numbers, self._maintenance = conn, None, None
        try:
            yield conn
            if self._numbers is not None and self._taken_from is not None:
                self.store.link_state.save_next(conn, self._numbers.moved(self._taken_from))
        finally:
            self._conn = self._numbers = self._taken_from = self._maintenance = None

    def _open(self) -> None:
        """The numbers and maintenance mode as the database has them in this writing
        transaction: read together, when first needed (an acknowledgement's
        transaction needs neither)."""
        conn = self._conn
        assert conn is not None, "read only inside Register.writing"
        o = self.store.register.opening(conn, MAINTENANCE)
        self._numbers = Numbering(o.update_seq + 1, o.card + 1, o.atena + 1, o.next_seqs)
        self._taken_from = self._numbers.snapshot()
        self._maintenance = (o.flag,)

    @property
    def numbers(self) -> Numbering:
        """The next numbers, as the database has them in this writing transaction."""
        if self._numbers is None:
            self._open()
        assert self._numbers is not None
        return self._numbers

    @property
    def maintenance(self) -> Flag | None:
        """Maintenance mode as the store has it now (read once per transaction): no
        change commits while it is on, whichever hub's intake took it."""
        if self._maintenance is None:
            self._open()
        assert self._maintenance is not None
        return self._maintenance[0]

    # ---- batches ---------------------------------------------------------------------

    def apply(self, conn: Conn, changes: list[Request]) -> list[Outcome]:
        """Apply ``changes`` inside the caller's ``writing`` transaction."""
        ws = WorkingSet(self.store, conn, changes)
        outcomes = [self._apply_one(ws, c) for c in changes]
        ws.write(self.store, conn)
        return outcomes

    def apply_batch(self, changes: list[Request]) -> list[Outcome]:
        """Apply ``changes`` in a transaction of their own.  The store writer uses
        ``apply`` inside its group commit instead."""
        with self.job_transaction() as conn:
            return self.apply(conn, changes)

    @contextmanager
    def job_transaction(self, name: str = "job") -> Iterator[Conn]:
        """A writing transaction of a long job (a slice of a check or a batch) that may
        take numbers (``message``, ``numbers``): they are saved with it."""
        with self.store.transaction(name) as conn, self.writing(conn):
            yield conn

    def enqueue(self, rows: list[tuple[object, ...]], link: str, kind: str, payload: bytes,
                resident_key: str, update_seq: int, now: float,
                correlation_id: str = "") -> OutboxItem:
        """The next message of ``link``; its outbox row is added to ``rows``."""
        item = self.numbers.message(link, payload, resident_key, update_seq, now,
                                    correlation_id)
        rows.append(item.row(kind))
        return item

    # ---- one request -----------------------------------------------------------------

    def _apply_one(self, ws: WorkingSet, request: Request) -> Outcome:
        prior = ws.requests.get(request.request_id)
        if prior is not None:
            return _repeated(request, *prior)
        if self.maintenance is not None and type(request) in _HELD_IN_MAINTENANCE:
            closed = intake_closed(self.maintenance, {}, 0)
            assert closed is not None
            return Outcome(request.request_id, reason=closed.code,
                           error=UnavailableError(closed.code, closed.message))
        return _APPLY[type(request)](self, ws, request)

    def _apply_change(self, ws: WorkingSet, request: Change) -> Outcome:
        """A register change: its logic rules against the working set, then its writes."""
        current = ws.residents[request.resident_code]
        try:
            moves.check_certificate(request)  # a domestic 転入: is it its certificate's?
            request = moves.kept_from_certificate(request)
            rules.check_change(request, current, ws.holders, self.municipality_code)
            if current is not None:
                households.check(request, current, {
                    n: ws.household(n) for n in households.households_read(request, current)})
        except LogicError as err:
            return Outcome(request.request_id, error=err, reason=err.code)
        return self._change(ws, request, current)

    # ---- a 転入通知 for a 転出 of this city ---------------------------------------------------

    def transfer_in(self, conn: Conn, notice: TransferInNotice) -> moves.Confirmation:
        """The destination's 転入通知: the 転出 it answers confirmed (転出確定), once."""
        row = self.store.register.residents(conn, [notice.resident_code]).get(
            notice.resident_code)
        found = moves.confirmation(notice, self.municipality_code,
                                   Resident.from_row(row) if row is not None else None)
        if found.state == "confirmed" and not self.store.register.confirm_move_out(
                conn, notice.resident_code, found.confirmed_date):
            return moves.Confirmation("already_confirmed", found.move_out_update_seq)
        return found

    def _change(self, ws: WorkingSet, change: Change, current: Resident | None) -> Outcome:
        now = self.wall_clock()
        # 世帯主変更: the former 世帯主 (found before the new one is written) changes too.
        former = (households.former_head_change(change, ws.household(current.household_number))
                  if change.former_head_relationship is not None and current is not None
                  else None)
        update_seq, items = self._write(ws, change, current, now)
        response: dict[str, Any] = {"request_id": change.request_id, "status": "accepted",
                                    "update_seq": update_seq}
        if change.new_resident_code is not None:
            response["resident_code"] = change.new_resident_code  # J-LIS's new code
        if former is not None:  # their 続柄 to the new one, as its own update
            who, theirs = former
            also_seq, also_items = self._write(ws, theirs, ws.adopt(who), now)
            items += also_items
            response["also"] = [{"resident_code": who.resident_code, "update_seq": also_seq}]
        response["links"] = list(dict.fromkeys(i.link for i in items))
        ws.remember(change, update_seq, response, now)
        ws.audit.append(AuditEntry(now, change.operator_id, change.terminal_id,
                                   f"change.{change.reason.value}", change.request_id,
                                   update_seq))
        return Outcome(change.request_id, response=response, reason=change.reason.value,
                       outbox=items)

    def _write(self, ws: WorkingSet, change: Change, current: Resident | None,
               now: float) -> tuple[int, list[OutboxItem]]:
        """One resident's side of a change: the resident after it, its identity record
        with the next 更新順番号, and its messages to each link."""
        update_seq = self.numbers.next_update_seq()
        state = identity.resident_after(change, current, update_seq, self.numbers)
        ws.put_resident(change.resident_code, current, state)
        previous_update_seq = current.last_update_seq if current else None
        record = identity.identity_record(change, state, update_seq, now)
        ws.writes.identities.append((record, previous_update_seq))
        if change.new_resident_code is not None:  # the old code stays findable
            ws.writes.old_codes.append((change.resident_code, state.atena_number, update_seq,
                                        change.event_date))
        # Keyed by the resident's code after the change (a new one, after a code change).
        items = [self.enqueue(ws.outbox, msg.link, msg.kind, msg.payload, state.resident_code,
                              update_seq, now, change.correlation_id)
                 for msg in route(change.reason.value, record, previous_update_seq, state,
                                  current, self.enabled_links)]
        return update_seq, items


# Each kind of request and what applies it, inside the store writer's transaction: a
# register change (here), a card event (``hub.domain.cards``), staff's decision on a
# manual answer (``hub.domain.manual_answers``).
_APPLY: dict[type, Callable[[Register, WorkingSet, Any], Outcome]] = {
    Change: Register._apply_change,
    CardEventRequest: lambda register, ws, r: cards.record(register, ws, r),
    ManualDecision: lambda register, ws, r: manual_answers.record(register, ws, r),
}
# What maintenance mode holds back: changes to the register, not staff's decisions.
_HELD_IN_MAINTENANCE = frozenset({Change, CardEventRequest})


def _repeated(request: Request, fingerprint: str, response: dict[str, Any]) -> Outcome:
    """A request id seen before: its first answer, or a conflict if the body differs."""
    if fingerprint == request.fingerprint:
        return Outcome(request.request_id, response=response, duplicate=True)
    if isinstance(request, ManualDecision):
        return Outcome(request.request_id, reason="already_decided", error=ConflictError(
            "already_decided", "the request was already approved or refused"))
    return Outcome(request.request_id, reason="request_id_reused", error=ConflictError(
        "request_id_reused", "this request id was used before for a different change",
        "request_id"))
