"""Staff sessions: logging in from a staff terminal, and who a staff call is made by.

A session is bound to the terminal certificate it was opened from, ends after
``session_idle`` seconds without a call and ``session_max`` seconds in all, and is
checked against its account at every call (a disabled or expired account can do
nothing from that moment, whatever sessions it had).  Sessions live in the store
(``staff_sessions``, only the SHA-256 of a token): any hub on the store serves them,
and they outlive a restart.  Each staff call reads its session and its account in the
``Reads`` pool; what changes a session — the login that opens it, a touch (at most every
tenth of the idle limit), a logout, the end of an account's sessions, a prune — is
written by the store writer (``KeepSession``), never here.

Password checks (argon2id, ~50 ms of CPU) and account reads run in the ``Reads``
pool, never on the reactor; the login's outcome is decided by the store writer, where
the failure count and the lock are written (atomic statements: a burst of wrong
passwords counts every one), together with its 操作ログ entry and the new session's
row, before the answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from typing import Any

from twisted.internet import defer

from actors.messages import KeepSession, RecordAudit, RecordLogin
from hub.api.context import Answer, Api, Call
from hub.config.access import SESSION_LOGIN, Principal
from hub.domain import staff
from hub.domain.errors import HubError
from hub.store import AuditEntry, StaffAccount, StaffSession

log = logging.getLogger("jukihub.access")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_token() -> tuple[str, str]:
    """A session's token (given to the caller once) and its digest (kept)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def audit(api: Api, who: Principal | None, client: str, action: str, result: str = "ok",
          target: str | None = None, count: int | None = None,
          number_shown: bool = False) -> defer.Deferred[None]:
    """An entry into the 操作ログ; the Deferred fires once it is committed."""
    operator = who.operator_id if who is not None else client
    terminal = who.terminal_id if who is not None else client
    return record(api, AuditEntry(0, operator, terminal, action, target, None, client,
                                  number_shown, result, count))


def record(api: Api, entry: AuditEntry) -> defer.Deferred[None]:
    """``entry`` to the store writer (``at`` 0: its commit's time); fires once committed,
    or fails with the HubError that says why it could not be (503, 500)."""
    d: defer.Deferred[HubError | None] = defer.Deferred()
    api.writer.tell(RecordAudit(entry, reply=api.on_reactor(d)))
    return d.addCallback(raise_error)


def raise_error(value: HubError | None) -> None:
    """A store writer's reply to a record: nothing once committed, else its HubError."""
    if value is not None:
        raise value


def refusal_entry(client: str, right: str, code: str,
                  who: Principal | None = None) -> AuditEntry:
    """A refused call, logged (keys only), as its 操作ログ entry — for both places calls
    are refused: the dispatch (by certificate) and ``authorize`` (by session)."""
    log.warning("call refused", extra={"event": "access.refused", "client": client,
                                       "right": right, "code": code})
    operator = who.operator_id if who is not None else client or "-"
    terminal = who.terminal_id if who is not None else client or "-"
    return AuditEntry(0, operator, terminal, right, None, None, client or None, False, code)


def refuse(api: Api, call: Call, who: Principal | None, status: int, code: str,
           message: str) -> defer.Deferred[Any]:
    """A refused call, failing with its error once it is in the 操作ログ (the refusal is
    on the record before the caller hears of it)."""
    error = HubError(code, message, status=status)
    return record(api, refusal_entry(call.client, call.right, code, who)).addCallback(
        lambda _: fail_with(error))


def fail_with(error: Exception) -> Any:
    raise error


def authorize(api: Api, call: Call) -> defer.Deferred[Call]:
    """``call`` with its principal: a system account's was set by the dispatch; a staff
    member's comes from the session, checked against the account as it is now."""
    if call.principal is not None:
        return defer.succeed(call)
    if call.right == SESSION_LOGIN and call.token is None:  # logging in
        return defer.succeed(dataclasses.replace(call, principal=api.settings.access.staff(
            "", call.client, ())))
    if not call.token:
        return refuse(api, call, None, 401, "login_required", "log in first (POST "
                      "/v1/sessions), or again: the session ended")
    store, access, key = api.reads.store, api.settings.access, digest(call.token)

    def read() -> tuple[StaffSession | None, StaffAccount | None]:  # on a pool thread
        with store.reading() as db:
            session = store.sessions.get(db, key)
            account = store.accounts.get(db, session.user_id) if session else None
        return session, account

    def decide(found: tuple[StaffSession | None, StaffAccount | None]
               ) -> Call | defer.Deferred[Any]:
        session, account = found
        now = api.clock()
        if session is None or staff.session_over(session, call.client, now, access):
            return refuse(api, call, None, 401, "login_required", "log in first (POST "
                          "/v1/sessions), or again: the session ended")
        if staff.usable(account, now) is not None or account is None:
            api.writer.tell(KeepSession("end_user", user_id=session.user_id))
            return refuse(api, call, None, 401, "login_required", "the account can no longer "
                          "be used; the session ended")
        if staff.touch_due(session, now, access):
            api.writer.tell(KeepSession("touch", digest=key, at=now))
        who = access.staff(account.user_id, call.client, account.roles)
        if not who.may(call.right):
            return refuse(api, call, who, 403, "not_permitted",
                          f"your roles do not include the right {call.right}")
        return dataclasses.replace(call, principal=who, session=session)

    return api.reads.run(read).addCallback(decide)


# ---- the routes -------------------------------------------------------------------------


def log_in(api: Api, call: Call) -> defer.Deferred[Answer]:
    """The password is checked in the read pool (argon2id, the same work for an unknown
    user id as for a wrong password); whether the attempt succeeds, fails or finds the
    account locked is decided by the store writer, where the count is written
    (``hub.domain.staff.decide_login``), and every attempt gets the same 401."""
    user_id, password = call.body["user_id"], call.body["password"]
    store, access = api.reads.store, api.settings.access

    def check() -> bool:  # on a pool thread
        account = store.read(store.accounts.get, user_id)
        return staff.password_matches(account.password_hash if account else None, password)

    token, key = new_token()

    def decide(password_ok: bool) -> defer.Deferred[Any]:
        decided: defer.Deferred[Any] = defer.Deferred()
        who = access.staff(user_id, call.client, ())
        entry = AuditEntry(0, who.operator_id, call.client, "session.login", None, None,
                           call.client, False, "")
        api.writer.tell(RecordLogin(user_id, password_ok, staff.LockoutRule.of(access), entry,
                                    reply=api.on_reactor(decided),
                                    session=(key, call.client)))
        return decided.addCallback(answer)

    def answer(verdict: staff.LoginVerdict | HubError) -> defer.Deferred[Answer]:
        if isinstance(verdict, HubError):
            raise verdict
        if not verdict.ok:
            log.warning("login failed", extra={"event": "access.login_failed",
                                               "client": call.client, "code": verdict.reason})
            raise HubError("login_failed", "the user id or password is wrong, or the account "
                           "cannot be used now", status=401)
        return api.reads.run(store.read, store.accounts.get, user_id).addCallback(opened)

    def opened(account: StaffAccount | None) -> Answer:
        if account is None:  # removed meanwhile (an administrator's command)
            raise HubError("login_failed", "the user id or password is wrong, or the account "
                           "cannot be used now", status=401)
        now = api.clock()  # the writer opened it at its commit, a moment before
        session = StaffSession(key, account.user_id, call.client, now, now)
        return 201, {"token": token, **_shown(api, session, account.roles)}

    return api.reads.run(check).addCallback(decide)


def show(api: Api, call: Call) -> Answer:
    assert call.session is not None  # authorize found it
    return 200, _shown(api, call.session, call.who.roles)


def log_out(api: Api, call: Call) -> defer.Deferred[Answer]:
    assert call.token is not None
    # Ended by the writer before the 操作ログ entry that follows it there commits.
    api.writer.tell(KeepSession("end", digest=digest(call.token)))
    return audit(api, call.who, call.client, "session.logout").addCallback(
        lambda _: (200, {"state": "ended"}))


def _shown(api: Api, session: StaffSession, roles: tuple[str, ...]) -> dict[str, Any]:
    """A session as the API shows it: never its token's digest."""
    return {"user_id": session.user_id, "terminal_id": session.terminal, "roles": list(roles),
            "expires_at": session.started_at + api.settings.access.session_max,
            "idle_timeout": api.settings.access.session_idle}
