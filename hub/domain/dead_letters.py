"""Dead letters staff mend: replay one after a fix, or discard it with a reason.

A dead letter is a message its peer refused for good (or too often).  Its resident's
later messages on that link were held back behind it (withdrawn from the link's
stream, so the peer never applies them out of order).  Mending it, in one transaction
of the store writer:

- **replay**: the dead message and every message of that routing key after it that is
  still unsettled (held, or not sent yet) go into the outbox again as *new* messages,
  in their original order, at the end of the link's stream; the old rows become
  ``replayed``;
- **discard**: the dead message becomes ``discarded`` (the retention purge deletes it
  later, a send-destination chunk's residents' data with it); the messages held
  behind it are sent again the same way (``released``).
- **discard and resend** (``resend``: a chained link — the prefecture, J-LIS, the
  ministry — whose peer never applied the discarded message, so every later one would
  name a previous it does not hold): the dead message is discarded, the messages held
  behind it are ``superseded``, and the resident's current record goes instead, as a
  correction (``hub.domain.resends``: 異常時更新順番号), after which the resident's
  updates flow again.

Either way the dead letter is closed (who, when, why), the 操作ログ has the entry, and
the link actor, told after the commit, stops holding the resident (unless another of
its dead letters is still open) and withdraws the old copies it still had in memory.
The new messages keep their 更新順番号 and correlation id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgpack

from hub.domain import resends
from hub.domain.errors import ConflictError, HubError, RequestError
from hub.domain.outcomes import OutboxItem
from hub.domain.register import Register
from hub.store import AuditEntry, DeadLetter
from protocols.jsonable import plain

ACTIONS = ("replay", "discard")
_RESOLVED = {"replay": "replayed", "discard": "discarded"}


@dataclass(frozen=True, slots=True)
class Mend:
    """What staff asked: ``action`` on dead letter ``dead_letter_id``."""

    dead_letter_id: int
    action: str             # replay | discard
    reason: str | None      # why (required to discard)
    operator_id: str
    terminal_id: str
    resend: bool = False    # discard, then resend the resident's current record

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise RequestError("unknown_action", "replay or discard")
        if self.action == "discard" and not (self.reason or "").strip():
            raise RequestError("reason_required", "say why the message is discarded",
                               "reason")
        if self.resend and self.action != "discard":
            raise RequestError("resend_needs_discard", "the current record is resent in "
                               "place of a discarded message", "resend")


@dataclass(frozen=True, slots=True)
class Mended:
    """The result, for the caller and for the link actor."""

    dead_letter_id: int
    link: str
    resident_key: str
    state: str                      # replayed | discarded
    items: tuple[OutboxItem, ...]   # the messages sent again, in order
    superseded: tuple[int, ...]     # the old sequences they replace (or discarded)
    still_held: bool                # another dead letter of this key is still open
    generation: int = 0             # the link's mends so far, this one included

    def to_json(self) -> dict[str, Any]:
        return {"id": self.dead_letter_id, "link": self.link, "state": self.state,
                "resent": len(self.items),
                "resent_from": self.items[0].seq if self.items else None,
                "still_held": self.still_held}


def mend(register: Register, m: Mend, now: float) -> Mended | HubError:
    """Replay or discard in one transaction (the store writer's: it takes link
    sequences); an error if the dead letter is unknown or no longer open."""
    try:
        return _mend(register, m, now)
    except _Resolved as already:
        return ConflictError("already_resolved", f"this dead letter was {already.state}")
    except HubError as refused:  # nothing to resend: rolled back, nothing written
        return refused


class _Resolved(Exception):
    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


def _mend(register: Register, m: Mend, now: float) -> Mended | HubError:
    """``mend``'s transaction.  The conditional update of the dead letter (still open)
    decides; if another mend got there first, everything here is rolled back (and the
    link sequences it took given back) by raising ``_Resolved``."""
    store = register.store
    with register.job_transaction() as conn:
        letter = store.dead_letters.get(conn, m.dead_letter_id)
        if letter is None:
            return HubError("unknown_dead_letter", "no dead letter has this id", status=404)
        if letter.state != "open":
            raise _Resolved(letter.state)
        rows = store.outbox.unsent_of_key(conn, letter.link, letter.resident_key, letter.seq)
        again = [r for r in rows if m.action == "replay" or r[0] != letter.seq]
        out: list[tuple[object, ...]] = []
        if m.resend:  # the held ones give way to the resident's current record
            items: tuple[OutboxItem, ...] = (resends.resend_current(
                register, conn, letter.link, letter.resident_key, m.operator_id,
                m.terminal_id, now),)
        else:
            items = tuple(register.enqueue(out, letter.link, kind, payload,
                                           letter.resident_key, update_seq, now, correlation)
                          for _seq, update_seq, kind, payload, _state, correlation in again)
        store.outbox.append(conn, out)
        state = _RESOLVED[m.action]
        if m.action == "discard":
            store.outbox.mark(conn, letter.link, [letter.seq], "discarded")
        store.outbox.mark(conn, letter.link, [r[0] for r in again],
                          "replayed" if m.action == "replay"
                          else "superseded" if m.resend else "released")
        if not store.dead_letters.resolve(conn, letter.id, state, now, m.operator_id,
                                          m.reason, [i.seq for i in items]):
            raise _Resolved("resolved meanwhile")
        store.audit.record(conn, [AuditEntry(now, m.operator_id, m.terminal_id,
                                             f"deadletters.{m.action}"
                                             + ("_resend" if m.resend else ""), str(letter.id),
                                             None, None, False, "ok", len(items))])
        still_held = store.dead_letters.others_open(conn, letter) > 0
        # Counted on the link: its owner, on whichever hub, sees a mend it was not told of.
        generation = store.link_state.count_mend(conn, letter.link)
    return Mended(letter.id, letter.link, letter.resident_key, state, items,
                  tuple(r[0] for r in rows), still_held, generation)


def shown(letter: DeadLetter, now: float) -> dict[str, Any]:
    """A dead letter as lists show it: keys, codes and times, no resident's data."""
    out: dict[str, Any] = {
        "id": letter.id, "link": letter.link, "seq": letter.seq,
        "update_seq": letter.update_seq, "resident_key": letter.resident_key,
        "code": letter.code, "reason": letter.reason, "state": letter.state,
        "created_at": letter.created_at, "age_seconds": round(max(0.0, now - letter.created_at), 1),
        "correlation_id": letter.correlation_id}
    for key in ("resolved_at", "resolved_by", "resolution", "resent_from", "resent_count"):
        if (value := getattr(letter, key)) is not None:
            out[key] = value
    return out


def message_shown(kind: str, payload: bytes) -> dict[str, Any]:
    """The dead message itself, readable: an XML document as its text, a msgpack one
    as JSON (binary items as hex)."""
    if payload[:1] == b"<":
        return {"kind": kind, "format": "xml", "content": payload.decode("utf-8", "replace")}
    try:
        decoded = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return {"kind": kind, "format": "binary", "content": payload.hex()}
    return {"kind": kind, "format": "msgpack",
            "content": json.loads(json.dumps(plain(decoded), default=_hex))}


def _hex(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)
