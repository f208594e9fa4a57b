"""Staff accounts, sessions and the access configuration, without a hub: the rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from hub.access import AccessError, access_from_raw
from hub.api.sessions import Sessions
from hub.domain import staff
from hub.domain.errors import HubError
from hub.store import StaffAccount

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


def test_the_third_failure_in_a_row_locks_the_account_even_against_the_right_password() -> None:
    a = account()
    for n in (1, 2):
        v = staff.login_verdict(a, False, NOW, ACCESS)
        assert (v.ok, v.reason, v.failed_logins, v.locked_until) == (
            False, "wrong_password", n, None)
        a = replace(a, failed_logins=v.failed_logins, locked_until=v.locked_until)
    v = staff.login_verdict(a, False, NOW, ACCESS)
    assert (v.ok, v.locked_until) == (False, NOW + 600)
    a = replace(a, failed_logins=v.failed_logins, locked_until=v.locked_until)
    right_but_locked = staff.login_verdict(a, True, NOW + 599, ACCESS)
    assert (right_but_locked.ok, right_but_locked.reason) == (False, "account_locked")
    assert right_but_locked.locked_until == NOW + 600  # trying does not extend it
    after = staff.login_verdict(a, True, NOW + 600, ACCESS)
    assert (after.ok, after.failed_logins, after.locked_until) == (True, 0, None)


def test_a_success_clears_the_failures() -> None:
    v = staff.login_verdict(account(failed_logins=2), True, NOW, ACCESS)
    assert (v.ok, v.failed_logins) == (True, 0)


@pytest.mark.parametrize(("items", "reason"), [
    ({"state": "disabled"}, "account_disabled"),
    ({"expires_at": NOW}, "account_expired"),
])
def test_a_disabled_or_expired_account_cannot_log_in(items: dict[str, Any], reason: str) -> None:
    a = account(**items)
    v = staff.login_verdict(a, True, NOW, ACCESS)
    assert (v.ok, v.reason) == (False, reason)
    assert staff.usable(a, NOW) == reason
    assert staff.login_verdict(None, True, NOW, ACCESS).reason == "unknown_user"


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


def test_a_session_is_bound_to_its_terminal_and_ends_when_idle_or_old() -> None:
    sessions = Sessions(ACCESS)
    token = sessions.open("op001", "t1.test", NOW)
    assert sessions.find(token, "t2.test", NOW + 1) is None  # another terminal
    assert sessions.find("guess", "t1.test", NOW + 1) is None
    s = sessions.find(token, "t1.test", NOW + 14 * 60)
    assert s is not None and s.user_id == "op001"
    assert sessions.find(token, "t1.test", NOW + 28 * 60) is not None  # used 14 min ago
    assert sessions.find(token, "t1.test", NOW + 43 * 60) is None       # idle 15 min
    assert sessions.find(token, "t1.test", NOW + 44 * 60) is None       # and gone

    busy = sessions.open("op001", "t1.test", NOW)
    t = NOW
    while t < NOW + 9 * 3600 - 600:
        t += 600
        assert sessions.find(busy, "t1.test", t) is not None
    assert sessions.find(busy, "t1.test", NOW + 9 * 3600) is None       # 9 hours at most

    a, b = sessions.open("op001", "t1.test", NOW), sessions.open("op002", "t1.test", NOW)
    sessions.end_all("op001")
    assert sessions.find(a, "t1.test", NOW) is None and sessions.find(b, "t1.test", NOW)
    sessions.end(b)
    assert sessions.find(b, "t1.test", NOW) is None


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
