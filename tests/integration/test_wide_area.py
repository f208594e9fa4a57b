"""The wide-area copy of the 住民票 (広域交付, ``hub.domain.wide_area``) over mutual TLS:
the national mock plays another municipality's window asking through J-LIS; the hub
answers from its register, records each answer as a provision and in the 操作ログ, and
answers a repeated request once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import Env
from devtools.synthetic import Synth

TOKYO = "131016"


@pytest.fixture(scope="module")
def e(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[Env]:
    env = Env(tmp_path_factory.mktemp("wide"), certs_dir)
    env.start_mocks({"national": None})
    env.start_hub()
    yield env
    env.stop()


def _ask(e: Env, number: str, resident_code: str, scope: str = "person",
         **more: Any) -> Any:
    """The 交付地's request, pushed by J-LIS; the hub's answer once it is back."""
    status, _ = e.other_control("national", "POST", "/push", {"copy_request": {
        "request_number": number, "issuing_municipality_code": TOKYO,
        "resident_code": resident_code, "scope": scope, **more}})
    assert status == 200
    _, pushes = e.other_control("national", "GET", "/pushes")
    e.other_control("national", "GET", f"/wait?pushes_settled={len(pushes)}&timeout=30")
    e.wait_applied(e.sent_on("national"), mock="national")
    status, answer = e.other_control("national", "GET", f"/wide-area-copies/{number}")
    return answer if status == 200 else None


def _family(e: Env, synth: Synth) -> list[dict[str, Any]]:
    arrivals = synth.household("妻", "世帯主", "子", numbered=True)
    e.from_elsewhere(synth)
    for a in arrivals:
        status, body = e.client().post("/v1/changes", a)
        assert status == 201, body
    return arrivals


def test_a_copy_of_one_and_of_the_household_is_answered_and_recorded(e: Env) -> None:
    synth = Synth(seed=2001)
    wife, head, child = _family(e, synth)
    answer = _ask(e, "KOFU-1", wife["resident_code"])
    assert (answer["status"], answer["issuing_municipality_code"]) == ("issued", TOKYO)
    [entry] = answer["entries"]
    r = wife["resident"]
    assert (entry["name_kanji"], entry["name_kana"], entry["birth_date"], entry["sex"]) == (
        r["name_kanji"], r["name_kana"], r["birth_date"], r["sex"])
    assert (entry["household_head"], entry["relationship"]) == (
        head["resident"]["name_kanji"], "妻")
    assert (entry["address"], entry["address_set_date"]) == (r["address"]["text"],
                                                            r["address_set_date"])
    assert entry["previous_address"] == r["previous_address"]["text"]
    # Never the codes: no 住民票コード, no 個人番号 on a wide-area copy.
    assert r["individual_number"] not in str(answer)
    assert wife["resident_code"] not in str(answer["entries"])

    # 世帯全員: the one who asked first, then the other members.
    answer = _ask(e, "KOFU-2", child["resident_code"], scope="household")
    others = sorted((wife, head), key=lambda a: a["resident_code"])  # by 住民票コード
    assert [x["name_kanji"] for x in answer["entries"]] == [
        a["resident"]["name_kanji"] for a in (child, *others)]
    assert {x["household_head"] for x in answer["entries"]} == {head["resident"]["name_kanji"]}

    # Each answer a provision (of whom: the 宛名番号), and on the 操作ログ for auditors.
    rows = e.read_store("SELECT request_number, issuing_municipality_code, atena_number, "
                        "scope, status, persons FROM wide_area_provisions ORDER BY "
                        "request_number")
    assert [tuple(x) for x in rows] == [
        ("KOFU-1", TOKYO, wife["resident"]["atena_number"], "person", "issued", 1),
        ("KOFU-2", TOKYO, child["resident"]["atena_number"], "household", "issued", 3)]
    auditor = e.staff("aud2001", "auditor")
    status, logged = auditor.get("/v1/audit?action=wide_area_copy.*")
    assert status == 200, logged
    assert [(x["operator_id"], x["terminal_id"], x["target"], x["count"], x["result"])
            for x in logged["entries"]] == [
        ("jlis", TOKYO, "KOFU-1", 1, "ok"), ("jlis", TOKYO, "KOFU-2", 3, "ok")]
    staff = e.staff("op2001", "supervisor")
    _, inbox = staff.get("/v1/inbox?kind=national.wide_area_copy_request")
    assert [i["result"] for i in inbox["items"]][:2] == [
        {"status": "issued", "persons": 1}, {"status": "issued", "persons": 3}]


def test_unknown_removed_repeated_and_misaddressed_requests(e: Env) -> None:
    synth = Synth(seed=2002)
    wife, head, child = _family(e, synth)
    assert _ask(e, "KOFU-10", "12345678903")["status"] == "not_found"
    person = next(p for p in synth.people if p.code == child["resident_code"])
    status, _ = e.client().post("/v1/changes", synth.change("move_out", person))
    assert status == 201
    removed = _ask(e, "KOFU-11", child["resident_code"])
    assert (removed["status"], removed["entries"]) == ("removed", [])
    # A removed member is not on the household's copy.
    answer = _ask(e, "KOFU-12", head["resident_code"], scope="household")
    assert len(answer["entries"]) == 2

    # The same 請求番号 again (a new push): recorded once, answered once.
    before = e.sent_on("national")
    _ask(e, "KOFU-12", head["resident_code"], scope="household")
    assert e.sent_on("national") == before
    [(n,)] = e.read_store("SELECT count(*) FROM wide_area_provisions WHERE "
                          "request_number = 'KOFU-12'")
    assert n == 1
    staff = e.staff("op2002", "supervisor")
    _, inbox = staff.get("/v1/inbox?kind=national.wide_area_copy_request&limit=100")
    assert inbox["items"][-1]["result"] == {"status": "already_answered"}

    # For another city: refused back to J-LIS, nothing provided.
    _ask(e, "KOFU-13", head["resident_code"], municipality_code="221309")
    _, pushes = e.other_control("national", "GET", "/pushes")
    assert (pushes[-1]["state"], pushes[-1]["code"]) == ("refused", "wrong_municipality")
    assert e.read_store("SELECT count(*) FROM wide_area_provisions WHERE "
                        "request_number = 'KOFU-13'") == [(0,)]
