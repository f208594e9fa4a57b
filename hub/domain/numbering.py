"""The numbers the register hands out: 更新順番号, each link's transmission sequence,
card event numbers, 団体内統合宛名番号.

Read from the database inside a writing transaction (``Register.numbers``) and saved
with it: the counters are the highest numbers the tables hold, and each link's
``link_state.next_seq``.  A transaction that fails leaves nothing behind to give back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hub.domain.outcomes import OutboxItem


@dataclass
class Numbering:
    update_seq: int                 # the next 更新順番号
    card_event: int                 # the next card event number
    integrated_atena: int           # the next 団体内統合宛名番号
    link_seq: dict[str, int] = field(default_factory=dict)  # link -> its next sequence

    def snapshot(self) -> Numbering:
        return replace(self, link_seq=dict(self.link_seq))

    def next_update_seq(self) -> int:
        self.update_seq += 1
        return self.update_seq - 1

    def next_card_event(self) -> int:
        self.card_event += 1
        return self.card_event - 1

    def next_integrated_atena(self) -> str:
        self.integrated_atena += 1
        return f"{self.integrated_atena - 1:015d}"

    def message(self, link: str, payload: bytes, resident_key: str, update_seq: int,
                now: float, correlation_id: str = "") -> OutboxItem:
        """The next message of ``link``'s outbox (its row is written by the caller)."""
        seq = self.link_seq[link]
        self.link_seq[link] = seq + 1
        return OutboxItem(link, seq, update_seq, resident_key, payload, now, correlation_id)

    def moved(self, since: Numbering) -> dict[str, int]:
        """The links whose next sequence moved since ``since``: link -> next sequence."""
        return {link: n for link, n in self.link_seq.items() if since.link_seq.get(link) != n}
