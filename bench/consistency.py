"""Benchmark: a consistency check (整合性確認) over a city-sized register.

Fills a hub store and a mock prefecture's copy with N residents directly (SQL, not
through the intake: the subject is the check, and filling 3.7 million through the API
would take an hour), starts both as real processes on loopback, runs the check
through the API, and prints the time from the request to the peer's answer, the rate,
and the peak resident memory (VmHWM) of the hub and the mock.  A baseline in the same
run: the time to read the same N identity rows from the store and encode them, which
is the least any check must cost.  The sizes: Numazu (190,000, the default) and a
big city (3,700,000, ``--big``).  A handful of differences are planted in the copy and
must come back exactly.

Run: ``.venv/bin/python -m bench.consistency [--residents N] [--big]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cpu import Meter, with_children
from bench.run import Profiler
from certs.devca import init_certs
from devtools.harness import CONFIG, Env
from hub.config import load_config
from hub.store import Store
from hub.store.engine import make_engine, migrate
from hub.store.tables import identity_records, residents
from mock_endpoints.prefecture import PrefectureMock
from protocols.codes import resident_code_check_digit
from protocols.consistency import ConsistencyChunk, encode_chunk

LAST = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("髙橋", "タカハシ"), ("田中", "タナカ"),
        ("渡邉", "ワタナベ"), ("山﨑", "ヤマザキ"), ("𠮷田", "ヨシダ"), ("伊藤", "イトウ")]
FIRST = [("太郎", "タロウ"), ("花子", "ハナコ"), ("翔", "ショウ"), ("美咲", "ミサキ"),
         ("大輔", "ダイスケ"), ("陽菜", "ヒナ"), ("蓮", "レン"), ("結衣", "ユイ")]
TOWNS = ["大手町", "御幸町", "本町", "千本港町", "原", "岡宮", "大岡", "今沢"]


def fill(tmp: Path, n: int, plant: int) -> list[tuple[str, str]]:
    """The store (through Alembic, then bulk rows) and the mock's copy; returns the
    differences planted as (住民票コード, kind)."""
    url = f"sqlite:///{tmp / 'jukihub.db'}"
    migrate(url)
    rng = random.Random(190000)
    hub = sqlite3.connect(tmp / "jukihub.db")
    mock_db = sqlite3.connect(tmp / "mock-prefecture.db")
    from mock_endpoints.streams import SCHEMA as _BASE_SCHEMA

    mock_db.executescript(_BASE_SCHEMA + PrefectureMock.extra_schema)
    mock_db.execute("INSERT INTO meta VALUES ('prefecture', 0)")
    def insert(table: Any, rows: list[dict[str, Any]]) -> None:
        """Rows of the columns they name; the others take the table's defaults."""
        if rows:
            names = list(rows[0])
            assert set(names) <= {c.name for c in table.columns}
            hub.executemany(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
                            f"({', '.join('?' * len(names))})",
                            [tuple(r[c] for c in names) for r in rows])

    now = dt.datetime.now().isoformat(sep=" ")
    planted: list[tuple[str, str]] = []
    step = max(1, n // max(1, plant))
    for start in range(0, n, 20000):
        rres: list[dict[str, Any]] = []
        rid: list[dict[str, Any]] = []
        held = []
        for i in range(start, min(n, start + 20000)):
            body = f"{i * 7 + 1000000000:010d}"[-10:]
            code = body + resident_code_check_digit(body)
            (lk, lkana), (fk, fkana) = rng.choice(LAST), rng.choice(FIRST)
            name, kana = f"{lk}　{fk}", f"{lkana}　{fkana}"
            birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randint(0, 33000))
            address = f"静岡県沼津市{rng.choice(TOWNS)}{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
            sex = rng.choice("12")
            upd = i + 1
            rres.append(dict(atena_number=f"A{i:014d}", resident_code=code, household_number=f"H{i}",
                     name_kanji=name, name_kana=kana, birth_date=birth.isoformat(), sex=sex,
                     relationship="世帯主", resident_type="japanese", municipality_code="222038",
                     address=address, removed=0, last_update_seq=upd))
            rid.append(dict(resident_code=code, name_kanji=name, name_gaiji_count=0, name_kana=kana,
                     birth_date=birth.isoformat(), sex=sex, municipality_code="222038",
                     address=address, address_gaiji_count=0, previous_address_gaiji_count=0,
                     reason="move_in", event_date="2026-01-01", request_id=f"B{i}",
                     operator_id="bench", terminal_id="bench", update_seq=upd,
                     update_prohibited=0, prospective=0, exclusive=0, gaiji_flag=0,
                     record_status="active", timestamp=now, old_surname_gaiji_count=0))
            items = {"resident_code": code, "individual_number": None, "name_kanji": name,
                     "name_kana": kana, "birth_date": birth.isoformat(), "sex": sex,
                     "municipality_code": "222038", "address": address,
                     "record_status": "active", "update_seq": upd}
            if i % step == step // 2 and len(planted) < plant:
                if len(planted) % 2:
                    planted.append((code, "only_at_hub"))
                    continue
                items["address"] = "静岡県沼津市どこか"
                planted.append((code, "differs"))
            held.append((code, json.dumps(items, ensure_ascii=False)))
        insert(residents, rres)
        insert(identity_records, rid)
        mock_db.executemany("INSERT INTO held VALUES (?, ?)", held)
        hub.commit()
        mock_db.commit()
    hub.close()
    mock_db.close()
    return planted


def baseline(tmp: Path, n: int, chunk: int) -> float:
    """Read the N current identity rows and encode them as chunks: the floor."""
    store = Store(make_engine(f"sqlite:///{tmp / 'jukihub.db'}"))
    started = time.perf_counter()
    after, no = "", 1
    with store.reading() as db:  # the same named read the check's slices make
        while recs := tuple(store.jobs.current_identities(db, after, chunk)):
            encode_chunk(ConsistencyChunk("C0000000001", "222038", no, False, None, recs))
            after, no = recs[-1].resident_code, no + 1
    store.dispose()
    return time.perf_counter() - started


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run(n: int, chunk: int, profile: Path | None = None) -> dict[str, Any]:
    cfg = load_config(CONFIG)
    with tempfile.TemporaryDirectory(prefix="jukihub-cbench-") as d:
        tmp = Path(d)
        certs = tmp / "certs"
        init_certs(certs, cfg.parties)
        t0 = time.perf_counter()
        planted = fill(tmp, n, plant=10)
        filled = time.perf_counter() - t0
        floor = baseline(tmp, n, chunk)
        env = Env(tmp, certs)
        try:
            env.start_mock()
            env.start_hub([f"consistency.chunk_records={chunk}"])
            staff = env.staff("bench", "supervisor")
            mem0 = peak_kib(env.hub.p.pid) if env.hub else 0
            assert env.hub is not None and env.mock is not None
            profiler = Profiler(profile, env, f"consistency-{n}")
            mock_profiler = Profiler(profile, env, f"consistency-{n}-mock", env.mock.p.pid)
            cpu = Meter({"hub": with_children(env.hub.p.pid), "mock": [env.mock.p.pid]})
            cpu.start()
            started = time.perf_counter()
            status, body = staff.post("/v1/consistency-checks", {"links": ["prefecture"]})
            assert status == 202, body
            check_id = body["checks"][0]["check_id"]
            while True:
                status, shown = staff.get(f"/v1/consistency-checks/{check_id}?wait=60")
                if shown.get("state") == "answered":
                    break
            elapsed = time.perf_counter() - started
            spent = cpu.stop()
            profiler.stop()
            mock_profiler.stop()
            found = {(x["resident_code"], x["kind"]) for x in shown.get("differences", [])}
            return {"hub_cpu_s": spent["hub"], "mock_cpu_s": spent["mock"], "n": n,
                    "chunk": chunk, "fill_s": filled, "floor_s": floor,
                    "check_s": elapsed, "hub_peak_mib": peak_kib(env.hub.p.pid) / 1024,
                    "hub_start_mib": mem0 / 1024,
                    "mock_peak_mib": peak_kib(env.mock.p.pid) / 1024,
                    "differences": shown["difference_count"],
                    "exact": found == set(planted) and shown["compared"] == n}
        finally:
            env.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, default=190_000)
    ap.add_argument("--big", action="store_true", help="also 3,700,000 residents")
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR",
                    help="record the hub with py-spy during the check")
    args = ap.parse_args()
    sizes = [args.residents] + ([3_700_000] if args.big else [])
    print(f"jukihub consistency bench — {time.strftime('%Y-%m-%d %H:%M')}, chunks of "
          f"{args.chunk}, prefecture link, SQLite, mTLS")
    for n in sizes:
        r = run(n, args.chunk, args.profile)
        print(f"{n:>10,} residents  check {r['check_s']:7.1f} s ({n / r['check_s']:,.0f} "
              f"records/s), floor (read + encode only) {r['floor_s']:6.1f} s; CPU hub "
              f"{r['hub_cpu_s']:.1f} s, mock {r['mock_cpu_s']:.1f} s; peak RSS hub "
              f"{r['hub_peak_mib']:.0f} MiB (at start {r['hub_start_mib']:.0f}), mock "
              f"{r['mock_peak_mib']:.0f} MiB; {r['differences']} differences, planted ones "
              f"{'found exactly' if r['exact'] else 'NOT found exactly'} (fill {r['fill_s']:.0f} s)")


if __name__ == "__main__":
    main()
