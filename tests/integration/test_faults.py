"""The fault harness, bounded (``jukihub-dev faults``: 10,000 changes through all five
links, five hub kills, a kill of each mock's, cuts mid-frame, stalls past the
heartbeat, temporary refusals, the store's disk full): nothing lost, nothing applied
twice, nothing out of order, nothing left pending once drained.  The long run is the
same command with bigger numbers (README, "Faults")."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from devtools.faults import KINDS, schedule
from devtools.harness import ROOT


def test_the_same_seed_gives_the_same_schedule() -> None:
    counts = dict.fromkeys(KINDS, 3)
    first = schedule(7, 10_000, counts)
    assert first == schedule(7, 10_000, counts)
    assert first != schedule(8, 10_000, counts)
    assert len(first) == 3 * len(KINDS)
    assert all(500 <= f.at < 9_500 for f in first)  # not in the first or last twentieth


def test_ten_thousand_changes_through_every_fault() -> None:
    done = subprocess.run([sys.executable, "-m", "devtools.cli", "faults", "--changes",
                           "10000", "--seed", "16"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    print(done.stdout)
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-4000:])
    out = done.stdout
    assert "result OK" in out and "accepted 10,000, refused 0" in out
    fired = dict((k, int(n)) for n, k in re.findall(r"(\d+) (\w+)(?=,|$)",
                                                      out.split("faults fired: ")[1]
                                                      .splitlines()[0]))
    want = {"hub_kill": 5, "mock_kill": 5, "cut": 3, "stall": 2, "refuse": 3}
    if os.geteuid() == 0:  # the store's own small file system needs root to mount
        want["fill"] = 1
    assert {k: fired.get(k, 0) for k in want} == want
    # The faults were felt: the hub went away under the poster, the full store refused.
    assert "connection lost" in out
    if os.geteuid() == 0:
        assert "store_unavailable" in out
    table = out.split("pending\n", 1)[1].splitlines()[:5]
    for line in table:  # numbered, applied, lost, twice, out of order, pending
        numbers = [int(x.replace(",", "")) for x in line.split()[1:]]
        assert numbers[0] == numbers[1] and numbers[2:] == [0, 0, 0, 0], line


def test_two_hubs_on_postgresql_killed_by_turns(pg_server: object) -> None:
    """``--hubs 2``: the two hubs share a PostgreSQL store and take the stream by turns
    while each is SIGKILLed in its turn (its links taken over by the other) among the
    peers' faults: nothing lost, twice or out of order.  (``pg_server``: the Debian
    binaries are set up; the harness runs its own private server.)"""
    done = subprocess.run([sys.executable, "-m", "devtools.cli", "faults", "--hubs", "2",
                           "--changes", "3000", "--seed", "16", "--faults",
                           "hub_kill=4,mock_kill=2,cut=2,stall=1,refuse=2,fill=0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    print(done.stdout)
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-4000:])
    out = done.stdout
    assert "result OK" in out and "accepted 3,000, refused 0" in out
    assert "killed hub a 2×, hub b 2×" in out
    table = out.split("pending\n", 1)[1].splitlines()[:5]
    for line in table:  # numbered, applied, lost, twice, out of order, pending
        numbers = [int(x.replace(",", "")) for x in line.split()[1:]]
        assert numbers[0] == numbers[1] > 0 and numbers[2:] == [0, 0, 0, 0], line
