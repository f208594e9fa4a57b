"""What every mock endpoint shares: the receiving side of the link session over mutual
TLS, durable applied-sequence bookkeeping in its own SQLite file, fault injection, and
a loopback HTTP control API for test harnesses.

A subclass supplies ``decode(body)`` (its documents, checked against their schema)
and ``apply_document(cur, doc, body)``: update its own state inside the given
transaction and say what it applied, or refuse.  What every peer checks first — that
the body decodes, and that it names this municipality — is done here, once.

Frames arriving in one read are applied in one SQLite transaction, then acknowledged
cumulatively, so acknowledgements follow the commit.  The mocks commit with
``synchronous=NORMAL`` (WAL): what they acknowledged survives a crash of their process
— the fault the tests inject — though not a power failure; the real systems are
other machines, and the hub's own store stays ``FULL``.  A refused sequence makes the
mock discard later frames until the hub resends or withdraws it, as the session
protocol says.  Everything runs on the reactor thread: the mock is a test double and
keeps its code simple; its SQLite writes are small and local.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.internet.protocol import Factory
from twisted.web import server

from hub.support.tls import server_options
from mock_endpoints.control import ControlAPI
from mock_endpoints.protocol import MockProtocol
from protocols.errors import BodyError
from protocols.session import Withdrawn

log = logging.getLogger("jukihub.mock")


@dataclass(frozen=True)
class Refusal:
    permanent: bool
    code: str
    reason: str = ""


# What applying a document gives: (refusal or None, its resident code, its 更新順番号)
Applied = tuple[Refusal | None, str | None, int | None]


_BASE_SCHEMA = """
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


class MockEndpoint:
    """One outside system's stand-in.  Subclasses set ``link`` and implement ``apply``."""

    link = ""
    extra_schema = ""

    def __init__(self, municipality_code: str, db_path: Path, hub_name: str,
                 max_frame: int = 1 << 20, clock: Any = None,
                 options: dict[str, Any] | None = None) -> None:
        from twisted.internet import reactor

        self.options = options or {}
        self.municipality_code = municipality_code
        self.hub_name = hub_name
        self.max_frame = max_frame
        self.clock: Any = clock or reactor
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(db_path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_BASE_SCHEMA + self.extra_schema)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(pushes)")}
        if "reason" not in columns:  # a mock database from before refusals kept theirs
            self.db.execute("ALTER TABLE pushes ADD COLUMN reason TEXT")
        row = self.db.execute("SELECT applied_seq FROM meta WHERE link=?", (self.link,)).fetchone()
        self.applied = row[0] if row else 0
        if row is None:
            self.db.execute("INSERT INTO meta VALUES (?, 0)", (self.link,))
        self.faults: dict[str, Any] = {}
        self.connections: list[MockProtocol] = []
        # Per connection that sent data (in this run): when its first and last data
        # frames came (monotonic) and how many — to show that no two hubs sent at once.
        self.senders: dict[int, list[float]] = {}
        self.connections_made = 0
        self.handshakes_refused = 0
        self.queries_answered = 0
        self.waiters: list[tuple[str, int, defer.Deferred[None]]] = []

    # ---- to implement ------------------------------------------------------------------

    def decode(self, body: bytes) -> Any:
        """A document of the hub's stream to this peer, checked (``BodyError``)."""
        raise NotImplementedError

    def apply_document(self, cur: sqlite3.Cursor, doc: Any, body: bytes) -> Applied:
        """Apply one checked document of this municipality."""
        raise NotImplementedError

    def municipality_of(self, doc: Any) -> str | None:
        """The municipality a document is from (``None``: any may send it)."""
        code: str | None = doc.municipality_code
        return code

    # ---- what every peer checks first --------------------------------------------------

    def apply(self, cur: sqlite3.Cursor, seq: int, body: bytes) -> Applied:
        """Apply one body: refused for good if it does not decode or is another
        municipality's; else what ``apply_document`` says."""
        try:
            doc = self.decode(body)
        except BodyError as err:
            return Refusal(True, err.code, err.message), None, None
        if self.municipality_of(doc) not in (None, self.municipality_code):
            return Refusal(True, "wrong_municipality", "not this municipality"), None, None
        return self.apply_document(cur, doc, body)

    def seed(self, bodies: list[bytes]) -> int:
        """Documents this peer held before the hub came (the residents of an initial
        load, ``jukihub-dev seed-mocks``): each checked and applied as if received, but
        outside the link's stream (no sequence, nothing in ``applied_log``), all in one
        transaction.  A document refused stops the seed with ``ValueError`` naming
        which and why, and nothing is stored."""
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.cursor()
            for i, body in enumerate(bodies):
                refusal = self.apply(cur, 0, body)[0]
                if refusal is not None:
                    raise ValueError(f"document {i} refused: {refusal.code}")
        return len(bodies)

    def describe(self) -> dict[str, Any]:
        """Extra state for ``GET /state``."""
        return {}

    def build_push(self, spec: dict[str, Any]) -> bytes:
        """The document to push for a control-API ``POST /push`` body."""
        raise ValueError(f"the {self.link} mock pushes nothing")

    def answer(self, body: bytes) -> bytes | None:
        """The answer to a query (request/response); ``None``: this peer answers none."""
        return None

    # ---- pushes: this side's own stream to the hub ------------------------------------

    def push(self, body: bytes) -> int:
        """Queue a document for the hub (durably) and send it if connected."""
        seq = self.queue_push(self.db.cursor(), body)
        self.flush_pushes()
        return seq

    def queue_push(self, cur: sqlite3.Cursor, body: bytes) -> int:
        """Queue a push inside the caller's transaction; it is sent after the commit."""
        (last,) = cur.execute("SELECT coalesce(max(seq), 0) FROM pushes").fetchone()
        cur.execute("INSERT INTO pushes VALUES (?, ?, 'pending', NULL, NULL)",
                    (last + 1, body))
        return int(last) + 1

    def flush_pushes(self) -> None:
        for p in self.connections:
            if p.ready:
                p.send_pushes()

    def pushes_after(self, after: int) -> list[tuple[int, bytes]]:
        return self.db.execute("SELECT seq, body FROM pushes WHERE seq > ? AND state = "
                               "'pending' ORDER BY seq", (after,)).fetchall()

    def settle_pushes(self, upto: int,
                      refused: tuple[int, str, str] | None = None) -> None:
        self.db.execute("UPDATE pushes SET state='acked' WHERE seq <= ? AND state='pending'",
                        (upto,))
        if refused is not None:
            self.db.execute("UPDATE pushes SET state='refused', code=?, reason=? "
                            "WHERE seq=?", (refused[1], refused[2], refused[0]))
        self._wake()

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        """Link-specific control endpoints; ``None`` when the path is not one."""
        return None

    # ---- applying a read's worth of frames ------------------------------------------

    def process(self, events: list[Any]) -> tuple[tuple[int, Refusal] | None, bool]:
        """Apply data/withdraw events in one transaction; return the refusal (if any)
        with its sequence, and whether a drop fault fired."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        refused: tuple[int, Refusal] | None = None
        drop = False
        try:
            for ev in events:
                expected = self.applied + 1
                if refused is not None or ev.seq != expected:
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
                    refusal, code, upd = self.apply(cur, ev.seq, ev.body)
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
                if "drop_after" in self.faults:
                    self.faults["drop_after"] -= 1
                    if self.faults["drop_after"] <= 0:
                        del self.faults["drop_after"]
                        drop = True
                        break
            cur.execute("UPDATE meta SET applied_seq=? WHERE link=?", (self.applied, self.link))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            row = self.db.execute("SELECT applied_seq FROM meta WHERE link=?",
                                  (self.link,)).fetchone()
            self.applied = row[0]
            raise
        self._wake()
        return refused, drop

    def _injected_refusal(self) -> Refusal | None:
        spec = self.faults.get("refuse")
        if not spec:
            return None
        spec["count"] -= 1
        if spec["count"] <= 0:
            del self.faults["refuse"]
        return Refusal(spec["kind"] == "permanent", spec.get("code", "injected"), "fault")

    # ---- waiting (long-poll) ---------------------------------------------------------

    def counter(self, name: str) -> int:
        if name == "applied_seq":
            return self.applied
        if name == "refusals":
            return self.db.execute("SELECT count(*) FROM refusals").fetchone()[0]
        if name == "handshakes_refused":
            return self.handshakes_refused
        if name == "connections":
            return len(self.connections)
        if name == "queries_answered":
            return self.queries_answered
        if name == "pushes_settled":
            return self.db.execute("SELECT count(*) FROM pushes WHERE state != 'pending'"
                                   ).fetchone()[0]
        raise KeyError(name)

    def wait_for(self, name: str, target: int) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        if self.counter(name) >= target:
            d.callback(None)
        else:
            self.waiters.append((name, target, d))
        return d

    def _wake(self) -> None:
        still = []
        for name, target, d in self.waiters:
            if d.called:
                continue
            if self.counter(name) >= target:
                d.callback(None)
            else:
                still.append((name, target, d))
        self.waiters = still

    # ---- listeners -------------------------------------------------------------------

    def factory(self) -> Factory:
        return Factory.forProtocol(lambda: MockProtocol(self))

    def listen(self, reactor: Any, certs_dir: Path, party: str, host: str, port: int,
               control_port: int) -> tuple[Any, Any]:
        """Start the TLS listener and the control API; return both listening ports."""
        tls = reactor.listenSSL(port, self.factory(), server_options(certs_dir, party),
                                interface=host)
        site = server.Site(ControlAPI(self))
        site.displayTracebacks = False
        control = reactor.listenTCP(control_port, site, interface="127.0.0.1")
        return tls, control

    def drop_connections(self) -> None:
        for p in list(self.connections):
            if p.transport is not None:
                p.tr.abortConnection()
