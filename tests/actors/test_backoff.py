from __future__ import annotations

import random

from actors.backoff import Backoff


def test_delays_grow_within_jitter_bounds_and_cap() -> None:
    b = Backoff(initial=0.5, maximum=4.0, multiplier=2.0, rng=random.Random(7))
    nominal = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for n in nominal:
        d = b.next_delay()
        assert n / 2 <= d <= n
    b.reset()
    assert b.next_delay() <= 0.5


def test_jitter_spreads_peers_apart() -> None:
    delays = {round(Backoff(1.0, 60.0, rng=random.Random(seed)).next_delay(), 6)
              for seed in range(20)}
    assert len(delays) > 15
