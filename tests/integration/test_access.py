"""Who may do what, against a running hub: every route × every role, logins, lockout,
disabled accounts — all through real mutual TLS and the ``jukihub users`` commands."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from devtools.harness import CONFIG, STAFF_PASSWORD, Env
from devtools.synthetic import Synth
from hub.api.openapi import Contract
from hub.api.routes import ROUTES
from hub.config import load_config
from hub.config.access import Principal
from hub.support.client import HttpsClient

REFUSALS = {"not_permitted", "client_not_allowed", "login_required"}


def samples(synth: Synth) -> dict[tuple[str, str], tuple[str, Any]]:
    """A request each route would accept from someone allowed (so a refusal can only
    be about who asks).  A new route without one here fails the matrix test."""
    return {
        ("POST", "/v1/changes"): ("/v1/changes", synth.arrival()),
        ("POST", "/v1/changes/batch"): ("/v1/changes/batch", {"changes": [synth.arrival()]}),
        ("POST", "/v1/card-events"): ("/v1/card-events", {
            "request_id": f"CE-{synth.rng.random()}"[:20], "operator_id": "op1",
            "terminal_id": "t1", "resident_code": "12345678903", "event": "issue",
            "event_date": synth.today.isoformat()}),
        ("GET", "/healthz"): ("/healthz", None),
        ("GET", "/readyz"): ("/readyz", None),
        ("GET", "/v1/status"): ("/v1/status", None),
        ("POST", "/v1/maintenance"): ("/v1/maintenance", {"on": False}),
        ("GET", "/v1/dead-letters"): ("/v1/dead-letters?state=open", None),
        ("GET", "/v1/dead-letters/{dead_letter_id}"): ("/v1/dead-letters/1", None),
        ("POST", "/v1/dead-letters/{dead_letter_id}/replay"): ("/v1/dead-letters/1/replay", {}),
        ("POST", "/v1/dead-letters/{dead_letter_id}/discard"): (
            "/v1/dead-letters/1/discard", {"reason": "a test"}),
        ("GET", "/v1/audit"): ("/v1/audit?limit=1", None),
        ("GET", "/v1/manual-answers/{item_id}"): ("/v1/manual-answers/1", None),
        ("GET", "/v1/inbox"): ("/v1/inbox", None),
        ("GET", "/v1/inbox/{item_id}"): ("/v1/inbox/1", None),
        ("POST", "/v1/inbox/{item_id}/ack"): ("/v1/inbox/1/ack", {}),
        ("POST", "/v1/queries/identity"): ("/v1/queries/identity",
                                           {"resident_code": "12345678903"}),
        ("POST", "/v1/manual-answers/{item_id}"): ("/v1/manual-answers/1",
                                                   {"decision": "refuse"}),
        ("POST", "/v1/consistency-checks"): ("/v1/consistency-checks",
                                             {"links": ["prefecture"]}),
        ("GET", "/v1/consistency-checks/{check_id}"): ("/v1/consistency-checks/C0000000001",
                                                       None),
        ("POST", "/v1/consistency-checks/{check_id}/mends"): (
            "/v1/consistency-checks/C0000000099/mends",
            {"resident_code": "12345678903", "action": "explain", "reason": "-"}),
        ("POST", "/v1/send-destination-batches"): ("/v1/send-destination-batches",
                                                   {"residents": ["12345678903"]}),
        ("GET", "/v1/send-destination-batches/{batch_id}"): (
            "/v1/send-destination-batches/S0000000001", None),
        ("GET", "/v1/approvals"): ("/v1/approvals", None),
        ("POST", "/v1/approvals/{approval_id}"): ("/v1/approvals/A0000000001",
                                                  {"decision": "refuse"}),
        ("GET", "/v1/feed"): ("/v1/feed?limit=1", None),
        ("POST", "/v1/exports"): ("/v1/exports", {"kind": "residents"}),
        ("POST", "/v1/exports/{export_id}/file"): ("/v1/exports/E0000000099/file", {}),
        ("POST", "/v1/residents/search"): ("/v1/residents/search",
                                           {"resident_code": "12345678903"}),
        ("GET", "/v1/residents/{resident_code}"): ("/v1/residents/12345678903", None),
        ("GET", "/v1/sessions/current"): ("/v1/sessions/current", None),
        ("POST", "/v1/sessions"): ("/v1/sessions", {"user_id": "-", "password": "-"}),
        ("DELETE", "/v1/sessions/current"): ("/v1/sessions/current", None),  # last: ends it
    }


def test_every_route_for_every_role_is_allowed_or_refused_as_declared(env: Env) -> None:
    cfg = load_config(CONFIG)
    access, contract = cfg.access, Contract()
    synth = Synth(seed=801)
    table = samples(synth)
    assert {(r.method, r.path) for r in ROUTES} == set(table), "a route without a sample"
    # (A route without x-jukihub-right: Contract() refuses the document, above.)
    rights = {key: contract.operation(*key).right for key in table}

    # who -> (their client, their principal (None: nobody), their login body)
    callers: dict[str, tuple[HttpsClient, Principal | None, dict[str, str]]] = {}
    nobody = {"user_id": "nobody", "password": "not a password"}
    for role in sorted(access.staff_roles):
        user = f"u-{role}"
        callers[f"staff:{role}"] = (
            env.staff(user, role), access.staff(user, "operator.jukihub.test", (role,)),
            {"user_id": user, "password": STAFF_PASSWORD})
    for cert in access.systems:
        party = next(p for p, name in cfg.parties.items() if name == cert)
        callers[f"system:{cert}"] = (env.client(party), access.system(cert), nobody)
    callers["unknown:hub"] = (env.client("hub"), None, nobody)  # no account has it
    # A staff terminal without a session may only log in (and fails, as nobody).
    callers["terminal without a session"] = (env.client("operator"), None, nobody)

    mismatches, refusals = [], 0
    for who, (client, principal, login) in callers.items():
        for key, (path, body) in samples(synth).items():
            if key == ("POST", "/v1/sessions"):
                body = login
            allowed = principal is not None and principal.may(rights[key])
            if who == "terminal without a session":
                allowed = key == ("POST", "/v1/sessions")
            # Whoever may not call it is refused whatever the request holds: a valid
            # body, a malformed one, none of the right type, a query that is wrong.
            tries = [(path, {"body": body})] if allowed else [
                (path, {"body": body}), *_malformed(key[0], path)]
            for url, request in tries:
                status, answer = client.request(key[0], url, **request)
                code = answer.get("error", {}).get("code") if isinstance(answer, dict) else None
                refused = status in (401, 403) and code in REFUSALS
                if refused == allowed:
                    mismatches.append((who, key, url[:40], status, code))
                refusals += refused
    assert not mismatches, mismatches

    # Every refusal is on the record (and only keys are: the certificate, the right).
    logged = env.read_store(
        "SELECT count(*) FROM audit_log WHERE result IN "
        "('not_permitted', 'client_not_allowed', 'login_required')")[0][0]
    assert logged == refusals > 0


def _malformed(method: str, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Requests a caller without the right sends besides a valid one: the answer must
    be the same refusal (it learns nothing of what its request would have done)."""
    wrong_query = f"{path}{'&' if '?' in path else '?'}after=-5&surprise={'x' * 300}"
    if method != "POST":
        return [(wrong_query, {})]
    return [(path, {"raw": b'{"not json'}),
            (path, {"raw": b"", "content_type": "text/plain"}),
            (path, {"raw": b"[" * 5000}),
            (wrong_query, {"body": {"surprise": [1] * 1000}})]


def cli(e: Env, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return e.jukihub("users", *args, stdin=stdin)


def test_lockout_disabling_and_the_account_review(env: Env) -> None:
    made = cli(env, "add", "op100", "--role", "window_clerk", "--password-stdin",
               stdin="a first password\n")
    assert made.returncode == 0, made.stderr
    assert cli(env, "add", "op100", "--role", "window_clerk", "--password-stdin",
               stdin="a first password\n").returncode == 2  # one account per person
    weak = cli(env, "add", "op101", "--role", "window_clerk", "--password-stdin",
               stdin="short\n")
    assert weak.returncode == 2 and "weak_password" in weak.stderr
    assert cli(env, "add", "op102", "--role", "register_system", "--password-stdin",
               stdin="a first password\n").returncode == 2  # not a staff role

    terminal = env.client("operator")
    for _ in range(5):  # [access] lockout_after = 5
        status, body = terminal.log_in("op100", "a wrong password")
        assert (status, body["error"]["code"]) == (401, "login_failed")
    status, body = terminal.log_in("op100", "a first password")
    assert (status, body["error"]["code"]) == (401, "login_failed")  # locked: the same answer
    assert terminal.log_in("nobody", "a first password")[0] == 401
    [(failed, locked)] = env.read_store(
        "SELECT failed_logins, locked_until FROM staff_accounts WHERE user_id = 'op100'")
    assert locked is not None
    results = [r for (r,) in env.read_store(
        "SELECT result FROM audit_log WHERE action = 'session.login' ORDER BY id")]
    assert results == ["wrong_password"] * 5 + ["account_locked", "unknown_user"]

    # A new password (set by an administrator) unlocks it.
    assert cli(env, "passwd", "op100", "--password-stdin",
               stdin="a second password\n").returncode == 0
    status, session = terminal.log_in("op100", "a second password")
    assert status == 201 and session["roles"] == ["window_clerk"]
    assert session["terminal_id"] == "operator.jukihub.test"
    assert terminal.get("/v1/inbox")[0] == 200
    assert terminal.get("/v1/sessions/current")[1]["user_id"] == "op100"
    # The session belongs to this terminal's certificate: the register system's
    # certificate with the same token is the register system, not op100.
    other = env.client("register")
    other.token = terminal.token
    assert other.post("/v1/sessions", {"user_id": "op100", "password": "a second password"}
                      )[0] == 403

    # A former employee: disabled while logged in, they can do nothing from then on.
    assert cli(env, "disable", "op100").returncode == 0
    status, body = terminal.get("/v1/inbox")
    assert (status, body["error"]["code"]) == (401, "login_required")
    assert terminal.log_in("op100", "a second password")[0] == 401
    assert cli(env, "disable", "nobody").returncode == 2

    listed = cli(env, "list")
    assert listed.returncode == 0 and re.search(r"^op100 +無効 \(disabled\)", listed.stdout,
                                                re.M), listed.stdout
    review = cli(env, "review", "--unused-days", "30")  # in Japanese unless asked
    assert review.returncode == 1
    assert "アカウントの定期確認" in review.stdout, review.stdout
    assert re.search(r"^op100 +無効 \(disabled\)$", review.stdout, re.M), review.stdout
    english = cli(env, "review", "--unused-days", "30", "--lang", "en")
    assert english.stdout.startswith("account review:"), english.stdout
    assert re.search(r"^op100 +Disabled \(disabled\)$", english.stdout, re.M)
    results = [tuple(r) for r in env.read_store(
        "SELECT action, request_id, result FROM audit_log WHERE action LIKE 'account.%' "
        "ORDER BY id")]
    assert results == [("account.add", "op100", "ok"), ("account.passwd", "op100", "ok"),
                       ("account.disable", "op100", "ok"),
                       ("account.disable", "nobody", "unknown_user")]
    # Passwords appear nowhere in what the hub wrote.
    assert env.hub is not None
    assert all("second password" not in line and "first password" not in line
               for line in env.hub.lines)


def test_a_session_outlives_a_restart_of_the_hub_and_ends_at_its_logout(env: Env) -> None:
    """Sessions are in the store: the same token works after the hub is stopped, and
    after it is killed; a logout ends it for every hub on the store at once."""
    env.add_staff("op110", "supervisor")
    terminal = env.client("operator")
    assert terminal.log_in("op110", STAFF_PASSWORD)[0] == 201
    [(user, bound)] = env.read_store("SELECT user_id, terminal FROM staff_sessions")
    assert (user, bound) == ("op110", "operator.jukihub.test")
    token = terminal.token
    assert token is not None
    assert not env.read_store("SELECT 1 FROM staff_sessions WHERE token_digest = :t",
                              t=token)  # only its digest is kept
    assert env.hub is not None
    env.hub.stop()
    env.start_hub()
    again = env.client("operator")
    again.token = token
    status, shown = again.get("/v1/sessions/current")
    assert (status, shown["user_id"]) == (200, "op110")
    env.hub.kill()
    env.start_hub()
    after_kill = env.client("operator")
    after_kill.token = token
    assert after_kill.get("/v1/inbox")[0] == 200
    assert after_kill.delete("/v1/sessions/current")[0] == 200
    status, body = after_kill.get("/v1/inbox")
    assert (status, body["error"]["code"]) == (401, "login_required")
    assert env.read_store("SELECT count(*) FROM staff_sessions")[0][0] == 0
