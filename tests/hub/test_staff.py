"""Staff accounts, sessions and the access configuration, without a hub: the rules (the
login decisions on a real store, SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import argon2
import pytest

from hub.api.sessions import digest, new_token
from hub.config.access import AccessError, access_from_raw
from hub.domain import staff
from hub.domain.errors import HubError
from hub.store import StaffAccount, Store
from hub.store.base import Db
from hub.store.engine import make_engine, migrate

ROLES = {"clerk": {"rights": ["inbox.list", "inbox.read"]},
         "supervisor": {"rights": ["inbox.list", "inbox.read", "number.view"]},
         "register_system": {"rights": ["changes.submit", "inbox.read"]}}
ACCESS = access_from_raw({"terminals": ["t1.test", "t2.test"],
                          "systems": {"register.test": "register_system"},
                          "lockout_after": 3, "lockout_minutes": 10,
                          "session_idle_minutes": 15, "session_max_hours": 9}, ROLES)
NOW = 1_800_000_000.0


def account(**items: Any) -> StaffAccount:
    base = StaffAccount("op001", staff.hash_password("a long enough secret"), ("clerk",),
                        "active", None, 0, None, NOW - 86400, NOW - 86400, None)
    return replace(base, **items)


def test_passwords_are_kept_as_argon2id_and_checked() -> None:
    encoded = staff.hash_password("a long enough secret")
    assert encoded.startswith("$argon2id$") and "a long enough secret" not in encoded
    assert staff.password_matches(encoded, "a long enough secret")
    assert not staff.password_matches(encoded, "a long enough secreT")
    assert not staff.password_matches(None, "a long enough secret")  # no account
    assert not staff.password_matches("not a hash", "x")


@pytest.fixture
def accounts(store_url: str) -> Any:
    """A store (SQLite or PostgreSQL) holding the account ``op001``."""
    migrate(store_url)
    store = Store(make_engine(store_url))
    with store.transaction("test") as db:
        store.accounts.add(db, account())
    yield store
    store.dispose()


RULE = staff.LockoutRule.of(ACCESS)


def attempt(store: Store, password_ok: bool, now: float,
            user_id: str = "op001") -> staff.LoginVerdict:
    with store.transaction("test") as db:
        return staff.decide_login(store, db, user_id, password_ok, RULE, now)


def stored(store: Store) -> tuple[int, float | None]:
    a = store.read(store.accounts.get, "op001")
    assert a is not None
    return a.failed_logins, a.locked_until


def test_the_third_failure_in_a_row_locks_the_account_even_against_the_right_password(
        accounts: Store) -> None:
    for n in (1, 2):
        v = attempt(accounts, False, NOW)
        assert (v.ok, v.reason, v.failed_logins, v.locked_until) == (
            False, "wrong_password", n, None)
    v = attempt(accounts, False, NOW)
    assert (v.ok, v.reason, v.locked_until) == (False, "wrong_password", NOW + 600)
    right_but_locked = attempt(accounts, True, NOW + 599)
    assert (right_but_locked.ok, right_but_locked.reason) == (False, "account_locked")
    assert attempt(accounts, False, NOW + 599).reason == "account_locked"
    assert stored(accounts) == (0, NOW + 600)  # trying does not extend it, nor count
    after = attempt(accounts, True, NOW + 600)
    assert (after.ok, after.failed_logins, after.locked_until) == (True, 0, None)
    assert stored(accounts) == (0, None)


def test_a_success_clears_the_failures(accounts: Store) -> None:
    attempt(accounts, False, NOW)
    attempt(accounts, False, NOW)
    v = attempt(accounts, True, NOW)
    assert (v.ok, v.failed_logins) == (True, 0)
    assert stored(accounts) == (0, None)
    assert accounts.read(accounts.accounts.get, "op001").last_login_at == NOW  # type: ignore[union-attr]


@pytest.mark.parametrize(("items", "reason"), [
    ({"state": "disabled"}, "account_disabled"),
    ({"expires_at": NOW}, "account_expired"),
])
def test_a_disabled_or_expired_account_cannot_log_in(accounts: Store, items: dict[str, Any],
                                                     reason: str) -> None:
    with accounts.transaction("test") as db:
        accounts.accounts.update(db, "op001", **items)
    v = attempt(accounts, True, NOW)
    assert (v.ok, v.reason) == (False, reason)
    assert attempt(accounts, False, NOW).reason == reason
    assert stored(accounts) == (0, None)  # nothing counted against it
    assert staff.usable(accounts.read(accounts.accounts.get, "op001"), NOW) == reason
    assert attempt(accounts, True, NOW, user_id="nobody").reason == "unknown_user"


def test_a_burst_of_failures_from_many_connections_counts_every_one(accounts: Store) -> None:
    """Each failure is counted by one atomic statement, whatever the interleaving:
    eleven attempts released together, each in its own transaction on its own
    connection, lock the account at the third and find it locked after; none is lost."""
    barrier = threading.Barrier(11)
    verdicts: list[staff.LoginVerdict] = []
    lock = threading.Lock()

    def one() -> None:
        with accounts.engine.connect() as conn:
            barrier.wait(timeout=30)
            with conn.begin():
                v = staff.decide_login(accounts, Db(conn), "op001", False, RULE, NOW)
        with lock:
            verdicts.append(v)

    threads = [threading.Thread(target=one) for _ in range(11)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    reasons = sorted(v.reason for v in verdicts)
    assert reasons == ["account_locked"] * 8 + ["wrong_password"] * 3
    assert stored(accounts) == (0, NOW + 600)
    assert attempt(accounts, True, NOW + 1).reason == "account_locked"


def test_an_unknown_user_id_costs_a_password_check_like_a_known_one() -> None:
    """The dummy hash verified for an unknown user id is made with the same argon2
    parameters as every password, so both cases do the same work."""
    real = argon2.extract_parameters(staff.hash_password("a long enough secret"))
    assert argon2.extract_parameters(staff._dummy()) == real
    assert not staff.password_matches(None, "not a password of anyone")


def test_the_account_review_names_what_needs_a_decision() -> None:
    day = 86400.0
    accounts = [
        account(user_id="fresh", last_login_at=NOW - day),
        account(user_id="idle", last_login_at=NOW - 120 * day),
        account(user_id="never"),
        account(user_id="roleless", roles=(), last_login_at=NOW),
        account(user_id="gone", state="disabled"),
        account(user_id="over", expires_at=NOW - day, last_login_at=NOW - day),
    ]
    found = {(f.user_id, f.finding) for f in staff.review(accounts, NOW, 90)}
    assert found == {("idle", "unused"), ("never", "never_logged_in"),
                     ("roleless", "no_role"), ("gone", "disabled"), ("over", "expired")}


def test_new_accounts_and_passwords_are_checked() -> None:
    with pytest.raises(HubError, match="weak_password|at least"):
        staff.new_account("op002", "short", ("clerk",), None, NOW, ACCESS)
    with pytest.raises(HubError) as err:
        staff.new_account("op002", "contains op002 inside it", ("clerk",), None, NOW, ACCESS)
    assert err.value.code == "weak_password"
    with pytest.raises(HubError) as err:
        staff.new_account("op002", "a long enough secret", ("register_system",), None, NOW,
                          ACCESS)
    assert err.value.code == "unknown_role"  # a system's role is not for people
    with pytest.raises(HubError) as err:
        staff.new_account("op 2", "a long enough secret", ("clerk",), None, NOW, ACCESS)
    assert err.value.code == "invalid_user_id"
    made = staff.new_account("op002", "a long enough secret", ("clerk",), None, NOW, ACCESS)
    assert made.state == "active" and made.password_hash.startswith("$argon2id$")


def test_a_session_is_bound_to_its_terminal_and_ends_when_idle_or_old(
        accounts: Store) -> None:
    """The rules (``staff.session_over``) on sessions as the store keeps them: what the
    store writer writes at a login, a use, a logout, an account's end and a prune."""
    store = accounts

    def write(op: Any, *args: Any) -> None:
        with store.transaction("test") as db:
            op(db, *args)

    def live(key: str, terminal: str, now: float) -> bool:
        """A call at ``now``: served (and its use recorded when due) or not."""
        session = store.read(store.sessions.get, key)
        if staff.session_over(session, terminal, now, ACCESS) is not None:
            return False
        assert session is not None
        if staff.touch_due(session, now, ACCESS):
            write(store.sessions.touch, key, now)
        return True

    token, key = new_token()
    assert digest(token) == key and token not in key
    write(store.sessions.open, key, "op001", "t1.test", NOW)
    assert not live(key, "t2.test", NOW + 1)                    # another terminal
    assert not live(digest("guess"), "t1.test", NOW + 1)
    assert live(key, "t1.test", NOW + 14 * 60)
    assert live(key, "t1.test", NOW + 28 * 60)                  # used 14 min ago
    assert not live(key, "t1.test", NOW + 43 * 60)              # idle 15 min
    write(store.sessions.prune, NOW + 44 * 60 - ACCESS.session_idle,
          NOW + 44 * 60 - ACCESS.session_max)
    assert store.read(store.sessions.get, key) is None          # and gone

    _, busy = new_token()
    write(store.sessions.open, busy, "op001", "t1.test", NOW)
    t = NOW
    while t < NOW + 9 * 3600 - 600:
        t += 600
        assert live(busy, "t1.test", t)
    assert not live(busy, "t1.test", NOW + 9 * 3600)            # 9 hours at most
    # A use is written at most every tenth of the idle limit, never moved back.
    write(store.sessions.touch, busy, NOW)
    assert store.read(store.sessions.get, busy).last_used_at == t  # type: ignore[union-attr]

    (_, a), (_, b) = new_token(), new_token()
    write(store.sessions.open, a, "op001", "t1.test", NOW)
    write(store.sessions.open, b, "op002", "t1.test", NOW)
    write(store.sessions.end_user, "op001")
    assert not live(a, "t1.test", NOW) and live(b, "t1.test", NOW)
    write(store.sessions.end, b)
    assert not live(b, "t1.test", NOW)


def test_principals_get_exactly_their_roles_rights() -> None:
    system = ACCESS.system("register.test")
    assert system.may("changes.submit") and not system.may("number.view")
    assert not system.may("session.login")  # a system account never logs in
    clerk = ACCESS.staff("op001", "t1.test", ("clerk",))
    assert clerk.may("inbox.read") and not clerk.may("number.view")
    assert clerk.may("session.login") and clerk.may("session.own")
    both = ACCESS.staff("op001", "t1.test", ("clerk", "supervisor"))
    assert both.may("number.view")
    assert ACCESS.systems_with("changes.submit") == ("register.test",)


@pytest.mark.parametrize(("access", "roles", "message"), [
    ({}, {"r": {"rights": ["no.such"]}}, "unknown right"),
    ({"systems": {"x.test": "missing"}}, {}, r"no \[roles\] section"),
    ({"terminals": ["x.test"], "systems": {"x.test": "r"}}, {"r": {"rights": []}},
     "both a terminal and a system"),
    ({}, {"clerk": {"rights": ["changes.submit"]}}, "system accounts only"),
])
def test_a_wrong_access_configuration_is_refused(access: dict[str, Any],
                                                 roles: dict[str, Any], message: str) -> None:
    with pytest.raises(AccessError, match=message):
        access_from_raw(access, roles)
