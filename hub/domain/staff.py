"""Staff accounts' rules: passwords (argon2id), logins and lockout, expiry, and the
periodic account review (the assessment: ユーザーIDについては、正確性を維持する仕組み
を構築し、適宜更新する).  Plain functions over ``StaffAccount`` records; the store
keeps them, the API and the CLI apply these rules."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.config.access import AccessConfig
from hub.domain.errors import HubError
from hub.store import Conn, StaffAccount, StaffSession, Store

# argon2id with the library's defaults (RFC 9106's second recommendation: t=3, 64 MiB).
_HASHER = PasswordHasher()
@functools.cache
def _dummy() -> str:
    """Verified when the user id is unknown, so that case takes as long as a wrong
    password (made on first use: it costs a hash)."""
    return _HASHER.hash("not a password of anyone")
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(encoded: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``encoded`` was made of (``None``: no account;
    the work is done all the same)."""
    try:
        return _HASHER.verify(encoded or _dummy(), password) and encoded is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_new_password(password: str, user_id: str, cfg: AccessConfig) -> None:
    if len(password) < cfg.password_min_length:
        raise HubError("weak_password", f"a password has at least {cfg.password_min_length} "
                       "characters")
    if user_id.lower() in password.lower():
        raise HubError("weak_password", "a password does not contain the user id")


def check_new_account(user_id: str, roles: tuple[str, ...], cfg: AccessConfig) -> None:
    if not USER_ID.fullmatch(user_id):
        raise HubError("invalid_user_id", "a user id is 1-40 letters, digits, '.', '_' or "
                       "'-', starting with a letter or digit")
    unknown = sorted(set(roles) - cfg.staff_roles)
    if unknown:
        raise HubError("unknown_role", f"{unknown[0]!r} is not a staff role (roles: "
                       f"{', '.join(sorted(cfg.staff_roles))})")


def usable(account: StaffAccount | None, now: float) -> str | None:
    """Why ``account`` may not work now (``None``: it may)."""
    if account is None:
        return "unknown_user"
    if account.state != "active":
        return "account_disabled"
    if account.expires_at is not None and now >= account.expires_at:
        return "account_expired"
    return None


def session_over(session: StaffSession | None, terminal: str, now: float,
                 access: AccessConfig) -> str | None:
    """Why a staff session may not serve a call from ``terminal`` now (``None``: it may):
    none, another terminal's, idle past ``session_idle``, open past ``session_max``."""
    if session is None:
        return "no_session"
    if session.terminal != terminal:
        return "other_terminal"
    if now - session.last_used_at >= access.session_idle:
        return "idle"
    if now - session.started_at >= access.session_max:
        return "too_long"
    return None


def touch_due(session: StaffSession, now: float, access: AccessConfig) -> bool:
    """Whether a call should record the session's use: at most every tenth of the idle
    limit (a write per staff call would cost more than the call), so a session may end
    up to that much early, never late."""
    return now - session.last_used_at >= access.session_idle / 10


@dataclass(frozen=True, slots=True)
class LoginVerdict:
    ok: bool
    reason: str                     # "ok", or why the login failed (the log's, not the caller's)
    failed_logins: int              # failures in a row after this attempt
    locked_until: float | None


@dataclass(frozen=True, slots=True)
class LockoutRule:
    """``lockout_after`` failed logins in a row lock an account for ``seconds``."""

    after: int
    seconds: float

    @classmethod
    def of(cls, cfg: AccessConfig) -> LockoutRule:
        return cls(cfg.lockout_after, cfg.lockout_seconds)


def decide_login(store: Store, conn: Conn, user_id: str, password_ok: bool,
                 rule: LockoutRule, now: float) -> LoginVerdict:
    """A login attempt's outcome, decided where it is written (the store writer's
    transaction): a success is recorded, and a failure counted, each by one atomic
    statement that also decides whether the account is locked now — so attempts that
    arrive together each count, and the ``rule.after``-th failure in a row locks the
    account for ``rule.seconds`` (and starts the count again), whatever the interleaving.
    A locked account fails even with the right password, and trying does not extend
    the lock; a disabled, expired or unknown account changes nothing."""
    account = store.accounts.get(conn, user_id)
    if account is None:
        return LoginVerdict(False, "unknown_user", 0, None)
    why = usable(account, now)
    if why is not None:
        return LoginVerdict(False, why, account.failed_logins, account.locked_until)
    if password_ok:
        if store.accounts.login_succeeded(conn, user_id, now):
            return LoginVerdict(True, "ok", 0, None)
    else:
        counted = store.accounts.login_failed(conn, user_id, now, rule.after, rule.seconds)
        if counted is not None:
            return LoginVerdict(False, "wrong_password", *counted)
    locked = store.accounts.get(conn, user_id)
    assert locked is not None
    return LoginVerdict(False, "account_locked", locked.failed_logins, locked.locked_until)


@dataclass(frozen=True, slots=True)
class ReviewFinding:
    user_id: str
    finding: str      # never_logged_in, unused, no_role, expired, disabled


def review(accounts: list[StaffAccount], now: float, unused_days: int) -> list[ReviewFinding]:
    """The periodic account review: every active account that was never logged in to,
    has not been used for ``unused_days``, has no role, or has expired; and disabled
    ones (kept for the operation log's sake, listed so none is forgotten)."""
    out = []
    for a in accounts:
        if a.state != "active":
            out.append(ReviewFinding(a.user_id, "disabled"))
            continue
        if a.expires_at is not None and now >= a.expires_at:
            out.append(ReviewFinding(a.user_id, "expired"))
        if not a.roles:
            out.append(ReviewFinding(a.user_id, "no_role"))
        if a.last_login_at is None:
            out.append(ReviewFinding(a.user_id, "never_logged_in"))
        elif now - a.last_login_at >= unused_days * 86400:
            out.append(ReviewFinding(a.user_id, "unused"))
    return out


def new_account(user_id: str, password: str, roles: tuple[str, ...], expires_at: float | None,
                now: float, cfg: AccessConfig) -> StaffAccount:
    check_new_account(user_id, roles, cfg)
    check_new_password(password, user_id, cfg)
    return StaffAccount(user_id, hash_password(password), roles, "active", expires_at, 0, None,
                        now, now, None)


__all__ = ["LockoutRule", "LoginVerdict", "ReviewFinding", "check_new_password",
           "decide_login", "hash_password", "new_account", "password_matches", "review",
           "usable"]
