"""What an outside probe found, as tests against one running hub (real processes, real
mutual TLS), shared by this module's tests:

- every parameter and body field of every route, given the boundary values (0, -1,
  2^31, 2^63, 2^64, empty, a megabyte string, wrong types), gets a documented status,
  never a 5xx; a value the document refuses is refused with 400 naming the item; the
  hub is healthy afterwards and nothing was written;
- the probe's own request (``POST /v1/inbox/2^63/ack``) is refused and stops nothing;
- a burst of wrong passwords from many connections locks the account;
- two supervisors approving one bulk output at the same moment give one approval;
- two replays of one dead letter at the same moment give one replay.

Calls that must race are released together from a barrier, each on its own connection.
"""

from __future__ import annotations

import copy
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import STAFF_PASSWORD, Env
from devtools.synthetic import Synth
from hub.api.openapi import Contract
from hub.api.routes import ROUTES
from hub.config import load_config
from hub.domain.errors import RequestError
from hub.store.tables import metadata
from hub.support.client import HttpsClient
from tests.integration.test_access import samples
from tests.integration.test_prefecture_path import post_all

CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
MEGABYTE = "x" * (1 << 20)
# The boundary values, as JSON values in a body and as text in a path or a query.
BODY_VALUES: list[Any] = [0, -1, 2**31 - 1, 2**31, 2**63, 2**64, "", MEGABYTE, True, [], {},
                          1.5, None]
PARAM_VALUES = ["0", "-1", "2147483647", "2147483648", "9223372036854775808",
                "18446744073709551616", "", "x" * 20_000, "true", "1.5", "nan", "[]"]
# Tables whose rows a refused or read-only request may change: the 操作ログ (a read is
# on the record), the readiness heartbeat, the accounts' last login; and what changes
# with no request at all, the links' leases (renewed every second).
CHANGING = {"audit_log", "store_heartbeat", "staff_accounts", "link_leases"}
READS = {"inbox.list", "deadletters.list", "audit.search", "feed.read", "approval.list"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[Env]:
    e = Env(tmp_path_factory.mktemp("hardening"), certs_dir)
    e.start_mocks({})
    e.start_hub(["controls.bulk_threshold=0"])
    yield e
    e.stop()


def _caller(env: Env, right: str) -> HttpsClient:
    """A caller who has ``right``: the register system, a department, or a staff member
    with every staff role."""
    if right == "changes.submit":
        return env.client("register")
    if right == "feed.read":
        return env.client("dept_elections")
    return env.staff("every-role", "window_clerk", "supervisor", "auditor", "operator")


def _places(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field of a body (a list's first item stands for the rest)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (*path, key)
            yield from _places(value, (*path, key))
    elif isinstance(obj, list) and obj:
        yield (*path, 0)
        yield from _places(obj[0], (*path, 0))


def _with(obj: Any, place: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(obj)
    node = out
    for key in place[:-1]:
        node = node[key]
    node[place[-1]] = value
    return out


def _snapshot(env: Env) -> dict[str, list[Any]]:
    return {t.name: sorted(map(repr, env.read_store(f"SELECT * FROM {t.name}")))
            for t in metadata.sorted_tables if t.name not in CHANGING}


@dataclass(frozen=True)
class Case:
    """One request of the boundary test: ``what`` it changes in the route's sample."""

    what: str
    path: dict[str, str]
    query: dict[str, str]
    body: Any


def _cases(route: Any, op: Any, sample: tuple[str, Any]) -> list[Case]:
    """The route's sample with one input at a time set to each boundary value."""
    sample_path, body = sample
    path, _, query_text = sample_path.partition("?")
    query = dict(urllib.parse.parse_qsl(query_text))
    segments = {part[1:-1]: path.split("/")[i]
                for i, part in enumerate(route.path.split("/")) if part.startswith("{")}
    cases = []
    for name, (where, _, _) in op.parameters.items():
        for text in PARAM_VALUES:
            if where == "path":
                cases.append(Case(f"{name}={text[:12]}", {**segments, name: text}, query, body))
            else:
                cases.append(Case(f"{name}={text[:12]}", segments, {**query, name: text}, body))
    cases.append(Case("unknown parameter", segments, {**query, "surprise": "1"}, body))
    if route.method == "POST":
        for place in _places(body):
            for value in BODY_VALUES:
                cases.append(Case(f"{'/'.join(map(str, place))}={str(value)[:12]}", segments,
                                  query, _with(body, place, value)))
        cases.append(Case("an extra key", segments, query, {**(body or {}), "surprise": 1}))
        cases.append(Case("a list for a body", segments, query, [body]))
    return cases


def _valid(op: Any, case: Case) -> bool:
    """Whether the document allows ``case`` (the hub's own compiled contract)."""
    try:
        op.check_parameters(case.path, case.query)
        if case.body is not None or op.body_required:
            op.check_body(case.body)
    except RequestError:
        return False
    return True


def _send(client: HttpsClient, route: Any, case: Case) -> tuple[int, Any]:
    url = route.path
    for name, value in case.path.items():
        url = url.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    if case.query:
        url += "?" + urllib.parse.urlencode(case.query)
    return client.request(route.method, url, case.body)


def test_boundary_values_on_every_input_are_refused_and_change_nothing(hub: Env) -> None:
    contract = Contract()
    table = samples(Synth(seed=1401))
    # Who calls, logged in first; a department's first pull opens its feed (a write of
    # a valid request): done before the snapshot.
    callers = {op.right: _caller(hub, op.right) for op in contract.operations.values()}
    assert callers["feed.read"].get("/v1/feed?limit=1")[0] == 200
    before = _snapshot(hub)
    [(last_entry,)] = hub.read_store("SELECT max(id) FROM audit_log")
    wrong: list[tuple[Any, ...]] = []
    sent = 0
    for route in ROUTES:
        op = contract.operation(route.method, route.path)
        for case in _cases(route, op, table[(route.method, route.path)]):
            valid = _valid(op, case)
            if valid and route.method != "GET":
                continue  # a write the document allows would write: not this test's
            status, answer = _send(callers[op.right], route, case)
            sent += 1
            if not valid:  # refused, with a JSON error; 404 when a path segment is empty
                expected = {404} if "" in case.path.values() else {400, 413}
            else:
                expected = set(op.responses)
            if status not in expected or status >= 500 or not isinstance(answer, dict):
                wrong.append((route.method, route.path, case.what, status, answer))
    assert wrong == [] and sent > 1000

    # The hub is healthy, takes a change, and wrote nothing for all of that.
    monitor = hub.client("monitor")
    assert monitor.get("/healthz") == (200, {"status": "ok"})
    status, ready = monitor.get("/readyz")
    assert status == 200, ready
    assert _snapshot(hub) == before
    # On the record since: the reads the document allowed, and nothing else.
    logged = {a for (a,) in hub.read_store("SELECT DISTINCT action FROM audit_log WHERE id > :i",
                                           i=last_entry)}
    assert logged <= READS, logged - READS


def test_the_probes_request_is_refused_and_stops_nothing(hub: Env) -> None:
    staff = _caller(hub, "inbox.ack")
    status, body = staff.post(f"/v1/inbox/{2**63}/ack", {})
    assert (status, body["error"]["code"], body["error"].get("item")) == (
        400, "schema_invalid", "item_id")
    for path in (f"/v1/inbox?after={2**63}", f"/v1/dead-letters?after={2**63}",
                 f"/v1/inbox/{2**63}", f"/v1/manual-answers/{2**63}",
                 f"/v1/dead-letters/{2**63}", f"/v1/feed?after={2**63}"):
        caller = _caller(hub, "feed.read" if path.startswith("/v1/feed") else "inbox.read")
        assert caller.get(path)[0] == 400, path
    assert staff.post(f"/v1/manual-answers/{2**63}", {"decision": "refuse"})[0] == 400
    assert staff.post(f"/v1/dead-letters/{2**63}/replay", {})[0] == 400
    assert staff.get("/v1/inbox")[0] == 200  # answered, not hanging
    assert staff.request("OPTIONS", "/v1/manual-answers/1")[0] == 405
    assert staff.last_headers["allow"] == "POST, GET"
    assert staff.get("/v1/residents/search")[0] == 405  # not the resident "search"
    assert hub.client("monitor").get("/healthz") == (200, {"status": "ok"})
    accepted = post_all(hub.client(), list(Synth(seed=1402).stream(3)))
    assert len(accepted) == 3


def _together(n: int, call: Callable[[int], Any]) -> list[Any]:
    """``call(i)`` for i < n, each on its own thread, released together."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_a_burst_of_wrong_passwords_locks_the_account(hub: Env) -> None:
    lockout_after = load_config(CONFIG).access.lockout_after
    hub.add_staff("target", "window_clerk")
    terminals = [hub.client("operator") for _ in range(3 * lockout_after)]
    for t in terminals:  # each on its own connection, made before the burst
        assert t.get("/healthz")[0] == 401
    answers = _together(len(terminals), lambda i: terminals[i].log_in("target", "wrong one"))
    assert {(s, b["error"]["code"]) for s, b in answers} == {(401, "login_failed")}
    status, body = hub.client("operator").log_in("target", STAFF_PASSWORD)
    assert (status, body["error"]["code"]) == (401, "login_failed")  # locked
    results = [r for (r,) in hub.read_store(
        "SELECT result FROM audit_log WHERE action = 'session.login' AND operator_id = "
        "'target' ORDER BY id")]
    assert sorted(results) == sorted(["wrong_password"] * lockout_after + [
        "account_locked"] * (2 * lockout_after + 1))
    # An unknown user id answers the same way.
    status, unknown = hub.client("operator").log_in("nobody-at-all", "wrong one")
    assert (status, unknown) == (401, body)


def test_two_supervisors_approving_at_once_give_one_approval(hub: Env) -> None:
    post_all(hub.client(), list(Synth(seed=1403).stream(4)))
    requester = hub.staff("sup-ask", "supervisor")
    status, export = requester.post("/v1/exports", {"kind": "residents"})
    assert status == 202 and export["state"] == "awaiting_approval", export
    approvers = [hub.staff(f"sup-{i}", "supervisor") for i in range(2)]
    approval = export["approval_id"]
    answers = _together(2, lambda i: approvers[i].post(f"/v1/approvals/{approval}",
                                                        {"decision": "approve"}))
    assert sorted(s for s, _ in answers) == [200, 409]
    assert [b["error"]["code"] for s, b in answers if s == 409] == ["already_decided"]
    assert hub.read_store("SELECT count(*) FROM audit_log WHERE action = 'approval.approve' "
                          "AND request_id = :a", a=approval)[0][0] == 1
    assert requester.post(f"/v1/exports/{export['export_id']}/file", {})[0] == 200


def test_two_replays_of_one_dead_letter_at_once_give_one_replay(hub: Env) -> None:
    assert hub.hub is not None
    mark = hub.hub.mark()
    hub.control("POST", "/faults", {"refuse": {"kind": "permanent", "count": 1,
                                               "code": "rejected"}})
    [change] = list(Synth(seed=1404).stream(1))
    assert hub.client().post("/v1/changes", change)[0] == 201
    dead = hub.hub.wait_event(lambda e: e.get("event") == "link.dead_letter", after=mark)
    # (logged when the link tells the writer; its withdrawal goes to the peer only once
    # the dead letter is committed, so the peer having settled it means it is listed)
    hub.wait_applied(dead["seq"])
    status, letters = _caller(hub, "deadletters.list").get("/v1/dead-letters?state=open")
    [letter] = [d for d in letters["dead_letters"] if d["seq"] == dead["seq"]]
    menders = [hub.staff(f"op-{i}", "operator") for i in range(2)]
    answers = _together(2, lambda i: menders[i].post(
        f"/v1/dead-letters/{letter['id']}/replay", {}))
    assert sorted(s for s, _ in answers) == [200, 409]
    [replayed] = [b for s, b in answers if s == 200]
    hub.wait_applied(replayed["resent_from"])
    applied = [r for r in hub.applied() if r["resident_code"] == change["resident_code"]
               and not r["withdrawn"]]
    assert len(applied) == 1  # sent again once, applied once


def test_an_oversized_body_tells_a_caller_without_the_right_nothing(hub: Env) -> None:
    """A body over max_body_bytes is read and dropped: the caller without the right is
    refused and on the record as for any other body; one with the right hears 413."""
    huge = b'{"decision": "approve", "pad": "' + b"x" * (9 << 20) + b'"}'
    clerk = hub.staff("clerk-huge", "window_clerk")
    [(before,)] = hub.read_store("SELECT count(*) FROM audit_log WHERE operator_id = "
                                 "'clerk-huge' AND result = 'not_permitted'")
    status, body = clerk.request("POST", "/v1/approvals/A0000000001", raw=huge)
    assert (status, body["error"]["code"]) == (403, "not_permitted")
    assert hub.read_store("SELECT count(*) FROM audit_log WHERE operator_id = 'clerk-huge' "
                          "AND result = 'not_permitted'")[0][0] == before + 1
    status, body = _caller(hub, "bulk.approve").request(
        "POST", "/v1/approvals/A0000000001", raw=huge)
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert hub.client("monitor").get("/healthz") == (200, {"status": "ok"})
