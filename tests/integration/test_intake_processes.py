"""The intake's worker processes (``[intake] processes``), as real processes: a worker
that dies is started again and nothing it had answered is lost; workers do not outlive
the hub; single changes (checked inline in the worker) and a large batch (checked in
its thread pool) are served side by side."""

from __future__ import annotations

import json
import os
import select
import signal
import threading
from typing import Any

from devtools.harness import Env
from devtools.synthetic import Synth
from hub.support.client import HttpsClient
from hub.worker import INLINE_BELOW


def _exits(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` (not our child) ends within ``timeout``: waits on a
    pidfd, which becomes readable when the process is gone."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def _worker_pids(env: Env, after: int = 0) -> list[int]:
    assert env.hub is not None
    with env.hub.cond:
        return [e["pid"] for e in env.hub.events[after:]
                if e.get("event") == "intake.worker_ready"]


def _requests(env: Env) -> int:
    [(n,)] = env.read_store("SELECT count(*) FROM request_ids")
    return int(n)


def test_a_killed_worker_is_started_again_and_its_answers_stand(env: Env) -> None:
    assert env.hub is not None
    [pid] = _worker_pids(env)
    synth = Synth(seed=411)
    client = env.client()
    assert client.post("/v1/changes", synth.arrival())[0] == 201
    answered = _requests(env)
    mark = env.hub.mark()
    os.kill(pid, signal.SIGKILL)
    ended = env.hub.wait_event(lambda e: e.get("event") == "intake.worker_ended", after=mark)
    assert ended["pid"] == pid and ended["worker"] == 1
    env.hub.wait_event(lambda e: e.get("event") == "intake.worker_ready", after=mark)
    [new_pid] = _worker_pids(env, after=mark)
    assert new_pid != pid
    # The client's kept-alive connection died with the worker; it opens a new one.
    status, body = client.post("/v1/changes", synth.arrival())
    assert status == 201, body
    assert _requests(env) == answered + 1
    client.close()


def test_workers_stop_when_the_hub_is_gone(env: Env) -> None:
    assert env.hub is not None
    [pid] = _worker_pids(env)
    assert not _exits(pid, 0)
    env.hub.kill()  # SIGKILL: no shutdown handlers; the socketpair closes with it
    assert _exits(pid, 30), "the intake worker outlived the hub"


def test_singles_and_a_large_batch_side_by_side(env_with: Any) -> None:
    env = env_with(hub_extra=["intake.max_batch=1000"])
    synth = Synth(seed=412)
    batch = [synth.arrival() for _ in range(400)]
    singles = [synth.arrival() for _ in range(30)]
    client = env.client()
    # The batch goes to the worker's pool, the singles are checked inline.
    assert len(json.dumps({"changes": batch}, ensure_ascii=False).encode()) > INLINE_BELOW
    assert all(len(json.dumps(c, ensure_ascii=False).encode()) < INLINE_BELOW for c in singles)
    results: dict[str, Any] = {}

    def post_batch() -> None:
        other = env.client()
        results["batch"] = other.post("/v1/changes/batch", {"changes": batch})
        other.close()

    poster = threading.Thread(target=post_batch)
    poster.start()
    statuses = [client.post("/v1/changes", c)[0] for c in singles]
    poster.join(timeout=120)
    assert statuses == [201] * len(singles)
    status, body = results["batch"]
    assert status == 200
    assert [r["status"] for r in body["results"]] == ["accepted"] * len(batch)
    assert _requests(env) == len(batch) + len(singles)
    client.close()


def test_a_worker_answers_bad_input_itself(env: Env) -> None:
    """Refused in the worker, before the hub is asked: nothing is written."""
    client: HttpsClient = env.client()
    before = _requests(env)
    status, body = client.request("POST", "/v1/changes", raw=b"{not json")
    assert status == 400 and body["error"]["code"] == "invalid_json"
    status, body = client.post("/v1/changes", {"changes": "not a change"})
    assert status == 400 and body["error"]["code"] == "schema_invalid"
    assert _requests(env) == before
    client.close()
