"""One link's connection as plain state, sans-IO: where it is in its life, which
attempt is current, and whether the peer is alive.

States (``TRANSITIONS`` is the table)::

    idle ─▶ standby ─▶ connecting ─▶ handshaking ─▶ ready ─┐
               ▲  ▲          │              │         │     │
               │  └─ backoff ◀──────────────┴─────────┘     │ (any failure)
               │         ▲──────────────────────────────────┘
               └──────── (the lease lost, from any of them but stopped)

``standby``: another hub owns the link (or this one does not yet): nothing is sent.

``attempt`` numbers each connection (the transport's reports carry it, so a late report
about an old socket is ignored); ``epoch`` changes on every connect and failure, so a
timer set for a connection that is gone is ignored.  Liveness: ``tick(now)`` says what
the heartbeat timer should do — ``SILENT`` (nothing heard for ``timeout`` seconds: drop
the connection), ``SPEAK`` (nothing sent for ``interval``: send a heartbeat) or ``None``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

STATES = ("idle", "standby", "connecting", "handshaking", "ready", "backoff", "stopped")
TRANSITIONS: dict[str, frozenset[str]] = {
    "idle": frozenset({"standby", "stopped"}),
    "standby": frozenset({"connecting", "stopped"}),
    "connecting": frozenset({"handshaking", "backoff", "standby", "stopped"}),
    "handshaking": frozenset({"ready", "backoff", "standby", "stopped"}),
    "ready": frozenset({"backoff", "standby", "stopped"}),
    "backoff": frozenset({"connecting", "standby", "stopped"}),
    "stopped": frozenset(),
}


class Tick(enum.Enum):
    SILENT = "silent"
    SPEAK = "speak"


class Connection:
    def __init__(self, interval: float, timeout: float,
                 on_move: Callable[[str, str], None]) -> None:
        """``on_move(old, new)`` is told of every change of state."""
        self.interval, self.timeout, self.on_move = interval, timeout, on_move
        self.state = "idle"
        self.attempt = 0
        self.epoch = 0
        self.last_rx = self.last_tx = 0.0

    def move(self, new: str) -> None:
        old = self.state
        if new == old:
            return
        if new not in TRANSITIONS[old]:
            raise RuntimeError(f"{old} -> {new} is not a transition")
        self.state = new
        self.on_move(old, new)

    def connect(self) -> int:
        """A new attempt: ``connecting``, and the attempt's number."""
        self.move("connecting")
        self.attempt += 1
        self.epoch += 1
        return self.attempt

    def fail(self) -> bool:
        """To ``backoff``; False if the connection was already down."""
        if self.state in ("backoff", "standby", "stopped"):
            return False
        self.epoch += 1
        self.move("backoff")
        return True

    def stand_by(self) -> None:
        """The lease is gone: ``standby``, every timer of the connection void."""
        self.epoch += 1
        self.move("standby")

    def current(self, attempt: int) -> bool:
        return attempt == self.attempt

    def heard(self, now: float) -> None:
        self.last_rx = now

    def spoke(self, now: float) -> None:
        self.last_tx = now

    def tick(self, now: float) -> Tick | None:
        if now - self.last_rx > self.timeout:
            return Tick.SILENT
        if now - self.last_tx >= self.interval:
            return Tick.SPEAK
        return None
