"""Staff search the hub's own register: the two-item rule (an address names a town), a
list without the 個人番号, one record with it only for a role allowed to see it, and
each look on the record."""

from __future__ import annotations

from devtools.harness import Env
from devtools.synthetic import Synth
from tests.integration.test_prefecture_path import post_all


def test_local_search_lists_without_numbers_and_logs_every_look(env: Env) -> None:
    synth = Synth(seed=821)
    arrivals = synth.japanese_arrivals(8)
    post_all(env.client(), arrivals)
    target = arrivals[0]
    r = target["resident"]
    clerk = env.staff("op201", "window_clerk")
    supervisor = env.staff("op202", "supervisor")

    status, body = clerk.post("/v1/residents/search", {"name": r["name_kanji"],
                                                       "address": "静岡県"})
    assert (status, body["error"]["code"]) == (422, "query_too_broad")
    assert r["name_kanji"] not in str(body)
    status, body = clerk.post("/v1/residents/search", {"name_kana": r["name_kana"],
                                                       "birth_date": r["birth_date"]})
    assert status == 200 and body["status"] == "found"
    assert target["resident_code"] in [m["resident_code"] for m in body["matches"]]
    assert all("individual_number" not in m for m in body["matches"])
    status, body = clerk.post("/v1/residents/search", {"name": r["name_kanji"],
                                                       "address": r["address"]["text"]})
    assert status == 200 and body["count"] >= 1
    status, body = clerk.post("/v1/residents/search", {"name": "該当　なし",
                                                       "birth_date": "1900-01-01"})
    assert (status, body["status"], body["matches"]) == (200, "not_found", [])

    path = f"/v1/residents/{target['resident_code']}"
    status, seen_by_clerk = clerk.get(path)
    assert status == 200 and seen_by_clerk["name_kanji"] == r["name_kanji"]
    assert "individual_number" not in seen_by_clerk  # a clerk has no number.view
    status, seen = supervisor.get(path)
    assert status == 200 and seen["individual_number"] == r["individual_number"]
    assert clerk.get("/v1/residents/12345678903")[0] == 404
    assert env.client().get(path)[0] == 403  # the register system holds its own copy

    logged = [tuple(x) for x in env.read_store(
        "SELECT operator_id, action, request_id, number_shown, result, count FROM audit_log "
        "WHERE action LIKE 'register.%' ORDER BY id")]
    atena = seen["atena_number"]
    assert [(o, a, res) for (o, a, _, _, res, _) in logged] == [
        ("op201", "register.search", "query_too_broad"),
        ("op201", "register.search", "ok"), ("op201", "register.search", "ok"),
        ("op201", "register.search", "ok"),
        ("op201", "register.read", "ok"), ("op202", "register.read", "ok"),
        ("register.jukihub.test", "register.read", "not_permitted")]
    assert [(t, bool(n)) for (_, a, t, n, res, _) in logged
            if a == "register.read" and res == "ok"] == [(atena, False), (atena, True)]
    assert all(target["resident_code"] not in str(row) for row in logged)  # keys only
