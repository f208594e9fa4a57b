"""Applying a change to the register: logic checks, then the writes, in one transaction.

Logic checks (論理チェック), each a ``LogicError`` whose code names the rule:

- ``move_in_existing_resident``   転入 for a person who is already a resident
- ``birth_existing_resident``     出生 for a 住民票コード already on the register
- ``unknown_resident``            any other change for a person not on the register
- ``change_to_removed_record``    any change to a removed (消除) record
- ``move_within_changes_more_than_address``  転居 that changes anything but the address
- ``move_within_leaves_city``     転居 to an address in another municipality
- ``address_outside_city``        転入 or 出生 to an address in another municipality
- ``name_change_changes_more_than_name``     氏名変更 that changes other items
- ``individual_number_in_use``    the 個人番号 belongs to another resident
- ``atena_number_in_use``         the 宛名番号 belongs to another resident

Staff decisions on manual-answer requests (``ManualDecision``) are refused with
``unknown_item`` (no such request), ``already_decided``, or ``unknown_person`` (approved,
but nobody on the register holds the 団体内統合宛名番号).

Checks run before the first write, so a refused change writes nothing.  A repeated
依頼管理番号 returns its first answer (``request_id_reused`` if the body differs).

This class is used only by the store writer actor: it keeps the next 更新順番号 and
the next link sequence numbers in memory, which is safe because that actor is the
only writer.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from hub.domain.changes import (
    ADDRESS_ITEMS,
    CREATING,
    FOREIGN_ITEMS,
    REMOVING,
    CardEventRequest,
    Change,
    ManualDecision,
    Reason,
)
from hub.domain.errors import ConflictError, HubError, LogicError
from hub.domain.routing import route
from hub.store.tables import (
    audit_log,
    card_events,
    identity_records,
    inbox,
    link_state,
    outbox,
    request_ids,
    residents,
)
from protocols.card import CardEvent, encode_card_event
from protocols.charconv import gaiji_count, seion_kana
from protocols.identity import FIELDS, IdentityRecord
from protocols.intermediate import ManualAnswer, decode_from_intermediate, encode

_RESIDENT_COLUMNS = [c.name for c in residents.columns]
_IDENTITY_ATTRS = [attr for attr, _ in FIELDS]

# Statements built once: SQLAlchemy reuses their compiled form.  A batch reads what it
# needs in a few queries up front, keeps a working set in memory (so a batch sees its
# own earlier changes), and writes each table with one executemany at the end.
_INSERT_RESIDENT = insert(residents)
_UPDATE_RESIDENT = update(residents).where(residents.c.atena_number == bindparam("_atena"))
_SAVE_NEXT_SEQ = update(link_state).where(link_state.c.link == bindparam("l"))
_INSERTS = {"identity": insert(identity_records), "outbox": insert(outbox),
            "request": insert(request_ids), "audit": insert(audit_log),
            "card": insert(card_events)}
_UNIQUE_ITEMS = ("individual_number", "atena_number")
_CHUNK = 500  # bound parameters per IN (...) query


def _chunks(values: list[Any]) -> Any:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


class _WorkingSet:
    """What one batch has read and written so far."""

    def __init__(self, conn: Connection, changes: list[Request]) -> None:
        self.conn = conn  # for the rare reads one kind of request needs (staff decisions)
        self.requests: dict[str, tuple[str, dict[str, Any]]] = {}
        ids = list({c.request_id for c in changes})
        for part in _chunks(ids):
            for row in conn.execute(select(request_ids.c.request_id, request_ids.c.fingerprint,
                                           request_ids.c.response)
                                    .where(request_ids.c.request_id.in_(part))):
                self.requests[row.request_id] = (row.fingerprint, json.loads(row.response))
        self.residents: dict[str, dict[str, Any] | None] = {}
        self.stored_atena: dict[str, str] = {}  # resident code -> atena as stored at start
        codes = list({c.resident_code for c in changes if not isinstance(c, ManualDecision)})
        for part in _chunks(codes):
            for row in conn.execute(select(residents).where(residents.c.resident_code.in_(part))):
                self.residents[row.resident_code] = dict(row._mapping)
                self.stored_atena[row.resident_code] = row.atena_number
        for code in codes:
            self.residents.setdefault(code, None)
        # (item, value) -> atena number of the resident holding it
        self.holders: dict[tuple[str, Any], str] = {}
        for item in _UNIQUE_ITEMS:
            values = list({c.items[item] for c in changes
                           if isinstance(c, Change) and c.items.get(item) is not None})
            for part in _chunks(values):
                for holder in conn.execute(select(residents.c[item], residents.c.atena_number)
                                           .where(residents.c[item].in_(part))):
                    self.holders[(item, holder[0])] = holder.atena_number
        for state in self.residents.values():
            if state is not None:
                for item in _UNIQUE_ITEMS:
                    if state[item] is not None:
                        self.holders[(item, state[item])] = state["atena_number"]
        self.rows: dict[str, list[dict[str, Any]]] = {k: [] for k in _INSERTS}
        self.updates: list[Any] = []  # single-row statements, run after the inserts
        self.decided: set[int] = set()  # inbox items decided in this batch

    def put_resident(self, code: str, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        for item in _UNIQUE_ITEMS:
            if old is not None and old[item] is not None:
                self.holders.pop((item, old[item]), None)
            if new[item] is not None:
                self.holders[(item, new[item])] = new["atena_number"]
        self.residents[code] = new

    def write(self, conn: Connection) -> None:
        inserts, updates = [], []
        for code, state in self.residents.items():
            if state is None or not state.get("_dirty"):
                continue
            row = {k: v for k, v in state.items() if k != "_dirty"}
            if code in self.stored_atena:
                updates.append({**row, "_atena": self.stored_atena[code]})
            else:
                inserts.append(row)
        if updates:
            conn.execute(_UPDATE_RESIDENT, updates)
        if inserts:
            conn.execute(_INSERT_RESIDENT, inserts)
        for table, rows in self.rows.items():
            if rows:
                conn.execute(_INSERTS[table], rows)
        for stmt in self.updates:
            conn.execute(stmt)


Request = Change | CardEventRequest | ManualDecision


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message committed to a link's outbox, as the link actor needs it."""

    link: str
    seq: int
    update_seq: int
    resident_key: str
    payload: bytes
    enqueued_at: float


@dataclass(slots=True)
class Outcome:
    """The answer to one change: accepted (with the response body) or refused."""

    request_id: str
    response: dict[str, Any] | None = None
    error: HubError | None = None
    duplicate: bool = False
    reason: str = ""
    outbox: list[OutboxItem] = field(default_factory=list)


class RegisterWriter:
    """Applies changes to the store; one instance, owned by the store writer actor."""

    def __init__(self, engine: Engine, municipality_code: str, enabled_links: frozenset[str],
                 wall_clock: Callable[[], float]) -> None:
        self.engine = engine
        self.municipality_code = municipality_code
        self.enabled_links = enabled_links
        self.wall_clock = wall_clock
        # Every enabled link has its link_state row from the start (created here, before
        # the store writer runs), so acknowledgements and inbound records always update.
        with engine.begin() as conn:
            self.next_update_seq = (conn.scalar(select(func.max(identity_records.c.update_seq)))
                                    or 0) + 1
            self.next_link_seq = {row.link: row.next_seq
                                  for row in conn.execute(select(link_state))}
            self.next_card_event = (conn.scalar(select(func.max(card_events.c.id))) or 0) + 1
            last = conn.scalar(select(func.max(residents.c.integrated_atena)))
            self.next_integrated_atena = int(last) + 1 if last else 1
            for link in sorted(enabled_links - self.next_link_seq.keys()):
                conn.execute(insert(link_state).values(link=link, acked_seq=0, next_seq=1,
                                                       inbound_applied=0))
                self.next_link_seq[link] = 1

    # ---- batches ---------------------------------------------------------------------

    def apply_batch(self, changes: list[Request]) -> list[Outcome]:
        """Apply ``changes`` in one transaction; if anything unexpected fails, apply
        them one transaction each so one bad change cannot sink the others."""
        snapshot = (self.next_update_seq, dict(self.next_link_seq), self.next_integrated_atena,
                    self.next_card_event)
        try:
            with self.engine.begin() as conn:
                ws = _WorkingSet(conn, changes)
                outcomes = [self._apply_one(ws, c) for c in changes]
                ws.write(conn)
                self.save_link_seqs(conn, snapshot[1])
            return outcomes
        except HubError:
            raise
        except Exception:
            self.next_update_seq, self.next_link_seq = snapshot[0], dict(snapshot[1])
            self.next_integrated_atena, self.next_card_event = snapshot[2], snapshot[3]
            if len(changes) == 1:
                raise
        outcomes = []
        for change in changes:
            try:
                outcomes.extend(self.apply_batch([change]))
            except Exception:
                outcomes.append(Outcome(change.request_id, error=HubError(
                    "store_error", "the change could not be stored", None), reason="store"))
        return outcomes

    def outbox_row(self, link: str, kind: str, payload: bytes, resident_key: str,
                   update_seq: int, now: float) -> tuple[dict[str, Any], OutboxItem]:
        """The next message of ``link``: the outbox row to insert, and its item.  The
        caller inserts the row within ``job_transaction`` (or a batch's transaction)."""
        seq = self.next_link_seq[link]
        self.next_link_seq[link] = seq + 1
        row = {"link": link, "seq": seq, "update_seq": update_seq,
               "resident_key": resident_key, "kind": kind, "payload": payload,
               "enqueued_at": now, "state": "pending"}
        return row, OutboxItem(link, seq, update_seq, resident_key, payload, now)

    @contextmanager
    def job_transaction(self) -> Iterator[Connection]:
        """A transaction of a long job (a slice of a check or a batch) that takes link
        sequences with ``outbox_row``: saved with it, given back if it fails."""
        before = dict(self.next_link_seq)
        try:
            with self.engine.begin() as conn:
                yield conn
                self.save_link_seqs(conn, before)
        except Exception:
            self.next_link_seq = before
            raise

    def save_link_seqs(self, conn: Connection, before: dict[str, int]) -> None:
        """Record the next sequence of each link this batch sent something on."""
        for link, nxt in self.next_link_seq.items():
            if before.get(link) != nxt:
                conn.execute(_SAVE_NEXT_SEQ, {"l": link, "next_seq": nxt})

    # ---- one change ------------------------------------------------------------------

    def _apply_one(self, ws: _WorkingSet, change: Request) -> Outcome:
        prior = ws.requests.get(change.request_id)
        if prior is not None:
            if prior[0] != change.fingerprint and isinstance(change, ManualDecision):
                return Outcome(change.request_id, reason="already_decided",
                               error=ConflictError("already_decided", "the request was "
                                                   "already approved or refused"))
            if prior[0] != change.fingerprint:
                return Outcome(change.request_id, reason="request_id_reused", error=ConflictError(
                    "request_id_reused",
                    "this request id was used before for a different change", "request_id"))
            return Outcome(change.request_id, response=prior[1], duplicate=True)
        if isinstance(change, CardEventRequest):
            return self._card_event(ws, change)
        if isinstance(change, ManualDecision):
            return self._manual_decision(ws, change)
        try:
            current = self._check(ws, change)
        except LogicError as err:
            return Outcome(change.request_id, error=err, reason=err.code)
        return self._write(ws, change, current)

    def _card_event(self, ws: _WorkingSet, ev: CardEventRequest) -> Outcome:
        """A card event: for a living resident with a 個人番号; one message on the card
        link, after that link's earlier messages (the resident's among them)."""
        current = ws.residents[ev.resident_code]
        rule = ("unknown_resident" if current is None
                else "change_to_removed_record" if current["removed"]
                else "no_individual_number" if current["individual_number"] is None
                else None)
        if rule is not None:
            return Outcome(ev.request_id, reason=rule, error=LogicError(
                rule, f"card event {ev.event} refused: {rule.replace('_', ' ')}"))
        assert current is not None
        now = self.wall_clock()
        event_seq = self.next_card_event
        self.next_card_event += 1
        items_out: list[OutboxItem] = []
        if "card" in self.enabled_links:
            body = encode_card_event(CardEvent(
                event_seq, self.municipality_code, ev.resident_code,
                current["individual_number"], ev.event, ev.event_date, ev.operator_id,
                ev.terminal_id))
            items_out.append(self._enqueue(ws, "card", "card_event", body, ev.resident_code,
                                           0, now))
        response = {"request_id": ev.request_id, "status": "accepted",
                    "event_seq": event_seq, "links": [o.link for o in items_out]}
        self._remember(ws, ev.request_id, ev.fingerprint, None, response, now)
        ws.rows["card"].append({
            "id": event_seq, "request_id": ev.request_id, "resident_code": ev.resident_code,
            "event": ev.event, "event_date": ev.event_date, "operator_id": ev.operator_id,
            "terminal_id": ev.terminal_id, "created_at": now})
        ws.rows["audit"].append({
            "at": now, "operator_id": ev.operator_id, "terminal_id": ev.terminal_id,
            "request_id": ev.request_id, "action": f"card.{ev.event}", "update_seq": None})
        return Outcome(ev.request_id, response=response, reason=f"card_{ev.event}",
                       outbox=items_out)

    def _manual_decision(self, ws: _WorkingSet, d: ManualDecision) -> Outcome:
        """Answer a manual-answer request as staff decided: the inbox item is taken (with
        operator and terminal), the answer queued on the intermediate link, both in the
        transaction that records the decision.  Nothing else ever answers one."""
        row = ws.conn.execute(select(inbox.c.kind, inbox.c.state, inbox.c.body).where(
            inbox.c.id == d.item_id)).first()
        if row is None or row.kind != "intermediate.manual_answer_request":
            return Outcome(d.request_id, reason="unknown_item", error=HubError(
                "unknown_item", "no manual-answer request has this id", status=404))
        if row.state != "new" or d.item_id in ws.decided:
            return Outcome(d.request_id, reason="already_decided", error=ConflictError(
                "already_decided", "the request was already approved or refused"))
        if "intermediate" not in self.enabled_links:
            return Outcome(d.request_id, reason="link_disabled", error=LogicError(
                "link_disabled", "the intermediate link is not enabled"))
        req = decode_from_intermediate(bytes(row.body))
        person = ws.conn.execute(select(residents).where(
            residents.c.integrated_atena == req.integrated_atena)).first()
        if d.decision == "approve" and person is None:
            return Outcome(d.request_id, reason="unknown_person", error=LogicError(
                "unknown_person", "nobody on the register holds this 団体内統合宛名番号; "
                "refuse the request"))
        now = self.wall_clock()
        today = dt.date.fromtimestamp(now).isoformat()
        if d.decision == "approve":
            assert person is not None
            answer = ManualAnswer(
                req.request_number, req.integrated_atena, self.municipality_code, "approved",
                today, person.name_kanji, person.name_kana, person.birth_date.isoformat(),
                person.sex, person.address, person.household_number, person.relationship)
        else:
            answer = ManualAnswer(req.request_number, req.integrated_atena,
                                  self.municipality_code, "refused", today, *[None] * 7)
        key = person.resident_code if person is not None else ""
        item = self._enqueue(ws, "intermediate", "manual_answer", encode(answer), key, 0, now)
        ws.decided.add(d.item_id)
        ws.updates.append(update(inbox).where(inbox.c.id == d.item_id).values(
            state="acknowledged", acknowledged_at=now, operator_id=d.operator_id,
            terminal_id=d.terminal_id))
        response = {"request_id": d.request_id, "status": "accepted", "item_id": d.item_id,
                    "decision": d.decision, "links": [item.link]}
        self._remember(ws, d.request_id, d.fingerprint, None, response, now)
        ws.rows["audit"].append({
            "at": now, "operator_id": d.operator_id, "terminal_id": d.terminal_id,
            "request_id": d.request_id, "action": f"manual_answer.{d.decision}",
            "update_seq": None})
        return Outcome(d.request_id, response=response, reason=f"manual_{d.decision}",
                       outbox=[item])

    def _enqueue(self, ws: _WorkingSet, link: str, kind: str, payload: bytes,
                 resident_key: str, update_seq: int, now: float) -> OutboxItem:
        """The next message of ``link``'s outbox, written with the batch."""
        row, item = self.outbox_row(link, kind, payload, resident_key, update_seq, now)
        ws.rows["outbox"].append(row)
        return item

    @staticmethod
    def _remember(ws: _WorkingSet, request_id: str, fingerprint: str, update_seq: int | None,
                  response: dict[str, Any], now: float) -> None:
        """The first answer to ``request_id``, for a repeat of it."""
        ws.requests[request_id] = (fingerprint, response)
        ws.rows["request"].append({
            "request_id": request_id, "fingerprint": fingerprint, "update_seq": update_seq,
            "response": json.dumps(response), "created_at": now})

    def _check(self, ws: _WorkingSet, change: Change) -> dict[str, Any] | None:
        current = ws.residents[change.resident_code]
        reason, items = change.reason, change.items
        if reason in CREATING:
            if current is not None and (reason is Reason.BIRTH or not current["removed"]):
                rule = ("birth_existing_resident" if reason is Reason.BIRTH
                        else "move_in_existing_resident")
                raise LogicError(rule, f"{reason.value} for a person already on the register")
            if items["municipality_code"] != self.municipality_code:
                raise LogicError("address_outside_city",
                                 f"{reason.value} must be to an address in this city")
        else:
            if current is None:
                raise LogicError("unknown_resident", f"{reason.value} for a person not on the "
                                 "register")
            if current["removed"]:
                raise LogicError("change_to_removed_record",
                                 f"{reason.value} for a removed (消除) record")
        if reason is Reason.MOVE_WITHIN:
            assert current is not None
            changed = [k for k, v in items.items()
                       if k not in ADDRESS_ITEMS and current.get(k) != v]
            if changed:
                raise LogicError("move_within_changes_more_than_address",
                                 f"move_within may change only the address, not {changed[0]}")
            if items["municipality_code"] != self.municipality_code:
                raise LogicError("move_within_leaves_city",
                                 "move_within must stay in this city; use move_out")
        if reason is Reason.NUMBER_DESIGNATION:
            assert current is not None
            if set(items) != {"individual_number"}:
                raise LogicError("number_designation_changes_more_than_number",
                                 "number_designation may set only the individual number")
            if current["individual_number"] not in (None, items["individual_number"]):
                raise LogicError("individual_number_already_designated",
                                 "the resident already has another individual number")
        if reason is Reason.NAME_CHANGE:
            assert current is not None
            changed = [k for k, v in items.items()
                       if k not in ("name_kanji", "name_kana") and current.get(k) != v]
            if changed:
                raise LogicError("name_change_changes_more_than_name",
                                 f"name_change may change only the name, not {changed[0]}")
        resident_type = items.get("resident_type") or (current or {}).get("resident_type")
        if resident_type == "japanese" and any(items.get(k) is not None for k in FOREIGN_ITEMS):
            raise LogicError("foreign_items_for_japanese_resident",
                             "foreign-resident items are only for foreign residents")
        own_atena = current["atena_number"] if current else None
        for item, rule in (("individual_number", "individual_number_in_use"),
                           ("atena_number", "atena_number_in_use")):
            value = items.get(item)
            if value is None:
                continue
            holder = ws.holders.get((item, value))
            if holder is not None and holder != own_atena:
                raise LogicError(rule, f"{item} belongs to another resident")
        return current

    def _write(self, ws: _WorkingSet, change: Change, current: dict[str, Any] | None) -> Outcome:
        now = self.wall_clock()
        update_seq = self.next_update_seq
        self.next_update_seq += 1
        reason, items, event = change.reason, change.items, change.event_date
        state: dict[str, Any] = (dict(current) if current
                                 else dict.fromkeys(_RESIDENT_COLUMNS))
        state.update(items)
        state["resident_code"] = change.resident_code
        state["last_update_seq"] = update_seq
        if reason in CREATING:
            state["removed"], state["removed_date"], state["removed_reason"] = False, None, None
            state["became_resident_date"] = event
        if reason in CREATING or reason is Reason.MOVE_WITHIN:
            state["address_set_date"] = event
        if reason in REMOVING:
            state["removed"], state["removed_date"], state["removed_reason"] = (
                True, event, reason.value)
        if state["individual_number"] is not None and state.get("integrated_atena") is None:
            state["integrated_atena"] = f"{self.next_integrated_atena:015d}"
            self.next_integrated_atena += 1
        state["_dirty"] = True
        ws.put_resident(change.resident_code, current, state)
        previous_update_seq = current["last_update_seq"] if current else None
        record = self._identity(change, state, update_seq, now)
        ws.rows["identity"].append({**{a: getattr(record, a) for a in _IDENTITY_ATTRS},
                                       "previous_update_seq": previous_update_seq})
        items_out: list[OutboxItem] = []
        for msg in route(record, previous_update_seq, state, current, self.enabled_links):
            items_out.append(self._enqueue(ws, msg.link, msg.kind, msg.payload,
                                           change.resident_code, update_seq, now))
        response = {"request_id": change.request_id, "status": "accepted",
                    "update_seq": update_seq,
                    "links": list(dict.fromkeys(o.link for o in items_out))}
        self._remember(ws, change.request_id, change.fingerprint, update_seq, response, now)
        ws.rows["audit"].append({
            "at": now, "operator_id": change.operator_id, "terminal_id": change.terminal_id,
            "request_id": change.request_id, "action": f"change.{reason.value}",
            "update_seq": update_seq})
        return Outcome(change.request_id, response=response, reason=reason.value,
                       outbox=items_out)

    def _identity(self, change: Change, state: dict[str, Any], update_seq: int,
                  now: float) -> IdentityRecord:
        return IdentityRecord(
            resident_code=change.resident_code,
            name_kanji=state["name_kanji"],
            name_gaiji_count=gaiji_count(state["name_kanji"]),
            name_kana=state["name_kana"],
            name_seion_kana=seion_kana(state["name_kana"]) or None,
            birth_date=state["birth_date"],
            sex=state["sex"],
            municipality_code=state["municipality_code"],
            aza_code=state["aza_code"],
            postal_code=state["postal_code"],
            address=state["address"],
            address_gaiji_count=gaiji_count(state["address"]),
            individual_number=state["individual_number"],
            became_resident_date=state["became_resident_date"],
            address_set_date=state["address_set_date"],
            notified_date=change.notified_date,
            previous_municipality_code=state["previous_municipality_code"],
            previous_address=state["previous_address"],
            previous_address_gaiji_count=gaiji_count(state["previous_address"]),
            relationship=state["relationship"],
            reason=change.reason.value,
            event_date=change.event_date,
            reason_detail=None,
            old_resident_code=None,
            resident_code_used_date=None,
            request_id=change.request_id,
            operator_id=change.operator_id,
            terminal_id=change.terminal_id,
            update_seq=update_seq,
            abnormal_update_seq=None,
            update_prohibited=False,
            prospective=False,
            exclusive=False,
            gaiji_flag=gaiji_count(state["name_kanji"]) + gaiji_count(state["address"]) > 0,
            record_status="removed" if state["removed"] else "active",
            timestamp=dt.datetime.fromtimestamp(now),
            old_surname_kanji=None,
            old_surname_gaiji_count=0,
            old_surname_kana=None,
            old_surname_gaiji_change_seq=None,
        )
