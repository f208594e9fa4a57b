"""What operations staff do, against a running hub and a real mock peer: mend dead
letters (replay releases the held resident in order; discard with a reason), follow a
request by its correlation id, readiness, maintenance mode and backpressure, the status
view, and the API document the hub serves."""

from __future__ import annotations

from typing import Any

import yaml

from devtools.harness import Env, check_order
from devtools.synthetic import Synth
from hub.api.openapi import OPENAPI_PATH, Contract


def _move(synth: Synth, person: Any) -> dict[str, Any]:
    return synth.change("move_within", person)


def _post(client: Any, change: dict[str, Any], cid: str | None = None) -> int:
    status, body = client.request("POST", "/v1/changes", change,
                                  headers={"X-Correlation-Id": cid} if cid else None)
    assert status == 201, body
    return int(body["update_seq"])


def _refuse_next(env: Env) -> None:
    env.control("POST", "/faults", {"refuse": {"kind": "permanent", "count": 1,
                                               "code": "rejected_by_peer"}})


def test_a_replayed_dead_letter_releases_the_held_resident_in_order(env: Env) -> None:
    synth, client = Synth(seed=901), env.client()
    for _ in range(5):
        _post(client, synth.arrival())
    env.wait_applied(5)
    victim = synth.people[0]
    ops, clerk = env.staff("ops1", "operator"), env.staff("clerk1", "window_clerk")
    sup = env.staff("sup1", "supervisor")

    _refuse_next(env)
    first = _post(client, _move(synth, victim), cid="dl-victim")       # seq 6: refused
    dead = env.hub.wait_event(lambda e: e.get("event") == "link.dead_letter")
    assert dead["seq"] == 6 and dead["correlation_id"] == "dl-victim"
    second = _post(client, _move(synth, victim))                        # seq 7: held
    others = [_post(client, synth.arrival()) for _ in range(3)]         # 8-10: delivered
    env.wait_applied(10)
    assert [r["seq"] for r in env.applied() if r["withdrawn"]] == [6, 7]

    # The list: keys, codes and ages; no resident's data.  A clerk may not see it.
    status, listed = ops.get("/v1/dead-letters")
    assert status == 200, listed
    (letter,) = listed["dead_letters"]
    assert letter["link"] == "prefecture" and letter["resident_key"] == victim.code
    assert letter["code"] == "rejected_by_peer" and letter["state"] == "open"
    assert letter["age_seconds"] >= 0 and letter["correlation_id"] == "dl-victim"
    assert victim.name_kanji not in str(listed)
    assert clerk.get("/v1/dead-letters")[0] == 403
    assert ops.get(f"/v1/dead-letters/{letter['id']}")[0] == 403  # reading it: a supervisor's
    status, shown = sup.get(f"/v1/dead-letters/{letter['id']}")
    assert status == 200 and shown["message"]["format"] == "xml"
    assert env.metrics()['jukihub_link_dead_letters_open{link="prefecture"}'] == 1

    # Replay (the CLI): the victim's two changes go again, in order, after the others.
    done = env.as_staff("ops1", "deadletters", "replay", str(letter["id"]), "--reason",
                        "peer fixed")
    assert done.returncode == 0, done.stderr
    assert "再送済み (replayed): 2 件を再送しました（通番 11 から）" in done.stdout, done.stdout
    env.wait_applied(12)
    applied = env.applied()
    check_order(applied)
    assert [(r["seq"], r["update_seq"]) for r in applied if not r["withdrawn"]][-5:] == [
        (8, others[0]), (9, others[1]), (10, others[2]), (11, first), (12, second)]
    env.hub.wait_event(lambda e: e.get("event") == "link.delivered"
                       and e.get("correlation_id") == "dl-victim" and e.get("seq") == 11)
    assert ops.post(f"/v1/dead-letters/{letter['id']}/replay", {})[1]["error"]["code"] == (
        "already_resolved")

    rows = env.read_store("SELECT id, state, resolved_by, resolution, resent_from, "
                          "resent_count FROM dead_letters")
    assert rows == [(letter["id"], "replayed", "ops1", "peer fixed", 11, 2)]
    logged = env.read_store("SELECT operator_id, action, request_id, result FROM audit_log "
                            "WHERE action LIKE 'deadletters.%' ORDER BY id")
    assert logged == [("ops1", "deadletters.list", None, "ok"),
                      ("clerk1", "deadletters.list", None, "not_permitted"),
                      ("ops1", "deadletters.read", None, "not_permitted"),
                      ("sup1", "deadletters.read", str(letter["id"]), "ok"),
                      ("ops1", "deadletters.replay", str(letter["id"]), "ok")]
    m = env.metrics()
    assert m['jukihub_link_dead_letters_open{link="prefecture"}'] == 0
    assert m['jukihub_link_held_residents{link="prefecture"}'] == 0


def test_a_discarded_dead_letter_releases_what_it_held(env_with: Any) -> None:
    """On the card link, whose peer takes a resident's later event without the earlier
    one (a prefecture update names its predecessor, so there a discard only makes sense
    for the last)."""
    from mock_endpoints.population import individual_number

    env = env_with("card")
    synth, client = Synth(seed=905), env.client()
    adult = synth.arrival()
    adult["resident"]["individual_number"] = individual_number(synth.rng)
    _post(client, adult)
    ops = env.staff("ops4", "operator")
    env.other_control("card", "POST", "/faults", {"refuse": {"kind": "permanent", "count": 1,
                                                             "code": "rejected_by_peer"}})
    today = synth.today.isoformat()
    for n, kind in enumerate(["issue", "suspend"]):
        status, body = client.post("/v1/card-events", {
            "request_id": f"D-{n}", "operator_id": "op001", "terminal_id": "t01",
            "resident_code": adult["resident_code"], "event": kind, "event_date": today})
        assert status == 201, body
    env.other_control("card", "GET", "/wait?applied_seq=2")  # 1 refused, 2 held: withdrawn
    _, held = env.other_control("card", "GET", f"/card-events/{adult['resident_code']}")
    assert held == []
    status, listed = ops.get("/v1/dead-letters?link=card")
    (letter,) = listed["dead_letters"]
    assert ops.post(f"/v1/dead-letters/{letter['id']}/discard", {})[0] == 400  # why?
    status, discarded = ops.post(f"/v1/dead-letters/{letter['id']}/discard",
                                 {"reason": "issued again by hand"})
    assert status == 200, discarded
    assert discarded == {"id": letter["id"], "link": "card", "state": "discarded",
                         "resent": 1, "resent_from": 3, "still_held": False}
    env.other_control("card", "GET", "/wait?applied_seq=3")
    _, held = env.other_control("card", "GET", f"/card-events/{adult['resident_code']}")
    assert [h["event"] for h in held] == ["suspend"]  # the held one went; never the dead
    assert env.read_store("SELECT seq, state FROM outbox WHERE link = 'card' ORDER BY seq") == [
        (1, "discarded"), (2, "released"), (3, "pending")]
    assert env.read_store("SELECT state, resolved_by, resolution FROM dead_letters") == [
        ("discarded", "ops4", "issued again by hand")]
    assert env.read_store("SELECT operator_id, action, request_id, count FROM audit_log "
                          "WHERE action LIKE 'deadletters.%' ORDER BY id") == [
        ("ops4", "deadletters.list", None, 1),
        ("ops4", "deadletters.discard", str(letter["id"]), 1)]


def test_one_correlation_id_ties_a_request_to_its_messages_and_acknowledgements(
        env_with: Any) -> None:
    env = env_with("intermediate")  # a change goes to two links
    synth, client = Synth(seed=902), env.client()
    status, body = client.request("POST", "/v1/changes/batch",
                                  {"changes": [synth.arrival(), synth.arrival()]},
                                  headers={"X-Correlation-Id": "batch-42"})
    assert status == 200 and client.last_headers["x-correlation-id"] == "batch-42"
    committed = [env.hub.wait_event(lambda e, u=r["update_seq"]: e.get("event") ==
                                    "register.committed" and e.get("update_seq") == u
                                    and e.get("correlation_id") == "batch-42")
                 for r in body["results"]]
    messages = {m for c in committed for m in c["messages"]}
    assert {m.split(":")[0] for m in messages} == {"prefecture", "intermediate"}
    for message in messages:
        link, seq = message.split(":")
        env.hub.wait_event(lambda e, link=link, seq=seq: e.get("event") == "link.delivered"
                           and e.get("link") == link and str(e.get("seq")) == seq
                           and e.get("correlation_id") == "batch-42")
    answered = env.hub.wait_event(lambda e: e.get("event") == "intake.answered"
                                  and e.get("correlation_id") == "batch-42")
    assert answered["status"] == 200
    # A value that is not a plain token is replaced, never echoed.
    status, _ = client.request("POST", "/v1/changes", synth.arrival(),
                               headers={"X-Correlation-Id": "<script>"})
    assert status == 201 and len(client.last_headers["x-correlation-id"]) == 32


def test_readiness_maintenance_drain_and_backpressure(env_with: Any) -> None:
    env = env_with(hub_extra=["operations.outbox_limit=3"])
    synth, client, monitor = Synth(seed=903), env.client(), env.client("monitor")
    status, ready = monitor.get("/readyz")
    assert status == 200 and ready["ready"], ready
    assert set(ready["checks"]) == {"store", "store_space", "store_writer", "certificates",
                                    "intake"}
    assert ready["links"]["prefecture"]["state"] == "ready"
    env.staff("ops2", "operator")

    # Maintenance on while a message waits: nothing is taken, the link drains.
    env.control("POST", "/faults", {"stall": True})
    waiting = _post(client, synth.arrival())
    on = env.as_staff("ops2", "maintenance", "on", "--reason", "upgrade")
    assert on.returncode == 0, on.stderr
    before = env.read_store("SELECT count(*) FROM identity_records")
    status, refused = client.post("/v1/changes", synth.arrival())
    assert status == 503 and refused["error"]["code"] == "maintenance"
    assert "upgrade" in refused["error"]["message"]
    assert client.last_headers["retry-after"] == "30"
    status, _ = client.post("/v1/changes/batch", {"changes": [synth.arrival()]})
    assert status == 503
    assert env.read_store("SELECT count(*) FROM identity_records") == before
    status, ready = monitor.get("/readyz")
    assert status == 503 and not ready["checks"]["intake"]["ok"]
    assert "maintenance" in ready["checks"]["intake"]["detail"]
    # It is kept in the store: a hub started again is still in maintenance.
    env.hub.stop()
    env.start_hub()
    client = env.client()
    assert client.post("/v1/changes", synth.arrival())[0] == 503
    status, ready = env.client("monitor").get("/readyz")
    assert status == 503 and "upgrade" in ready["checks"]["intake"]["detail"]
    env.control("DELETE", "/faults")
    env.control("POST", "/faults", {"stall": False})
    state = env.wait_applied(1)
    assert state["applied_seq"] == 1  # drained while in maintenance
    assert [r["update_seq"] for r in env.applied()] == [waiting]
    mark = env.hub.mark()
    off = env.as_staff("ops2", "maintenance", "off")
    assert off.returncode == 0, off.stderr
    # The gate opens on its next tick: waited for, so its event is not taken below for
    # the backpressure's reopening.
    env.hub.wait_event(lambda e: e.get("event") == "intake.open", after=mark)
    mark = env.hub.mark()
    _post(client, synth.arrival())
    logged = env.read_store("SELECT operator_id, action FROM audit_log WHERE action LIKE "
                            "'maintenance.%' ORDER BY id")
    assert logged == [("ops2", "maintenance.on"), ("ops2", "maintenance.off")]
    # Delivered before the peer stalls, so the outbox below holds exactly what follows.
    env.hub.wait_event(lambda e: e.get("event") == "link.delivered" and e.get("seq") == 2,
                       after=mark)

    # Backpressure: the peer stalls, the outbox passes its limit, the intake says why.
    env.control("POST", "/faults", {"stall": True})
    mark = env.hub.mark()
    for _ in range(4):
        _post(client, synth.arrival())
    env.hub.wait_event(lambda e: e.get("event") == "intake.closed"
                       and e.get("code") == "backpressure", after=mark)
    mark = env.hub.mark()  # what opens the intake again is after this
    status, refused = client.post("/v1/changes", synth.arrival())
    assert status == 503 and refused["error"]["code"] == "backpressure"
    assert "prefecture outbox holds 4 messages" in refused["error"]["message"]
    assert client.last_headers["retry-after"] == "30"
    env.control("POST", "/faults", {"stall": False})
    env.hub.wait_event(lambda e: e.get("event") == "intake.open", after=mark)
    _post(client, synth.arrival())


def test_the_status_view_shows_links_dead_letters_and_jobs(env: Env) -> None:
    env.staff("ops3", "operator")
    client, synth = env.client(), Synth(seed=904)
    _refuse_next(env)
    _post(client, synth.arrival())
    env.hub.wait_event(lambda e: e.get("event") == "link.dead_letter")
    shown = env.as_staff("ops3", "status")  # in Japanese, the codes beside the names
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "受付 受付中" in out, out
    (row,) = [line for line in out.splitlines() if line.startswith("│ 都道府県サーバ")]
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:2] == ["都道府県サーバ (prefecture)", "接続済み (ready)"], cells
    assert cells[7:9] == ["1", "1"]  # held, dead
    assert "認証局 (ca)" in out and "長時間処理" in out and "証明書" in out
    english = env.as_staff("ops3", "status", "--lang", "en").stdout
    assert "Intake open" in english and "Long jobs" in english, english
    assert any(line.startswith("│ Prefectural server (prefecture)")
               for line in english.splitlines())
    listed = env.as_staff("ops3", "deadletters", "list")
    assert listed.returncode == 1 and "rejected_by_peer" in listed.stdout  # 1: some open


def test_the_served_api_document_is_the_one_enforced(env: Env) -> None:
    monitor = env.client("monitor")
    status, text = monitor.get("/openapi.yaml")
    assert status == 200 and text.encode() == OPENAPI_PATH.read_bytes()
    assert yaml.safe_load(text) == Contract().document
    status, page = monitor.get("/docs/")
    assert status == 200 and '<script src="/docs/redoc.standalone.js">' in page
    status, bundle = monitor.get("/docs/redoc.standalone.js")
    assert status == 200 and len(bundle) > 100_000 and "Redoc" in bundle[:2000]
    assert env.client("register").get("/openapi.yaml")[0] == 200
    assert env.client("hub").get("/openapi.yaml")[0] == 403  # no account has it
    assert "cdn" not in page.lower() and "googleapis" not in page

