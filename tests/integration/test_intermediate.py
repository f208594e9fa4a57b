"""The intermediate server beyond copies: 符号 requests, manual answers, provision records."""

from __future__ import annotations

from typing import Any

from devtools.synthetic import Synth, individual_number
from tests.integration.test_prefecture_path import post_all


def test_code_requests_manual_answers_and_provision_records(env_with: Any) -> None:
    e = env_with("intermediate")
    synth = Synth(seed=211)
    people = [synth.arrival() for _ in range(3)]
    for p in people:
        p["resident"]["individual_number"] = individual_number(synth.rng)
    post_all(e.client(), people)
    # A 符号 request and a copy for each; the 処理通番 comes back into the inbox.
    _, state = e.other_control("intermediate", "GET", "/wait?pushes_settled=3")
    assert (state["codes"], state["copies"]) == (3, 3)
    staff = e.staff("op011")
    _, body = staff.get("/v1/inbox?kind=intermediate.code_issued")
    issued = [i["document"] for i in body["items"]]
    assert sorted(d["processing_number"] for d in issued) == [
        "P0000000001", "P0000000002", "P0000000003"]
    atena = issued[0]["integrated_atena"]
    _, copy = e.other_control("intermediate", "GET", f"/copies/{atena}")
    person = next(p for p in people if p["resident"]["name_kanji"] == copy["name"])

    # Three requests for items flagged 自動応答不可: held until staff decide.
    for n, who in ((1, atena), (2, atena), (3, "0" * 14 + "9")):
        e.other_control("intermediate", "POST", "/push", {"manual_answer_request": {
            "request_number": f"REQ-{n}", "integrated_atena": who, "requester": "INST-9",
            "procedure": "別表第二 16", "item": "住民票関係情報",
            "items": ["name", "address", "household_number"],
            "requested_at": "2026-11-27T10:00:00"}})
    e.other_control("intermediate", "POST", "/push", {"provision_record": {
        "record_number": "REC-1", "integrated_atena": atena, "requester": "INST-9",
        "provider": "CITY-222038", "procedure": "別表第二 16", "item": "住民票関係情報",
        "provided_at": "2026-11-27T09:00:00", "outcome": "provided"}})
    e.other_control("intermediate", "POST", "/push", {"raw_hex": "81a46b696e64a3626164"})
    e.other_control("intermediate", "GET", "/wait?pushes_settled=8")
    _, body = staff.get("/v1/inbox?kind=intermediate.manual_answer_request&state=new")
    requests = {i["document"]["request_number"]: i["id"] for i in body["items"]}
    assert list(requests) == ["REQ-1", "REQ-2", "REQ-3"]
    assert e.sent_on("intermediate") == 6  # nothing was answered on its own
    _, body = staff.get("/v1/inbox?kind=intermediate.provision_record")
    assert [i["document"]["record_number"] for i in body["items"]] == ["REC-1"]
    _, body = staff.get("/v1/inbox?kind=intermediate.unreadable")
    assert [(i["state"], i["code"]) for i in body["items"]] == [("refused", "schema_invalid")]

    def decide(item: int, decision: str, client: Any = staff,
               items: list[str] | None = None) -> tuple[int, Any]:
        body = {"decision": decision, **({"items": items} if items is not None else {})}
        return client.post(f"/v1/manual-answers/{item}", body)

    # What staff see first: the items asked for, with the values that would go.
    status, preview = staff.get(f"/v1/manual-answers/{requests['REQ-1']}")
    assert [a["item"] for a in preview["items_asked"]] == ["name", "address",
                                                           "household_number"]
    assert preview["if_approved"]["items"]["name"] == person["resident"]["name_kanji"]
    # An approval names the items that go: some of those asked, never another one.
    status, body = decide(requests["REQ-1"], "approve")
    assert (status, body["error"]["code"]) == (400, "missing_item")
    status, body = decide(requests["REQ-1"], "approve", items=["name", "birth_date"])
    assert (status, body["error"]["code"]) == (422, "items_not_asked")
    status, body = decide(requests["REQ-1"], "approve", items=["name", "address"])
    assert (status, body["decision"], body["links"]) == (200, "approve", ["intermediate"])
    assert body["items"] == ["name", "address"]
    assert decide(requests["REQ-1"], "approve", items=["address", "name"]
                  ) == (200, body)  # a retry: the first answer
    status, again = decide(requests["REQ-1"], "refuse")
    assert (status, again["error"]["code"]) == (409, "already_decided")
    assert decide(requests["REQ-2"], "refuse", items=["name"])[0] == 400  # none with it
    status, body = decide(requests["REQ-2"], "refuse")
    assert status == 200 and body["items"] == []
    status, body = decide(requests["REQ-3"], "approve", items=["name"])  # nobody holds it
    assert (status, body["error"]["code"]) == (422, "unknown_person")
    assert decide(999, "approve", items=["name"])[0] == 404
    issued_item = next(iter(requests.values())) - 1  # a code_issued item, not a request
    assert decide(issued_item, "approve", items=["name"])[0] == 404
    assert decide(requests["REQ-3"], "maybe")[0] == 400
    assert decide(requests["REQ-3"], "refuse", e.client("hub"))[0] == 403

    _, state = e.other_control("intermediate", "GET", "/wait?applied_seq=8")
    assert state["manual_answers"] == 2
    _, approved = e.other_control("intermediate", "GET", "/manual-answers/REQ-1")
    assert approved["decision"] == "approved"
    assert approved["items"] == {"name": person["resident"]["name_kanji"],
                                 "address": person["resident"]["address"]["text"]}
    _, refused = e.other_control("intermediate", "GET", "/manual-answers/REQ-2")
    assert refused["decision"] == "refused" and refused["items"] == {}
    _, body = staff.get("/v1/inbox?kind=intermediate.manual_answer_request&state=new")
    assert [i["document"]["request_number"] for i in body["items"]] == ["REQ-3"]
    audit = [tuple(r) for r in e.read_store(
        "SELECT operator_id, terminal_id, action, result FROM audit_log WHERE action "
        "LIKE 'manual_answer.%' ORDER BY id")]
    assert audit == [("op011", "operator.jukihub.test", "manual_answer.preview", "ok"),
                     ("op011", "operator.jukihub.test", "manual_answer.approve", "ok"),
                     ("op011", "operator.jukihub.test", "manual_answer.refuse", "ok"),
                     # the hub's certificate tried: refused, and on the record
                     ("hub.jukihub.test", "hub.jukihub.test", "manual_answer.decide",
                      "client_not_allowed")]
