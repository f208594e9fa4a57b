"""The store writer: no write can sink another, and a failing store is told apart from
a poisoned write — on real stores (SQLite and PostgreSQL; a real lock held by another
connection for the failing store).

To put several writes into one group, the writer is first held inside a job that waits
on an event; everything told meanwhile piles up in its mailbox and is committed as one
group once the job ends (``Held``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pykka
import pytest
from sqlalchemy import func, select

from actors import store_writer
from actors.messages import (
    AckInbox,
    Barrier,
    GetStatus,
    ProbeWrite,
    RecordAck,
    RecordAudit,
    StartScheduledChecks,
    SubmitChanges,
    SwitchMaintenance,
)
from actors.store_writer import StoreWriter
from actors.writer_health import WriterBoard
from devtools.synthetic import Synth
from hub.domain.changes import parse_change
from hub.domain.errors import HubError
from hub.domain.outcomes import Outcome
from hub.domain.register import Register
from hub.store import AuditEntry, Store
from hub.store.engine import make_engine, migrate
from hub.store.tables import audit_log, link_state, residents
from hub.support import metrics
from tests.actors.helpers import claim_lease

TODAY = dt.date(2026, 11, 27)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, url: str, busy_timeout: float = 30.0) -> None:
        migrate(url)
        self.store = Store(make_engine(url, busy_timeout=busy_timeout))
        self.register = Register(self.store, "222038", frozenset({"prefecture"}), lambda: 1e9)
        self.board = WriterBoard(Clock())
        self.now = 1e9  # the writer's clock
        self.writer = StoreWriter.start(self.store, self.register, board=self.board,
                                        wall_clock=lambda: self.now)
        self.board.alive = self.writer.is_alive
        self.synth = Synth(seed=71, today=TODAY)
        self.token = claim_lease(self.writer, "prefecture")

    def change(self, obj: dict[str, Any] | None = None) -> Any:
        return parse_change(obj or self.synth.arrival(), TODAY)

    def count(self, table: Any) -> int:
        with self.store.engine.connect() as c:
            return int(c.scalar(select(func.count()).select_from(table)))

    def stop(self) -> None:
        pykka.ActorRegistry.stop_all()
        self.store.dispose()


@pytest.fixture
def rig(store_url: str) -> Iterator[Rig]:
    r = Rig(store_url)
    yield r
    r.stop()


@dataclass(frozen=True)
class HoldWriter:
    """This module's own long job (a start the writer runs from its ``_JOBS`` table, as
    it runs the hub's): ``hold()`` inside the writer's turn."""

    hold: Callable[[], None]
    reply: Callable[[Any], None]


@pytest.fixture(autouse=True)
def _holding_is_a_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(store_writer._JOBS, HoldWriter, lambda _w, m, _now: (m.hold(), None))


class Held:
    """Hold the writer inside a job until the block ends: what is told inside the block
    is then written as one group."""

    def __init__(self, writer: Any) -> None:
        self.writer, self.release, self.inside = writer, threading.Event(), threading.Event()

    def __enter__(self) -> Held:
        def hold() -> None:
            self.inside.set()
            self.release.wait(timeout=30)

        self.writer.tell(HoldWriter(hold, reply=lambda _: None))
        assert self.inside.wait(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.writer.ask(GetStatus(), timeout=30)  # the group is committed


def entry(action: str, count: int | None = None) -> AuditEntry:
    return AuditEntry(0, "op001", "t01", action, None, None, None, False, "ok", count)


def test_a_poisoned_write_is_refused_alone_and_the_rest_of_its_group_commits(rig: Rig) -> None:
    outcomes: list[list[Outcome]] = []
    audits: list[Any] = []
    before = metrics.store_writes_refused.labels("RecordAudit")._value.get()
    with Held(rig.writer):
        rig.writer.tell(SubmitChanges([rig.change()], reply=outcomes.append))
        rig.writer.tell(RecordAudit(entry("test.good"), reply=audits.append))
        # A count no column can hold (2**63): SQLite cannot bind it, PostgreSQL's
        # INTEGER refuses it — the write fails whatever group it is in.
        rig.writer.tell(RecordAudit(entry("test.poison", count=2**63), reply=audits.append))
        rig.writer.tell(SubmitChanges([rig.change(), rig.change()], reply=outcomes.append))
        rig.writer.tell(RecordAudit(entry("test.good"), reply=audits.append))
    assert [o.error for batch in outcomes for o in batch] == [None, None, None]
    assert rig.count(residents) == 3
    assert audits[0] is None and audits[2] is None
    assert isinstance(audits[1], HubError) and audits[1].code == "write_failed"
    assert audits[1].status == 500
    with rig.store.engine.connect() as c:
        actions = c.scalars(select(audit_log.c.action).where(
            audit_log.c.action.like("test.%"))).all()
    assert sorted(actions) == ["test.good", "test.good"]
    assert metrics.store_writes_refused.labels("RecordAudit")._value.get() == before + 1

    # Nothing of the poisoned write stayed behind: the next groups commit, and the
    # writer's board says it works (a poisoned write is not the store failing).
    assert rig.board.trouble(30) is None and rig.board.state.poisoned == 1
    more: list[list[Outcome]] = []
    rig.writer.tell(SubmitChanges([rig.change()], reply=more.append))
    rig.writer.ask(GetStatus(), timeout=30)
    assert more[0][0].error is None and rig.count(residents) == 4
    probed: list[str | None] = []
    rig.writer.tell(ProbeWrite("test", reply=probed.append))
    rig.writer.ask(GetStatus(), timeout=30)
    assert probed == [None]


def test_a_poisoned_acknowledgement_of_an_inbox_item_is_answered(rig: Rig) -> None:
    """The probe's own case: ``POST /v1/inbox/2**63/ack`` once wedged the writer."""
    verdicts: list[Any] = []
    with Held(rig.writer):
        rig.writer.tell(AckInbox(2**63, "op001", "t01", reply=verdicts.append))
        rig.writer.tell(RecordAudit(entry("test.good"), reply=verdicts.append))
        rig.writer.tell(RecordAck("prefecture", 0, rig.token))
    assert len(verdicts) == 2 and verdicts[1] is None
    # SQLite cannot bind 2**63 (refused alone); PostgreSQL compares it and finds nothing.
    assert verdicts[0] == "unknown" or (isinstance(verdicts[0], HubError)
                                        and verdicts[0].code == "write_failed")
    assert rig.board.trouble(30) is None
    outcomes: list[list[Outcome]] = []
    rig.writer.tell(SubmitChanges([rig.change()], reply=outcomes.append))
    rig.writer.ask(GetStatus(), timeout=30)
    assert outcomes[0][0].error is None


def test_a_store_that_cannot_write_is_told_apart_and_nothing_is_lost(tmp_path: Any) -> None:
    """Another connection holds the SQLite write lock (a real lock, as a stuck process
    would): requests hear 503 store_unavailable, the links' records wait for the next
    flush, the board says failing; once the lock goes, everything kept commits."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    r = Rig(url, busy_timeout=0.2)
    try:
        r.writer.tell(SubmitChanges([r.change()], reply=lambda _: None))
        r.writer.ask(GetStatus(), timeout=30)
        blocker = sqlite3.connect(tmp_path / "hub.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        outcomes: list[list[Outcome]] = []
        audits: list[Any] = []
        with Held(r.writer):
            r.writer.tell(SubmitChanges([r.change()], reply=outcomes.append))
            r.writer.tell(RecordAudit(entry("test.kept"), reply=audits.append))
            r.writer.tell(RecordAck("prefecture", 1, r.token))
        [[outcome]] = outcomes
        assert outcome.error is not None and outcome.error.code == "store_unavailable"
        assert outcome.error.status == 503
        assert isinstance(audits[0], HubError) and audits[0].code == "store_unavailable"
        assert "fail" in (r.board.trouble(30) or "")
        assert r.board.state.poisoned == 0  # the store's failure, not the writes'
        probed: list[str | None] = []
        r.writer.tell(ProbeWrite("test", reply=probed.append))
        r.writer.ask(GetStatus(), timeout=30)
        assert probed == ["OperationalError"]

        blocker.execute("ROLLBACK")
        blocker.close()
        r.writer.tell(ProbeWrite("test", reply=probed.append))
        done = threading.Event()
        r.writer.tell(Barrier(reply=done.set))
        assert done.wait(timeout=30)
        assert probed[-1] is None and r.board.trouble(30) is None
        with r.store.engine.connect() as c:  # the acknowledgement kept meanwhile
            assert c.scalar(select(link_state.c.acked_seq)) == 1
        assert r.count(residents) == 1  # the refused change was not written
    finally:
        r.stop()


def test_the_board_says_wedged_failing_or_stopped() -> None:
    clock = Clock()
    board = WriterBoard(clock)
    assert board.trouble(30) is None and board.busy_seconds() == 0
    board.began()
    clock.now += 29
    assert board.trouble(30) is None and board.busy_seconds() == 29
    clock.now += 2
    assert "wedged" in (board.trouble(30) or "")
    board.committed()
    assert board.trouble(30) is None
    board.failed("OperationalError")
    clock.now += 5
    assert "OperationalError" in (board.trouble(30) or "")
    board.refused_alone()  # a poisoned write does not end it: only a commit does
    assert board.trouble(30) is not None
    board.committed()
    board.alive = lambda: False
    assert board.trouble(30) == "the store writer has stopped"


def test_no_change_commits_while_maintenance_is_on(rig: Rig) -> None:
    """Maintenance is decided where changes are written: a change told after the switch
    is refused by the writer itself (503 maintenance), whatever the intake's gate saw."""
    outcomes: list[list[Outcome]] = []
    rig.writer.tell(SubmitChanges([rig.change()], reply=outcomes.append))  # before it
    rig.writer.tell(SwitchMaintenance(True, "a test", "op001", "t01", 1e9,
                                      reply=lambda _: None))
    rig.writer.tell(SubmitChanges([rig.change()], reply=outcomes.append))  # after it
    rig.writer.tell(SwitchMaintenance(False, None, "op001", "t01", 1e9, reply=lambda _: None))
    rig.writer.tell(SubmitChanges([rig.change()], reply=outcomes.append))
    rig.writer.ask(GetStatus(), timeout=30)
    errors = [o.error.code if o.error else None for [o] in outcomes]
    assert errors == [None, "maintenance", None]
    assert outcomes[1][0].error is not None and outcomes[1][0].error.status == 503
    assert rig.count(residents) == 2


def test_scheduled_ticks_released_together_start_one_check_per_link(rig: Rig) -> None:
    """The schedule's decision (is a link's check due?) is the writer's: eight ticks
    told at once — from eight threads released together, as from timers of several
    hubs — start one check per link for the interval, never two."""
    from hub.store.tables import consistency_checks

    links, every = ["prefecture"], 3600.0  # the rig's one link
    replies: list[Any] = []
    done = threading.Semaphore(0)

    def reply(value: Any) -> None:
        replies.append(value)
        done.release()

    def tick() -> StartScheduledChecks:
        return StartScheduledChecks(links, every, 100, reply)

    start = rig.now
    rig.writer.tell(tick())  # the first tick: the schedule counts from here
    assert done.acquire(timeout=30)
    rig.now = start + every + 1  # (the writer's clock)
    gate = threading.Barrier(8)

    def tell() -> None:
        gate.wait(timeout=30)
        rig.writer.tell(tick())

    threads = [threading.Thread(target=tell) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for _ in range(8):
        assert done.acquire(timeout=30)
    started = [r for r in replies[1:] if r]
    assert len(started) == 1 and sorted(started[0]) == links
    assert rig.count(consistency_checks) == 1
    # Not due again until an interval after the last check; then due once more.
    rig.now = start + every * 1.5
    rig.writer.tell(tick())
    assert done.acquire(timeout=30) and replies[-1] == {}
    rig.now = start + every * 2 + 2
    rig.writer.tell(tick())
    assert done.acquire(timeout=30) and sorted(replies[-1]) == links
    assert rig.count(consistency_checks) == 2
