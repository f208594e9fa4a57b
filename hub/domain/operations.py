"""What operations staff switch and watch, as plain rules: whether the intake is open
(maintenance mode, backpressure), and the readiness checks' verdicts.  The hub
process applies them (``hub.api.operations``); nothing here does I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.store import AuditEntry, Flag, Store

MAINTENANCE = "maintenance"  # the hub_flags row, and the intake's 503 code
BACKPRESSURE = "backpressure"
CLOSED_CODES = frozenset({MAINTENANCE, BACKPRESSURE})
# The hub's own certificates: one of these expired (or about to) makes it unready.
OWN_CERTIFICATES = ("ca", "hub", "intake", "metrics")


@dataclass(frozen=True, slots=True)
class Closed:
    """Why the intake takes no change now (answered 503 with Retry-After)."""

    code: str      # maintenance | backpressure
    message: str   # says why, and what to do (no personal data)


def intake_closed(maintenance: Flag | None, depths: Mapping[str, int],
                  limit: int) -> Closed | None:
    """The intake's gate: shut while maintenance mode is on, or while a link's outbox
    holds more than ``limit`` messages; else open (``None``)."""
    if maintenance is not None:
        why = f" ({maintenance.value})" if maintenance.value else ""
        return Closed(MAINTENANCE, f"the hub is in maintenance mode{why}; no change is "
                                   "taken until it is off — retry later")
    over = {link: n for link, n in depths.items() if n > limit}
    if over:
        link = max(over, key=lambda k: over[k])
        return Closed(BACKPRESSURE, f"the {link} outbox holds {over[link]} messages not "
                                    f"yet delivered, over the limit of {limit}; retry later")
    return None


def certificates_check(days_left: Mapping[str, float], warn_days: float,
                       crl_warn_days: float = 1.0) -> dict[str, Any]:
    """The readiness of the hub's certificates and revocation lists: a certificate not
    expired nor within ``warn_days`` of it; a revocation list (reissued often, a week's
    validity is usual) not within ``crl_warn_days`` of its next update."""
    due = sorted(party for party, days in days_left.items()
                 if party in OWN_CERTIFICATES and days < warn_days
                 or party.startswith("crl:") and days < crl_warn_days)
    missing = sorted(p for p in OWN_CERTIFICATES if p not in days_left)
    if missing:
        return {"ok": False, "detail": f"missing: {', '.join(missing)}"}
    if due:
        soonest = min(days_left[p] for p in due)
        when = "expired" if soonest <= 0 else f"expires in {soonest:.1f} days"
        return {"ok": False, "detail": f"{', '.join(due)}: {when}"}
    return {"ok": True, "detail": f"all valid for {min(days_left.values()):.0f}+ days"
            if days_left else "none"}


def space_check(free: int | None, floor: int) -> dict[str, Any]:
    """The store's file system has at least ``floor`` bytes free (``free`` ``None``: a
    database server's disk, not this machine's to see)."""
    if free is None:
        return {"ok": True, "detail": "the database server's own"}
    shown = f"{free / 2**20:,.0f} MiB free (floor {floor / 2**20:,.0f} MiB)"
    return {"ok": free >= floor, "detail": shown}


def maintenance_shown(flag: Flag | None) -> dict[str, Any]:
    if flag is None:
        return {"on": False}
    out: dict[str, Any] = {"on": True, "since": flag.set_at, "by": flag.set_by}
    if flag.value:
        out["reason"] = flag.value
    return out


@dataclass(frozen=True, slots=True)
class Switched:
    """Maintenance mode as it now is (``flag``: ``None`` when off)."""

    flag: Flag | None


def switch_maintenance(store: Store, on: bool, reason: str | None, operator_id: str,
                       terminal_id: str, now: float) -> Switched:
    """Record the switch (a store-writer job) and its 操作ログ entry; from its commit,
    every hub's store writer refuses every change while maintenance is on (it reads
    the flag in each of its transactions)."""
    with store.transaction("job") as conn:
        store.flags.set(conn, MAINTENANCE, (reason or "") if on else None, now,
                                    operator_id)
        store.audit.record(conn, [AuditEntry(now, operator_id, terminal_id,
                                             f"maintenance.{'on' if on else 'off'}")])
        flag = store.flags.get(conn, MAINTENANCE)
    return Switched(flag)
