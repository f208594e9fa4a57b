"""Manual answers (自動応答不可): ``POST /v1/manual-answers/{item_id}`` — staff approve or
refuse a request of the intermediate server; nothing else ever answers one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.api.context import Answer, Call, Intake
from hub.domain.changes import ManualDecision, parse_manual_decision
from hub.domain.outcomes import Outcome


def prepare(_intake: Intake, body: Any, params: dict[str, Any]) -> ManualDecision:
    return parse_manual_decision(body, params["item_id"])


def submit(_intake: Intake, call: Call) -> tuple[list[Any], Callable[[list[Outcome]], Answer]]:
    """The decision to the store writer; its answer after the commit."""
    def answered(outcomes: list[Outcome]) -> Answer:
        (outcome,) = outcomes
        if outcome.error is not None:
            raise outcome.error
        assert outcome.response is not None
        return 200, outcome.response

    return [call.prepared], answered
