"""Manual answers (自動応答不可): ``GET /v1/manual-answers/{item_id}`` shows the items a
request of the intermediate server asks for, with the values that would go;
``POST`` approves (naming the items that go) or refuses it; nothing else ever answers
one (``hub.domain.manual_answers``).  The decision is the logged-in staff member's,
from their terminal."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from twisted.internet import defer

from actors.messages import SubmitChanges
from hub.api.context import Answer, Api, Call
from hub.api.sessions import audit
from hub.domain.manual_answers import parse_decision
from hub.domain.manual_answers import preview as manual_answer_preview
from hub.domain.outcomes import Outcome


def decide(api: Api, call: Call) -> defer.Deferred[Answer]:
    """The decision to the store writer; its answer after the commit."""
    decision = dataclasses.replace(parse_decision(
        call.body, call.params["item_id"], call.who.operator_id, call.who.terminal_id),
        correlation_id=call.correlation_id)
    done: defer.Deferred[list[Outcome]] = defer.Deferred()
    api.writer.tell(SubmitChanges([decision], reply=api.on_reactor(done)))

    def answered(outcomes: list[Outcome]) -> Answer:
        (outcome,) = outcomes
        if outcome.error is not None:
            raise outcome.error
        assert outcome.response is not None
        return 200, outcome.response

    return done.addCallback(answered)


def preview(api: Api, call: Call) -> defer.Deferred[Answer]:
    """The request and what approving or refusing it would send (in the 操作ログ: it
    shows a resident's items)."""
    store, item_id = api.reads.store, call.params["item_id"]
    today = dt.date.fromtimestamp(api.clock()).isoformat()

    def read() -> dict[str, Any]:  # a pool thread
        with store.reading() as db:
            return manual_answer_preview(store, db, item_id, api.settings.municipality_code,
                                         today)

    def answer(body: dict[str, Any]) -> defer.Deferred[Answer]:
        return audit(api, call.who, call.client, "manual_answer.preview", target=str(item_id)
                     ).addCallback(lambda _: (200, body))

    return api.reads.run(read).addCallback(answer)
