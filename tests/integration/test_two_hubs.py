"""Two hubs on one PostgreSQL (issue 16, item 3), as real processes on the private
server: both take changes, the numbers come from the database, each link is owned by
one hub at a time, a dead owner's link is taken over within the lease, and a hub cut off
from the database (a partition made by a proxy, not a kill) stops sending before the
other takes its link — the mock peer saw the two hubs' data frames one after the other,
never interleaved."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.harness import Env, Proc, check_order
from devtools.pgproxy import PgProxy
from devtools.synthetic import Synth
from hub.support.client import HttpsClient

# Short leases, so the test is quick: a link is taken over ~2.25 s after its owner's
# last renewal; an owner stops sending 1.6 s after it sent its last claim.
LEASE, RENEW = 2.0, 0.25
CLUSTER = [f"cluster.lease={LEASE}", f"cluster.renew={RENEW}", "cluster.poll=0.05"]


@pytest.fixture
def database(pg_server: Any) -> str:
    return str(pg_server.database())


@pytest.fixture
def proxy(pg_server: Any) -> Iterator[PgProxy]:
    p = PgProxy(pg_server.socket)
    yield p
    p.close()


@pytest.fixture
def hub_store(database: str, proxy: PgProxy) -> str:
    """The first hub reaches the database through the proxy (so it can be cut off)."""
    return proxy.url(database)


def post_batches(clients: list[HttpsClient], changes: list[dict[str, Any]],
                 accepted: dict[str, int], size: int = 10) -> None:
    """``changes`` in batches, each to the next of ``clients`` in turn."""
    for n, i in enumerate(range(0, len(changes), size)):
        status, body = clients[n % len(clients)].post(
            "/v1/changes/batch", {"changes": changes[i: i + size]})
        assert status == 200, body
        for r in body["results"]:
            assert r["status"] == "accepted", r
            accepted[r["request_id"]] = r["update_seq"]


def owned(proc: Proc, link: str = "prefecture", after: int = 0,
          timeout: float = 30) -> dict[str, Any]:
    return proc.wait_event(lambda e: e.get("event") == "link.owned" and e.get("link") == link,
                           timeout=timeout, after=after)


def assert_each_once_in_order(e: Env, accepted: dict[str, int]) -> None:
    """Numbers from the database: one gap-free 更新順番号 series whichever hub numbered
    (J-LIS's designations add their own); the prefecture applied each record once, in
    order per resident; every accepted change among them.  (Settled first: a
    designation J-LIS pushes meanwhile numbers another record.)"""
    e.settle(links=("prefecture", *e.others))  # the links whose mocks run
    records = [r[0] for r in e.read_store(
        "SELECT update_seq FROM identity_records ORDER BY update_seq")]
    assert records == list(range(1, len(records) + 1))
    assert set(accepted.values()) <= set(records)
    applied = e.applied()
    check_order(applied)
    assert sorted(r["update_seq"] for r in applied if not r["withdrawn"]) == records


def test_both_hubs_take_changes_and_a_dead_owner_s_link_is_taken_over(
        env_with: Any, database: str) -> None:
    e = env_with("national", hub_extra=CLUSTER)
    assert e.hub is not None
    owned(e.hub)  # the first hub holds the links (the second is not there yet)
    owned(e.hub, "national")
    b, b_port = e.start_another_hub("b", store_url=database)
    clients = [e.client(), HttpsClient("127.0.0.1", b_port, e.certs_dir, "register")]
    try:
        synth = Synth(seed=1601)
        changes = list(synth.stream(300))
        e.from_elsewhere(synth)  # a domestic 転入 asks J-LIS for its 転出証明書情報
        accepted: dict[str, int] = {}
        post_batches(clients, changes[:200], accepted)  # every one accepted at once
        assert len(set(accepted.values())) == 200
        assert_each_once_in_order(e, accepted)
        status, ready = clients[1].get("/readyz")
        assert status == 200 and ready["links"]["prefecture"]["state"] == "standby"
        # The second hub's 転入 asked J-LIS through the first hub, which owns the link.
        b.wait_event(lambda ev: ev.get("event") == "link.query_relayed"
                     and ev.get("link") == "national", timeout=1)

        mark = b.mark()
        e.hub.kill()  # the owner dies: SIGKILL, its lease left to run out
        died = time.monotonic()
        owned(b, after=mark, timeout=LEASE * 5)
        took = time.monotonic() - died
        assert took <= LEASE + 2 * RENEW + 1.0, f"taken over after {took:.2f} s"
        for link in ("prefecture", "national"):  # connected again, now from this hub
            b.wait_event(lambda ev, link=link: ev.get("event") == "link.ready"
                         and ev.get("link") == link, after=mark, timeout=LEASE * 5)
        post_batches(clients[1:], changes[200:], accepted)
        assert len(set(accepted.values())) == 300
        assert_each_once_in_order(e, accepted)
        print(f"takeover after the owner's SIGKILL: {took:.2f} s (lease {LEASE} s)")
    finally:
        for c in clients:
            c.close()
        b.stop()


def test_a_hub_cut_off_from_the_database_stops_sending_before_the_other_takes_over(
        env_with: Any, database: str, proxy: PgProxy) -> None:
    e = env_with(hub_extra=CLUSTER)
    assert e.hub is not None
    owned(e.hub)
    b, b_port = e.start_another_hub("b", store_url=database)
    client_b = HttpsClient("127.0.0.1", b_port, e.certs_dir, "register")
    synth = Synth(seed=1602)
    accepted: dict[str, int] = {}
    stop = threading.Event()
    errors: list[str] = []

    def stream() -> None:  # changes keep coming through the second hub all along
        try:
            while not stop.is_set():
                post_batches([client_b], list(synth.stream(10)), accepted)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(repr(exc))

    poster = threading.Thread(target=stream)
    poster.start()
    try:
        e.wait_applied(50)  # the first hub is sending what the second numbers
        mark = b.mark()
        proxy.cut()  # the first hub can no longer reach the database, nor be told
        cut_at = time.monotonic()
        e.store_url = database  # the test's own reads go round the proxy
        owned(b, after=mark, timeout=LEASE * 10)
        took = time.monotonic() - cut_at
        after = e.sent_on("prefecture")
        e.wait_applied(after + 50, timeout=60)  # the second hub sends now
    finally:
        stop.set()
        poster.join(60)
    try:
        assert not errors
        assert_each_once_in_order(e, accepted)
        status, senders = e.control("GET", "/senders")
        assert status == 200 and len(senders) >= 2
        # No two owners, ever: every data frame of one connection came before the
        # first of the next one — the cut-off hub had stopped before the other began.
        spans = sorted((s["first"], s["last"]) for s in senders)
        for (_, last), (first, _) in zip(spans, spans[1:], strict=False):
            assert last < first, f"two connections sent at once: {spans}"
        print(f"takeover after the cut: {took:.2f} s (lease {LEASE} s)")
    finally:
        client_b.close()
        e.hub.kill()  # cut off for good: its process is stopped the hard way
        b.stop()
