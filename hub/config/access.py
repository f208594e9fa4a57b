"""Who may do what: rights, roles, and the principals calls are made by.

Every operation of the API declares the one *right* it needs (``x-jukihub-right`` in
``hub/api/openapi.yaml``); ``config.toml`` grants rights to *roles* (``[roles.NAME]``).
A call is made by a *principal*:

- a **system account** — the register system, a department's system, Prometheus — is a
  client certificate name pinned in ``[access.systems]`` to exactly one role;
- a **staff member** logs in from a staff terminal (a client certificate named in
  ``[access] terminals``) and calls with the session that login gave; their roles are
  their account's.  The operator id and terminal id of everything they do come from
  the session and the certificate, never from a request body.

The assessment's rules this carries (``../shared/seed``, III): one user id per person,
authenticated by id and password; lists never show the 個人番号, a single record
shows it only to a role granted ``number.view``; monitoring sees metrics and health,
never a resident.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Every right an operation or a role may name, and what it allows.
RIGHTS: dict[str, str] = {
    "changes.submit": "post the register's changes and card events (register system only)",
    "health.read": "ask whether the hub is alive",
    "metrics.read": "scrape /metrics (monitoring)",
    "inbox.list": "list the inbox (never with a 個人番号)",
    "inbox.read": "read one inbox item",
    "inbox.ack": "acknowledge an inbox item",
    "number.view": "see the 個人番号 in a single record (logged)",
    "query.identity": "ask the national server for a resident's identity information",
    "register.search": "search the hub's own register (a list: never with a 個人番号)",
    "register.read": "read one resident's record in the hub's register",
    "manual_answer.decide": "approve or refuse a manual answer to the intermediate server",
    "consistency.run": "start a consistency check",
    "consistency.read": "follow a consistency check and its differences",
    "consistency.mend": "resend the hub's record for a difference, or explain it",
    "send_batch.start": "start a send-destination batch",
    "send_batch.read": "follow a send-destination batch",
    "feed.read": "pull one's department feed (a department's system only)",
    "export.write": "export the register to a file (never with a 個人番号)",
    "bulk.approve": "approve or refuse a bulk output another staff member asked for",
    "session.login": "log in (from a staff terminal; no session, no role needed)",
    "session.own": "see and end one's own session (any staff member logged in)",
    "status.read": "see the links, dead letters, certificates and long jobs (no resident data)",
    "deadletters.list": "list the dead letters (keys, codes and ages: no resident data)",
    "deadletters.read": "read one dead letter's message (logged)",
    "deadletters.mend": "replay or discard a dead letter (logged)",
    "maintenance.set": "turn maintenance mode on or off (logged)",
    "audit.read": "search the operation log (操作ログ)",
}
SESSION_LOGIN = "session.login"
# Rights every logged-in staff member has, whatever their roles.
EVERY_STAFF = frozenset({SESSION_LOGIN, "session.own"})
# Rights only a system account may hold: a staff call never reaches the store writer
# without going through the hub's own handlers.
SYSTEM_ONLY = frozenset({"changes.submit", "metrics.read", "feed.read"})


class AccessError(ValueError):
    """The ``[access]`` or ``[roles]`` configuration is wrong."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a call is made by, as the operation log records it."""

    kind: str                  # "system" or "staff"
    operator_id: str           # 操作者ID: the user id, or the system's certificate name
    terminal_id: str           # 操作端末ID: the client certificate's name
    roles: tuple[str, ...]
    rights: frozenset[str]

    def may(self, right: str) -> bool:
        return right in EVERY_STAFF and self.kind == "staff" or right in self.rights


class Admission(enum.Enum):
    SYSTEM = "system"        # a system account: its role decides now
    TERMINAL = "terminal"    # a staff terminal: the session decides (in the hub process)
    UNKNOWN = "unknown"      # no account has this certificate


@dataclass(frozen=True)
class AccessConfig:
    roles: Mapping[str, frozenset[str]]
    systems: Mapping[str, str]            # certificate name -> role
    terminals: frozenset[str]
    session_idle: float = 15 * 60.0       # seconds without a call that end a session
    session_max: float = 9 * 3600.0       # a session's longest life, seconds
    lockout_after: int = 5                # failed logins in a row that lock an account
    lockout_seconds: float = 30 * 60.0
    password_min_length: int = 12
    staff_roles: frozenset[str] = field(default_factory=frozenset)

    def admission(self, certificate: str | None) -> Admission:
        if certificate in self.systems:
            return Admission.SYSTEM
        if certificate in self.terminals:
            return Admission.TERMINAL
        return Admission.UNKNOWN

    def system(self, certificate: str) -> Principal:
        role = self.systems[certificate]
        return Principal("system", certificate, certificate, (role,), self.roles[role])

    def staff(self, user_id: str, terminal: str, roles: tuple[str, ...]) -> Principal:
        rights = frozenset().union(*(self.roles.get(r, frozenset()) for r in roles))
        return Principal("staff", user_id, terminal, roles, rights - SYSTEM_ONLY)

    def systems_with(self, right: str) -> tuple[str, ...]:
        """The system accounts' certificates whose role has ``right``."""
        return tuple(c for c, role in self.systems.items() if right in self.roles[role])

    def holders(self, right: str) -> list[str]:
        """The roles granted ``right``."""
        return sorted(r for r, rights in self.roles.items() if right in rights)


def access_from_raw(access: Mapping[str, Any], roles: Mapping[str, Any]) -> AccessConfig:
    """``[access]`` and ``[roles]`` checked: every right known, every system's role
    defined, no certificate both a system and a terminal."""
    granted: dict[str, frozenset[str]] = {}
    for name, section in roles.items():
        rights = frozenset(section.get("rights", ()))
        unknown = sorted(rights - RIGHTS.keys())
        if unknown:
            raise AccessError(f"roles.{name}: unknown right {unknown[0]!r}")
        granted[name] = rights
    systems = {str(cert): str(role) for cert, role in access.get("systems", {}).items()}
    for cert, role in systems.items():
        if role not in granted:
            raise AccessError(f"access.systems: {cert} has role {role!r}, which no [roles] "
                              "section defines")
    terminals = frozenset(str(t) for t in access.get("terminals", ()))
    both = sorted(terminals & systems.keys())
    if both:
        raise AccessError(f"access: {both[0]} is both a terminal and a system account")
    system_roles = set(systems.values())
    staff_roles = frozenset(granted.keys() - system_roles)
    for role in sorted(staff_roles):
        misplaced = sorted(granted[role] & SYSTEM_ONLY)
        if misplaced:
            raise AccessError(f"roles.{role}: {misplaced[0]!r} is for system accounts only")
    return AccessConfig(
        roles=granted, systems=systems, terminals=terminals,
        session_idle=float(access.get("session_idle_minutes", 15)) * 60,
        session_max=float(access.get("session_max_hours", 9)) * 3600,
        lockout_after=int(access.get("lockout_after", 5)),
        lockout_seconds=float(access.get("lockout_minutes", 30)) * 60,
        password_min_length=int(access.get("password_min_length", 12)),
        staff_roles=staff_roles,
    )
