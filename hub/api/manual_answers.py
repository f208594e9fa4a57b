"""Manual answers (自動応答不可): ``POST /v1/manual-answers/{item_id}`` — staff approve or
refuse a request of the intermediate server; nothing else ever answers one.  The
decision is the logged-in staff member's, from their terminal."""

from __future__ import annotations

from twisted.internet import defer

from actors.messages import SubmitChanges
from hub.api.context import Answer, Api, Call
from hub.domain.changes import parse_manual_decision
from hub.domain.outcomes import Outcome


def decide(api: Api, call: Call) -> defer.Deferred[Answer]:
    """The decision to the store writer; its answer after the commit."""
    decision = parse_manual_decision(call.body, call.params["item_id"], call.who.operator_id,
                                     call.who.terminal_id)
    done: defer.Deferred[list[Outcome]] = defer.Deferred()
    api.writer.tell(SubmitChanges([decision], reply=api.on_reactor(done)))

    def answered(outcomes: list[Outcome]) -> Answer:
        (outcome,) = outcomes
        if outcome.error is not None:
            raise outcome.error
        assert outcome.response is not None
        return 200, outcome.response

    return done.addCallback(answered)
