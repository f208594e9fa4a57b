"""The operations dashboard, built as code with grafana-foundation-sdk; ``jukihub-dev
dashboard`` writes its JSON to ``hub/ops/grafana-dashboard.json`` (import it into
Grafana, or provision it), and a test checks that file is current and that every
panel's expression runs against a real Prometheus scraping a running hub.

One row per link (a repeated row over the ``link`` variable: a dashboard per channel,
the way integration engines show channels): state, outbox depth, oldest pending age,
throughput, acknowledgement latency, retries, dead letters, bytes in flight.  Then the
intake (accepted, refused by reason, latency, the gate), the store (commit time,
batch size, errors) and the long jobs (consistency checks, job transactions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

OUT = Path(__file__).resolve().parent.parent / "hub" / "ops" / "grafana-dashboard.json"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
L = 'link=~"$link"'  # the selected links (a repeated row: its own one)


def _query(expr: str, legend: str = "") -> Dataquery:
    q = Dataquery().expr(expr).datasource(DS)
    return q.legend_format(legend) if legend else q


def _series(title: str, unit: str, *queries: Dataquery, span: int = 6,
            description: str = "") -> Timeseries:
    panel = Timeseries().title(title).unit(unit).span(span).height(7).datasource(DS)
    if description:
        panel = panel.description(description)
    for q in queries:
        panel = panel.with_target(q)
    return panel


def _stat(title: str, unit: str, query: Dataquery, span: int = 3) -> Stat:
    return Stat().title(title).unit(unit).span(span).height(4).datasource(DS).with_target(query)


def build() -> Dashboard:
    link_var = (QueryVariable("link").label("link").datasource(DS)
                .query("label_values(jukihub_link_up, link)")
                .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).multi(True).include_all(True))
    d = (Dashboard("jukihub — resident register integration hub")
         .uid("jukihub-operations").tags(["jukihub", "generated"])
         .refresh("30s").time("now-3h", "now").with_variable(link_var))
    d = (d.with_row(Row("Link $link").repeat("link"))
         .with_panel(_stat("State", "none", _query(
             f'max by (link, state) (jukihub_link_state{{{L}}}) == 1', "{{state}}")))
         .with_panel(_stat("Outbox depth", "short", _query(
             f"sum by (link) (jukihub_outbox_depth{{{L}}})")))
         .with_panel(_stat("Oldest pending", "s", _query(
             f"max by (link) (jukihub_outbox_oldest_age_seconds{{{L}}})")))
         .with_panel(_stat("Dead letters open", "short", _query(
             f"max by (link) (jukihub_link_dead_letters_open{{{L}}})")))
         .with_panel(_series("Throughput (acknowledged)", "msg/s", _query(
             f"sum by (link) (rate(jukihub_link_delivered_total{{{L}}}[$__rate_interval]))",
             "{{link}}")))
         .with_panel(_series("Acknowledgement latency", "s", *[_query(
             f"histogram_quantile({q}, sum by (le, link) (rate("
             f"jukihub_delivery_latency_seconds_bucket{{{L}}}[$__rate_interval])))",
             f"p{int(q * 100)}") for q in (0.5, 0.99)],
             description="From the change's commit to the peer's acknowledgement"))
         .with_panel(_series("Retries and dead letters", "short", _query(
             f"sum by (link, cause) (increase(jukihub_link_retries_total{{{L}}}"
             f"[$__rate_interval]))", "retry: {{cause}}"), _query(
             f"max by (link) (jukihub_link_dead_letters_open{{{L}}})", "dead letters open")))
         .with_panel(_series("In flight", "short", _query(
             f"sum by (link) (jukihub_link_inflight{{{L}}})", "frames"), _query(
             f"sum by (link) (jukihub_link_held_residents{{{L}}})", "held residents"))))
    d = d.with_panel(_series("Bytes in flight", "bytes", _query(
        f"sum by (link) (jukihub_link_inflight_bytes{{{L}}})", "{{link}}")))
    d = (d.with_row(Row("Intake"))
         .with_panel(_series("Changes accepted by reason", "ops", _query(
             "sum by (reason) (rate(jukihub_intake_changes_accepted_total[$__rate_interval]))",
             "{{reason}}")))
         .with_panel(_series("Changes refused by rule", "ops", _query(
             "sum by (rule) (rate(jukihub_intake_changes_refused_total[$__rate_interval]))",
             "{{rule}}")))
         .with_panel(_series("Request latency", "s", *[_query(
             f"histogram_quantile({q}, sum by (le, endpoint) (rate("
             "jukihub_intake_request_seconds_bucket[$__rate_interval])))",
             f"{{{{endpoint}}}} p{int(q * 100)}") for q in (0.5, 0.99)]))
         .with_panel(_series("A change request by hop (mean)", "s", _query(
             "sum by (hop) (rate(jukihub_intake_hop_seconds_sum[$__rate_interval])) / "
             "sum by (hop) (rate(jukihub_intake_hop_seconds_count[$__rate_interval]))",
             "{{hop}}"), description="checks, wait for the store writer, its transaction, "
             "the answer; the rest of the request latency is the hand-over between "
             "processes and threads"))
         .with_panel(_series("Answers by status", "reqps", _query(
             "sum by (status) (rate(jukihub_intake_requests_total[$__rate_interval]))",
             "{{status}}"), _query("max(jukihub_intake_open)", "intake open (1)"),
             description="503: maintenance mode or backpressure (jukihub_intake_open 0)")))
    d = (d.with_row(Row("Store"))
         .with_panel(_series("Commit time", "s", *[_query(
             f"histogram_quantile({q}, sum by (le, txn) (rate("
             "jukihub_store_commit_seconds_bucket[$__rate_interval])))",
             f"{{{{txn}}}} p{int(q * 100)}") for q in (0.5, 0.99)]))
         .with_panel(_series("Writes per commit", "short", _query(
             "sum by (txn) (rate(jukihub_store_batch_size_sum[$__rate_interval])) / "
             "sum by (txn) (rate(jukihub_store_batch_size_count[$__rate_interval]))",
             "{{txn}}")))
         .with_panel(_series("Store errors", "short", _query(
             "sum by (txn) (increase(jukihub_store_errors_total[$__rate_interval]))",
             "{{txn}}"))))
    d = (d.with_row(Row("Long jobs"))
         .with_panel(_series("Job transactions", "ops", _query(
             'sum(rate(jukihub_store_commit_seconds_count{txn="job"}[$__rate_interval]))',
             "slices/s"), description="Consistency-check and send-destination slices, "
             "exports, mends"))
         .with_panel(_series("Consistency checks", "short", _query(
             "sum by (link) (increase(jukihub_consistency_checks_total[$__rate_interval]))",
             "answered {{link}}"), _query("max by (link) (jukihub_consistency_differences)",
                                          "differences {{link}}")))
         .with_panel(_series("Certificates and revocation lists: time left", "s", _query(
             "min by (party) (jukihub_certificate_expiry_seconds)", "{{party}}"))))
    return d


def render() -> str:
    """The dashboard's JSON, with the datasource as an import-time input."""
    model = json.loads(JSONEncoder(sort_keys=True, indent=2).encode(build().build()))
    model["templating"]["list"].insert(0, {
        "name": "datasource", "label": "Prometheus", "type": "datasource",
        "query": "prometheus", "current": {}, "hide": 0})
    return json.dumps(model, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def expressions(model: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    return [(p.get("title", ""), t["expr"]) for p in model["panels"]
            for t in p.get("targets", []) if "expr" in t]


def write(path: Path = OUT) -> Path:
    path.write_text(render(), encoding="utf-8")
    return path
