"""Nothing personal leaves the hub: every line the hub printed during the integration
tests (its JSON log, decoded), every /metrics text, every error body it answered and
every refusal it sent a peer is searched for every synthetic resident's name, kana,
address, 個人番号 and 住民票コード that the tests gave it.  Zero hits.

This test runs last (``tests/conftest.py`` orders it) so it sees the whole session of
its process — with pytest-xdist workers, ``nothing_personal_written`` (tests/conftest.py)
searches each worker's at its end too; run alone it still sees its own workload:
changes with errors in personal items, searches refused as too broad, documents pushed
by the outside systems and refused."""

from __future__ import annotations

from typing import Any

from devtools.leaks import WATCH
from devtools.synthetic import Synth
from tests.integration.test_prefecture_path import post_all


def test_nothing_personal_was_written(env_with: Any) -> None:
    e = env_with("national", "moj")
    synth = Synth(seed=851)
    people = [synth.arrival() for _ in range(20)]
    e.from_elsewhere(synth)  # J-LIS knows where each came from
    post_all(e.client(), people)
    client, staff = e.client(), e.staff("op851", "supervisor")
    r = people[0]["resident"]
    bad = dict(people[1], request_id="LEAK-1")
    bad["resident"] = {**bad["resident"], "name_kana": r["name_kanji"]}  # not kana
    assert client.post("/v1/changes", bad)[0] in (400, 422)
    assert client.post("/v1/changes", {**people[2], "surprise": r["name_kanji"]})[0] == 400
    assert client.post("/v1/changes", dict(people[3], request_id="LEAK-2",
                                            reason="move_out"))[0] >= 400
    other = next(p for p in people if "municipality_code" in p["resident"].get(
        "previous_address", {}))  # a 転入 contradicting its 転出証明書情報
    contra = dict(other, request_id="LEAK-3", resident={**other["resident"], "sex": "1"
                                                        if other["resident"]["sex"] == "2"
                                                        else "2"})
    assert client.post("/v1/changes", contra)[0] == 422
    assert staff.post("/v1/queries/identity", {"name": r["name_kanji"],
                                               "address": "静岡県"})[0] == 422
    assert staff.post("/v1/residents/search", {"name_kana": r["name_kana"],
                                               "birth_date": r["birth_date"]})[0] == 200
    assert staff.get(f"/v1/residents/{people[0]['resident_code']}")[0] == 200
    e.other_control("moj", "POST", "/push", {"raw": f"<Notice>{r['name_kanji']}</Notice>"})
    e.other_control("moj", "GET", "/wait?pushes_settled=1")
    e.stop()  # metrics and the peers' refusals are gathered as it stops

    assert sum(map(len, WATCH.written)) > 20_000 and len(WATCH.texts) > 40 and len(WATCH.numbers) > 20
    assert any('"event": "hub.ready"' in w for w in WATCH.written)  # the log was read
    assert any("jukihub_intake_requests" in w for w in WATCH.written)  # and the metrics
    assert WATCH.hits() == []
