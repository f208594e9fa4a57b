"""``link_leases``: which hub owns each link.

A hub's store writer claims its links every ``renew`` seconds (``claim``): a lease it
holds is renewed, one that is free, expired, or held under its own name (the same hub
started again) is taken, with a new fencing token.  Expiry is measured on the
*database's* clock (PostgreSQL's ``clock_timestamp()``), the one clock all hubs share.
The claim runs in the writer's transaction, under the store's write lock, so two hubs'
claims never interleave; a takeover is one conditional ``UPDATE``.

Every write of a link's own records (acknowledgements, dead letters, holds, the peer's
pushes) carries the token its link actor was granted; the writer checks it against
``tokens`` in the same transaction, so a hub that lost a link can write nothing more
for it.  Sending is fenced in the hub itself: a link actor stops sending before its
lease can expire (``actors/link.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.store.base import Db, Sql, named


class LeaseStore:
    def __init__(self, sql: Sql) -> None:
        self.dialect = sql.dialect
        self._create = sql.text("INSERT INTO link_leases (link, owner, instance, token, "
                                "expires_at) VALUES (?, ?, ?, 1, ?)")
        # Renew ours; take one that expired or that our name held (a run of ours that
        # ended): a new token whenever the run holding it changes.
        self._claim = sql.text(
            "UPDATE link_leases SET token = CASE WHEN instance = ? THEN token ELSE token + 1 "
            "END, owner = ?, instance = ?, expires_at = ? WHERE link = ? AND (instance = ? "
            "OR owner = ? OR expires_at <= ?)")
        self._release = sql.text("UPDATE link_leases SET expires_at = 0 WHERE instance = ?")

    @named("leases.now")
    def now(self, db: Db, wall_clock: float) -> float:
        """The database's clock (PostgreSQL), shared by every hub; SQLite serves one
        machine, whose clock ``wall_clock`` is."""
        if self.dialect == "postgresql":
            return float(db.scalar("SELECT extract(epoch FROM clock_timestamp())"))
        return wall_clock

    @named("leases.claim")
    def claim(self, db: Db, links: Iterable[str], owner: str, instance: str, seconds: float,
              now: float) -> dict[str, int]:
        """Renew or take each of ``links`` for ``seconds`` from ``now`` (the database's
        clock): the links this run holds now, with their fencing tokens."""
        links = sorted(links)
        existing = {link for (link,) in db.rows("SELECT link FROM link_leases")}
        until = now + seconds
        db.many(self._create, [(link, owner, instance, until)
                               for link in links if link not in existing])
        db.many(self._claim, [(instance, owner, instance, until, link, instance, owner, now)
                              for link in links if link in existing])
        return {link: token for link, token in self.tokens(db, instance).items()
                if link in links}

    @named("leases.tokens")
    def tokens(self, db: Db, instance: str | None = None) -> dict[str, int]:
        """Each link's current fencing token (of ``instance``'s links only, if given)."""
        rows = db.rows("SELECT link, token, instance FROM link_leases")
        return {link: int(token) for link, token, held_by in rows
                if instance is None or held_by == instance}

    @named("leases.release")
    def release(self, db: Db, instance: str) -> None:
        """A hub stopping cleanly gives its links up at once (its links have stopped
        sending): another hub takes them at its next claim."""
        db.run(self._release, (instance,))

    @named("leases.all")
    def all(self, db: Db) -> list[tuple[str, str, int, float]]:
        """(link, owner, token, expires_at) of every lease, for ``jukihub status``."""
        return [(link, owner, int(token), float(expires)) for link, owner, token, expires
                in db.rows("SELECT link, owner, token, expires_at FROM link_leases "
                           "ORDER BY link")]
