"""The first path end to end: real processes, real mutual TLS on loopback."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from devtools.harness import Env, check_order
from devtools.synthetic import Synth
from hub.support.client import HttpsClient


def post_all(client: HttpsClient, changes: list[dict[str, Any]], batch: int = 20,
             ) -> dict[str, int]:
    """Post singly (the first tenth) and in batches; return request id -> 更新順番号."""
    accepted: dict[str, int] = {}
    singles = len(changes) // 10
    for c in changes[:singles]:
        status, body = client.post("/v1/changes", c)
        assert status == 201, body
        accepted[body["request_id"]] = body["update_seq"]
    for i in range(singles, len(changes), batch):
        status, body = client.post("/v1/changes/batch", {"changes": changes[i : i + batch]})
        assert status == 200, body
        for r in body["results"]:
            assert r["status"] == "accepted", r
            accepted[r["request_id"]] = r["update_seq"]
    return accepted


def assert_delivered_exactly(env: Env, accepted: dict[str, int]) -> None:
    applied = env.applied()
    check_order(applied)
    got = sorted(r["update_seq"] for r in applied if not r["withdrawn"])
    assert got == sorted(accepted.values())  # every change once, none twice


def test_changes_are_applied_in_order(env: Env) -> None:
    synth = Synth(seed=101)
    client = env.client()
    accepted = post_all(client, list(synth.stream(300)))
    assert sorted(accepted.values()) == list(range(1, 301))
    env.wait_applied(300)
    assert_delivered_exactly(env, accepted)
    person = next(p for p in reversed(synth.people) if not p.removed)
    status, held = env.control("GET", f"/identities/{person.code}")
    assert status == 200 and held["name_kana"] == person.name_kana
    m = env.metrics()
    assert m['jukihub_link_delivered_total{link="prefecture"}'] == 300
    assert m['jukihub_outbox_depth{link="prefecture"}'] == 0
    assert m['jukihub_link_up{link="prefecture"}'] == 1
    assert m['jukihub_intake_changes_accepted_total{reason="move_in"}'] > 0
    assert m['jukihub_delivery_latency_seconds_count{link="prefecture"}'] == 300


def test_mock_killed_and_restarted_mid_stream(env: Env) -> None:
    synth = Synth(seed=102)
    client = env.client()
    accepted = post_all(client, list(synth.stream(200)))
    env.wait_applied(40)
    assert env.mock is not None
    env.mock.kill()  # SIGKILL, while the hub has messages in flight
    accepted |= post_all(client, list(synth.stream(100)))  # the hub keeps accepting
    mark = env.hub.mark() if env.hub else 0
    env.start_mock()  # same port, same database
    env.wait_applied(300)
    assert_delivered_exactly(env, accepted)
    assert env.hub is not None
    env.hub.wait_event(lambda e: e.get("event") == "link.ready", after=mark)


def test_hub_killed_and_restarted_mid_stream(env: Env) -> None:
    synth = Synth(seed=103)
    changes = list(synth.stream(400))
    accepted: dict[str, int] = {}
    hub_back = threading.Event()
    errors: list[str] = []

    def poster() -> None:
        client = env.client()
        for i in range(0, len(changes), 10):
            for _attempt in range(5):
                try:
                    status, body = client.post("/v1/changes/batch",
                                               {"changes": changes[i : i + 10]})
                    break
                except OSError:  # killed mid-request: retry the same request ids
                    client.close()
                    hub_back.wait(60)
            else:
                errors.append(f"batch {i} never answered")
                return
            assert status == 200, body
            for r in body["results"]:
                accepted[r["request_id"]] = r["update_seq"]
        client.close()

    t = threading.Thread(target=poster)
    t.start()
    env.wait_applied(60)
    assert env.hub is not None
    env.hub.kill()  # SIGKILL mid-stream: requests, commits and frames in flight
    env.start_hub()  # same ports, same store
    hub_back.set()
    t.join(120)
    assert not errors and len(accepted) == 400
    assert len(set(accepted.values())) == 400  # a retried request got its first answer
    env.wait_applied(max(accepted.values()))
    assert_delivered_exactly(env, accepted)


def test_temporary_refusals_are_retried(env: Env) -> None:
    env.control("POST", "/faults", {"refuse": {"kind": "temporary", "count": 3,
                                               "code": "busy"}})
    accepted = post_all(env.client(), list(Synth(seed=104).stream(20)))
    env.wait_applied(20)
    assert_delivered_exactly(env, accepted)
    _, refusals = env.control("GET", "/refusals")
    assert [(r["permanent"], r["code"]) for r in refusals] == [(False, "busy")] * 3
    m = env.metrics()
    assert m['jukihub_link_retries_total{cause="refused",link="prefecture"}'] == 3
    assert m.get('jukihub_link_dead_letters_total{code="busy",link="prefecture"}', 0) == 0


def test_dropped_connections_resume_without_loss(env: Env) -> None:
    env.control("POST", "/faults", {"drop_after": 25})
    accepted = post_all(env.client(), list(Synth(seed=105).stream(100)))
    env.wait_applied(100)
    assert_delivered_exactly(env, accepted)


def test_malformed_body_is_dead_lettered_and_others_flow(env: Env) -> None:
    synth = Synth(seed=106)
    client = env.client()
    accepted = post_all(client, [synth.arrival() for _ in range(10)])
    env.wait_applied(10)
    victim = synth.people[0]
    # A message whose body was corrupted in the store (a bad upgrade, a disk error):
    # the hub cannot know; the prefecture must refuse it permanently.
    assert env.hub is not None
    env.hub.stop()
    db = sqlite3.connect(env.tmp / "jukihub.db")
    with db:
        (nxt,) = db.execute("SELECT next_seq FROM link_state WHERE link='prefecture'").fetchone()
        db.execute("INSERT INTO outbox (link, seq, update_seq, resident_key, kind, payload, "
                   "enqueued_at, state) VALUES ('prefecture', ?, 10, ?, 'identity_update', ?, ?, "
                   "'pending')", (nxt, victim.code, b"<IdentityUpdate>broken", time.time()))
        db.execute("UPDATE link_state SET next_seq=? WHERE link='prefecture'", (nxt + 1,))
    db.close()
    env.start_hub()
    mark = 0  # this hub process's own events, from its first: its links start before
    # its intake serves, so the dead letter may come before hub.ready
    later = []
    move = synth.change("move_within", victim)
    later.append(move)  # held back behind the dead letter
    later += [synth.arrival() for _ in range(5)]  # other residents: delivered
    more = post_all(client, later, batch=100)
    dead = env.hub.wait_event(lambda e: e.get("event") == "link.dead_letter", after=mark)
    assert dead["seq"] == 11 and dead["code"] == "xml_syntax"
    assert "resident_code" not in dead and victim.code not in str(dead)
    env.wait_applied(17)  # 11 withdrawn, 12 (victim) withdrawn, 13–17 applied
    applied = env.applied()
    check_order(applied)
    assert [r["seq"] for r in applied if r["withdrawn"]] == [11, 12]
    assert {r["update_seq"] for r in applied if not r["withdrawn"]} == (
        set(accepted.values()) | set(more.values())) - {more[move["request_id"]]}
    _, refusals = env.control("GET", "/refusals")
    assert refusals == [{"seq": 11, "permanent": True, "code": "xml_syntax"}]
    m = env.metrics()
    assert m['jukihub_link_dead_letters_total{code="xml_syntax",link="prefecture"}'] == 1
    assert m['jukihub_link_held_residents{link="prefecture"}'] == 1


def test_foreign_client_certificate_is_refused(tmp_path: Path, certs_dir: Path,
                                               rogue_certs_dir: Path) -> None:
    mixed = tmp_path / "mixed-certs"
    shutil.copytree(certs_dir, mixed)
    for ext in ("pem", "key"):  # the hub's own certificate, but from another CA
        shutil.copy(rogue_certs_dir / f"hub.{ext}", mixed / f"hub.{ext}")
    e = Env(tmp_path, certs_dir)
    try:
        e.start_mock()
        e.certs_dir = mixed
        e.start_hub()
        e.certs_dir = certs_dir
        mark = 0  # this hub process's events from its first (its links start first)
        post_all(e.client(), [Synth(seed=107).arrival()])
        assert e.hub is not None
        e.hub.wait_event(lambda ev: ev.get("event") == "link.connect_failed", after=mark)
        e.hub.wait_event(lambda ev: ev.get("event") == "link.connect_failed",
                         after=e.hub.mark())  # and again after backing off
        m = e.metrics()
        failures = sum(v for k, v in m.items()
                       if k.startswith("jukihub_link_connect_failures_total"))
        assert failures >= 2
        assert m['jukihub_link_up{link="prefecture"}'] == 0
        assert e.control("GET", "/state")[1]["applied_seq"] == 0
    finally:
        e.stop()


def test_another_links_certificate_is_refused(tmp_path: Path, certs_dir: Path) -> None:
    e = Env(tmp_path, certs_dir)
    try:
        e.mock = None
        from devtools.harness import Proc

        e.mock = Proc(["mock", "prefecture"], e.common() + [
            "mocks.prefecture.port=0", "mocks.prefecture.control_port=0",
            f'mocks.prefecture.db="{tmp_path / "m.db"}"',
            'mocks.prefecture.cert="national"'], "mock")  # the national server's certificate
        ready = e.mock.wait_event(lambda ev: ev.get("event") == "mock.ready")
        e.mock_port, e.control_port = ready["port"], ready["control_port"]
        e.start_hub()
        assert e.hub is not None
        e.hub.wait_event(lambda ev: ev.get("event") == "link.tls_failed")
        e.hub.wait_event(lambda ev: ev.get("event") == "link.connect_failed"
                         and ev.get("stage") == "handshake")
        m = e.metrics()
        assert m['jukihub_link_connect_failures_total{link="prefecture",stage="handshake"}'] >= 1
        assert m['jukihub_link_up{link="prefecture"}'] == 0
    finally:
        e.stop()


def test_intake_refuses_bad_requests_and_foreign_clients(env: Env, rogue_certs_dir: Path) -> None:
    change = Synth(seed=108).arrival()
    op = env.client("operator")
    status, body = op.post("/v1/changes", change)
    assert (status, body["error"]["code"]) == (403, "client_not_allowed")
    client = env.client()
    status, body = client.post("/v1/changes", {**change, "surprise": "山田太郎"})
    assert (status, body["error"]["code"]) == (400, "schema_invalid")
    assert "山田太郎" not in str(body)
    status, body = client.request("POST", "/v1/changes", raw=b"{not json")
    assert (status, body["error"]["code"]) == (400, "invalid_json")
    status, body = client.request("POST", "/v1/changes", raw=b"{}", content_type="text/plain")
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    status, body = client.post("/v1/changes/batch", {"changes": [change] * 1001})
    assert (status, body["error"]["code"], body["error"]["item"]) == (
        400, "batch_too_large", "changes")
    bad = dict(change, resident_code="12345678902")
    status, body = client.post("/v1/changes", bad)
    assert (status, body["error"]["code"], body["error"]["item"]) == (
        400, "invalid_check_digit", "resident_code")
    assert "12345678902" not in str(body)
    english = body["error"]["message"]
    # A caller that asks for Japanese reads the message in Japanese; the code stays.
    status, body = client.request("POST", "/v1/changes", bad,
                                  headers={"Accept-Language": "ja,en;q=0.5"})
    assert (status, body["error"]) == (400, {"code": "invalid_check_digit",
                                             "message": "検査数字が不正です",
                                             "item": "resident_code"})
    assert client.last_headers["content-language"] == "ja"
    status, body = client.request("POST", "/v1/changes", bad,
                                  headers={"Accept-Language": "en-GB"})
    assert body["error"]["message"] == english and "content-language" not in (
        client.last_headers)
    rogue = HttpsClient("127.0.0.1", env.intake_port, rogue_certs_dir, "register")
    with pytest.raises(OSError):  # ssl.SSLError: our CA does not trust the client
        rogue.post("/v1/changes", change)
    status, _ = HttpsClient("127.0.0.1", env.metrics_port, env.certs_dir, "register").get(
        "/metrics")
    assert status == 403
    assert env.control("GET", "/state")[1]["applied_seq"] == 0  # nothing was written
    m = env.metrics()
    assert m['jukihub_intake_changes_refused_total{rule="schema"}'] == 1
    assert m["jukihub_intake_client_refused_total"] == 1


def test_stalled_peer_holds_messages_then_gets_them_all(env: Env) -> None:
    env.control("POST", "/faults", {"stall": True})  # the prefecture stops reading
    accepted = post_all(env.client(), list(Synth(seed=109).stream(30)))
    # Accepted (committed) while the peer reads nothing: nothing can have been applied.
    assert env.control("GET", "/state")[1]["applied_seq"] == 0
    env.control("DELETE", "/faults")
    env.wait_applied(30)
    assert_delivered_exactly(env, accepted)


def test_foreign_residents_are_notified_to_the_ministry_and_only_they(env_with: Any) -> None:
    e = env_with("moj")
    synth = Synth(seed=110)
    changes = [synth.arrival() for _ in range(60)]
    for c in changes[::3]:  # a third of them foreign residents
        r = c["resident"]
        r["resident_type"] = "foreign"
        r["foreign"] = {"nationality": "ベトナム", "article_30_45": "1",
                        "residence_status": "技能実習",
                        "residence_card_number": "AB12345678CD"}
    foreign = [c for c in changes if c["resident"]["resident_type"] == "foreign"]
    follow = []
    for c in foreign[:5]:  # and a later change of five of them
        person = next(p for p in synth.people if p.code == c["resident_code"])
        move = synth.change("move_within", person)
        follow.append(move)
    accepted = post_all(e.client(), changes + follow)
    e.wait_applied(len(accepted))
    _, state = e.other_control("moj", "GET",
                               f"/wait?applied_seq={len(foreign) + len(follow)}")
    assert state["applied_seq"] == len(foreign) + 5 and state["residents"] == len(foreign)
    _, applied = e.other_control("moj", "GET", "/applied")
    assert {r["resident_code"] for r in applied} == {c["resident_code"] for c in foreign}
    assert {r["update_seq"] for r in applied} == {
        accepted[c["request_id"]] for c in foreign + follow}
    _, notice = e.other_control("moj", "GET", f"/notices/{foreign[0]['resident_code']}")
    assert notice["nationality"] == "ベトナム" and notice["reason"] == "move_within"
    m = e.metrics()
    assert m['jukihub_link_delivered_total{link="moj"}'] == len(foreign) + 5
    assert m['jukihub_link_delivered_total{link="prefecture"}'] == len(accepted)


def test_ministry_pushes_land_in_the_inbox_once_and_staff_take_them(env_with: Any) -> None:
    e = env_with("moj")
    notice = {"notice_number": "N-0001", "residence_card_number": "AB12345678CD",
              "change_date": "2026-11-02", "residence_status": "永住者"}
    assert e.other_control("moj", "POST", "/push", {"notice": notice})[1]["seq"] == 1
    e.other_control("moj", "POST", "/push", {"raw": "<ResidenceChangeNotice/>"})
    _, state = e.other_control("moj", "GET", "/wait?pushes_settled=2")
    _, pushes = e.other_control("moj", "GET", "/pushes")
    assert [(p["state"], p["code"]) for p in pushes] == [
        ("acked", None), ("refused", "xsd_invalid")]
    # The hub crashes and comes back: nothing is recorded twice, the next push flows.
    assert e.hub is not None
    e.hub.kill()
    e.start_hub()
    e.other_control("moj", "POST", "/push", {"notice": {**notice, "notice_number": "N-2"}})
    e.other_control("moj", "GET", "/wait?pushes_settled=3")
    staff = e.staff("op001", "window_clerk")
    status, body = staff.get("/v1/inbox?kind=moj.residence_change")
    assert status == 200
    items = body["items"]
    assert [(i["peer_seq"], i["state"]) for i in items] == [
        (1, "new"), (2, "refused"), (3, "new")]
    assert items[0]["document"]["residence_status"] == "永住者"
    assert items[1]["code"] == "xsd_invalid" and "document" not in items[1]
    who: dict[str, str] = {}  # the operator and terminal come from the session
    status, body = staff.post(f"/v1/inbox/{items[0]['id']}/ack", who)
    assert (status, body["state"]) == (200, "acknowledged")
    assert staff.post(f"/v1/inbox/{items[0]['id']}/ack", who)[0] == 409
    assert staff.post("/v1/inbox/999/ack", who)[0] == 404
    assert staff.post(f"/v1/inbox/{items[2]['id']}/ack", {"operator_id": "x y"})[0] == 400
    status, body = staff.get("/v1/inbox?state=new")
    assert [i["peer_seq"] for i in body["items"]] == [3]
    status, _ = HttpsClient("127.0.0.1", e.intake_port, e.certs_dir, "hub").get("/v1/inbox")
    assert status == 403
    # Pushed while the hub is down: queued by the ministry, delivered on reconnect.
    e.hub.stop()
    for n in (3, 4):
        e.other_control("moj", "POST", "/push",
                        {"notice": {**notice, "notice_number": f"N-{n}"}})
    e.start_hub()
    e.other_control("moj", "GET", "/wait?pushes_settled=5")
    _, body = e.staff("op001").get("/v1/inbox?state=new")  # sessions end with the hub
    assert [i["document"]["notice_number"] for i in body["items"]] == ["N-2", "N-3", "N-4"]


def test_copies_reach_the_intermediate_server_in_order(env_with: Any) -> None:
    e = env_with("intermediate")
    changes = list(Synth(seed=111).stream(120))
    client = e.client()
    with_copy: set[int] = set()
    for i in range(0, len(changes), 30):
        _, body = client.post("/v1/changes/batch", {"changes": changes[i : i + 30]})
        for r in body["results"]:
            assert r["status"] == "accepted"
            if "intermediate" in r["links"]:
                with_copy.add(r["update_seq"])
    e.wait_applied(len(changes))
    assert with_copy
    sent = e.sent_on("intermediate")  # the copies and a 符号 request per new atena
    _, state = e.other_control("intermediate", "GET", f"/wait?applied_seq={sent}")
    assert state["applied_seq"] == sent and state["codes"] == state["copies"]
    assert sent == len(with_copy) + state["codes"]
    _, applied = e.other_control("intermediate", "GET", f"/applied?limit={sent}")
    check_order(applied)  # per 団体内統合宛名番号, in 更新順番号 order, none twice
    assert {r["update_seq"] for r in applied} - {None} == with_copy
    atena = next(r["resident_code"] for r in applied if r["resident_code"])
    _, copy = e.other_control("intermediate", "GET", f"/copies/{atena}")
    assert copy["municipality_code"] == "222038"
    _, refusals = e.other_control("intermediate", "GET", "/refusals")
    assert refusals == []


def test_card_events_reach_the_card_system_in_order(env_with: Any) -> None:
    from mock_endpoints.population import individual_number

    e = env_with("card")
    synth = Synth(seed=112)
    adult = synth.arrival()
    adult["resident"]["individual_number"] = individual_number(synth.rng)
    baby = synth.arrival(newborn=True)
    baby["resident"].pop("individual_number", None)
    post_all(e.client(), [adult, baby])
    client = e.client()
    today = dt.date.today().isoformat()
    events = []
    for n, kind in enumerate(["issue", "suspend", "suspend_lift", "return"]):
        ev = {"request_id": f"C-{n}", "operator_id": "op001", "terminal_id": "t01",
              "resident_code": adult["resident_code"], "event": kind, "event_date": today}
        status, body = client.post("/v1/card-events", ev)
        assert status == 201 and body["links"] == ["card"], body
        events.append(body["event_seq"])
    again = client.post("/v1/card-events", {**ev, "request_id": "C-3"})
    assert again == (201, body)  # the first answer again
    refused = client.post("/v1/card-events", {**ev, "request_id": "C-9",
                                               "resident_code": baby["resident_code"]})
    assert (refused[0], refused[1]["error"]["code"]) == (422, "no_individual_number")
    bad = client.post("/v1/card-events", {**ev, "request_id": "C-8", "event": "burn"})
    assert (bad[0], bad[1]["error"]["code"]) == (400, "schema_invalid")
    _, state = e.other_control("card", "GET", "/wait?applied_seq=4")
    assert state["events"] == 4
    _, held = e.other_control("card", "GET", f"/card-events/{adult['resident_code']}")
    assert [h["event"] for h in held] == ["issue", "suspend", "suspend_lift", "return"]
    assert [h["event_seq"] for h in held] == events == sorted(events)


def test_number_generation_round_trip(env_with: Any) -> None:
    from stdnum.jp import in_ as individual_number_std

    e = env_with("national", "intermediate")
    synth = Synth(seed=113)
    babies = [synth.arrival(newborn=True) for _ in range(3)]  # born: no 個人番号 yet
    accepted = post_all(e.client(), babies)
    _, state = e.other_control("national", "GET", "/wait?pushes_settled=3")
    assert state["applied_seq"] == 3 and state["issued"] == 3
    e.wait_applied(6)  # three births, then three designations
    for baby in babies:
        code = baby["resident_code"]
        _, issued = e.other_control("national", "GET", f"/numbers/{code}")
        number = issued["individual_number"]
        assert individual_number_std.is_valid(number)
        _, held = e.control("GET", f"/identities/{code}")
        assert (held["individual_number"], held["reason"]) == (number, "33")  # 個人番号の指定
    _, copies = e.other_control("intermediate", "GET", "/wait?applied_seq=6")
    assert copies["copies"] == 3  # each designated resident now has a copy
    assert copies["codes"] == 3  # and a 符号 request was made for each
    for baby in babies:  # the intermediate server holds the number with the 宛名番号
        code = baby["resident_code"]
        number = e.other_control("national", "GET", f"/numbers/{code}")[1]["individual_number"]
        _, copy = e.other_control("intermediate", "GET", "/copies/"
                                  + _atena_of(e, code))
        assert copy["name"] == baby["resident"]["name_kanji"]
        _, linked = e.other_control("intermediate", "GET", f"/codes/{_atena_of(e, code)}")
        assert linked["individual_number"] == number
    _, pushes = e.other_control("national", "GET", "/pushes")
    assert [p["state"] for p in pushes] == ["acked"] * 3
    # The same notice again changes nothing; another number for her is refused.
    first = babies[0]["resident_code"]
    _, issued = e.other_control("national", "GET", f"/numbers/{first}")
    same = {"request_update_seq": accepted[babies[0]["request_id"]],
            "resident_code": first, "individual_number": issued["individual_number"]}
    e.other_control("national", "POST", "/push", {"generated": same})
    other = {**same, "individual_number": "123456789018"}
    e.other_control("national", "POST", "/push", {"generated": other})
    e.other_control("national", "GET", "/wait?pushes_settled=5")
    _, pushes = e.other_control("national", "GET", "/pushes")
    assert [(p["state"], p["code"]) for p in pushes[3:]] == [
        ("acked", None), ("refused", "request_id_reused")]
    assert e.control("GET", "/state")[1]["applied_seq"] == 6  # nothing new went out
    staff = e.staff("op001")
    _, inbox = staff.get("/v1/inbox?kind=national.number_generated")
    assert [i["state"] for i in inbox["items"]] == ["new"] * 4 + ["refused"]
    # A list shows many people: never their 個人番号.  The register system fetches each.
    assert all("individual_number" not in i["document"] for i in inbox["items"][:4])
    assert issued["individual_number"] not in json.dumps(inbox, ensure_ascii=False)
    register = e.client()
    status, one = register.get(f"/v1/inbox/{inbox['items'][0]['id']}")
    assert status == 200 and one["document"]["resident_code"] == first
    assert one["document"]["individual_number"] == issued["individual_number"]
    assert register.get("/v1/inbox/99999")[0] == 404
    assert HttpsClient("127.0.0.1", e.intake_port, e.certs_dir, "hub").get(
        f"/v1/inbox/{inbox['items'][0]['id']}")[0] == 403


def _atena_of(e: Env, resident_code: str) -> str:
    """The 団体内統合宛名番号 the hub assigned (a read of its store)."""
    [(atena,)] = e.read_store("SELECT integrated_atena FROM residents "
                              "WHERE resident_code = :c", c=resident_code)
    return str(atena)
