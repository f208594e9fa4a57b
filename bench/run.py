"""The benchmark: prints each figure, measured on this machine in one run.

Every hub figure is printed beside two baselines measured in the same run:

- the **raw transport** ceiling: pipelined mTLS frames with the product's framing and
  session code, no storage, no XML (``bench/raw.py``);
- an **independent naive forwarder**: a SQLite commit, an HTTPS POST with a client
  certificate and a commit of the answer, per change, standard library only
  (``bench/forwarder.py``) — the design without a hub.

Then the hub with all five mock endpoints (every link where the routing sends a
change, not only the prefecture):

1. one client posting one change per request, sequentially, until every link has
   acknowledged everything those changes caused;
2. 64 clients posting single changes concurrently (closed loop);
3. 4 clients posting batches of 200: the intake's answers, and end to end until every
   link has acknowledged every message (with the number designations J-LIS's answers
   cause);
4. latency at a fixed offered load of single-change requests (open loop,
   ``bench/load.py`` in its own process): from each change's *scheduled* send time
   to the prefecture's commit of it, so a backlog counts;
5. the hub's start on its store, from the process's spawn until it serves;
6. (unless ``--postgres``) the batches of 3 again with the store on a private
   PostgreSQL server, beside SQLite's figure of the same run.

With 1, one request's time by hop (``jukihub_intake_hop_seconds``); with 3, the CPU the
hub's own processes spent per change (``bench/cpu.py``), apart from the mocks'.

Run: ``make bench``, or ``python -m bench.run [--quick] [--postgres] [--profile DIR]``
(``--profile`` records the hub with py-spy during the batch run, as collapsed stacks).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.cpu import Meter, with_children
from bench.forwarder import forward
from certs.devca import init_certs
from devtools.harness import CONFIG, ROOT, Env
from devtools.pgserver import PgServer
from devtools.synthetic import Synth
from hub.config import LINK_NAMES, load_config


def raw_transport(certs: Path, n: int, window: int, size: int) -> float:
    server = subprocess.Popen([sys.executable, "-m", "bench.raw", "server", str(certs)],
                              stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert server.stdout is not None
        port = json.loads(server.stdout.readline())["port"]
        from twisted.internet import reactor as _reactor

        from bench.raw import send

        reactor: Any = _reactor  # the installed reactor (typed as a module by Twisted)

        result: dict[str, float] = {}

        def go() -> None:
            d = send(reactor, certs, port, n, window, size)
            d.addCallback(lambda rate: result.setdefault("rate", rate))
            d.addBoth(lambda _: reactor.stop())

        reactor.callWhenRunning(go)
        reactor.run()
        return result["rate"]
    finally:
        server.kill()
        server.wait()


# ---- the hub with every mock ---------------------------------------------------------

OTHERS = tuple(n for n in LINK_NAMES if n != "prefecture")


def start(tmp: Path, certs: Path, store_url: str | None, overrides: list[str]) -> Env:
    env = Env(tmp, certs, store_url=store_url, backoff_initial=0.2, backoff_max=5.0,
              heartbeat_interval=5.0, heartbeat_timeout=30.0)
    env.start_mock()
    for name in OTHERS:
        env.start_other_mock(name, [f"mocks.{name}.seed_others=100"] if name == "national"
                             else None)
    env.start_hub(['logging.level="warning"', "intake.max_batch=1000", *overrides])
    return env


def delivered(env: Env) -> int:
    """Messages every link has applied so far (the mocks' applied sequences)."""
    return sum(env.control_of(name, "GET", "/state")[1]["applied_seq"]
               for name in LINK_NAMES)


HOPS = ("checks", "writer_wait", "commit", "answer")


def sequential(env: Env, changes: list[dict[str, Any]]) -> tuple[float, dict[str, float]]:
    """One client, one change per request, until every link acknowledged them all; and
    one request's mean time by hop, in ms (``jukihub_intake_hop_seconds``; ``client``
    is the client's round trip, of which the hub's own part is ``server``)."""
    client = env.client()
    before = env.metrics()
    t0 = time.perf_counter()
    for c in changes:
        status, body = client.post("/v1/changes", c)
        assert status == 201, body
    answered = time.perf_counter() - t0
    after = env.metrics()
    env.settle()
    client.close()
    rate = len(changes) / (time.perf_counter() - t0)

    def mean(series: str, labels: str) -> float:
        count, total = f"{series}_count{{{labels}}}", f"{series}_sum{{{labels}}}"
        return ((after[total] - before.get(total, 0.0))
                / (after[count] - before.get(count, 0.0)) * 1000)

    hops = {hop: mean("jukihub_intake_hop_seconds", f'hop="{hop}"') for hop in HOPS}
    hops["server"] = mean("jukihub_intake_request_seconds", 'endpoint="change"')
    hops["client"] = answered / len(changes) * 1000
    return rate, hops


def by_hop(hops: dict[str, float]) -> str:
    """One request's time by hop, as the bench prints it."""
    handover = hops["server"] - sum(hops[h] for h in HOPS)
    outside = hops["client"] - hops["server"]
    return (f"one request {hops['client']:.2f} ms: TLS, HTTP and the client "
            f"{outside:.2f}, checks {hops['checks']:.2f}, hand-over between processes "
            f"and threads {handover:.2f}, wait for the writer {hops['writer_wait']:.2f}, "
            f"the transaction {hops['commit']:.2f}, the answer {hops['answer']:.2f}")


def load(env: Env, tmp: Path, changes: list[dict[str, Any]], **how: Any,
         ) -> list[dict[str, Any]]:
    """Run ``bench/load.py`` in its own process; its per-change results."""
    spec = tmp / "load.json"
    spec.write_text(json.dumps({"host": "127.0.0.1", "port": env.intake_port,
                                "certs": str(env.certs_dir), "changes": changes, **how},
                               ensure_ascii=False), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "bench.load", str(spec)], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"bench.load failed:\n{out.stderr[-3000:]}")
    results: list[dict[str, Any]] = json.loads(out.stdout)
    refused = [r for r in results if r["status"] != 201]
    assert not refused, f"{len(refused)} changes refused, e.g. {refused[0]}"
    return results


def concurrent(env: Env, tmp: Path, changes: list[dict[str, Any]], clients: int) -> float:
    t0 = time.perf_counter()
    load(env, tmp, changes, concurrency=clients, warm_conns=clients)
    env.settle()
    return len(changes) / (time.perf_counter() - t0)


def _post_batches(env: Env, batches: list[list[dict[str, Any]]]) -> None:
    client = env.client()
    for b in batches:
        status, body = client.post("/v1/changes/batch", {"changes": b})
        assert status == 200 and all(r["status"] == "accepted" for r in body["results"]), body
    client.close()


def batches(env: Env, changes: list[dict[str, Any]], clients: int, size: int,
            ) -> tuple[float, float, int]:
    """Changes/s until every answer (accepted, durable); until every link acknowledged
    every message; and how many messages that was."""
    before = delivered(env)
    # The register system never posts two changes of one person at once: lanes by person.
    lanes: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    for c in changes:
        lanes[hash(c["resident_code"]) % clients].append(c)
    work = [[lane[i : i + size] for i in range(0, len(lane), size)] for lane in lanes]
    threads = [threading.Thread(target=_post_batches, args=(env, w)) for w in work]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = time.perf_counter() - t0
    env.settle()
    total = time.perf_counter() - t0
    return len(changes) / answered, len(changes) / total, delivered(env) - before


def latency(env: Env, tmp: Path, changes: list[dict[str, Any]], rate: float,
            ) -> dict[str, float]:
    """Open loop at ``rate``: from each change's scheduled time to the prefecture's
    commit of its identity update, and to the intake's answer."""
    results = load(env, tmp, changes, rate=rate)
    env.settle()
    due = {r["update_seq"]: r["due"] for r in results}
    applied = [r for r in env.applied() if r["update_seq"] in due]
    lat = sorted(r["applied_at"] - due[r["update_seq"]] for r in applied)
    answer = sorted(r["answered"] - r["due"] for r in results)
    q, qa = statistics.quantiles(lat, n=1000), statistics.quantiles(answer, n=1000)
    late = sum(1 for r in results if r["answered"] - r["due"] > 0.05)
    return {"n": len(lat), "p50": q[499] * 1000, "p90": q[899] * 1000, "p99": q[989] * 1000,
            "max": lat[-1] * 1000, "answer_p50": qa[499] * 1000, "answer_p99": qa[989] * 1000,
            "late": late}


def restart(env: Env) -> float:
    """Stop the hub, start it again on its store: seconds until it serves."""
    assert env.hub is not None
    env.hub.stop()
    t0 = time.perf_counter()
    env.start_hub()
    return time.perf_counter() - t0


def on_postgres(tmp: Path, certs: Path, synth: Synth, n: int, overrides: list[str]) -> float:
    """End to end with the batches of 200 on a private PostgreSQL server: changes/s."""
    tmp.mkdir()
    pg = PgServer().start()
    env = start(tmp, certs, pg.database(), overrides)
    try:
        changes = list(synth.stream(n + 1000))
        env.from_elsewhere(synth)
        batches(env, changes[:1000], 4, 200)  # warm, as the SQLite hub was by then
        return batches(env, changes[1000:], 4, 200)[1]
    finally:
        env.stop()
        pg.stop()


class Profiler:
    """py-spy on the hub process, collapsed stacks to a file (``--profile``)."""

    def __init__(self, directory: Path | None, env: Env, name: str,
                 pid: int | None = None) -> None:
        """``pid``: another process than the hub (a mock)."""
        self.p: subprocess.Popen[bytes] | None = None
        if directory is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        assert env.hub is not None
        self.out = directory / f"{name}.txt"
        spy = Path(sys.executable).with_name("py-spy")
        self.p = subprocess.Popen([str(spy), "record", "--pid", str(pid or env.hub.p.pid),
                                   "--format",
                                   "raw", "--rate", "250", "--threads", "--gil",
                                   "--nonblocking", "-o", str(self.out)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.p is not None:
            self.p.send_signal(signal.SIGINT)
            self.p.wait(timeout=60)
            print(f"profile            {self.out}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="a hub configuration override, e.g. intake.validate_responses=false")
    ap.add_argument("--postgres", action="store_true",
                    help="the hub's store on a private PostgreSQL server")
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR",
                    help="record the hub with py-spy during the batch run")
    ap.add_argument("--rate", type=float, default=1000.0, help="offered load, requests/s")
    args = ap.parse_args()
    q = args.quick
    tmp = Path(tempfile.mkdtemp(prefix="jukihub-bench-"))
    certs = tmp / "certs"
    init_certs(certs, load_config(CONFIG).parties)
    print(f"jukihub bench — {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"data in {tmp}")
    raw_n = 5_000 if q else 200_000
    raw = raw_transport(certs, raw_n, 256, 600)
    print(f"raw transport      {raw:>10,.0f} frames/s  ({raw_n:,} frames of 600 B, window "
          f"256, mTLS; the ceiling)")
    synth = Synth(seed=2026)
    fwd_n = 60 if q else 2000
    fwd = forward(certs, tmp, list(Synth(seed=7).stream(fwd_n)))
    print(f"naive forwarder    {fwd:>10,.0f} changes/s ({fwd_n:,} changes: SQLite commit, "
          f"mTLS POST, commit of the answer, each; the baseline)")

    def beside(rate: float, messages: float | None = None) -> str:
        frames = f", {messages / raw:.3f} of raw" if messages else ""
        return f"{rate / fwd:.1f}× forwarder{frames}"

    pg = PgServer().start() if args.postgres else None
    env = start(tmp, certs, pg.database() if pg else None, args.set)
    try:
        store = "PostgreSQL (private server, unix socket)" if pg else "SQLite (WAL, FULL)"
        print(f"hub                store {store}, five links"
              + (f", overrides {' '.join(args.set)}" if args.set else ""))
        def stream(n: int, lag: int = 0) -> list[dict[str, Any]]:
            """``n`` changes; J-LIS knows where each arrival from another city came from
            (its 転入 asks for the 転出証明書情報, as a city's does).  ``lag``: no change to
            one of the ``lag`` newest people (an open loop sends a change at its time,
            answered arrival before it or not)."""
            changes = list(synth.stream(n, lag=lag))
            env.from_elsewhere(synth)
            return changes

        n = 60 if q else 2000
        rate, hops = sequential(env, stream(n))
        print(f"1 client × 1       {rate:>10,.0f} changes/s ({n:,} single requests in "
              f"turn, until every link acknowledged; {beside(rate)})")
        print(f"                   {by_hop(hops)}")
        n = 200 if q else 10_000
        rate = concurrent(env, tmp, stream(n), 64)
        print(f"64 clients × 1     {rate:>10,.0f} changes/s ({n:,} single requests, 64 at a "
              f"time; {beside(rate)})")
        n = 800 if q else 50_000
        profiler = Profiler(args.profile, env, "batches-postgres" if pg else "batches")
        assert env.hub is not None and env.mock is not None
        cpu = Meter({"hub": with_children(env.hub.p.pid), "bench": [os.getpid()],
                     "mocks": [env.mock.p.pid, *(env.others[o][0].p.pid for o in OTHERS)]})
        cpu.start()
        answered, e2e, messages = batches(env, stream(n), 4, 200)
        spent = cpu.stop()
        profiler.stop()
        print(f"intake             {answered:>10,.0f} changes/s ({n:,} changes, 4 clients × "
              f"batches of 200, answered after commit)")
        print(f"end to end         {e2e:>10,.0f} changes/s ({messages:,} messages on five "
              f"links, {messages * e2e / n:,.0f}/s, all acknowledged; {beside(e2e, messages * e2e / n)})")
        print(f"CPU per change     hub {spent['hub'] / n * 1000:.3f} ms (its process and "
              f"intake workers, user + system, over the whole fan-out); mocks "
              f"{spent['mocks'] / n * 1000:.3f} ms; load generator and bench "
              f"{spent['bench'] / n * 1000:.3f} ms")
        secs = 1 if q else 20
        # A change to a person at least two seconds' worth of arrivals after theirs.
        lat = latency(env, tmp, stream(int(args.rate * secs), lag=int(args.rate)), args.rate)
        print(f"latency @ {args.rate:,.0f}/s  p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, "
              f"p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms (scheduled send → "
              f"prefecture commit, {lat['n']:,} changes); answered p50 "
              f"{lat['answer_p50']:.1f} ms, p99 {lat['answer_p99']:.1f} ms; "
              f"{lat['late']} answered over 50 ms after schedule")
        took = restart(env)
        print(f"hub start          {took:>10.2f} s (stopped, then started again on its "
              f"store: from the process's spawn until it serves, every gauge true)")
    finally:
        env.stop()
        if pg:
            pg.stop()
    if not pg:  # the same batches on PostgreSQL, in this run, beside SQLite's
        n = 800 if q else 50_000
        pg_e2e = on_postgres(tmp / "pg", certs, Synth(seed=2026), n, args.set)
        print(f"PostgreSQL         {pg_e2e:>10,.0f} changes/s end to end ({n:,} changes as "
              f"above; {pg_e2e / e2e:.2f}× SQLite in this run)")


if __name__ == "__main__":
    main()
