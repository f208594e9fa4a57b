"""Bad input in bulk, bounded (``jukihub-dev fuzz`` runs a million by default): a mutated
corpus of real documents against every decoder — each input decoded or refused with the
protocol's own error, none slower than a second, and the same seed the same inputs."""

from __future__ import annotations

from devtools import fuzz


def test_a_bounded_run_has_no_crash_and_no_hang() -> None:
    r = fuzz.run(60_000, seed=16)
    assert r.inputs == 60_000 and r.corpus > 100
    assert r.crashes == [] and r.hangs == []
    # Every decoder met inputs it decoded and inputs it refused (the corpus is real,
    # the mutations bite): a decoder that refused everything would prove nothing.
    assert set(r.refused) == set(fuzz.DECODERS)
    assert {"identity_update", "to_national", "to_intermediate", "frames",
            "session"} <= set(r.decoded)


def test_the_same_seed_makes_the_same_inputs() -> None:
    first, again = fuzz.run(5_000, seed=3), fuzz.run(5_000, seed=3)
    other = fuzz.run(5_000, seed=4)
    assert (first.decoded, first.refused) == (again.decoded, again.refused)
    assert (first.decoded, first.refused) != (other.decoded, other.refused)
