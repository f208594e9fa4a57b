"""Operations' plain rules and the dead-letter mend on real stores (SQLite and
PostgreSQL): replay and discard, what the retention purge may then delete, the intake's
gate, the readiness of certificates, and the status view on a known state."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from hub.commands.operate import render_status
from hub.domain import dead_letters, operations
from hub.domain.errors import HubError
from hub.domain.register import Register
from hub.store import Flag, Store
from hub.store.engine import make_engine, migrate


@pytest.fixture
def register(store_url: str) -> Any:
    migrate(store_url)
    engine = make_engine(store_url)
    yield Register(Store(engine), "222038", frozenset({"card"}), lambda: 1e9)
    engine.dispose()


def _queue(r: Register, key: str, n: int) -> list[int]:
    """``n`` messages of ``key`` on the card link; their sequences."""
    with r.job_transaction() as conn:
        rows: list[tuple[object, ...]] = []
        items = [r.enqueue(rows, "card", "card_event", f"m{i}".encode(), key, 0, 1000.0,
                           f"cid-{key}") for i in range(n)]
        r.store.outbox.append(conn, rows)
    return [i.seq for i in items]


def _dead(r: Register, seq: int, hold: list[int]) -> int:
    with r.store.transaction("t") as conn:
        r.store.dead_letters.record(conn, "card", seq, "stale_event", "refused", 1001.0)
        r.store.outbox.hold(conn, "card", hold)
        (letter,) = r.store.dead_letters.list(conn, "open", "card", 0, 10)
    return letter.id


def _states(r: Register) -> list[tuple[int, str]]:
    with r.store.reading() as db:
        return [(int(a), b) for a, b in db.rows("SELECT seq, state FROM outbox ORDER BY seq")]


def test_replay_sends_the_dead_message_and_those_behind_it_again_in_order(register: Any) -> None:
    r = register
    seqs = _queue(r, "A", 3) + _queue(r, "B", 1)       # 1, 2, 3 of A; 4 of B
    letter = _dead(r, seqs[0], [2])                     # 2 held; 3 not sent yet
    done = dead_letters.mend(r, dead_letters.Mend(letter, "replay", None, "op1", "t1"), 2000.0)
    assert isinstance(done, dead_letters.Mended) and not done.still_held
    assert [(i.seq, i.payload, i.correlation_id) for i in done.items] == [
        (5, b"m0", "cid-A"), (6, b"m1", "cid-A"), (7, b"m2", "cid-A")]
    assert done.superseded == (1, 2, 3)
    assert _states(r) == [(1, "replayed"), (2, "replayed"), (3, "replayed"), (4, "pending"),
                          (5, "pending"), (6, "pending"), (7, "pending")]
    again = dead_letters.mend(r, dead_letters.Mend(letter, "discard", "x", "op1", "t1"), 2001.0)
    assert isinstance(again, HubError) and again.code == "already_resolved"
    unknown = dead_letters.mend(r, dead_letters.Mend(99, "replay", None, "op1", "t1"), 2001.0)
    assert isinstance(unknown, HubError) and unknown.status == 404
    with r.store.reading() as db:
        assert r.store.dead_letters.held_residents(db, "card") == set()
        (entry,) = [e for e in r.store.audit.search(db) if e.entry.action.startswith("dead")]
    assert (entry.entry.action, entry.entry.request_id, entry.entry.count) == (
        "deadletters.replay", str(letter), 3)


def test_discard_sends_only_what_was_held_and_the_purge_then_deletes_it(register: Any) -> None:
    r = register
    seqs = _queue(r, "S0000000001", 2)  # a send-destination batch's chunks, say
    letter = _dead(r, seqs[0], [seqs[1]])
    with pytest.raises(HubError):
        dead_letters.Mend(letter, "discard", "  ", "op1", "t1")  # a reason is required
    done = dead_letters.mend(r, dead_letters.Mend(letter, "discard", "resent by hand", "op1",
                                                  "t1"), 2000.0)
    assert isinstance(done, dead_letters.Mended)
    assert [i.seq for i in done.items] == [3] and done.state == "discarded"
    assert _states(r) == [(1, "discarded"), (2, "released"), (3, "pending")]
    with r.store.transaction("t") as conn:
        # Not before the peer has settled them (the actor reads its outbox in order)...
        assert r.store.outbox.purge_delivered(conn, before=3000.0, limit=100) == 0
        r.store.link_state.advance(conn, {"card": 2})
        # ... then the discarded chunk's data goes with the retention purge.
        assert r.store.outbox.purge_delivered(conn, before=3000.0, limit=100) == 2
    assert _states(r) == [(3, "pending")]


def test_the_intake_gate_says_why_it_is_shut() -> None:
    assert operations.intake_closed(None, {"card": 5}, 10) is None
    over = operations.intake_closed(None, {"card": 5, "prefecture": 12}, 10)
    assert over is not None and over.code == "backpressure"
    assert "prefecture outbox holds 12 messages" in over.message
    flag = Flag("maintenance", "upgrade", 1.0, "op1")
    shut = operations.intake_closed(flag, {"card": 50}, 10)
    assert shut is not None and shut.code == "maintenance" and "upgrade" in shut.message


def test_certificates_are_ready_until_close_to_expiry() -> None:
    fine = {"ca": 800.0, "hub": 800.0, "intake": 800.0, "metrics": 800.0, "crl:ca.crl": 6.5}
    assert operations.certificates_check(fine, 14)["ok"]
    soon = operations.certificates_check({**fine, "intake": 3.0}, 14)
    assert not soon["ok"] and "intake: expires in 3.0 days" in soon["detail"]
    due = operations.certificates_check({**fine, "crl:ca.crl": -0.1}, 14)
    assert not due["ok"] and "expired" in due["detail"]
    assert not operations.certificates_check({"ca": 800.0}, 14)["ok"]  # missing ones


STATUS = {
    "at": 10_000.0, "maintenance": {"on": False}, "intake": {"open": True},
    "links": [{"link": "prefecture", "state": "ready", "depth": 12, "inflight": 3,
               "inflight_bytes": 4096, "held_residents": 1, "dead_letters": 2,
               "oldest_age_seconds": 95.0, "last_error": None, "last_error_at": None,
               "owner": "hub1"},
              {"link": "national", "state": "backoff", "depth": 0, "inflight": 0,
               "inflight_bytes": 0, "held_residents": 0, "dead_letters": 0,
               "oldest_age_seconds": 0.0, "last_error": "connect_connect",
               "last_error_at": 9_940.0}],
    "certificates": [{"party": "intake", "days_left": 9.5}],
    "jobs": [{"kind": "consistency_check", "id": "C0000000001", "link": "prefecture",
              "state": "building", "done": 500, "total": 2000, "started_at": 9_900.0,
              "finished_at": None}],
}


def _status_rows(lang: str) -> tuple[str, dict[str, list[str]]]:
    from hub.commands import say

    say.use(lang)
    try:
        out = io.StringIO()
        Console(file=out, width=200, color_system=None).print(render_status(STATUS))
    finally:
        say.use(None)
    text = out.getvalue()
    return text, {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[1:-1]]
                  for line in text.splitlines() if line.startswith("│")}


def test_the_status_view_of_a_known_state() -> None:
    text, rows = _status_rows("en")
    assert rows["Prefectural server (prefecture)"] == [
        "Prefectural server (prefecture)", "Connected (ready)", "hub1", "12", "1 min 35 s",
        "3", "4096", "1", "2", "—"]
    national = rows["National server (J-LIS) (national)"]
    assert national[1:3] == ["Waiting to reconnect (backoff)", "—"]  # no lease read
    assert national[-1] == "connect_connect (1 min ago)"  # a code no table names
    assert rows["The intake (its server certificate) (intake)"][1] == "9.5"
    job = rows["Consistency check (consistency_check) · Prefectural server (prefecture)"]
    # 500 of 2,000 in 100 s: 5.0/s, 300 s (5 min) left.
    assert job[1:3] == ["C0000000001", "Building (building)"]
    assert job[4:] == ["500/2000", "5.0/s", "5 min"]
    assert "Intake open" in text


def test_the_status_view_in_japanese_by_default() -> None:
    text, rows = _status_rows("ja")
    assert rows["都道府県サーバ (prefecture)"][1:5] == ["接続済み (ready)", "hub1", "12",
                                                      "1分35秒"]
    assert rows["全国サーバ（J-LIS） (national)"][-1] == "connect_connect (1分前)"
    job = rows["整合性確認 (consistency_check) · 都道府県サーバ (prefecture)"]
    assert job[2] == "作成中 (building)" and job[5:] == ["5.0 件/秒", "5分"]
    assert text.startswith("受付 受付中")
