"""``jukihub demo``: the whole first path on loopback, in one process, with a summary.

Makes dev certificates if missing, starts the mock prefectural server and the hub on
free loopback ports (a fresh store under ``<data_dir>/demo``), posts a few hundred
synthetic changes through the intake API — singly, in batches, once repeated, and a
handful that the checks must refuse — waits until the mock has applied every message,
then prints what happened and where ``/metrics`` is.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pykka

from certs.devca import init_certs
from hub.client import HttpsClient
from hub.config import load_config
from hub.synthetic import Synth


def _drive(host: str, port: int, certs_dir: Path, n: int) -> dict[str, Any]:
    """Post the demo's changes (runs in a worker thread; blocking HTTP is fine there)."""
    client = HttpsClient(host, port, certs_dir, "register")
    synth = Synth()
    changes = list(synth.stream(n))
    accepted = 0
    per_link: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    started = time.perf_counter()
    singles, batched = changes[: n // 3], changes[n // 3 :]
    for change in singles:
        status, body = client.post("/v1/changes", change)
        if status == 201:
            accepted += 1
            per_link.update(body["links"])
        else:
            refused[body["error"]["code"]] += 1
    for i in range(0, len(batched), 50):
        _, body = client.post("/v1/changes/batch", {"changes": batched[i : i + 50]})
        for r in body["results"]:
            if r["status"] == "accepted":
                accepted += 1
                per_link.update(r["links"])
            else:
                refused[r["error"]["code"]] += 1
    elapsed = time.perf_counter() - started
    holders = [p for p in synth.people if p.number and not p.removed][:5]
    for n, person in enumerate(holders):  # their 個人番号カード is issued
        status, body = client.post("/v1/card-events", {
            "request_id": f"CARD-{n}", "operator_id": "op001", "terminal_id": "t01",
            "resident_code": person.code, "event": "issue",
            "event_date": synth.today.isoformat()})
        if status == 201:
            per_link.update(body["links"])
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
    return {"accepted": accepted, "per_link": per_link, "refused": refused,
            "expected_refusals": expected,
            "repeat_same": repeat_same, "elapsed": elapsed, "posted": n}


def run_demo(config_path: Path, overrides: list[str], n: int) -> int:
    from twisted.internet import defer, reactor, threads

    from hub.app import Hub
    from hub.logs import setup_logging
    from mock_endpoints import MOCKS

    base = load_config(config_path, overrides)
    demo_dir = base.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    made = init_certs(base.certs_dir, base.parties)
    if made:
        print(f"made dev certificates in {base.certs_dir}: {', '.join(made)}")
    setup_logging("warning", stream=sys.stderr)
    logging.getLogger("jukihub.lifecycle").setLevel(logging.WARNING)  # the demo prints its own
    result: dict[str, Any] = {"rc": 1}

    def main() -> Any:
        # Every mock endpoint, on free loopback ports, with its own store.
        mocks = {name: cls(base.municipality_code, demo_dir / f"mock-{name}.db",
                           base.parties["hub"]) for name, cls in MOCKS.items()}
        listeners = {name: m.listen(reactor, base.certs_dir, name, "127.0.0.1", 0, 0)
                     for name, m in mocks.items()}
        mock, moj, mid, card, nat = (mocks[k] for k in
                                     ("prefecture", "moj", "intermediate", "card", "national"))
        tls, control = listeners["prefecture"]
        cfg = load_config(config_path, [
            *overrides, f'store.url="sqlite:///{demo_dir / "jukihub.db"}"',
            "intake.port=0", "metrics.port=0",
            *(f"links.{name}.port={tls_port.getHost().port}"
              for name, (tls_port, _) in listeners.items())])
        hub = Hub(cfg, reactor)
        ports = hub.start()
        print(f"hub on https://127.0.0.1:{ports.intake} (intake), mock prefecture on "
              f"{tls.getHost().port} (TLS) and http://127.0.0.1:{control.getHost().port} "
              f"(control)")
        d = threads.deferToThread(_drive, "127.0.0.1", ports.intake, cfg.certs_dir, n)

        def wait_delivery(summary: dict[str, Any]) -> Any:
            links = summary["per_link"]

            def rest(_: Any) -> Any:
                # Each number designated (a resident may have left before it came, and
                # then it is refused) is one more identity update for the prefecture and
                # one more copy for the intermediate server.
                (designated,) = nat.db.execute(
                    "SELECT count(*) FROM pushes WHERE state = 'acked'").fetchone()
                links["prefecture"] += designated
                links["intermediate"] += designated
                return defer.gatherResults([
                    mock.wait_for("applied_seq", links["prefecture"]),
                    moj.wait_for("applied_seq", links["moj"]),
                    mid.wait_for("applied_seq", links["intermediate"]),
                    card.wait_for("applied_seq", links["card"])])

            waiting = nat.wait_for("pushes_settled", links["national"]).addCallback(rest)
            waiting.addTimeout(120, reactor)  # never hang: say what did not arrive
            return waiting.addCallback(lambda _: summary)

        def scrape(summary: dict[str, Any]) -> Any:
            def get() -> str:
                c = HttpsClient("127.0.0.1", ports.metrics, cfg.certs_dir, "operator")
                try:
                    return c.get("/metrics")[1]
                finally:
                    c.close()
            return threads.deferToThread(get).addCallback(lambda text: (summary, text))

        def report(pair: tuple[dict[str, Any], str]) -> None:
            summary, text = pair
            delivered = _metric(text, 'jukihub_link_delivered_total{link="prefecture"}')
            latency_n = _metric(text, 'jukihub_delivery_latency_seconds_count{link="prefecture"}')
            latency_s = _metric(text, 'jukihub_delivery_latency_seconds_sum{link="prefecture"}')
            held = mock.describe()["identities"]
            print()
            print("jukihub demo — register → hub → prefecture, national, ministry, "
                  "intermediate, card (mocks)")
            print(f"  changes posted       {summary['posted']} valid + "
                  f"{sum(summary['expected_refusals'].values())} invalid, "
                  f"{summary['posted'] / summary['elapsed']:.0f} changes/s over mTLS")
            print(f"  accepted             {summary['accepted']}")
            print(f"  refused              {sum(summary['refused'].values())}")
            for code, count in sorted(summary["refused"].items()):
                print(f"    {code:<40} {count}")
            repeat = "first answer returned" if summary["repeat_same"] else "WRONG ANSWER"
            print(f"  repeated request id  {repeat}")
            nat_delivered = _metric(text, 'jukihub_link_delivered_total{link="national"}')
            states = dict(nat.db.execute("SELECT state, count(*) FROM pushes GROUP BY state"))
            print(f"  number generation    {nat_delivered:.0f} requests to J-LIS for newborns; "
                  f"{nat.describe()['issued']} 個人番号 generated, {states.get('acked', 0)} "
                  f"designated and sent on, {states.get('refused', 0)} refused (the resident "
                  "had left)")
            print(f"  delivered            {delivered:.0f} identity updates, acknowledged by the "
                  f"prefecture (applied seq {mock.applied}); it holds {held} residents")
            moj_delivered = _metric(text, 'jukihub_link_delivered_total{link="moj"}')
            print(f"  ministry notices     {moj_delivered:.0f} foreign-resident notices "
                  f"(住基法 30条の50), acknowledged by the ministry (mock)")
            mid_delivered = _metric(text, 'jukihub_link_delivered_total{link="intermediate"}')
            print(f"  intermediate copies  {mid_delivered:.0f} copy (副本) updates of residents "
                  f"with a 個人番号; the intermediate server holds {mid.describe()['copies']}")
            card_delivered = _metric(text, 'jukihub_link_delivered_total{link="card"}')
            print(f"  card events          {card_delivered:.0f} card issues (個人番号カード 交付), "
                  "acknowledged by the card management system (mock)")
            if latency_n:
                print(f"  mean delivery time   {1000 * latency_s / latency_n:.1f} ms from commit "
                      "to acknowledgement")
            print(f"  metrics              https://127.0.0.1:{ports.metrics}/metrics (client "
                  f"certificate {cfg.certs_dir}/operator.pem); e.g.")
            print(f"    curl --cacert {cfg.certs_dir}/ca.pem --cert {cfg.certs_dir}/operator.pem "
                  f"--key {cfg.certs_dir}/operator.key https://127.0.0.1:{ports.metrics}/metrics")
            ok = (delivered == summary["per_link"]["prefecture"]
                  and moj_delivered == summary["per_link"]["moj"]
                  and mid_delivered == summary["per_link"]["intermediate"]
                  and card_delivered == summary["per_link"]["card"]
                  and nat_delivered == summary["per_link"]["national"]
                  and summary["repeat_same"]
                  and summary["refused"] == summary["expected_refusals"])
            print(f"  result               {'OK' if ok else 'UNEXPECTED — see above'}")
            result["rc"] = 0 if ok else 1

        def failed(f: Any) -> None:
            print(f"demo failed: {f.getErrorMessage()}", file=sys.stderr)

        def shutdown(_: Any) -> Any:
            d2 = hub.stop()
            for port in (p for pair in listeners.values() for p in pair):
                d2.addBoth(lambda _, port=port: port.stopListening())
            d2.addBoth(lambda _: reactor.stop())
            return d2

        d.addCallback(wait_delivery).addCallback(scrape).addCallback(report)
        d.addErrback(failed).addBoth(shutdown)
        return d

    reactor.callWhenRunning(main)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    pykka.ActorRegistry.stop_all()  # after a signal, too: actor threads must not linger
    return int(result["rc"])


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
