"""Dead letters staff mend (``/v1/dead-letters``): list them (keys, codes, ages — no
resident's data), read one with its message (a supervisor's right, in the 操作ログ),
replay one after a fix or discard it with a reason (``hub.domain.dead_letters``).

A mend goes to the dead letter's link actor, which hands it to the store writer behind
the holds it has already asked for, and learns the result after the commit (it stops
holding the resident and sends the new messages).  When the link is not running (not
enabled), the mend goes to the store writer directly.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from actors.messages import MendDeadLetter, WriteMend
from hub.api.context import Answer, Api, Call
from hub.api.sessions import audit
from hub.domain import dead_letters
from hub.domain.errors import HubError, UnavailableError
from hub.store import DeadLetter


def list_letters(api: Api, call: Call) -> defer.Deferred[Answer]:
    """Oldest first; on the 操作ログ (a list names residents by their keys)."""
    store, p, now = api.reads.store, call.params, api.clock()
    d = api.reads.run(store.read, store.dead_letters.list, p.get("state"), p.get("link"),
                      p.get("after", 0), p.get("limit", 100))

    def listed(rows: list[DeadLetter]) -> defer.Deferred[Answer]:
        body = {"dead_letters": [dead_letters.shown(r, now) for r in rows]}
        return audit(api, call.who, call.client, "deadletters.list", count=len(rows)
                     ).addCallback(lambda _: (200, body))

    return d.addCallback(listed)


def show(api: Api, call: Call) -> defer.Deferred[Answer]:
    store, letter_id, now = api.reads.store, call.params["dead_letter_id"], api.clock()

    def read() -> tuple[DeadLetter | None, Any]:  # a pool thread
        with store.reading() as db:
            letter = store.dead_letters.get(db, letter_id)
            row = store.outbox.message(db, letter.link, letter.seq) if letter else None
            return letter, row

    def answer(found: tuple[DeadLetter | None, Any]) -> defer.Deferred[Answer]:
        letter, row = found
        if letter is None:
            raise HubError("unknown_dead_letter", "no dead letter has this id", status=404)
        message = (dead_letters.message_shown(*row) if row is not None else
                   {"kind": "", "format": "purged", "content": None})
        body = {"dead_letter": dead_letters.shown(letter, now), "message": message}
        return audit(api, call.who, call.client, "deadletters.read", target=str(letter_id)
                     ).addCallback(lambda _: (200, body))

    return api.reads.run(read).addCallback(answer)


def replay(api: Api, call: Call) -> defer.Deferred[Answer]:
    return _mend(api, call, "replay")


def discard(api: Api, call: Call) -> defer.Deferred[Answer]:
    return _mend(api, call, "discard")


def _mend(api: Api, call: Call, action: str) -> defer.Deferred[Answer]:
    store, letter_id = api.reads.store, call.params["dead_letter_id"]
    body = call.body or {}
    mend = dead_letters.Mend(letter_id, action, body.get("reason"), call.who.operator_id,
                             call.who.terminal_id, bool(body.get("resend", False)))

    def send(letter: DeadLetter | None) -> defer.Deferred[Any]:
        done: defer.Deferred[Any] = defer.Deferred()
        reply = api.on_reactor(done)
        actor = api.links.get(letter.link) if letter is not None else None
        if actor is not None:
            actor.tell(MendDeadLetter(mend, reply))  # behind the link's own holds
        else:  # unknown (the writer says so), or a link that is not running
            api.writer.tell(WriteMend(mend, reply))
        return done

    def answered(value: Any) -> Answer:
        if value is None:
            raise UnavailableError("store_unavailable", "the mend could not be recorded; "
                                   "try again")
        if isinstance(value, HubError):
            raise value
        assert isinstance(value, dead_letters.Mended)
        return 200, value.to_json()

    d = api.reads.run(store.read, store.dead_letters.get, letter_id)
    return d.addCallback(send).addCallback(answered)
