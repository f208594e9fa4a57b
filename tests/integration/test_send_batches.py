"""Send-destination batches (送付先情報) to the card management system."""

from __future__ import annotations

from typing import Any

from devtools.synthetic import Synth
from tests.integration.test_prefecture_path import post_all

WHO: dict[str, str] = {}  # who acts comes from the staff session (op031)


def test_batches_by_list_and_for_everyone_needing_a_notice(env_with: Any) -> None:
    e = env_with("card", hub_extra=["send_destination.chunk_records=4"])
    synth = Synth(seed=231)
    people = synth.japanese_arrivals(12, numbered=True)
    rare = people[0]["resident"]  # 髙 and 𠮷 have standard substitutes, 﨑 too
    rare["name_kanji"], rare["name_kana"] = "髙橋　𠮷男", "タカハシ　ヨシオ"
    rare["address"]["text"] = "静岡県沼津市大手町﨑１番"
    babies = [synth.arrival(newborn=True) for _ in range(2)]  # no number: no notice yet
    post_all(e.client(), people + babies)
    gone = synth.change("move_out", synth.people[11])  # removed: no notice either
    post_all(e.client(), [gone])
    staff = e.staff("op031")
    codes = [p["resident_code"] for p in people]

    status, body = staff.post("/v1/send-destination-batches", {**WHO, "residents": codes[:3]})
    assert (status, body) == (202, {"batch_id": "S0000000001", "selection": "list",
                                    "total": 3})
    status, shown = staff.get("/v1/send-destination-batches/S0000000001?wait=30")
    assert (status, shown["state"], shown["chunks"], shown["chunks_delivered"]) == (
        200, "delivered", 1, 1)
    _, held = e.other_control("card", "GET", "/send-batches/S0000000001")
    assert held["complete"] and held["destinations"] == 3
    item = next(i for i in held["items"] if i["resident_code"] == codes[0])
    assert (item["name"], item["name_len"], item["name_gaiji"]) == ("髙橋　𠮷男", 5, 2)
    assert (item["substitute_name"], item["substitute_name_positions"]) == (
        "高橋　吉男", "10010")
    assert (item["substitute_address"], item["substitution_result"]) == (
        "静岡県沼津市大手町崎１番", "1")
    assert item["substitute_address_positions"] == "000000000100"
    # Three households of one: three destinations, each its own 送付先管理番号.
    assert (item["municipality_name"], item["persons"]) == ("沼津市", 1)
    assert sorted(i["management_number"] for i in held["items"]) == [
        f"S0000000001{n:07d}" for n in (1, 2, 3)]
    assert item["individual_number"] == rare["individual_number"]

    status, body = staff.post("/v1/send-destination-batches",
                              {**WHO, "needing_notice": True, "print_class": "1"})
    # Twelve with a number, three already sent, one moved out, the babies have none.
    assert (status, body["total"]) == (202, 8)
    status, shown = staff.get(f"/v1/send-destination-batches/{body['batch_id']}?wait=30")
    assert (shown["state"], shown["built"], shown["chunks"]) == ("delivered", 8, 2)
    _, held = e.other_control("card", "GET", f"/send-batches/{body['batch_id']}?limit=20")
    assert sorted(i["resident_code"] for i in held["items"]) == sorted(codes[3:11])
    assert {i["print_class"] for i in held["items"]} == {"1"}
    # Nobody is left needing a notice: an empty batch, delivered as one empty chunk.
    status, body = staff.post("/v1/send-destination-batches", {**WHO, "needing_notice": True})
    assert (status, body["total"]) == (202, 0)

    # Refusals name the position in the list, never the code.
    baby = babies[0]["resident_code"]
    status, body = staff.post("/v1/send-destination-batches",
                              {**WHO, "residents": [codes[0], baby]})
    assert (status, body["error"]["code"], body["error"]["item"]) == (
        422, "no_individual_number", "residents[1]")
    assert baby not in str(body)
    status, body = staff.post("/v1/send-destination-batches",
                              {**WHO, "residents": [codes[11]]})
    assert (status, body["error"]["code"]) == (422, "change_to_removed_record")
    status, body = staff.post("/v1/send-destination-batches",
                              {**WHO, "residents": ["12345678902"]})
    assert (status, body["error"]["code"]) == (400, "invalid_check_digit")
    status, body = staff.post("/v1/send-destination-batches",
                              {**WHO, "residents": codes[:1], "needing_notice": True})
    assert (status, body["error"]["code"]) == (400, "ambiguous_selection")
    assert staff.get("/v1/send-destination-batches/S0000000009")[0] == 404
    m = e.metrics()
    assert m['jukihub_link_delivered_total{link="card"}'] == 1 + 2 + 1


def test_a_bulk_batch_waits_until_a_second_supervisor_approves_it(env_with: Any) -> None:
    e = env_with("card", hub_extra=["controls.bulk_threshold=5"])
    synth = Synth(seed=232)
    people = synth.japanese_arrivals(8, numbered=True)
    post_all(e.client(), people)
    asker, second = e.staff("op031"), e.staff("op032")
    codes = [p["resident_code"] for p in people]

    status, small = asker.post("/v1/send-destination-batches", {"residents": codes[:5]})
    assert status == 202 and "approval_id" not in small  # at the threshold: no approval
    status, body = asker.post("/v1/send-destination-batches", {"needing_notice": True})
    assert status == 202 and body["total"] == 3 and "state" not in body  # the 3 not in one
    status, body = asker.post("/v1/send-destination-batches", {"residents": codes})
    assert (status, body["state"], body["total"]) == (202, "awaiting_approval", 8)
    held_id, approval = body["batch_id"], body["approval_id"]
    _, shown = asker.get(f"/v1/send-destination-batches/{held_id}")
    assert (shown["state"], shown["built"], shown["chunks"]) == ("awaiting_approval", 0, 0)
    _, before = e.other_control("card", "GET", "/state")

    status, body = asker.post(f"/v1/approvals/{approval}", {"decision": "approve"})
    assert (status, body["error"]["code"]) == (403, "second_person_required")
    clerk = e.staff("op033", "window_clerk")
    assert clerk.post(f"/v1/approvals/{approval}", {"decision": "approve"})[0] == 403
    _, pending = second.get("/v1/approvals?state=pending")
    assert [(a["approval_id"], a["people"], a["requested_by"]) for a in pending["approvals"]
            ][-1] == (approval, 8, "op031")
    _, after_refusals = e.other_control("card", "GET", "/state")
    assert after_refusals == before  # nothing went out while it waited

    status, body = second.post(f"/v1/approvals/{approval}", {"decision": "approve"})
    assert (status, body["state"], body["decided_by"]) == (200, "approved", "op032")
    status, shown = asker.get(f"/v1/send-destination-batches/{held_id}?wait=30")
    assert (status, shown["state"], shown["built"]) == (200, "delivered", 8)
    assert second.post(f"/v1/approvals/{approval}", {"decision": "refuse"})[0] == 409

    # Refused: it never goes out.
    _, body = asker.post("/v1/send-destination-batches", {"residents": codes[1:]})
    refused_id, refused_approval = body["batch_id"], body["approval_id"]
    status, body = second.post(f"/v1/approvals/{refused_approval}", {"decision": "refuse"})
    assert (status, body["state"]) == (200, "refused")
    _, shown = asker.get(f"/v1/send-destination-batches/{refused_id}")
    assert (shown["state"], shown["built"]) == ("refused", 0)
    _, held = e.other_control("card", "GET", f"/send-batches/{refused_id}")
    assert not held.get("destinations")
    decisions = [tuple(r) for r in e.read_store(
        "SELECT operator_id, action, request_id FROM audit_log WHERE action LIKE 'approval.%' "
        "ORDER BY id")]
    assert decisions == [("op032", "approval.approve", approval),
                         ("op032", "approval.refuse", refused_approval)]
