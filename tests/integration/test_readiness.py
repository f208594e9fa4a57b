"""Readiness means the hub can do its job, and health means its store writer works:
against a running hub whose store is made unwritable from outside, as an operator's
bad day would — its files made immutable (``chattr +i``), its file system filled, its
database locked by another process.  ``/readyz`` turns 503 naming what failed within
the readiness interval, and back to 200 once the store is writable again; a write is
never reported ready when it failed.  The hub's ``hub.readiness`` log event marks each
change, so the tests wait on it, not on a clock.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devtools.faults import fill, small_file_system
from devtools.harness import Env
from devtools.synthetic import Synth

QUICK = ["operations.readiness_cache_seconds=0.5", "operations.readiness_timeout_seconds=1"]


def _readiness(env: Env, ready: bool, after: int) -> dict[str, Any]:
    assert env.hub is not None
    return env.hub.wait_event(lambda e: e.get("event") == "hub.readiness"
                              and e.get("ready") is ready, after=after, timeout=30)


def _unready_then_ready(env: Env, spoil: Any, mend: Any, expect_failed: set[str],
                        unhealthy: bool = True) -> None:
    """``spoil()`` the store: not ready (naming ``expect_failed``), changes refused 503
    and nothing written, /healthz says the writer fails (``unhealthy``); ``mend()``:
    ready again, and a change goes through."""
    assert env.hub is not None
    client, monitor = env.client(), env.client("monitor")
    assert monitor.get("/readyz")[0] == 200
    synth = Synth(seed=1501)
    [(before,)] = env.read_store("SELECT count(*) FROM residents")
    mark = env.hub.mark()
    spoil()
    try:
        # A write fails at once (the next readiness check would find it too).
        status, body = client.post("/v1/changes", synth.arrival())
        assert (status, body["error"]["code"]) == (503, "store_unavailable"), body
        event = _readiness(env, False, mark)
        assert expect_failed <= set(event["failed"]), event
        status, ready = monitor.get("/readyz")
        assert status == 503 and not ready["ready"]
        assert {name for name, c in ready["checks"].items() if not c["ok"]} >= expect_failed
        if unhealthy:
            status, health = monitor.get("/healthz")
            assert status == 503 and health["status"] == "unhealthy", health
    finally:
        mark = env.hub.mark()
        mend()
    _readiness(env, True, mark)
    assert monitor.get("/readyz")[0] == 200
    assert monitor.get("/healthz") == (200, {"status": "ok"})
    assert env.read_store("SELECT count(*) FROM residents")[0][0] == before
    status, body = client.post("/v1/changes", synth.arrival())
    assert status == 201, body


def _chattr(flag: str, *paths: Path) -> bool:
    found = [str(p) for p in paths if p.exists()]
    run = subprocess.run(["chattr", flag, *found], capture_output=True, check=False)
    return run.returncode == 0


def test_immutable_store_files_make_the_hub_unready_until_mended(env_with: Any,
                                                                 tmp_path: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed (e2fsprogs)")
    env = env_with(hub_extra=QUICK)
    db = tmp_path / "jukihub.db"
    files = (db, db.with_name("jukihub.db-wal"))
    if not _chattr("+i", *files):
        pytest.skip("this file system or user cannot make files immutable (chattr +i)")
    _chattr("-i", *files)
    _unready_then_ready(env, lambda: _chattr("+i", *files), lambda: _chattr("-i", *files),
                        {"store", "store_writer"})


def test_a_full_file_system_makes_the_hub_unready_until_there_is_room(
        certs_dir: Path, tmp_path: Path, hub_store: str | None) -> None:
    if hub_store is not None:
        pytest.skip("the store is a database server's")
    with small_file_system(32) as small:
        if small is None:
            pytest.skip("cannot mount a small file system here (needs root)")
        env = Env(tmp_path, certs_dir, store_url=f"sqlite:///{small / 'jukihub.db'}")
        try:
            env.start_mocks({})
            env.start_hub([*QUICK, "operations.store_free_floor_mb=4"])
            filler: list[Path] = []
            # A full disk may still take the probe's one-row write into the WAL's room
            # (so the writer is not always failing), never a change: the space says it.
            # (The fault harness's fill: unbuffered, so the last write's ENOSPC is caught
            # there, not raised by a buffered file's close — which made this test flaky.)
            _unready_then_ready(env, lambda: filler.append(fill(small)),
                                lambda: filler[0].unlink(), {"store_space"}, unhealthy=False)
        finally:
            env.stop()


def test_a_store_locked_by_another_process_is_a_wedged_writer(env_with: Any,
                                                              tmp_path: Path) -> None:
    """Another process holds SQLite's write lock: the writer waits inside its
    transaction; past ``writer_stall_seconds`` /healthz and /readyz say it is wedged;
    once the lock goes, the change it held commits and the hub is ready again."""
    env = env_with(hub_extra=[*QUICK, "operations.writer_stall_seconds=1"])
    assert env.hub is not None
    monitor, client = env.client("monitor"), env.client()
    assert monitor.get("/healthz") == (200, {"status": "ok"})
    mark = env.hub.mark()
    blocker = sqlite3.connect(tmp_path / "jukihub.db", isolation_level=None, timeout=30)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        event = _readiness(env, False, mark)
        assert "store_writer" in event["failed"] and "store" in event["failed"]
        status, health = monitor.get("/healthz")
        assert status == 503 and "wedged" in health["detail"], health
    finally:
        mark = env.hub.mark()
        blocker.execute("ROLLBACK")
        blocker.close()
    _readiness(env, True, mark)
    assert monitor.get("/healthz") == (200, {"status": "ok"})
    status, body = client.post("/v1/changes", Synth(seed=1502).arrival())
    assert status == 201, body
