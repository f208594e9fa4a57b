"""Errors the hub answers to its clients: an HTTP status, a stable code, a message.

Messages name the item and the rule, never the value: nothing personal goes back to
a caller, into a log or into a metric label.
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    status = 400

    def __init__(self, code: str, message: str, item: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.item = item
        if status is not None:
            self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        """Whole across processes (the intake's worker processes get refusals)."""
        return type(self), (self.code, self.message, self.item, self.status)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.item:
            body["item"] = self.item
        return body


class FormatError(HubError):
    """The change is malformed: a check digit, a date, kana, a length, a required item."""

    status = 400


class LogicError(HubError):
    """The change contradicts the register (転入 of an existing resident, …).

    ``code`` names the rule; the rules are listed in ``hub/domain/rules.py``.
    """

    status = 422


class ConflictError(HubError):
    status = 409


class RequestError(HubError):
    """The HTTP request itself is wrong (content type, size, JSON, schema)."""

    status = 400


class UnavailableError(HubError):
    """The hub cannot take the change now (store down); retrying is safe."""

    status = 503
