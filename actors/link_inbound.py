"""The inbound half of a link, on its actor's thread: the peer's pushes, told apart by
the ``InboundStream``, given their effect by the domain (``hub.domain.inbound``),
recorded in the inbox through the store writer, and only then acknowledged."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from actors.inbound_stream import InboundStream, Push
from actors.link_metrics import LinkMetrics
from actors.messages import Designated, InboundRecorded, RecordInbound, SubmitChanges
from hub.domain import inbound
from protocols.national import TransferInNotice
from protocols.session import DataFrame, Session


class LinkInbound:
    def __init__(self, link: str, writer: Any, metrics: LinkMetrics,
                 later: Callable[[Any], Callable[[], None]],
                 wall_clock: Callable[[], float]) -> None:
        self.link, self.writer, self.metrics = link, writer, metrics
        self.later = later  # a reply that tells the actor a message after the commit
        self.wall_clock = wall_clock
        self.stream = InboundStream()
        self.token = 0  # the fencing token of the link's lease, carried by every record

    def push(self, frame: DataFrame, session: Session) -> bytes:
        """A document the peer pushed: what to answer at once (a resend's ack)."""
        verdict = self.stream.frame(frame.seq)
        if verdict is Push.DUPLICATE:
            return session.ack(self.stream.applied)  # a resend: already held
        if verdict is Push.GAP:
            return b""  # the peer goes back once it sees our acknowledgement
        today = dt.date.fromtimestamp(self.wall_clock())
        effect = inbound.effect(self.link, frame.body, today)
        if isinstance(effect, inbound.Designate):
            # Into the register first (idempotent), then the inbox, then acknowledged: a
            # crash in between means the push comes again and gets its first answer.
            seq, body, kind, later = frame.seq, frame.body, effect.kind, self.later
            # Its messages are correlated with the push that caused them.
            change = dataclasses.replace(effect.change,
                                         correlation_id=f"{self.link}-push-{seq}")
            self.writer.tell(SubmitChanges([change], reply=lambda outcomes: later(
                Designated(seq, kind, body, outcomes[0].error.code if outcomes[0].error
                           else None))()))
            return b""
        if effect.check is not None:
            self.metrics.consistency_answered(effect.check)
        self.record(frame.seq, effect.kind, frame.body, effect.refused, effect.check,
                    effect.transfer_in, effect.copy_request)
        return b""

    def record(self, seq: int, kind: str, body: bytes, code: str | None,
               check: inbound.CheckAnswer | None = None,
               transfer_in: TransferInNotice | None = None,
               copy_request: Any = None) -> None:
        """Into the inbox (refused with ``code`` if set, or with the code the writer
        decides: a 転入通知 that answers no 転出); ``recorded`` follows."""
        later = self.later
        # The writer's reply crosses back to this actor as a tell (``later``).
        self.writer.tell(RecordInbound(self.link, seq, kind, body, code, check=check,
                                       transfer_in=transfer_in, copy_request=copy_request,
                                       token=self.token,
                                       reply=lambda decided: later(
                                           InboundRecorded(seq, decided))()))

    def recorded(self, msg: InboundRecorded, session: Session | None) -> bytes:
        """The push is in the inbox: its acknowledgement (or refusal), if connected."""
        self.stream.recorded(msg.seq)
        self.metrics.inbound_refused(msg.refused_code)
        self.metrics.inbound()
        if session is None:
            return b""
        return (session.refuse(msg.seq, True, msg.refused_code) if msg.refused_code
                else session.ack(msg.seq))
