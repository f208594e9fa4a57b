"""Moves between cities over mutual TLS, both ends (``hub.domain.moves``), with the
national mock playing J-LIS and the other cities.

The city as **destination**: a domestic 転入 asks J-LIS for the former city's
転出証明書情報 and keeps the 住民票コード and 個人番号 from it — never asking for a
generated number; one that contradicts it, or has none, is refused and writes nothing;
when J-LIS is silent or down the register is told so.  The city as **former** city: a
特例転出 sends its 転出証明書情報 for the destination, and the destination's 転入通知
comes back and confirms the 転出 in the inbox (転出確定), once."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import Env
from devtools.synthetic import Synth
from protocols.identity import decode_identity_update

TABLES = ("residents", "identity_records", "outbox", "request_ids")
TOKYO = "131016"


@pytest.fixture(scope="module")
def e(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[Env]:
    env = Env(tmp_path_factory.mktemp("moves"), certs_dir)
    env.start_mocks({"national": None})
    env.start_hub(["links.national.query_timeout=1.0"])
    yield env
    env.stop()


def _counts(env: Env) -> dict[str, int]:
    return {t: env.read_store(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def _identity(env: Env, code: str, seq: int | None = None) -> Any:
    """The identity record of ``code`` as the hub sent it to the prefecture: its newest,
    or the one of 更新順番号 ``seq``."""
    if seq is None:
        [(seq,)] = env.read_store("SELECT max(update_seq) FROM identity_records WHERE "
                                  f"resident_code = '{code}'")
    [(body,)] = env.read_store("SELECT payload FROM outbox WHERE link = 'prefecture' AND "
                               f"update_seq = {seq}")
    return decode_identity_update(bytes(body)).record


def _arrival(env: Env, synth: Synth, numbered: bool = False) -> dict[str, Any]:
    """A Japanese resident arriving from another city, J-LIS knowing them there; the
    register's message without their 個人番号 unless ``numbered``."""
    [a] = synth.japanese_arrivals(1)
    if not numbered:
        a["resident"].pop("individual_number")
    env.from_elsewhere(synth)
    return a


def test_a_domestic_arrival_keeps_its_number_from_the_certificate(e: Env) -> None:
    synth = Synth(seed=1501)
    a = _arrival(e, synth)
    person = synth.people[-1]
    assert "individual_number" not in a["resident"] and person.number
    before_issued = e.other_control("national", "GET", "/state")[1]["issued"]
    status, body = e.client().post("/v1/changes", a)
    assert status == 201, body
    record = _identity(e, a["resident_code"])
    assert record.individual_number == person.number  # from the 転出証明書情報
    assert (record.reason, record.reason_detail) == ("01", "0101")  # 国内からの転入
    # No generation request on the wire: only the 転入通知 went to J-LIS.
    assert body["links"] == ["prefecture", "national"]
    kinds = e.read_store("SELECT kind FROM outbox WHERE link = 'national' AND "
                         f"resident_key = '{a['resident_code']}'")
    assert [k for (k,) in kinds] == ["transfer_in_notice"]
    _, state = e.other_control("national", "GET", f"/wait?applied_seq={_national_seq(e)}")
    assert state["issued"] == before_issued  # J-LIS generated nothing
    # A repeat of the request is answered with its first answer.
    assert e.client().post("/v1/changes", a) == (201, body)


def _national_seq(env: Env) -> int:
    [(n,)] = env.read_store("SELECT count(*) FROM outbox WHERE link = 'national'")
    return int(n)


def test_a_special_arrival_is_0103_with_the_certificates_number(e: Env) -> None:
    """特例転入: the former city's 特例転出 sent its certificate for this city."""
    synth = Synth(seed=1502)
    [a] = synth.japanese_arrivals(1)
    r, person = a["resident"], synth.people[-1]
    r.pop("individual_number")
    status, _ = e.other_control("national", "POST", "/certificates", [{
        "certificate_number": "T-1502", "from_municipality_code": TOKYO,
        "resident_code": a["resident_code"], "name_kanji": r["name_kanji"],
        "name_kana": r["name_kana"], "birth_date": r["birth_date"], "sex": r["sex"],
        "former_address": "東京都千代田区千代田１番", "planned_address": r["address"]["text"],
        "moving_out_date": a["event_date"], "individual_number": person.number}])
    assert status == 200
    r["previous_address"] = {"municipality_code": TOKYO, "text": "東京都千代田区千代田１番"}
    status, body = e.client().post("/v1/changes", a)
    assert status == 201, body
    record = _identity(e, a["resident_code"])
    assert (record.reason_detail, record.individual_number) == ("0103", person.number)


CONTRADICTED = ["birth_date", "sex", "name_kana", "individual_number", "resident_code",
                "previous_municipality_code"]


@pytest.mark.parametrize("item", CONTRADICTED)
def test_an_arrival_contradicting_its_certificate_is_refused(e: Env, item: str) -> None:
    synth = Synth(seed=1610 + CONTRADICTED.index(item))
    a = _arrival(e, synth, numbered=True)
    bad = copy.deepcopy(a)
    r = bad["resident"]
    if item == "birth_date":
        r["birth_date"] = (dt.date.fromisoformat(r["birth_date"]) - dt.timedelta(days=1)
                           ).isoformat()
    elif item == "sex":
        r["sex"] = "1" if r["sex"] == "2" else "2"
    elif item == "name_kana":
        r["name_kana"] = "ベツジン　タロウ"
    elif item == "individual_number":
        r["individual_number"] = synth.japanese_arrivals(1, numbered=True)[0][
            "resident"]["individual_number"]
    elif item == "resident_code":
        # Another (valid) code: J-LIS finds the person by their items, with their own.
        bad["resident_code"] = synth.new_person().code
    else:  # the certificate is the person's at their real former city
        [(code, _)] = [(c, t) for c, t in (("131016", "東京都"), ("221309", "浜松市"))
                       if c != r["previous_address"]["municipality_code"]][:1]
        r["previous_address"]["municipality_code"] = code
    before = _counts(e)
    status, body = e.client().post("/v1/changes", bad)
    if item == "previous_municipality_code":
        # At another city J-LIS has no such person (by code, nor by their items).
        assert (status, body["error"]["code"]) == (422, "moving_out_certificate_not_found")
    else:
        assert (status, body["error"]["code"], body["error"]["item"]) == (
            422, "move_in_contradicts_certificate", item), body
    assert _counts(e) == before
    assert r["name_kanji"] not in str(body)
    status, body = e.client().post("/v1/changes", a)  # the true one is taken
    assert status == 201, body


def test_an_arrival_jlis_knows_nothing_of_is_refused(e: Env) -> None:
    synth = Synth(seed=1520)
    [a] = synth.japanese_arrivals(1)  # J-LIS is not told where they came from
    before = _counts(e)
    status, body = e.client().post("/v1/changes", a)
    assert (status, body["error"]["code"]) == (422, "moving_out_certificate_not_found")
    assert _counts(e) == before
    # An arrival from abroad needs no certificate, and asks J-LIS for a number.
    [c] = synth.japanese_arrivals(1)
    c["resident"]["previous_address"] = {"text": "アメリカ合衆国"}
    c["resident"].pop("individual_number")
    status, body = e.client().post("/v1/changes", c)
    assert status == 201 and body["links"] == ["prefecture", "national"], body
    kinds = e.read_store("SELECT kind FROM outbox WHERE link = 'national' AND "
                         f"resident_key = '{c['resident_code']}'")
    assert [k for (k,) in kinds] == ["number_request"]
    assert _identity(e, c["resident_code"], body["update_seq"]).reason_detail == "0102"


def test_a_silent_or_absent_jlis_leaves_the_register_told_and_nothing_written(
        e: Env) -> None:
    synth = Synth(seed=1530)
    a = _arrival(e, synth)
    before = _counts(e)
    e.other_control("national", "POST", "/faults", {"mute_queries": True})
    try:
        status, body = e.client().post("/v1/changes", a)
        assert (status, body["error"]["code"]) == (504, "certificate_timeout"), body
        # In a batch, the others go on; the 転入 is answered on its own.
        other = synth.arrival(newborn=True)
        status, body = e.client().post("/v1/changes/batch", {"changes": [a, other]})
        assert status == 200
        assert [r["status"] for r in body["results"]] == ["refused", "accepted"]
        assert body["results"][0]["error"]["code"] == "certificate_timeout"
    finally:
        e.other_control("national", "DELETE", "/faults")
    after = _counts(e)
    assert after["residents"] == before["residents"] + 1  # the newborn only
    status, body = e.client().post("/v1/changes", a)  # sent again: taken
    assert status == 201, body
    m = e.metrics()
    assert m['jukihub_intake_changes_refused_total{rule="certificate_timeout"}'] == 2


def _with_card(e: Env, synth: Synth) -> dict[str, Any]:
    a = _arrival(e, synth, numbered=True)
    assert e.client().post("/v1/changes", a)[0] == 201
    status, body = e.client().post("/v1/card-events", {
        "request_id": f"{a['request_id']}-card", "operator_id": "op1", "terminal_id": "t1",
        "resident_code": a["resident_code"], "event": "issue",
        "event_date": synth.today.isoformat()})
    assert status == 201, body
    return a


def test_a_special_move_out_round_trip_is_confirmed_in_the_inbox(e: Env) -> None:
    """特例転出: the 転出証明書情報 goes to J-LIS for the destination; the destination's
    転入通知 comes back and confirms the 転出 (転出確定), seen through the inbox."""
    synth = Synth(seed=1540)
    a = _with_card(e, synth)
    person = next(p for p in synth.people if p.code == a["resident_code"])
    out = synth.change("move_out", person, moving_out={
        "planned_date": synth.today.isoformat(), "municipality_code": TOKYO,
        "address": "東京都千代田区丸の内１丁目１番", "special": True})
    status, body = e.client().post("/v1/changes", out)
    assert status == 201 and "national" in body["links"], body
    move_out_seq = body["update_seq"]
    assert _identity(e, a["resident_code"]).reason_detail == "2103"  # 特例転出
    _, state = e.other_control("national", "GET", f"/wait?applied_seq={_national_seq(e)}")
    _, sent = e.other_control("national", "GET", "/moving-outs")
    [cert] = [c for c in sent if c["resident_code"] == a["resident_code"]]
    r = a["resident"]
    assert (cert["to_municipality_code"], cert["from_municipality_code"]) == (TOKYO, "222038")
    assert (cert["individual_number"], cert["name_kana"], cert["birth_date"]) == (
        r["individual_number"], r["name_kana"], r["birth_date"])
    assert cert["former_address"] == r["address"]["text"]
    assert cert["planned_address"] == "東京都千代田区丸の内１丁目１番"
    assert cert["moving_out_date"] == synth.today.isoformat() and not cert["moved_in"]

    # The destination records the 転入; its 転入通知 comes back.
    status, notice = e.other_control("national", "POST", f"/moved-in/{a['resident_code']}",
                                     {"move_in_date": synth.today.isoformat()})
    assert status == 200, notice
    _wait_settled(e)
    staff = e.staff("op1501")
    _, inbox = staff.get("/v1/inbox?kind=national.transfer_in")
    [item] = [i for i in inbox["items"]
              if i.get("document", {}).get("resident_code") == a["resident_code"]]
    assert item["state"] == "new"
    assert item["result"] == {"move_out": "confirmed", "move_out_update_seq": move_out_seq,
                              "confirmed_date": synth.today.isoformat()}
    assert e.read_store("SELECT moving_out_confirmed_date FROM residents WHERE "
                        f"resident_code = '{a['resident_code']}'")[0][0] is not None

    # Another 転入通知 of the same person confirms nothing again; one of a person who
    # never moved out of this city matches no 転出 and is refused back to J-LIS.
    e.other_control("national", "POST", f"/moved-in/{a['resident_code']}", {})
    stranger = synth.new_person()
    e.other_control("national", "POST", "/push", {"transfer_in": {
        "municipality_code": TOKYO, "resident_code": stranger.code,
        "move_in_date": synth.today.isoformat(), "address": "東京都千代田区"}})
    _wait_settled(e)
    _, inbox = staff.get("/v1/inbox?kind=national.transfer_in&limit=100")
    results = [(i["state"], i.get("code"), (i.get("result") or {}).get("move_out"))
               for i in inbox["items"]][-2:]
    assert results == [("new", None, "already_confirmed"),
                       ("refused", "no_matching_move_out", "no_matching_move_out")]
    _, pushes = e.other_control("national", "GET", "/pushes")
    assert pushes[-1]["state"] == "refused" and pushes[-1]["code"] == "no_matching_move_out"


def _wait_settled(e: Env) -> None:
    _, pushes = e.other_control("national", "GET", "/pushes")
    e.other_control("national", "GET", f"/wait?pushes_settled={len(pushes)}&timeout=30")


def test_a_plain_move_out_is_confirmed_too_and_sends_no_certificate(e: Env) -> None:
    """A 転出 with a paper certificate sends nothing to J-LIS; the destination's
    転入通知 still confirms it."""
    synth = Synth(seed=1550)
    a = _arrival(e, synth, numbered=True)
    assert e.client().post("/v1/changes", a)[0] == 201
    person = synth.people[-1]
    out = synth.change("move_out", person, moving_out={
        "planned_date": synth.today.isoformat(), "municipality_code": TOKYO,
        "address": "東京都千代田区丸の内２丁目"})
    status, body = e.client().post("/v1/changes", out)
    assert status == 201 and body["links"] == ["prefecture"], body
    assert _identity(e, a["resident_code"]).reason_detail == "2101"
    e.other_control("national", "POST", "/push", {"transfer_in": {
        "municipality_code": TOKYO, "resident_code": a["resident_code"],
        "move_in_date": synth.today.isoformat(), "address": "東京都千代田区丸の内２丁目"}})
    _wait_settled(e)
    _, inbox = e.staff("op1501").get("/v1/inbox?kind=national.transfer_in&limit=100")
    [item] = [i for i in inbox["items"]
              if i.get("document", {}).get("resident_code") == a["resident_code"]]
    assert item["result"]["move_out"] == "confirmed"
    # To another city than the one it moved to: no match.
    e.other_control("national", "POST", "/push", {"transfer_in": {
        "municipality_code": "221309", "resident_code": a["resident_code"],
        "move_in_date": synth.today.isoformat(), "address": "浜松市"}})
    _wait_settled(e)
    _, inbox = e.staff("op1501").get("/v1/inbox?kind=national.transfer_in&limit=100")
    assert inbox["items"][-1]["code"] == "no_matching_move_out"


def test_an_absent_jlis_is_a_503_for_a_domestic_arrival(e: Env) -> None:
    """Last in the module: the national mock is killed."""
    synth = Synth(seed=1560)
    a = _arrival(e, synth)
    before = _counts(e)
    e.kill_other_mock("national")
    assert e.hub is not None
    e.hub.wait_event(lambda ev: ev.get("event") == "link.backoff"
                     and ev.get("link") == "national")
    status, body = e.client().post("/v1/changes", a)
    assert (status, body["error"]["code"]) == (503, "certificate_unavailable"), body
    assert _counts(e) == before
