"""A promtool unit-test case built from a real scrape of a freshly started, healthy hub:
every series an alert rule reads, held at the value that scrape showed, and every alert
expected quiet once the longest ``for:`` has passed.  It is how a gauge that is wrong
at start (``jukihub_intake_open`` at 0 while the intake was open paged on-call staff
after every start) shows up before it reaches them.

``jukihub-dev alert-case`` starts a hub and the five mocks on loopback (a temporary
folder), waits until every link is ready, scrapes ``/metrics`` once and writes
``hub/ops/prometheus-alerts.healthy.test.yml``; ``tests/test_operations_files.py`` runs
it with the other promtool tests, and ``tests/integration/test_prometheus.py`` builds
the same case from its own live scrape.
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

OPS = Path(__file__).resolve().parents[1] / "hub" / "ops"
RULES = OPS / "prometheus-alerts.yml"
CASE = OPS / "prometheus-alerts.healthy.test.yml"
_NAME = re.compile(r"\b(jukihub_[a-z_]+|up)\b")


def rules_of(path: Path = RULES) -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]


def healthy_case(exposition: str, rules: list[dict[str, Any]],
                 job: str = "jukihub", instance: str = "hub") -> dict[str, Any]:
    """The promtool test case (a dict of ``tests:``) from ``exposition``."""
    read = {n for r in rules for n in _NAME.findall(r["expr"])}
    series = [{"series": f'up{{instance="{instance}", job="{job}"}}', "values": "1x40"}]
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name not in read:
                continue
            labels = {**sample.labels, "job": job, "instance": instance}
            text = ", ".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            series.append({"series": f"{sample.name}{{{text}}}",
                           "values": f"{_number(sample.value)}x40"})
    return {"interval": "1m", "input_series": series, "alert_rule_test": [
        {"eval_time": "30m", "alertname": r["alert"], "exp_alerts": []} for r in rules]}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(case: dict[str, Any]) -> str:
    head = ("# A freshly started, healthy hub raises no alert: every series the alert rules\n"
            "# read, as a real scrape of such a hub showed them (devtools/alert_case.py;\n"
            "# regenerate with `jukihub-dev alert-case`), held for 40 minutes.\n")
    return head + yaml.safe_dump({"rule_files": ["prometheus-alerts.yml"],
                                  "evaluation_interval": "1m", "tests": [case]},
                                 allow_unicode=True, sort_keys=False, width=100)


def scrape_fresh_hub(certs_dir: Path, folder: Path) -> str:
    """``/metrics`` of a hub just started with the five mocks, once every link is ready."""
    from devtools.harness import Env
    from hub.config import LINK_NAMES
    from hub.support.client import HttpsClient

    env = Env(folder, certs_dir)
    try:
        env.start_mocks({name: None for name in LINK_NAMES if name != "prefecture"})
        env.start_hub([])
        assert env.hub is not None
        for name in LINK_NAMES:
            env.hub.wait_event(functools.partial(_ready, name))
        client = HttpsClient("127.0.0.1", env.metrics_port, certs_dir, "monitor")
        try:
            status, text = client.get("/metrics")
        finally:
            client.close()
        assert status == 200, text
        return str(text)
    finally:
        env.stop()


def _ready(link: str, event: dict[str, Any]) -> bool:
    return (event.get("event") == "link.state" and event.get("link") == link
            and event.get("to") == "ready")


def write() -> Path:
    from certs.devca import init_certs
    from hub.config import load_config

    with tempfile.TemporaryDirectory(prefix="jukihub-alert-case-") as tmp:
        certs = Path(tmp) / "certs"
        certs.mkdir()
        init_certs(certs, load_config(OPS.parents[1] / "config.toml").parties)
        text = scrape_fresh_hub(certs, Path(tmp))
    CASE.write_text(render(healthy_case(text, rules_of())), encoding="utf-8")
    return CASE
