"""``jukihub-dev faults``: changes stream through all five links while everything that
can fail does, at moments drawn from a printed seed; then what each peer applied is
compared with what the register recorded.

The hub and the five mock endpoints run as real processes on loopback (``Env``); the
hub's store lives on a small file system the harness mounts for it (tmpfs, as root), so
the store can really fill.  A poster thread posts synthetic changes in batches and, like
the register system, posts a batch again after a lost connection or a 503 (the same
依頼管理番号: the hub answers a repeat with its first answer).  Meanwhile, each at the
moment the schedule gives (after so many changes were accepted):

- ``hub_kill``: SIGKILL the hub, start it again on the same store and ports;
- ``mock_kill``: SIGKILL a peer's mock, start it again on its own database;
- ``cut``: the peer cuts its connection in the middle of a frame (applying the whole
  frames before the cut, acknowledging none of them);
- ``stall``: the peer stops reading for longer than the heartbeat timeout;
- ``refuse``: the peer refuses the next few messages temporarily;
- ``fill``: a ballast file fills the store's file system, held a while, then deleted.

With ``--hubs 2`` two hubs share a private PostgreSQL store (README, *Two hubs on one
PostgreSQL*): the poster sends each batch to the next hub in turn (to the other one when
a hub is down, as a load balancer would), and each ``hub_kill`` SIGKILLs the two hubs
by turns — the owner of some links dies and the other takes them over.  (``fill`` is
skipped: the store is the database server's, not on the small file system.)

When the stream ends and the last fault is over, the harness times the drain until every
link's peer has applied everything the hub numbered, then prints per link: messages
numbered, applied, **lost** (numbered or recorded but never applied), **twice** (the same
resident's same 更新順番号 applied again), **out of order** (a resident's 更新順番号 not
increasing) and **pending** (not acknowledged) — for the prefecture, against the
register's own identity records.  All zero, pending too once drained, or the run fails.
The same seed gives the same schedule and the same changes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import subprocess
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from certs.devca import init_certs
from devtools.harness import CONFIG, Env
from devtools.synthetic import Synth
from hub.config import LINK_NAMES, load_config

KINDS = ("hub_kill", "mock_kill", "cut", "stall", "refuse", "fill")


@dataclasses.dataclass(frozen=True, order=True)
class Fault:
    at: int       # fires once this many changes were accepted
    kind: str
    target: str   # a link's mock, "hub" or "store"

    def __str__(self) -> str:
        return f"{self.at:>8,} {self.kind:<9} {self.target}"


def schedule(seed: int, changes: int, counts: dict[str, int]) -> list[Fault]:
    """The faults of a run: ``counts`` of each kind at moments drawn from ``seed`` (the
    same seed, the same schedule), none in the first or last twentieth of the stream."""
    rng = random.Random(seed)
    faults = []
    for kind in KINDS:
        for _ in range(counts.get(kind, 0)):
            at = rng.randrange(changes // 20, max(changes // 20 + 1, changes * 19 // 20))
            target = ("hub" if kind == "hub_kill" else "store" if kind == "fill"
                      else rng.choice(LINK_NAMES))
            faults.append(Fault(at, kind, target))
    return sorted(faults)


# ---- the store's own small file system ------------------------------------------------------


@contextlib.contextmanager
def small_file_system(size_mib: int) -> Iterator[Path | None]:
    """A tmpfs of ``size_mib`` for the hub's store (``None`` where mounting is not
    allowed: not root), unmounted after."""
    mount = Path(tempfile.mkdtemp(prefix="jukihub-storefs-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    try:
        yield mount if done.returncode == 0 else None
    finally:
        if done.returncode == 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        with contextlib.suppress(OSError):
            mount.rmdir()


def fill(folder: Path) -> Path:
    """A ballast file that takes every free byte of ``folder``'s file system."""
    ballast = folder / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):  # down to the last byte
            block = b"\0" * size
            with contextlib.suppress(OSError):
                while os.write(fd, block):
                    pass
    finally:
        os.close(fd)
    return ballast


# ---- the register system, posting through it all --------------------------------------------


class Poster(threading.Thread):
    """Posts ``changes`` in batches as the register system would: after a lost
    connection or a 503, the same batch again from its first unaccepted change."""

    def __init__(self, env: Env, changes: list[dict[str, Any]], batch: int,
                 hub_up: threading.Event, cards: dict[int, list[dict[str, Any]]],
                 hubs: Hubs | None = None) -> None:
        super().__init__(daemon=True)
        self.env, self.changes, self.batch, self.hub_up = env, changes, batch, hub_up
        self.hubs = hubs  # two hubs: each request to the next in turn
        self.turn = 0
        self.cards = cards  # change index -> card events to post once it is accepted
        self.accepted: dict[str, int] = {}  # request id -> 更新順番号
        self.cards_accepted = 0
        self.refused: Counter[str] = Counter()
        self.causes: Counter[str] = Counter()  # why a request was posted again
        self.retries = 0
        self.progress = threading.Condition()
        self.position = 0  # changes done (accepted or refused for good)
        self.failure: str | None = None
        # (at, started): the poster goes past change ``at`` only once that fault is on,
        # so a fault strikes the stream where the schedule says, however long the ones
        # before it last.
        self.gates: deque[tuple[int, threading.Event]] = deque()

    def run(self) -> None:
        try:
            self._post_all()
        except Exception as exc:  # reported, not raised into a thread nobody joins
            self.failure = f"{type(exc).__name__}: {exc}"
        with self.progress:
            self.progress.notify_all()

    def _post_all(self) -> None:
        client, i = None, 0
        while i < len(self.changes):
            while self.gates and self.gates[0][0] <= i:
                self.gates[0][1].wait()
                self.gates.popleft()
            nxt = self.gates[0][0] if self.gates else len(self.changes)
            part = self.changes[i : min(i + self.batch, max(nxt, i + 1))]
            try:
                if client is None:
                    client = self._client()
                status, body = client.post("/v1/changes/batch", {"changes": part})
            except OSError:
                self.causes["connection lost"] += 1
                client = self._again(client)
                continue
            if status != 200:  # the whole batch unavailable (503), or the hub going down
                if status < 500:
                    raise RuntimeError(f"batch refused {status}: {body}")
                self.causes[f"HTTP {status}"] += 1
                client = self._again(client)
                continue
            done = self._taken(body["results"])
            if done < len(part):
                self.retries += 1
                self._pause()
            for j in range(i, i + done):
                for event in self.cards.get(j, ()):
                    client = self._card(client, event)
            i += done
            if self.hubs is not None:  # the next batch to the other hub
                client.close()
                client, self.turn = None, self.turn + 1
            with self.progress:
                self.position = i
                self.progress.notify_all()
        if client is not None:
            client.close()

    def _taken(self, results: list[dict[str, Any]]) -> int:
        """How many of a batch's changes are done (accepted, or refused for good) before
        the first the hub could not take now (that one and the rest go again: their
        ids keep them once)."""
        done = 0
        for result in results:
            code = result.get("error", {}).get("code", "")
            if "update_seq" in result:
                self.accepted[result["request_id"]] = result["update_seq"]
            elif retryable(code):
                self.causes[code] += 1
                break
            else:
                self.refused[code or "?"] += 1
            done += 1
        return done

    def _card(self, client: Any, event: dict[str, Any]) -> Any:
        """One card event (交付), posted until the hub answers it."""
        while True:
            try:
                if client is None:
                    client = self._client()
                status, body = client.post("/v1/card-events", event)
            except OSError:
                self.causes["connection lost"] += 1
                client = self._again(client)
                continue
            code = body.get("error", {}).get("code", "") if isinstance(body, dict) else ""
            if status >= 500 or retryable(code):
                self.causes[code or f"HTTP {status}"] += 1
                client = self._again(client)
                continue
            if status == 201:
                self.cards_accepted += 1
            else:
                self.refused[code or f"HTTP {status}"] += 1
            return client

    def _client(self) -> Any:
        if self.hubs is None:
            return self.env.client()
        return self.hubs.client(self.turn)

    def _again(self, client: Any) -> Any:
        self.retries += 1
        if client is not None:
            client.close()
        self.turn += 1  # two hubs: the other one (one of them is up)
        self.hub_up.wait(120)
        hub = self.env.hub
        if self.hub_up.is_set() and hub is not None and hub.p.poll() is not None:
            raise RuntimeError(f"the hub exited by itself (status {hub.p.returncode}); "
                               "its last lines:\n" + "\n".join(hub.lines[-20:]))
        self._pause()
        return None

    @staticmethod
    def _pause() -> None:
        threading.Event().wait(0.05)  # a register system's retry backoff

    def wait_for(self, n: int) -> bool:
        """Until ``n`` changes are done (``False`` if the poster stopped first)."""
        with self.progress:
            return self.progress.wait_for(lambda: self.position >= n or not self.is_alive())


def retryable(code: str) -> bool:
    """A change the hub could not take now (503/504 in a single request): the register
    system posts it again — a store or a peer unavailable, J-LIS silent, the writer
    busy, the intake's gate shut."""
    return code.endswith(("_unavailable", "_timeout")) or code in (
        "busy", "maintenance", "backpressure")


# ---- one run --------------------------------------------------------------------------------


@dataclasses.dataclass
class Options:
    changes: int = 10_000
    seed: int = 1
    batch: int = 50
    counts: dict[str, int] = dataclasses.field(default_factory=lambda: {
        "hub_kill": 5, "mock_kill": 5, "cut": 3, "stall": 2, "refuse": 3, "fill": 1})
    stall_seconds: float = 3.0      # beyond the harness's heartbeat timeout (2 s)
    fill_seconds: float = 2.0
    store_fs_mib: int = 512
    drain_timeout: float = 600.0
    hubs: int = 1  # 2: two hubs on a private PostgreSQL server


class Hubs:
    """Two hubs on one store: the Env's own (``a``) and a second (``b``, its own data
    folder); which to post to next, and which to kill next."""

    # Short leases: a dead hub's links are taken over ~2.3 s after its last renewal.
    CLUSTER = ["cluster.lease=2", "cluster.renew=0.25", "cluster.poll=0.05"]

    def __init__(self, env: Env, overrides: list[str]) -> None:
        self.env, self.overrides = env, overrides
        self.second: Any = None
        self.second_port = 0
        self.kills = Counter[str]()
        self.lock = threading.Lock()

    def start_second(self) -> None:
        proc, port = self.env.start_another_hub("b", extra=self.overrides)
        with self.lock:
            self.second, self.second_port = proc, port

    def client(self, turn: int) -> Any:
        from hub.support.client import HttpsClient

        with self.lock:
            port = self.env.intake_port if turn % 2 == 0 else self.second_port
        return HttpsClient("127.0.0.1", port, self.env.certs_dir, "register")

    def kill_next(self, on: threading.Event) -> None:
        """SIGKILL the hubs by turns, each started again on its own folder and store."""
        victim = "a" if sum(self.kills.values()) % 2 == 0 else "b"
        self.kills[victim] += 1
        if victim == "a":
            assert self.env.hub is not None
            self.env.hub.kill()
            on.set()
            self.env.start_hub()
        else:
            self.second.kill()
            on.set()
            self.start_second()

    def stop(self) -> None:
        if self.second is not None:
            self.second.stop()


def run(opts: Options, out: Any = None) -> bool:
    """One run; prints as it goes and the results; ``True`` if all held."""
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    faults = schedule(opts.seed, opts.changes, opts.counts)
    say(f"jukihub fault harness — seed {opts.seed}: {opts.changes:,} changes, "
        + ", ".join(f"{n} {k}" for k, n in opts.counts.items() if n))
    say("schedule (after so many changes accepted):")
    for f in faults:
        say(f"  {f}")
    with tempfile.TemporaryDirectory(prefix="jukihub-faults-") as d, \
            (small_file_system(opts.store_fs_mib) if opts.hubs == 1
             else contextlib.nullcontext(None)) as storefs, \
            _database(opts.hubs) as database:
        tmp = Path(d)
        if database is not None:
            say("  (two hubs on a private PostgreSQL server: the fill faults are skipped)")
            faults = [f for f in faults if f.kind != "fill"]
        elif storefs is None:
            say("  (no small file system: mounting needs root; the fill faults are skipped)")
            faults = [f for f in faults if f.kind != "fill"]
        certs = tmp / "certs"
        init_certs(certs, load_config(CONFIG).parties)
        store = database or f"sqlite:///{(storefs or tmp) / 'jukihub.db'}"
        env = Env(tmp, certs, store_url=store, heartbeat_interval=0.5, heartbeat_timeout=2.0)
        hubs = Hubs(env, []) if database is not None else None
        try:
            return _run(env, opts, faults, storefs, say, hubs)
        finally:
            env.stop()
            if hubs is not None:
                hubs.stop()


@contextlib.contextmanager
def _database(hubs: int) -> Iterator[str | None]:
    """Two hubs: a private PostgreSQL server for their store (its URL); else nothing."""
    if hubs == 1:
        yield None
        return
    from devtools.pgserver import PgServer

    server = PgServer().start()
    try:
        yield server.database()
    finally:
        server.stop()


def _run(env: Env, opts: Options, faults: list[Fault], storefs: Path | None,
         say: Any, hubs: Hubs | None = None) -> bool:
    synth = Synth(seed=opts.seed)
    env.start_mocks({name: None for name in LINK_NAMES if name != "prefecture"})
    overrides = ['logging.level="warning"', "intake.max_batch=1000",
                 "operations.store_free_floor_mb=1", *(Hubs.CLUSTER if hubs else [])]
    env.start_hub(overrides)
    if hubs is not None:
        hubs.overrides = overrides
        hubs.start_second()
    changes = list(synth.stream(opts.changes))
    env.from_elsewhere(synth)  # J-LIS knows where each arrival came from
    hub_up = threading.Event()
    hub_up.set()
    poster = Poster(env, changes, opts.batch, hub_up, _card_events(synth, changes), hubs)
    poster.gates.extend((f.at, threading.Event()) for f in faults)
    gates = [started for _, started in poster.gates]
    started = time.perf_counter()
    poster.start()
    fired: Counter[str] = Counter()
    running: list[threading.Thread] = []
    processes = threading.Lock()  # one kill and restart at a time (the Env is shared)
    for fault, gate in zip(faults, gates, strict=True):
        if not poster.wait_for(fault.at):
            break
        # Each fault runs in its own thread, which opens the gate once it is on: the
        # stream goes on through it, and through the faults that overlap it.
        t = threading.Thread(target=_fire, args=(env, fault, hub_up, opts, storefs, gate,
                                                 processes, hubs), daemon=True)
        t.start()
        running.append(t)
        fired[fault.kind] += 1
    for gate in gates:  # the poster stopped early: let nothing wait for it
        gate.set()
    for t in running:
        t.join()
    poster.join()
    streamed = time.perf_counter() - started
    if poster.failure is not None or FAILED:
        say(f"the poster failed: {poster.failure}" if poster.failure else
            "faults that could not be done: " + "; ".join(FAILED))
        FAILED.clear()
        return False
    for name in LINK_NAMES:  # the faults are over: nothing left injected
        env.control_of(name, "DELETE", "/faults")
    say(f"streamed {len(changes):,} changes and {poster.cards_accepted:,} card events in "
        f"{streamed:.1f} s: accepted {len(poster.accepted):,}, refused "
        f"{sum(poster.refused.values()):,}"
        + (f" ({dict(poster.refused)})" if poster.refused else "")
        + "; faults fired: " + ", ".join(f"{n} {k}" for k, n in fired.items()))
    if hubs is not None:
        say("  two hubs: killed " + ", ".join(f"hub {h} {n}×" for h, n in
                                              sorted(hubs.kills.items())))
    say("  posted again " + (", ".join(f"{n} × {why}" for why, n in poster.causes.most_common())
                             or "never"))
    pending_at_end = _pending(env)
    drain_started = time.perf_counter()
    _settle(env, opts.drain_timeout)
    drained = time.perf_counter() - drain_started
    say(f"drained {sum(pending_at_end.values()):,} pending messages in {drained:.1f} s "
        "after the stream and its faults ended")
    rows = _compare(env, poster.accepted)
    say(f"{'link':<13}{'numbered':>10}{'applied':>10}{'lost':>7}{'twice':>7}"
        f"{'out of order':>14}{'pending':>9}")
    ok = not poster.refused and len(poster.accepted) == len(changes)
    for link, r in rows.items():
        say(f"{link:<13}{r['numbered']:>10,}{r['applied']:>10,}{r['lost']:>7,}"
            f"{r['twice']:>7,}{r['out_of_order']:>14,}{r['pending']:>9,}")
        ok = ok and r["lost"] == r["twice"] == r["out_of_order"] == r["pending"] == 0
    say(f"result {'OK' if ok else 'FAILED'}")
    return ok


def _card_events(synth: Synth, changes: list[dict[str, Any]]
                 ) -> dict[int, list[dict[str, Any]]]:
    """A 個人番号カード issued (交付) to one in five arrivals who come with a number and
    stay: posted after the arrival is accepted, so the card link streams too."""
    staying = {p.code for p in synth.people if not p.removed}
    events: dict[int, list[dict[str, Any]]] = {}
    for i, c in enumerate(changes):
        if (c["reason"] == "move_in" and c["resident"].get("individual_number")
                and c["resident_code"] in staying and synth.rng.random() < 0.2):
            events[i] = [{"request_id": f"card-{c['resident_code']}", "operator_id": "op001",
                          "terminal_id": "t01", "resident_code": c["resident_code"],
                          "event": "issue", "event_date": c["event_date"]}]
    return events


def _fire(env: Env, fault: Fault, hub_up: threading.Event, opts: Options,
          storefs: Path | None, on: threading.Event, processes: threading.Lock,
          hubs: Hubs | None = None) -> None:
    """One fault; ``on`` is set once it is in effect (a process down, a peer stalled,
    the disk full), whatever comes after.  A fault that could not be done is kept in
    ``FAILED`` (the run fails with it)."""
    try:
        if fault.kind == "hub_kill" and hubs is not None:
            with processes:  # the other hub takes the changes meanwhile
                hubs.kill_next(on)
        elif fault.kind in ("hub_kill", "mock_kill"):
            with processes:
                _kill_and_restart(env, fault, hub_up, on)
        elif fault.kind in ("cut", "refuse"):
            spec = ({"cut_mid_frame": True} if fault.kind == "cut" else
                    {"refuse": {"kind": "temporary", "count": 3, "code": "busy"}})
            with processes:  # not while its mock is being restarted
                env.control_of(fault.target, "POST", "/faults", spec)
        elif fault.kind == "stall":
            with processes:  # not while its mock is being restarted
                env.control_of(fault.target, "POST", "/faults", {"stall": True})
            on.set()
            threading.Event().wait(opts.stall_seconds)  # stalled past the heartbeat timeout
            with processes:
                env.control_of(fault.target, "POST", "/faults", {"stall": False})
        elif fault.kind == "fill" and storefs is not None:
            ballast = fill(storefs)
            on.set()
            threading.Event().wait(opts.fill_seconds)  # the store full for a while
            ballast.unlink()
    except Exception as exc:
        FAILED.append(f"{fault}: {type(exc).__name__}: {exc}")
    finally:
        on.set()


FAILED: list[str] = []  # faults that could not be done, this process's runs


def _kill_and_restart(env: Env, fault: Fault, hub_up: threading.Event,
                      on: threading.Event) -> None:
    if fault.kind == "hub_kill":
        assert env.hub is not None
        hub_up.clear()
        env.hub.kill()
        on.set()
        env.start_hub()
        hub_up.set()
    elif fault.target == "prefecture":
        assert env.mock is not None
        env.mock.kill()
        on.set()
        env.start_mock()
    else:
        env.kill_other_mock(fault.target)
        on.set()
        env.start_other_mock(fault.target)


def _pending(env: Env) -> dict[str, int]:
    return {link: int(numbered) - int(acked) for link, numbered, acked in env.read_store(
        "SELECT link, next_seq - 1, acked_seq FROM link_state")}


def _settle(env: Env, timeout: float) -> None:
    """Until everything numbered is applied and nothing is left unacknowledged."""
    while True:
        env.settle(timeout)
        if not any(_pending(env).values()):
            return


def _compare(env: Env, accepted: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per link: numbered, applied, lost, twice, out of order, pending."""
    register = {int(seq): code for seq, code in env.read_store(
        "SELECT update_seq, resident_code FROM identity_records")}
    pending = _pending(env)
    rows: dict[str, dict[str, int]] = {}
    for link in LINK_NAMES:
        log = env.applied(link)
        applied = [r for r in log if not r["withdrawn"]]
        numbered = env.sent_on(link)
        seen: Counter[tuple[str, int]] = Counter(
            (r["resident_code"], r["update_seq"]) for r in applied
            if r["update_seq"] is not None)
        if link == "prefecture":  # against the register itself
            got = {r["update_seq"] for r in applied}
            lost = len((set(register) | set(accepted.values())) - got)
        else:
            lost = numbered - len(log)
        rows[link] = {"numbered": numbered, "applied": len(applied), "lost": lost,
                      "twice": sum(n - 1 for n in seen.values() if n > 1),
                      "out_of_order": _out_of_order(applied), "pending": pending.get(link, 0)}
    return rows


def _out_of_order(applied: list[dict[str, Any]]) -> int:
    """Residents' 更新順番号 not increasing in the order the peer applied them."""
    last: dict[str, int] = {}
    wrong = 0
    for r in applied:
        seq = r["update_seq"]
        if seq is None:
            continue
        if seq <= last.get(r["resident_code"], 0):
            wrong += 1
        last[r["resident_code"]] = max(seq, last.get(r["resident_code"], 0))
    return wrong


def counts_from(text: str | None, default: dict[str, int]) -> dict[str, int]:
    """``hub_kill=50,mock_kill=20`` over the defaults."""
    counts = dict(default)
    for part in filter(None, (text or "").split(",")):
        kind, _, n = part.partition("=")
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r} (one of {', '.join(KINDS)})")
        counts[kind] = int(n)
    return counts

