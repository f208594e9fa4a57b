"""Run the hub and mock endpoints as real subprocesses, for tests and the benchmark.

Each is ``python -m hub.commands …`` with the repository's ``config.toml`` and overrides
(ports 0, a temporary data folder, quick backoff).  Their JSON log lines are read by
a thread; tests wait on log events (readiness, link state, dead letters) with a
timeout — no sleeps.  Ports are read back from the readiness lines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.control import control
from devtools.leaks import WATCH
from hub.config import LINK_NAMES, load_config
from hub.support.client import HttpsClient

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config.toml"
# The password of every staff account the harness makes (test accounts only).
STAFF_PASSWORD = "correct horse battery staple"


class Proc:
    """A jukihub subprocess whose JSON log lines can be waited on."""

    def __init__(self, args: list[str], overrides: list[str], name: str) -> None:
        cmd = [sys.executable, "-m", "hub.commands", "--config", str(CONFIG)]
        for o in overrides:
            cmd += ["--set", o]
        self.name = name
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.p = subprocess.Popen(cmd + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  cwd=ROOT, env=env)
        self.events: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if self.name == "hub":
                WATCH.note_written(line)  # for the test that finds no personal data in it
            with self.cond:
                self.lines.append(line)
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    pass
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_event(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 60,
                   after: int = 0) -> dict[str, Any]:
        """The first log event (from index ``after``) satisfying ``pred``."""
        def find() -> dict[str, Any] | None:
            return next((e for e in self.events[after:] if pred(e)), None)

        with self.cond:
            ok = self.cond.wait_for(lambda: find() is not None or self.p.poll() is not None,
                                    timeout=timeout)
            found = find()
            if found is not None:
                return found
            tail = "\n".join(self.lines[-30:])
            state = "exited" if self.p.poll() is not None else ("timed out" if not ok else "?")
            raise AssertionError(f"{self.name} {state} waiting for an event; last lines:\n{tail}")

    def mark(self) -> int:
        with self.cond:
            return len(self.events)

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush — a crash."""
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(timeout=30)

    def terminate(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Env:
    """A hub and a mock prefecture on loopback, in a temporary folder."""

    def __init__(self, tmp: Path, certs_dir: Path, store_url: str | None = None,
                 **link: Any) -> None:
        self.tmp = tmp
        # The hub's store: SQLite in ``tmp`` unless a URL (PostgreSQL) is given.
        self.store_url = store_url or f"sqlite:///{tmp / 'jukihub.db'}"
        self.certs_dir = certs_dir
        self.mock: Proc | None = None
        self.hub: Proc | None = None
        self.mock_port = 0
        self.control_port = 0
        self.intake_port = 0
        self.metrics_port = 0
        self.hub_extra: list[str] = []
        self.staff_made: set[str] = set()
        self.sessions: dict[tuple[str, str, int], HttpsClient] = {}
        self.hub_starts = 0
        # Other mocks (the prefecture's are the attributes above): name -> (proc, port,
        # control port).  A link whose mock is not started is disabled in the hub.
        self.others: dict[str, tuple[Proc, int, int]] = {}
        self.link = {"backoff_initial": 0.05, "backoff_max": 0.5, "heartbeat_interval": 1.0,
                     "heartbeat_timeout": 5.0, **link}

    def common(self) -> list[str]:
        return [f'hub.data_dir="{self.tmp}"', f'certs.dir="{self.certs_dir}"']

    def start_mock(self, hub_name: str = "hub.jukihub.test") -> None:
        self.start_mocks({}, hub_name)

    def start_mocks(self, others: dict[str, list[str] | None],
                    hub_name: str = "hub.jukihub.test") -> None:
        """The prefecture's mock and ``others`` (name -> their extra overrides), started
        side by side (each is a Python process that takes a second to start)."""
        self.mock = Proc(["mock", "prefecture"], self.common() + [
            f"mocks.prefecture.port={self.mock_port}",
            f"mocks.prefecture.control_port={self.control_port}",
            f'mocks.prefecture.db="{self.tmp / "mock-prefecture.db"}"',
            f'mocks.prefecture.hub_name="{hub_name}"'], "mock")
        self.start_other_mocks(others)
        ready = self.mock.wait_event(lambda e: e.get("event") == "mock.ready")
        self.mock_port, self.control_port = ready["port"], ready["control_port"]

    def start_other_mock(self, name: str, extra: list[str] | None = None) -> None:
        """Start the mock of another link (``moj``, …) on loopback; started again after
        ``kill_other_mock``, it comes back on the same ports with the same database."""
        self.start_other_mocks({name: extra})

    def start_other_mocks(self, extra: dict[str, list[str] | None]) -> None:
        """Start several other links' mocks side by side (each is a Python process that
        takes a second to start), then wait for each one's readiness."""
        procs = {}
        for name, more in extra.items():
            _, port, control_port = self.others.get(name, (None, 0, 0))
            procs[name] = Proc(["mock", name], self.common() + [
                f"mocks.{name}.port={port}", f"mocks.{name}.control_port={control_port}",
                f'mocks.{name}.db="{self.tmp / f"mock-{name}.db"}"', *(more or [])],
                f"mock-{name}")
        for name, proc in procs.items():
            ready = proc.wait_event(lambda e: e.get("event") == "mock.ready")
            self.others[name] = (proc, ready["port"], ready["control_port"])

    def kill_other_mock(self, name: str) -> None:
        """SIGKILL another link's mock (a crash); ``start_other_mock`` brings it back."""
        self.others[name][0].kill()

    def other_control(self, name: str, method: str, path: str, body: Any = None,
                      ) -> tuple[int, Any]:
        return control("127.0.0.1", self.others[name][2], method, path, body)

    def read_store(self, sql: str, **params: Any) -> list[Any]:
        """Rows of a read of the hub's store, SQLite or PostgreSQL (the hub keeps
        running; only its store writer writes)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.store_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params).all())
        finally:
            engine.dispose()

    def sent_on(self, link: str) -> int:
        """How many messages the hub has committed to ``link``'s outbox so far."""
        [(nxt,)] = self.read_store("SELECT next_seq FROM link_state WHERE link = :l", l=link)
        return int(nxt) - 1

    def identities(self) -> list[dict[str, Any]]:
        """The mock prefecture's whole copy of identity information."""
        return _pages(self.control_port, "/identities", "resident_code", "")

    def seed_national(self) -> int:
        """Give the national mock the city's residents as the prefecture holds them."""
        return seed_national(self.control_port, self.others["national"][2])

    def from_elsewhere(self, synth: Any) -> int:
        """Tell J-LIS (the national mock, if it runs) where ``synth``'s domestic arrivals
        came from, so each 転入 finds its 転出証明書情報; how many people."""
        if "national" not in self.others:
            return 0
        return known_elsewhere(self.others["national"][2], synth)

    def _links(self) -> list[str]:
        """The hub's link overrides: the mocks' ports, the others disabled."""
        links = [f"links.prefecture.{k}={json.dumps(v)}" for k, v in self.link.items()]
        for name in (n for n in LINK_NAMES if n != "prefecture"):
            if name in self.others:
                links += [f"links.{name}.port={self.others[name][1]}"]
                links += [f"links.{name}.{k}={json.dumps(v)}" for k, v in self.link.items()]
            else:
                links.append(f"links.{name}.enabled=false")
        return [*links, f"links.prefecture.port={self.mock_port}"]

    def start_hub(self, extra: list[str] | None = None) -> None:
        if extra is not None:
            self.hub_extra = extra
        self.hub = Proc(["run"], self.common() + self._links() + [
            f'store.url="{self.store_url}"',
            # The intake keeps its port over a restart (clients hold it); the metrics
            # listener takes a new one each start (``metrics_port`` is read back): an old
            # port may have gone to another process meanwhile.
            f"intake.port={self.intake_port}", "metrics.port=0",
            *self.hub_extra], "hub")
        ready = self.hub.wait_event(lambda e: e.get("event") == "hub.ready")
        self.intake_port, self.metrics_port = ready["intake_port"], ready["metrics_port"]
        self.hub_starts += 1

    def start_another_hub(self, folder: str, store_url: str | None = None,
                          extra: list[str] | None = None) -> tuple[Proc, int]:
        """A second hub on the same store (``store_url``: the same database by another
        way, e.g. not through a proxy) and the same mocks, with its own data folder
        ``tmp/folder`` (so its own [cluster] name); its process and intake port.  The
        caller stops it."""
        data = self.tmp / folder
        data.mkdir(exist_ok=True)
        proc = Proc(["run"], [f'hub.data_dir="{data}"', f'certs.dir="{self.certs_dir}"',
                              *self._links(), f'store.url="{store_url or self.store_url}"',
                              "intake.port=0", "metrics.port=0", *(extra or self.hub_extra)],
                    f"hub-{folder}")
        ready = proc.wait_event(lambda e: e.get("event") == "hub.ready")
        return proc, int(ready["intake_port"])

    def client(self, party: str = "register") -> HttpsClient:
        return WatchedClient("127.0.0.1", self.intake_port, self.certs_dir, party)

    def jukihub(self, *args: str, stdin: str = "", env: dict[str, str] | None = None,
                ) -> subprocess.CompletedProcess[str]:
        """``jukihub ARGS`` (an administrator's or a staff member's command) on this
        hub's store and data."""
        overrides = [*self.common(), f'store.url="{self.store_url}"']
        return subprocess.run(
            [sys.executable, "-m", "hub.commands", "--config", str(CONFIG),
             *[a for o in overrides for a in ("--set", o)], *args],
            cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120,
            env={**os.environ, **(env or {})})

    def as_staff(self, user_id: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``jukihub ARGS --user USER`` against this hub's intake, from the staff
        terminal, the password from the environment (the account must exist)."""
        return self.jukihub(*args, "--user", user_id, "--port", str(self.intake_port),
                            env={"JUKIHUB_PASSWORD": STAFF_PASSWORD, "COLUMNS": "160"})

    def add_staff(self, user_id: str, *roles: str, password: str = STAFF_PASSWORD) -> None:
        """A staff account in the hub's store (as ``jukihub users add`` makes one)."""
        from hub.commands.admin import add_account
        from hub.store import Store
        from hub.store.engine import make_engine, migrate

        migrate(self.store_url)
        store = Store(make_engine(self.store_url))
        try:
            add_account(store, load_config(CONFIG), user_id, password, roles)
        finally:
            store.dispose()

    def staff(self, user_id: str = "op001", *roles: str, terminal: str = "operator",
              ) -> HttpsClient:
        """A staff member logged in from ``terminal`` (their account is made first, with
        ``roles`` — a supervisor's by default — unless it exists); the same client, and
        session, for as long as this hub process runs."""
        if user_id not in self.staff_made:
            self.add_staff(user_id, *(roles or ("supervisor",)))
            self.staff_made.add(user_id)
        key = (user_id, terminal, self.hub_starts)  # a session lasts as long as its hub
        if key not in self.sessions:
            c = self.client(terminal)
            status, body = c.log_in(user_id, STAFF_PASSWORD)
            assert status == 201, f"login of {user_id}: {status} {body}"
            self.sessions[key] = c
        return self.sessions[key]

    def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return control("127.0.0.1", self.control_port, method, path, body)

    def control_of(self, mock: str, method: str, path: str, body: Any = None,
                   ) -> tuple[int, Any]:
        """Call ``mock``'s control API (any of the five)."""
        return control("127.0.0.1", self._control_port(mock), method, path, body)

    def _control_port(self, mock: str) -> int:
        return self.control_port if mock == "prefecture" else self.others[mock][2]

    def wait_applied(self, seq: int, timeout: float = 60,
                     mock: str = "prefecture") -> dict[str, Any]:
        """Until ``mock`` has applied link sequence ``seq`` (its long-poll)."""
        status, state = control("127.0.0.1", self._control_port(mock), "GET",
                                f"/wait?applied_seq={seq}&timeout={timeout}")
        assert status == 200, f"{mock} mock applied only {state.get('applied_seq')} of {seq}"
        return state

    def settle(self, timeout: float = 600, links: tuple[str, ...] = LINK_NAMES) -> None:
        """Until every link's peer has applied every message the hub numbered for it,
        and the hub has taken every push (J-LIS's numbers, whose designations cause
        more messages): repeated until nothing new appears.  The mocks of ``links``
        (every link's, unless given) must run."""
        last: dict[str, int] = {}
        while True:
            for name in links:
                pushed = len(self.control_of(name, "GET", "/pushes")[1])
                status, _ = self.control_of(name, "GET",
                                            f"/wait?pushes_settled={pushed}&timeout={timeout}")
                assert status == 200, f"{name}: pushes not settled in {timeout} s"
            targets = {link: self.sent_on(link) for link in links}
            for link, target in targets.items():
                self.wait_applied(target, timeout=timeout, mock=link)
            if targets == last:
                return
            last = targets

    def applied(self, mock: str = "prefecture") -> list[dict[str, Any]]:
        """``mock``'s whole applied log, in sequence order."""
        return _pages(self._control_port(mock), "/applied", "seq", 0)

    def metrics(self) -> dict[str, float]:
        c = HttpsClient("127.0.0.1", self.metrics_port, self.certs_dir, "monitor")
        try:
            status, text = c.get("/metrics")
        finally:
            c.close()
        assert status == 200
        from prometheus_client.parser import text_string_to_metric_families

        out: dict[str, float] = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
        return out

    def stop(self) -> None:
        self._watch_before_stop()
        procs = [p for p in (self.hub, self.mock, *(o[0] for o in self.others.values()))
                 if p is not None]
        for p in procs:  # all asked to stop at once, then each waited for
            p.terminate()
        for p in procs:
            p.stop()

    def _watch_before_stop(self) -> None:
        """What the hub shows outside its log: its metrics' labels, and the refusals it
        sent each peer (the mocks keep them)."""
        if self.hub is None or self.hub.p.poll() is not None:
            return
        try:
            c = HttpsClient("127.0.0.1", self.metrics_port, self.certs_dir, "monitor")
            status, text = c.get("/metrics")
            c.close()
            if status == 200:
                WATCH.note_written(text)
            for name in ["prefecture", *self.others]:
                if name != "prefecture" and self.others[name][0].p.poll() is not None:
                    continue
                status, pushes = self.control_of(name, "GET", "/pushes")
                if status == 200:
                    WATCH.note_written(json.dumps(
                        [(p["code"], p.get("reason")) for p in pushes if p["code"]],
                        ensure_ascii=False))
        except OSError:
            pass  # a hub or mock already going down: its log lines are still watched


class WatchedClient(HttpsClient):
    """An intake client whose requests' personal values and error answers are noted
    (``devtools.leaks``)."""

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
                content_type: str = "application/json",
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        WATCH.note_sent(body)
        status, answer = super().request(method, path, body, raw, content_type, headers)
        if status >= 400:
            WATCH.note_written(json.dumps(answer, ensure_ascii=False)
                               if not isinstance(answer, str) else answer)
        return status, answer


def _pages(port: int, path: str, key: str, start: Any) -> list[dict[str, Any]]:
    """Every row of a mock's paged list (``?after=`` the last row's ``key``)."""
    rows: list[dict[str, Any]] = []
    while True:
        after = rows[-1][key] if rows else start
        _, page = control("127.0.0.1", port, "GET", f"{path}?after={after}&limit=1000")
        if not page:
            return rows
        rows += page


def seed_national(prefecture_port: int, national_port: int) -> int:
    """Give the national mock the city's residents as the prefecture mock holds them
    (the real national server gets them from the prefectural servers); both by their
    control ports.  Returns how many."""
    people = _pages(prefecture_port, "/identities", "resident_code", "")
    for i in range(0, len(people), 1000):
        control("127.0.0.1", national_port, "POST", "/persons", people[i : i + 1000])
    return len(people)


def known_elsewhere(national_port: int, synth: Any) -> int:
    """J-LIS's register of the country holds ``synth``'s domestic arrivals at the city
    each came from (``Synth.former_records``), by the national mock's control port."""
    rows = synth.former_records()
    for i in range(0, len(rows), 1000):
        status, body = control("127.0.0.1", national_port, "POST", "/persons",
                               rows[i : i + 1000])
        assert status == 200, body
    return len(rows)


def check_order(applied: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Per resident, the 更新順番号 the mock applied, asserting strictly increasing and no
    sequence twice.  Rows without a 更新順番号 (a 符号 request, a staff answer) are not
    ordered per resident and are skipped."""
    seen: dict[str, list[int]] = {}
    seqs = [r["seq"] for r in applied]
    assert seqs == list(range(1, len(seqs) + 1)), "link sequences applied with a gap or twice"
    for r in applied:
        if r["withdrawn"] or r["update_seq"] is None:
            continue
        got = seen.setdefault(r["resident_code"], [])
        assert not got or got[-1] < r["update_seq"], "a resident's updates applied out of order"
        got.append(r["update_seq"])
    return seen
