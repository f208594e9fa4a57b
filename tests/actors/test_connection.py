"""A link's connection as plain state: states, attempts, epochs and liveness, without
an actor, a reactor or a byte."""

from __future__ import annotations

import pytest

from actors.connection import STATES, TRANSITIONS, Connection, Tick


def _conn() -> tuple[Connection, list[tuple[str, str]]]:
    moves: list[tuple[str, str]] = []
    return Connection(interval=5.0, timeout=15.0,
                      on_move=lambda a, b: moves.append((a, b))), moves


def test_a_life_reports_every_move_once() -> None:
    conn, moves = _conn()
    conn.move("standby")  # until the link's lease is granted
    assert conn.connect() == 1
    conn.move("handshaking")
    conn.move("handshaking")  # already there: nothing to report
    conn.move("ready")
    assert conn.fail() is True
    assert conn.fail() is False  # a second failure of the same connection is no news
    assert conn.connect() == 2
    epoch = conn.epoch
    conn.stand_by()  # the lease lost: every timer of the connection void
    assert conn.epoch != epoch and conn.fail() is False
    assert moves == [("idle", "standby"), ("standby", "connecting"),
                     ("connecting", "handshaking"), ("handshaking", "ready"),
                     ("ready", "backoff"), ("backoff", "connecting"),
                     ("connecting", "standby")]


def test_reports_and_timers_of_an_old_connection_are_told_apart() -> None:
    conn, _ = _conn()
    conn.move("standby")
    first = conn.connect()
    epoch = conn.epoch
    conn.fail()
    assert conn.epoch != epoch  # a timer set before the failure is stale
    second = conn.connect()
    assert not conn.current(first) and conn.current(second)


@pytest.mark.parametrize("old", STATES)
def test_only_the_table_s_transitions_are_allowed(old: str) -> None:
    for new in STATES:
        if new == old:
            continue
        conn, moves = _conn()
        conn.state = old
        if new in TRANSITIONS[old]:
            conn.move(new)
            assert conn.state == new and moves == [(old, new)]
        else:
            with pytest.raises(RuntimeError, match=f"{old} -> {new}"):
                conn.move(new)
            assert conn.state == old and moves == []


def test_stopped_is_final() -> None:
    conn, _ = _conn()
    conn.move("stopped")
    assert conn.fail() is False and conn.state == "stopped"
    with pytest.raises(RuntimeError):
        conn.connect()


def test_liveness_speaks_when_quiet_and_drops_when_the_peer_is_silent() -> None:
    conn, _ = _conn()
    conn.heard(100.0)
    conn.spoke(100.0)
    assert conn.tick(104.0) is None  # both fresh
    assert conn.tick(105.0) is Tick.SPEAK  # nothing sent for the interval
    conn.spoke(105.0)
    conn.heard(110.0)
    assert conn.tick(109.0) is None
    assert conn.tick(125.0) is Tick.SPEAK
    assert conn.tick(125.1) is Tick.SILENT  # nothing heard for more than the timeout
    conn.heard(125.1)
    conn.spoke(125.1)
    assert conn.tick(125.2) is None
