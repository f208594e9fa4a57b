"""Exponential backoff with jitter, to a ceiling (no fixed-interval retry storms)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``next_delay()`` grows ``initial × multiplier^n`` up to ``maximum``; each delay is
    drawn uniformly from its upper half ("equal jitter"), so peers that failed together
    do not retry together, yet no retry comes sooner than half the nominal delay."""

    initial: float
    maximum: float
    multiplier: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        nominal = min(self.maximum, self.initial * self.multiplier ** self.attempt)
        self.attempt += 1
        return nominal / 2 + self.rng.uniform(0, nominal / 2)

    def reset(self) -> None:
        self.attempt = 0
