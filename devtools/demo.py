"""``jukihub demo``: every link on loopback, in one process, with a summary.

Makes dev certificates if missing, starts the five mock endpoints and the hub on free
loopback ports (a fresh store under ``<data_dir>/demo``), and then, as the register
system and staff would:

1. posts a few hundred synthetic changes through the intake API — singly, in batches,
   once repeated, and a handful that the checks must refuse — and card events; births
   and arrivals from abroad go to J-LIS for a 個人番号 and come back designated, arrivals
   from another city keep theirs from the 転出証明書情報 J-LIS holds; one card holder
   moves to Tokyo (特例転出: the certificate goes to J-LIS for the destination);
2. when every link is quiet: the destination's 転入通知, which confirms the 特例転出
   (転出確定, in the inbox), an identity query at the national server, a
   send-destination batch for everyone needing a number notice, a ministry notice and
   a moving-out certificate pushed into the inbox, a manual-answer request of the
   intermediate server approved by staff, and a consistency check with the prefectural
   and national servers (one difference planted in J-LIS's copy, to be found);
3. prints, per link, what was delivered, refused and received, and where ``/metrics``
   is.  The result line says OK only if every count adds up.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pykka

from actors.messages import GetStatus
from certs.devca import init_certs
from devtools.control import control
from devtools.harness import known_elsewhere, seed_national
from devtools.synthetic import Synth
from hub.commands.admin import add_account
from hub.config import load_config
from hub.store import Store
from hub.store.engine import make_engine, migrate
from hub.support.client import HttpsClient

STAFF = {"operator_id": "demo01", "terminal_id": "t01"}  # the register system's own clerk
# Staff accounts the demo makes (one per person): a supervisor, who does the tour, and
# a window clerk, who may not start a bulk output.
DEMO_STAFF = {"demo-supervisor": ("supervisor",), "demo-clerk": ("window_clerk",)}


def _drive(host: str, port: int, certs_dir: Path, n: int,
           controls: dict[str, int]) -> dict[str, Any]:
    """Post the demo's changes (runs in a worker thread; blocking HTTP is fine there)."""
    client = HttpsClient(host, port, certs_dir, "register")
    synth = Synth()
    changes = list(synth.stream(n))
    # A household of four arrives together (its notices go to its 世帯主 as one).
    family = synth.household("世帯主", "妻", "子", "子", numbered=True)
    # J-LIS knows where each arrival from another city came from: each 転入 finds the
    # former city's 転出証明書情報 (and keeps the 個人番号 from it).
    known_elsewhere(controls["national"], synth)
    accepted = 0
    refused: Counter[str] = Counter()
    started = time.perf_counter()
    singles, batched = changes[: n // 3], changes[n // 3 :]
    for change in singles:
        status, body = client.post("/v1/changes", change)
        if status == 201:
            accepted += 1
        else:
            refused[body["error"]["code"]] += 1
    for i in range(0, len(batched), 50):
        _, body = client.post("/v1/changes/batch", {"changes": batched[i : i + 50]})
        for r in body["results"]:
            if r["status"] == "accepted":
                accepted += 1
            else:
                refused[r["error"]["code"]] += 1
    elapsed = time.perf_counter() - started
    for a in family:
        status, _ = client.post("/v1/changes", a)
        accepted += status == 201
    holders = [p for p in synth.people if p.number and not p.removed][:5]
    cards = 0
    for k, person in enumerate(holders):  # their 個人番号カード is issued
        status, body = client.post("/v1/card-events", {
            "request_id": f"CARD-{k}", **STAFF, "resident_code": person.code,
            "event": "issue", "event_date": synth.today.isoformat()})
        cards += status == 201
    # One of them moves to Tokyo with the card: a 特例転出 (its 転出証明書情報 goes to
    # J-LIS for the destination; the 転入通知 comes back in the tour).
    leaving = holders[0]
    status, moved = client.post("/v1/changes", synth.change("move_out", leaving, moving_out={
        "planned_date": synth.today.isoformat(), "municipality_code": "131016",
        "address": "東京都千代田区丸の内１丁目１番", "special": True}))
    special = {"code": leaving.code, "status": status, "update_seq": moved.get("update_seq"),
               "links": moved.get("links", [])}
    status, first = client.post("/v1/changes", singles[0])
    repeat_same = status == 201 and first["update_seq"] == 1
    expected: Counter[str] = Counter()
    for code, bad in synth.invalid():
        expected[code] += 1
        status, body = client.post("/v1/changes", bad)
        if status >= 400:
            refused[body["error"]["code"]] += 1
        else:
            accepted += 1
    client.close()
    living = next(p for p in synth.people if not p.removed and p.number)
    return {"accepted": accepted, "refused": refused, "expected_refusals": expected,
            "cards": cards, "repeat_same": repeat_same, "elapsed": elapsed, "posted": n,
            "someone": living, "special_move_out": special,
            "household": [a["resident_code"] for a in family]}


def _staff_tour(host: str, port: int, certs_dir: Path, controls: dict[str, int],
                someone: Any, special_move_out: dict[str, Any], household: list[str],
                password: str) -> dict[str, Any]:
    """What staff and the outside systems do next (a worker thread, blocking HTTP)."""
    out: dict[str, Any] = {}
    clerk = HttpsClient(host, port, certs_dir, "operator")
    out["login"] = clerk.log_in("demo-clerk", password)[0]
    out["clerk_batch"] = clerk.post("/v1/send-destination-batches",
                                    {"needing_notice": True})[0]
    clerk.close()
    staff = HttpsClient(host, port, certs_dir, "operator")  # a staff terminal
    staff.log_in("demo-supervisor", password)

    def mock(name: str, method: str, path: str, body: Any = None) -> Any:
        status, answer = control("127.0.0.1", controls[name], method, path, body)
        if status >= 400:
            raise RuntimeError(f"mock {name} {method} {path}: {status}")
        return answer

    # The 特例転出's destination records the 転入: its 転入通知 confirms the 転出.
    leaving = special_move_out["code"]
    notice = mock("national", "POST", f"/moved-in/{leaving}", {})
    pushed = len(mock("national", "GET", "/pushes"))
    mock("national", "GET", f"/wait?pushes_settled={pushed}&timeout=30")
    _, transfers = staff.get("/v1/inbox?kind=national.transfer_in")
    out["transfer_in"] = next((i.get("result", {}) for i in transfers["items"]
                               if i.get("document", {}).get("resident_code") == leaving), {})
    out["transfer_in"]["to"] = notice["municipality_code"]
    # J-LIS holds what the prefectural server holds (plus the rest of the country).
    out["seeded"] = seed_national(controls["prefecture"], controls["national"])
    # An identity query by the four items (name in kana + birth date).
    status, body = staff.post("/v1/queries/identity", {
        "name_kana": someone.name_kana, "birth_date": someone.birth.isoformat()})
    out["query"] = (status, body.get("status"), body.get("count"))
    status, body = staff.post("/v1/queries/identity", {"name_kana": someone.name_kana})
    out["query_too_broad"] = body.get("error", {}).get("code")
    # Send-destination data for everyone whose number notice has not gone out.
    status, batch = staff.post("/v1/send-destination-batches", {"needing_notice": True})
    status, shown = staff.get(f"/v1/send-destination-batches/{batch['batch_id']}?wait=30")
    out["batch"] = shown
    # The household's four notices: one destination, to its 世帯主.
    held = mock("card", "GET", f"/send-batches/{batch['batch_id']}?limit=1000000")
    family = [i for i in held["items"] if i["resident_code"] in household]
    out["household"] = {
        "members": len(family),
        "numbers": sorted({i["management_number"] for i in family}),
        "persons": sorted({i["persons"] for i in family}),
        "to_head": all(i["dest_name"] == family[0]["dest_name"] for i in family)
        and any(i["name"] == i["dest_name"] for i in family)}
    # The ministry and J-LIS push; the intermediate server asks for a manual answer.
    mock("moj", "POST", "/push", {"notice": {
        "notice_number": "N-DEMO-1", "residence_card_number": "AB12345678CD",
        "change_date": time.strftime("%Y-%m-%d"), "residence_status": "永住者"}})
    mock("national", "POST", "/push", {"moving_out": {
        "certificate_number": "T-DEMO-1", "from_municipality_code": "131016",
        "resident_code": "12345678901", "name_kanji": "転入　予定", "name_kana": "テンニュウ　ヨテイ",
        "birth_date": "1990-01-01", "sex": "1", "former_address": "東京都千代田区千代田１番",
        "planned_address": "静岡県沼津市御幸町１番", "moving_out_date": time.strftime("%Y-%m-%d")}})
    _, inbox = staff.get("/v1/inbox?kind=intermediate.code_issued&limit=1")
    atena = inbox["items"][0]["document"]["integrated_atena"] if inbox["items"] else None
    if atena:
        mock("intermediate", "POST", "/push", {"manual_answer_request": {
            "request_number": "REQ-DEMO-1", "integrated_atena": atena, "requester": "INST-1",
            "procedure": "別表第二 16", "item": "住民票関係情報",
            "items": ["name", "address", "birth_date"],
            "requested_at": time.strftime("%Y-%m-%dT%H:%M:%S")}})
    for name in ("moj", "national", "intermediate"):  # until the hub has recorded them
        pushed = len(mock(name, "GET", "/pushes"))
        mock(name, "GET", f"/wait?pushes_settled={pushed}&timeout=30")
    _, pending = staff.get("/v1/inbox?kind=intermediate.manual_answer_request&state=new")
    for item in pending["items"]:  # staff approve two of the three items asked
        status, body = staff.post(f"/v1/manual-answers/{item['id']}",
                                  {"decision": "approve", "items": ["name", "address"]})
        out["manual_answer"] = status
        out["manual_answer_items"] = body.get("items", [])
    _, inbox = staff.get("/v1/inbox?limit=1000")
    out["inbox"] = Counter((i["kind"], i["state"]) for i in inbox["items"])
    # A consistency check, with one difference planted in J-LIS's copy.
    mock("national", "PATCH", f"/persons/{someone.code}", {"address": "どこか"})
    status, body = staff.post("/v1/consistency-checks", {})
    checks = {}
    for c in body["checks"]:
        _, shown = staff.get(f"/v1/consistency-checks/{c['check_id']}?wait=30")
        checks[c["link"]] = shown
    out["checks"] = checks
    staff.delete("/v1/sessions/current")
    staff.close()
    return out


def run_demo(config_path: Path, overrides: list[str], n: int) -> int:
    from twisted.internet import reactor as _reactor

    from hub.support.logs import setup_logging

    reactor: Any = _reactor  # the installed reactor (typed as a module by Twisted)
    base = load_config(config_path, overrides)
    demo_dir = base.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    made = init_certs(base.certs_dir, base.parties)
    if made:
        print(f"made dev certificates in {base.certs_dir}: {', '.join(made)}")
    setup_logging("warning", stream=sys.stderr)
    logging.getLogger("jukihub.lifecycle").setLevel(logging.WARNING)  # the demo prints its own
    demo = _Demo(reactor, config_path, overrides, demo_dir, n)
    reactor.callWhenRunning(demo.main)
    reactor.run()
    pykka.ActorRegistry.stop_all()  # after a signal, too: actor threads must not linger
    return demo.rc


class _Demo:
    """The demo's steps, one after the other on the reactor (blocking HTTP in threads)."""

    def __init__(self, reactor: Any, config_path: Path, overrides: list[str], demo_dir: Path,
                 n: int) -> None:
        self.reactor, self.config_path, self.overrides = reactor, config_path, overrides
        self.demo_dir, self.n = demo_dir, n
        self.rc = 1
        self.state: dict[str, Any] = {}

    def main(self) -> Any:
        from twisted.internet import threads

        from hub.app import Hub
        from mock_endpoints import MOCKS
        from mock_endpoints.serve import listen

        base = load_config(self.config_path, self.overrides)
        # Every mock endpoint, on free loopback ports, with its own store.
        self.mocks = {name: cls(base.municipality_code, self.demo_dir / f"mock-{name}.db",
                                base.parties["hub"], options={"seed_others": 2000})
                      for name, cls in MOCKS.items()}
        self.listeners = {name: listen(m, self.reactor, base.certs_dir, name, "127.0.0.1", 0, 0)
                          for name, m in self.mocks.items()}
        self.controls = {name: pair[1].getHost().port for name, pair in self.listeners.items()}
        self.cfg = load_config(self.config_path, [
            *self.overrides, f'store.url="sqlite:///{self.demo_dir / "jukihub.db"}"',
            "intake.port=0", "metrics.port=0",
            'logging.level="warning"',  # the intake's processes too: the demo prints its own
            *(f"links.{name}.port={tls_port.getHost().port}"
              for name, (tls_port, _) in self.listeners.items())])
        self.password = secrets.token_urlsafe(18)  # this run's, never printed
        migrate(self.cfg.store_url)
        store = Store(make_engine(self.cfg.store_url))
        for user_id, roles in DEMO_STAFF.items():
            add_account(store, self.cfg, user_id, self.password, roles)
        store.dispose()
        self.hub = Hub(self.cfg, self.reactor)
        self.ports = self.hub.start()
        print(f"hub on https://127.0.0.1:{self.ports.intake} (intake); mocks' control APIs on "
              + ", ".join(f"{k} http://127.0.0.1:{v}" for k, v in self.controls.items()))
        d = threads.deferToThread(_drive, "127.0.0.1", self.ports.intake, self.cfg.certs_dir,
                                  self.n, self.controls)
        d.addCallback(self.tour).addCallback(self.scrape).addCallback(self.report)
        d.addErrback(self.failed).addBoth(self.shutdown)
        return d

    def quiet(self) -> Any:
        """Fires once every link has its whole outbox acknowledged and no peer has a
        push waiting (checked every 0.2 s: the demo's own pacing, not a test's)."""
        from twisted.internet import task, threads

        def check(_: Any = None) -> Any:
            # The mocks' stores are the reactor thread's; the actors are asked from a
            # worker thread, never blocking the reactor.
            pending = sum(1 for m in self.mocks.values() for _ in m.pushes_after(0))

            def decide(statuses: list[dict[str, Any]]) -> Any:
                busy = [s for s in statuses
                        if s["acked"] < s["known_upto"] or s["state"] != "ready"]
                if not busy and not pending:
                    return None
                return task.deferLater(self.reactor, 0.2, lambda: None).addCallback(check)
            return threads.deferToThread(_statuses, self.hub).addCallback(decide)
        return check().addTimeout(120, self.reactor)

    def tour(self, summary: dict[str, Any]) -> Any:
        from twisted.internet import threads

        self.state["summary"] = summary
        return self.quiet().addCallback(lambda _: threads.deferToThread(
            _staff_tour, "127.0.0.1", self.ports.intake, self.cfg.certs_dir, self.controls,
            summary["someone"], summary["special_move_out"], summary["household"],
            self.password))

    def scrape(self, staff: dict[str, Any]) -> Any:
        from twisted.internet import threads

        self.state["staff"] = staff

        def get() -> tuple[str, dict[str, dict[str, Any]]]:
            c = HttpsClient("127.0.0.1", self.ports.metrics, self.cfg.certs_dir, "monitor")
            try:
                text = c.get("/metrics")[1]
            finally:
                c.close()
            return text, {s["link"]: s for s in _statuses(self.hub)}
        return self.quiet().addCallback(lambda _: threads.deferToThread(get))

    def report(self, scraped: tuple[str, dict[str, dict[str, Any]]]) -> None:
        self.rc = _report(self.state["summary"], self.state["staff"], *scraped, self.mocks,
                          self.ports, self.cfg.certs_dir)

    @staticmethod
    def failed(f: Any) -> None:
        print(f"demo failed: {f.getErrorMessage()}", file=sys.stderr)

    def shutdown(self, _: Any) -> Any:
        from twisted.internet import defer

        d2 = self.hub.stop()
        ports = [p for pair in self.listeners.values() for p in pair]
        d2.addBoth(lambda _: defer.gatherResults([p.stopListening() for p in ports]))
        d2.addBoth(lambda _: self.reactor.stop())
        return d2


def _statuses(hub: Any) -> list[dict[str, Any]]:
    """Every link actor's status (a worker thread: ``ask`` blocks)."""
    return [a.ask(GetStatus()) for a in list(hub.links.values())]


def _report(summary: dict[str, Any], staff: dict[str, Any], text: str,
            statuses: dict[str, dict[str, Any]], mocks: dict[str, Any], ports: Any,
            certs_dir: Path) -> int:
    def metric(name: str, **labels: str) -> float:
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                if all(f'{k}="{v}"' in line for k, v in labels.items()):
                    total += float(line.rsplit(" ", 1)[1])
        return total

    print()
    print("jukihub demo — register → hub → prefecture, national, card, intermediate, "
          "ministry (mocks)")
    print(f"  changes posted       {summary['posted']} valid + "
          f"{sum(summary['expected_refusals'].values())} invalid, "
          f"{summary['posted'] / summary['elapsed']:.0f} changes/s over mTLS; accepted "
          f"{summary['accepted']}, refused {sum(summary['refused'].values())} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(summary['refused'].items()))})")
    repeat = "first answer returned" if summary["repeat_same"] else "WRONG ANSWER"
    print(f"  repeated request id  {repeat}")
    nat = mocks["national"]
    print(f"  number generation    {nat.describe()['issued']} 個人番号 generated by J-LIS for "
          f"newborns and arrivals from abroad; the register took them (inbox: "
          f"{staff['inbox'].get(('national.number_generated', 'new'), 0)} designated, "
          f"{staff['inbox'].get(('national.number_generated', 'refused'), 0)} refused: "
          "the resident had left)")
    q = staff["query"]
    print(f"  identity query       name (kana) + birth date → {q[0]} {q[1]} ({q[2]} match); "
          f"name alone → {staff['query_too_broad']}")
    b = staff["batch"]
    print(f"  send destinations    batch {b['batch_id']}: {b['total']} residents needing a "
          f"number notice, {b['chunks']} chunk(s), {b['state']}")
    h = staff["household"]
    print(f"  household notice     a 世帯 of {h['members']} → {len(h['numbers'])} destination "
          f"(送付先管理番号 {', '.join(h['numbers'])}), 対象となる人数 "
          f"{'/'.join(map(str, h['persons']))}, "
          f"{'to its 世帯主' if h['to_head'] else 'NOT to its 世帯主'}")
    inbox = staff["inbox"]
    print("  inbox                " + ", ".join(
        f"{kind} {st} {n}" for (kind, st), n in sorted(inbox.items())))
    print(f"  staff                logged in from a staff terminal → {staff['login']}; a "
          f"window clerk starting a bulk output → {staff['clerk_batch']}")
    print(f"  manual answer        approved by staff → {staff.get('manual_answer', 'none')} "
          f"({', '.join(staff.get('manual_answer_items', []))} sent of the three asked)")
    sm, ti = summary["special_move_out"], staff["transfer_in"]
    print(f"  特例転出              転出 {sm['status']} (更新順番号 {sm['update_seq']}) → "
          f"転出証明書情報 to J-LIS ({', '.join(sm['links'])}) → 転入通知 from "
          f"{ti.get('to')} → {ti.get('move_out')} {ti.get('confirmed_date')}")
    for link, c in sorted(staff["checks"].items()):
        print(f"  consistency check    {link}: sent {c['sent']}, compared {c['compared']}, "
              f"held {c['held']} → {c['difference_count']} difference(s) "
              + " ".join(f"[{d['kind']} {d.get('items', '')}]" for d in c.get("differences", [])))
    print(f"  {'link':<13}{'messages':>10}{'delivered':>11}{'dead':>6}{'received':>10}"
          f"{'refused':>9}")
    h = staff["household"]
    ok = (summary["repeat_same"] and summary["refused"] == summary["expected_refusals"]
          and h["members"] == 4 and len(h["numbers"]) == 1 and h["persons"] == [4]
          and h["to_head"])
    for name, st in sorted(statuses.items()):
        delivered = metric("jukihub_link_delivered_total", link=name)
        dead = metric("jukihub_link_dead_letters_total", link=name)
        received = metric("jukihub_link_inbound_total", link=name)
        refused = metric("jukihub_link_inbound_refused_total", link=name)
        print(f"  {name:<13}{st['known_upto']:>10}{delivered:>11.0f}{dead:>6.0f}"
              f"{received:>10.0f}{refused:>9.0f}")
        ok = ok and delivered + dead == st["known_upto"] == mocks[name].applied and dead == 0
    checks = staff["checks"]
    ok = ok and (checks["prefecture"]["difference_count"], checks["national"][
        "difference_count"]) == (0, 1) and staff["query"][1] == "found"
    ok = ok and b["state"] == "delivered" and staff.get("manual_answer") == 200
    ok = ok and staff["login"] == 201 and staff["clerk_batch"] == 403
    ok = ok and sm["status"] == 201 and "national" in sm["links"] and (
        ti.get("move_out"), ti.get("move_out_update_seq")) == ("confirmed", sm["update_seq"])
    print(f"  metrics              https://127.0.0.1:{ports.metrics}/metrics (client "
          f"certificate {certs_dir}/monitor.pem); e.g.")
    print(f"    curl --cacert {certs_dir}/ca.pem --cert {certs_dir}/monitor.pem "
          f"--key {certs_dir}/monitor.key https://127.0.0.1:{ports.metrics}/metrics")
    print(f"  result               {'OK' if ok else 'UNEXPECTED — see above'}")
    return 0 if ok else 1
