"""Manual answers (自動応答不可): ``POST /v1/manual-answers/{item_id}`` — staff approve or
refuse a request of the intermediate server; nothing else ever answers one."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from actors.messages import SubmitChanges
from hub.api.context import Answer, Api, Call
from hub.domain.changes import ManualDecision, parse_manual_decision
from hub.domain.outcomes import Outcome


def prepare(_api: Api, body: Any, params: dict[str, Any]) -> ManualDecision:
    return parse_manual_decision(body, params["item_id"])


def post(api: Api, call: Call) -> defer.Deferred[Answer]:
    d: defer.Deferred[list[Outcome]] = defer.Deferred()
    api.writer.tell(SubmitChanges([call.prepared], reply=api.on_reactor(d)))

    def answered(outcomes: list[Outcome]) -> Answer:
        (outcome,) = outcomes
        if outcome.error is not None:
            raise outcome.error
        assert outcome.response is not None
        return 200, outcome.response

    return d.addCallback(answered)
