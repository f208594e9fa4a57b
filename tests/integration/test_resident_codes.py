"""住民票コードの変更 over mutual TLS (``hub.domain.resident_codes``), with the national
mock playing J-LIS: it issues the new code (request/response), and the change reaches
the prefecture and J-LIS with the old code in 旧住民票コード.  Later changes use the new
code; the old one still finds the resident; a silent J-LIS leaves nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import Env
from devtools.synthetic import Synth
from protocols.identity import decode_identity_update

TABLES = ("residents", "identity_records", "outbox", "request_ids", "old_resident_codes")


@pytest.fixture(scope="module")
def e(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[Env]:
    env = Env(tmp_path_factory.mktemp("codes"), certs_dir)
    env.start_mocks({"national": None})
    env.start_hub(["links.national.query_timeout=1.0"])
    yield env
    env.stop()


def _counts(env: Env) -> dict[str, int]:
    return {t: env.read_store(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def _resident(e: Env, synth: Synth) -> tuple[dict[str, Any], Any]:
    """A resident known to the prefecture and to J-LIS."""
    [a] = synth.japanese_arrivals(1, numbered=True)
    e.from_elsewhere(synth)
    status, body = e.client().post("/v1/changes", a)
    assert status == 201, body
    e.wait_applied(e.sent_on("prefecture"))
    e.seed_national()
    return a, synth.people[-1]


def _code_change(synth: Synth, person: Any) -> dict[str, Any]:
    return synth.change("resident_code_change", person)


def test_a_new_code_reaches_prefecture_and_jlis_with_the_old_one(e: Env) -> None:
    synth = Synth(seed=1701)
    a, person = _resident(e, synth)
    old = a["resident_code"]
    change = _code_change(synth, person)
    change.pop("resident", None)
    status, body = e.client().post("/v1/changes", change)
    assert status == 201, body
    new = body["resident_code"]
    assert new != old and len(new) == 11
    assert body["links"] == ["prefecture", "national"]
    # A repeat of the request is answered with its first answer (J-LIS is not asked
    # for a second code).
    assert e.client().post("/v1/changes", change) == (201, body)

    # The prefecture's copy follows the resident under the new code.
    e.wait_applied(e.sent_on("prefecture"))
    status, record = e.control("GET", f"/identities/{new}")
    assert status == 200, record
    assert record["old_resident_code"] == old
    assert record["resident_code_used_date"] == change["event_date"]
    assert (record["reason"], record["reason_detail"]) == ("34", "3401")
    assert e.control("GET", f"/identities/{old}")[0] == 404
    # So does J-LIS's, from the identity update on its stream.
    e.wait_applied(e.sent_on("national"), mock="national")
    status, jlis = e.other_control("national", "GET", f"/persons/{new}")
    assert status == 200 and jlis["name_kana"] == a["resident"]["name_kana"], jlis
    assert e.other_control("national", "GET", f"/persons/{old}")[0] == 404
    [(payload,)] = e.read_store(
        "SELECT payload FROM outbox WHERE link = 'national' AND kind = 'identity_update' "
        f"AND resident_key = '{new}'")
    sent = decode_identity_update(bytes(payload)).record
    assert (sent.resident_code, sent.old_resident_code) == (new, old)
    assert sent.individual_number == a["resident"]["individual_number"]

    # Later changes use the new code; the old one is no resident's any more.
    person.code = old
    moved = synth.change("move_within", person)
    status, err = e.client().post("/v1/changes", moved)
    assert (status, err["error"]["code"]) == (422, "unknown_resident"), err
    person.code = new
    moved = synth.change("move_within", person)
    status, body = e.client().post("/v1/changes", moved)
    assert status == 201, body
    e.wait_applied(e.sent_on("prefecture"))
    status, record = e.control("GET", f"/identities/{new}")
    assert record["address"] == moved["resident"]["address"]["text"]
    assert record["old_resident_code"] is None  # only on the change itself

    # Staff still find the resident by the old code: the record shows the code now.
    staff = e.staff("op1701")
    status, shown = staff.get(f"/v1/residents/{old}")
    assert status == 200 and shown["resident_code"] == new, shown
    status, found = staff.post("/v1/residents/search", {"resident_code": old})
    assert status == 200 and found["status"] == "found", found
    assert [m["resident_code"] for m in found["matches"]] == [new]


def test_a_code_change_carries_no_items(e: Env) -> None:
    synth = Synth(seed=1702)
    a, person = _resident(e, synth)
    before = _counts(e)
    change = _code_change(synth, person)
    change["resident"] = {"name_kana": "ヤマダ　タロウ"}
    status, body = e.client().post("/v1/changes", change)
    assert (status, body["error"]["code"]) == (400, "unexpected_item"), body
    assert _counts(e) == before


def test_a_silent_jlis_leaves_the_register_told_and_nothing_written(e: Env) -> None:
    synth = Synth(seed=1703)
    a, person = _resident(e, synth)
    before = _counts(e)
    change = _code_change(synth, person)
    change.pop("resident", None)
    e.other_control("national", "POST", "/faults", {"mute_queries": True})
    try:
        status, body = e.client().post("/v1/changes", change)
        assert (status, body["error"]["code"]) == (504, "code_change_timeout"), body
    finally:
        e.other_control("national", "DELETE", "/faults")
    assert _counts(e) == before
    status, body = e.client().post("/v1/changes", change)  # sent again: taken
    assert status == 201, body
    assert _counts(e)["old_resident_codes"] == before["old_resident_codes"] + 1


@pytest.mark.parametrize("whose", ["another resident's", "one given up before"])
def test_a_code_in_use_or_used_before_is_refused(e: Env, whose: str) -> None:
    """``resident_code_in_use``: J-LIS (a test's plant) answers a code the register has
    seen; the writer refuses the change and writes nothing."""
    synth = Synth(seed=1710 + len(whose))
    a, person = _resident(e, synth)
    b, other = _resident(e, synth)
    taken = b["resident_code"]
    if whose == "one given up before":
        gave_up = _code_change(synth, other)
        status, body = e.client().post("/v1/changes", gave_up)
        assert status == 201, body
        other.code = body["resident_code"]
    before = _counts(e)
    e.other_control("national", "POST", "/next-code", {"code": taken})
    change = _code_change(synth, person)
    status, body = e.client().post("/v1/changes", change)
    assert (status, body["error"]["code"]) == (422, "resident_code_in_use"), body
    assert _counts(e) == before
    # Its own next code is a new one.
    status, body = e.client().post("/v1/changes", _code_change(synth, person))
    assert status == 201 and body["resident_code"] not in (taken, a["resident_code"]), body
