"""The mock endpoint's streams as state machines: random reads of the hub's stream
(in order, repeated, ahead, withdrawn; bodies applied, refused or failing; injected
refusals and drops) and random pushes settled by the hub, with both parts'
``invariants()`` checked after every step and the applied sequence compared with a
model of the session protocol's rule."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_endpoints.streams import SCHEMA, Pushes, Received, Refusal
from protocols.session import DataFrame, Withdrawn


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript(SCHEMA)
    return db


class Boom(Exception):
    """A body whose applying fails (the endpoint's bug, a full disk)."""


# One frame of a read: where its sequence is (relative to what is applied), and what
# its body does when applied.
_FRAME = st.tuples(st.sampled_from(["next", "again", "ahead", "withdraw"]),
                   st.sampled_from(["apply", "apply", "apply", "refuse_temp",
                                    "refuse_perm", "boom"]))
_STEP = st.one_of(
    st.tuples(st.just("read"), st.lists(_FRAME, min_size=1, max_size=5)),
    st.tuples(st.just("fault"), st.sampled_from(["refuse", "drop_after"])),
    st.tuples(st.just("queue"), st.integers(1, 3)),
    st.tuples(st.just("ack"), st.integers(0, 4)),
    st.tuples(st.just("refuse_push"), st.just(0)),
)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(_STEP, max_size=30))
def test_streams_keep_their_invariants_whatever_the_hub_sends(steps: list[tuple]) -> None:
    db = _db()
    faults: dict[str, object] = {}
    received, pushes = Received(db, "prefecture", faults), Pushes(db)
    for step in steps:
        kind, arg = step
        if kind == "read":
            _read(received, faults, arg)
        elif kind == "fault":
            faults[arg] = ({"kind": "temporary", "count": 1, "code": "injected"}
                           if arg == "refuse" else 1)
        elif kind == "queue":
            for _ in range(arg):
                pushes.queue(db.cursor(), b"doc")
        else:
            pending = [seq for seq, _ in pushes.after(0)]
            if pending and kind == "ack":
                pushes.settle(pending[min(arg, len(pending) - 1)])
            elif pending:  # the hub refuses the first pending push for good
                pushes.settle(pending[0] - 1, refused=(pending[0], "bad", "why"))
        received.invariants()
        pushes.invariants()


def _read(received: Received, faults: dict[str, object], frames: list[tuple[str, str]]
          ) -> None:
    """One read's frames, applied; the applied sequence checked against the rule: the
    next sequence applies unless refused (then nothing after it in the read does), any
    other is skipped; a failing body leaves the stream as it was."""
    base = received.applied
    events: list[DataFrame | Withdrawn] = []
    bodies: dict[int, str] = {}
    cursor = base
    for where, body in frames:
        seq = {"next": cursor + 1, "again": max(1, cursor), "ahead": cursor + 3,
               "withdraw": cursor + 1}[where]
        if where == "withdraw":
            events.append(Withdrawn(seq))
        else:
            events.append(DataFrame(seq, "", body.encode()))
        bodies[id(events[-1])] = body
        if where in ("next", "withdraw"):
            cursor = seq

    def apply(_cur: sqlite3.Cursor, _seq: int, raw: bytes) -> tuple:
        what = raw.decode()
        if what == "boom":
            raise Boom
        if what.startswith("refuse"):
            return Refusal(what == "refuse_perm", "no"), None, None
        return None, "12345678903", 1

    expected, refused_at, drop, failing = _model(events, bodies, faults, base)
    if failing:
        with pytest.raises(Boom):
            received.process(events, apply)
        assert received.applied == base  # rolled back: nothing of the read kept
        return
    refused, dropped = received.process(events, apply)
    assert received.applied == expected
    assert (refused[0] if refused else None) == refused_at
    assert dropped == drop


def _model(events: list[DataFrame | Withdrawn], bodies: dict[int, str],
           faults: dict[str, object], base: int) -> tuple[int, int | None, bool, bool]:
    """The session protocol's rule, walked by hand: (the applied sequence after the read,
    the sequence refused or None, whether a drop fault fired, whether a body failed)."""
    expected, refused_at, drop = base, None, False
    refuse_fault = "refuse" in faults
    drop_left = faults.get("drop_after")
    for ev in events:
        if refused_at is not None or drop or ev.seq != expected + 1:
            continue
        if isinstance(ev, Withdrawn):
            expected = ev.seq
            continue
        if refuse_fault:
            refuse_fault, refused_at = False, ev.seq
            continue
        body = bodies[id(ev)]
        if body == "boom":
            return expected, refused_at, drop, True
        if body.startswith("refuse"):
            refused_at = ev.seq
            continue
        expected = ev.seq
        if isinstance(drop_left, int):
            drop_left -= 1
            drop = drop_left <= 0
    return expected, refused_at, drop, False


def test_the_invariants_see_a_stream_out_of_step() -> None:
    """The checks can fail: an applied sequence the file does not hold, a gap in the
    pushes, a push settled after a pending one."""
    db = _db()
    received, pushes = Received(db, "prefecture", {}), Pushes(db)
    received.applied = 3
    with pytest.raises(AssertionError):
        received.invariants()
    for _ in range(3):
        pushes.queue(db.cursor(), b"doc")
    db.execute("UPDATE pushes SET state='acked' WHERE seq=3")
    with pytest.raises(AssertionError):
        pushes.invariants()
    db.execute("DELETE FROM pushes WHERE seq=2")
    with pytest.raises(AssertionError):
        pushes.invariants()
