"""Benchmark: the initial load of a city's register, and the first send-destination
batch for all of it.

1. ``jukihub load`` (the real command, in its own process) of a register file of N
   residents (Numazu: 190,000, the default; every one with a 個人番号 and most with their
   団体内統合宛名番号) into a fresh SQLite store: the time, the rate, and the peak
   resident memory of the biggest of its processes.  Beside it, the floor measured in
   the same run: the same file read as CSV and its rows inserted unchecked into a table
   of as many columns with the same unique indexes — the least any load costs.
2. A send-destination batch (送付先情報) for everyone needing a number notice, on the
   store the load made: the hub and the card management system's mock as real
   processes on loopback, the batch asked for by one supervisor and approved by another
   (a bulk output), timed from the request to the card system having every chunk.

Run: ``.venv/bin/python -m bench.initial_load [--residents N] [--quick]`` (``--quick``:
5,000 residents, as CI runs it; figures printed, none asserted).
"""

from __future__ import annotations

import argparse
import csv
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from certs.devca import init_certs
from devtools.harness import CONFIG, ROOT, Env
from devtools.register_file import HEADER, write_register
from hub.config import load_config


def floor(path: Path, tmp: Path, batch: int = 2000) -> float:
    """Read the file as CSV and insert its rows unchecked (same unique indexes)."""
    db = sqlite3.connect(tmp / "floor.db")
    cols = ", ".join(f"{c} TEXT" for c in HEADER)
    db.executescript(f"PRAGMA journal_mode=WAL; CREATE TABLE raw ({cols}, "
                     "UNIQUE (resident_code), UNIQUE (atena_number), "
                     "UNIQUE (individual_number), UNIQUE (integrated_atena), "
                     "UNIQUE (update_seq));"
                     "CREATE INDEX raw_household ON raw (household_number);")
    insert = f"INSERT INTO raw VALUES ({', '.join('?' * len(HEADER))})"
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        rows: list[list[str | None]] = []
        for row in reader:
            rows.append([c or None for c in row])  # an empty cell is no value
            if len(rows) >= batch:
                with db:
                    db.executemany(insert, rows)
                rows = []
        with db:
            db.executemany(insert, rows)
    took = time.perf_counter() - started
    db.close()
    return took


def load(path: Path, tmp: Path) -> tuple[float, float, str]:
    """``jukihub load``: seconds, peak RSS (MiB) of its biggest process, its summary."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "hub.commands", "--config", str(CONFIG),
         "--set", f'hub.data_dir="{tmp}"', "--set", f'store.url="sqlite:///{tmp / "jukihub.db"}"',
         "load", str(path), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the load failed: {done.stderr[-2000:]}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return took, peak / 1024, done.stdout.strip().splitlines()[-1]


def send_batch(tmp: Path, certs: Path) -> dict[str, Any]:
    env = Env(tmp, certs)
    try:
        env.start_mocks({"card": None})
        env.start_hub()
        asking = env.staff("bench01", "supervisor")
        approving = env.staff("bench02", "supervisor")
        started = time.perf_counter()
        status, body = asking.post("/v1/send-destination-batches", {"needing_notice": True})
        assert status == 202, body
        approval = body.get("approval_id")
        if approval is not None:
            status, decided = approving.post(f"/v1/approvals/{approval}",
                                             {"decision": "approve"})
            assert status == 200, decided
        while True:
            status, shown = asking.get(
                f"/v1/send-destination-batches/{body['batch_id']}?wait=60")
            assert status == 200, shown
            if shown["state"] == "delivered":
                break
        took = time.perf_counter() - started
        return {"seconds": took, "total": body["total"], "chunks": shown["chunks"]}
    finally:
        env.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, default=190_000)
    ap.add_argument("--quick", action="store_true", help="5,000 residents (CI)")
    args = ap.parse_args()
    n = 5_000 if args.quick else args.residents
    print(f"jukihub initial-load bench — {time.strftime('%Y-%m-%d %H:%M')}, {n:,} residents, "
          "SQLite")
    with tempfile.TemporaryDirectory(prefix="jukihub-lbench-") as d:
        tmp = Path(d)
        certs = tmp / "certs"
        init_certs(certs, load_config(CONFIG).parties)
        path = tmp / "register.csv"
        t0 = time.perf_counter()
        write_register(path, n, numbered=1.0, integrated=0.9)
        made = time.perf_counter() - t0
        base = floor(path, tmp)
        took, peak, summary = load(path, tmp)
        print(f"initial load {took:7.1f} s ({n / took:,.0f} residents/s), floor (read CSV + "
              f"insert unchecked) {base:5.1f} s, {took / base:.1f}× the floor; peak RSS "
              f"{peak:,.0f} MiB (file {path.stat().st_size / 2**20:,.0f} MiB, made in "
              f"{made:.0f} s)")
        print(f"  {summary}")
        batch = send_batch(tmp, certs)
        print(f"send batch   {batch['seconds']:7.1f} s for {batch['total']:,} residents "
              f"({batch['total'] / batch['seconds']:,.0f}/s, {batch['chunks']} chunks, "
              "asked, approved, built and delivered to the card mock)")


if __name__ == "__main__":
    main()
