"""Consistency checks (本人確認情報整合) with the prefectural and national servers."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from devtools.harness import CONFIG, ROOT, STAFF_PASSWORD
from devtools.synthetic import Synth
from tests.integration.test_prefecture_path import post_all


def test_planted_differences_are_found_exactly(env_with: Any) -> None:
    e = env_with("national", hub_extra=["consistency.chunk_records=7"])
    synth = Synth(seed=221)
    arrivals = [synth.arrival() for _ in range(40)]
    e.from_elsewhere(synth)  # J-LIS knows where each came from
    post_all(e.client(), arrivals)
    e.wait_applied(40)
    assert e.seed_national() == 40  # J-LIS holds what the prefecture holds
    codes = sorted(a["resident_code"] for a in arrivals)
    a, b, c, d, f = codes[3], codes[10], codes[17], codes[25], codes[33]
    # Planted in the prefecture's copy: one address changed, one record lost.
    e.control("PATCH", f"/identities/{a}", {"address": "静岡県沼津市どこか１番"})
    e.control("DELETE", f"/identities/{b}")
    # In J-LIS's copy: a kana changed, a record lost, a stranger filed under this city.
    e.other_control("national", "PATCH", f"/persons/{c}", {"name_kana": "テスト　タロウ"})
    e.other_control("national", "DELETE", f"/persons/{d}")
    stranger = synth.new_person()
    e.other_control("national", "POST", "/persons", [{
        "resident_code": stranger.code, "municipality_code": "222038",
        "name_kanji": stranger.name_kanji, "name_kana": stranger.name_kana,
        "birth_date": stranger.birth.isoformat(), "sex": stranger.sex,
        "address": "静岡県沼津市御幸町１番", "record_status": "active", "update_seq": 1}])
    # A change after J-LIS was seeded: the prefecture has it (it travels on the same
    # stream, before the check), J-LIS does not — a real difference, found as one.
    person = next(p for p in synth.people if p.code == f)
    move = synth.change("move_within", person)
    post_all(e.client(), [move])

    e.add_staff("op021", "supervisor")
    run = subprocess.run(
        [sys.executable, "-m", "hub.commands", "--config", str(CONFIG),
         *[arg for o in e.common() for arg in ("--set", o)],
         "consistency", "run", "--port", str(e.intake_port), "--user", "op021",
         "--timeout", "60"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "JUKIHUB_PASSWORD": STAFF_PASSWORD})
    assert run.returncode == 1, run.stderr  # differences found; printed in Japanese
    assert ("都道府県サーバ (prefecture): 整合性確認 C0000000001: 送信 40 件、相手先の照合 "
            "40 件・保有 39 件: 差異 2 件") in run.stdout, run.stdout
    assert ("全国サーバ（J-LIS） (national): 整合性確認 C0000000002: 送信 40 件、相手先の照合 "
            "40 件・保有 40 件: 差異 4 件") in run.stdout
    assert "内容が異なる (differs)" in run.stdout and "address" in run.stdout

    e.staff_made.add("op021")
    staff = e.staff("op021")
    _, pref = staff.get("/v1/consistency-checks/C0000000001")
    assert (pref["state"], pref["chunks"], pref["operator_id"], pref["terminal_id"]) == (
        "answered", 6, "op021", "operator.jukihub.test")
    assert {(x["resident_code"], x["kind"], x.get("items")) for x in pref["differences"]} == {
        (a, "differs", "address"), (b, "only_at_hub", None)}
    _, nat = staff.get("/v1/consistency-checks/C0000000002")
    assert {(x["resident_code"], x["kind"], x.get("items")) for x in nat["differences"]} == {
        (c, "differs", "name_kana"), (d, "only_at_hub", None),
        (stranger.code, "only_at_peer", None), (f, "differs", "address update_seq")}
    m = e.metrics()
    assert m['jukihub_consistency_differences{link="prefecture"}'] == 2
    assert m['jukihub_consistency_differences{link="national"}'] == 4
    assert staff.get("/v1/consistency-checks/C0000000009")[0] == 404
    status, body = staff.post("/v1/consistency-checks", {"links": ["intermediate"]})
    assert (status, body["error"]["code"]) == (400, "schema_invalid")
    assert e.client("hub").post("/v1/consistency-checks", {})[0] == 403
    # Who starts a check comes from the session, never from the body.
    status, body = staff.post("/v1/consistency-checks", {"operator_id": "someone-else"})
    assert (status, body["error"]["code"]) == (400, "schema_invalid")

    # Set right, checked again: nothing differs (the stranger aside, who is J-LIS's).
    address = next(x["resident"]["address"]["text"] for x in arrivals
                   if x["resident_code"] == a)
    e.control("PATCH", f"/identities/{a}", {"address": address})
    status, body = staff.post("/v1/consistency-checks", {"links": ["prefecture"]})
    assert status == 202
    [check] = body["checks"]
    e.wait_applied(41 + 2 * 6)  # the first check's chunks and this one's
    e.control("GET", "/wait?pushes_settled=2")  # its result is recorded at the hub
    _, again = staff.get(f"/v1/consistency-checks/{check['check_id']}")
    assert {(x["resident_code"], x["kind"]) for x in again["differences"]} == {
        (b, "only_at_hub")}
