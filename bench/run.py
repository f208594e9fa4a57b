"""The benchmark: prints each figure, measured on this machine in one run.

1. raw transport: pipelined mTLS frames, no storage, no XML (the ceiling);
2. end-to-end durable throughput: changes posted to the intake API (batches, several
   clients) until the mock prefecture has acknowledged every identity update;
3. the naive way in the same run: one change per request, one client, as a baseline;
4. latency at a fixed offered load: per change, from the POST to the mock's commit
   (the mock records when it applied each 更新順番号), as percentiles.

Run: ``make bench`` (or ``python -m bench.run --quick`` for a short run; ``--postgres``
puts the hub's store on a private PostgreSQL server).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from certs.devca import init_certs
from hub.config import load_config
from hub.harness import CONFIG, ROOT, Env
from hub.pgserver import PgServer
from hub.synthetic import Synth


def raw_transport(certs: Path, n: int, window: int, size: int) -> float:
    server = subprocess.Popen([sys.executable, "-m", "bench.raw", "server", str(certs)],
                              stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert server.stdout is not None
        port = json.loads(server.stdout.readline())["port"]
        from twisted.internet import reactor

        from bench.raw import send

        result: dict[str, float] = {}

        def go() -> None:
            d = send(reactor, certs, port, n, window, size)
            d.addCallback(lambda rate: result.setdefault("rate", rate))
            d.addBoth(lambda _: reactor.stop())  # type: ignore[attr-defined]

        reactor.callWhenRunning(go)  # type: ignore[attr-defined]
        reactor.run()  # type: ignore[attr-defined]
        return result["rate"]
    finally:
        server.kill()


def _post_batches(env: Env, batches: list[list[dict[str, Any]]]) -> None:
    client = env.client()
    for b in batches:
        status, body = client.post("/v1/changes/batch", {"changes": b})
        assert status == 200 and all(r["status"] == "accepted" for r in body["results"]), body
    client.close()


def end_to_end(env: Env, synth: Synth, n: int, clients: int, batch: int) -> tuple[float, float]:
    """Changes/s until every answer was received (accepted, durable), and until the mock
    acknowledged every identity update."""
    changes = list(synth.stream(n))
    start_seq = env.control("GET", "/state")[1]["applied_seq"]
    # Each client gets whole residents' histories?  No: order across clients is the
    # register's (the hub numbers changes as it commits them); the register system
    # would not post two changes of one person concurrently, so split by resident.
    lanes: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    for c in changes:
        lanes[hash(c["resident_code"]) % clients].append(c)
    work = [[lane[i : i + batch] for i in range(0, len(lane), batch)] for lane in lanes]
    threads = [threading.Thread(target=_post_batches, args=(env, w)) for w in work]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = time.perf_counter() - t0
    env.wait_applied(start_seq + n, timeout=600)
    return n / answered, n / (time.perf_counter() - t0)


def naive(env: Env, synth: Synth, n: int) -> float:
    changes = list(synth.stream(n))
    start_seq = env.control("GET", "/state")[1]["applied_seq"]
    client = env.client()
    t0 = time.perf_counter()
    for c in changes:
        status, _ = client.post("/v1/changes", c)
        assert status == 201
    env.wait_applied(start_seq + n, timeout=600)
    client.close()
    return n / (time.perf_counter() - t0)


def latency(env: Env, synth: Synth, rate: float, seconds: float) -> dict[str, float]:
    """Open loop: 4 senders, each posting single changes on a fixed schedule."""
    senders = 4
    per = int(rate * seconds / senders)
    sent: dict[int, float] = {}
    lock = threading.Lock()
    # One synthetic population per sender, so no sender posts a change for a person
    # another sender has not created yet.
    lanes = [list(Synth(seed=synth.rng.randint(0, 1 << 30)).stream(per)) for _ in range(senders)]
    start_seq = env.control("GET", "/state")[1]["applied_seq"]
    t0 = time.time() + 0.2
    behind = [0]

    def sender(k: int) -> None:
        client = env.client()
        for i, c in enumerate(lanes[k]):
            due = t0 + (i * senders + k) / rate
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)  # pacing the offered load (a benchmark, not a test)
            else:
                behind[0] += 1
            at = time.time()
            status, body = client.post("/v1/changes", c)
            assert status == 201, body
            with lock:
                sent[body["update_seq"]] = at
        client.close()

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    env.wait_applied(start_seq + per * senders, timeout=600)
    applied = env.applied()
    lat = sorted(r["applied_at"] - sent[r["update_seq"]] for r in applied
                 if r["update_seq"] in sent)
    q = statistics.quantiles(lat, n=1000)
    return {"n": len(lat), "p50": q[499] * 1000, "p90": q[899] * 1000, "p99": q[989] * 1000,
            "max": lat[-1] * 1000, "late_sends": behind[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="a hub configuration override, e.g. intake.validate_responses=false")
    ap.add_argument("--postgres", action="store_true",
                    help="the hub's store on a private PostgreSQL server (hub/pgserver.py)")
    args = ap.parse_args()
    q = args.quick
    tmp = Path(tempfile.mkdtemp(prefix="jukihub-bench-"))
    certs = tmp / "certs"
    init_certs(certs, load_config(CONFIG).parties)
    print(f"jukihub bench — {time.strftime('%Y-%m-%d %H:%M')}, data in {tmp}")
    raw_n = 20_000 if q else 200_000
    raw = raw_transport(certs, raw_n, 256, 600)
    print(f"raw transport      {raw:>10,.0f} frames/s  ({raw_n:,} frames of 600 B, window 256, mTLS)")
    pg = PgServer().start() if args.postgres else None
    env = Env(tmp, certs, store_url=pg.database() if pg else None)
    if pg:
        print("store              PostgreSQL (private server, unix socket, default settings)")
    env.link.update(backoff_initial=0.2, backoff_max=5.0, heartbeat_interval=5.0,
                    heartbeat_timeout=30.0)
    try:
        env.start_mock()
        env.start_hub(["logging.level=\"warning\"", "intake.max_batch=1000", *args.set])
        if args.set:
            print(f"hub overrides      {' '.join(args.set)}")
        synth = Synth(seed=2026)
        naive_n = 300 if q else 2000
        nv = naive(env, synth, naive_n)
        print(f"naive (1/request)  {nv:>10,.0f} changes/s ({naive_n:,} single requests, one client)")
        e2e_n = 5_000 if q else 50_000
        accepted, e2e = end_to_end(env, synth, e2e_n, clients=4, batch=200)
        print(f"intake             {accepted:>10,.0f} changes/s ({e2e_n:,} changes, 4 clients × "
              f"batches of 200, answered after commit)")
        print(f"end to end         {e2e:>10,.0f} changes/s (the same changes, until the mock "
              f"acknowledged every identity update)")
        print(f"ratios             end to end / raw = {e2e / raw:.3f}; "
              f"end to end / naive = {e2e / nv:.1f}")
        rate, secs = (100, 3) if q else (100, 20)
        lat = latency(env, synth, rate, secs)
        print(f"latency @ {rate}/s     p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, "
              f"p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms (POST → mock commit, "
              f"{lat['n']:,} changes, {lat['late_sends']} sent late)")
    finally:
        env.stop()
        if pg:
            pg.stop()


if __name__ == "__main__":
    main()
