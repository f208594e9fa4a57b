"""The peer's own stream (what it pushes to the hub), sans-IO: which pushes are new.

The peer numbers its pushes 1, 2, 3 …; the hub records each in the inbox (durably)
before acknowledging it, and each hello states the highest push recorded, so the peer
resends from there after a reconnect.  On one connection:

- a push at or below what is recorded is a resend: acknowledge it again (``DUPLICATE``);
- the next expected push is new: record it, then acknowledge it (``NEW``);
- a push after a gap (the expected one was lost with a refusal the peer has not seen
  yet) is ignored (``GAP``): the peer goes back once it sees our acknowledgement.
"""

from __future__ import annotations

import enum


class Push(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    GAP = "gap"


class InboundStream:
    """See the module docstring."""

    def __init__(self, applied: int = 0) -> None:
        self.applied = applied        # highest push recorded (durably)
        self.expected = applied + 1   # the push this connection waits for next

    def connected(self) -> int:
        """A new connection: what to state in our hello (the highest push recorded)."""
        self.expected = self.applied + 1
        return self.applied

    def frame(self, seq: int) -> Push:
        """A push arrived; ``NEW`` ones are to be recorded, then ``recorded``."""
        if seq <= self.applied:
            return Push.DUPLICATE
        if seq != self.expected:
            return Push.GAP
        self.expected += 1
        return Push.NEW

    def recorded(self, seq: int) -> None:
        """Push ``seq`` is in the inbox: it may be acknowledged."""
        self.applied = max(self.applied, seq)
