"""The operations files in ``hub/ops``: the Prometheus alert rules pass ``promtool check
rules`` and their unit tests (``promtool test rules``: every alert firing and quiet),
and the Grafana dashboard's JSON is what its code builds.  (Their expressions run
against a real Prometheus scraping a running hub in
``tests/integration/test_prometheus.py``.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools import dashboard

OPS = Path(__file__).resolve().parent.parent / "hub" / "ops"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: run scripts/ensure-services")
    return subprocess.run([binary, *args], cwd=OPS, capture_output=True, text=True,
                          timeout=120)


def test_the_alert_rules_are_valid() -> None:
    done = promtool("check", "rules", "prometheus-alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 13 rules found" in done.stdout


def test_every_alert_has_a_firing_and_a_quiet_case_and_they_pass() -> None:
    rules = yaml.safe_load((OPS / "prometheus-alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((OPS / "prometheus-alerts.test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for t in tests:
        for case in t["alert_rule_test"]:
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    assert firing == alerts and quiet == alerts
    done = promtool("test", "rules", "prometheus-alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_freshly_started_healthy_hub_raises_no_alert() -> None:
    """The case built from a real scrape of such a hub (``jukihub-dev alert-case``):
    every alert quiet, and every series an alert reads is in it."""
    from devtools.alert_case import CASE, rules_of

    [case] = yaml.safe_load(CASE.read_text())["tests"]
    assert {t["alertname"] for t in case["alert_rule_test"]} == {
        r["alert"] for r in rules_of()}
    assert all(t["exp_alerts"] == [] for t in case["alert_rule_test"])
    names = {s["series"].split("{")[0] for s in case["input_series"]}
    assert {"up", "jukihub_intake_open", "jukihub_link_up", "jukihub_store_writer_failing",
            "jukihub_consistency_differences"} <= names
    done = promtool("test", "rules", CASE.name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboard_json_is_current() -> None:
    assert (OPS / "grafana-dashboard.json").read_text(encoding="utf-8") == dashboard.render(), (
        "hub/ops/grafana-dashboard.json is stale: run jukihub-dev dashboard")


def test_the_dashboard_covers_every_link_the_intake_the_store_and_the_jobs() -> None:
    import json

    model = json.loads((OPS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    rows = [p for p in model["panels"] if p["type"] == "row"]
    assert [r["title"] for r in rows] == ["Link $link", "Intake", "Store", "Long jobs"]
    assert rows[0]["repeat"] == "link"
    exprs = " ".join(e for _, e in dashboard.expressions(model))
    for name in ("jukihub_link_state", "jukihub_outbox_depth", "jukihub_outbox_oldest_age",
                 "jukihub_link_delivered_total", "jukihub_delivery_latency_seconds_bucket",
                 "jukihub_link_retries_total", "jukihub_link_dead_letters_open",
                 "jukihub_link_inflight_bytes", "jukihub_intake_changes_accepted_total",
                 "jukihub_intake_changes_refused_total", "jukihub_intake_request_seconds",
                 "jukihub_store_commit_seconds", "jukihub_store_batch_size",
                 "jukihub_consistency_checks_total"):
        assert name in exprs, name
