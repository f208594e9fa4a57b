"""The national server beyond number generation: identity queries over mTLS."""

from __future__ import annotations

from typing import Any

from devtools.synthetic import Synth
from protocols.charconv import seion_kana
from tests.integration.test_prefecture_path import post_all

WHO: dict[str, str] = {}  # who acts comes from the staff session (op007)


def ask(e: Any, **items: Any) -> tuple[int, Any]:
    return e.staff("op007").post("/v1/queries/identity", {**WHO, **items})


def test_identity_queries_by_code_number_and_four_items(env_with: Any) -> None:
    e = env_with("national", hub_extra=["links.national.query_timeout=1.0"])
    synth = Synth(seed=201)
    arrivals = synth.japanese_arrivals(30)
    e.from_elsewhere(synth)  # J-LIS knows where each came from
    post_all(e.client(), arrivals)
    e.wait_applied(30)
    assert e.seed_national() == 30
    _, state = e.other_control("national", "GET", "/state")
    assert state["persons"] == 30 + 1000  # and the rest of the country
    target = arrivals[0]
    r = target["resident"]

    status, body = ask(e, resident_code=target["resident_code"])
    assert (status, body["status"], body["count"]) == (200, "found", 1), body
    match = body["matches"][0]
    assert (match["name_kanji"], match["birth_date"], match["address"]) == (
        r["name_kanji"], r["birth_date"], r["address"]["text"])
    assert "individual_number" not in match  # never shown in a list of people

    status, body = ask(e, individual_number=r["individual_number"])
    assert status == 200 and [m["resident_code"] for m in body["matches"]] == [
        target["resident_code"]]

    # Four items: the name in kana as 清音化かな (voiced marks gone) still finds her.
    status, body = ask(e, name_kana=seion_kana(r["name_kana"]), birth_date=r["birth_date"])
    assert status == 200 and target["resident_code"] in {
        m["resident_code"] for m in body["matches"]}
    status, body = ask(e, name=r["name_kanji"], address=r["address"]["text"])
    assert status == 200 and target["resident_code"] in {
        m["resident_code"] for m in body["matches"]}
    status, body = ask(e, name=r["name_kanji"], birth_date="1900-01-01")
    assert (status, body["status"], body["matches"]) == (200, "not_found", [])
    answered = 5

    # Too broad: refused before anything is sent (the refusal is in the 操作ログ).
    status, body = ask(e, name=r["name_kanji"], sex=r["sex"])
    assert (status, body["error"]["code"]) == (422, "query_too_broad")
    status, body = ask(e, name=r["name_kanji"], address="静岡県")  # no town: not an item
    assert (status, body["error"]["code"]) == (422, "query_too_broad")
    assert r["name_kanji"] not in str(body)
    status, body = ask(e, resident_code=target["resident_code"], name=r["name_kanji"])
    assert (status, body["error"]["code"]) == (400, "ambiguous_query")
    status, body = e.client().post("/v1/queries/identity",
                                   {**WHO, "resident_code": target["resident_code"]})
    assert (status, body["error"]["code"]) == (403, "not_permitted")  # a person asks
    status, _ = e.client("hub").post("/v1/queries/identity",
                                     {**WHO, "resident_code": target["resident_code"]})
    assert status == 403
    _, state = e.other_control("national", "GET", "/state")
    # and each arrival's 転出証明書情報 was asked for beside the stream
    assert state["queries_answered"] == answered + len(arrivals)

    # The national server is silent: the caller is told, and may ask again.
    e.other_control("national", "POST", "/faults", {"mute_queries": True})
    status, body = ask(e, resident_code=target["resident_code"])
    assert (status, body["error"]["code"]) == (504, "query_timeout")
    e.other_control("national", "DELETE", "/faults")
    assert ask(e, resident_code=target["resident_code"])[0] == 200
    answered += 1

    # The national server is down: 503, nothing waits.
    e.kill_other_mock("national")
    assert e.hub is not None
    e.hub.wait_event(lambda ev: ev.get("event") == "link.backoff"
                     and ev.get("link") == "national")
    status, body = ask(e, resident_code=target["resident_code"])
    assert (status, body["error"]["code"]) == (503, "link_unavailable")

    m = e.metrics()
    assert m['jukihub_link_queries_total{link="national",outcome="answered"}'] == (
        answered + len(arrivals))
    assert m['jukihub_link_queries_total{link="national",outcome="query_timeout"}'] == 1
    assert m['jukihub_link_queries_total{link="national",outcome="link_unavailable"}'] == 1
    # Every query is in the 操作ログ before it is sent (the ones that could not be sent
    # too), each answer's count after it, and every refused one with its reason.
    entries = [(a, res, n) for (a, res, n) in e.read_store(
        "SELECT action, result, count FROM audit_log WHERE action LIKE 'query.%' "
        "ORDER BY id")]
    answered_entry = [x for x in entries if x[0] == "query.answered"]
    assert [n for (_, _, n) in answered_entry][:2] == [1, 1] and answered_entry[4][2] == 0
    assert [(a, res) for (a, res, _) in entries if a != "query.answered"] == [
        ("query.resident_code", "ok"), ("query.individual_number", "ok"),
        *[("query.four_items", "ok")] * 3,
        ("query.refused", "query_too_broad"), ("query.refused", "query_too_broad"),
        ("query.refused", "ambiguous_query"),
        ("query.identity", "not_permitted"), ("query.identity", "client_not_allowed"),
        *[("query.resident_code", "ok")] * 3]
    assert len(answered_entry) == answered


def test_moving_out_data_lands_in_the_inbox_and_the_move_in_notifies_the_former_city(
        env_with: Any) -> None:
    import datetime as dt

    e = env_with("national")
    synth = Synth(seed=202)
    arrival = synth.arrival()
    r = arrival["resident"]
    former = r["previous_address"]["municipality_code"]
    cert = {"certificate_number": "T-0001", "from_municipality_code": former,
            "resident_code": arrival["resident_code"], "name_kanji": r["name_kanji"],
            "name_kana": r["name_kana"], "birth_date": r["birth_date"], "sex": r["sex"],
            "former_address": r["previous_address"]["text"],
            "planned_address": r["address"]["text"],
            "moving_out_date": dt.date.today().isoformat()}
    e.other_control("national", "POST", "/push", {"moving_out": cert})
    e.other_control("national", "POST", "/push", {"raw": "<MovingOutCertificate/>"})
    e.other_control("national", "GET", "/wait?pushes_settled=2")
    staff = e.staff("op007")
    _, body = staff.get("/v1/inbox?kind=national.moving_out")
    [item] = body["items"]
    assert item["state"] == "new" and item["document"]["certificate_number"] == "T-0001"
    assert item["document"]["resident_code"] == arrival["resident_code"]
    _, body = staff.get("/v1/inbox?kind=national.unreadable")
    assert [(i["state"], i["code"]) for i in body["items"]] == [("refused", "xsd_invalid")]

    # The register system records the 転入 (特例転入): the former city is notified; a
    # birth notifies nobody (and asks for a number instead).
    baby = synth.arrival(newborn=True)
    accepted = post_all(e.client(), [arrival, baby])
    _, state = e.other_control("national", "GET", "/wait?applied_seq=2")
    assert state["transfer_notices"] == 1 and state["issued"] == 1
    _, notices = e.other_control("national", "GET", "/transfer-notices")
    assert notices == [{"update_seq": accepted[arrival["request_id"]],
                        "resident_code": arrival["resident_code"],
                        "former_municipality_code": former,
                        "move_in_date": arrival["event_date"]}]
