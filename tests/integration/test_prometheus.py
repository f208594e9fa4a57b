"""A real Prometheus server scrapes the hub's /metrics over mutual TLS.

Prometheus (Debian's package, ``scripts/ensure-services``) runs with its own config in
the test folder: the hub's metrics listener as its only target, our dev CA, the
monitoring client certificate and the listener's name.  Readiness is its own log line;
the scrape is the hub's ``metrics.scraped`` log event (``[metrics] log_scrapes``).  The
test waits for the *second* scrape: by then the first one's samples are in
Prometheus's storage, so a single query must see them — no polling.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import socket
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools import alert_case, dashboard
from devtools.synthetic import Synth
from hub.support.client import HttpsClient
from tests.integration.test_prefecture_path import post_all

OPS = Path(__file__).resolve().parents[2] / "hub" / "ops"


class Prometheus:
    def __init__(self, folder: Path, target: str, certs: Path,
                 rules: Path | None = None) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed: run scripts/ensure-services")
        # Prometheus cannot report a port it chose itself: take a free one from the OS.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = folder / "prometheus.yml"
        config.write_text(f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}
rule_files: [{rules or ""}]
scrape_configs:
  - job_name: jukihub
    scheme: https
    tls_config:
      ca_file: {certs / 'ca.pem'}
      cert_file: {certs / 'monitor.pem'}
      key_file: {certs / 'monitor.key'}
      server_name: metrics.jukihub.test
    static_configs: [{{targets: ["{target}"]}}]
""")
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            return self.p.poll() is not None or any(
                "Server is ready to receive web requests" in ln for ln in self.lines)

        with self.cond:
            self.cond.wait_for(ready, timeout)
            if self.p.poll() is not None or not ready():
                raise AssertionError("prometheus did not start:\n" + "".join(self.lines[-20:]))

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = (f"http://127.0.0.1:{self.port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=30) as resp:  # plain HTTP on loopback
            body = json.load(resp)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]

    def stop(self) -> None:
        self.p.terminate()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()


def test_prometheus_scrapes_the_hub_over_mutual_tls(env_with: Any, tmp_path: Path) -> None:
    e = env_with(hub_extra=["metrics.log_scrapes=true"])
    # What the dashboard shows, made to happen: retries, a refused change, a check.
    e.control("POST", "/faults", {"refuse": {"kind": "temporary", "count": 1,
                                             "code": "busy"}})
    accepted = post_all(e.client(), list(Synth(seed=241).stream(40)))
    e.wait_applied(len(accepted))
    bad = Synth(seed=242).arrival()
    bad["resident"]["name_kana"] = "abc"
    assert e.client().post("/v1/changes", bad)[0] == 400  # a format check: refused
    status, check = e.staff("sup-p", "supervisor").post("/v1/consistency-checks",
                                                      {"links": ["prefecture"]})
    assert status == 202, check
    check_id = check["checks"][0]["check_id"]
    status, shown = e.staff("sup-p").get(f"/v1/consistency-checks/{check_id}?wait=60")
    assert status == 200 and shown["state"] == "answered", shown
    assert e.hub is not None
    mark = e.hub.mark()
    prom = Prometheus(tmp_path, f"127.0.0.1:{e.metrics_port}", e.certs_dir,
                      rules=OPS / "prometheus-alerts.yml")
    try:
        prom.wait_ready()
        _scraped_twice(e, mark)
        [up] = prom.query('up{job="jukihub"}')
        assert up["value"][1] == "1"
        [delivered] = prom.query('jukihub_link_delivered_total{link="prefecture"}')
        assert float(delivered["value"][1]) == len(accepted) + 1  # and the check's chunk
        accepted_total = prom.query("sum(jukihub_intake_changes_accepted_total)")
        assert float(accepted_total[0]["value"][1]) == len(accepted)
        # Labels are link names, reasons, codes — never a resident's data.
        series = prom.query('{job="jukihub"}')
        values = {v for s in series for k, v in s["metric"].items() if k != "__name__"}
        assert "prefecture" in values
        assert not any(re.search(r"[0-9]{11}", v) for v in values)  # no code or number

        # Every panel of the dashboard: its expression runs, on series that exist.
        names = set(prom.get("/api/v1/label/__name__/values"))
        model = json.loads((OPS / "grafana-dashboard.json").read_text(encoding="utf-8"))
        for title, expr in dashboard.expressions(model):
            concrete = expr.replace("$__rate_interval", "1m").replace("$link", ".*")
            prom.query(concrete)  # fails on an expression Prometheus refuses
            for name in set(re.findall(r"\b(jukihub_[a-z_]+)\b", expr)):
                assert name in names, f"{title}: {name} is not a series the hub exports"
        # The alert rules load and evaluate against the live series without error.
        groups = prom.get("/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        assert len(rules) == 13 and all(r["health"] == "ok" for r in rules), rules
    finally:
        prom.stop()

    # The exposition itself passes promtool's checks.
    client = HttpsClient("127.0.0.1", e.metrics_port, e.certs_dir, "monitor")
    status, text = client.get("/metrics")
    client.close()
    checked = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                             input=text, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_freshly_started_healthy_hub_raises_no_alert(env_with: Any, tmp_path: Path) -> None:
    """Every gauge is true from the first scrape: the real Prometheus scrapes a hub just
    started with all five links, evaluates the alert rules with every ``for:`` taken
    out (so anything true would show at once), and nothing is pending or firing; and
    the promtool case built from a live scrape passes as the committed one does."""
    e = env_with("national", "card", "intermediate", "moj",
                 hub_extra=["metrics.log_scrapes=true"])
    assert e.hub is not None
    for link in ("prefecture", "national", "card", "intermediate", "moj"):
        e.hub.wait_event(lambda ev, n=link: ev.get("event") == "link.state"
                         and ev.get("link") == n and ev.get("to") == "ready")
    rules = yaml.safe_load((OPS / "prometheus-alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    mark = e.hub.mark()
    prom = Prometheus(tmp_path, f"127.0.0.1:{e.metrics_port}", e.certs_dir,
                      rules=tmp_path / "rules.yml")
    try:
        prom.wait_ready()
        second = seen = _scraped_twice(e, mark)
        # Wait (on the hub's scrapes, a second apart) until the rules were evaluated on
        # samples of the second scrape or later.
        evaluated = False
        for _ in range(30):
            [group] = prom.get("/api/v1/rules")["groups"]
            if _epoch(group["lastEvaluation"]) > second["ts"]:
                evaluated = True
                break
            seen = e.hub.wait_event(lambda ev, s=seen["scrape"]: _scrape(ev)
                                    and ev["scrape"] > s, after=mark)
        assert evaluated
        assert prom.get("/api/v1/alerts")["alerts"] == []
        [up] = prom.query('up{job="jukihub"}')
        assert up["value"][1] == "1"
    finally:
        prom.stop()

    client = HttpsClient("127.0.0.1", e.metrics_port, e.certs_dir, "monitor")
    status, text = client.get("/metrics")
    client.close()
    assert status == 200
    case = alert_case.healthy_case(text, alert_case.rules_of())
    shutil.copy(OPS / "prometheus-alerts.yml", tmp_path / "prometheus-alerts.yml")
    (tmp_path / "live.test.yml").write_text(yaml.safe_dump({
        "rule_files": ["prometheus-alerts.yml"], "evaluation_interval": "1m",
        "tests": [case]}))
    done = subprocess.run([shutil.which("promtool") or "promtool", "test", "rules",
                           "live.test.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _scrape(ev: dict[str, Any]) -> bool:
    return ev.get("event") == "metrics.scraped" and ev.get("client") == "monitor.jukihub.test"


def _scraped_twice(e: Any, mark: int) -> dict[str, Any]:
    """The hub's second scrape since ``mark``: it begins after the first one's samples
    are in Prometheus's storage, so a query then sees them — no polling."""
    first = e.hub.wait_event(_scrape, after=mark)
    return dict(e.hub.wait_event(lambda ev: _scrape(ev) and ev["scrape"] > first["scrape"],
                                 after=mark))


def _epoch(rfc3339: str) -> float:
    """Prometheus's time (nanoseconds, a zone) as epoch seconds."""
    trimmed = re.sub(r"(\.\d{6})\d*", r"\1", rfc3339).replace("Z", "+00:00")
    return dt.datetime.fromisoformat(trimmed).timestamp()
