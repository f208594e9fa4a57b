"""Department feeds (庁内連携): each configured department pulls the register's changes
in order with its own certificate, gets exactly its fields — never a 個人番号 where its
work does not use the number — and resumes from its cursor after the hub restarts;
the first extract of a large register waits for a supervisor; every pull is logged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import CONFIG, Env
from devtools.synthetic import Synth
from hub.config import load_config
from hub.config.departments import ALWAYS
from tests.integration.test_prefecture_path import post_all

DEPARTMENTS = load_config(CONFIG).departments
PARTY = {cert: party for party, cert in load_config(CONFIG).parties.items()}
CURSORS: dict[str, int] = {}  # department -> where its first pages ended


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[
        tuple[Env, list[dict[str, Any]]]]:
    e = Env(tmp_path_factory.mktemp("feeds"), certs_dir)
    try:
        e.start_mock()
        e.start_hub()
        synth = Synth(seed=871)
        changes = synth.japanese_arrivals(12, numbered=True) + list(synth.stream(18))
        post_all(e.client(), changes)
        yield e, changes
    finally:
        e.stop()


def _pages(client: Any, after: int, limit: int, pages: int) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    for _ in range(pages):
        status, body = client.get(f"/v1/feed?after={after}&limit={limit}")
        assert status == 200, body
        records += body["records"]
        after = body["next"]
    return records, after


@pytest.mark.parametrize("name", sorted(DEPARTMENTS))
def test_a_department_gets_its_fields_in_order(fed: tuple[Env, list[dict[str, Any]]],
                                               name: str) -> None:
    e, changes = fed
    dept = DEPARTMENTS[name]
    records = _first_pull(e, name)
    assert [r["update_seq"] for r in records] == list(range(1, 15))  # in order, no gaps
    want = set(ALWAYS) | set(dept.fields)
    if not dept.uses_number:
        want.discard("individual_number")
    assert all(set(r) == want for r in records), (set(records[0]), want)
    first = records[0]
    posted = next(c for c in changes if c["resident_code"] == first["resident_code"])
    if "name_kanji" in want:
        assert first["name_kanji"] == posted["resident"]["name_kanji"]
    text = json.dumps(records, ensure_ascii=False)
    numbers = [c["resident"].get("individual_number") for c in changes
               if c.get("resident", {}).get("individual_number")]
    if dept.uses_number:
        assert any(n in text for n in numbers)
    else:
        assert not any(n in text for n in numbers)  # whatever the configuration lists


def _first_pull(e: Env, name: str) -> list[dict[str, Any]]:
    """A department's first two pages (its cursor kept in ``CURSORS``), and a pull by
    staff and one by the register system, both refused."""
    client = e.client(PARTY[DEPARTMENTS[name].certificate])
    records, CURSORS[name] = _pages(client, 0, 7, 2)
    assert e.client("operator").get("/v1/feed")[0] == 401  # staff never pull a feed
    assert e.client().get("/v1/feed")[0] == 403            # nor the register system
    return records


def test_every_department_resumes_from_its_cursor_after_a_restart(
        fed: tuple[Env, list[dict[str, Any]]]) -> None:
    e, changes = fed
    # The departments whose first pull ran in another test process pull here first.
    for name in sorted(set(DEPARTMENTS) - set(CURSORS)):
        _first_pull(e, name)
    assert e.hub is not None
    total = int(e.read_store("SELECT max(update_seq) FROM identity_records")[0][0])
    e.hub.stop()
    e.start_hub()
    for name, cursor in CURSORS.items():
        client = e.client(PARTY[DEPARTMENTS[name].certificate])
        rest, end = _pages(client, cursor, 1000, 1)
        assert [r["update_seq"] for r in rest] == list(range(cursor + 1, total + 1))
        assert end == total
        assert client.get(f"/v1/feed?after={end}")[1]["records"] == []
    pulls = e.read_store("SELECT request_id, count(*) FROM audit_log WHERE action = "
                         "'feed.read' AND result = 'ok' GROUP BY request_id")
    assert {d: n for d, n in pulls} == {d: 4 for d in DEPARTMENTS}
    refused = e.read_store("SELECT count(*) FROM audit_log WHERE action = 'feed.read' "
                           "AND result != 'ok'")[0][0]
    assert refused == 2 * len(DEPARTMENTS)  # staff and the register system, each time


def test_a_large_first_extract_waits_for_a_supervisor(env_with: Any) -> None:
    e = env_with(hub_extra=["controls.bulk_threshold=3"])
    post_all(e.client(), Synth(seed=872).japanese_arrivals(5))
    tax = e.client(PARTY[DEPARTMENTS["tax"].certificate])
    status, body = tax.get("/v1/feed")
    assert (status, body["error"]["code"]) == (409, "awaiting_approval")
    supervisor = e.staff("op401")
    _, listed = supervisor.get("/v1/approvals?state=pending")
    [approval] = [a for a in listed["approvals"] if a["kind"] == "feed"]
    assert (approval["subject"], approval["people"]) == ("tax", 5)
    assert tax.get("/v1/feed")[0] == 409  # still waiting: asking again changes nothing
    assert supervisor.post(f"/v1/approvals/{approval['approval_id']}",
                           {"decision": "approve"})[0] == 200
    status, body = tax.get("/v1/feed")
    assert status == 200 and len(body["records"]) == 5
    care = e.client(PARTY[DEPARTMENTS["care"].certificate])
    assert care.get("/v1/feed")[0] == 409
    [other] = [a for a in supervisor.get("/v1/approvals?state=pending")[1]["approvals"]]
    assert supervisor.post(f"/v1/approvals/{other['approval_id']}",
                           {"decision": "refuse"})[0] == 200
    status, body = care.get("/v1/feed")
    assert (status, body["error"]["code"]) == (403, "feed_refused")
