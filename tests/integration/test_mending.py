"""Consistency on a schedule, and a way to mend (``hub.domain.consistency``,
``hub.domain.resends``): a check the schedule starts, each difference resent to the peer
as a correction (異常時更新順番号, its own 更新順番号) or marked explained; a discarded
dead letter on a chained link followed by the resident's current record, after which
the resident's updates flow again."""

from __future__ import annotations

from typing import Any

from devtools.harness import Env
from devtools.synthetic import Synth
from tests.integration.test_prefecture_path import post_all


def _differences(staff: Any, check_id: str) -> dict[str, dict[str, Any]]:
    status, shown = staff.get(f"/v1/consistency-checks/{check_id}?wait=60")
    assert status == 200 and shown["state"] == "answered", shown
    return {d["resident_code"]: d for d in shown.get("differences", [])}


def test_a_scheduled_check_is_found_and_its_differences_mended(env_with: Any) -> None:
    e: Env = env_with("national", hub_extra=['consistency.every="3s"'])
    synth = Synth(seed=1901)
    arrivals = [synth.arrival() for _ in range(12)]
    e.from_elsewhere(synth)
    post_all(e.client(), arrivals)
    e.wait_applied(12)
    assert e.seed_national() == 12
    codes = sorted(a["resident_code"] for a in arrivals)
    wrong, lost, explained = codes[2], codes[5], codes[8]
    e.control("PATCH", f"/identities/{wrong}", {"address": "静岡県沼津市どこか１番"})
    e.control("DELETE", f"/identities/{lost}")
    e.control("PATCH", f"/identities/{explained}", {"name_kana": "テスト　タロウ"})

    # The schedule (every 3 s, from the hub's first tick) starts a check of each link.
    assert e.hub is not None
    scheduled = e.hub.wait_event(lambda ev: ev.get("event") == "consistency.scheduled",
                                 timeout=60)
    checks = scheduled["checks"]
    assert sorted(checks) == ["national", "prefecture"]
    staff = e.staff("op1901", "supervisor")
    _, shown = staff.get(f"/v1/consistency-checks/{checks['prefecture']}?wait=60")
    assert (shown["operator_id"], shown["terminal_id"]) == ("schedule", "hub")
    found = _differences(staff, checks["prefecture"])
    assert {c: d["kind"] for c, d in found.items()} == {
        wrong: "differs", lost: "only_at_hub", explained: "differs"}
    [(last_seq,)] = e.read_store("SELECT last_update_seq FROM residents WHERE "
                                 f"resident_code = '{wrong}'")

    # Resend the hub's record: a correction with its own 更新順番号.
    url = f"/v1/consistency-checks/{checks['prefecture']}/mends"
    status, mended = staff.post(url, {"resident_code": wrong, "action": "resend"})
    assert status == 201, mended
    assert (mended["action"], mended["link"]) == ("resent", "prefecture")
    assert mended["update_seq"] > last_seq
    assert staff.post(url, {"resident_code": wrong, "action": "resend"})[1]["error"][
        "code"] == "already_mended"
    status, lost_mended = staff.post(url, {"resident_code": lost, "action": "resend"})
    assert status == 201, lost_mended
    e.wait_applied(e.sent_on("prefecture"))
    for code, seq in ((wrong, mended["update_seq"]), (lost, lost_mended["update_seq"])):
        status, record = e.control("GET", f"/identities/{code}")
        assert status == 200, record
        assert (record["update_seq"], record["operator_id"]) == (seq, "op1901")
        [(corrected,)] = e.read_store("SELECT last_update_seq FROM residents WHERE "
                                      f"resident_code = '{code}'")
        assert record["abnormal_update_seq"] == corrected
    # Explained, with a reason; a reason is required.
    assert staff.post(url, {"resident_code": explained, "action": "explain"})[1]["error"][
        "code"] == "reason_required"
    status, body = staff.post(url, {"resident_code": explained, "action": "explain",
                                    "reason": "県の誤記入、県に連絡済み"})
    assert status == 201 and body["action"] == "explained", body
    unknown = next(c for c in codes if c not in found)
    assert staff.post(url, {"resident_code": unknown, "action": "resend"})[0] == 404
    # The check shows what was done about each difference.
    shown_now = _differences(staff, checks["prefecture"])
    assert {c: d.get("mend", {}).get("action") for c, d in shown_now.items()} == {
        wrong: "resent", lost: "resent", explained: "explained"}
    # A window clerk may follow a check but not mend it.
    clerk = e.staff("clerk1901", "window_clerk")
    assert clerk.post(url, {"resident_code": wrong, "action": "explain",
                            "reason": "x"})[0] == 403

    # The resident's chain goes on from the corrected record: the next change applies.
    person = next(p for p in synth.people if p.code == wrong)
    post_all(e.client(), [synth.change("move_within", person)])
    e.wait_applied(e.sent_on("prefecture"))
    status, record = e.control("GET", f"/identities/{wrong}")
    assert record["abnormal_update_seq"] is None and record["reason"] == "11"
    assert e.control("GET", "/refusals")[1] == []

    # Checked again (by staff): the resent two agree now; the explained one still differs.
    status, body = staff.post("/v1/consistency-checks", {"links": ["prefecture"]})
    assert status == 202, body
    again = _differences(staff, body["checks"][0]["check_id"])
    assert set(again) == {explained}
    logged = e.read_store("SELECT action, count(*) FROM audit_log WHERE action LIKE "
                          "'consistency.mend.%' GROUP BY action ORDER BY action")
    assert [tuple(r) for r in logged] == [("consistency.mend.explain", 1),
                                          ("consistency.mend.resend", 2)]


def test_a_difference_only_at_the_peer_can_be_explained_not_resent(env_with: Any) -> None:
    e: Env = env_with("national")
    synth = Synth(seed=1902)
    arrivals = [synth.arrival() for _ in range(3)]
    e.from_elsewhere(synth)
    post_all(e.client(), arrivals)
    e.wait_applied(3)
    e.seed_national()
    stranger = synth.new_person()
    e.other_control("national", "POST", "/persons", [{
        "resident_code": stranger.code, "municipality_code": "222038",
        "name_kanji": stranger.name_kanji, "name_kana": stranger.name_kana,
        "birth_date": stranger.birth.isoformat(), "sex": stranger.sex,
        "address": "静岡県沼津市御幸町１番", "record_status": "active", "update_seq": 1}])
    staff = e.staff("op1902", "supervisor")
    status, body = staff.post("/v1/consistency-checks", {"links": ["national"]})
    check_id = body["checks"][0]["check_id"]
    assert _differences(staff, check_id)[stranger.code]["kind"] == "only_at_peer"
    url = f"/v1/consistency-checks/{check_id}/mends"
    before = e.read_store("SELECT count(*) FROM identity_records")
    status, refused = staff.post(url, {"resident_code": stranger.code, "action": "resend"})
    assert (status, refused["error"]["code"]) == (422, "nothing_to_resend"), refused
    assert e.read_store("SELECT count(*) FROM identity_records") == before
    status, body = staff.post(url, {"resident_code": stranger.code, "action": "explain",
                                    "reason": "J-LIS側で他市の住民を誤登録"})
    assert status == 201, body


def test_a_discarded_dead_letter_on_a_chained_link_is_followed_by_the_current_record(
        env: Env) -> None:
    """The prefecture refuses one update for good; the resident's next is held behind
    it.  Discard with resend: the held one is superseded, the current record goes as a
    correction, and the resident's updates flow again."""
    synth, client = Synth(seed=1903), env.client()
    post_all(client, [synth.arrival() for _ in range(3)])
    env.wait_applied(3)
    victim = synth.people[0]
    env.control("POST", "/faults", {"refuse": {"kind": "permanent", "count": 1,
                                               "code": "rejected_by_peer"}})
    post_all(client, [synth.change("move_within", victim)])          # seq 4: refused
    assert env.hub is not None
    env.hub.wait_event(lambda ev: ev.get("event") == "link.dead_letter")
    latest = synth.change("move_within", victim)
    post_all(client, [latest])                                        # seq 5: held
    ops = env.staff("ops1903", "operator")
    _, listed = ops.get("/v1/dead-letters?link=prefecture")
    (letter,) = listed["dead_letters"]
    status, done = ops.post(f"/v1/dead-letters/{letter['id']}/discard",
                            {"reason": "県で手入力済み", "resend": True})
    assert status == 200, done
    assert (done["state"], done["resent"], done["still_held"]) == ("discarded", 1, False)
    env.wait_applied(env.sent_on("prefecture"))
    status, record = env.control("GET", f"/identities/{victim.code}")
    assert record["address"] == latest["resident"]["address"]["text"]  # the current one
    [(last,)] = env.read_store("SELECT last_update_seq FROM residents WHERE "
                               f"resident_code = '{victim.code}'")
    assert record["abnormal_update_seq"] == last
    assert env.read_store("SELECT seq, state FROM outbox WHERE link = 'prefecture' AND "
                          "seq > 3 ORDER BY seq") == [
        (4, "discarded"), (5, "superseded"), (6, "pending")]
    post_all(client, [synth.change("move_within", victim)])           # flows again
    env.wait_applied(env.sent_on("prefecture"))
    status, record = env.control("GET", f"/identities/{victim.code}")
    assert record["abnormal_update_seq"] is None and record["update_seq"] == last + 2
    assert env.read_store("SELECT action FROM audit_log WHERE action LIKE "
                          "'deadletters.discard%'") == [("deadletters.discard_resend",)]


def test_the_ministrys_chain_comes_back_the_same_way(env_with: Any) -> None:
    """On the ministry's link too (a notice names the previous one): discard with
    resend, and the foreign resident's notices flow again."""
    e: Env = env_with("moj")
    synth, client = Synth(seed=1904), e.client()
    a = synth.arrival()
    r = a["resident"]
    r.update(resident_type="foreign", previous_address={"text": "ベトナム"}, foreign={
        "nationality": "ベトナム", "article_30_45": "1", "residence_status": "技能実習",
        "residence_period_end": "2029-03-31", "residence_card_number": "AB12345678CD"})
    post_all(client, [a])
    e.wait_applied(1, mock="moj")
    person = synth.people[-1]
    e.other_control("moj", "POST", "/faults", {"refuse": {
        "kind": "permanent", "count": 1, "code": "rejected_by_peer"}})
    post_all(client, [synth.change("move_within", person)])          # refused for good
    assert e.hub is not None
    e.hub.wait_event(lambda ev: ev.get("event") == "link.dead_letter"
                     and ev.get("link") == "moj")
    latest = synth.change("move_within", person)
    post_all(client, [latest])                                        # held behind it
    ops = e.staff("ops1904", "operator")
    _, listed = ops.get("/v1/dead-letters?link=moj")
    (letter,) = listed["dead_letters"]
    status, done = ops.post(f"/v1/dead-letters/{letter['id']}/discard",
                            {"reason": "入管へ別途連絡済み", "resend": True})
    assert status == 200 and done["resent"] == 1, done
    e.wait_applied(e.sent_on("moj"), mock="moj")
    [(last,)] = e.read_store("SELECT last_update_seq FROM residents WHERE "
                             f"resident_code = '{person.code}'")
    _, notice = e.other_control("moj", "GET", f"/notices/{person.code}")
    assert (notice["update_seq"], notice["address"]) == (
        last, latest["resident"]["address"]["text"])
    post_all(client, [synth.change("move_within", person)])           # flows again
    e.wait_applied(e.sent_on("moj"), mock="moj")
    _, notice = e.other_control("moj", "GET", f"/notices/{person.code}")
    assert (notice["update_seq"], notice["previous_update_seq"]) == (last + 2, last)
