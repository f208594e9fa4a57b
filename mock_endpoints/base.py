"""What every mock endpoint shares: the receiving side of the link session, durable
applied-sequence bookkeeping in its own SQLite file (``mock_endpoints.streams``: the
received stream, the pushes, the long-polls), and fault injection.  The connection
(``mock_endpoints.protocol``) and the loopback HTTP control API
(``mock_endpoints.control``) are adapters over it, put on the network by
``mock_endpoints.serve``.

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
from pathlib import Path
from typing import Any

from twisted.internet import defer

from mock_endpoints.streams import SCHEMA, Applied, Pushes, Received, Refusal, Waiters
from protocols.errors import BodyError

__all__ = ["Applied", "MockEndpoint", "Refusal"]

log = logging.getLogger("jukihub.mock")


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
        self.db.executescript(SCHEMA + self.extra_schema)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(pushes)")}
        if "reason" not in columns:  # a mock database from before refusals kept theirs
            self.db.execute("ALTER TABLE pushes ADD COLUMN reason TEXT")
        self.faults: dict[str, Any] = {}
        self.received = Received(self.db, self.link, self.faults)
        self.pushes = Pushes(self.db)
        self.waiters = Waiters(self.counter)
        # The connections (``mock_endpoints.protocol.MockProtocol``), as they come and go.
        self.connections: list[Any] = []
        # Per connection that sent data (in this run): when its first and last data
        # frames came (monotonic) and how many — to show that no two hubs sent at once.
        self.senders: dict[int, list[float]] = {}
        self.connections_made = 0
        self.handshakes_refused = 0
        self.queries_answered = 0

    @property
    def applied(self) -> int:
        """The highest sequence of the hub's stream applied here."""
        return self.received.applied

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
        return self.pushes.queue(cur, body)

    def flush_pushes(self) -> None:
        for p in self.connections:
            if p.ready:
                p.send_pushes()

    def pushes_after(self, after: int) -> list[tuple[int, bytes]]:
        return self.pushes.after(after)

    def settle_pushes(self, upto: int,
                      refused: tuple[int, str, str] | None = None) -> None:
        self.pushes.settle(upto, refused)
        self.wake()

    def control(self, method: str, path: str, args: dict[str, str],
                request: Any) -> Any | None:
        """Link-specific control endpoints; ``None`` when the path is not one."""
        return None

    # ---- applying a read's worth of frames ------------------------------------------

    def process(self, events: list[Any]) -> tuple[tuple[int, Refusal] | None, bool]:
        """Apply data/withdraw events in one transaction; return the refusal (if any)
        with its sequence, and whether a drop fault fired."""
        try:
            return self.received.process(events, self.apply)
        finally:
            self.wake()

    # ---- waiting (long-poll) ---------------------------------------------------------

    def counter(self, name: str) -> int:
        if name == "applied_seq":
            return self.applied
        if name == "refusals":
            return self.received.refusals()
        if name == "handshakes_refused":
            return self.handshakes_refused
        if name == "connections":
            return len(self.connections)
        if name == "queries_answered":
            return self.queries_answered
        if name == "pushes_settled":
            return self.pushes.settled()
        raise KeyError(name)

    def wait_for(self, name: str, target: int) -> defer.Deferred[None]:
        return self.waiters.wait_for(name, target)

    def wake(self) -> None:
        """Fire the long-polls whose counters reached their targets."""
        self.waiters.wake()

    # ---- connections -----------------------------------------------------------------

    def drop_connections(self) -> None:
        for p in list(self.connections):
            if p.transport is not None:
                p.tr.abortConnection()
