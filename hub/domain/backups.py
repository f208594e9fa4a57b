"""The daily backup (「データバックアップを毎日実施」) and its restore, as the hub and
``jukihub backup`` / ``jukihub restore`` run them (``hub.store.backup`` does the copying).

``take``: an online, consistent copy; checked (opened, its tables counted, the
操作ログ's hash chain in it walked against the anchors it covers); kept only if sound,
with the oldest beyond ``keep`` deleted.  The caller records it in the 操作ログ
(``backup.made``, the residents counted; ``check_failed`` and no copy kept otherwise).

``bring_back``: the copy checked again, then put in place of the store of a stopped hub.
The anchors of the 操作ログ newer than the copy's head are moved aside (to
``<anchors>.before-restore-<time>``, kept, never deleted): they describe entries the
restored log no longer has, and ``jukihub audit verify`` would otherwise report them cut
off.  A hub whose store was set back may be behind its peers: each link sees it at the
next hello (``peer_ahead``) and stops until staff bring both sides in line (README,
*Backup and restore*).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from hub.domain import audit
from hub.domain.register import Register
from hub.store import AuditEntry, Store
from hub.store import anchors as anchor_file
from hub.store import backup as copying
from hub.store.engine import make_engine

HEARTBEAT_FRESH = 30.0  # seconds: a store a hub beat in more recently is not stopped
SCHEDULE = "backup_schedule"  # the hub_flags row: the last scheduled copy's start


@dataclass(frozen=True, slots=True)
class Taken:
    copy: copying.Copy
    pruned: tuple[Path, ...]


def check(path: Path, url: str, anchors_path: Path) -> copying.Copy:
    """Open the copy, count its tables, walk its 操作ログ (the anchors up to its head)."""
    with copying.opened(path, url) as copy_url:
        store = Store(make_engine(copy_url))
        try:
            with store.reading() as db:
                counts = store.backup_counts(db, copying.COUNTED)
                head_id, _ = store.audit.head(db)
                covered = [a for a in anchor_file.read(anchors_path) if a.id <= head_id]
                verdict = audit.verify(store.audit.walk(db), covered)
        finally:
            store.dispose()
    return copying.Copy(path, path.stat().st_size, counts, verdict.entries, verdict.intact,
                        verdict.problem)


def take(url: str, folder: Path, keep: int, anchors_path: Path, now: float) -> Taken:
    """A checked copy in ``folder`` (see the module docstring); ``BackupError`` if it
    could not be made or is not sound (then it is not kept)."""
    partial = copying.make_copy(url, folder, now)
    try:
        made = check(partial, url, anchors_path)
    except Exception:
        partial.unlink(missing_ok=True)
        raise
    if not made.audit_intact:
        partial.unlink(missing_ok=True)
        raise copying.BackupError(f"the copy's operation log is not intact: {made.problem}")
    # Room first, then the new copy: the folder never holds more than ``keep``, and
    # only checked copies under their final names.
    pruned = tuple(copying.prune(folder, keep - 1))
    path = copying.publish(partial)
    return Taken(dataclasses.replace(made, path=path), pruned)


def due(store: Store, folder: Path, every: float, now: float) -> bool:
    """The schedule's tick (in the store writer): whether a copy is due — the newest
    copy in ``folder`` is ``every`` old, and so is the schedule's mark in the store,
    which the tick that says *due* moves to ``now`` in the same statement.  However
    many hubs tick, one of them takes each day's copy."""
    with store.transaction("job") as db:
        if store.flags.get(db, SCHEDULE) is None:  # the first tick: counts from now
            store.flags.set(db, SCHEDULE, f"every {every:g} s", now, "schedule")
            return False
        newest = max((p.stat().st_mtime for p in copying.copies(folder)), default=0.0)
        if now < newest + every:
            return False  # a copy of this folder (one on demand, too) is recent enough
        return store.flags.advance(db, SCHEDULE, every, now)


def last_beat(url: str) -> float | None:
    """When a hub last wrote its heartbeat into this store (``None``: never)."""
    store = Store(make_engine(url))
    try:
        with store.reading() as db:
            return store.heartbeat.newest(db)
    finally:
        store.dispose()


def bring_back(path: Path, url: str, anchors_path: Path, now: float,
               force: bool = False) -> copying.Copy:
    """Restore ``path`` as the store (see the module docstring)."""
    made = check(path, url, anchors_path)
    if not made.audit_intact:
        raise copying.BackupError(f"the copy's operation log is not intact: {made.problem}")
    beat = last_beat(url)
    if beat is not None and now - beat < HEARTBEAT_FRESH and not force:
        raise copying.BackupError("a hub wrote to this store seconds ago: stop it first "
                                  "(or --force if it is stopped)")
    copying.restore(path, url)
    _set_aside_newer_anchors(anchors_path, made.audit_entries, now)
    return made


def _set_aside_newer_anchors(path: Path, head_id: int, now: float) -> None:
    found = anchor_file.read(path)
    if not any(a.id > head_id for a in found):
        return
    stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    os.replace(path, path.with_name(f"{path.name}.before-restore-{stamp}"))
    for a in found:
        if a.id <= head_id:
            anchor_file.append(path, a)


RESTORED = "restored"  # the hub_flags row: each link's next number in the restored copy


def mark_restored(store: Store, copy_name: str, operator_id: str, now: float) -> None:
    """After a restore: each link's next number as the copy had it, so ``realign`` tells
    the copy's messages (the peer applied them as they are) from those numbered since."""
    with store.transaction("admin") as db:
        nexts = {link: s.next_seq for link, s in store.link_state.all(db).items()}
        store.flags.set(db, RESTORED, json.dumps({"copy": copy_name, "next": nexts}),
                        now, operator_id)


def realign(register: Register, link: str, peer_applied: int, operator_id: str,
            terminal_id: str, now: float) -> dict[str, int]:
    """A link whose peer applied more than the hub knows (a store restored behind it):
    its numbers go on after the peer's, so no sequence number is ever sent twice with
    different content.  The copy's own messages were numbered before it was taken and the
    peer, having applied up to ``peer_applied``, applied them as they are: they count as
    acknowledged.  Messages numbered since the restore (never sent: the link stopped)
    reused numbers the peer had applied with other content: they are sent again under new
    numbers after ``peer_applied`` (the old rows ``superseded``).  What the peer holds
    from the lost stretch and the hub does not is then found by a consistency check and
    mended with corrections (README, *Backup and restore*).  The hub must be stopped; a
    ``BackupError`` if the peer is not ahead."""
    store = register.store
    with register.job_transaction() as conn:
        state = store.link_state.all(conn).get(link)
        if state is None:
            raise copying.BackupError(f"no link {link} in this store")
        flag = store.flags.get(conn, RESTORED)
        restored = json.loads(flag.value) if flag is not None and flag.value else {}
        copy_next = int(restored.get("next", {}).get(link, state.acked + 1))
        if peer_applied <= copy_next - 1:
            raise copying.BackupError(f"the {link} peer is not ahead of the hub "
                                      f"(it applied {peer_applied}, the restored copy had "
                                      f"numbered up to {copy_next - 1}): nothing to realign")
        since = [r for r in store.outbox.read(conn, link, copy_next - 1, state.next_seq - 1)
                 if r.state in ("pending", "held")]
        register.numbers.link_seq[link] = max(peer_applied + 1, state.next_seq)
        rows: list[tuple[object, ...]] = []
        for r in since:
            found = store.outbox.message(conn, link, r.seq)
            assert found is not None  # read in this transaction
            register.enqueue(rows, link, found[0], r.payload, r.resident_key, r.update_seq,
                             now, r.correlation_id)
        store.outbox.append(conn, rows)
        store.outbox.mark(conn, link, [r.seq for r in since], "superseded")
        store.link_state.advance(conn, {link: max(peer_applied, copy_next - 1)})
        store.audit.record(conn, [AuditEntry(now, operator_id, terminal_id, "links.realign",
                                             link, count=len(since))])
    return {"resent": len(since), "from": peer_applied + 1}
