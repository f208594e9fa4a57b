"""A mock endpoint's two streams and its long-polls, each a small state machine over the
mock's own SQLite file, with the ``invariants()`` the property test checks after every
step (``tests/mock_endpoints/test_streams.py``):

- ``Received``: the hub's stream to this peer — the highest sequence applied, the
  applied log, the refusals.  Frames of one read are applied in one transaction; a
  refused sequence makes later frames wait until the hub resends or withdraws it.
- ``Pushes``: this peer's own stream to the hub — queued durably, sent after the commit
  that queued them, settled by the hub's acknowledgements and refusals.
- ``Waiters``: the control API's long-polls on a counter of either.

Everything runs on the reactor thread (the mock is a test double; its writes are small
and local).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer

from protocols.session import DataFrame, Withdrawn


@dataclass(frozen=True)
class Refusal:
    permanent: bool
    code: str
    reason: str = ""


# What applying a document gives: (refusal or None, its resident code, its 更新順番号)
Applied = tuple[Refusal | None, str | None, int | None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (link TEXT PRIMARY KEY, applied_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS applied_log (
    seq INTEGER PRIMARY KEY, resident_code TEXT, update_seq INTEGER,
    withdrawn INTEGER NOT NULL, applied_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pushes (
    seq INTEGER PRIMARY KEY, body BLOB NOT NULL, state TEXT NOT NULL, code TEXT,
    reason TEXT);
CREATE INDEX IF NOT EXISTS pushes_state ON pushes (state, seq);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, permanent INTEGER NOT NULL,
    code TEXT NOT NULL, at REAL NOT NULL);
"""


class Received:
    """The hub's stream to this peer, as applied.  ``faults`` is the endpoint's fault
    table (``refuse``, ``drop_after`` are consumed here)."""

    def __init__(self, db: sqlite3.Connection, link: str, faults: dict[str, Any]) -> None:
        self.db, self.link, self.faults = db, link, faults
        row = db.execute("SELECT applied_seq FROM meta WHERE link=?", (link,)).fetchone()
        self.applied: int = row[0] if row else 0
        if row is None:
            db.execute("INSERT INTO meta VALUES (?, 0)", (link,))

    def process(self, events: Iterable[DataFrame | Withdrawn],
                apply: Callable[[sqlite3.Cursor, int, bytes], Applied],
                ) -> tuple[tuple[int, Refusal] | None, bool]:
        """Apply data/withdraw events in one transaction (``apply`` for each body, in a
        savepoint); return the refusal (if any) with its sequence, and whether a drop
        fault fired."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        refused: tuple[int, Refusal] | None = None
        drop = False
        try:
            for ev in events:
                if refused is not None or ev.seq != self.applied + 1:
                    continue  # duplicates are re-acknowledged; later ones wait for a resend
                now = time.time()
                if isinstance(ev, Withdrawn):
                    cur.execute("INSERT INTO applied_log VALUES (?, NULL, NULL, 1, ?)",
                                (ev.seq, now))
                    self.applied = ev.seq
                    continue
                refusal = self._injected_refusal()
                code = upd = None
                if refusal is None:
                    cur.execute("SAVEPOINT one")
                    refusal, code, upd = apply(cur, ev.seq, ev.body)
                    cur.execute("ROLLBACK TO one" if refusal else "RELEASE one")
                if refusal is not None:
                    cur.execute("INSERT INTO refusals (seq, permanent, code, at) "
                                "VALUES (?,?,?,?)", (ev.seq, int(refusal.permanent),
                                                     refusal.code, now))
                    refused = (ev.seq, refusal)
                    continue
                cur.execute("INSERT INTO applied_log VALUES (?, ?, ?, 0, ?)",
                            (ev.seq, code, upd, now))
                self.applied = ev.seq
                if self._drop_now():
                    drop = True
                    break
            cur.execute("UPDATE meta SET applied_seq=? WHERE link=?", (self.applied, self.link))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            self.applied = self.db.execute("SELECT applied_seq FROM meta WHERE link=?",
                                           (self.link,)).fetchone()[0]
            raise
        return refused, drop

    def _injected_refusal(self) -> Refusal | None:
        spec = self.faults.get("refuse")
        if not spec:
            return None
        spec["count"] -= 1
        if spec["count"] <= 0:
            del self.faults["refuse"]
        return Refusal(spec["kind"] == "permanent", spec.get("code", "injected"), "fault")

    def _drop_now(self) -> bool:
        if "drop_after" not in self.faults:
            return False
        self.faults["drop_after"] -= 1
        if self.faults["drop_after"] > 0:
            return False
        del self.faults["drop_after"]
        return True

    def refusals(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM refusals").fetchone()[0])

    def invariants(self) -> None:
        """What is true between transactions: the applied sequence is the one stored,
        and the applied log (what came over the link, not seeds) holds no sequence past
        it and no gap below its highest."""
        (stored,) = self.db.execute("SELECT applied_seq FROM meta WHERE link=?",
                                    (self.link,)).fetchone()
        assert stored == self.applied, (stored, self.applied)
        low, high, n = self.db.execute(
            "SELECT min(seq), max(seq), count(*) FROM applied_log").fetchone()
        if n:
            assert high == self.applied, (high, self.applied)
            assert high - low + 1 == n, "a gap in the applied log"


class Pushes:
    """This peer's own stream to the hub: ``pending`` until the hub acknowledges
    (``acked``) or refuses it for good (``refused``)."""

    STATES = frozenset({"pending", "acked", "refused"})

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def queue(self, cur: sqlite3.Cursor, body: bytes) -> int:
        """Queue a push inside the caller's transaction; it is sent after the commit."""
        (last,) = cur.execute("SELECT coalesce(max(seq), 0) FROM pushes").fetchone()
        cur.execute("INSERT INTO pushes VALUES (?, ?, 'pending', NULL, NULL)",
                    (last + 1, body))
        return int(last) + 1

    def after(self, after: int) -> list[tuple[int, bytes]]:
        """The pending pushes past ``after``, in order."""
        return self.db.execute("SELECT seq, body FROM pushes WHERE seq > ? AND state = "
                               "'pending' ORDER BY seq", (after,)).fetchall()

    def settle(self, upto: int, refused: tuple[int, str, str] | None = None) -> None:
        """The hub holds every push up to ``upto``; ``refused``: (seq, code, reason) of
        the one it refused for good."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute("UPDATE pushes SET state='acked' WHERE seq <= ? AND state='pending'",
                        (upto,))
            if refused is not None:
                cur.execute("UPDATE pushes SET state='refused', code=?, reason=? "
                            "WHERE seq=? AND state='pending'",
                            (refused[1], refused[2], refused[0]))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def settled(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM pushes WHERE state != 'pending'"
                                   ).fetchone()[0])

    def listed(self) -> list[dict[str, Any]]:
        return [{"seq": r[0], "state": r[1], "code": r[2], "reason": r[3]}
                for r in self.db.execute("SELECT seq, state, code, reason FROM pushes "
                                         "ORDER BY seq")]

    def invariants(self) -> None:
        """Sequences run 1, 2, … without a gap; every state is known; the hub settles in
        order, so every settled push comes before every pending one; only a refused
        push carries a code."""
        rows = self.db.execute("SELECT seq, state, code FROM pushes ORDER BY seq").fetchall()
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1)), "a gap in the pushes"
        assert {r[1] for r in rows} <= self.STATES
        pending = [r[0] for r in rows if r[1] == "pending"]
        settled = [r[0] for r in rows if r[1] != "pending"]
        if pending and settled:
            assert max(settled) < min(pending), (max(settled), min(pending))
        assert all((r[2] is not None) == (r[1] == "refused") for r in rows)


class Waiters:
    """Long-polls on the endpoint's counters: each fires once its counter reaches its
    target (checked at every ``wake``)."""

    def __init__(self, counter: Callable[[str], int]) -> None:
        self.counter = counter
        self.waiting: list[tuple[str, int, defer.Deferred[None]]] = []

    def wait_for(self, name: str, target: int) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        if self.counter(name) >= target:
            d.callback(None)
        else:
            self.waiting.append((name, target, d))
        return d

    def wake(self) -> None:
        still = []
        for name, target, d in self.waiting:
            if d.called:
                continue
            if self.counter(name) >= target:
                d.callback(None)
            else:
                still.append((name, target, d))
        self.waiting = still
