"""Messages between the hub and its intake worker processes, over a socketpair the hub
made and handed down: length-prefixed frames (``protocols.framing``) of pickled Python
objects.  Pickle is for our own processes only: the socket has no address, and nothing
but the hub and the children it spawned ever holds it.

Every message is a dataclass.  Those below keep the processes themselves going
(``hub.net.intake_processes``, ``hub.worker``); the API's questions and answers are
``hub.api.remote``'s."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from protocols.framing import FrameDecoder, encode_frame

log = logging.getLogger("jukihub.intake")

@dataclass(frozen=True, slots=True)
class Ready:
    """Worker → hub: started, serving."""

    pid: int


@dataclass(frozen=True, slots=True)
class Flush:
    """Hub → worker: a scrape of the hub's ``/metrics`` waits for your meters."""


@dataclass(frozen=True, slots=True)
class Flushed:
    """Worker → hub: the meters it held are sent (before this)."""


@dataclass(frozen=True, slots=True)
class Gate:
    """Hub → worker: whether the intake takes changes (``closed``: why not, or
    ``None``), the hub's ``generation`` of it."""

    closed: Any
    generation: int


@dataclass(frozen=True, slots=True)
class GateApplied:
    """Worker → hub: ``Gate`` of this ``generation`` applied (the hub says so only
    after every serving worker has)."""

    generation: int


# A batch of 1,000 changes with their answers is a few megabytes.
MAX_MESSAGE = 256 << 20


class MessageProtocol(Protocol):
    """One end of the conversation (reactor thread): ``send`` a message; each message
    received goes to ``on_message``; the end of the connection to ``on_lost``."""

    def __init__(self, on_message: Callable[[Any], None],
                 on_lost: Callable[[], None]) -> None:
        self.on_message, self.on_lost = on_message, on_lost
        self._frames = FrameDecoder(MAX_MESSAGE)

    def send(self, message: Any) -> None:
        transport: Any = self.transport  # Twisted's interfaces do not type write()'s self
        if transport is not None:
            transport.write(encode_frame(pickle.dumps(message, pickle.HIGHEST_PROTOCOL),
                                         MAX_MESSAGE))

    def dataReceived(self, data: bytes) -> None:
        self._frames.receive_data(data)
        while (frame := self._frames.next_frame()) is not None:
            try:
                self.on_message(pickle.loads(frame))
            except Exception as exc:  # a bug with one message; the others go on
                log.error("intake message failed", extra={"event": "intake.ipc_error",
                                                          "error": type(exc).__name__})

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.on_lost()
