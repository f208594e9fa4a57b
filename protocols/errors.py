"""Errors raised by the sans-IO protocol layer.

Two kinds, as h11 has them: ``LocalProtocolError`` means *we* misused the library (a
bug in the caller); ``RemoteProtocolError`` means the *peer* sent something we cannot
accept.  Each carries a short machine-readable ``code`` that logs, metrics and
refusals use; messages never contain personal data.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class; ``code`` is a stable identifier safe for logs and metric labels."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol does not allow in this state."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes or a message that breaks the protocol."""


class BodyError(ProtocolError):
    """A message body (XML or msgpack) is malformed or fails its schema."""
