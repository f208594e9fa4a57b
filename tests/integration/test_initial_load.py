"""The initial load end to end: ``jukihub load`` (the real command) fills the store of a
stopped hub from a register file with planted bad rows; the mocks are given what the
outside systems already hold of the same file (read on its own, not through the load);
the hub starts, the first consistency check with the prefecture and J-LIS finds no
difference, and changes of loaded residents chain on at every peer.  And a load killed
with SIGKILL mid-file goes on where its last commit left it."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

from devtools.harness import CONFIG, ROOT, Env
from devtools.leaks import WATCH
from devtools.register_file import seed_mocks, write_register


def _watch(path: Path) -> list[dict[str, str]]:
    """The file's rows, their personal values watched for in what the hub writes."""
    with path.open(encoding="utf-8") as f:
        people = list(csv.DictReader(f))
    WATCH.note_sent(people)
    return people


def test_a_loaded_register_agrees_with_the_outside_systems(
        tmp_path: Path, certs_dir: Path, hub_store: str | None) -> None:
    path = tmp_path / "register.csv"
    planted = write_register(path, 300, faults=10, integrated=0.5)
    people = _watch(path)
    e = Env(tmp_path, certs_dir, store_url=hub_store)
    try:
        done = e.jukihub("load", str(path))
        WATCH.note_written(done.stdout + done.stderr)
        assert done.returncode == 2, done.stderr  # loaded, some rows refused
        assert "受付 300 人, 拒否 10 行" in done.stdout
        with (tmp_path / "register.csv.refused.csv").open(encoding="utf-8") as f:
            report = [(int(r["line"]), r["code"]) for r in csv.DictReader(f)]
        assert report == planted

        e.start_mocks({"national": None, "intermediate": None, "moj": None})
        seeded = seed_mocks(path, e.control_of, skip={line for line, _ in planted})
        assert seeded["prefecture"] == seeded["national"] == 300
        e.start_hub()
        # The 団体内統合宛名番号 the hub assigned reached the intermediate server (its
        # 符号 request and first 副本), chained after the copies it already held.
        hub_made = int(e.read_store("SELECT count(*) FROM residents WHERE integrated_atena "
                                    "IS NOT NULL")[0][0]) - seeded["intermediate"]
        assert hub_made > 0
        e.wait_applied(2 * hub_made, mock="intermediate")

        staff = e.staff("op031", "supervisor")
        status, body = staff.post("/v1/consistency-checks", {})
        assert status == 202, body
        for check in body["checks"]:
            _, shown = staff.get(f"/v1/consistency-checks/{check['check_id']}?wait=60")
            assert shown["state"] == "answered", shown
            assert (shown["compared"], shown["difference_count"]) == (300, 0), shown

        # Changes of loaded residents chain on at each peer that holds them.
        loaded = [p for p in people if p["update_seq"] and int(p["update_seq"]) <= 300]
        foreign = next(p for p in loaded if p["resident_type"] == "foreign")
        numbered = next(p for p in loaded if p["integrated_atena"])
        for i, p in enumerate((foreign, numbered)):
            status, body = e.client().post("/v1/changes", {
                "request_id": f"after-load-{i}", "operator_id": "op001",
                "terminal_id": "t01", "reason": "move_within", "event_date": "2026-11-30",
                "resident_code": p["resident_code"], "resident": {
                    "address": {"municipality_code": "222038",
                                "text": "静岡県沼津市御幸町1番1号"},
                    "address_set_date": "2026-11-30"}})
            assert status == 201, body
        copies = int(e.read_store(
            "SELECT count(*) FROM residents WHERE integrated_atena IS NOT NULL AND "
            "resident_code IN (:a, :b)", a=foreign["resident_code"],
            b=numbered["resident_code"])[0][0])
        e.wait_applied(2)
        e.wait_applied(2 * hub_made + copies, mock="intermediate")
        e.wait_applied(1, mock="moj")
        for mock in ("prefecture", "intermediate", "moj"):
            assert e.control_of(mock, "GET", "/refusals")[1] == [], mock
    finally:
        e.stop()


def test_a_load_killed_mid_file_goes_on_where_it_stopped(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    write_register(path, 6000)
    store = tmp_path / "jukihub.db"
    command = [sys.executable, "-m", "hub.commands", "--config", str(CONFIG),
               "--set", f'hub.data_dir="{tmp_path}"',
               "--set", f'store.url="sqlite:///{store}"',
               "load", str(path), "--batch", "200", "--workers", "0"]
    first = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                             stdout=subprocess.DEVNULL)
    assert first.stderr is not None
    # On a pipe the progress is a line per tenth of the file: kill after the first.
    line = first.stderr.readline()
    assert line.startswith("読込"), line
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "再開" in again.stdout, again.stdout
    import sqlite3

    db = sqlite3.connect(store)
    try:
        [(residents, identities, accepted, finished)] = db.execute(
            "SELECT (SELECT count(*) FROM residents), (SELECT count(*) FROM "
            "identity_records), accepted, finished_at IS NOT NULL FROM initial_loads")
    finally:
        db.close()
    assert (residents, identities, accepted, finished) == (6000, 6000, 6000, 1)
