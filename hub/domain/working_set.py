"""What one batch of requests reads up front and writes at the end (``WorkingSet``), and
what a kind of request sees of the register while it is applied (``Ledger``).

The register (``hub.domain.register``) applies each request of a batch against one
working set; the modules that apply one kind of request (``hub.domain.cards``,
``hub.domain.manual_answers``) see the register only through ``Ledger``, so they import
this module and not the register that dispatches to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from hub.domain import households, moves
from hub.domain.changes import Change, ManualDecision
from hub.domain.numbering import Numbering
from hub.domain.outcomes import OutboxItem, Request
from hub.domain.resident import Resident
from hub.store import AuditEntry, Conn, RegisterWrites, Store

UNIQUE_ITEMS = ("individual_number", "atena_number")


class Ledger(Protocol):
    """The register as one kind of request sees it inside the store writer's transaction:
    its store, the city, the enabled links, the clock, the numbers it hands out and the
    outbox it queues messages on."""

    store: Store
    municipality_code: str
    enabled_links: frozenset[str]
    wall_clock: Callable[[], float]

    @property
    def numbers(self) -> Numbering: ...

    def enqueue(self, rows: list[tuple[object, ...]], link: str, kind: str, payload: bytes,
                resident_key: str, update_seq: int, now: float,
                correlation_id: str = "") -> OutboxItem: ...


class WorkingSet:
    """What one batch has read and is going to write."""

    def __init__(self, store: Store, conn: Conn, changes: list[Request]) -> None:
        self.conn = conn  # for the rare reads one kind of request needs (staff decisions)
        self.requests = store.register.requests(conn, list({c.request_id for c in changes}))
        new_codes = {c.new_resident_code for c in changes
                     if isinstance(c, Change) and c.new_resident_code is not None}
        codes = list({c.resident_code for c in changes if not isinstance(c, ManualDecision)}
                     | new_codes)
        found = {code: Resident.from_row(row)
                 for code, row in store.register.residents(conn, codes).items()}
        self.residents: dict[str, Resident | None] = {c: found.get(c) for c in codes}
        self.stored_atena = {code: r.atena_number for code, r in found.items()}
        self.changed: set[str] = set()  # residents this batch writes (by 住民票コード)
        self.holders: dict[tuple[str, Any], str] = {}
        for item in UNIQUE_ITEMS:
            values = list({v for c in changes if isinstance(c, Change)
                           and (v := moves.kept_from_certificate(c).items.get(item))
                           is not None})
            for value, atena in store.register.holders(conn, item, values).items():
                self.holders[(item, value)] = atena
        # A 住民票コード once given up is never anyone's again.
        for value, atena in store.register.holders(conn, "old_resident_code",
                                                   list(new_codes)).items():
            self.holders[("old_resident_code", value)] = atena
        for state in found.values():
            self.holders[("resident_code", state.resident_code)] = state.atena_number
            for item in UNIQUE_ITEMS:
                if (value := getattr(state, item)) is not None:
                    self.holders[(item, value)] = state.atena_number
        self._register = store.register
        self._households: dict[str, tuple[Resident, ...]] = {}  # as stored, when read
        self.writes = RegisterWrites()
        self.outbox: list[tuple[object, ...]] = []
        self.audit: list[AuditEntry] = []
        self.decided: dict[int, tuple[str, str, float]] = {}  # inbox item -> who, when

    def household(self, number: str) -> households.Household:
        """The 世帯 ``number`` now: its stored members (read once per batch) with this
        batch's changes over them."""
        if number not in self._households:
            self._households[number] = tuple(
                Resident.from_row(r) for r in self._register.household(self.conn, number))
        members = {m.atena_number: m for m in self._households[number]}
        for code in self.changed:
            state = self.residents[code]
            assert state is not None  # a changed resident exists after the change
            members.pop(state.atena_number, None)
            if state.household_number == number and not state.removed:
                members[state.atena_number] = state
        return households.Household(number, tuple(members.values()))

    def adopt(self, resident: Resident) -> Resident:
        """A resident read with a household, now changed by the batch too: the batch's
        own state of them if it has one."""
        code = resident.resident_code
        if self.residents.get(code) is None:
            self.residents[code] = resident
            self.stored_atena[code] = resident.atena_number
        state = self.residents[code]
        assert state is not None
        return state

    def put_resident(self, code: str, old: Resident | None, new: Resident) -> None:
        """``new`` is the resident ``code`` after a change: written with the batch."""
        for item in (*UNIQUE_ITEMS, "resident_code"):
            if old is not None and (before := getattr(old, item)) is not None:
                self.holders.pop((item, before), None)
            if (after := getattr(new, item)) is not None:
                self.holders[(item, after)] = new.atena_number
        self.residents[code] = new
        self.changed.add(code)

    def remember(self, request: Request, update_seq: int | None, response: dict[str, Any],
                 now: float) -> None:
        """The first answer to a request id, for a repeat of it."""
        self.requests[request.request_id] = (request.fingerprint, response)
        self.writes.requests.append((request.request_id, request.fingerprint, update_seq,
                                     response, now))

    def write(self, store: Store, conn: Conn) -> None:
        for code in sorted(self.changed):
            state = self.residents[code]
            assert state is not None  # a changed resident exists after the change
            if code in self.stored_atena:
                self.writes.changed_residents.append((state.as_row(), self.stored_atena[code]))
            else:
                self.writes.new_residents.append(state.as_row())
        store.register.write(conn, self.writes)
        store.outbox.append(conn, self.outbox)
        store.audit.record(conn, self.audit)
        for item_id, (operator_id, terminal_id, now) in self.decided.items():
            store.inbox.acknowledge(conn, item_id, operator_id, terminal_id, now)
