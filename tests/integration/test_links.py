"""The same guarantees on every other link, over real mutual TLS on loopback.

Each test runs once per link (national, card, intermediate, moj) with the hub, the
mock prefecture and that link's mock as real processes.  ``Traffic`` makes the register
post changes (or card events) that cause messages on the link under test, and records
from the hub's answers which 更新順番号 (or card event numbers) were routed there, so
each test can say exactly what the mock must hold.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from typing import Any

import pytest

from devtools.harness import Env, check_order
from devtools.synthetic import Synth, individual_number

LINKS = ("national", "card", "intermediate", "moj")


class Traffic:
    """Changes that cause messages on ``link``; ``routed`` collects their numbers."""

    def __init__(self, env: Env, link: str, seed: int) -> None:
        self.env, self.link = env, link
        self.synth = Synth(seed=seed)
        self.client = env.client()
        self.routed: set[int] = set()
        self.messages = 0  # link sequences the traffic causes
        self.card_holders: list[str] = []
        self.n = 0

    def send(self, count: int) -> None:
        if self.link == "card":
            self._card_events(count)
            return
        changes = []
        for _ in range(count):
            c = self.synth.arrival(newborn=self.link == "national")
            r = c["resident"]
            if self.link == "intermediate":  # a 個人番号 gives a 団体内統合宛名番号: copies
                r["individual_number"] = individual_number(self.synth.rng)
            if self.link == "moj":
                r["resident_type"] = "foreign"
                r["foreign"] = {"nationality": "フィリピン", "article_30_45": "2",
                                "residence_status": "永住者"}
            changes.append(c)
        status, body = self.client.post("/v1/changes/batch", {"changes": changes})
        assert status == 200, body
        for res in body["results"]:
            assert res["status"] == "accepted", res
            if self.link in res["links"]:
                self.routed.add(res["update_seq"])
                # A new 団体内統合宛名番号 sends a 符号 request before the first copy.
                self.messages += 2 if self.link == "intermediate" else 1

    def _card_events(self, count: int) -> None:
        if not self.card_holders:
            holders = [self.synth.arrival() for _ in range(5)]
            for h in holders:
                h["resident"]["individual_number"] = individual_number(self.synth.rng)
            assert self.client.post("/v1/changes/batch", {"changes": holders})[0] == 200
            self.card_holders = [h["resident_code"] for h in holders]
        # Each holder's card through its life, round and round: every event allowed.
        life = ("issue", "suspend", "suspend_lift", "return", "issue", "revoke")
        for _ in range(count):
            holder, turn = self.n % 5, self.n // 5  # the holder's turn-th event
            self.n += 1
            status, body = self.client.post("/v1/card-events", {
                "request_id": f"CE-{self.n}", "operator_id": "op001", "terminal_id": "t01",
                "resident_code": self.card_holders[holder], "event": life[turn % len(life)],
                "event_date": dt.date.today().isoformat()})
            assert status == 201 and body["links"] == ["card"], body
            self.routed.add(body["event_seq"])
            self.messages += 1


@pytest.fixture
def start(env_with: Any) -> Any:
    """The hub, the mock prefecture and the mock of ``link`` (with overrides)."""
    return lambda link, mock_extra=None: env_with(link, extra={link: mock_extra or []})


def assert_holds_exactly(e: Env, link: str, routed: set[int]) -> list[dict[str, Any]]:
    """The mock applied every routed message once, in order per resident, nothing else."""
    applied = e.applied(link)
    check_order(applied)
    got = [r["update_seq"] for r in applied
           if not r["withdrawn"] and r["update_seq"] is not None]
    assert sorted(got) == sorted(routed)
    return applied


@pytest.mark.parametrize("link", LINKS)
def test_temporary_refusals_are_retried(start: Any, link: str) -> None:
    e = start(link)
    e.other_control(link, "POST", "/faults",
                    {"refuse": {"kind": "temporary", "count": 2, "code": "busy"}})
    t = Traffic(e, link, seed=301)
    t.send(8)
    assert len(t.routed) == 8
    e.wait_applied(t.messages, mock=link)
    assert_holds_exactly(e, link, t.routed)
    _, refusals = e.other_control(link, "GET", "/refusals")
    assert [(r["permanent"], r["code"]) for r in refusals] == [(False, "busy")] * 2
    m = e.metrics()
    assert m[f'jukihub_link_retries_total{{cause="refused",link="{link}"}}'] == 2
    assert m[f'jukihub_link_delivered_total{{link="{link}"}}'] == t.messages


@pytest.mark.parametrize("link", LINKS)
def test_peer_restarted_mid_stream_loses_and_repeats_nothing(start: Any, link: str) -> None:
    e = start(link)
    t = Traffic(e, link, seed=302)
    for _ in range(4):
        t.send(15)
    e.wait_applied(5, mock=link)
    e.kill_other_mock(link)  # SIGKILL while the hub may have frames in flight
    for _ in range(2):
        t.send(15)  # accepted and queued while the peer is down
    mark = e.hub.mark() if e.hub else 0
    e.start_other_mock(link)  # same ports, same database
    e.wait_applied(t.messages, mock=link)
    assert_holds_exactly(e, link, t.routed)
    assert e.hub is not None
    e.hub.wait_event(lambda ev: ev.get("event") == "link.ready" and ev.get("link") == link,
                     after=mark)


@pytest.mark.parametrize("link", LINKS)
def test_malformed_body_is_refused_permanently(start: Any, link: str) -> None:
    e = start(link)
    assert e.hub is not None
    e.hub.stop()
    # A body corrupted in the store (a bad upgrade, a disk error): only the peer can
    # tell, and it must refuse it for good; the hub dead-letters it and holds back
    # that resident only.
    db = sqlite3.connect(e.tmp / "jukihub.db")
    with db:
        (nxt,) = db.execute("SELECT next_seq FROM link_state WHERE link=?", (link,)).fetchone()
        db.execute("INSERT INTO outbox (link, seq, update_seq, resident_key, kind, payload, "
                   "enqueued_at, state) VALUES (?, ?, 0, 'corrupted', 'x', ?, ?, 'pending')",
                   (link, nxt, b"\xc1<broken", time.time()))
        db.execute("UPDATE link_state SET next_seq=? WHERE link=?", (nxt + 1, link))
    db.close()
    e.start_hub()
    mark = 0  # this hub process's own events, from its first: its links start before
    # its intake serves, so the dead letter may come before hub.ready
    t = Traffic(e, link, seed=303)
    t.send(5)
    dead = e.hub.wait_event(lambda ev: ev.get("event") == "link.dead_letter"
                            and ev.get("link") == link, after=mark)
    e.wait_applied(1 + t.messages, mock=link)
    applied = assert_holds_exactly(e, link, t.routed)
    assert [r["seq"] for r in applied if r["withdrawn"]] == [1]
    _, refusals = e.other_control(link, "GET", "/refusals")
    assert [(r["seq"], r["permanent"], r["code"]) for r in refusals] == [
        (1, True, dead["code"])]
    m = e.metrics()
    assert m[f'jukihub_link_dead_letters_total{{code="{dead["code"]}",link="{link}"}}'] == 1
    assert m[f'jukihub_link_held_residents{{link="{link}"}}'] == 1


@pytest.mark.parametrize("link", LINKS)
def test_another_links_certificate_is_refused(start: Any, link: str) -> None:
    # The peer presents the prefectural server's (valid, same-CA) certificate.
    e = start(link, [f'mocks.{link}.cert="prefecture"'])
    assert e.hub is not None
    e.hub.wait_event(lambda ev: ev.get("event") == "link.connect_failed"
                     and ev.get("link") == link and ev.get("stage") == "handshake")
    t = Traffic(e, link, seed=304)
    t.send(3)  # accepted and kept; nothing reaches the wrong peer
    m = e.metrics()
    assert m[f'jukihub_link_connect_failures_total{{link="{link}",stage="handshake"}}'] >= 1
    assert m[f'jukihub_link_up{{link="{link}"}}'] == 0
    assert m[f'jukihub_outbox_depth{{link="{link}"}}'] == t.messages
    assert e.other_control(link, "GET", "/state")[1]["applied_seq"] == 0
