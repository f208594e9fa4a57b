"""Typed messages between the reactor, the store writer and the link actors.

Every message is a frozen dataclass; ``tell`` carries them.  Replies that must reach
the reactor are plain callables that the *receiver* invokes after its work is done;
whoever builds such a callable makes it cross threads itself (``reactor.callFromThread``
for the reactor, ``ActorRef.tell`` for an actor).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykka

from hub.config import SendConfig
from hub.domain.dead_letters import Mend
from hub.domain.errors import HubError
from hub.domain.inbound import CheckAnswer
from hub.domain.outcomes import OutboxItem, Outcome, Request
from hub.domain.staff import LockoutRule, LoginVerdict
from hub.store import AuditEntry
from protocols.national import TransferInNotice


def tell_if_alive(actor: pykka.ActorRef[Any], message: Any) -> None:
    """``actor.tell(message)``, dropped once the actor has stopped.

    For timers, network events and post-commit notices that can outlive their
    receiver during shutdown: the receiver is gone, so is the reason to tell it.
    """
    try:
        actor.tell(message)
    except pykka.ActorDeadError:
        pass


# ---- to the store writer -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmitChanges:
    changes: Sequence[Request]
    reply: Callable[[list[Outcome]], None]
    told: float = field(default_factory=time.perf_counter)  # (the writer_wait hop)


# A link's own records carry the fencing token of the lease its actor holds
# (``hub/store/leases.py``): the store writer drops a record whose token is no longer
# the link's — its hub lost the link, and another hub's actor owns its records now.


@dataclass(frozen=True, slots=True)
class RecordAck:
    link: str
    seq: int
    token: int = 0


@dataclass(frozen=True, slots=True)
class RecordDeadLetter:
    link: str
    seq: int
    code: str
    reason: str
    reply: Callable[[], None]
    token: int = 0


@dataclass(frozen=True, slots=True)
class HoldMessages:
    link: str
    seqs: tuple[int, ...]
    reply: Callable[[], None]
    token: int = 0


@dataclass(frozen=True, slots=True)
class RecordInbound:
    """A push from the peer: into the inbox, with the link's inbound sequence."""

    link: str
    seq: int
    kind: str
    body: bytes
    refused_code: str | None  # set when the document was refused (kept for staff)
    reply: Callable[[str | None], None]  # with the refusal's code (the writer's, if any)
    check: CheckAnswer | None = None  # a consistency check's result: its counts
    transfer_in: TransferInNotice | None = None  # a 転入通知: confirms the 転出 it answers
    copy_request: Any = None  # a 広域交付 request (WideAreaCopyRequest): answered
    token: int = 0


@dataclass(frozen=True, slots=True)
class KeepLeases:
    """Claim (renew, or take once free) this hub's links for ``seconds`` — or, with
    ``release``, give them up (a clean stop).  ``reply(Leases)`` after the commit, or
    ``reply(None)`` when the store could not be written (the links stop sending when
    their last grant runs out)."""

    owner: str       # the hub's [cluster] name
    instance: str    # this run of it
    links: tuple[str, ...]
    seconds: float
    reply: Callable[[Leases | None], None]
    release: bool = False


@dataclass(frozen=True, slots=True)
class RelayQuery:
    """A query relayed between hubs through the store (``hub/store/link_queries.py``):
    ``ask`` (``link``, ``body``; ``reply(query_id)`` after the commit, ``reply(None)``
    if it could not be written), ``answer`` (``query_id``, ``body`` or ``code``),
    ``forget`` (``ids``), ``purge`` (rows asked ``before``)."""

    what: str
    link: str = ""
    body: bytes | None = None
    query_id: int = 0
    code: str | None = None
    ids: tuple[int, ...] = ()
    before: float = 0.0
    reply: Callable[[int | None], None] | None = None


@dataclass(frozen=True, slots=True)
class Relayed:
    """To the asking link actor: its relayed query ``key`` was written as ``query_id``
    (``None``: it could not be)."""

    key: int
    query_id: int | None


@dataclass(frozen=True, slots=True)
class Leases:
    """What a claim found: the links this run holds (link -> fencing token) and the
    maintenance flag as the store has it (any hub may have switched it)."""

    held: dict[str, int]
    maintenance: Any  # hub.store.Flag | None


@dataclass(frozen=True, slots=True)
class AckInbox:
    """Staff (or the register system) took an inbox item."""

    item_id: int
    operator_id: str
    terminal_id: str
    # called with "acknowledged", "already" or "unknown" after the commit, or with the
    # HubError if it could not be written (503 store_unavailable, 500 write_failed)
    reply: Callable[[str | HubError], None]


@dataclass(frozen=True, slots=True)
class RecordAudit:
    """An operation into the 操作ログ (who, from which terminal, what — never values).
    ``at`` 0 means the commit's time."""

    entry: AuditEntry
    # called with None after the commit, or with the HubError if it could not be written
    reply: Callable[[HubError | None], None] | None = None


@dataclass(frozen=True, slots=True)
class AnchorAudit:
    """Write the operation log's head to the anchor file at ``path`` (if it moved)."""

    path: Path


@dataclass(frozen=True, slots=True)
class RecordLogin:
    """A login attempt, decided where it is written: the store writer reads the account
    in its transaction, counts a failure or records the success with one atomic
    statement each (``hub.domain.staff.decide_login``), and writes the 操作ログ entry
    — so no two attempts, however close, decide on the same count.  The password was
    checked before (argon2, off every writer's thread); the reply gets the
    ``LoginVerdict`` after the commit, or the HubError if it could not be written."""

    user_id: str
    password_ok: bool
    lockout: LockoutRule
    entry: AuditEntry  # its result is the verdict's reason
    reply: Callable[[LoginVerdict | HubError], None]
    # The session a success opens: (its token's digest, the terminal it is bound to),
    # written in the same transaction as the verdict.
    session: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class KeepSession:
    """A staff session's row: ``touch`` (its use at ``at``), ``end`` (logged out),
    ``end_user`` (every session of an account that can no longer be used), ``prune``
    (every session unused since ``idle_since`` or started before ``started_before``)."""

    what: str
    digest: str = ""
    user_id: str = ""
    at: float = 0.0
    idle_since: float = 0.0
    started_before: float = 0.0


@dataclass(frozen=True, slots=True)
class ProbeWrite:
    """Readiness: write the heartbeat row of ``name`` in a transaction of its own,
    after what is pending, and reply with None once committed (or the error's type
    name)."""

    name: str
    reply: Callable[[str | None], None]


# ---- long jobs: each begun by a message that names it (``actors.store_writer._JOBS``
# says what each one does), answered on ``reply`` after its first transaction — the
# value, or ``None`` when the store could not take it (503) — and then run a slice per
# message (``RunJob``) so changes commit between slices.


@dataclass(frozen=True, slots=True)
class StartCheck:
    """Staff start a consistency check of ``links``, ``size`` records a chunk."""

    links: list[str]
    operator_id: str
    terminal_id: str
    size: int
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class StartScheduledChecks:
    """The schedule's tick: a check of each of ``links`` due after ``every`` seconds."""

    links: list[str]
    every: float
    size: int
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class MendDifference:
    """Staff resend or explain one difference of an answered check."""

    check_id: str
    resident_code: str
    action: str
    reason: str | None
    operator_id: str
    terminal_id: str
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class StartSendBatch:
    """Staff start a send-destination batch (``residents``, or everyone needing one)."""

    config: SendConfig
    residents: list[str] | None
    print_class: str
    operator_id: str
    terminal_id: str
    bulk_threshold: int | None
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class DecideApproval:
    """A supervisor approves or refuses a bulk output (``send_config``: the batches',
    when a card link is configured)."""

    approval_id: str
    decision: str
    operator_id: str
    terminal_id: str
    send_config: SendConfig | None
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class StartExport:
    """Staff ask for an export (``kind``) to an external medium."""

    kind: str
    operator_id: str
    terminal_id: str
    bulk_threshold: int | None
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class RecordExportWritten:
    """An approved export written to its medium: ``people`` rows, the file's ``text``."""

    export_id: str
    text: str
    people: int
    operator_id: str
    terminal_id: str
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class OpenFeed:
    """A department's first pull of its feed (its certificate's ``certificate``)."""

    department: str
    certificate: str
    bulk_threshold: int | None
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class SwitchMaintenance:
    """Staff switch maintenance mode ``on`` or off, at ``at`` (epoch seconds)."""

    on: bool
    reason: str | None
    operator_id: str
    terminal_id: str
    at: float
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class WriteMend:
    """A dead letter's mend (``hub.domain.dead_letters.Mend``) for a link that is not
    running here, or that the link actor hands on."""

    mend: Mend
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class BackupDue:
    """The backup schedule's tick: whether a copy into ``folder`` is due (``every``)."""

    folder: Path
    every: float
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class RunJob:
    """The store writer to itself: the next slice of a job."""

    slice: Any


@dataclass(frozen=True, slots=True)
class PurgeInbox:
    """Delete up to ``limit`` inbox items acknowledged before ``before`` (epoch s)."""

    before: float
    limit: int


@dataclass(frozen=True, slots=True)
class PurgeDelivered:
    """Delete up to ``limit`` outbox rows the peer acknowledged before ``before`` (epoch
    s) — delivered messages, send-destination data among them, are not kept for ever.
    Dead-lettered and held rows stay."""

    before: float
    limit: int


@dataclass(frozen=True, slots=True)
class Subscribe:
    link: str
    actor: Any  # pykka.ActorRef of the link actor


# ---- to a link actor -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxAppended:
    items: tuple[OutboxItem, ...]


@dataclass(frozen=True, slots=True)
class Connected:
    conn_id: int


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    conn_id: int
    stage: str  # connect | handshake


@dataclass(frozen=True, slots=True)
class Disconnected:
    conn_id: int
    clean: bool


@dataclass(frozen=True, slots=True)
class BytesIn:
    conn_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Timer:
    """A timer set through the reactor; ``epoch`` lets stale timers be ignored."""

    name: str  # reconnect | retry | heartbeat | hello_timeout | query:<correlation id>
    epoch: int


@dataclass(frozen=True, slots=True)
class Recorded:
    """The store writer committed the dead letter or hold of these sequences."""

    seqs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Designated:
    """The store writer applied (or refused) the register change a push caused."""

    seq: int
    kind: str
    body: bytes
    refused_code: str | None


@dataclass(frozen=True, slots=True)
class InboundRecorded:
    seq: int
    refused_code: str | None


@dataclass(frozen=True, slots=True)
class SendQuery:
    """A request/response query on the link, outside its sequenced stream.

    ``reply(body, None)`` with the peer's answer, or ``reply(None, code)`` with
    ``link_unavailable``, ``link_lost`` or ``query_timeout``; called on the link
    actor's thread, so the caller makes it cross threads itself."""

    body: bytes
    reply: Callable[[bytes | None, str | None], None]


@dataclass(frozen=True, slots=True)
class GetStatus:
    pass


@dataclass(frozen=True, slots=True)
class Barrier:
    """To any actor: ``reply()`` once everything told before is done (the store writer
    commits what it holds first).  The hub waits on it before its first scrape."""

    reply: Callable[[], None]


@dataclass(frozen=True, slots=True)
class MendDeadLetter:
    """Staff replay or discard a dead letter of this link (``hub.domain.dead_letters``).

    The link actor passes it to the store writer as a job, after whatever holds it has
    already asked for (one sender's tells arrive in order), so every held message is
    on the record before the mend reads them.  ``reply`` gets the ``Mended`` or the
    ``HubError`` (``None`` if the transaction failed), on the store writer's thread."""

    mend: Any  # hub.domain.dead_letters.Mend
    reply: Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class Lease:
    """To a link actor: it owns its link under ``token`` and may send until ``until``
    (``time.monotonic``; a renewal moves it on) — or, with ``token`` ``None``, another
    hub owns it (or the store could not say): stop sending now."""

    token: int | None
    until: float = 0.0


@dataclass(frozen=True, slots=True)
class Mended:
    """The store writer committed a mend: stop holding, withdraw the old copies, send
    the new messages."""

    result: Any  # hub.domain.dead_letters.Mended
